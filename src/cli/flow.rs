//! `oqsbot flow NAME`: one flow on its own, with its inputs from the job file
//! and `--var`, and its outputs printed as JSON (secrets masked).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::offline::{CommandError, Verdict};
use crate::browser::{Browser, BrowserOptions};
use crate::flow::model::Action as StepAction;
use crate::flow::{Engine, FlowLibrary, Var};
use crate::job::journal::Action;
use crate::job::secrets::{SecretRef, SecretSource};
use crate::job::{JobFile, secret_from_env};
use crate::secret::Secret;
use crate::secret::{MASK, Redactor};

pub struct FlowCommand {
    pub name: String,
    pub job: Option<PathBuf>,
    /// `key=value` pairs.
    pub vars: Vec<String>,
    /// `key=ENV_VAR` pairs: secrets from the environment.
    pub secret_envs: Vec<String>,
    /// Log in as the job's admin, master or reset account (sets user_id and password).
    pub login_as: Option<String>,
    pub flows_dir: Option<PathBuf>,
    pub out_dir: Option<PathBuf>,
    pub browser: super::BrowserArgs,
    /// Keep a recording of the flow in its output folder.
    pub record: bool,
    /// Bound on what the recording stores, in bytes.
    pub recording_cap: u64,
}

fn pair(text: &str, what: &str) -> Result<(String, String), CommandError> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .ok_or_else(|| CommandError::Input(format!("{what} {text:?}: write it as name=value")))
}

/// The variables a job gives every flow.
fn job_vars(job: &JobFile, engine: &mut Engine, login_as: Option<&str>) -> Result<(), CommandError> {
    crate::job::run::set_job_vars(engine, job);
    engine.set("institution_code", &job.institution.code);
    // Secrets a flow may use are set when the job gives them; only the login's is required.
    let quiet = SecretSource::default();
    let source = SecretSource::from_terminal();
    let input = |e: String| CommandError::Input(e);
    if let Some(c) = &job.certificate {
        engine.set("request_id", &c.request_id);
        engine.set("reference_id", &c.reference_id);
        if let Ok(Some(s)) = quiet.resolve(&job.cert_password_ref(), "[certificate] password", "") {
            engine.set_secret("cert_password", s);
        }
    }
    let secret_number = job.secret_number_ref();
    if let Ok(Some(s)) = quiet.resolve(&secret_number, "[master] secret_number", "") {
        engine.set_secret("secret_number", s);
    }
    let login =
        |user_id: &str, r: SecretRef, key: &str, what: &str| -> Result<(String, Secret), CommandError> {
            let s = source
                .resolve(&r, key, what)
                .map_err(input)?
                .ok_or_else(|| input(format!("{key}: give {key}_env or {key}_file in the job")))?;
            Ok((user_id.to_string(), s))
        };
    let credentials = match login_as {
        None => None,
        Some("admin") => Some(login(
            &job.admin.user_id,
            job.admin_password_ref(),
            "[admin] password",
            "管理アカウントのパスワード",
        )?),
        Some("master") => Some(login(
            &job.master.user_id,
            job.master_password_ref(),
            "[master] password",
            "マスタアカウントのパスワード",
        )?),
        Some("reset") => Some(login(
            &job.reset_user_id(),
            secret_number,
            "[master] secret_number",
            "秘密の番号",
        )?),
        Some(other) => return Err(input(format!("--as {other:?}: use admin, master or reset"))),
    };
    if let Some((user_id, password)) = credentials {
        engine.set("user_id", &user_id);
        engine.set_secret("password", password);
    }
    Ok(())
}

