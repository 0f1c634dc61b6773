//! `oqsbot run`: the web half of the succession procedure, following the
//! decision tree of 補足①, with no person at the keyboard. Every credential the
//! portal hands out is in the credential store before the next step; every
//! irreversible step is journaled before and after, so a second run continues.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

mod bulk;
mod issued;
mod prepare;
mod recovery;
mod tls;

use bulk::{BulkOutcome, UPLOAD};
pub use prepare::today_jst;
use prepare::{Prepared, prepare};

use super::JobFile;
use super::journal::{Journal, JournalError, Progress};
use super::outcome::{PortalAnswer, attempts_left};
use super::report::{Report, ReportStep};
pub use super::secrets::SecretSource;
use super::store::{CredentialStore, Origin, StoreError};
use crate::browser::policy::{PolicySource, SystemPolicy};
use crate::browser::{Browser, BrowserOptions};
use crate::flow::{Engine, FailureKind, FlowError, FlowLibrary, Var};
use crate::pdf::Credentials;
use crate::portal::PasswordPolicy;
use crate::secret::{Redactor, Secret};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Refused(String),
    /// A flow ended in an outcome it named; the run decides on `answer`.
    #[error("{message}")]
    Answered { answer: PortalAnswer, message: String },
    #[error("{0}")]
    TimedOut(String),
    #[error("{0}")]
    NeedsPerson(String),
    /// The portal could not go on (a server error, maintenance, an ended
    /// session); the same job, run again, continues. `in_doubt`: the failing
    /// flow had already clicked a step that must not be repeated.
    #[error("{message}")]
    Unavailable { message: String, in_doubt: bool },
    /// The browser's driver stopped answering. A fresh browser continues from
    /// the journal, as a rerun does; `in_doubt` as for `Unavailable`.
    #[error("{message}")]
    BrowserLost { message: String, in_doubt: bool },
    #[error("{0}")]
    Browser(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// Another oqsbot works in the output folder.
    #[error(transparent)]
    Lock(#[from] super::lock::LockError),
}

impl RunError {
    /// The exit code the README lists for this outcome.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Input(_) => 2,
            RunError::Refused(_) => 3,
            RunError::Answered { answer, .. } => match answer {
                PortalAnswer::Locked => 5,
                PortalAnswer::Refused | PortalAnswer::Other(_) => 3,
            },
            RunError::TimedOut(_) => 4,
            RunError::NeedsPerson(_) => 5,
            RunError::Unavailable { .. } => 7,
            RunError::BrowserLost { .. }
            | RunError::Browser(_)
            | RunError::Store(_)
            | RunError::Journal(_)
            | RunError::Lock(_) => 6,
        }
    }

    /// What the technician does next, in Japanese, for the run's last lines.
    pub fn next_step_ja(&self) -> &'static str {
        match self.exit_code() {
            2 => {
                "入力に誤りがあります。上のメッセージのとおりジョブファイルや秘密情報を直してから、同じジョブをもう一度実行してください (ブラウザは起動していません)。"
            }
            3 => "ポータルが拒否しました。上のメッセージとレポートを確認してください。",
            4 => {
                "ポータルの応答待ちで時間切れになりました。時間をおいて同じジョブをもう一度実行すると、続きから再開します。"
            }
            5 => {
                "担当者の確認が必要です。上のメッセージのとおり対応してから、同じジョブをもう一度実行すると続きから再開します。"
            }
            7 => {
                "ポータルが一時的に使えません。時間をおいて同じジョブをもう一度実行すると、続きから再開します。"
            }
            _ => {
                "ブラウザ・ドライバ・出力フォルダのいずれかで問題が起きました。上のメッセージを確認し、同じジョブをもう一度実行すると続きから再開します。"
            }
        }
    }

    pub fn from_flow(e: Box<FlowError>) -> Self {
        let text = e.to_string();
        let in_doubt = e.acted_irreversibly;
        if let Some(outcome) = &e.outcome {
            return RunError::Answered {
                answer: PortalAnswer::parse(outcome),
                message: text,
            };
        }
        match e.kind {
            FailureKind::Refused => RunError::Refused(text),
            FailureKind::Timeout => RunError::TimedOut(text),
            FailureKind::NotFound => RunError::NeedsPerson(format!(
                "the screen is not what the flow expects; look at the screenshot, and fix the flow file if the portal changed: {text}"
            )),
            FailureKind::Browser => RunError::Browser(text),
            FailureKind::Input => RunError::Input(text),
            FailureKind::Unavailable | FailureKind::SessionEnded => RunError::Unavailable {
                message: text,
                in_doubt,
            },
            FailureKind::BrowserLost => RunError::BrowserLost {
                message: text,
                in_doubt,
            },
        }
    }
}

