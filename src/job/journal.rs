//! The journal: every irreversible step (a reset, a registration, a password
//! change, an upload) is written down before it is done and again after. A run
//! that starts after a crash reads it to continue instead of repeating. It
//! holds no secrets.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

pub const FILE_NAME: &str = "journal.jsonl";

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("journal {path}, line {line}: {reason}")]
    Damaged {
        path: String,
        line: usize,
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// About to act.
    Intent,
    /// The portal confirmed it.
    Done,
    /// It did not happen, and why.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub at: DateTime<Utc>,
    /// What, and to whom: `reset:H2713107`, `register:OnsKANRI`, `upload:accounts.csv`.
    pub action: String,
    pub phase: Phase,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// How far an action got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    NotStarted,
    /// Intended, then no word: the run stopped while it happened, and only the portal knows.
    Unknown {
        since: DateTime<Utc>,
    },
    Done {
        at: DateTime<Utc>,
        detail: Option<String>,
    },
    Failed {
        detail: Option<String>,
    },
}

pub struct Journal {
    path: PathBuf,
    entries: Vec<Entry>,
}

impl Journal {
    /// Opens the journal in `dir`. A last line cut short by a crash is ignored;
    /// damage anywhere else is an error.
    pub fn open(dir: &Path) -> Result<Self, JournalError> {
        let path = dir.join(FILE_NAME);
        let io = |source| JournalError::Io {
            path: path.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io(e)),
        };
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let mut entries = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            match serde_json::from_str::<Entry>(line) {
                Ok(e) => entries.push(e),
                Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => {}
                Err(e) => {
                    return Err(JournalError::Damaged {
                        path: path.display().to_string(),
                        line: i + 1,
                        reason: e.to_string(),
                    });
                }
            }
        }
        Ok(Self { path, entries })
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    fn append(&mut self, action: &str, phase: Phase, detail: Option<&str>) -> Result<(), JournalError> {
        let entry = Entry {
            at: Utc::now(),
            action: action.to_string(),
            phase,
            detail: detail.map(str::to_string),
        };
        let io = |source| JournalError::Io {
            path: self.path.display().to_string(),
            source,
        };
        let mut line = serde_json::to_string(&entry).map_err(|e| io(std::io::Error::other(e)))?;
        line.push('\n');
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(io)?;
        f.write_all(line.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
        self.entries.push(entry);
        Ok(())
    }

    pub fn intend(&mut self, action: &str, detail: Option<&str>) -> Result<(), JournalError> {
        self.append(action, Phase::Intent, detail)
    }

    pub fn done(&mut self, action: &str, detail: Option<&str>) -> Result<(), JournalError> {
        self.append(action, Phase::Done, detail)
    }

    pub fn failed(&mut self, action: &str, detail: Option<&str>) -> Result<(), JournalError> {
        self.append(action, Phase::Failed, detail)
    }

    pub fn progress(&self, action: &str) -> Progress {
        match self.entries.iter().rev().find(|e| e.action == action) {
            None => Progress::NotStarted,
            Some(e) => match e.phase {
                Phase::Intent => Progress::Unknown { since: e.at },
                Phase::Done => Progress::Done {
                    at: e.at,
                    detail: e.detail.clone(),
                },
                Phase::Failed => Progress::Failed {
                    detail: e.detail.clone(),
                },
            },
        }
    }

    /// When the next upload may be made: a minute after the last one was
    /// intended, so a crash mid-upload still counts as an upload.
    pub fn next_upload_allowed(&self, interval: Duration) -> Option<DateTime<Utc>> {
        self.entries
            .iter()
            .filter(|e| e.action.starts_with("upload:") && e.phase != Phase::Failed)
            .map(|e| e.at)
            .max()
            .map(|at| at + interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_across_reopening() {
        let dir = tempfile::tempdir().expect("dir");
        let mut j = Journal::open(dir.path()).expect("open");
        assert_eq!(j.progress("reset:H2713107"), Progress::NotStarted);
        j.intend("reset:H2713107", None).expect("intend");
        assert!(matches!(j.progress("reset:H2713107"), Progress::Unknown { .. }));
        j.done("reset:H2713107", Some("master_pdf=downloads/001/H2713107.pdf"))
            .expect("done");
        let j = Journal::open(dir.path()).expect("reopen");
        assert!(matches!(
            j.progress("reset:H2713107"),
            Progress::Done { detail: Some(_), .. }
        ));
    }

    #[test]
    fn a_torn_last_line_is_ignored_but_other_damage_is_not() {
        let dir = tempfile::tempdir().expect("dir");
        let mut j = Journal::open(dir.path()).expect("open");
        j.intend("upload:accounts.csv", None).expect("intend");
        let path = dir.path().join(FILE_NAME);
        let mut text = std::fs::read_to_string(&path).expect("read");
        text.push_str("{\"at\":\"2026-11-25T0");
        std::fs::write(&path, &text).expect("tear");
        assert_eq!(Journal::open(dir.path()).expect("reopen").entries().len(), 1);
        std::fs::write(&path, format!("garbage\n{text}\n")).expect("damage");
        assert!(matches!(
            Journal::open(dir.path()),
            Err(JournalError::Damaged { line: 1, .. })
        ));
    }

    #[test]
    fn uploads_are_a_minute_apart_across_runs() {
        let dir = tempfile::tempdir().expect("dir");
        let mut j = Journal::open(dir.path()).expect("open");
        assert_eq!(j.next_upload_allowed(Duration::seconds(60)), None);
        j.intend("upload:accounts.csv", None).expect("intend");
        let j = Journal::open(dir.path()).expect("reopen");
        let next = j.next_upload_allowed(Duration::seconds(60)).expect("a limit");
        assert!(next > Utc::now() + Duration::seconds(55));
    }
}
