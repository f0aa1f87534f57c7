//! Files and directories that hold secrets (root keys, credentials, key
//! stores): only their owner may read them (mode 0700 / 0600 on Unix), new
//! ones never overwrite what is there, and what is written is on disk
//! before the call returns. One place for the rules the KMS and the CLI
//! both keep.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Creates `dir` and its missing parents, owner-only; nothing if it exists.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Open options whose created file only its owner may read; the caller
/// says how it opens (`create_new`, `append`, ...).
pub fn file_options() -> OpenOptions {
    #[allow(unused_mut)] // mode is set on Unix only
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Writes `contents` to a new owner-only file at `path`, which must not
/// exist (`AlreadyExists`), and syncs it.
pub fn write_new(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut file = file_options().write(true).create_new(true).open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// [`write_new`], whole or not at all: a temporary file beside `path`,
/// synced, hard-linked into place (`AlreadyExists` if `path` appeared
/// meanwhile: never overwritten), removed, and the directory synced so the
/// new name survives a crash. A reader never sees a partial file.
pub fn write_new_whole(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(|e| io::Error::other(e.to_string()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let suffix: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = path.with_file_name(format!(".{name}.tmp-{suffix}"));
    let linked = write_new(&tmp, contents).and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    linked?;
    sync_parent(path)
}

/// Syncs the directory holding `path`, so a link or unlink in it is durable.
pub fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => File::open(dir).and_then(|d| d.sync_all()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn directories_and_files_are_the_owners_alone() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("a").join("b");
        create_dir(&dir).expect("create");
        create_dir(&dir).expect("exists already: nothing to do");
        let file = dir.join("secret");
        write_new(&file, b"one").expect("write");
        #[cfg(unix)]
        {
            assert_eq!(mode(&dir), 0o700);
            assert_eq!(mode(&file), 0o600);
        }
        assert_eq!(std::fs::read(&file).expect("read"), b"one");
    }

    #[test]
    fn a_new_file_never_replaces_one_that_is_there() {
        let root = tempfile::tempdir().expect("tempdir");
        let file = root.path().join("key");
        write_new_whole(&file, b"first").expect("write");
        for write in [write_new, write_new_whole] {
            let e = write(&file, b"second").expect_err("exists");
            assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        }
        assert_eq!(std::fs::read(&file).expect("read"), b"first");
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(root.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("key")]);
        #[cfg(unix)]
        assert_eq!(mode(&file), 0o600);
    }
}