pub struct RunOptions {
    pub flows_dir: Option<PathBuf>,
    pub browser: BrowserOptions,
    pub secrets: SecretSource,
    /// Where the browser's AutoSelectCertificateForUrls rules are read from.
    pub policy: Box<dyn PolicySource + Send + Sync>,
    /// Keep a recording of the run in its output folder.
    pub record: bool,
    /// Bound on what the recording stores.
    pub recording_cap: u64,
    /// How often the run starts again by itself when the portal could not go
    /// on (a server error, maintenance, an ended session).
    pub portal_retries: u32,
    /// The wait before the first such retry; each next one waits as long again.
    pub portal_retry_wait: Duration,
    /// How often the run starts again by itself, at once, in a fresh browser,
    /// when the browser's driver stopped answering.
    pub browser_restarts: u32,
}

impl RunOptions {
    pub fn new(job: &JobFile) -> Self {
        Self {
            flows_dir: None,
            browser: BrowserOptions::new(job.output.dir.join("downloads")),
            secrets: SecretSource::from_terminal(),
            policy: Box::new(SystemPolicy),
            record: true,
            recording_cap: crate::recording::DEFAULT_CAP_BYTES,
            portal_retries: 2,
            browser_restarts: 2,
            portal_retry_wait: Duration::from_secs(60),
        }
    }
}

struct Runner<'b> {
    job: &'b JobFile,
    engine: Engine<'b>,
    store: CredentialStore,
    journal: Journal,
    steps: Vec<ReportStep>,
    report: Report,
    /// Where the browser saves what the portal hands out.
    downloads: PathBuf,
    /// Attempts the portal said are left, per account, from its refusals.
    attempts_left: std::collections::HashMap<String, u32>,
}

fn pdf_of(engine: &Engine, var: &str) -> Result<(PathBuf, Credentials), RunError> {
    let Some(Var::File(path)) = engine.vars.get(var) else {
        return Err(RunError::Refused(format!("the portal gave no PDF ({var})")));
    };
    let bytes =
        std::fs::read(path).map_err(|e| RunError::Input(format!("cannot read {}: {e}", path.display())))?;
    let creds = crate::pdf::read_credentials(&bytes).map_err(|e| {
        // The password the flow's pages showed stays unknown: they are not kept.
        if let Some(r) = engine.recorder() {
            r.release_without_pages("the PDF could not be read, so the password it carries is unknown");
        }
        RunError::Refused(format!("{}: {e}", path.display()))
    })?;
    Ok((path.clone(), creds))
}

impl<'b> Runner<'b> {
    fn note(&mut self, what: &str, result: &str) {
        tracing::info!("{what}: {result}");
        self.steps.push(ReportStep {
            at: Utc::now(),
            what: what.to_string(),
            result: result.to_string(),
            millis: 0,
            webdriver: None,
        });
    }

