//! The succession procedure's decision tree (補足①) over the portal's screen
//! tasks: which account logs in with which password, when a password is reset
//! or an account registered, and when a person must look. Every credential
//! the portal hands out is in the credential store before the next task; every
//! irreversible task is journaled before and after, so a second run continues
//! and never repeats a reset, a registration or an upload.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use chrono::Utc;

mod bulk;
mod issued;
pub mod portal;
mod recovery;
#[cfg(test)]
mod tests;

use bulk::BulkOutcome;
use portal::{Issue, LoggedIn, Portal};

use super::JobFile;
use super::journal::{Action, Journal, Progress};
use super::outcome::{PortalAnswer, RunError, attempts_left};
use super::report::{Report, ReportCertificate, ReportStep, WebDriverUse};
use super::store::{CredentialStore, Origin};
use crate::pdf::Credentials;
use crate::portal::PasswordPolicy;
use crate::portal::text::normalize;
use crate::secret::{Redactor, Secret};

/// Logins refused in a row after which the portal locks an account.
const LOCKOUT: usize = 5;

/// What is known before the procedure starts, checked before any browser starts.
pub(crate) struct Prepared {
    pub(crate) master_pdf: Option<Credentials>,
    pub(crate) cert_password: Option<Secret>,
    /// The password of `[client_certificate]`'s .p12.
    pub(crate) client_cert_password: Option<Secret>,
    pub(crate) secret_number: Option<Secret>,
    pub(crate) csv: PathBuf,
    /// The accounts the bulk file registers (the face account, then the 連携 account).
    pub(crate) bulk_ids: Vec<String>,
}

/// The checks every PDF gets: 本番環境, the new code, the expected user.
pub(crate) fn check_pdf(
    job: &JobFile,
    creds: &Credentials,
    user_id: &str,
    source: &str,
) -> Result<(), RunError> {
    if !creds.is_production() {
        return Err(RunError::Input(format!(
            "{source} is for {}, not 本番環境: get the production ユーザ設定情報",
            creds.environment.as_deref().unwrap_or("an unknown environment")
        )));
    }
    if creds.institution_code.as_deref() != Some(job.institution.code.as_str()) {
        return Err(RunError::Input(format!(
            "{source} is for 医療機関コード {}, not the new code {}: it is probably the old institution's",
            creds.institution_code.as_deref().unwrap_or("?"),
            job.institution.code
        )));
    }
    if creds.user_id.as_deref() != Some(user_id) {
        return Err(RunError::Input(format!(
            "{source} is for ユーザID {}, not {user_id}",
            creds.user_id.as_deref().unwrap_or("?")
        )));
    }
    Ok(())
}

/// What the procedure carries from one portal session to the next (a fresh
/// browser after a failure): everything but the portal.
pub(crate) struct Carried {
    pub(crate) store: CredentialStore,
    pub(crate) journal: Journal,
    pub(crate) steps: Vec<ReportStep>,
    pub(crate) report: Report,
    /// Where the browser saves what the portal hands out.
    pub(crate) downloads: PathBuf,
    /// Attempts the portal said are left, per account, from its refusals.
    pub(crate) attempts_left: HashMap<String, u32>,
}

pub(crate) struct Procedure<'j, P> {
    job: &'j JobFile,
    pub(crate) portal: P,
    redactor: Redactor,
    store: CredentialStore,
    journal: Journal,
    steps: Vec<ReportStep>,
    report: Report,
    downloads: PathBuf,
    attempts_left: HashMap<String, u32>,
    /// The ユーザID アカウント管理(更新) listed when last read.
    listed: Vec<String>,
}

impl<'j, P: Portal> Procedure<'j, P> {
    pub(crate) fn new(job: &'j JobFile, portal: P, redactor: Redactor, carried: Carried) -> Self {
        Self {
            job,
            portal,
            redactor,
            store: carried.store,
            journal: carried.journal,
            steps: carried.steps,
            report: carried.report,
            downloads: carried.downloads,
            attempts_left: carried.attempts_left,
            listed: Vec::new(),
        }
    }

    pub(crate) fn into_parts(self) -> (P, Carried) {
        (
            self.portal,
            Carried {
                store: self.store,
                journal: self.journal,
                steps: self.steps,
                report: self.report,
                downloads: self.downloads,
                attempts_left: self.attempts_left,
            },
        )
    }

