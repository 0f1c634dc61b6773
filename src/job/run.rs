//! `oqsbot run`: the web half of the succession procedure, following the
//! decision tree of 補足①, with no person at the keyboard. Every credential the
//! portal hands out is in the credential store before the next step; every
//! irreversible step is journaled before and after, so a second run continues.

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::JobFile;
use super::journal::{Journal, JournalError, Progress};
use super::report::{Report, ReportStep};
use super::secrets::SecretRef;
pub use super::secrets::SecretSource;
use super::store::{CredentialStore, Origin, StoreError};
use crate::browser::{Browser, BrowserOptions};
use crate::bulk_csv::{self, Layout, TerminalKind};
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
    #[error("{0}")]
    TimedOut(String),
    #[error("{0}")]
    NeedsPerson(String),
    #[error("{0}")]
    Browser(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Journal(#[from] JournalError),
}

impl RunError {
    /// The exit code the README lists for this outcome.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Input(_) => 2,
            RunError::Refused(_) => 3,
            RunError::TimedOut(_) => 4,
            RunError::NeedsPerson(_) => 5,
            RunError::Browser(_) | RunError::Store(_) | RunError::Journal(_) => 6,
        }
    }

    fn from_flow(e: Box<FlowError>) -> Self {
        let text = e.to_string();
        match e.kind {
            FailureKind::Refused => RunError::Refused(text),
            FailureKind::Timeout => RunError::TimedOut(text),
            FailureKind::NotFound => RunError::NeedsPerson(format!(
                "the screen is not what the flow expects; look at the screenshot, and fix the flow file if the portal changed: {text}"
            )),
            FailureKind::Browser => RunError::Browser(text),
            FailureKind::Input => RunError::Input(text),
        }
    }
}

pub struct RunOptions {
    pub flows_dir: Option<PathBuf>,
    pub browser: BrowserOptions,
    pub secrets: SecretSource,
}

impl RunOptions {
    pub fn new(job: &JobFile) -> Self {
        Self {
            flows_dir: None,
            browser: BrowserOptions::new(job.output.dir.join("downloads")),
            secrets: SecretSource::from_terminal(),
        }
    }
}

/// The journal's name for the bulk upload.
const UPLOAD: &str = "upload:accounts.csv";

/// What the bulk registration did.
#[derive(Default)]
struct BulkOutcome {
    /// This run or an earlier one uploaded the file, and the portal registered it.
    uploaded: bool,
    /// Accounts that existed before the upload: the portal left them as they were.
    duplicates: Vec<String>,
}

