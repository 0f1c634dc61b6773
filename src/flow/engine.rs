//! The step interpreter: runs a flow against a real browser, waits on
//! conditions (never on the clock), records what matched, and on failure says
//! which flow, which step, every locator tried and what the page showed, with
//! a screenshot and the page source saved beside the run.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use super::model::{Condition, Flow, FlowFileError, FlowLibrary, Locator, Step};
use crate::browser::{Browser, BrowserError, Deadline};
use crate::secret::{Redactor, Secret};

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
}

#[derive(Debug)]
pub struct FlowError {
    pub kind: FailureKind,
    pub flow: String,
    pub step: usize,
    pub action: String,
    /// Already redacted.
    pub message: String,
    pub page: String,
    pub screenshot: Option<PathBuf>,
    pub source: Option<PathBuf>,
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
    Refused(String),
    Browser(BrowserError),
    Input(String),
    /// A called flow failed: its kind and its whole message.
    Called(FailureKind, String),
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

/// Brackets, colons, full-width letters and digits folded; white space removed.
pub fn normalize(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '（' => '(',
            '）' => ')',
            '：' => ':',
            '\u{FF10}'..='\u{FF19}' | '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}' => {
                char::from_u32(c as u32 - 0xFEE0).unwrap_or(c)
            }
            other => other,
        })
        .collect()
}

/// A dialog opened between looking for one and reading the page: look again.
fn dialog_race(e: &BrowserError) -> bool {
    e.to_string().to_lowercase().contains("unexpected alert open")
}

fn window_gone(e: &BrowserError) -> bool {
    let t = e.to_string().to_lowercase();
    t.contains("no such window")
        || t.contains("target window already closed")
        || t.contains("web view not found")
}

pub struct Engine<'b> {
    browser: &'b Browser,
    library: FlowLibrary,
    redactor: Redactor,
    artifacts: PathBuf,
    pub vars: HashMap<String, Var>,
    pub records: Vec<StepRecord>,
    step_timeout: Duration,
}

type StepResult = Result<Option<String>, StepError>;

impl<'b> Engine<'b> {
    pub fn new(browser: &'b Browser, library: FlowLibrary, redactor: Redactor, artifacts: &Path) -> Self {
        Self {
            step_timeout: browser.options.step_timeout,
            browser,
            library,
            redactor,
            artifacts: artifacts.to_path_buf(),
            vars: HashMap::new(),
            records: Vec::new(),
        }
    }

    pub fn set(&mut self, name: &str, value: &str) {
        self.vars.insert(name.to_string(), Var::Text(value.to_string()));
    }