    async fn flow(&mut self, name: &str, what: &str) -> Result<(), RunError> {
        tracing::info!("{what} …");
        let started = Instant::now();
        let (commands_before, waited_before) = self.engine.browser().driver_use();
        let result = self.engine.run(name).await;
        let millis = started.elapsed().as_millis();
        let (commands, waited) = self.engine.browser().driver_use();
        let webdriver = Some(crate::job::report::WebDriverUse {
            commands: commands - commands_before,
            millis: waited.saturating_sub(waited_before).as_millis(),
        });
        let outcome = match &result {
            Ok(()) => "完了".to_string(),
            Err(e) => format!("失敗: {}", e.message),
        };
        tracing::info!("{what}: {outcome} ({:.1} s)", millis as f64 / 1000.0);
        self.steps.push(ReportStep {
            at: Utc::now(),
            what: what.to_string(),
            result: outcome,
            millis,
            webdriver,
        });
        result.map_err(RunError::from_flow)
    }

    fn secret(&self, key: &str) -> Result<Secret, RunError> {
        self.store
            .secret(key)
            .ok_or_else(|| RunError::Input(format!("{key} is missing from the credential store")))
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
        let lockout = 5;
        let action = format!("password:{user_id}");
        let mut tried = Vec::new();
        for candidate in candidates {
            if tried.contains(&candidate) || self.store.has_failed(user_id, &candidate) {
                continue;
            }
            tried.push(candidate.clone());
            let failures = self.store.failed_count(user_id);
            if failures + 1 >= lockout {
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
            self.engine.set("user_id", user_id);
            self.engine.set_secret("password", candidate.clone());
            self.engine.set_secret("new_password", target.clone());
            // The portal may ask for a change to the target, which is in the store already.
            let may_change = candidate != *target;
            if may_change {
                self.journal.intend(
                    &action,
                    Some("the target password, if the portal asks for a change"),
                )?;
            }
            match self.flow("login", what).await {
                Ok(()) => {
                    let changed = self.engine.text("login_result") == Some("must_change");
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
                    self.store.record_failed_login(user_id, &tried[tried.len() - 1])?;
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

    async fn certificate(&mut self, password: &Secret) -> Result<(), RunError> {
        let Some(cert) = &self.job.certificate else {
            return Ok(());
        };
        self.engine.set("request_id", &cert.request_id);
        self.engine.set("reference_id", &cert.reference_id);
        self.engine.set_secret("cert_password", password.clone());
        self.journal.intend("certificate", None)?;
        self.flow("cert-download", "電子証明書のダウンロード (工事手順④)")
            .await?;
        let Some(Var::File(p12)) = self.engine.vars.get("p12").cloned() else {
            return Err(RunError::Refused("the download site sent no certificate".into()));
        };
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
        self.report.certificate = Some(super::report::ReportCertificate {
            file: p12.display().to_string(),
            backup: backup.display().to_string(),
            not_after: info.not_after.format("%Y/%m/%d").to_string(),
        });
        self.journal
            .done("certificate", Some(&backup.display().to_string()))?;
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
}

pub use super::report::write_report;

/// Runs the job to the end, or to the point where a person must act.
pub async fn run(job: &JobFile, options: &RunOptions) -> (Result<(), RunError>, PathBuf) {
    let started = Utc::now();
    let report_dir = job.output.dir.clone();
    crate::owner_only::private_umask();
    // Before anything in the folder is read or written, before any leftover
    // browser is ended, and through every retry.
    let _lock = match super::lock::FolderLock::acquire(&job.output.dir, "run") {
        Ok(lock) => lock,
        Err(e) => return (Err(e.into()), report_dir),
    };
    let mut retries: Vec<Retry> = Vec::new();
    loop {
        let result = run_inner(job, options, started, &retries).await;
        // The trouble may pass: the run starts again the way a rerun of the job
        // does, from its journal, with a fresh browser and a fresh login.
        let result = match result {
            Err(e @ (RunError::Unavailable { .. } | RunError::BrowserLost { .. })) => settle_doubt(job, e),
            other => other,
        };
        let (cause, reason) = match &result {
            Err(RunError::Unavailable { message, .. }) => (RetryCause::Portal, message),
            Err(RunError::BrowserLost { message, .. }) => (RetryCause::Browser, message),
            _ => return (result, report_dir),
        };
        let (allowed, wait) = match cause {
            RetryCause::Portal => (options.portal_retries, options.portal_retry_wait),
            // The browser, not the portal, failed: nothing to wait for.
            RetryCause::Browser => (options.browser_restarts, Duration::ZERO),
        };
        let taken = retries.iter().filter(|r| r.cause == cause).count() as u32;
        if taken >= allowed {
            return (result, report_dir);
        }
        retries.push(Retry {
            at: Utc::now(),
            cause,
            reason: reason.clone(),
        });
        let wait = wait * (taken + 1);
        tracing::warn!(
            "{reason}\n  starting again{} ({} of {})",
            if wait.is_zero() {
                " in a fresh browser".to_string()
            } else {
                format!(" in {} s", wait.as_secs())
            },
            taken + 1,
            allowed
        );
        // Nothing the run can reach tells when the portal is back (site B
        // answers only a browser holding the certificate): the wait is the backoff.
        tokio::time::sleep(wait).await;
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RetryCause {
    Portal,
    Browser,
}

/// A start again by the run itself, for its report.
struct Retry {
    at: DateTime<Utc>,
    cause: RetryCause,
    reason: String,
}

impl Retry {
    fn what(&self) -> &'static str {
        match self.cause {
            RetryCause::Portal => "ポータルの一時的な問題のため、最初から再実行",
            RetryCause::Browser => "ブラウザが応答しなくなったため、新しいブラウザで最初から再実行",
        }
    }
}

/// After the portal or the browser stopped a flow: a step the journal holds as
/// begun is settled. If the flow never clicked anything irreversible, that step
/// was not taken, and a retry may take it. If it had, only the portal knows what
/// happened: an upload the retry finds on アカウント一括登録結果 by itself, and a
/// password change it tries both ways; for a reset or a registration a person
/// looks before it is done again.
fn settle_doubt(job: &JobFile, error: RunError) -> Result<(), RunError> {
    let (message, in_doubt, failed) = match &error {
        RunError::Unavailable { message, in_doubt } => (message, *in_doubt, "The portal failed"),
        RunError::BrowserLost { message, in_doubt } => (message, *in_doubt, "The browser stopped answering"),
        _ => return Err(error),
    };
    let mut journal = Journal::open(&job.output.dir)?;
    let begun = journal.in_doubt();
    if begun.is_empty() {
        return Err(error);
    }
    if in_doubt {
        // An upload is looked up on アカウント一括登録結果, and a password change
        // begun is tried both ways by the login's budget: the retry settles them.
        if begun
            .iter()
            .all(|action| action == UPLOAD || action.starts_with("password:"))
        {
            return Err(error);
        }
        return Err(RunError::NeedsPerson(format!(
            "{message}\n  {failed} while this was under way: {}. Whether it took effect is known only to the portal: look at アカウント管理(更新) (for an upload, アカウント一括登録結果) before running the same job again",
            begun.join(", ")
        )));
    }
    for action in &begun {
        journal.failed(action, Some("stopped before this step was taken"))?;
    }
    Err(error)
}

/// What a run carries from one browser to the next: everything but the engine.
struct Kept {
    store: CredentialStore,
    journal: Journal,
    steps: Vec<ReportStep>,
    report: Report,
    downloads: PathBuf,
    attempts_left: std::collections::HashMap<String, u32>,
    records: Vec<crate::flow::StepRecord>,
    recorder: Option<crate::recording::Recorder>,
}

impl<'b> Runner<'b> {
    fn new(
        job: &'b JobFile,
        browser: &'b Browser,
        options: &RunOptions,
        redactor: &Redactor,
        kept: Kept,
    ) -> Self {
        let engine = Engine::new(
            browser,
            FlowLibrary::new(options.flows_dir.as_deref()),
            redactor.clone(),
            &job.output.dir.join("artifacts"),
        );
        let mut runner = Runner {
            job,
            engine,
            store: kept.store,
            journal: kept.journal,
            steps: kept.steps,
            report: kept.report,
            downloads: kept.downloads,
            attempts_left: kept.attempts_left,
        };
        runner.engine.records = kept.records;
        runner
            .engine
            .keep_issued_with(std::sync::Arc::new(super::store::StoreKeeper {
                dir: job.output.dir.clone(),
            }));
        if let Some(r) = kept.recorder {
            runner.engine.record_to(r);
        }
        runner.set_vars();
        runner
    }

    fn keep(self) -> Kept {
        Kept {
            store: self.store,
            journal: self.journal,
            steps: self.steps,
            report: self.report,
            downloads: self.downloads,
            attempts_left: self.attempts_left,
            recorder: self.engine.recorder().cloned(),
            records: self.engine.records,
        }
    }
}

async fn start_browser(options: BrowserOptions) -> Result<Browser, RunError> {
    Browser::start(options).await.map_err(|e| match e.fault() {
        // A driver that hung as the browser started: a fresh start may fare better.
        Some(crate::browser::Fault::Lost) => RunError::BrowserLost {
            message: e.to_string(),
            in_doubt: false,
        },
        _ => RunError::Browser(e.to_string()),
    })
}

/// Quits a browser and drops its profile, which holds the portal's cookies.
async fn close_browser(browser: Browser) {
    let profile = browser.options.profile_dir();
    browser.quit().await;
    let _ = std::fs::remove_dir_all(profile);
}

/// `retries`: when and why the portal or the browser stopped the earlier attempts of this run.
async fn run_inner(
    job: &JobFile,
    options: &RunOptions,
    started: DateTime<Utc>,
    retries: &[Retry],
) -> Result<(), RunError> {
    let mut store = CredentialStore::open(&job.output.dir)?;
    let prepared = prepare(job, options, &mut store)?;
    let journal = Journal::open(&job.output.dir)?;
    let redactor = Redactor::new();
    for key in ["target:master", "target:admin", "target:accounts"] {
        if let Some(s) = store.secret(key) {
            redactor.register(&s);
        }
    }
    let mut kept = Kept {
        store,
        journal,
        steps: retries
            .iter()
            .map(|retry| ReportStep {
                at: retry.at,
                what: retry.what().into(),
                result: redactor.redact(&retry.reason),
                millis: 0,
                webdriver: None,
            })
            .collect(),
        report: Report::new(job, started),
        downloads: options.browser.download_dir.clone(),
        attempts_left: std::collections::HashMap::new(),
        records: Vec::new(),
        recorder: None,
    };
    if options.record {
        let path = job.output.dir.join(crate::recording::FILE_NAME);
        match crate::recording::Recorder::create(&path, "run", redactor.clone(), options.recording_cap) {
            Ok(r) => kept.recorder = Some(r),
            Err(e) => tracing::warn!(error = %e, "the run goes on without a recording"),
        }
    }
    // ④ in a browser of its own: the certificate it downloads is not in any browser yet.
    let mut downloaded_now = false;
    if let Some(password) = &prepared.cert_password {
        if let Progress::Done { detail, .. } = kept.journal.progress("certificate") {
            // The report of the run that finishes names the certificate too.
            if let Some(backup) = detail.as_deref().map(PathBuf::from)
                && let Ok(info) =
                    crate::cert::check_file(&backup, password.expose(), &job.institution.code, Utc::now())
            {
                kept.report.certificate = Some(super::report::ReportCertificate {
                    file: backup.display().to_string(),
                    backup: backup.display().to_string(),
                    not_after: info.not_after.format("%Y/%m/%d").to_string(),
                });
            }
            kept.steps.push(ReportStep {
                at: Utc::now(),
                what: "電子証明書のダウンロード".into(),
                result: format!("前回の実行で完了済み ({})", detail.unwrap_or_default()),
                millis: 0,
                webdriver: None,
            });
        } else {
            let mut browser_options = options.browser.clone();
            browser_options.capture_network |= kept.recorder.is_some();
            let browser = match start_browser(browser_options).await {
                Ok(b) => b,
                Err(e) => return finish(job, kept, &redactor, Err(e)),
            };
            let mut runner = Runner::new(job, &browser, options, &redactor, kept);
            let outcome = runner.certificate(password).await;
            kept = runner.keep();
            close_browser(browser).await;
            if let Err(e) = outcome {
                return finish(job, kept, &redactor, Err(e));
            }
            downloaded_now = true;
        }
    }
    let home = match tls::make_usable(job, &prepared, &mut kept, downloaded_now) {
        Ok(h) => h,
        Err(e) => return finish(job, kept, &redactor, Err(e)),
    };
    // Declared before the browser, so it is dropped after it, on every path (Ctrl-C too).
    let _home = home.clone().map(tls::RemovedOnDrop::new);
    let mut browser_options = options.browser.clone();
    browser_options.capture_network |= kept.recorder.is_some();
    if home.is_some() {
        browser_options.home = home;
    }
    let browser = match start_browser(browser_options).await {
        Ok(b) => b,
        Err(e) => return finish(job, kept, &redactor, Err(e)),
    };
    let mut runner = Runner::new(job, &browser, options, &redactor, kept);
    let outcome = runner.procedure(&prepared).await;
    kept = runner.keep();
    close_browser(browser).await;
    finish(job, kept, &redactor, outcome)
}

/// Writes the report and the redacted recording, whatever the outcome.
fn finish(
    job: &JobFile,
    mut kept: Kept,
    redactor: &Redactor,
    outcome: Result<(), RunError>,
) -> Result<(), RunError> {
    kept.report.steps = std::mem::take(&mut kept.steps);
    kept.report.finish(&outcome, &kept.store, job);
    if let Some(recorder) = &kept.recorder {
        let (word, error) = match &outcome {
            Ok(()) => ("completed", None),
            Err(e) => ("stopped", Some(redactor.redact(&e.to_string()))),
        };
        recorder.end(word, error);
        kept.report.recording_file = Some((recorder.path().display().to_string(), recorder.size()));
    }
    let recording = job.output.dir.join("steps.jsonl");
    let lines: Vec<String> = kept
        .records
        .iter()
        .filter_map(|r| serde_json::to_value(r).ok())
        .filter_map(|v| serde_json::to_string(&redactor.redact_json(&v)).ok())
        .collect();
    let _ = std::fs::write(&recording, lines.join("\n") + "\n");
    kept.report.recording = Some(recording.display().to_string());
    let written = write_report(&kept.report, &job.output.dir, redactor);
    written.map_err(|e| RunError::Input(format!("cannot write the report: {e}")))?;
    outcome
}

impl Runner<'_> {
    fn set_vars(&mut self) {
        let job = self.job;
        self.engine.set("oqs_url", &job.sites.oqs_url);
        self.engine.set("cert_url", &job.sites.cert_url);
        self.engine.set("master_user_id", &job.master.user_id);
        self.engine.set("reset_user_id", &job.reset_user_id());
        self.engine.set("admin_user_id", &job.admin.user_id);
        self.engine.set("admin_name", &job.admin.name);
        self.engine.set("admin_kana", &job.admin.kana);
        self.engine
            .set("start_date", &today_jst().format("%Y/%m/%d").to_string());
        self.engine.set(
            "status_interval_secs",
            &job.output.status_interval_secs.to_string(),
        );
        self.engine
            .set("status_timeout_secs", &job.output.status_timeout_secs.to_string());
        self.engine.set(
            "status_first_look_secs",
            &job.output.status_first_look_secs().to_string(),
        );
    }

    async fn procedure(&mut self, p: &Prepared) -> Result<(), RunError> {
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
            self.engine.redactor().register(&pw);
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
            self.engine.set_secret("secret_number", secret_number.clone());
            let action = format!("reset:{master}");
            if let Progress::Done { at, .. } = self.journal.progress(&action) {
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
            self.journal.intend(&action, None)?;
            self.engine.set("logged_in", "yes");
            let reset = self
                .issue(issued::Issuing {
                    flow: "reset-master-password",
                    what: "マスタアカウントのパスワード初期化 (補足① 1-①)",
                    action: &action,
                    user_id: &master,
                    pdf_var: "master_pdf",
                    shown_var: "master_shown",
                })
                .await;
            self.engine.set("logged_in", "");
            let pw = reset?;
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
        self.flow("list-accounts", "アカウント一覧の確認 (マスタアカウント)")
            .await?;
        let exists = self.listed(&admin_id);
        if exists && self.store.password(&admin_id).is_none() && !job.admin.reset_if_exists {
            return Err(RunError::NeedsPerson(format!(
                "{admin_id} exists already, and this run has no password for it; it is not reset unasked. Give its password with [admin] password_env or password_file, or set [admin] reset_if_exists = true to reset it from the master"
            )));
        }
        if exists && self.store.password(&admin_id).is_none() {
            let action = format!("reset:{admin_id}");
            self.journal.intend(&action, None)?;
            self.engine.set("target_user_id", &admin_id);
            self.issue(issued::Issuing {
                flow: "reset-password",
                what: "既存の管理アカウントのパスワード初期化",
                action: &action,
                user_id: &admin_id,
                pdf_var: "reset_pdf",
                shown_var: "reset_shown",
            })
            .await?;
        } else if !exists {
            let action = format!("register:{admin_id}");
            self.journal.intend(&action, None)?;
            self.issue(issued::Issuing {
                flow: "register-admin",
                what: "管理アカウントの登録 (補足① 2-②)",
                action: &action,
                user_id: &admin_id,
                pdf_var: "admin_pdf",
                shown_var: "admin_shown",
            })
            .await?;
        } else {
            self.note("管理アカウント", "登録済み。再登録しません");
        }
        self.flow("logout", "マスタアカウントのログアウト").await?;

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
            self.journal.progress(&format!("password:{user_id}")),
            Progress::Unknown { .. }
        )
    }

    fn listed(&self, user_id: &str) -> bool {
        match self.engine.vars.get("accounts") {
            Some(Var::Table(rows)) => rows
                .iter()
                .any(|r| r.get("ユーザID").is_some_and(|v| v.trim() == user_id)),
            _ => false,
        }
    }

    /// After an upload the list `bulk` read is stale, so it is read again.
    async fn verify(&mut self, p: &Prepared, bulk: &BulkOutcome) -> Result<(), RunError> {
        let job = self.job;
        if bulk.uploaded {
            self.flow("list-accounts", "登録済みアカウントの確認").await?;
        }
        for id in std::iter::once(&job.admin.user_id).chain(&p.bulk_ids) {
            if !self.listed(id) {
                return Err(RunError::Refused(format!(
                    "{id} is not in アカウント管理(更新) after the registration"
                )));
            }
        }
        self.flow("read-institution-code", "機関コードの確認 (工事手順⑦)")
            .await?;
        let code = self
            .engine
            .text("institution_code")
            .unwrap_or_default()
            .to_string();
        self.report.institution_code_read = Some(code.clone());
        if code != job.institution.code {
            return Err(RunError::Refused(format!(
                "the portal shows 機関コード {code}, not {}",
                job.institution.code
            )));
        }
        self.flow("logout", "管理アカウントのログアウト").await?;
        let accounts_pw = self.secret("target:accounts")?;
        // The bulk file's password is theirs only if the job gave it or this job uploaded it.
        let uploaded = matches!(self.journal.progress(UPLOAD), Progress::Done { .. });
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
            self.engine.redactor().register(&replacement);
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
            self.flow("logout", &format!("{id} のログアウト")).await?;
        }
        Ok(())
    }
}