    fn note(&mut self, what: &str, result: &str) {
        crate::progress::emit(crate::progress::Event::Note { what, result });
        self.steps.push(ReportStep {
            at: Utc::now(),
            what: what.to_string(),
            result: result.to_string(),
            millis: 0,
            webdriver: None,
        });
    }

    /// Does one screen task, with a line in the report: what, how it ended, how long it took.
    async fn task<T>(
        &mut self,
        what: &str,
        task: impl AsyncFnOnce(&mut P) -> Result<T, RunError>,
    ) -> Result<T, RunError> {
        crate::progress::emit(crate::progress::Event::TaskStarted { what });
        let started = Instant::now();
        let (commands_before, waited_before) = self.portal.driver_use();
        let result = task(&mut self.portal).await;
        let elapsed = started.elapsed();
        let millis = elapsed.as_millis();
        let (commands, waited) = self.portal.driver_use();
        let webdriver = (commands > commands_before).then(|| WebDriverUse {
            commands: commands - commands_before,
            millis: waited.saturating_sub(waited_before).as_millis(),
        });
        let brief = match &result {
            Ok(_) => None,
            Err(e) => Some(self.portal.take_failure_brief().unwrap_or_else(|| e.to_string())),
        };
        let outcome = match &brief {
            None => crate::progress::Outcome::Done,
            Some(why) => crate::progress::Outcome::Failed(why),
        };
        crate::progress::emit(crate::progress::Event::TaskEnded {
            what,
            outcome,
            elapsed,
        });
        let outcome = outcome.to_string();
        self.steps.push(ReportStep {
            at: Utc::now(),
            what: what.to_string(),
            result: outcome,
            millis,
            webdriver,
        });
        result
    }

    fn secret(&self, key: &str) -> Result<Secret, RunError> {
        self.store
            .secret(key)
            .ok_or_else(|| RunError::Input(format!("{key} is missing from the credential store")))
    }

    /// Reads アカウント管理(更新) again.
    async fn read_accounts(&mut self, what: &str) -> Result<(), RunError> {
        self.listed = self.task(what, async |portal| portal.accounts().await).await?;
        Ok(())
    }

    fn listed(&self, user_id: &str) -> bool {
        self.listed.iter().any(|id| id == user_id)
    }

    /// Logs in as `user_id`, trying each candidate password once at most; an
    /// initial password is changed to `target` on the spot. Returns the password that works now.
    async fn login(
        &mut self,
        user_id: &str,
        candidates: Vec<Secret>,
        target: &Secret,
        what: &str,
    ) -> Result<Option<Secret>, RunError> {
        self.login_as(user_id, candidates, target, what, Origin::Job)
            .await
    }

