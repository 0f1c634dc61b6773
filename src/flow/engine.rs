//! The step interpreter: runs a flow against a real browser, waits on
//! conditions (never on the clock), records what matched, and on failure says
//! which flow, which step, every locator tried and what the page showed, with
//! a screenshot and the page source saved beside the run.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use super::diagnosis::{PortalFault, ScreenBefore, portal_fault};
use super::model::{
    Action, Condition, Download, Fill, Flow, FlowFileError, FlowLibrary, Issued, Locator, Locators, Read,
    Step, WaitSecs, WaitUntil,
};
use crate::browser::{Browser, BrowserError, Deadline, Fault, Observation, Snapshot};
use crate::recording::{CapturedStep, DownloadEvent, FlowStart, Recorder, ResponseEvent, StepEvent};
use crate::secret::{Redactor, Secret};

use crate::portal::text::normalize;
use crate::progress::{self, Event, StatusLook};

/// The longest single wait inside the page; the deadline is kept between two.
/// A look that did not wait there (the page was being replaced, or answered
/// at once) is followed by a pause before the next.
const IN_PAGE_LOOK: Duration = Duration::from_secs(2);

/// A flow variable.
#[derive(Debug, Clone)]
pub enum Var {
    Text(String),
    Secret(Secret),
    Table(Vec<BTreeMap<String, String>>),
    File(PathBuf),
}

impl Var {
    pub fn text(&self) -> Option<&str> {
        match self {
            Var::Text(t) => Some(t),
            Var::Secret(s) => Some(s.expose()),
            Var::File(_) | Var::Table(_) => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// No locator matched: the screen is not what the flow expects.
    NotFound,
    /// A condition never held within its time.
    Timeout,
    /// The flow itself stopped: the portal said no, or a `fail` step.
    Refused,
    /// The browser or the driver failed.
    Browser,
    /// The flow or its inputs are wrong.
    Input,
    /// The portal could not go on: a server error or maintenance page.
    Unavailable,
    /// The portal ended the session: its login form came back.
    SessionEnded,
    /// The browser's driver stopped answering, is gone, or lost its browser:
    /// a fresh browser is needed.
    BrowserLost,
}

#[derive(Debug)]
pub struct FlowError {
    pub kind: FailureKind,
    /// What a `fail` step named the portal's answer (`refused`, `locked`, …), for the caller to match on.
    pub outcome: Option<String>,
    pub flow: String,
    pub step: usize,
    pub action: String,
    /// Already redacted.
    pub message: String,
    pub page: String,
    pub screenshot: Option<PathBuf>,
    pub source: Option<PathBuf>,
    /// The flow had clicked a step that must not be repeated (`once`, or a
    /// download) before it failed: what that did is known only to the portal.
    pub acted_irreversibly: bool,
}

impl std::fmt::Display for FlowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "flow {}, step {} ({}): {}",
            self.flow, self.step, self.action, self.message
        )?;
        if !self.page.is_empty() {
            write!(f, "\n  the page showed: {}", self.page)?;
        }
        if let Some(s) = &self.screenshot {
            write!(f, "\n  screenshot: {}", s.display())?;
        }
        if let Some(s) = &self.source {
            write!(f, "\n  page source: {}", s.display())?;
        }
        Ok(())
    }
}

impl std::error::Error for FlowError {}

/// What went wrong inside one step, before it is dressed with its context.
#[derive(Debug)]
enum StepError {
    NotFound {
        tried: Vec<String>,
        secs: f64,
    },
    Timeout {
        what: String,
        secs: f64,
    },
    Refused {
        message: String,
        outcome: Option<String>,
    },
    Browser(BrowserError),
    Input(String),
    /// A called flow failed: its kind, outcome and whole message.
    Called(FailureKind, Option<String>, String),
}

impl StepError {
    fn refused(message: impl Into<String>) -> Self {
        StepError::Refused {
            message: message.into(),
            outcome: None,
        }
    }
}

impl From<BrowserError> for StepError {
    fn from(e: BrowserError) -> Self {
        StepError::Browser(e)
    }
}

impl From<FlowFileError> for StepError {
    fn from(e: FlowFileError) -> Self {
        StepError::Input(e.to_string())
    }
}

/// One step as it ran, for the recording.
#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    pub flow: String,
    pub step: usize,
    pub action: String,
    pub name: Option<String>,
    pub outcome: &'static str,
    /// Which locator or condition matched.
    pub matched: Option<String>,
    pub millis: u128,
}

/// A step's error in a line, for the recording.
fn step_error_text(e: &StepError) -> String {
    match e {
        StepError::NotFound { .. } => "nothing matched".into(),
        StepError::Timeout { what, .. } => format!("{what} did not happen"),
        StepError::Refused { message, .. } => message.clone(),
        StepError::Browser(e) => e.to_string(),
        StepError::Input(m) => m.clone(),
        StepError::Called(_, _, m) => m.clone(),
    }
}

pub struct Engine<'b> {
    browser: &'b Browser,
    library: FlowLibrary,
    redactor: Redactor,
    artifacts: PathBuf,
    pub vars: HashMap<String, Var>,
    pub records: Vec<StepRecord>,
    step_timeout: Duration,
    /// The screen before the last action: what is new is judged against it.
    before: Option<Snapshot>,
    /// The last action's page may not have settled yet.
    unsettled: bool,
    recorder: Option<Recorder>,
    /// How deep in `call`s the running step is; 0 is the flow the caller ran.
    depth: usize,
    /// The URL after the last recorded step: the next one's URL before.
    last_url: Option<String>,
    /// The last screenshot and the screen it showed, taken again only when the screen changed.
    last_screen: Option<(String, String, Vec<u8>)>,
    /// The running top-level flow clicked a step that must not be repeated.
    acted_irreversibly: bool,
    /// Where a password the portal shows as it issues it is kept.
    keeper: Option<std::sync::Arc<dyn Keeper>>,
}

/// Keeps a password the portal issued, durably, before the flow goes on: the
/// next click may lose the screen that showed it.
pub trait Keeper: Send + Sync {
    /// On disk when this returns; the error says why not, for a field engineer.
    fn keep(&self, user_id: &str, password: &Secret) -> Result<(), String>;
}

type StepResult = Result<Option<String>, StepError>;

/// The one word beside the label that could be a password the portal issued:
/// unmasked, of the policy's length, of the characters it allows. A note
/// (「PDFをご確認ください」) or a button's other state (「パスワード非表示」) is not.
fn issued_password_in(value: &str) -> Option<String> {
    use crate::portal::password::{PasswordPolicy, Violation};
    let could_be = |word: &&str| {
        !is_masked(word)
            && !PasswordPolicy::check(word, &[])
                .iter()
                .any(|v| matches!(v, Violation::Length { .. } | Violation::Disallowed { .. }))
    };
    let mut words = value.split_whitespace().filter(could_be);
    match (words.next(), words.next()) {
        (Some(only), None) => Some(only.to_string()),
        _ => None,
    }
}

/// A password drawn as ●●●●●● (or in some other mask) rather than shown.
fn is_masked(value: &str) -> bool {
    const MASKS: &[char] = &['●', '•', '○', '◯', '＊', '*', '・'];
    value.chars().any(|c| "●•○◯＊".contains(c))
        || value.chars().all(|c| MASKS.contains(&c) || c.is_whitespace())
}

