//! Each process's staging directory, and reclaiming those of dead ones.
//!
//! A process stages the files it writes in `staging/<tag>/`, and holds an
//! exclusive lock on `staging/<tag>.lock` while it lives (the operating
//! system drops the lock when the process ends, however it ends). Opening
//! the catalog then reclaims, at once, every staging directory whose lock
//! nobody holds: a killed INSERT's files no longer wait an hour, and a live
//! writer's files are never touched, however long its write takes.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::StorageError;

/// What a lock file is called while it is being made: a process locks it
/// before renaming it to `<tag>.lock`, so a `.lock` file is never seen
/// unlocked by another process while its owner is alive.
const NEW_LOCK_SUFFIX: &str = ".lock.new";

/// Staging entries without a lock (left by versions before per-process
/// staging, or a `.lock.new` of a process that died making it) this old
/// can no longer belong to a write in progress.
const UNLOCKED_AGE: Duration = Duration::from_secs(3600);

/// This process's staging directory; its lock is held until drop.
#[derive(Debug)]
pub(crate) struct StagingDir {
    dir: PathBuf,
    _lock: File,
}

impl StagingDir {
    /// Makes `<staging>/<tag>/` for this process and takes its lock.
    pub(crate) fn create(staging: &Path) -> Result<Self, StorageError> {
        std::fs::create_dir_all(staging)
            .map_err(StorageError::io("cannot create staging directory", staging))?;
        let tag = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
        let new = staging.join(format!("{tag}{NEW_LOCK_SUFFIX}"));
        let lock = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&new)
            .map_err(StorageError::io("cannot create staging lock", &new))?;
        lock.lock()
            .map_err(StorageError::io("cannot lock staging lock", &new))?;
        let path = staging.join(format!("{tag}.lock"));
        std::fs::rename(&new, &path)
            .map_err(StorageError::io("cannot create staging lock", &path))?;
        let dir = staging.join(tag);
        std::fs::create_dir(&dir)
            .map_err(StorageError::io("cannot create staging directory", &dir))?;
        Ok(Self { dir, _lock: lock })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.dir
    }
}

/// Removes the staging directories of processes that have ended, and old
/// unlocked leftovers; never the directory of a live process.
pub(crate) fn reclaim(staging: &Path) {
    let Ok(entries) = std::fs::read_dir(staging) else {
        return;
    };
    let cutoff = SystemTime::now() - UNLOCKED_AGE;
    let old = |path: &Path| {
        std::fs::metadata(path)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < cutoff)
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(tag) = name.strip_suffix(".lock") {
            reclaim_if_dead(&path, &staging.join(tag));
        } else if path.is_dir() {
            // Its lock is gone (reclaimed, or never made): only old ones.
            if !staging.join(format!("{name}.lock")).exists() && old(&path) {
                let _ = std::fs::remove_dir_all(&path);
            }
        } else if old(&path) {
            // Staged files of earlier versions, a lock that never got its name.
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Removes `dir` and its lock file `lock` if no live process holds the lock.
fn reclaim_if_dead(lock: &Path, dir: &Path) {
    let Ok(file) = OpenOptions::new().write(true).open(lock) else {
        return;
    };
    match file.try_lock() {
        Ok(()) => {
            // Its owner is gone. Holding the lock, remove what it staged,
            // then the lock file itself.
            let _ = std::fs::remove_dir_all(dir);
            let _ = std::fs::remove_file(lock);
        }
        // Alive, or we cannot tell: leave it.
        Err(TryLockError::WouldBlock | TryLockError::Error(_)) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_staging_directory_stays_and_a_dead_one_goes() {
        let root = tempfile::tempdir().unwrap();
        let staging = root.path().join("staging");
        let live = StagingDir::create(&staging).unwrap();
        std::fs::write(live.path().join("a.parquet.tmp"), b"live").unwrap();
        let dead = StagingDir::create(&staging).unwrap();
        let dead_path = dead.path().to_owned();
        std::fs::write(dead_path.join("b.parquet.tmp"), b"dead").unwrap();
        // Dropping it releases its lock, as a process's end does.
        drop(dead);
        reclaim(&staging);
        assert!(
            live.path().join("a.parquet.tmp").exists(),
            "a live writer's file"
        );
        assert!(!dead_path.exists(), "a dead writer's directory");
        let left: Vec<_> = std::fs::read_dir(&staging)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left.len(), 2, "the live directory and its lock: {left:?}");
    }

    #[test]
    fn young_unlocked_leftovers_stay_for_now() {
        let root = tempfile::tempdir().unwrap();
        let staging = root.path().join("staging");
        std::fs::create_dir_all(staging.join("orphan")).unwrap();
        std::fs::write(staging.join("old-style.parquet.tmp"), b"x").unwrap();
        reclaim(&staging);
        assert!(staging.join("orphan").exists());
        assert!(staging.join("old-style.parquet.tmp").exists());
    }
}