    /// As `login`; `kept` says where a password that works unchanged came from.
    async fn login_as(
        &mut self,
        user_id: &str,
        candidates: Vec<Secret>,
        target: &Secret,
        what: &str,
        kept: Origin,
    ) -> Result<Option<Secret>, RunError> {
        let action = Action::Password(user_id.to_string());
        let mut tried = Vec::new();
        for candidate in candidates {
            if tried.contains(&candidate) || self.store.has_failed(user_id, &candidate) {
                continue;
            }
            tried.push(candidate.clone());
            let failures = self.store.failed_count(user_id);
            if failures + 1 >= LOCKOUT {
                return Err(RunError::NeedsPerson(format!(
                    "{user_id} has failed {failures} logins from this run's passwords; one more could lock it. Find its password, or reset it from a higher account"
                )));
            }
            // The portal's own count, when its refusal told one.
            if let Some(left) = self.attempts_left.get(user_id)
                && *left <= 1
            {
                return Err(RunError::NeedsPerson(format!(
                    "the portal said {user_id} has {left} login attempt(s) left; one more failure could lock it. Find its password, or reset it from a higher account"
                )));
            }
            // The portal may ask for a change to the target, which is in the store already.
            let may_change = candidate != *target;
            if may_change {
                self.journal.intend(
                    &action,
                    Some("the target password, if the portal asks for a change"),
                )?;
            }
            let logged_in = self
                .task(what, async |portal| {
                    portal.login(user_id, &candidate, target).await
                })
                .await;
            match logged_in {
                Ok(how) => {
                    let changed = how == LoggedIn::Changed;
                    let origin = match (changed, self.store.password(user_id)) {
                        (true, _) => Origin::Changed,
                        (false, Some((stored, origin))) if stored == candidate => origin,
                        (false, _) => kept,
                    };
                    let now = if changed { target.clone() } else { candidate };
                    self.store.record_password(user_id, &now, origin)?;
                    if changed {
                        self.journal.done(&action, Some("changed at first login"))?;
                    } else if may_change {
                        self.journal
                            .failed(&action, Some("the portal asked for no change"))?;
                    }
                    return Ok(Some(now));
                }
                Err(RunError::Answered {
                    answer: PortalAnswer::Refused,
                    message,
                }) => {
                    self.store.record_failed_login(user_id, &candidate)?;
                    if let Some(left) = attempts_left(&message) {
                        self.attempts_left.insert(user_id.to_string(), left);
                    }
                    if may_change {
                        self.journal.failed(&action, Some("the login was refused"))?;
                    }
                    // Part of the decision tree, not a fault: say so in the report.
                    if let Some(last) = self.steps.last_mut() {
                        last.result =
                            "ログインできません (ポータルが拒否しました)。このパスワードは再使用しません"
                                .into();
                    }
                }
                Err(RunError::Answered {
                    answer: PortalAnswer::Locked,
                    message,
                }) => {
                    return Err(RunError::NeedsPerson(format!(
                        "{user_id} is locked: a higher account must unlock it or reset its password. {message}"
                    )));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// 工事手順④: the certificate downloaded, checked and backed up.
    pub(crate) async fn certificate(&mut self, password: &Secret) -> Result<(), RunError> {
        let Some(cert) = &self.job.certificate else {
            return Ok(());
        };
        self.journal.intend(&Action::Certificate, None)?;
        let p12 = self
            .task(
                "電子証明書のダウンロード (工事手順④)",
                async |portal| {
                    portal
                        .download_certificate(&cert.request_id, &cert.reference_id, password)
                        .await
                },
            )
            .await?;
        let info = crate::cert::check_file(&p12, password.expose(), &self.job.institution.code, Utc::now())
            .map_err(|e| RunError::Refused(format!("{}: {e}", p12.display())))?;
        let backup_dir = match &cert.backup_dir {
            Some(d) if d.is_absolute() => d.clone(),
            Some(d) => self.job.output.dir.join(d),
            None => self.job.output.dir.join("NTT東オン資端末_電子証明書"),
        };
        std::fs::create_dir_all(&backup_dir)
            .map_err(|e| RunError::Input(format!("{}: {e}", backup_dir.display())))?;
        let name = p12
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_else(|| "certificate.p12".into());
        let backup = backup_dir.join(name);
        std::fs::copy(&p12, &backup).map_err(|e| RunError::Input(format!("{}: {e}", backup.display())))?;
        // Absolute, for the journal: a later run may start from another folder.
        let backup = std::path::absolute(&backup).unwrap_or(backup);
        self.report.certificate = Some(ReportCertificate {
            file: p12.display().to_string(),
            backup: backup.display().to_string(),
            not_after: info.not_after.format("%Y/%m/%d").to_string(),
        });
        self.journal
            .done(&Action::Certificate, Some(&backup.display().to_string()))?;
        self.note(
            "電子証明書の確認",
            &format!(
                "発行先 {} / 有効期限 {}",
                info.institution_code,
                info.not_after.format("%Y/%m/%d")
            ),
        );
        Ok(())
    }

    /// From the admin's login to the verified end state.
    pub(crate) async fn run(&mut self, p: &Prepared) -> Result<(), RunError> {
        let job = self.job;
        self.recover_issued()?;
        let admin_id = job.admin.user_id.clone();
        let admin_target = self.secret("target:admin")?;

        // 1. Can the admin log in? Only with a password something says may be
        // current: the store, the job's (the procedure's step 1), or a change to
        // the target that a killed run may have made.
        let mut admin_candidates = Vec::new();
        if let Some((pw, _)) = self.store.password(&admin_id) {
            admin_candidates.push(pw);
        }
        if job.admin_password_given() || self.target_may_be_set(&admin_id) {
            admin_candidates.push(admin_target.clone());
        }
        let admin_in = if admin_candidates.is_empty() {
            self.note(
                "管理アカウントでログイン (工事手順⑦)",
                "パスワードの指定がないため省略しました ([admin] password_env / password_file)",
            );
            None
        } else {
            self.login(
                &admin_id,
                admin_candidates,
                &admin_target,
                "管理アカウントでログイン (工事手順⑦)",
            )
            .await?
        };
        if admin_in.is_some() {
            self.note("管理アカウント", "ログインできました");
        } else {
            self.note(
                "管理アカウント",
                "ログインできません。補足①の手順でアカウントを登録します",
            );
            self.rebuild_accounts(p).await?;
        }

        // 6. Bulk registration, unless the accounts are there already.
        let bulk = self.bulk(p).await?;

        // 7. Verify.
        self.verify(p, &bulk).await?;
        if !bulk.duplicates.is_empty() {
            return Err(RunError::NeedsPerson(format!(
                "アカウント一括登録 ended in 登録完了(一部 ID 重複あり): {} existed before the upload and keeps the password it had, which this run does not have. Everything else is registered and verified. If nobody knows that password, log in as {} and reset it (アカウント管理(更新) → パスワード初期化)",
                bulk.duplicates.join(", "),
                job.admin.user_id
            )));
        }
        Ok(())
    }

    /// 補足① 2 to 5: the master's password, the admin, the admin's first login.
    async fn rebuild_accounts(&mut self, p: &Prepared) -> Result<(), RunError> {
        let job = self.job;
        let master = job.master.user_id.clone();
        let admin_id = job.admin.user_id.clone();
        let master_target = self.secret("target:master")?;
        let mut candidates = Vec::new();
        if let Some((pw, _)) = self.store.password(&master) {
            candidates.push(pw);
        }
        if let Some(pw) = p.master_pdf.as_ref().and_then(|c| c.password.clone()) {
            let pw = Secret::new(pw);
            self.redactor.register(&pw);
            self.store.record_password(&master, &pw, Origin::Portal)?;
            candidates.push(pw);
        }
        // The job's master password is the new one: current only if a killed run may have set it.
        if self.target_may_be_set(&master) {
            candidates.push(master_target.clone());
        }
        let mut logged_in = if candidates.is_empty() {
            None
        } else {
            self.login(
                &master,
                candidates,
                &master_target,
                "マスタアカウントでログイン (補足① 2-①)",
            )
            .await?
        };
        if logged_in.is_none() {
            // 1-①: reset with the reset account and the 秘密の番号.
            let Some(secret_number) = p.secret_number.clone() else {
                return Err(RunError::NeedsPerson(
                    "the master cannot log in and no 秘密の番号 is given: give [master] secret_number_env or secret_number_file"
                        .into(),
                ));
            };
            if let Progress::Done { at, .. } = self.journal.progress(&Action::Reset(master.clone())) {
                return Err(RunError::NeedsPerson(format!(
                    "an earlier run reset {master}'s password ({}), and the password it stored does not log in: check the credential store before resetting again",
                    at.with_timezone(&chrono_tz::Asia::Tokyo).format("%Y/%m/%d %H:%M")
                )));
            }
            // The reset account's login spends the same budget as any other.
            let reset_id = job.reset_user_id();
            let reset_in = self
                .login_as(
                    &reset_id,
                    vec![secret_number.clone()],
                    &secret_number,
                    "リセット用アカウントでログイン (補足① 1-①)",
                    Origin::Job,
                )
                .await?;
            if reset_in.is_none() {
                return Err(RunError::NeedsPerson(format!(
                    "{reset_id} cannot log in: the portal refused the 秘密の番号 (it is not tried again). Ask the customer for the 秘密の番号 chosen at application time, or have the master's ユーザ設定情報 PDF issued again"
                )));
            }
            let pw = self
                .issue(
                    Issue::ResetMaster {
                        master_id: &master,
                        secret_number: &secret_number,
                    },
                    "マスタアカウントのパスワード初期化 (補足① 1-①)",
                )
                .await?;
            logged_in = self
                .login(
                    &master,
                    vec![pw],
                    &master_target,
                    "マスタアカウントでログイン (補足① 2-①)",
                )
                .await?;
        }
        if logged_in.is_none() {
            return Err(RunError::NeedsPerson(format!(
                "{master} cannot log in with any password this run has"
            )));
        }

        // 2-②: the admin, never registered twice.
        self.read_accounts("アカウント一覧の確認 (マスタアカウント)")
            .await?;
        let exists = self.listed(&admin_id);
        if exists && self.store.password(&admin_id).is_none() && !job.admin.reset_if_exists {
            return Err(RunError::NeedsPerson(format!(
                "{admin_id} exists already, and this run has no password for it; it is not reset unasked. Give its password with [admin] password_env or password_file, or set [admin] reset_if_exists = true to reset it from the master"
            )));
        }
        if exists && self.store.password(&admin_id).is_none() {
            self.issue(
                Issue::Reset { user_id: &admin_id },
                "既存の管理アカウントのパスワード初期化",
            )
            .await?;
        } else if !exists {
            self.issue(
                Issue::RegisterAdmin { admin_id: &admin_id },
                "管理アカウントの登録 (補足① 2-②)",
            )
            .await?;
        } else {
            self.note("管理アカウント", "登録済み。再登録しません");
        }
        self.task("マスタアカウントのログアウト", async |portal| {
            portal.logout().await
        })
        .await?;

        // 3-①: the admin's first login.
        let admin_target = self.secret("target:admin")?;
        let candidates: Vec<Secret> = self
            .store
            .password(&admin_id)
            .map(|(pw, _)| pw)
            .into_iter()
            .collect();
        if self
            .login(
                &admin_id,
                candidates,
                &admin_target,
                "管理アカウントの初回ログイン (補足① 3-①)",
            )
            .await?
            .is_none()
        {
            return Err(RunError::NeedsPerson(format!(
                "{admin_id} cannot log in with the password the portal issued"
            )));
        }
        Ok(())
    }

    /// A killed run may have changed this account's password to the target
    /// (its change was begun and never finished in the journal).
    fn target_may_be_set(&self, user_id: &str) -> bool {
        matches!(
            self.journal.progress(&Action::Password(user_id.to_string())),
            Progress::Unknown { .. }
        )
    }

    /// After an upload the list `bulk` read is stale, so it is read again.
    async fn verify(&mut self, p: &Prepared, bulk: &BulkOutcome) -> Result<(), RunError> {
        let job = self.job;
        if bulk.uploaded {
            self.read_accounts("登録済みアカウントの確認").await?;
        }
        for id in std::iter::once(&job.admin.user_id).chain(&p.bulk_ids) {
            if !self.listed(id) {
                return Err(RunError::Refused(format!(
                    "{id} is not in アカウント管理(更新) after the registration"
                )));
            }
        }
        let code = self
            .task("機関コードの確認 (工事手順⑦)", async |portal| {
                portal.institution_code().await
            })
            .await?;
        self.report.institution_code_read = Some(code.clone());
        if normalize(&code) != normalize(&job.institution.code) {
            return Err(RunError::Refused(format!(
                "the portal shows 機関コード {code}, not {}",
                job.institution.code
            )));
        }
        self.task("管理アカウントのログアウト", async |portal| {
            portal.logout().await
        })
        .await?;
        let accounts_pw = self.secret("target:accounts")?;
        // The bulk file's password is theirs only if the job gave it or this job uploaded it.
        let uploaded = matches!(self.journal.progress(&Action::Upload), Progress::Done { .. });
        for id in &p.bulk_ids {
            let known = self.job.accounts_password_given() || (uploaded && !bulk.duplicates.contains(id));
            let mut candidates: Vec<Secret> = self.store.password(id).map(|(pw, _)| pw).into_iter().collect();
            if known {
                candidates.push(accounts_pw.clone());
            }
            if candidates.is_empty() {
                self.note(&format!("{id} のログイン確認"), "パスワードが不明のため省略しました (この実行より前に登録されたアカウント)。[accounts] password_env または password_file で指定できます");
                continue;
            }
            // Stored before the login that may set it, so a crash cannot lose it.
            let key = format!("target:{id}");
            let replacement = match self.store.secret(&key) {
                Some(s) => s,
                None => {
                    let s = Secret::new(
                        PasswordPolicy::generate(PasswordPolicy::GENERATED_LEN)
                            .map_err(|e| RunError::Input(e.to_string()))?,
                    );
                    self.store.record_secret(&key, &s)?;
                    s
                }
            };
            self.redactor.register(&replacement);
            let kept = if self.job.accounts_password_given() {
                Origin::Job
            } else {
                Origin::Generated
            };
            if self
                .login_as(
                    id,
                    candidates,
                    &replacement,
                    &format!("{id} のログイン確認"),
                    kept,
                )
                .await?
                .is_none()
            {
                return Err(RunError::Refused(format!(
                    "{id} cannot log in with the password of the bulk file"
                )));
            }
            self.task(&format!("{id} のログアウト"), async |portal| {
                portal.logout().await
            })
            .await?;
        }
        Ok(())
    }
}
