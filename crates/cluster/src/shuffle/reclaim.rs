//! What an executor that died left in its work directory: job directories
//! of sealed shuffle files no process can open any more (the secret they
//! were sealed under died with it). A new executor on the same work
//! directory removes them when it starts. It removes only directories that
//! look like Ballista's (a job id of letters and digits) and hold nothing
//! but sealed shuffle files, so a work directory pointed at the wrong place
//! loses nothing else.

use std::io::Read;
use std::path::Path;

use super::sealed_file::MAGIC;

/// Removes the job directories a dead executor left in `work_dir`; how
/// many it removed.
pub(crate) fn reclaim(work_dir: &Path) -> std::io::Result<usize> {
    let mut removed = 0;
    let entries = match std::fs::read_dir(work_dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        other => other?,
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let is_job_id = name
            .to_str()
            .is_some_and(|n| n.len() == JOB_ID_LEN && n.bytes().all(|b| b.is_ascii_alphanumeric()));
        if is_job_id && entry.file_type()?.is_dir() && only_sealed(&entry.path())? == Some(true) {
            std::fs::remove_dir_all(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The length of the job ids Ballista's scheduler makes.
const JOB_ID_LEN: usize = 7;

/// Under `dir`: `None` if nothing but directories and empty files (which
/// prove nothing), `Some(true)` if sealed shuffle files as well (empty ones
/// were cut short before their magic), `Some(false)` if anything else.
fn only_sealed(dir: &Path) -> std::io::Result<Option<bool>> {
    let mut sealed = None;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            match only_sealed(&entry.path())? {
                Some(false) => return Ok(Some(false)),
                Some(true) => sealed = Some(true),
                None => {}
            }
        } else if kind.is_file() {
            let mut start = Vec::with_capacity(MAGIC.len());
            std::fs::File::open(entry.path())?
                .take(MAGIC.len() as u64)
                .read_to_end(&mut start)?;
            if start.is_empty() {
                continue;
            }
            if start != MAGIC {
                return Ok(Some(false));
            }
            sealed = Some(true);
        } else {
            return Ok(Some(false));
        }
    }
    Ok(sealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, bytes: &[u8]) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn removes_only_sealed_job_directories() {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path();
        let sealed = [MAGIC.as_slice(), b"chunks"].concat();
        write(&work.join("AbC1234/1/0/data.arrow"), &sealed);
        write(&work.join("AbC1234/2/1/data-0.arrow"), b"");
        write(&work.join("Zz99xyq/1/0/data.arrow"), &sealed);
        // Not a dead executor's: a plaintext IPC file, a name that is no
        // job id, a file at the top.
        write(
            &work.join("Plain12/1/0/data.arrow"),
            &[0xff, 0xff, 0xff, 0xff, 0],
        );
        write(&work.join("my-notes/1/0/data.arrow"), &sealed);
        write(&work.join("Longer99x/1/0/data.arrow"), &sealed);
        write(&work.join("notes.txt"), b"mine");
        // Seven letters and only empty files: nothing shows it is ours.
        write(&work.join("Archive/empty.txt"), b"");
        assert_eq!(reclaim(work).unwrap(), 2);
        let mut left: Vec<String> = std::fs::read_dir(work)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            ["Archive", "Longer99x", "Plain12", "my-notes", "notes.txt"]
        );
        assert_eq!(reclaim(work).unwrap(), 0);
        assert_eq!(reclaim(&work.join("missing")).unwrap(), 0);
    }
}