/// When a 受付番号 (`yyyyMMddHHmmssSSS_<uploader>`, Japan time) was received.
fn receipt_time(receipt: &str) -> Option<DateTime<Utc>> {
    let stamp = receipt.split('_').next()?;
    let naive = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%d%H%M%S%3f").ok()?;
    naive
        .and_local_timezone(chrono_tz::Asia::Tokyo)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

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

/// What is known before any browser starts.
struct Prepared {
    master_pdf: Option<Credentials>,
    cert_password: Option<Secret>,
    secret_number: Option<Secret>,
    csv: PathBuf,
    /// The accounts the bulk file registers (the face account, then the 連携 account).
    bulk_ids: Vec<String>,
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
}

fn pdf_of(engine: &Engine, var: &str) -> Result<(PathBuf, Credentials), RunError> {
    let Some(Var::File(path)) = engine.vars.get(var) else {
        return Err(RunError::Refused(format!("the portal gave no PDF ({var})")));
    };
    let bytes =
        std::fs::read(path).map_err(|e| RunError::Input(format!("cannot read {}: {e}", path.display())))?;
    let creds = crate::pdf::read_credentials(&bytes)
        .map_err(|e| RunError::Refused(format!("{}: {e}", path.display())))?;
    Ok((path.clone(), creds))
}

/// The checks every PDF gets: 本番環境, the new code, the expected user.
fn check_pdf(job: &JobFile, creds: &Credentials, user_id: &str, source: &str) -> Result<(), RunError> {
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

/// Everything checked before a browser starts; every problem reported at once.
fn prepare(job: &JobFile, options: &RunOptions, store: &mut CredentialStore) -> Result<Prepared, RunError> {
    let mut problems = job.problems();
    let mut master_pdf = None;
    if let Some(path) = &job.master.pdf {
        match std::fs::read(path) {
            Err(e) => problems.push(format!("[master] pdf {}: {e}", path.display())),
            Ok(bytes) => match crate::pdf::read_credentials(&bytes) {
                Err(e) => problems.push(format!("[master] pdf {}: {e}", path.display())),
                Ok(c) => match check_pdf(job, &c, &job.master.user_id, "the master's PDF") {
                    Err(e) => problems.push(format!("[master] pdf: {e}")),
                    Ok(()) => master_pdf = Some(c),
                },
            },
        }
    }
    let source = &options.secrets;
    let mut resolve = |r: SecretRef, key: &str, what: &str| match source.resolve(&r, key, what) {
        Ok(s) => s,
        Err(e) => {
            problems.push(e);
            None
        }
    };
    let cert_password = match &job.certificate {
        None => None,
        Some(_) => resolve(
            job.cert_password_ref(),
            "[certificate] password",
            "証明書パスワード (4桁)",
        ),
    };
    let cert_missing = job.certificate.is_some() && cert_password.is_none();
    let secret_number_ref = job.secret_number_ref();
    // The 秘密の番号 is asked for only when the reset may need it.
    let pdf_has_password = master_pdf.as_ref().is_some_and(|c| c.password.is_some());
    let secret_number = if secret_number_ref.is_given() || !pdf_has_password {
        resolve(secret_number_ref, "[master] secret_number", "秘密の番号 (4桁)")
    } else {
        None
    };
    let targets = [
        (
            "target:master",
            job.master_password_ref(),
            "[master] password",
            "マスタアカウントの新しいパスワード",
        ),
        (
            "target:admin",
            job.admin_password_ref(),
            "[admin] password",
            "管理アカウントのパスワード",
        ),
        (
            "target:accounts",
            job.accounts_password_ref(),
            "[accounts] password",
            "顔認証・連携アカウントのパスワード",
        ),
    ];
    // A target password the job does not give is generated, never asked for.
    let given_targets: Vec<Option<Secret>> = targets
        .iter()
        .map(|(_, r, key, what)| {
            if r.is_given() {
                resolve(r.clone(), key, what)
            } else {
                None
            }
        })
        .collect();
    if cert_missing && !problems.iter().any(|p| p.starts_with("[certificate]")) {
        problems
            .push("[certificate] give password_env or password_file for the 4-digit 証明書パスワード".into());
    }
    if let Some(p) = &cert_password {
        if !(p.expose().len() == 4 && p.expose().bytes().all(|b| b.is_ascii_digit())) {
            problems.push("[certificate] the certificate password must be 4 half-width digits".into());
        } else {
            // The technician needs it again at step ⑤, installing the .p12 on the terminal.
            store.record_secret("cert_password", p)?;
        }
    }
    if master_pdf.as_ref().is_none_or(|c| c.password.is_none())
        && secret_number.is_none()
        && !problems.iter().any(|p| p.starts_with("[master] secret_number"))
    {
        problems.push("[master] the master's PDF has no initial password, so the reset needs the 秘密の番号: give secret_number_env or secret_number_file".into());
    }
    // Target passwords: from the job, or generated once and kept in the store.
    for ((key, r, _, _), given) in targets.iter().zip(given_targets) {
        let key = *key;
        let secret = match given {
            Some(s) => Some(s),
            None if r.is_given() => None,
            None => match store.secret(key) {
                Some(s) => Some(s),
                None => {
                    let generated = PasswordPolicy::generate(PasswordPolicy::GENERATED_LEN)
                        .map_err(|e| RunError::Input(e.to_string()))?;
                    let s = Secret::new(generated);
                    store.record_secret(key, &s)?;
                    Some(s)
                }
            },
        };
        match secret {
            // Already reported when it was resolved.
            None => {}
            Some(s) => {
                for v in PasswordPolicy::check(s.expose(), &[]) {
                    problems.push(format!("{key}: the portal will refuse this password: {v}"));
                }
                store.record_secret(key, &s)?;
            }
        }
    }
    // The bulk CSV is built now, so a name with no Shift-JIS form stops the run here.
    let kind = TerminalKind::from(job.kind());
    let layout = Layout::builtin();
    let start = match &job.accounts.start {
        Some(s) => chrono::NaiveDate::parse_from_str(s, "%Y/%m/%d").unwrap_or_else(|_| today_jst()),
        None => today_jst(),
    };
    let csv = job.output.dir.join("accounts.csv");
    let password = store.secret("target:accounts").unwrap_or_else(|| Secret::new(""));
    let rows = bulk_csv::default_accounts(layout, kind, password.expose(), start);
    let bulk_ids: Vec<String> = rows.iter().map(|r| r.user_id.clone()).collect();
    if !password.expose().is_empty() {
        match bulk_csv::encode(layout, &rows) {
            Err(e) => problems.push(format!("bulk CSV: {e}")),
            Ok(bytes) => {
                if let Err(e) = write_owner_only(&csv, &bytes) {
                    problems.push(format!("cannot write {}: {e}", csv.display()));
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(RunError::Input(format!(
            "the job cannot run:\n  - {}",
            problems.join("\n  - ")
        )));
    }
    Ok(Prepared {
        master_pdf,
        cert_password,
        secret_number,
        csv,
        bulk_ids,
    })
}

/// The CSV holds a password: owner-only, like the credential store.
fn write_owner_only(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}

pub fn today_jst() -> chrono::NaiveDate {
    Utc::now().with_timezone(&chrono_tz::Asia::Tokyo).date_naive()
}

impl<'b> Runner<'b> {
    fn note(&mut self, what: &str, result: &str) {
        tracing::info!("{what}: {result}");
        self.steps.push(ReportStep {
            at: Utc::now(),
            what: what.to_string(),
            result: result.to_string(),
            millis: 0,
        });
    }

    async fn flow(&mut self, name: &str, what: &str) -> Result<(), RunError> {
        tracing::info!("{what} …");
        let started = Instant::now();
        let result = self.engine.run(name).await;
        let millis = started.elapsed().as_millis();
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
                Err(RunError::Refused(m)) if m.contains("refused the login") => {
                    self.store.record_failed_login(user_id, &tried[tried.len() - 1])?;
                    if may_change {
                        self.journal.failed(&action, Some("the login was refused"))?;
                    }
                    // Part of the decision tree, not a fault: say so in the report.
                    if let Some(last) = self.steps.last_mut() {
                        last.result = "ログインできません (ユーザIDまたはパスワードが正しくありません)。このパスワードは再使用しません".into();
                    }
                }
                Err(RunError::Refused(m)) if m.contains("locked") => {
                    return Err(RunError::NeedsPerson(format!(
                        "{user_id} is locked: a higher account must unlock it or reset its password. {m}"
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
        if let Progress::Done { detail, .. } = self.journal.progress("certificate") {
            self.note(
                "電子証明書のダウンロード",
                &format!("前回の実行で完了済み ({})", detail.unwrap_or_default()),
            );
            return Ok(());
        }
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
    let result = run_inner(job, options, started).await;
    (result, report_dir)
}

async fn run_inner(job: &JobFile, options: &RunOptions, started: DateTime<Utc>) -> Result<(), RunError> {
    let mut store = CredentialStore::open(&job.output.dir)?;
    let prepared = prepare(job, options, &mut store)?;
    let journal = Journal::open(&job.output.dir)?;
    let browser = Browser::start(options.browser.clone())
        .await
        .map_err(|e| RunError::Browser(e.to_string()))?;
    let redactor = Redactor::new();
    for key in ["target:master", "target:admin", "target:accounts"] {
        if let Some(s) = store.secret(key) {
            redactor.register(&s);
        }
    }
    let engine = Engine::new(
        &browser,
        FlowLibrary::new(options.flows_dir.as_deref()),
        redactor,
        &job.output.dir.join("artifacts"),
    );
    let mut runner = Runner {
        job,
        engine,
        store,
        journal,
        steps: Vec::new(),
        report: Report::new(job, started),
        downloads: options.browser.download_dir.clone(),
    };
    let outcome = runner.procedure(&prepared).await;
    runner.report.steps = std::mem::take(&mut runner.steps);
    runner.report.finish(&outcome, &runner.store, job);
    let recording = job.output.dir.join("steps.jsonl");
    let lines: Vec<String> = runner
        .engine
        .records
        .iter()
        .filter_map(|r| serde_json::to_string(r).ok())
        .map(|l| runner.engine.redactor().redact(&l))
        .collect();
    let _ = std::fs::write(&recording, lines.join("\n") + "\n");
    runner.report.recording = Some(recording.display().to_string());
    let written = write_report(&runner.report, &job.output.dir, runner.engine.redactor());
    drop(runner);
    let profile = browser.options.profile_dir();
    browser.quit().await;
    // The profile holds the portal's cookies; nothing in it is needed after the run.
    let _ = std::fs::remove_dir_all(profile);
    written.map_err(|e| RunError::Input(format!("cannot write the report: {e}")))?;
    outcome
}

impl Runner<'_> {
    async fn procedure(&mut self, p: &Prepared) -> Result<(), RunError> {
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
        self.recover_issued()?;
        if let Some(pw) = &p.cert_password {
            self.certificate(pw).await?;
        }
        let admin_id = job.admin.user_id.clone();
        let admin_target = self.secret("target:admin")?;

        // 1. Can the admin log in? Only with passwords that have not failed before.
        let mut admin_candidates = Vec::new();
        if let Some((pw, _)) = self.store.password(&admin_id) {
            admin_candidates.push(pw);
        }
        admin_candidates.push(admin_target.clone());
        let admin_in = self
            .login(
                &admin_id,
                admin_candidates,
                &admin_target,
                "管理アカウントでログイン (工事手順⑦)",
            )
            .await?;
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
        candidates.push(master_target.clone());
        let mut logged_in = self
            .login(
                &master,
                candidates,
                &master_target,
                "マスタアカウントでログイン (補足① 2-①)",
            )
            .await?;
        if logged_in.is_none() {
            // 1-①: reset with the reset account and the 秘密の番号.
            let Some(secret_number) = p.secret_number.clone() else {
                return Err(RunError::NeedsPerson(
                    "the master cannot log in and no 秘密の番号 is given: give [master] secret_number_env or secret_number_file"
                        .into(),
                ));
            };
            self.engine.set_secret("secret_number", secret_number);
            let action = format!("reset:{master}");
            if let Progress::Done { at, .. } = self.journal.progress(&action) {
                return Err(RunError::NeedsPerson(format!(
                    "an earlier run reset {master}'s password ({}), and the password it stored does not log in: check the credential store before resetting again",
                    at.with_timezone(&chrono_tz::Asia::Tokyo).format("%Y/%m/%d %H:%M")
                )));
            }
            self.journal.intend(&action, None)?;
            self.flow(
                "reset-master-password",
                "マスタアカウントのパスワード初期化 (補足① 1-①)",
            )
            .await?;
            let (path, creds) = pdf_of(&self.engine, "master_pdf")?;
            check_pdf(job, &creds, &master, "the reset's PDF")?;
            let pw = Secret::new(creds.password.clone().unwrap_or_default());
            self.engine.redactor().register(&pw);
            self.store.record_issued(&master, &pw)?;
            self.journal.done(&action, Some(&path.display().to_string()))?;
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
        if exists && self.store.password(&admin_id).is_none() {
            let action = format!("reset:{admin_id}");
            self.journal.intend(&action, None)?;
            self.engine.set("target_user_id", &admin_id);
            self.flow("reset-password", "既存の管理アカウントのパスワード初期化")
                .await?;
            let (path, creds) = pdf_of(&self.engine, "reset_pdf")?;
            check_pdf(job, &creds, &admin_id, "the admin's PDF")?;
            let pw = Secret::new(creds.password.clone().unwrap_or_default());
            self.engine.redactor().register(&pw);
            self.store.record_issued(&admin_id, &pw)?;
            self.journal.done(&action, Some(&path.display().to_string()))?;
        } else if !exists {
            let action = format!("register:{admin_id}");
            self.journal.intend(&action, None)?;
            self.flow("register-admin", "管理アカウントの登録 (補足① 2-②)")
                .await?;
            let (path, creds) = pdf_of(&self.engine, "admin_pdf")?;
            check_pdf(job, &creds, &admin_id, "the admin's PDF")?;
            let pw = Secret::new(creds.password.clone().unwrap_or_default());
            self.engine.redactor().register(&pw);
            self.store.record_issued(&admin_id, &pw)?;
            self.journal.done(&action, Some(&path.display().to_string()))?;
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

    /// A run killed between a reset or a registration and storing its PDF left
    /// the PDF in the download folder: store it now, so the step is not repeated.
    fn recover_issued(&mut self) -> Result<(), RunError> {
        let pending: Vec<(String, DateTime<Utc>)> = self
            .journal
            .entries()
            .iter()
            .filter(|e| e.action.starts_with("reset:") || e.action.starts_with("register:"))
            .map(|e| e.action.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .filter_map(|action| match self.journal.progress(&action) {
                Progress::Unknown { since } => Some((action, since)),
                _ => None,
            })
            .collect();
        for (action, since) in pending {
            let Some((_, user_id)) = action.split_once(':') else {
                continue;
            };
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
                    self.engine.redactor().register(&pw);
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

    fn listed(&self, user_id: &str) -> bool {
        match self.engine.vars.get("accounts") {
            Some(Var::Table(rows)) => rows
                .iter()
                .any(|r| r.get("ユーザID").is_some_and(|v| v.trim() == user_id)),
            _ => false,
        }
    }

    /// Uploads the bulk file unless its accounts exist, and waits for its 登録状況.
    async fn bulk(&mut self, p: &Prepared) -> Result<BulkOutcome, RunError> {
        self.flow("list-accounts", "アカウント一覧の確認 (管理アカウント)")
            .await?;
        // Accounts listed before this run uploads keep their own passwords: the portal skips them.
        let mut existing = Vec::new();
        let receipt = match self.journal.progress(UPLOAD) {
            Progress::Done {
                detail: Some(receipt),
                ..
            } => receipt,
            Progress::Unknown { since } => match self.find_upload(since).await? {
                Some(receipt) => {
                    self.journal.done(UPLOAD, Some(&receipt))?;
                    self.note(
                        "アカウント一括登録",
                        &format!("前回の実行が中断したアップロードを確認しました (受付番号 {receipt})"),
                    );
                    receipt
                }
                None => {
                    self.journal
                        .failed(UPLOAD, Some("not on アカウント一括登録結果"))?;
                    self.note(
                        "アカウント一括登録",
                        "前回の実行が中断したアップロードはポータルに届いていません",
                    );
                    match self.upload_missing(p, &mut existing).await? {
                        Some(receipt) => receipt,
                        None => return Ok(BulkOutcome::default()),
                    }
                }
            },
            _ => match self.upload_missing(p, &mut existing).await? {
                Some(receipt) => receipt,
                None => return Ok(BulkOutcome::default()),
            },
        };
        self.engine.set("receipt", &receipt);
        self.flow("bulk-status", "アカウント一括登録結果の確認").await?;
        let status = self.engine.text("bulk_status").unwrap_or_default().to_string();
        let mut bulk = super::report::ReportBulk {
            receipt: receipt.clone(),
            status: status.clone(),
            processed: None,
            rows: Vec::new(),
        };
        if let Some(Var::Table(rows)) = self.engine.vars.get("bulk_row") {
            bulk.processed = rows.first().and_then(|r| r.get("処理件数").cloned());
        }
        let mut duplicates = existing;
        if let Some(Var::File(path)) = self.engine.vars.get("result_file")
            && let Ok(bytes) = std::fs::read(path)
            && let Ok(rows) = bulk_csv::read_result(Layout::builtin(), &bytes)
        {
            bulk.rows = rows
                .iter()
                .map(|r| format!("{} {}: {} {}", r.user_id, r.name, r.result, r.detail))
                .collect();
            for r in &rows {
                if r.detail.contains("重複") && !duplicates.contains(&r.user_id) {
                    duplicates.push(r.user_id.clone());
                }
            }
        }
        self.report.bulk = Some(bulk.clone());
        let normalized = crate::flow::engine::normalize(&status);
        if normalized == "登録完了" {
            self.note("アカウント一括登録結果", &status);
            return Ok(BulkOutcome {
                uploaded: true,
                duplicates: Vec::new(),
            });
        }
        if normalized.starts_with("登録完了(一部") {
            self.note(
                "アカウント一括登録結果",
                &format!(
                    "{status}: {} は登録済みだったため、以前のパスワードのままです",
                    duplicates.join("、")
                ),
            );
            return Ok(BulkOutcome {
                uploaded: true,
                duplicates,
            });
        }
        // A failed upload may be made again once the cause is fixed.
        self.journal
            .failed(UPLOAD, Some(&format!("{receipt} {status}")))?;
        let what = if normalized.contains("システムエラー") {
            "the portal failed on its side; run the job again later (nothing was registered)"
        } else if normalized.contains("入力チェックエラー") {
            "the portal refused a row, so no row was registered; fix the row named below (the layout is in data/bulk_csv.toml, `--layout` takes a corrected copy) and run the job again"
        } else {
            "nothing was registered; look at the result file"
        };
        Err(RunError::Refused(format!(
            "アカウント一括登録 ended in 「{status}」: {what}. {}",
            bulk.rows.join("; ")
        )))
    }

    /// Uploads the bulk file unless all its accounts are listed; `existing` gets those that are.
    async fn upload_missing(
        &mut self,
        p: &Prepared,
        existing: &mut Vec<String>,
    ) -> Result<Option<String>, RunError> {
        if p.bulk_ids.iter().all(|id| self.listed(id)) {
            self.note(
                "顔認証アカウント・連携アカウント",
                "登録済み。一括登録は行いません",
            );
            return Ok(None);
        }
        existing.extend(p.bulk_ids.iter().filter(|id| self.listed(id)).cloned());
        self.upload(p).await.map(Some)
    }

    /// Uploads the bulk file, a minute after the last upload; returns the 受付番号.
    async fn upload(&mut self, p: &Prepared) -> Result<String, RunError> {
        if let Some(next) = self.journal.next_upload_allowed(chrono::Duration::seconds(60)) {
            let wait = (next - Utc::now()).to_std().unwrap_or_default();
            if !wait.is_zero() {
                self.note(
                    "アカウント一括登録",
                    &format!(
                        "前回のアップロードから1分空けるため {} 秒待ちます",
                        wait.as_secs()
                    ),
                );
                // The portal's own rule: one minute between uploads.
                tokio::time::sleep(wait).await;
            }
        }
        self.engine.set("csv_file", &p.csv.display().to_string());
        self.journal.intend(UPLOAD, None)?;
        self.flow("bulk-upload", "アカウント一括登録 (補足① 3-②)").await?;
        let receipt = self.engine.text("receipt").unwrap_or_default().to_string();
        self.journal.done(UPLOAD, Some(&receipt))?;
        Ok(receipt)
    }

    /// The 受付番号 of an upload this admin made since `since`, as アカウント一括登録結果 lists it.
    async fn find_upload(&mut self, since: DateTime<Utc>) -> Result<Option<String>, RunError> {
        self.flow(
            "bulk-results",
            "中断したアップロードの確認 (アカウント一括登録結果)",
        )
        .await?;
        let suffix = format!("_{}", self.job.admin.user_id);
        // The portal's clock is not ours: allow it to be a little behind.
        let earliest = since - chrono::Duration::seconds(30);
        let Some(Var::Table(rows)) = self.engine.vars.get("uploads") else {
            return Ok(None);
        };
        Ok(rows
            .iter()
            .filter_map(|r| r.get("受付番号").map(|v| v.trim().to_string()))
            .filter(|receipt| receipt.ends_with(&suffix))
            .filter(|receipt| receipt_time(receipt).is_some_and(|t| t >= earliest))
            .max_by_key(|receipt| receipt_time(receipt)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receipt_carries_its_time_in_japan_time() {
        let t = receipt_time("20210820144356683_H0000364").expect("the manual's receipt");
        assert_eq!(t.to_rfc3339(), "2021-08-20T05:43:56.683+00:00");
        assert_eq!(receipt_time("受付番号"), None);
        assert_eq!(receipt_time("2021082014_OnsKANRI"), None);
    }

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
