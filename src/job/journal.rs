//! The journal: every irreversible step (a reset, a registration, a password
//! change, an upload) is written down before it is done and again after. A run
//! that starts after a crash reads it to continue instead of repeating. It
//! holds no secrets.

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

pub const FILE_NAME: &str = "journal.jsonl";

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error(
        "journal {path} is damaged at line {line} ({reason}); it records which portal steps were already done, so the run stops rather than guess: keep a copy, then fix or remove that line by hand"
    )]
    Damaged {
        path: String,
        line: usize,
        reason: String,
    },
    #[error(
        "journal {path} changed while it was being read; is another oqsbot run using the same output folder? Let it finish, then start again"
    )]
    Changed { path: String },
}

/// An irreversible step, as the journal names it (`reset:H2713107`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    /// 工事手順④: the certificate downloaded and backed up.
    Certificate,
    /// パスワード初期化 of this account.
    Reset(String),
    /// This account's registration.
    Register(String),
    /// A change of this account's password to the run's target.
    Password(String),
    /// アカウント一括登録 of the bulk file.
    Upload,
    /// `oqsbot flow NAME --job`, run as a whole.
    Flow(String),
    /// A name this version does not know: a newer oqsbot wrote it.
    Other(String),
}

impl Action {
    pub fn parse(name: &str) -> Self {
        let owned = |s: &str| s.to_string();
        match name.split_once(':') {
            _ if name == "certificate" => Action::Certificate,
            _ if name == "upload:accounts.csv" => Action::Upload,
            Some(("reset", id)) => Action::Reset(owned(id)),
            Some(("register", id)) => Action::Register(owned(id)),
            Some(("password", id)) => Action::Password(owned(id)),
            Some(("flow", flow)) => Action::Flow(owned(flow)),
            _ => Action::Other(owned(name)),
        }
    }