/// A flow output as JSON: files are described, secrets masked.
fn describe(var: &Var, code: Option<&str>, cert_password: Option<&str>) -> Value {
    match var {
        Var::Text(t) => json!(t),
        Var::Secret(_) => json!(MASK),
        Var::Table(rows) => json!(rows),
        Var::File(path) => {
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or_default()
                .to_ascii_lowercase();
            let mut v = json!({ "path": path.display().to_string() });
            if ext == "pdf"
                && let Ok(bytes) = std::fs::read(path)
            {
                v["credentials"] = match crate::pdf::read_credentials(&bytes) {
                    Ok(c) => json!({
                        "environment": c.environment, "institution_code": c.institution_code,
                        "user_id": c.user_id, "user_name": c.user_name,
                        "password": c.password.as_ref().map(|_| MASK), "password_expires": c.password_expires,
                    }),
                    Err(e) => json!({ "error": e.to_string() }),
                };
            }
            if ext == "p12"
                && let (Some(code), Some(pw)) = (code, cert_password)
            {
                v["certificate"] = match crate::cert::check_file(path, pw, code, chrono::Utc::now()) {
                    Ok(info) => {
                        json!({ "valid": true, "institution_code": info.institution_code, "not_after": info.not_after })
                    }
                    Err(e) => json!({ "valid": false, "error": e.to_string() }),
                };
            }
            v
        }
    }
}