    pub fn set_secret(&mut self, name: &str, value: Secret) {
        self.redactor.register(&value);
        self.vars.insert(name.to_string(), Var::Secret(value));
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        self.vars.get(name).and_then(Var::text)
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Runs a flow by name; its variables stay in `vars` for the caller.
    pub async fn run(&mut self, name: &str) -> Result<(), Box<FlowError>> {
        let flow = self.library.get(name).map_err(|e| {
            Box::new(FlowError {
                kind: FailureKind::Input,
                flow: name.to_string(),
                step: 0,
                action: "load".into(),
                message: e.to_string(),
                page: String::new(),
                screenshot: None,
                source: None,
            })
        })?;
        Box::pin(self.run_flow(flow)).await
    }

    async fn run_flow(&mut self, flow: Flow) -> Result<(), Box<FlowError>> {
        for (i, step) in flow.steps.iter().enumerate() {
            let number = i + 1;
            if let Some(cond) = &step.when {
                match self.holds(cond) {
                    Ok(false) => continue,
                    Ok(true) => {}
                    Err(e) => return Err(self.fail(&flow, number, step, e).await),
                }
            }
            let started = Instant::now();
            let result = self.step(step).await;
            let millis = started.elapsed().as_millis();
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
                    return Err(self.fail(&flow, number, step, e).await);
                }
            }
        }
        Ok(())
    }

    /// Dresses a step error with its context and saves what the page showed.
    async fn fail(&mut self, flow: &Flow, number: usize, step: &Step, e: StepError) -> Box<FlowError> {
        let (kind, message) = match e {
            StepError::NotFound { tried, secs } => (
                FailureKind::NotFound,
                format!(
                    "nothing matched within {secs:.0} s; tried {}",
                    tried.join(", then ")
                ),
            ),
            StepError::Timeout { what, secs } => (
                FailureKind::NotFound,
                format!("{what} did not happen within {secs:.0} s"),
            ),
            StepError::Refused(m) => (FailureKind::Refused, m),
            StepError::Browser(e) => (FailureKind::Browser, e.to_string()),
            StepError::Input(m) => (FailureKind::Input, m),
            StepError::Called(kind, m) => (kind, m),
        };
        let page = self.redactor.redact(&self.browser.summary().await);
        let stem = format!("{}-step{number}", flow.name);
        let _ = std::fs::create_dir_all(&self.artifacts);
        let screenshot = match self.browser.screenshot().await {
            Ok(png) => {
                let p = self.artifacts.join(format!("{stem}.png"));
                std::fs::write(&p, png).ok().map(|_| p)
            }
            Err(_) => None,
        };
        let source = match self.browser.source().await {
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
            flow: flow.name.clone(),
            step: number,
            action: self.redactor.redact(&action),
            message: self.redactor.redact(&message),
            page,
            screenshot,
            source,
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
            (Some(s), _) => Duration::from_secs_f64(s.max(0.0)),
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

    /// Waits until one of the locators matches a visible element.
    async fn find(
        &self,
        locators: &[Locator],
        timeout: Duration,
    ) -> Result<(crate::browser::Found, String), StepError> {
        let alts = self.alternatives(locators)?;
        let deadline = Deadline::after(timeout);
        loop {
            match self.browser.find_now(&alts).await {
                Ok(Some(found)) => {
                    let matched = locators
                        .get(found.alternative)
                        .map(|l| l.to_string())
                        .unwrap_or_default();
                    return Ok((found, matched));
                }
                Ok(None) => {}
                Err(e) if window_gone(&e) => self.browser.switch_to_main().await?,
                Err(e) => {
                    if let Some(t) = self.browser.alert_text().await {
                        return Err(StepError::Refused(format!(
                            "a dialog is open and nothing here answers it: {t}"
                        )));
                    }
                    return Err(e.into());
                }
            }
            if !deadline.next_look().await {
                return Err(StepError::NotFound {
                    tried: locators.iter().map(|l| l.to_string()).collect(),
                    secs: timeout.as_secs_f64(),
                });
            }
        }
    }

    /// Whether `cond` holds now. An open dialog is checked first: nothing else can be read behind it.
    async fn check(&self, cond: &Condition, alert: Option<&str>) -> Result<bool, StepError> {
        if let Some(want) = &cond.alert {
            let want = normalize(&self.expand(want)?);
            return Ok(alert.is_some_and(|a| normalize(a).contains(&want)));
        }
        if alert.is_some() {
            return Ok(false);
        }
        if let Some(t) = &cond.text {
            return Ok(self.browser.has_text(&self.expand(t)?).await?);
        }
        if let Some(u) = &cond.url {
            return Ok(self.browser.current_url().await?.contains(&self.expand(u)?));
        }
        if let Some(css) = &cond.css {
            let alts = self.alternatives(&[Locator {
                css: Some(css.clone()),
                ..Locator::default()
            }])?;
            return Ok(self.browser.find_now(&alts).await?.is_some());
        }
        if let Some(f) = &cond.field {
            let alts = self.alternatives(&[Locator {
                label: Some(f.clone()),
                ..Locator::default()
            }])?;
            return Ok(self.browser.find_now(&alts).await?.is_some());
        }
        Ok(false)
    }

    fn describe(cond: &Condition) -> String {
        [
            cond.text.as_ref().map(|t| format!("text {t:?}")),
            cond.alert.as_ref().map(|t| format!("dialog {t:?}")),
            cond.url.as_ref().map(|t| format!("URL with {t:?}")),
            cond.field.as_ref().map(|t| format!("field {t:?}")),
            cond.css.as_ref().map(|t| format!("css {t:?}")),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
    }

    /// Waits until one of the conditions holds; returns its index.
    async fn wait_any(&self, conds: &[Condition], timeout: Duration) -> Result<usize, StepError> {
        let deadline = Deadline::after(timeout);
        loop {
            let alert = self.browser.alert_text().await;
            let mut any_alert_condition = false;
            for (i, c) in conds.iter().enumerate() {
                any_alert_condition |= c.alert.is_some();
                match self.check(c, alert.as_deref()).await {
                    Ok(true) => return Ok(i),
                    Ok(false) => {}
                    Err(StepError::Browser(e)) if window_gone(&e) => {
                        self.browser.switch_to_main().await?;
                        break;
                    }
                    Err(StepError::Browser(e)) if dialog_race(&e) => break,
                    Err(e) => return Err(e),
                }
            }
            if let Some(a) = &alert
                && !any_alert_condition
            {
                return Err(StepError::Refused(format!("an unexpected dialog is open: {a}")));
            }
            if !deadline.next_look().await {
                let what = conds.iter().map(Self::describe).collect::<Vec<_>>().join(" or ");
                return Err(StepError::Timeout {
                    what,
                    secs: timeout.as_secs_f64(),
                });
            }
        }
    }

    /// Answers a notice or a confirmation with OK, in whatever form it comes.
    async fn answer_ok(&self, text: &str, timeout: Duration) -> StepResult {
        let want = normalize(&self.expand(text)?);
        let ok = [Locator {
            text: Some("OK".into()),
            ..Locator::default()
        }];
        let alts = self.alternatives(&ok)?;
        let deadline = Deadline::after(timeout);
        loop {
            if let Some(message) = self.browser.alert_text().await {
                if normalize(&message).contains(&want) {
                    self.browser.accept_alert().await?;
                    return Ok(Some("JavaScript dialog".into()));
                }
                return Err(StepError::Refused(format!(
                    "a different dialog is open: {message}"
                )));
            }
            let shown = match self.browser.has_text(text).await {
                Ok(v) => v,
                Err(e) if window_gone(&e) => {
                    self.browser.switch_to_main().await?;
                    false
                }
                Err(e) if dialog_race(&e) => false,
                Err(e) => return Err(e.into()),
            };
            if shown && let Some(found) = self.browser.find_now(&alts).await? {
                self.browser.click(&found.element).await?;
                return Ok(Some("OK on the page".into()));
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
        if let Some(url) = &step.open {
            self.browser.goto(&self.expand(url)?).await?;
            return Ok(None);
        }
        if let Some(loc) = &step.popup {
            let before = self.browser.windows().await?;
            let (found, matched) = self.find(&loc.list(), timeout).await?;
            self.browser.click(&found.element).await?;
            let deadline = Deadline::after(timeout);
            loop {
                let now = self.browser.windows().await?;
                if let Some(new) = now.into_iter().find(|w| !before.contains(w)) {
                    self.browser.switch_to(new).await?;
                    return Ok(Some(matched));
                }
                if !deadline.next_look().await {
                    return Err(StepError::Timeout {
                        what: "a new window".into(),
                        secs: timeout.as_secs_f64(),
                    });
                }
            }
        }
        if let Some(loc) = &step.click {
            let (found, matched) = self.find(&loc.list(), timeout).await?;
            self.browser.click(&found.element).await?;
            return Ok(Some(matched));
        }
        if let Some(loc) = &step.double_click {
            let (found, matched) = self.find(&loc.list(), timeout).await?;
            self.browser.click(&found.element).await?;
            self.browser.double_click(&found.element).await?;
            return Ok(Some(matched));
        }
        if let Some(fill) = &step.fill {
            let value = self.expand(&fill.value)?;
            let (found, matched) = self.find(&fill.field.list(), timeout).await?;
            self.browser.fill(&found.element, &value).await?;
            return Ok(Some(matched));
        }
        if let Some(select) = &step.select {
            let value = self.expand(&select.value)?;
            let (found, matched) = self.find(&select.field.list(), timeout).await?;
            self.browser.select(&found.element, &value).await?;
            return Ok(Some(matched));
        }
        if let Some(upload) = &step.upload {
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
            let (found, matched) = self.find(&upload.field.list(), timeout).await?;
            self.browser.upload(&found.element, &path).await?;
            return Ok(Some(matched));
        }
        if let Some(cond) = &step.expect {
            let i = self.wait_any(std::slice::from_ref(cond), timeout).await?;
            return Ok(Some(Self::describe(&[cond.clone()][i])));
        }
        if let Some(text) = &step.ok {
            return self.answer_ok(text, timeout).await;
        }
        if let Some(conds) = &step.wait_for {
            let i = self.wait_any(conds, timeout).await?;
            let label = conds[i].name.clone().unwrap_or_else(|| i.to_string());
            if let Some(into) = &step.into {
                self.set(into, &label);
            }
            return Ok(Some(label));
        }
        if let Some(message) = &step.fail {
            let page = self.browser.summary().await;
            let mut message = message.replace("{page}", &page);
            message = self.expand(&message).unwrap_or(message);
            return Err(StepError::Refused(message));
        }
        if let Some(d) = &step.download {
            let (found, matched) = self.find(&d.click.list(), timeout).await?;
            let folder = self.browser.prepare_download().await?;
            self.browser.click(&found.element).await?;
            let wait = timeout.max(Duration::from_secs(30));
            let deadline = Deadline::after(wait);
            loop {
                if let Some(path) = Browser::finished_download(&folder) {
                    self.vars.insert(d.into.clone(), Var::File(path));
                    return Ok(Some(matched));
                }
                let alert = self.browser.alert_text().await;
                for c in &d.unless {
                    if self.check(c, alert.as_deref()).await.unwrap_or(false) {
                        let page = self.browser.summary().await;
                        return Err(StepError::Refused(format!("the site sent no file: {page}")));
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
        if let Some(r) = &step.read {
            return self.read(r, step, timeout).await;
        }
        if let Some(w) = &step.wait_until {
            return self.wait_until(w).await;
        }
        if let Some(name) = &step.call {
            for (k, v) in &step.with {
                if self.is_secret_template(v) {
                    let value = Secret::new(self.expand(v)?);
                    self.set_secret(k, value);
                } else {
                    let value = self.expand(v)?;
                    self.set(k, &value);
                }
            }
            let flow = self.library.get(name)?;
            return match Box::pin(self.run_flow(flow)).await {
                Ok(()) => Ok(Some(name.clone())),
                Err(e) => Err(StepError::Called(e.kind, e.to_string())),
            };
        }
        if step.main_window {
            self.browser.close_others().await?;
            return Ok(None);
        }
        for (k, v) in &step.set {
            let value = self.expand(v)?;
            self.set(k, &value);
        }
        Ok(None)
    }

    async fn read(&mut self, r: &super::model::Read, step: &Step, timeout: Duration) -> StepResult {
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
                        Err(e) if dialog_race(&e) => continue,
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
        for _page in 0..100 {
            let html = self.browser.source().await?;
            let Some(mut found) = super::table::read(&html, &table) else {
                return Err(StepError::NotFound {
                    tried: vec![format!("table {table:?}")],
                    secs: 0.0,
                });
            };
            rows.append(&mut found);
            let Some(next) = &r.next_page else { break };
            let alts = self.alternatives(&next.list())?;
            let Some(link) = self.browser.find_now(&alts).await? else {
                break;
            };
            let url = self.browser.current_url().await?;
            self.browser.click(&link.element).await?;
            let deadline = Deadline::after(timeout);
            while self.browser.current_url().await? == url {
                if !deadline.next_look().await {
                    return Err(StepError::Timeout {
                        what: "the next page".into(),
                        secs: timeout.as_secs_f64(),
                    });
                }
            }
        }
        let n = rows.len();
        self.vars.insert(r.into.clone(), Var::Table(rows));
        Ok(Some(format!("table {table:?}, {n} rows")))
    }

    async fn wait_until(&mut self, w: &super::model::WaitUntil) -> StepResult {
        let table = self.expand(&w.table)?;
        let key = normalize(&self.expand(&w.key)?);
        let pending: Vec<String> = w.pending.iter().map(|p| normalize(p)).collect();
        let started = Instant::now();
        let seconds = |t: &str| -> Result<f64, StepError> {
            let v = self.expand(t)?;
            v.trim()
                .parse::<f64>()
                .map_err(|_| StepError::Input(format!("{t:?} is not a number of seconds ({v:?})")))
        };
        let timeout = Duration::from_secs_f64(seconds(&w.timeout_secs)?.max(0.0));
        // The portal's own refresh rhythm, from the flow file or the job: the one deliberate pause.
        let interval = Duration::from_secs_f64(seconds(&w.interval_secs)?.max(0.05));
        loop {
            let html = self.browser.source().await?;
            let rows = super::table::read(&html, &table).unwrap_or_default();
            let row = rows
                .iter()
                .find(|row| row.get(&w.key_column).is_some_and(|k| normalize(k) == key))
                .cloned();
            let value = row.as_ref().and_then(|row| row.get(&w.column).cloned());
            match &value {
                Some(v) if !pending.contains(&normalize(v)) => {
                    self.set(&w.into, v.trim());
                    if let (Some(name), Some(row)) = (&w.row_into, row) {
                        self.vars.insert(name.clone(), Var::Table(vec![row]));
                    }
                    return Ok(Some(format!("{} = {}", w.column, v.trim())));
                }
                Some(v) => tracing::info!(
                    "{} {key}: {} ({} s)",
                    w.key_column,
                    v.trim(),
                    started.elapsed().as_secs()
                ),
                None => tracing::info!(
                    "{} {key}: not listed yet ({} s)",
                    w.key_column,
                    started.elapsed().as_secs()
                ),
            }
            if started.elapsed() >= timeout {
                let last = value.unwrap_or_else(|| "not listed".into());
                return Err(StepError::Timeout {
                    what: format!("a final {} for {key} (last seen: {last})", w.column),
                    secs: timeout.as_secs_f64(),
                });
            }
            tokio::time::sleep(interval).await;
            match &w.refresh {
                Some(loc) => {
                    let (found, _) = self.find(&loc.list(), self.step_timeout).await?;
                    self.browser.click(&found.element).await?;
                }
                None => {
                    let url = self.browser.current_url().await?;
                    self.browser.goto(&url).await?;
                }
            }
        }
    }
}