impl<'b> Engine<'b> {
    /// The browser the flows act in.
    pub fn browser(&self) -> &'b Browser {
        self.browser
    }

    pub fn new(browser: &'b Browser, library: FlowLibrary, redactor: Redactor, artifacts: &Path) -> Self {
        Self {
            step_timeout: browser.options.step_timeout,
            browser,
            library,
            redactor,
            artifacts: artifacts.to_path_buf(),
            vars: HashMap::new(),
            records: Vec::new(),
            before: None,
            unsettled: false,
            recorder: None,
            depth: 0,
            last_url: None,
            last_screen: None,
            acted_irreversibly: false,
            keeper: None,
        }
    }

    /// Where `issued` steps keep the passwords they read.
    pub fn keep_issued_with(&mut self, keeper: std::sync::Arc<dyn Keeper>) {
        self.keeper = Some(keeper);
    }

    /// Records every step from now on.
    pub fn record_to(&mut self, recorder: Recorder) {
        self.recorder = Some(recorder);
    }

    pub fn recorder(&self) -> Option<&Recorder> {
        self.recorder.as_ref()
    }

    pub fn set(&mut self, name: &str, value: &str) {
        self.vars.insert(name.to_string(), Var::Text(value.to_string()));
    }

    pub fn set_secret(&mut self, name: &str, value: Secret) {
        self.redactor.register(&value);
        self.vars.insert(name.to_string(), Var::Secret(value));
    }

    pub fn set_file(&mut self, name: &str, path: PathBuf) {
        self.vars.insert(name.to_string(), Var::File(path));
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        self.vars.get(name).and_then(Var::text)
    }

    /// `template` with the variables set now; none if one is missing.
    pub fn expanded(&self, template: &str) -> Option<String> {
        self.expand(template).ok()
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Runs a flow by name; its variables stay in `vars` for the caller.
    pub async fn run(&mut self, name: &str) -> Result<(), Box<FlowError>> {
        let flow = self.library.get(name).map_err(|e| {
            Box::new(FlowError {
                kind: FailureKind::Input,
                outcome: None,
                flow: name.to_string(),
                step: 0,
                action: "load".into(),
                message: e.to_string(),
                page: String::new(),
                screenshot: None,
                source: None,
                acted_irreversibly: false,
            })
        })?;
        Box::pin(self.run_flow(flow)).await
    }

    async fn run_flow(&mut self, flow: Flow) -> Result<(), Box<FlowError>> {
        let top = self.depth == 0;
        if top {
            self.acted_irreversibly = false;
        }
        if let Some(recorder) = self.recorder.clone() {
            // A flow that downloads may show a password the run learns only from the
            // file: its steps wait until the file is read (see `record_download`).
            if top && self.may_show_a_secret(&flow, 0) {
                recorder.hold();
            }
            recorder.flow_started(self.flow_start(&flow.name));
        }
        self.depth += 1;
        let result = self.run_steps(&flow).await;
        self.depth -= 1;
        if let (true, Some(recorder)) = (top, &self.recorder) {
            match &result {
                // It ended without its file: its pages showed nothing new to hide.
                Ok(()) => recorder.release(),
                Err(_) => recorder.release_without_pages(
                    "the flow stopped before the file it downloads was read, so a password its pages showed is unknown",
                ),
            }
        }
        result
    }

    /// The flow, or one it calls, downloads a file or reads an issued password:
    /// its pages may show a password the run learns only later.
    fn may_show_a_secret(&self, flow: &Flow, depth: usize) -> bool {
        flow.steps.iter().any(|s| match &s.action {
            Action::Download(_) | Action::Issued(_) => true,
            Action::Call { flow, .. } => {
                depth < 8
                    && self
                        .library
                        .get(flow)
                        .is_ok_and(|called| self.may_show_a_secret(&called, depth + 1))
            }
            _ => false,
        })
    }

    fn flow_start(&self, flow: &str) -> FlowStart {
        let mut start = FlowStart {
            flow: flow.to_string(),
            depth: self.depth,
            vars: BTreeMap::new(),
            secrets: Vec::new(),
            files: BTreeMap::new(),
        };
        for (name, var) in &self.vars {
            match var {
                // What a wait saw on the screen is for messages, and may quote a shown password.
                Var::Text(_) if name.ends_with("_text") => {}
                Var::Text(t) => {
                    start.vars.insert(name.clone(), t.clone());
                }
                Var::Secret(_) => start.secrets.push(name.clone()),
                Var::File(p) => {
                    let file = p.file_name().map(|f| f.to_string_lossy().into_owned());
                    start.files.insert(name.clone(), file.unwrap_or_default());
                }
                Var::Table(_) => {}
            }
        }
        start.secrets.sort();
        start
    }

    /// What the step left on the screen, for the recording.
    async fn capture(&mut self, step: &Step, event: StepEvent) -> CapturedStep {
        let mut captured = CapturedStep {
            event,
            ..Default::default()
        };
        // A called flow's steps captured the screen already.
        if matches!(step.action, Action::Call { .. }) {
            captured.event.url_after = self.last_url.clone();
            return captured;
        }
        let page = self.browser.capture().await;
        captured.event.url_after = match &page {
            Ok(page) if page.url.is_some() => page.url.clone(),
            _ => self.browser.current_url().await.ok(),
        };
        self.last_url = captured.event.url_after.clone();
        match page {
            Ok(page) => {
                let same = self
                    .last_screen
                    .as_ref()
                    .is_some_and(|(source, shown, _)| *source == page.source && *shown == page.shown);
                let jpeg = if same {
                    self.last_screen.as_ref().map(|(_, _, jpeg)| jpeg.clone())
                } else {
                    self.browser.screenshot_jpeg(page.width, page.height).await.ok()
                };
                if let Some(jpeg) = jpeg {
                    captured.screenshot = Some(crate::recording::Screenshot {
                        jpeg: jpeg.clone(),
                        visible_text: page.shown.clone(),
                    });
                    self.last_screen = Some((page.source.clone(), page.shown, jpeg));
                }
                captured.page = Some(page.source);
            }
            Err(e) => {
                let why = match self.browser.alert_text().await {
                    Some(t) => format!("a dialog was open: {t}"),
                    None => format!("the screen could not be read: {e}"),
                };
                captured.event.screenshot_skipped = Some(why);
            }
        }
        for r in self.browser.responses().await {
            let file =
                crate::browser::network::is_file(r.content_type.as_deref(), r.content_disposition.as_deref());
            captured.event.responses.push(ResponseEvent {
                method: r.method,
                url: r.url,
                status: r.status,
                content_type: r.content_type,
                location: r.location,
                content_disposition: r.content_disposition,
                body: None,
                download: file,
            });
            // A file the site sent is kept as its summary, never as its bytes.
            captured.bodies.push(if file { None } else { r.body });
        }
        captured
    }

    /// A file the step downloaded, as its summary and hash.
    fn record_download(&self, flow: &str, number: usize, into: &str) {
        let (Some(recorder), Some(Var::File(path))) = (&self.recorder, self.vars.get(into)) else {
            return;
        };
        let Ok(bytes) = std::fs::read(path) else {
            return;
        };
        // A credential PDF's password is a secret from now on; the held pages that showed it can be written.
        if bytes.starts_with(b"%PDF") {
            match crate::pdf::read_credentials(&bytes).ok().and_then(|c| c.password) {
                Some(p) if !p.is_empty() => self.redactor.register(&Secret::new(p)),
                _ => recorder.release_without_pages(
                    "the PDF's password could not be read, so a password the pages showed is unknown",
                ),
            }
        }
        let password = self.vars.get("cert_password").and_then(Var::text);
        let digest: String = <sha2::Sha256 as sha2::Digest>::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        recorder.download(DownloadEvent {
            flow: flow.to_string(),
            step: number,
            into: into.to_string(),
            file_name: path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            sha256: digest,
            bytes: bytes.len() as u64,
            summary: crate::recording::standin::summarize(path, &bytes, password),
        });
        recorder.release();
    }

    async fn run_steps(&mut self, flow: &Flow) -> Result<(), Box<FlowError>> {
        for (i, step) in flow.steps.iter().enumerate() {
            let number = i + 1;
            if let Some(cond) = &step.when {
                match self.holds(cond) {
                    Ok(false) => continue,
                    Ok(true) => {}
                    Err(e) => return Err(self.fail(flow, number, step, e).await),
                }
            }
            let started = Instant::now();
            let started_ms = crate::recording::now_ms();
            let result = self.step(step).await;
            let millis = started.elapsed().as_millis();
            if let Some(recorder) = self.recorder.clone() {
                let skipped = step.optional
                    && matches!(
                        &result,
                        Err(StepError::NotFound { .. } | StepError::Timeout { .. })
                    );
                let (outcome, matched, error, tried) = match &result {
                    Ok(m) => ("ok", m.clone(), None, Vec::new()),
                    Err(e) => (
                        if skipped { "skipped" } else { "failed" },
                        None,
                        Some(step_error_text(e)),
                        match e {
                            StepError::NotFound { tried, .. } => tried.clone(),
                            _ => Vec::new(),
                        },
                    ),
                };
                let event = StepEvent {
                    flow: flow.name.clone(),
                    step: number,
                    action: step.action().to_string(),
                    name: step.name.clone(),
                    tried,
                    matched,
                    url_before: self.last_url.clone(),
                    started_ms,
                    ended_ms: crate::recording::now_ms(),
                    outcome: outcome.to_string(),
                    error,
                    ..Default::default()
                };
                let captured = self.capture(step, event).await;
                recorder.step(captured);
                if let (Ok(_), Action::Download(d)) = (&result, &step.action) {
                    self.record_download(&flow.name, number, &d.into);
                }
            }
            let record = |outcome, matched| StepRecord {
                flow: flow.name.clone(),
                step: number,
                action: step.action().to_string(),
                name: step.name.clone(),
                outcome,
                matched,
                millis,
            };
            match result {
                Ok(matched) => {
                    tracing::debug!(flow = %flow.name, step = number, action = step.action(), ?matched, "done");
                    self.records.push(record("ok", matched));
                }
                Err(StepError::NotFound { .. } | StepError::Timeout { .. }) if step.optional => {
                    self.records.push(record("skipped", None));
                }
                Err(e) => {
                    self.records.push(record("failed", None));
                    return Err(self.fail(flow, number, step, e).await);
                }
            }
        }
        Ok(())
    }

    /// Dresses a step error with its context and saves what the page showed.
    async fn fail(&mut self, flow: &Flow, number: usize, step: &Step, e: StepError) -> Box<FlowError> {
        let mut outcome = None;
        let (kind, message) = match e {
            StepError::NotFound { tried, secs } => (
                FailureKind::NotFound,
                format!(
                    "nothing matched within {secs:.0} s; tried {}",
                    tried.join(", then ")
                ),
            ),
            // The portal's own state never became final: a wait, not a wrong screen.
            StepError::Timeout { what, secs } if matches!(step.action, Action::WaitUntil(_)) => (
                FailureKind::Timeout,
                format!("{what} did not happen within {secs:.0} s"),
            ),
            StepError::Timeout { what, secs } => (
                FailureKind::NotFound,
                format!("{what} did not happen within {secs:.0} s"),
            ),
            StepError::Refused { message, outcome: o } => {
                outcome = o;
                (FailureKind::Refused, message)
            }
            StepError::Browser(e) => match e {
                // WebDriver's own words for it name the renderer, not the portal.
                BrowserError::WebDriver {
                    fault: Fault::Timeout,
                    ..
                } => (
                    FailureKind::Timeout,
                    format!(
                        "the portal did not answer: its page had not loaded {} s later",
                        self.browser.options.page_load_timeout.as_secs()
                    ),
                ),
                e @ BrowserError::PageLoadTimeout { .. } => (FailureKind::Timeout, e.to_string()),
                e if e.fault() == Some(Fault::Lost) => (FailureKind::BrowserLost, e.to_string()),
                e => (FailureKind::Browser, e.to_string()),
            },
            StepError::Input(m) => (FailureKind::Input, m),
            StepError::Called(kind, o, m) => {
                outcome = o;
                (kind, m)
            }
        };
        // A wait that saw nothing because every look failed: the browser is the cause.
        let (kind, message) = if self.browser.is_lost() && kind != FailureKind::BrowserLost {
            (
                FailureKind::BrowserLost,
                format!(
                    "the browser was lost (its WebDriver stopped answering, or it or its driver ended); {message}"
                ),
            )
        } else {
            (kind, message)
        };
        // A screen no step expected may be the portal's doing, not the flow's.
        let (kind, message) = match kind {
            FailureKind::NotFound | FailureKind::Timeout => {
                let before = self.before.as_ref().map(|b| ScreenBefore {
                    login_form: b.showed_login_form(),
                    titles: b.titles(),
                });
                match self
                    .browser
                    .diagnose()
                    .await
                    .and_then(|d| portal_fault(&d, before.as_ref()))
                {
                    Some(fault) => {
                        let kind = match fault {
                            PortalFault::SessionEnded => FailureKind::SessionEnded,
                            _ => FailureKind::Unavailable,
                        };
                        (kind, format!("{}; {message}", fault.explain()))
                    }
                    None => (kind, message),
                }
            }
            other => (other, message),
        };
        let page = self.redactor.redact(&self.browser.summary().await);
        let stem = format!("{}-step{number}", flow.name);
        let _ = std::fs::create_dir_all(&self.artifacts);
        // Pixels cannot be scrubbed: a screen with a secret readable on it (a
        // password 「パスワード表示」 revealed) is not photographed.
        let secret_shown = match self.browser.capture().await {
            Ok(page) => self.redactor.redact(&page.shown) != page.shown,
            Err(_) => false,
        };
        let screenshot = match secret_shown {
            true => None,
            false => match self.browser.screenshot().await {
                Ok(png) => {
                    let p = self.artifacts.join(format!("{stem}.png"));
                    std::fs::write(&p, png).ok().map(|_| p)
                }
                Err(_) => None,
            },
        };
        // Every document of the screen: a frameset's own source shows none of its frames.
        let documents = match self.browser.sources().await {
            Ok(docs) if !docs.is_empty() => Ok(docs.join("\n<!-- next frame -->\n")),
            _ => self.browser.source().await,
        };
        let source = match documents {
            Ok(html) => {
                let p = self.artifacts.join(format!("{stem}.html"));
                std::fs::write(&p, self.redactor.redact(&html)).ok().map(|_| p)
            }
            Err(_) => None,
        };
        let action = match &step.name {
            Some(n) => format!("{} {}", step.action(), n),
            None => step.action().to_string(),
        };
        Box::new(FlowError {
            kind,
            outcome,
            flow: flow.name.clone(),
            step: number,
            action: self.redactor.redact(&action),
            message: self.redactor.redact(&message),
            page,
            screenshot,
            source,
            acted_irreversibly: self.acted_irreversibly,
        })
    }

    fn holds(&self, cond: &str) -> Result<bool, StepError> {
        let cond = cond.trim();
        let get = |name: &str| self.text(name.trim()).map(str::to_string);
        if let Some((l, r)) = cond.split_once("~=") {
            return Ok(get(l).is_some_and(|v| normalize(&v).contains(&normalize(r))));
        }
        if let Some((l, r)) = cond.split_once("!=") {
            return Ok(get(l).as_deref() != Some(r.trim()));
        }
        if let Some((l, r)) = cond.split_once("==") {
            return Ok(get(l).as_deref() == Some(r.trim()));
        }
        if let Some(name) = cond.strip_prefix('!') {
            return Ok(get(name).is_none_or(|v| v.is_empty()));
        }
        Ok(get(cond).is_some_and(|v| !v.is_empty()))
    }

    /// Fills `{name}` from the variables; `{{` and `}}` are literal braces.
    fn expand(&self, template: &str) -> Result<String, StepError> {
        let mut out = String::new();
        let mut rest = template;
        while let Some(i) = rest.find(['{', '}']) {
            out.push_str(&rest[..i]);
            let tail = &rest[i..];
            if tail.starts_with("{{") || tail.starts_with("}}") {
                out.push_str(&tail[..1]);
                rest = &tail[2..];
                continue;
            }
            if let Some(after) = tail.strip_prefix('}') {
                out.push('}');
                rest = after;
                continue;
            }
            let end = tail
                .find('}')
                .ok_or_else(|| StepError::Input(format!("unclosed {{ in {template:?}")))?;
            let name = &tail[1..end];
            let value = self.text(name).ok_or_else(|| {
                StepError::Input(format!(
                    "the variable {name} is not set (give it in the job or with --var {name}=…)"
                ))
            })?;
            out.push_str(value);
            rest = &tail[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn is_secret_template(&self, template: &str) -> bool {
        let t = template.trim();
        t.starts_with('{')
            && t.ends_with('}')
            && matches!(self.vars.get(&t[1..t.len() - 1]), Some(Var::Secret(_)))
    }

    fn timeout(&self, step: &Step) -> Duration {
        match (step.timeout_secs, step.optional) {
            (Some(s), _) => Duration::try_from_secs_f64(s.max(0.0)).unwrap_or(self.step_timeout),
            (None, true) => Duration::from_secs(3),
            (None, false) => self.step_timeout,
        }
    }

    fn alternatives(&self, locators: &[Locator]) -> Result<Vec<Value>, StepError> {
        locators
            .iter()
            .map(|l| {
                let mut v = serde_json::to_value(l).map_err(|e| StepError::Input(e.to_string()))?;
                if let Some(map) = v.as_object_mut() {
                    for (_, field) in map.iter_mut() {
                        if let Some(s) = field.as_str() {
                            *field = json!(self.expand(s)?);
                        }
                    }
                }
                Ok(v)
            })
            .collect()
    }

    /// Waits until the last action's page has settled: a new document fully
    /// loaded, or no change to this one for a quiet moment, with no navigation
    /// begun and no request in flight. Decided by looking, never by a set pause.
    async fn settle(&mut self, timeout: Duration) -> Result<(), StepError> {
        self.settle_until(&Deadline::after(timeout.max(self.step_timeout)))
            .await
    }

    async fn settle_until(&mut self, deadline: &Deadline) -> Result<(), StepError> {
        if !self.unsettled {
            return Ok(());
        }
        loop {
            let waited = match self.look(&[], deadline).await {
                Ok(o) if o.settled => break,
                Ok(o) => o.waited,
                // A dialog is the page's answer; the next step reads it.
                Err(e) if e.fault() == Some(Fault::DialogOpen) => break,
                Err(e) if e.fault() == Some(Fault::WindowGone) => {
                    self.browser.switch_to_main().await?;
                    false
                }
                Err(e) if matches!(e.fault(), Some(Fault::StaleElement | Fault::FrameGone)) => false,
                Err(e) => return Err(e.into()),
            };
            if deadline.passed() || (!waited && !deadline.next_look().await) {
                // A page that never stops changing: the next look decides on what it shows.
                tracing::debug!("the page did not settle within {:.0} s", deadline.secs());
                break;
            }
        }
        self.unsettled = false;
        Ok(())
    }

    /// One wait inside the page, bounded so the deadline is kept from here.
    async fn look(&self, conds: &[Value], deadline: &Deadline) -> Result<Observation, BrowserError> {
        let wait = deadline.remaining().min(IN_PAGE_LOOK);
        self.browser
            .observe_waiting(conds, self.before.as_ref(), wait)
            .await
    }

    /// Waits until one of the locators matches a visible element on the settled page.
    async fn find(
        &mut self,
        locators: &[Locator],
        timeout: Duration,
    ) -> Result<(crate::browser::Found, String), StepError> {
        self.find_armed(locators, timeout, false).await
    }

    /// As `find`; with `arm`, the screen is noted in the same look that found the target.
    async fn find_armed(
        &mut self,
        locators: &[Locator],
        timeout: Duration,
        arm: bool,
    ) -> Result<(crate::browser::Found, String), StepError> {
        self.settle(timeout).await?;
        let alts = self.alternatives(locators)?;
        let deadline = Deadline::after(timeout);
        loop {
            // A page that was still coming at the last look settles first, within the find's time.
            self.settle_until(&deadline).await?;
            let found = if arm {
                self.browser.find_and_arm(&alts).await
            } else {
                self.browser.find_now(&alts).await
            };
            match found {
                Ok(Some(found)) => {
                    let matched = locators
                        .get(found.alternative)
                        .map(|l| l.to_string())
                        .unwrap_or_default();
                    return Ok((found, matched));
                }
                // Not there yet: the page may still be coming (a new window's first
                // empty page, a page drawn by its script), so it settles before the next look.
                Ok(None) => self.unsettled = true,
                Err(e) if e.fault() == Some(Fault::WindowGone) => self.browser.switch_to_main().await?,
                // The page was being replaced while we looked: look at the new one once it settles.
                Err(e) if matches!(e.fault(), Some(Fault::StaleElement | Fault::FrameGone)) => {
                    self.unsettled = true
                }
                Err(e) if e.fault() == Some(Fault::DialogOpen) => {
                    let t = self.browser.alert_text().await.unwrap_or_default();
                    return Err(StepError::refused(format!(
                        "a dialog is open and nothing here answers it: {t}"
                    )));
                }
                Err(e) => return Err(e.into()),
            }
            if !deadline.next_look().await {
                return Err(StepError::NotFound {
                    tried: locators.iter().map(|l| l.to_string()).collect(),
                    secs: timeout.as_secs_f64(),
                });
            }
        }
    }

    /// Finds the target on the settled page, notes the screen, and clicks. An
    /// element whose page was replaced before the click is looked for again on
    /// the new page, unless the step is irreversible.
    async fn act(&mut self, step: &Step, locators: &[Locator], how: Act, timeout: Duration) -> StepResult {
        let deadline = Deadline::after(timeout);
        loop {
            let (found, matched) = self.find_armed(locators, timeout, true).await?;
            let Some(before) = found.armed else {
                return Err(StepError::refused(format!(
                    "{matched}: the screen could not be noted before the click"
                )));
            };
            let target = found.element;
            let alts = self.alternatives(&locators[found.alternative..=found.alternative])?;
            if step.once || matches!(step.action, Action::Download(_)) {
                self.acted_irreversibly = true;
            }
            let done = match how {
                Act::Click => self.browser.click(&target).await,
                Act::DoubleClick => match self.browser.click(&target).await {
                    Ok(()) => self.double_click_after_select(target, &alts, &deadline).await,
                    Err(e) => Err(e),
                },
            };
            match done {
                Ok(()) => {
                    self.before = Some(before);
                    self.unsettled = true;
                    return Ok(Some(matched));
                }
                Err(e) if e.fault() == Some(Fault::StaleElement) && !step.once => {
                    tracing::debug!("{matched}: the page changed under the click; looking again");
                    self.unsettled = true;
                    if !deadline.next_look().await {
                        return Err(e.into());
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The double click after the click that selected a row. A page may draw
    /// the selection by drawing the table anew: the row is then found again,
    /// and double-clicked without a second click.
    async fn double_click_after_select(
        &self,
        mut target: thirtyfour::WebElement,
        alts: &[Value],
        deadline: &Deadline,
    ) -> Result<(), BrowserError> {
        loop {
            match self.browser.double_click(&target).await {
                Err(e) if e.fault() == Some(Fault::StaleElement) && deadline.next_look().await => {
                    if let Some(again) = self.browser.find_now(alts).await? {
                        target = again.element;
                    }
                }
                other => return other,
            }
        }
    }

    /// Finds a form field on the settled page and does `what` to it; a field
    /// whose page was replaced meanwhile is looked for again.
    async fn on_field(
        &mut self,
        locators: &[Locator],
        timeout: Duration,
        what: FieldAction<'_>,
    ) -> StepResult {
        let deadline = Deadline::after(timeout);
        loop {
            let (found, matched) = self.find(locators, timeout).await?;
            let done = match what {
                FieldAction::Fill(value) => self.browser.fill(&found.element, value, !found.empty).await,
                FieldAction::Select(value) => self.browser.select(&found.element, value).await,
                FieldAction::Upload(path) => self.browser.upload(&found.element, path).await,
            };
            match done {
                Ok(()) => return Ok(Some(matched)),
                Err(e) if e.fault() == Some(Fault::StaleElement) && deadline.next_look().await => {
                    self.unsettled = true;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The conditions as locate.js takes them, with variables filled in.
    fn condition_json(&self, c: &Condition) -> Result<Value, StepError> {
        let expand = |t: &Option<String>| t.as_deref().map(|t| self.expand(t)).transpose();
        let mut v = serde_json::Map::new();
        for (key, value) in [
            ("text", expand(&c.text)?),
            ("new_text", expand(&c.new_text)?),
            ("field", expand(&c.field)?),
            ("no_field", expand(&c.no_field)?),
            ("no_button", expand(&c.no_button)?),
            ("css", c.css.clone()),
            ("url", expand(&c.url)?),
            ("dialog", expand(&c.dialog)?),
        ] {
            if let Some(value) = value {
                v.insert(key.into(), json!(value));
            }
        }
        if c.changed {
            v.insert("changed".into(), json!(true));
        }
        Ok(Value::Object(v))
    }

    fn describe(cond: &Condition) -> String {
        let mut parts: Vec<String> = [
            cond.text.as_ref().map(|t| format!("text {t:?}")),
            cond.new_text.as_ref().map(|t| match t.as_str() {
                "" => "any new text".to_string(),
                t => format!("new text {t:?}"),
            }),
            cond.alert.as_ref().map(|t| match t.as_str() {
                "" => "any dialog".to_string(),
                t => format!("dialog {t:?}"),
            }),
            cond.dialog.as_ref().map(|t| format!("in-page dialog {t:?}")),
            cond.url.as_ref().map(|t| format!("URL with {t:?}")),
            cond.field.as_ref().map(|t| format!("field {t:?}")),
            cond.no_field.as_ref().map(|t| format!("no field {t:?}")),
            cond.no_button.as_ref().map(|t| format!("no button {t:?}")),
            cond.css.as_ref().map(|t| format!("css {t:?}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if cond.changed {
            parts.push("a changed page".into());
        }
        parts.join(" + ")
    }

    /// Waits until one of the conditions holds on the settled screen; returns
    /// its index and what the portal answered (a dialog's text, or the text
    /// that appeared after the last action).
    async fn wait_any(
        &mut self,
        conds: &[Condition],
        timeout: Duration,
    ) -> Result<(usize, String), StepError> {
        // A dialog hides the page: conditions on dialogs are looked at only while one is open.
        let mut page_index = Vec::new();
        let mut page_conds = Vec::new();
        for (i, c) in conds.iter().enumerate() {
            if c.alert.is_none() {
                page_index.push(i);
                page_conds.push(self.condition_json(c)?);
            }
        }
        let deadline = Deadline::after(timeout);
        loop {
            let waited = match self.look(&page_conds, &deadline).await {
                Ok(o) if o.settled => {
                    self.unsettled = false;
                    if let Some(i) = o.matched.and_then(|m| page_index.get(m)) {
                        return Ok((*i, o.fresh.join(" / ")));
                    }
                    o.waited
                }
                Ok(o) => o.waited,
                Err(e) if e.fault() == Some(Fault::DialogOpen) => {
                    let message = self.browser.alert_text().await.unwrap_or_default();
                    for (i, c) in conds.iter().enumerate() {
                        if let Some(want) = &c.alert
                            && normalize(&message).contains(&normalize(&self.expand(want)?))
                        {
                            return Ok((i, message));
                        }
                    }
                    return Err(StepError::refused(format!(
                        "an unexpected dialog is open: {message}"
                    )));
                }
                Err(e) if e.fault() == Some(Fault::WindowGone) => {
                    self.browser.switch_to_main().await?;
                    false
                }
                Err(e) if matches!(e.fault(), Some(Fault::StaleElement | Fault::FrameGone)) => false,
                Err(e) => return Err(e.into()),
            };
            if deadline.passed() || (!waited && !deadline.next_look().await) {
                let what = conds.iter().map(Self::describe).collect::<Vec<_>>().join(" or ");
                return Err(StepError::Timeout {
                    what,
                    secs: timeout.as_secs_f64(),
                });
            }
        }
    }

    /// Answers a notice or a confirmation with OK, in whatever form it comes:
    /// a JavaScript dialog, an in-page dialog, or a page of its own. A notice
    /// that stood on the page before the last action is never answered.
    async fn answer_ok(&mut self, text: &str, timeout: Duration) -> StepResult {
        let text = self.expand(text)?;
        let want = normalize(&text);
        self.settle(timeout).await?;
        let deadline = Deadline::after(timeout);
        loop {
            if let Some(message) = self.browser.alert_text().await {
                if normalize(&message).contains(&want) {
                    self.browser.accept_alert().await?;
                    self.unsettled = true;
                    return Ok(Some("JavaScript dialog".into()));
                }
                return Err(StepError::refused(format!(
                    "a different dialog is open: {message}"
                )));
            }
            match self.browser.ok_button(&text, self.before.as_ref()).await {
                Ok(Some(_)) => {
                    let before = self.browser.arm().await?;
                    if let Some(ok) = self.browser.ok_button(&text, None).await? {
                        match self.browser.click(&ok).await {
                            Ok(()) => {
                                self.before = Some(before);
                                self.unsettled = true;
                                return Ok(Some("OK on the page".into()));
                            }
                            Err(e) if e.fault() == Some(Fault::StaleElement) => {}
                            Err(e) => return Err(e.into()),
                        }
                    }
                }
                Ok(None) => {}
                Err(e) if e.fault() == Some(Fault::WindowGone) => self.browser.switch_to_main().await?,
                Err(e)
                    if matches!(
                        e.fault(),
                        Some(Fault::DialogOpen | Fault::StaleElement | Fault::FrameGone)
                    ) => {}
                Err(e) => return Err(e.into()),
            }
            if !deadline.next_look().await {
                return Err(StepError::Timeout {
                    what: format!("{text:?} with an OK"),
                    secs: timeout.as_secs_f64(),
                });
            }
        }
    }

    async fn step(&mut self, step: &Step) -> StepResult {
        let timeout = self.timeout(step);
        match &step.action {
            Action::Open(url) => self.open(url).await,
            Action::Popup(loc) => self.popup(step, loc, timeout).await,
            Action::Click(loc) => self.act(step, &loc.list(), Act::Click, timeout).await,
            Action::DoubleClick(loc) => self.act(step, &loc.list(), Act::DoubleClick, timeout).await,
            Action::Fill(fill) => self.fill(fill, timeout).await,
            Action::Select(select) => self.select(select, timeout).await,
            Action::Upload(upload) => self.upload(upload, timeout).await,
            Action::Expect(cond) => self.expect(cond, timeout).await,
            Action::Ok(text) => self.answer_ok(text, timeout).await,
            Action::WaitFor { conditions, into } => self.wait_for(conditions, into.as_deref(), timeout).await,
            Action::Fail { message, outcome } => self.refuse(message, outcome.clone()).await,
            Action::Download(d) => self.download(step, d, timeout).await,
            Action::Read(r) => self.read(r, step, timeout).await,
            Action::Issued(i) => self.issued(i, timeout).await,
            Action::WaitUntil(w) => self.wait_until(step, w).await,
            Action::Call { flow, with } => self.call(flow, with).await,
            Action::MainWindow => self.main_window().await,
            Action::Set(vars) => self.set_all(vars),
        }
    }

    async fn open(&mut self, url: &str) -> StepResult {
        self.browser.goto(&self.expand(url)?).await?;
        self.before = None;
        self.unsettled = true;
        Ok(None)
    }

    /// Clicks, then follows the window the click opened.
    async fn popup(&mut self, step: &Step, loc: &Locators, timeout: Duration) -> StepResult {
        let before = self.browser.windows().await?;
        let matched = self.act(step, &loc.list(), Act::Click, timeout).await?;
        let deadline = Deadline::after(timeout);
        loop {
            let now = self.browser.windows().await?;
            if let Some(new) = now.into_iter().find(|w| !before.contains(w)) {
                self.browser.switch_to(new).await?;
                return Ok(matched);
            }
            if !deadline.next_look().await {
                return Err(StepError::Timeout {
                    what: "a new window".into(),
                    secs: timeout.as_secs_f64(),
                });
            }
        }
    }

    async fn fill(&mut self, fill: &Fill, timeout: Duration) -> StepResult {
        let value = self.expand(&fill.value)?;
        self.on_field(&fill.field.list(), timeout, FieldAction::Fill(&value))
            .await
    }

    async fn select(&mut self, select: &Fill, timeout: Duration) -> StepResult {
        let value = self.expand(&select.value)?;
        self.on_field(&select.field.list(), timeout, FieldAction::Select(&value))
            .await
    }

    async fn upload(&mut self, upload: &Fill, timeout: Duration) -> StepResult {
        let path = match self.vars.get(upload.value.trim_matches(['{', '}'])) {
            Some(Var::File(p)) => p.clone(),
            _ => PathBuf::from(self.expand(&upload.value)?),
        };
        if !path.is_file() {
            return Err(StepError::Input(format!(
                "the file to upload is not there: {}",
                path.display()
            )));
        }
        self.on_field(&upload.field.list(), timeout, FieldAction::Upload(&path))
            .await
    }

    async fn expect(&mut self, cond: &Condition, timeout: Duration) -> StepResult {
        self.wait_any(std::slice::from_ref(cond), timeout).await?;
        Ok(Some(Self::describe(cond)))
    }

    /// Waits for the first condition that holds; `into` records which, and what it saw.
    async fn wait_for(&mut self, conds: &[Condition], into: Option<&str>, timeout: Duration) -> StepResult {
        let (i, answer) = self.wait_any(conds, timeout).await?;
        let label = conds[i].name.clone().unwrap_or_else(|| i.to_string());
        if let Some(into) = into {
            self.set(into, &label);
            self.set(&format!("{into}_text"), &answer);
        }
        Ok(Some(label))
    }

    /// A `fail` step: stops the flow with its message, `{page}` being what the screen said.
    async fn refuse(&mut self, message: &str, outcome: Option<String>) -> StepResult {
        // A refusal shown as a dialog is read, then closed: the flow stops here.
        let page = match self.browser.alert_text().await {
            Some(t) => {
                let _ = self.browser.accept_alert().await;
                format!("a dialog: {t}")
            }
            None => self.browser.summary().await,
        };
        let mut message = message.replace("{page}", &page);
        message = self.expand(&message).unwrap_or(message);
        Err(StepError::Refused { message, outcome })
    }

    /// Runs another flow, its `with` variables set first (secrets stay secrets).
    async fn call(&mut self, name: &str, with: &BTreeMap<String, String>) -> StepResult {
        for (k, v) in with {
            if self.is_secret_template(v) {
                let value = Secret::new(self.expand(v)?);
                self.set_secret(k, value);
            } else {
                let value = self.expand(v)?;
                self.set(k, &value);
            }
        }
        let flow = self.library.get(name)?;
        match Box::pin(self.run_flow(flow)).await {
            Ok(()) => Ok(Some(name.to_string())),
            Err(e) => Err(StepError::Called(e.kind, e.outcome.clone(), e.to_string())),
        }
    }

    /// Goes back to the window the run started in, closing every other one.
    async fn main_window(&mut self) -> StepResult {
        self.browser.close_others().await?;
        self.before = None;
        self.unsettled = false;
        Ok(None)
    }

    /// A `set` step: every variable from its template.
    fn set_all(&mut self, vars: &BTreeMap<String, String>) -> StepResult {
        for (k, v) in vars {
            let value = self.expand(v)?;
            self.set(k, &value);
        }
        Ok(None)
    }

    /// Clicks and waits for the file. `unless` conditions are judged on what
    /// appeared after the click, since a refused download answers with a page.
    async fn download(&mut self, step: &Step, d: &Download, timeout: Duration) -> StepResult {
        let unless = d
            .unless
            .iter()
            .map(|c| self.condition_json(c))
            .collect::<Result<Vec<_>, _>>()?;
        let folder = self.browser.prepare_download().await?;
        let matched = self.act(step, &d.click.list(), Act::Click, timeout).await?;
        // A download is a navigation that never replaces the page: nothing to settle.
        self.unsettled = false;
        let wait = timeout.max(Duration::from_secs(30));
        let deadline = Deadline::after(wait);
        loop {
            if let Some(path) = self.browser.finished_download(&folder).await? {
                self.vars.insert(d.into.clone(), Var::File(path));
                // The page stays as it was; note it afresh, so the next action starts from it.
                if let Ok(snapshot) = self.browser.arm().await {
                    self.before = Some(snapshot);
                }
                return Ok(matched);
            }
            if !unless.is_empty() {
                match self.browser.observe(&unless, self.before.as_ref()).await {
                    Ok(o) if o.matched.is_some() => {
                        let page = self.browser.summary().await;
                        return Err(StepError::refused(format!("the site sent no file: {page}")));
                    }
                    Ok(_) => {}
                    Err(e) if e.fault() == Some(Fault::DialogOpen) => {
                        let t = self.browser.alert_text().await.unwrap_or_default();
                        return Err(StepError::refused(format!(
                            "the site sent no file: a dialog: {t}"
                        )));
                    }
                    Err(e) if matches!(e.fault(), Some(Fault::StaleElement | Fault::FrameGone)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            if !deadline.next_look().await {
                return Err(StepError::Timeout {
                    what: "a finished download".into(),
                    secs: wait.as_secs_f64(),
                });
            }
        }
    }

    /// Reads an issued password off the screen, unmasking it where a button
    /// does, and keeps it before anything else happens.
    async fn issued(&mut self, i: &Issued, timeout: Duration) -> StepResult {
        let user = self.expand(&i.user)?;
        let Some(keeper) = self.keeper.clone() else {
            return Err(StepError::Input(format!(
                "this flow has the portal issue {user}'s password, which must go to a credential store the moment it is shown: run it with --job"
            )));
        };
        self.settle(timeout).await?;
        let labels = i
            .label
            .iter()
            .map(|l| self.expand(l))
            .collect::<Result<Vec<_>, _>>()?;
        let reveal = i.reveal.as_ref().map(|r| r.list()).unwrap_or_default();
        // The reveal button's own words stand beside the value on many screens.
        let button_words: Vec<String> = reveal
            .iter()
            .filter_map(|l| l.text.clone().or_else(|| l.name.clone()))
            .collect();
        // The account's own ID beside a label is not its password.
        let mut shown = self
            .shown_password(&labels, &button_words)
            .await?
            .filter(|pw| *pw != user);
        if shown.is_none() && !reveal.is_empty() {
            let alts = self.alternatives(&reveal)?;
            // After the reset: a button that misbehaves only leaves the PDF to tell.
            let clicked = match self.browser.find_now(&alts).await {
                Ok(Some(found)) => self.browser.click(&found.element).await.map(|()| true),
                Ok(None) => Ok(false),
                Err(e) => Err(e),
            };
            match clicked {
                Ok(true) => {
                    self.unsettled = true;
                    let deadline = Deadline::after(timeout);
                    while shown.is_none() && deadline.next_look().await {
                        shown = self
                            .shown_password(&labels, &button_words)
                            .await?
                            .filter(|pw| *pw != user);
                    }
                }
                Err(e) if e.fault() == Some(Fault::Lost) => return Err(e.into()),
                Ok(false) | Err(_) => {}
            }
        }
        // One wording either way: a replay sees the recording's redacted stand-in.
        let looked = Some(format!("{user}'s password on screen"));
        let Some(password) = shown else {
            self.set(&i.into, "");
            return Ok(looked);
        };
        let password = Secret::new(password);
        self.redactor.register(&password);
        keeper.keep(&user, &password).map_err(StepError::Input)?;
        self.set(&i.into, "shown");
        Ok(looked)
    }

    /// The unmasked value beside the first label that has one.
    async fn shown_password(
        &self,
        labels: &[String],
        button_words: &[String],
    ) -> Result<Option<String>, StepError> {
        for label in labels {
            let value = match self.browser.read_label(label).await {
                Ok(v) => v.unwrap_or_default(),
                Err(e) if e.fault() == Some(Fault::Lost) => return Err(e.into()),
                // The screen changed under the look: the next look reads the new one.
                Err(_) => continue,
            };
            let mut value = value;
            for words in button_words {
                value = value.replace(words.as_str(), "");
            }
            if let Some(password) = issued_password_in(&value) {
                return Ok(Some(password));
            }
        }
        Ok(None)
    }

    async fn read(&mut self, r: &Read, step: &Step, timeout: Duration) -> StepResult {
        self.settle(timeout).await?;
        if let Some(after) = &r.after {
            let after = self.expand(after)?;
            let before = r.before.as_deref().map(|b| self.expand(b)).transpose()?;
            let deadline = Deadline::after(timeout);
            loop {
                // A dialog hides the page: read it first.
                let text = match self.browser.alert_text().await {
                    Some(t) => t,
                    None => match self.browser.body_text().await {
                        Ok(t) => t,
                        Err(e) if e.fault() == Some(Fault::DialogOpen) => continue,
                        Err(e) => return Err(e.into()),
                    },
                };
                if let Some(start) = text.find(&after) {
                    let rest = &text[start + after.len()..];
                    let end = before.as_deref().and_then(|b| rest.find(b)).unwrap_or(rest.len());
                    let value = rest[..end].trim();
                    if !value.is_empty() {
                        self.set(&r.into, value);
                        return Ok(Some(format!("text after {after:?}")));
                    }
                }
                if !deadline.next_look().await {
                    return Err(StepError::NotFound {
                        tried: vec![format!("text after {after:?}")],
                        secs: timeout.as_secs_f64(),
                    });
                }
            }
        }
        if let Some(label) = &r.label {
            let label = self.expand(label)?;
            let deadline = Deadline::after(timeout);
            loop {
                if let Some(v) = self
                    .browser
                    .read_label(&label)
                    .await?
                    .filter(|v| !v.trim().is_empty())
                {
                    self.set(&r.into, v.trim());
                    return Ok(Some(format!("label {label:?}")));
                }
                if !deadline.next_look().await {
                    return Err(StepError::NotFound {
                        tried: vec![format!("label {label:?}")],
                        secs: timeout.as_secs_f64(),
                    });
                }
            }
        }
        let Some(table) = &r.table else {
            return Err(StepError::Input(format!(
                "step {:?}: read needs label or table",
                step.name
            )));
        };
        let table = self.expand(table)?;
        let mut rows = Vec::new();
        let mut last_page = None;
        for _page in 0..100 {
            self.settle(timeout).await?;
            let Some(found) = self.table_now(&table).await? else {
                return Err(StepError::NotFound {
                    tried: vec![format!("table {table:?}")],
                    secs: 0.0,
                });
            };
            // A 「次へ」 that stays on the last page brings the same rows again.
            if last_page.as_ref() == Some(&found) {
                break;
            }
            rows.extend(found.iter().cloned());
            last_page = Some(found);
            let Some(next) = &r.next_page else { break };
            let alts = self.alternatives(&next.list())?;
            if self.browser.find_now(&alts).await?.is_none() {
                break;
            }
            self.act(step, &next.list(), Act::Click, timeout).await?;
        }
        let n = rows.len();
        self.vars.insert(r.into.clone(), Var::Table(rows));
        Ok(Some(format!("table {table:?}, {n} rows")))
    }

    /// The rows of the named table, from whichever document of the screen holds it.
    async fn table_now(&self, table: &str) -> Result<Option<Vec<BTreeMap<String, String>>>, StepError> {
        for html in self.browser.sources().await? {
            if let Some(rows) = super::table::read(&html, table) {
                return Ok(Some(rows));
            }
        }
        Ok(None)
    }

    /// Waits until `deadline` for the page to load itself again (its own
    /// refresh); true when it did, and the new page has settled.
    async fn reloads_itself_before(&mut self, deadline: &Deadline) -> Result<bool, StepError> {
        // A dialog holds the page: it is answered by the refresh the flow presses, at its time.
        let until_the_press = || tokio::time::sleep(deadline.remaining());
        let before = match self.browser.arm().await {
            Ok(before) => before,
            Err(e) if e.fault() == Some(Fault::DialogOpen) => {
                until_the_press().await;
                return Ok(false);
            }
            Err(e) => return Err(e.into()),
        };
        let reloaded = [json!({ "reloaded": true })];
        loop {
            if deadline.passed() {
                return Ok(false);
            }
            let wait = deadline.remaining().min(IN_PAGE_LOOK);
            let waited = match self.browser.observe_waiting(&reloaded, Some(&before), wait).await {
                Ok(o) if o.settled && o.matched.is_some() => {
                    self.unsettled = false;
                    return Ok(true);
                }
                Ok(o) => o.waited,
                Err(e) if e.fault() == Some(Fault::DialogOpen) => {
                    until_the_press().await;
                    return Ok(false);
                }
                Err(e) if e.fault() == Some(Fault::WindowGone) => {
                    self.browser.switch_to_main().await?;
                    false
                }
                Err(e) if matches!(e.fault(), Some(Fault::StaleElement | Fault::FrameGone)) => false,
                Err(e) => return Err(e.into()),
            };
            if !waited && !deadline.next_look().await {
                return Ok(false);
            }
        }
    }

    async fn wait_until(&mut self, step: &Step, w: &WaitUntil) -> StepResult {
        let table = self.expand(&w.table)?;
        let key = normalize(&self.expand(&w.key)?);
        let pending: Vec<String> = w.pending.iter().map(|p| normalize(p)).collect();
        let started = Instant::now();
        let timeout = wait_seconds(WaitSecs::Timeout, &w.timeout_secs, &self.expand(&w.timeout_secs)?)?;
        // The portal's own refresh rhythm, from the flow file or the job: the one deliberate pause.
        let interval = wait_seconds(
            WaitSecs::Interval,
            &w.interval_secs,
            &self.expand(&w.interval_secs)?,
        )?;
        // Soon after the upload, then less often, up to the interval. A flow run
        // without the job (oqsbot flow, a recording made before the key) may
        // leave its variable unset: every wait is then the interval, as before.
        let first = w
            .first_interval_secs
            .as_ref()
            .filter(|t| !unset_variable_alone(t, |name| self.text(name).is_some()));
        let mut gap = match first {
            Some(first) => wait_seconds(WaitSecs::Interval, first, &self.expand(first)?)?.min(interval),
            None => interval,
        };
        let mut press_at = Deadline::after(gap);
        loop {
            self.settle(self.step_timeout).await?;
            let rows = self.table_now(&table).await?.unwrap_or_default();
            let row = rows
                .iter()
                .find(|row| row.get(&w.key_column).is_some_and(|k| normalize(k) == key))
                .cloned();
            let value = row.as_ref().and_then(|row| row.get(&w.column).cloned());
            let waited = started.elapsed();
            let look = StatusLook {
                column: &w.column,
                key_column: &w.key_column,
                key: &key,
                status: value.as_deref().map(str::trim),
                waited,
                next_look: None,
            };
            if let Some(v) = &value
                && !pending.contains(&normalize(v))
            {
                // The final status ends the wait's live line.
                progress::emit(Event::StatusLook(look));
                self.set(&w.into, v.trim());
                if let (Some(name), Some(row)) = (&w.row_into, row) {
                    self.vars.insert(name.clone(), Var::Table(vec![row]));
                }
                return Ok(Some(format!("{} = {}", w.column, v.trim())));
            }
            // Pressing 「更新」 is the next look; a page that reloads itself may come sooner.
            let next_look = (waited < timeout).then(|| press_at.remaining());
            progress::emit(Event::StatusLook(StatusLook { next_look, ..look }));
            if waited >= timeout {
                let last = value.unwrap_or_else(|| "not listed".into());
                return Err(StepError::Timeout {
                    what: format!("a final {} for {key} (last seen: {last})", w.column),
                    secs: timeout.as_secs_f64(),
                });
            }
            // Until it is time to press 「更新」, a page that reloads itself is read as it comes.
            if self.reloads_itself_before(&press_at).await? {
                continue;
            }
            gap = next_gap(gap, interval);
            press_at = Deadline::after(gap);
            match &w.refresh {
                Some(loc) => {
                    self.act(step, &loc.list(), Act::Click, self.step_timeout).await?;
                }
                None => {
                    let url = self.browser.current_url().await?;
                    self.browser.goto(&url).await?;
                    self.unsettled = true;
                }
            }
        }
    }
}

/// A template that is one `{variable}` and nothing else, whose variable is unset.
fn unset_variable_alone(template: &str, is_set: impl Fn(&str) -> bool) -> bool {
    let t = template.trim();
    t.strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .is_some_and(|name| !name.contains(['{', '}']) && !is_set(name))
}

/// The wait after `gap`: 15 % longer, never past `interval`: a registration
/// that takes ten seconds is seen within about one.
fn next_gap(gap: Duration, interval: Duration) -> Duration {
    gap.mul_f64(1.15).min(interval)
}

/// A `wait_until` number, expanded from its template: out of range or not a
/// number stops the step, never a silent default (FlowError names the step).
fn wait_seconds(which: WaitSecs, template: &str, value: &str) -> Result<Duration, StepError> {
    which.parse(value).map_err(|e| {
        if template.trim() == value.trim() {
            StepError::Input(e)
        } else {
            StepError::Input(format!("{e} (from {template})"))
        }
    })
}

#[derive(Debug, Clone, Copy)]
enum Act {
    Click,
    DoubleClick,
}

#[derive(Debug, Clone, Copy)]
enum FieldAction<'a> {
    Fill(&'a str),
    Select(&'a str),
    Upload(&'a Path),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_word_that_could_be_a_password_is_taken_for_it() {
        assert_eq!(issued_password_in(" Abc123!x ").as_deref(), Some("Abc123!x"));
        assert_eq!(
            issued_password_in("Abc123!x パスワード非表示").as_deref(),
            Some("Abc123!x")
        );
        assert_eq!(issued_password_in("●●●●●● パスワード表示"), None);
        assert_eq!(issued_password_in("PDFをご確認ください"), None);
        assert_eq!(issued_password_in("short"), None);
        assert_eq!(
            issued_password_in("Abc123!x Xyz789!q"),
            None,
            "two candidates: neither"
        );
    }

    #[test]
    fn a_masked_password_is_not_taken_for_the_password() {
        for masked in ["●●●●●●", "••••••", "******", "＊＊＊＊", "●●●●●● ", "Abc●●●"]
        {
            assert!(is_masked(masked), "{masked}");
        }
        // The policy allows `*` among other characters.
        for shown in ["Abc123!x", "xY7*kq9Z", "H1357924"] {
            assert!(!is_masked(shown), "{shown}");
        }
    }

    #[test]
    fn the_status_is_looked_at_soon_then_less_often_up_to_the_interval() {
        let interval = Duration::from_secs(10);
        let mut gap = Duration::from_secs(1);
        let mut at = Duration::ZERO;
        let mut looks = Vec::new();
        while at < Duration::from_secs(60) {
            at += gap;
            looks.push(at.as_secs_f64());
            gap = next_gap(gap, interval);
        }
        // A registration done within ten seconds of the upload is seen within about one more.
        for done in [2.0, 4.0, 6.0, 8.0, 10.0] {
            let seen = looks.iter().find(|t| **t >= done).expect("a look after");
            assert!(seen - done <= 1.1, "done at {done}, seen at {seen}: {looks:?}");
        }
        // Then less often: under 20 looks in the first minute, none further apart than the interval.
        assert!(looks.len() < 20, "{looks:?}");
        assert!(looks.windows(2).all(|w| w[1] - w[0] <= 10.0 + 1e-9));
        assert_eq!(next_gap(Duration::from_secs(9), interval), interval);
        assert!(unset_variable_alone("{status_first_look_secs}", |_| false));
        assert!(!unset_variable_alone("{status_first_look_secs}", |_| true));
        assert!(
            !unset_variable_alone("2", |_| false),
            "a literal is the flow's own"
        );
    }

    #[test]
    fn a_bad_wait_number_is_a_step_input_error() {
        assert_eq!(
            wait_seconds(WaitSecs::Interval, "{status_interval_secs}", "1").ok(),
            Some(Duration::from_secs(1))
        );
        for (which, value) in [
            (WaitSecs::Interval, "NaN"),
            (WaitSecs::Interval, "-3"),
            (WaitSecs::Interval, "0"),
            (WaitSecs::Timeout, "inf"),
            (WaitSecs::Timeout, "1e20"),
            (WaitSecs::Timeout, "soon"),
        ] {
            match wait_seconds(which, "{v}", value) {
                Err(StepError::Input(m)) => assert!(
                    m.contains(which.key()) && m.contains(&format!("{value:?}")) && m.contains("(from {v})"),
                    "{m}"
                ),
                other => panic!("{value}: {other:?}"),
            }
        }
    }
}