pub async fn run(cmd: FlowCommand, out: &mut dyn Write) -> Verdict {
    let library = FlowLibrary::new(cmd.flows_dir.as_deref());
    let flow = library
        .get(&cmd.name)
        .map_err(|e| CommandError::Input(e.to_string()))?;
    let job = match &cmd.job {
        Some(p) => Some(JobFile::load(p).map_err(|e| CommandError::Input(e.to_string()))?),
        None => None,
    };
    let issued_users = issued_steps(&library, &flow);
    let issues = !issued_users.is_empty();
    if issues && job.is_none() {
        return Err(CommandError::Input(format!(
            "flow {} has the portal issue a password, which must go to a credential store the moment it is shown: run it with --job JOB, so that it is kept in that job's store and journal",
            cmd.name
        )));
    }
    // Given a new password, a flow that may change one changes a credential.
    let changes = may_change_password(&library, &flow)
        && cmd
            .secret_envs
            .iter()
            .any(|v| v.trim_start().starts_with("new_password="));
    if changes && job.is_none() {
        return Err(CommandError::Input(format!(
            "flow {} may change a password to new_password: run it with --job JOB, so that the new password is kept in that job's store and the change in its journal",
            cmd.name
        )));
    }
    crate::owner_only::private_umask();
    // A flow that issues or changes a credential writes to the job's store and
    // journal: not while a run works there.
    let mut issuing = match (&job, issues || changes) {
        (Some(job), true) => {
            let lock = crate::job::lock::FolderLock::acquire(&job.output.dir, "flow")
                .map_err(|e| CommandError::Input(e.to_string()))?;
            let journal = crate::job::journal::Journal::open(&job.output.dir)
                .map_err(|e| CommandError::Input(e.to_string()))?;
            Some((lock, journal, job.output.dir.clone()))
        }
        _ => None,
    };
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let out_dir = cmd
        .out_dir
        .clone()
        .or_else(|| {
            job.as_ref()
                .map(|j| j.output.dir.join(format!("flow-{}-{stamp}", cmd.name)))
        })
        .unwrap_or_else(|| PathBuf::from(format!("runs/flow-{}-{stamp}", cmd.name)));
    let mut options = BrowserOptions::new(out_dir.join("downloads"));
    super::set_browser(&mut options, &cmd.browser).map_err(CommandError::Input)?;
    // Before the output folder or a browser: the flow types passwords through the driver.
    if let Some(url) = &options.webdriver_url {
        let warning = crate::net::check_webdriver_url(url, options.allow_plain_webdriver)
            .map_err(|e| CommandError::Input(e.to_string()))?;
        if let Some(w) = warning {
            eprintln!("{w}");
        }
    }
    let redactor = Redactor::new();
    let recorder = if cmd.record {
        crate::owner_only::create_dir(&out_dir)
            .map_err(|e| CommandError::Input(format!("{}: {e}", out_dir.display())))?;
        let path = out_dir.join(crate::recording::FILE_NAME);
        match crate::recording::Recorder::create(&path, "flow", redactor.clone(), cmd.recording_cap) {
            Ok(r) => {
                options.capture_network = true;
                Some(r)
            }
            Err(e) => {
                tracing::warn!(error = %e, "the flow goes on without a recording");
                None
            }
        }
    } else {
        None
    };

    let browser = Browser::start(options)
        .await
        .map_err(|e| CommandError::Input(e.to_string()))?;
    let result = {
        let mut engine = Engine::new(&browser, library, redactor, &out_dir.join("artifacts"));
        if let Some(r) = &recorder {
            engine.record_to(r.clone());
        }
        if let Some((_, _, dir)) = &issuing {
            engine.keep_issued_with(std::sync::Arc::new(crate::job::store::StoreKeeper {
                dir: dir.clone(),
            }));
        }
        let setup = (|| -> Result<(), CommandError> {
            if let Some(job) = &job {
                job_vars(job, &mut engine, cmd.login_as.as_deref())?;
            }
            for v in &cmd.vars {
                let (k, val) = pair(v, "--var")?;
                engine.set(&k, &val);
            }
            for v in &cmd.secret_envs {
                let (k, var) = pair(v, "--secret-env")?;
                engine.set_secret(
                    &k,
                    secret_from_env(&var, "--secret-env").map_err(CommandError::Input)?,
                );
            }
            Ok(())
        })();
        match setup {
            Err(e) => Err(e),
            Ok(()) => {
                let action = Action::Flow(cmd.name.clone());
                let user_id = engine.text("user_id").unwrap_or_default().to_string();
                let change = Action::Password(user_id.clone());
                // Under the run's own names, so that a run after a killed flow finds it.
                let issuing_actions: Vec<Action> = issued_users
                    .iter()
                    .filter_map(|user| engine.expanded(user))
                    .map(|user| match cmd.name.contains("register") {
                        true => Action::Register(user),
                        false => Action::Reset(user),
                    })
                    .collect();
                if let Some((_, journal, _)) = &mut issuing {
                    journal
                        .intend(&action, None)
                        .map_err(|e| CommandError::Input(e.to_string()))?;
                    for a in &issuing_actions {
                        journal
                            .intend(a, Some(&format!("oqsbot flow {}", cmd.name)))
                            .map_err(|e| CommandError::Input(e.to_string()))?;
                    }
                    if changes {
                        journal
                            .intend(
                                &change,
                                Some(&format!("new_password, if oqsbot flow {} changes it", cmd.name)),
                            )
                            .map_err(|e| CommandError::Input(e.to_string()))?;
                    }
                }
                let outcome = tokio::select! {
                    r = engine.run(&cmd.name) => Some(r),
                    _ = tokio::signal::ctrl_c() => None,
                };
                if let Some((_, journal, dir)) = &mut issuing {
                    let ended = match &outcome {
                        Some(Ok(())) => journal.done(&action, None),
                        _ => journal.failed(&action, Some("the flow stopped")),
                    };
                    ended.map_err(|e| CommandError::Input(e.to_string()))?;
                    for a in &issuing_actions {
                        let ended = match &outcome {
                            Some(Ok(())) => journal.done(a, Some(&format!("oqsbot flow {}", cmd.name))),
                            // Clicked, or interrupted: only the portal knows; the next run
                            // looks (its store first, then the downloads).
                            Some(Err(e)) if e.acted_irreversibly => Ok(()),
                            None => Ok(()),
                            Some(Err(_)) => journal.failed(a, Some("the flow stopped before the step")),
                        };
                        ended.map_err(|e| CommandError::Input(e.to_string()))?;
                    }
                    if changes {
                        let change_began = engine.records.iter().any(|r| r.flow == "change-password");
                        settle_change(
                            &engine,
                            journal,
                            dir,
                            &user_id,
                            &change,
                            outcome.as_ref(),
                            change_began,
                        )?;
                    }
                }
                write_records(&out_dir, &engine);
                // The answer is not drawn over by a spinner.
                crate::progress::finish();
                match outcome {
                    None => Err(CommandError::Input(
                        "interrupted (Ctrl-C); the browser is closed".into(),
                    )),
                    Some(Err(e)) => {
                        writeln!(out, "{e}")?;
                        Ok(false)
                    }
                    Some(Ok(())) => {
                        let code = job.as_ref().map(|j| j.institution.code.clone());
                        let cert_pw = engine.text("cert_password").map(str::to_string);
                        let mut outputs = serde_json::Map::new();
                        for name in &flow.outputs {
                            if let Some(v) = engine.vars.get(name) {
                                outputs
                                    .insert(name.clone(), describe(v, code.as_deref(), cert_pw.as_deref()));
                            }
                        }
                        let printed = engine.redactor().redact_json(
                            &json!({ "flow": cmd.name, "outputs": outputs, "run": out_dir.display().to_string() }),
                        );
                        writeln!(
                            out,
                            "{}",
                            serde_json::to_string_pretty(&printed).unwrap_or_default()
                        )?;
                        Ok(true)
                    }
                }
            }
        }
    };
    browser.quit().await;
    if let Some(r) = &recorder {
        let outcome = match &result {
            Ok(true) => "completed",
            _ => "stopped",
        };
        r.end(outcome, None);
        eprintln!(
            "{}: {} ({} KB)",
            super::RECORDING_LINE,
            r.path().display(),
            r.size().div_ceil(1024)
        );
    }
    result
}

