//! `oqsbot run`: the web half of the succession procedure, following the
//! decision tree of 補足①, with no person at the keyboard. Every credential the
//! portal hands out is in the credential store before the next step; every
//! irreversible step is journaled before and after, so a second run continues.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

mod flow_portal;
mod prepare;
mod tls;

use flow_portal::FlowPortal;
pub use flow_portal::set_job_vars;
use prepare::prepare;
pub use prepare::today_jst;

use super::JobFile;
use super::journal::{Action, Journal, Progress};
pub use super::outcome::RunError;
use super::procedure::{Carried, Procedure};
use super::report::{Report, ReportStep};
pub use super::secrets::SecretSource;
use super::store::CredentialStore;
use crate::browser::policy::{PolicySource, SystemPolicy};
use crate::browser::{Browser, BrowserOptions};
use crate::flow::{Engine, FlowLibrary};
use crate::secret::Redactor;

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
            .all(|action| matches!(action, Action::Upload | Action::Password(_)))
        {
            return Err(error);
        }
        return Err(RunError::NeedsPerson(format!(
            "{message}\n  {failed} while this was under way: {}. Whether it took effect is known only to the portal: look at アカウント管理(更新) (for an upload, アカウント一括登録結果) before running the same job again",
            begun.iter().map(Action::to_string).collect::<Vec<_>>().join(", ")
        )));
    }
    for action in &begun {
        journal.failed(action, Some("stopped before this step was taken"))?;
    }
    Err(error)
}

/// What a run carries from one browser to the next: everything but the browser.
struct Kept {
    carried: Carried,
    records: Vec<crate::flow::StepRecord>,
    recorder: Option<crate::recording::Recorder>,
}

/// The procedure over a fresh browser, with all the run carries.
fn procedure<'j>(
    job: &'j JobFile,
    browser: &'j Browser,
    options: &RunOptions,
    redactor: &Redactor,
    kept: Kept,
) -> Procedure<'j, FlowPortal<'j>> {
    let mut engine = Engine::new(
        browser,
        FlowLibrary::new(options.flows_dir.as_deref()),
        redactor.clone(),
        &job.output.dir.join("artifacts"),
    );
    engine.records = kept.records;
    engine.keep_issued_with(std::sync::Arc::new(super::store::StoreKeeper {
        dir: job.output.dir.clone(),
    }));
    if let Some(r) = kept.recorder {
        engine.record_to(r);
    }
    Procedure::new(job, FlowPortal::new(engine, job), redactor.clone(), kept.carried)
}

/// What the procedure leaves for the next browser, or for the report.
fn keep(procedure: Procedure<'_, FlowPortal<'_>>) -> Kept {
    let (portal, carried) = procedure.into_parts();
    Kept {
        carried,
        recorder: portal.engine.recorder().cloned(),
        records: portal.engine.records,
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
        carried: Carried {
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
        },
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
        if let Progress::Done { detail, .. } = kept.carried.journal.progress(&Action::Certificate) {
            // The report of the run that finishes names the certificate too.
            if let Some(backup) = detail.as_deref().map(PathBuf::from)
                && let Ok(info) =
                    crate::cert::check_file(&backup, password.expose(), &job.institution.code, Utc::now())
            {
                kept.carried.report.certificate = Some(super::report::ReportCertificate {
                    file: backup.display().to_string(),
                    backup: backup.display().to_string(),
                    not_after: info.not_after.format("%Y/%m/%d").to_string(),
                });
            }
            kept.carried.steps.push(ReportStep {
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
            let mut runner = procedure(job, &browser, options, &redactor, kept);
            let outcome = runner.certificate(password).await;
            kept = keep(runner);
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
    let mut runner = procedure(job, &browser, options, &redactor, kept);
    let outcome = runner.run(&prepared).await;
    kept = keep(runner);
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
    let carried = &mut kept.carried;
    carried.report.steps = std::mem::take(&mut carried.steps);
    carried.report.finish(&outcome, &carried.store, job);
    if let Some(recorder) = &kept.recorder {
        let (word, error) = match &outcome {
            Ok(()) => ("completed", None),
            Err(e) => ("stopped", Some(redactor.redact(&e.to_string()))),
        };
        recorder.end(word, error);
        kept.carried.report.recording_file = Some((recorder.path().display().to_string(), recorder.size()));
    }
    let recording = crate::flow::step_log::write(&job.output.dir, &kept.records, redactor)
        .unwrap_or_else(|_| job.output.dir.join(crate::flow::step_log::FILE_NAME));
    kept.carried.report.recording = Some(recording.display().to_string());
    let written = write_report(&kept.carried.report, &job.output.dir, redactor);
    written.map_err(|e| RunError::Input(format!("cannot write the report: {e}")))?;
    outcome
}