    /// A reset or a registration: the portal issues a password for `account`.
    pub fn issues_password(&self) -> Option<&str> {
        match self {
            Action::Reset(id) | Action::Register(id) => Some(id),
            _ => None,
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Certificate => f.write_str("certificate"),
            Action::Reset(id) => write!(f, "reset:{id}"),
            Action::Register(id) => write!(f, "register:{id}"),
            Action::Password(id) => write!(f, "password:{id}"),
            Action::Upload => f.write_str("upload:accounts.csv"),
            Action::Flow(name) => write!(f, "flow:{name}"),
            Action::Other(name) => f.write_str(name),
        }
    }
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

/// One line of the journal, or why it is not an entry.
fn parse(line: &[u8]) -> Result<Entry, String> {
    let text = std::str::from_utf8(line).map_err(|_| "not UTF-8 text".to_string())?;
    serde_json::from_str(text).map_err(|e| format!("not a journal entry: {e}"))
}

impl Journal {
    /// Opens the journal in `dir`, creating it (owner-only) if there is none.
    /// A last line cut short by a crash is dropped from the file, so the next
    /// entry starts on a line of its own; damage anywhere else is an error and
    /// leaves the file as it is.
    pub fn open(dir: &Path) -> Result<Self, JournalError> {
        let path = dir.join(FILE_NAME);
        let shown = path.display().to_string();
        let io = |source| JournalError::Io {
            path: shown.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let f = crate::owner_only::create_file(&path).map_err(io)?;
                f.sync_all().map_err(io)?;
                // Without this a power loss can take the new file's name away again.
                crate::job::store::sync_dir(dir).map_err(io)?;
                return Ok(Self {
                    path,
                    entries: Vec::new(),
                });
            }
            Err(e) => return Err(io(e)),
        };
        // Every line is written with its '\n'; bytes after the last one are a
        // line whose writing was cut short, or one whose '\n' was.
        let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let (complete, tail) = bytes.split_at(whole);
        let mut entries = Vec::new();
        for (i, line) in complete.split(|&b| b == b'\n').enumerate() {
            if line.trim_ascii().is_empty() {
                continue;
            }
            entries.push(parse(line).map_err(|reason| JournalError::Damaged {
                path: shown.clone(),
                line: i + 1,
                reason,
            })?);
        }
        if tail.is_empty() {
            return Ok(Self { path, entries });
        }
        // Checked before writing: another run appending now would lose its line to a truncation.
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).map_err(io)?;
        if f.metadata().map_err(io)?.len() != bytes.len() as u64 {
            return Err(JournalError::Changed { path: shown.clone() });
        }
        match parse(tail) {
            // Whole but for its '\n' (the process stopped between the two): kept,
            // and ended so the next entry does not join it.
            Ok(entry) => {
                entries.push(entry);
                f.seek(SeekFrom::End(0)).map_err(io)?;
                f.write_all(b"\n").map_err(io)?;
            }
            // Truncating in place keeps the file's owner-only permissions.
            Err(_) => {
                f.set_len(whole as u64).map_err(io)?;
                if !tail.trim_ascii().is_empty() {
                    // Its content is not logged: it could hold anything.
                    tracing::warn!(
                        journal = %shown,
                        line = complete.iter().filter(|&&b| b == b'\n').count() + 1,
                        bytes = tail.len(),
                        "dropped a half-written last line of the journal, left by a run that was interrupted while writing it"
                    );
                }
            }
        }
        f.sync_all().map_err(io)?;
        Ok(Self { path, entries })
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    fn append(&mut self, action: &Action, phase: Phase, detail: Option<&str>) -> Result<(), JournalError> {
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
        // Not created here: `open` made it owner-only, and a journal gone since is an error.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(io)?;
        f.write_all(line.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
        self.entries.push(entry);
        Ok(())
    }

    pub fn intend(&mut self, action: &Action, detail: Option<&str>) -> Result<(), JournalError> {
        self.append(action, Phase::Intent, detail)
    }

    pub fn done(&mut self, action: &Action, detail: Option<&str>) -> Result<(), JournalError> {
        self.append(action, Phase::Done, detail)
    }

    pub fn failed(&mut self, action: &Action, detail: Option<&str>) -> Result<(), JournalError> {
        self.append(action, Phase::Failed, detail)
    }

    /// Actions begun and never ended, in the order they were begun.
    pub fn in_doubt(&self) -> Vec<Action> {
        let mut actions: Vec<Action> = Vec::new();
        for e in &self.entries {
            let action = Action::parse(&e.action);
            if !actions.contains(&action) {
                actions.push(action);
            }
        }
        actions.retain(|a| matches!(self.progress(a), Progress::Unknown { .. }));
        actions
    }

    pub fn progress(&self, action: &Action) -> Progress {
        let name = action.to_string();
        match self.entries.iter().rev().find(|e| e.action == name) {
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
            .filter(|e| Action::parse(&e.action) == Action::Upload && e.phase != Phase::Failed)
            .map(|e| e.at)
            .max()
            .map(|at| at + interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_keep_their_journal_names() {
        for name in [
            "certificate",
            "reset:H2713107",
            "register:OnsKANRI",
            "password:FOFACE01",
            "upload:accounts.csv",
            "flow:login",
            "renamed:by-a-newer-version",
        ] {
            assert_eq!(Action::parse(name).to_string(), name);
        }
        assert_eq!(Action::parse("reset:H2713107"), Action::Reset("H2713107".into()));
        assert_eq!(Action::parse("upload:accounts.csv"), Action::Upload);
        assert_eq!(
            Action::Register("OnsKANRI".into()).issues_password(),
            Some("OnsKANRI")
        );
        assert_eq!(Action::Password("OnsKANRI".into()).issues_password(), None);
    }

    #[test]
    fn progress_across_reopening() {
        let dir = tempfile::tempdir().expect("dir");
        let mut j = Journal::open(dir.path()).expect("open");
        assert_eq!(j.progress(&Action::parse("reset:H2713107")), Progress::NotStarted);
        j.intend(&Action::parse("reset:H2713107"), None).expect("intend");
        assert!(matches!(
            j.progress(&Action::parse("reset:H2713107")),
            Progress::Unknown { .. }
        ));
        j.done(
            &Action::parse("reset:H2713107"),
            Some("master_pdf=downloads/001/H2713107.pdf"),
        )
        .expect("done");
        let j = Journal::open(dir.path()).expect("reopen");
        assert!(matches!(
            j.progress(&Action::parse("reset:H2713107")),
            Progress::Done { detail: Some(_), .. }
        ));
    }

    fn journal_bytes(dir: &Path) -> Vec<u8> {
        std::fs::read(dir.join(FILE_NAME)).expect("read journal")
    }

    fn add_bytes(dir: &Path, bytes: &[u8]) {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join(FILE_NAME))
            .expect("open journal");
        f.write_all(bytes).expect("write journal");
    }

    /// Every line of the file on disk, each a whole entry.
    fn lines_on_disk(dir: &Path) -> Vec<Entry> {
        let text = String::from_utf8(journal_bytes(dir)).expect("text");
        assert!(
            text.ends_with('\n'),
            "the journal ends with a whole line: {text:?}"
        );
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
            .collect()
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_the_next_entry_starts_afresh() {
        let dir = tempfile::tempdir().expect("dir");
        let mut j = Journal::open(dir.path()).expect("open");
        j.intend(&Action::parse("reset:H2713107"), None).expect("intend");
        j.done(
            &Action::parse("reset:H2713107"),
            Some("master_pdf=downloads/001/H2713107.pdf"),
        )
        .expect("done");
        drop(j);
        let before = journal_bytes(dir.path());
        // Killed while writing the next line.
        add_bytes(dir.path(), b"{\"at\":\"2026-11-25T0");

        let mut j = Journal::open(dir.path()).expect("reopen");
        assert_eq!(j.entries().len(), 2);
        assert_eq!(
            journal_bytes(dir.path()),
            before,
            "cut back to the last whole line"
        );
        j.intend(&Action::parse("register:OnsKANRI"), None)
            .expect("intend");
        drop(j);

        let j = Journal::open(dir.path()).expect("open again");
        let actions: Vec<_> = j.entries().iter().map(|e| (e.action.as_str(), e.phase)).collect();
        assert_eq!(
            actions,
            [
                ("reset:H2713107", Phase::Intent),
                ("reset:H2713107", Phase::Done),
                ("register:OnsKANRI", Phase::Intent),
            ]
        );
        assert_eq!(lines_on_disk(dir.path()), j.entries());
    }

    #[test]
    fn a_line_torn_inside_a_character_is_dropped_too() {
        let dir = tempfile::tempdir().expect("dir");
        let mut j = Journal::open(dir.path()).expect("open");
        j.intend(&Action::parse("upload:accounts.csv"), None)
            .expect("intend");
        drop(j);
        let line = "{\"at\":\"2026-11-25T01:02:03Z\",\"action\":\"upload:accounts.csv\",\"phase\":\"failed\",\"detail\":\"受付";
        // Cut between the bytes of 付.
        add_bytes(dir.path(), &line.as_bytes()[..line.len() - 1]);
        let j = Journal::open(dir.path()).expect("reopen");
        assert_eq!(j.entries().len(), 1);
        assert_eq!(lines_on_disk(dir.path()).len(), 1);
    }

    #[test]
    fn a_whole_last_line_without_its_newline_is_kept_and_ended() {
        let dir = tempfile::tempdir().expect("dir");
        let mut j = Journal::open(dir.path()).expect("open");
        j.intend(&Action::parse("reset:H2713107"), None).expect("intend");
        drop(j);
        // Killed between the line and its '\n'.
        let mut bytes = journal_bytes(dir.path());
        assert_eq!(bytes.pop(), Some(b'\n'));
        std::fs::write(dir.path().join(FILE_NAME), &bytes).expect("write");

        let mut j = Journal::open(dir.path()).expect("reopen");
        assert_eq!(
            j.progress(&Action::parse("reset:H2713107")),
            Progress::Unknown {
                since: j.entries()[0].at
            }
        );
        j.done(&Action::parse("reset:H2713107"), None).expect("done");
        drop(j);

        let on_disk = lines_on_disk(dir.path());
        assert_eq!(on_disk.len(), 2);
        let j = Journal::open(dir.path()).expect("open again");
        assert_eq!(j.entries(), on_disk);
        assert!(matches!(
            j.progress(&Action::parse("reset:H2713107")),
            Progress::Done { .. }
        ));
    }

    #[test]
    fn damage_before_the_last_line_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().expect("dir");
        let mut j = Journal::open(dir.path()).expect("open");
        j.intend(&Action::parse("reset:H2713107"), None).expect("intend");
        j.done(&Action::parse("reset:H2713107"), None).expect("done");
        drop(j);
        let text = String::from_utf8(journal_bytes(dir.path())).expect("text");
        let (first, second) = text.split_once('\n').expect("two lines");
        // A damaged middle line, and a torn last one that must not be repaired then.
        let damaged = format!("{first}\n{{\"at\":\"2026-11-25T0\n{second}{{\"at\"");
        std::fs::write(dir.path().join(FILE_NAME), &damaged).expect("write");

        let err = Journal::open(dir.path()).err().expect("refused");
        assert!(matches!(err, JournalError::Damaged { line: 2, .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("damaged at line 2"), "{message}");
        assert!(message.contains("by hand"), "{message}");
        assert_eq!(
            journal_bytes(dir.path()),
            damaged.as_bytes(),
            "the file is untouched"
        );
    }

    #[test]
    fn a_repaired_journal_stays_owner_only() {
        let dir = tempfile::tempdir().expect("dir");
        let mut j = Journal::open(dir.path()).expect("open");
        let path = dir.path().join(FILE_NAME);
        assert_eq!(crate::owner_only::exposure(&path).expect("check"), None);
        j.intend(&Action::parse("upload:accounts.csv"), None)
            .expect("intend");
        drop(j);
        add_bytes(dir.path(), b"{\"at\"");
        Journal::open(dir.path()).expect("reopen");
        assert_eq!(crate::owner_only::exposure(&path).expect("check"), None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn the_warning_names_no_content_of_the_dropped_line() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Log(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Log {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().expect("log").extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let dir = tempfile::tempdir().expect("dir");
        Journal::open(dir.path()).expect("open");
        add_bytes(dir.path(), b"{\"at\":\"2026\",\"action\":\"secret-ish");
        let log = Log::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || Journal::open(dir.path()).expect("reopen"));
        let text = String::from_utf8(log.0.lock().expect("log").clone()).expect("text");
        assert!(text.contains("WARN"), "{text}");
        assert!(text.contains("half-written"), "{text}");
        assert!(text.contains("interrupted"), "{text}");
        assert!(!text.contains("secret-ish"), "{text}");
    }

    #[test]
    fn a_new_journal_exists_on_disk_at_once() {
        let dir = tempfile::tempdir().expect("dir");
        let j = Journal::open(&dir.path().join("run")).expect("open");
        assert!(j.entries().is_empty());
        assert_eq!(journal_bytes(&dir.path().join("run")), b"");
        assert!(
            Journal::open(&dir.path().join("run"))
                .expect("reopen")
                .entries()
                .is_empty()
        );
    }

    #[test]
    fn uploads_are_a_minute_apart_across_runs() {
        let dir = tempfile::tempdir().expect("dir");
        let mut j = Journal::open(dir.path()).expect("open");
        assert_eq!(j.next_upload_allowed(Duration::seconds(60)), None);
        j.intend(&Action::parse("upload:accounts.csv"), None)
            .expect("intend");
        let j = Journal::open(dir.path()).expect("reopen");
        let next = j.next_upload_allowed(Duration::seconds(60)).expect("a limit");
        assert!(next > Utc::now() + Duration::seconds(55));
    }
}