/// After a flow that may have changed `user_id`'s password: a change that
/// finished is stored and journaled; one that never began is journaled as not
/// made; one that began and stopped stays in doubt for the next run's login.
fn settle_change(
    engine: &Engine,
    journal: &mut crate::job::journal::Journal,
    dir: &Path,
    user_id: &str,
    change: &Action,
    outcome: Option<&Result<(), Box<crate::flow::FlowError>>>,
    began: bool,
) -> Result<(), CommandError> {
    let failed = |e: crate::job::journal::JournalError| CommandError::Input(e.to_string());
    match (outcome, began) {
        (Some(Ok(())), true) => {
            let Some(Var::Secret(new)) = engine.vars.get("new_password") else {
                return Ok(());
            };
            let mut store = crate::job::store::CredentialStore::open(dir)
                .map_err(|e| CommandError::Input(e.to_string()))?;
            store
                .record_password(user_id, new, crate::job::store::Origin::Changed)
                .map_err(|e| CommandError::Input(e.to_string()))?;
            journal
                .done(change, Some("changed by oqsbot flow"))
                .map_err(failed)
        }
        (Some(Ok(())), false) => journal
            .failed(change, Some("the portal asked for no change"))
            .map_err(failed),
        (_, false) => journal
            .failed(change, Some("the flow stopped before any change"))
            .map_err(failed),
        // Whether the portal took the change is unknown: the next run's login tries both.
        (_, true) => Ok(()),
    }
}

/// The flow, or one it calls, may change a password to `new_password`.
fn may_change_password(library: &FlowLibrary, flow: &crate::flow::Flow) -> bool {
    fn walk(library: &FlowLibrary, flow: &crate::flow::Flow, depth: usize) -> bool {
        flow.secrets.iter().any(|s| s == "new_password")
            || flow.steps.iter().any(|step| match &step.action {
                StepAction::Call { flow, .. } => {
                    depth < 8
                        && library
                            .get(flow)
                            .is_ok_and(|called| walk(library, &called, depth + 1))
                }
                _ => false,
            })
    }
    walk(library, flow, 0)
}

/// The `user` of every `issued` step in the flow and the flows it calls.
fn issued_steps(library: &FlowLibrary, flow: &crate::flow::Flow) -> Vec<String> {
    fn walk(library: &FlowLibrary, flow: &crate::flow::Flow, depth: usize, out: &mut Vec<String>) {
        for step in &flow.steps {
            match &step.action {
                StepAction::Issued(i) => out.push(i.user.clone()),
                StepAction::Call { flow, .. } if depth < 8 => {
                    if let Ok(called) = library.get(flow) {
                        walk(library, &called, depth + 1, out);
                    }
                }
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(library, flow, 0, &mut out);
    out
}

fn write_records(dir: &Path, engine: &Engine) {
    let _ = std::fs::create_dir_all(dir);
    let _ = crate::flow::step_log::write(dir, &engine.records, engine.redactor());
}
