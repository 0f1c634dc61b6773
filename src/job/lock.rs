//! One oqsbot at a time per output folder. Two runs of one job would share
//! its credential store, journal, CSV and browser profile; the second would
//! end the first one's browser as a leftover. The lock is the operating
//! system's, so it is released when its process ends, however it ends.

use std::fs::{File, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The lock file's name in the output folder.
pub const LOCK_FILE: &str = "oqsbot.lock";
/// Who holds the lock, in a file of its own: Windows lets no other process
/// read a locked file.
const HOLDER_FILE: &str = "oqsbot.lock.holder";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another oqsbot is working in {folder} ({holder}). Wait for it to end, or stop it; two runs of one job would overwrite each other's credentials"
    )]
    Busy { folder: String, holder: String },
    #[error("cannot lock the output folder {folder}: {source}")]
    Io { folder: String, source: std::io::Error },
}

/// Held while oqsbot works in a folder; dropping it releases the folder.
#[derive(Debug)]
pub struct FolderLock {
    _file: File,
    path: PathBuf,
    holder: PathBuf,
}

impl Drop for FolderLock {
    fn drop(&mut self) {
        // The lock itself goes with the file handle.
        let _ = std::fs::remove_file(&self.holder);
    }
}

impl FolderLock {
    /// Takes the folder for this process, or says who has it. `what` is the
    /// command, for the message another process would show.
    pub fn acquire(folder: &Path, what: &str) -> Result<FolderLock, LockError> {
        let io = |source| LockError::Io {
            folder: folder.display().to_string(),
            source,
        };
        crate::owner_only::create_dir(folder).map_err(io)?;
        // A folder made beforehand by someone else's hand holds credentials too.
        // (On Windows, create_dir already gives an existing folder the owner-only list.)
        #[cfg(unix)]
        crate::owner_only::restrict(folder).map_err(io)?;
        let path = folder.join(LOCK_FILE);
        let file = open_owner_only(&path).map_err(io)?;
        let holder_path = folder.join(HOLDER_FILE);
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut note = String::new();
                if let Ok(mut f) = File::open(&holder_path) {
                    let _ = f.read_to_string(&mut note);
                }
                let holder = note.trim();
                return Err(LockError::Busy {
                    folder: folder.display().to_string(),
                    holder: if holder.is_empty() {
                        "it is just starting".into()
                    } else {
                        holder.to_string()
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        let note = format!(
            "oqsbot {what}, process {}, since {}",
            std::process::id(),
            chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC")
        );
        // Only a courtesy to whoever is refused next: never a reason to stop.
        if let Ok(mut holder) = crate::owner_only::create_file(&holder_path) {
            let _ = holder.write_all(note.as_bytes());
        }
        Ok(FolderLock {
            _file: file,
            path,
            holder: holder_path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn open_owner_only(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_and_told_who_has_the_folder() {
        let dir = tempfile::tempdir().expect("dir");
        let first = FolderLock::acquire(dir.path(), "run").expect("first");
        let err = FolderLock::acquire(dir.path(), "flow").expect_err("the folder is taken");
        let text = err.to_string();
        assert!(matches!(err, LockError::Busy { .. }), "{text}");
        assert!(
            text.contains(&format!("oqsbot run, process {}", std::process::id())),
            "{text}"
        );
        drop(first);
        let again = FolderLock::acquire(dir.path(), "run").expect("free again once released");
        assert!(again.path().ends_with(LOCK_FILE));
    }

    #[cfg(unix)]
    #[test]
    fn the_lock_file_and_its_folder_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let out = dir.path().join("out");
        std::fs::create_dir(&out).expect("a folder made beforehand");
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let lock = FolderLock::acquire(&out, "run").expect("lock");
        let mode = std::fs::metadata(lock.path()).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let mode = std::fs::metadata(&out).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
