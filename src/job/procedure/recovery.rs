//! After a crash: a PDF the portal handed out that the killed run saved but did
//! not store is taken from the download folder, so its step is not repeated.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::portal::Portal;
use super::{Procedure, check_pdf};
use crate::job::journal::{Action, Progress};
use crate::job::outcome::RunError;
use crate::secret::Secret;

/// The PDFs saved under `downloads` since `since`, oldest first.
fn issued_pdfs(downloads: &Path, since: DateTime<Utc>) -> Vec<PathBuf> {
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
    let folders = std::fs::read_dir(downloads).into_iter().flatten().flatten();
    for folder in folders {
        for file in std::fs::read_dir(folder.path()).into_iter().flatten().flatten() {
            let path = file.path();
            let is_pdf = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("pdf"));
            let modified = file.metadata().and_then(|m| m.modified()).ok();
            if let Some(modified) = modified
                && is_pdf
                && DateTime::<Utc>::from(modified) >= since
            {
                found.push((modified, path));
            }
        }
    }
    found.sort();
    found.into_iter().map(|(_, p)| p).collect()
}

impl<P: Portal> Procedure<'_, P> {
    /// A run killed between a reset or a registration and storing its PDF left
    /// the PDF in the download folder: store it now, so the step is not repeated.
    pub(super) fn recover_issued(&mut self) -> Result<(), RunError> {
        // In doubt: begun and never ended, so each is Unknown with its start.
        let pending: Vec<(String, Action, DateTime<Utc>)> = self
            .journal
            .in_doubt()
            .into_iter()
            .filter_map(|action| {
                let user_id = action.issues_password()?.to_string();
                match self.journal.progress(&action) {
                    Progress::Unknown { since } => Some((user_id, action, since)),
                    _ => None,
                }
            })
            .collect();
        for (user_id, action, since) in pending {
            let user_id = user_id.as_str();
            // The screen showed it, and it was stored before the run was killed.
            if self.store.issued_since(user_id, since).is_some() {
                self.journal.done(&action, Some("shown on screen"))?;
                self.note(
                    &format!("{user_id} の中断した手続きの確認"),
                    "前回の実行が画面から保存したパスワードがあります。繰り返しません",
                );
                continue;
            }
            let found = issued_pdfs(&self.downloads, since)
                .into_iter()
                .rev()
                .find_map(|path| {
                    let creds = crate::pdf::read_credentials(&std::fs::read(&path).ok()?).ok()?;
                    check_pdf(self.job, &creds, user_id, "PDF").ok()?;
                    Some((path, Secret::new(creds.password?)))
                });
            match found {
                Some((path, pw)) => {
                    self.redactor.register(&pw);
                    self.store.record_issued(user_id, &pw)?;
                    self.journal.done(&action, Some(&path.display().to_string()))?;
                    self.note(
                        &format!("{user_id} の中断した手続きの確認"),
                        &format!(
                            "前回の実行が受け取った PDF ({}) のパスワードを保存しました。繰り返しません",
                            path.display()
                        ),
                    );
                }
                None => {
                    self.journal.failed(&action, Some("no PDF was received"))?;
                    self.note(
                        &format!("{user_id} の中断した手続きの確認"),
                        "前回の実行は PDF を受け取る前に止まりました。ポータルの状態を見て続けます",
                    );
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pdfs_saved_since_the_intent_are_candidates() {
        let dir = tempfile::tempdir().expect("dir");
        let folder = dir.path().join("003");
        std::fs::create_dir_all(&folder).expect("folder");
        std::fs::write(folder.join("H2713107.pdf"), b"%PDF").expect("pdf");
        std::fs::write(folder.join("result.csv"), b"x").expect("csv");
        let before = Utc::now() - chrono::Duration::minutes(1);
        let after = Utc::now() + chrono::Duration::minutes(1);
        assert_eq!(issued_pdfs(dir.path(), before), vec![folder.join("H2713107.pdf")]);
        assert!(issued_pdfs(dir.path(), after).is_empty());
        assert!(issued_pdfs(&dir.path().join("missing"), before).is_empty());
    }
}
