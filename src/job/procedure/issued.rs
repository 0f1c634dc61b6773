//! A password the portal issues (a reset, a registration) is read twice: off
//! the screen as it is shown, and from the PDF. The shown one is stored the
//! moment it is read, from inside the screen task (the store's `StoreKeeper`); the two are
//! compared, and the run goes on only with a password it is sure of.

use super::portal::{Issue, Portal};
use super::{Procedure, check_pdf};
use crate::job::journal::Action;
use crate::job::outcome::RunError;
use crate::job::store::CredentialStore;
use crate::secret::Secret;

impl<P: Portal> Procedure<'_, P> {
    /// Journals an issuing step, takes it, then settles the password it issued:
    /// stored and journaled as done, or a stop that says what to do. Never an empty password.
    pub(super) async fn issue(&mut self, issue: Issue<'_>, what: &str) -> Result<Secret, RunError> {
        let user_id = issue.account();
        let action = &match issue {
            Issue::RegisterAdmin { .. } => Action::Register(user_id.to_string()),
            _ => Action::Reset(user_id.to_string()),
        };
        self.journal.intend(action, None)?;
        let began = chrono::Utc::now();
        let ran = self.task(what, async |portal| portal.issue(issue).await).await;
        // The password shown was written to the store's file as it was read:
        // this run's copy reads it again.
        self.store = CredentialStore::open(&self.job.output.dir)?;
        // Kept by this step for this account, not an older password of it.
        let shown = if self.portal.issued_shown() {
            self.store.issued_since(user_id, began)
        } else {
            None
        };
        if let Err(e) = ran {
            if shown.is_some() {
                // The step happened and its password is safe: a rerun must not repeat it.
                self.journal.done(action, Some("shown on screen; no PDF"))?;
                self.note(
                    &format!("{user_id} のパスワード"),
                    "画面に表示されたパスワードを保存しました (PDF は受け取れませんでした)",
                );
            }
            return Err(e);
        }
        let (path, creds) = match self.portal.issued_pdf() {
            Ok(pdf) => pdf,
            Err(e) => match shown {
                Some(pw) => {
                    self.journal
                        .done(action, Some("shown on screen; PDF unreadable"))?;
                    self.note(
                        &format!("{user_id} のパスワード"),
                        &format!("PDF を読めませんでした ({e})。画面に表示されたパスワードを使います"),
                    );
                    return Ok(pw);
                }
                None => {
                    self.journal.failed(action, Some("no password readable"))?;
                    return Err(RunError::NeedsPerson(format!(
                        "the portal issued {user_id}'s new password, but the screen did not show it readably and the PDF could not be read ({e}). Read the password in the PDF (in the downloads folder) or on the portal's screen; running the same job again issues another one"
                    )));
                }
            },
        };
        if let Err(e) = check_pdf(self.job, &creds, user_id, "the PDF") {
            if shown.is_some() {
                self.journal.done(action, Some(&path.display().to_string()))?;
            }
            return Err(e);
        }
        let from_pdf = creds
            .password
            .clone()
            .filter(|p| !p.trim().is_empty())
            .map(Secret::new);
        if let Some(pw) = &from_pdf {
            self.redactor.register(pw);
        }
        let password = match (shown, from_pdf) {
            (Some(shown), Some(pdf)) if shown.expose() == pdf.expose() => shown,
            (Some(_), Some(_)) => {
                self.journal.done(action, Some(&path.display().to_string()))?;
                return Err(RunError::NeedsPerson(format!(
                    "{user_id}: the password shown on screen and the one in the PDF ({}) differ. The shown one is in the credential store. Before running the same job again, find which one the portal takes (a login by hand) and put it in the store; no login was spent on either",
                    path.display()
                )));
            }
            (Some(shown), None) => {
                self.note(
                    &format!("{user_id} のパスワード"),
                    "PDF にパスワードの記載がありません。画面に表示されたパスワードを使います",
                );
                shown
            }
            (None, Some(pdf)) => {
                self.store.record_issued(user_id, &pdf)?;
                pdf
            }
            (None, None) => {
                self.journal.failed(action, Some("no password readable"))?;
                return Err(RunError::NeedsPerson(format!(
                    "the portal issued {user_id}'s new password, but neither the screen nor the PDF ({}) gave it in a form oqsbot can read. Read it from the PDF; running the same job again issues another one",
                    path.display()
                )));
            }
        };
        self.journal.done(action, Some(&path.display().to_string()))?;
        Ok(password)
    }
}
