//! Flow files: one TOML file per flow, steps with user-facing locators. The
//! defaults are embedded in the binary; `--flows DIR` overrides them by name.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a step finds its element. Exactly one of `text`, `label`, `role`, `css`,
/// `xpath`, or `row` (alone: the row itself; with `text`: a button inside it).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Locator {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub css: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xpath: Option<String>,
    /// A table row holding this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row: Option<String>,
    /// With `text`: the whole text, never a part of a longer one
    /// (「アカウント管理」 must not match 「アカウント管理(更新)」).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exact: bool,
}

impl std::fmt::Display for Locator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(r) = &self.row {
            parts.push(format!("row {r:?}"));
        }
        if let Some(t) = &self.text {
            parts.push(format!("text {t:?}{}", if self.exact { " (exact)" } else { "" }));
        }
        if let Some(l) = &self.label {
            parts.push(format!("label {l:?}"));
        }
        if let Some(r) = &self.role {
            parts.push(format!(
                "role {r}{}",
                self.name.as_ref().map(|n| format!(" {n:?}")).unwrap_or_default()
            ));
        }
        if let Some(c) = &self.css {
            parts.push(format!("css {c:?}"));
        }
        if let Some(x) = &self.xpath {
            parts.push(format!("xpath {x:?}"));
        }
        f.write_str(&parts.join(" + "))
    }
}

/// One locator or alternatives tried in order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Locators {
    One(Locator),
    Many(Vec<Locator>),
}

impl Locators {
    pub fn list(&self) -> Vec<Locator> {
        match self {
            Locators::One(l) => vec![l.clone()],
            Locators::Many(v) => v.clone(),
        }
    }
}

/// Something a step can wait for. Every part given must hold at once, on a
/// screen that has settled after the step's last action.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// What `into` records when this condition is the one that held.
    #[serde(default)]
    pub name: Option<String>,
    /// Visible text anywhere on the screen, whether or not it stood there before.
    #[serde(default)]
    pub text: Option<String>,
    /// Text that appeared after the last action (`""`: any new text). A note
    /// that stood on the page before the action is never the portal's answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_text: Option<String>,
    /// A JavaScript dialog whose message holds this text (`""`: any dialog).
    #[serde(default)]
    pub alert: Option<String>,
    /// An in-page dialog, opened since the last action, holding this text (`""`: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialog: Option<String>,
    /// No button or link whose whole text is this (「ログアウト」 gone after logging out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_button: Option<String>,
    /// No visible form field with this label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_field: Option<String>,
    /// The screen changed after the last action: a new document, or a change to this one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub changed: bool,
    /// The current URL contains this.
    #[serde(default)]
    pub url: Option<String>,
    /// A visible form field with this label.
    #[serde(default)]
    pub field: Option<String>,
    /// A visible element matching this CSS selector (a last resort).
    #[serde(default)]
    pub css: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Fill {
    pub field: Locators,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Download {
    pub click: Locators,
    pub into: String,
    /// Conditions that mean the site refused instead of sending a file.
    #[serde(default)]
    pub unless: Vec<Condition>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Read {
    /// The value beside this label.
    #[serde(default)]
    pub label: Option<String>,
    /// A whole table, by its aria-label or caption, or by one of its column headers.
    #[serde(default)]
    pub table: Option<String>,
    /// For a table over several pages: the link to the next page.
    #[serde(default)]
    pub next_page: Option<Locators>,
    /// The text between `after` and `before`, in a dialog or on the page.
    #[serde(default)]
    pub after: Option<String>,
    #[serde(default)]
    pub before: Option<String>,
    pub into: String,
}

/// A password the portal shows as it issues it (a reset, a registration):
/// read from the screen, unmasked with `reveal` where needed, and handed to
/// the caller's keeper (the run's credential store) before the flow does
/// anything else. A screen that does not show it leaves `into` empty.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Issued {
    /// The account the password is for.
    pub user: String,
    /// Labels beside the shown password, tried in turn.
    pub label: Vec<String>,
    /// What shows a password masked as ●●●●●● (「パスワード表示」); clicked when there.
    #[serde(default)]
    pub reveal: Option<Locators>,
    /// Set to `shown` when the screen gave the password, to nothing when not.
    pub into: String,
}

/// Poll a table row until a column holds a final value.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WaitUntil {
    pub table: String,
    /// The row: this column …
    pub key_column: String,
    /// … holds this value.
    pub key: String,
    /// The column to watch.
    pub column: String,
    /// Values that mean "not yet".
    pub pending: Vec<String>,
    /// What brings fresh data: a button such as 「更新」; a reload when unset.
    #[serde(default)]
    pub refresh: Option<Locators>,
    /// Seconds between looks, and the limit; templates, so a job can set them.
    pub interval_secs: String,
    pub timeout_secs: String,
    /// The wait before the first fresh look: the soonest the step asks again.
    /// Each next wait is 15 % longer, up to `interval_secs`. Unset: every
    /// wait is `interval_secs`.
    #[serde(default)]
    pub first_interval_secs: Option<String>,
    pub into: String,
    /// Also keep the whole final row, as a one-row table.
    #[serde(default)]
    pub row_into: Option<String>,
}

/// A `wait_until`'s two numbers of seconds. The job's `[output]` keys feed them,
/// and the job is checked against the same bounds before any browser starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitSecs {
    Interval,
    Timeout,
}

impl WaitSecs {
    pub fn key(self) -> &'static str {
        match self {
            WaitSecs::Interval => "interval_secs",
            WaitSecs::Timeout => "timeout_secs",
        }
    }

    pub fn range(self) -> RangeInclusive<f64> {
        match self {
            // Each look reloads アカウント一括登録結果, which refreshes itself every
            // minute anyway: more than two looks a second only loads the portal
            // (the simulator's tests use 0.5), and 10 minutes apart a finished
            // registration is left waiting for nothing.
            WaitSecs::Interval => 0.5..=600.0,
            // Under 10 s not even the simulator finishes a registration; over a
            // day is a typo: nobody waits at the customer's site that long.
            WaitSecs::Timeout => 10.0..=86_400.0,
        }
    }

    /// What to write instead of a bad value.
    pub fn allowed(self) -> String {
        let r = self.range();
        format!("a number of seconds from {} to {}", r.start(), r.end())
    }

    /// The value in range, as a duration; `None` for NaN, infinity or out of range.
    pub fn duration(self, secs: f64) -> Option<Duration> {
        if secs.is_finite() && self.range().contains(&secs) {
            Duration::try_from_secs_f64(secs).ok()
        } else {
            None
        }
    }

    /// A template's expanded text as a duration, or what is wrong with it.
    pub fn parse(self, text: &str) -> Result<Duration, String> {
        text.trim()
            .parse::<f64>()
            .ok()
            .and_then(|s| self.duration(s))
            .ok_or_else(|| format!("wait_until {} is {text:?}: give {}", self.key(), self.allowed()))
    }
}

/// One step of a flow: when it runs, how patient it is, and the one thing it does.
/// Flow files keep the flat keys (`click = …`, `fail = …`, `outcome = …`);
/// `RawStep` reads and writes them, so only a step with exactly one action exists.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(try_from = "RawStep", into = "RawStep")]
pub struct Step {
    /// A short description for logs and errors.
    pub name: Option<String>,
    /// Run only when this holds: `var == value`, `var != value`, `var ~= text` (contains),
    /// `var` (set and not empty), `!var`.
    pub when: Option<String>,
    /// A step that may not apply: when its target does not appear, go on.
    pub optional: bool,
    /// Irreversible (a login attempt, a reset, a registration, an upload): never retried.
    pub once: bool,
    pub timeout_secs: Option<f64>,
    pub action: Action,
}

impl Step {
    /// The action's name, for logs and errors.
    pub fn action(&self) -> &'static str {
        self.action.name()
    }
}

/// What a step does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Open(String),
    /// Click, then follow the window it opens.
    Popup(Locators),
    Click(Locators),
    DoubleClick(Locators),
    Fill(Fill),
    Select(Fill),
    Upload(Fill),
    Expect(Condition),
    /// Answer a notice or a confirmation with OK, whether it is a JavaScript
    /// dialog, an in-page modal, or a page of its own; the text identifies it.
    Ok(String),
    WaitFor {
        conditions: Vec<Condition>,
        /// The variable that records which condition held.
        into: Option<String>,
    },
    /// Stop the flow with this message.
    Fail {
        message: String,
        /// What the caller matches on (`refused`, `locked`, `exists`, …).
        outcome: Option<String>,
    },
    Download(Download),
    Read(Read),
    Issued(Issued),
    WaitUntil(WaitUntil),
    /// Run another flow with the same variables, plus `with`.
    Call {
        flow: String,
        with: BTreeMap<String, String>,
    },
    /// Go back to the window the run started in, closing every other one.
    MainWindow,
    /// Set variables.
    Set(BTreeMap<String, String>),
}

impl Action {
    /// The action's key in a flow file, for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Open(_) => "open",
            Action::Popup(_) => "popup",
            Action::Click(_) => "click",
            Action::DoubleClick(_) => "double_click",
            Action::Fill(_) => "fill",
            Action::Select(_) => "select",
            Action::Upload(_) => "upload",
            Action::Expect(_) => "expect",
            Action::Ok(_) => "ok",
            Action::WaitFor { .. } => "wait_for",
            Action::Fail { .. } => "fail",
            Action::Download(_) => "download",
            Action::Read(_) => "read",
            Action::Issued(_) => "issued",
            Action::WaitUntil(_) => "wait_until",
            Action::Call { .. } => "call",
            Action::MainWindow => "main_window",
            Action::Set(_) => "set",
        }
    }
}

/// Why a step as written in a flow file is not a step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidStep {
    #[error("exactly one action is needed (open, click, fill, …), not 0")]
    NoAction,
    #[error(
        "exactly one action is needed (open, click, fill, …), not {}: {}",
        .0.len(),
        .0.join(", ")
    )]
    ManyActions(Vec<&'static str>),
    #[error("`{companion}` {meaning}; this step has no `{action}`")]
    Companion {
        companion: &'static str,
        action: &'static str,
        meaning: &'static str,
    },
}

/// A step as a flow file spells it: every action a key of its own.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct RawStep {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, rename = "if")]
    when: Option<String>,
    #[serde(default)]
    optional: bool,
    #[serde(default)]
    once: bool,
    #[serde(default)]
    timeout_secs: Option<f64>,

    #[serde(default)]
    open: Option<String>,
    #[serde(default)]
    popup: Option<Locators>,
    #[serde(default)]
    click: Option<Locators>,
    #[serde(default)]
    double_click: Option<Locators>,
    #[serde(default)]
    fill: Option<Fill>,
    #[serde(default)]
    select: Option<Fill>,
    #[serde(default)]
    upload: Option<Fill>,
    #[serde(default)]
    expect: Option<Condition>,
    #[serde(default)]
    ok: Option<String>,
    #[serde(default)]
    wait_for: Option<Vec<Condition>>,
    #[serde(default)]
    into: Option<String>,
    #[serde(default)]
    fail: Option<String>,
    #[serde(default)]
    outcome: Option<String>,
    #[serde(default)]
    download: Option<Download>,
    #[serde(default)]
    read: Option<Read>,
    #[serde(default)]
    issued: Option<Issued>,
    #[serde(default)]
    wait_until: Option<WaitUntil>,
    #[serde(default)]
    call: Option<String>,
    #[serde(default)]
    with: BTreeMap<String, String>,
    #[serde(default)]
    main_window: bool,
    #[serde(default)]
    set: BTreeMap<String, String>,
}

impl TryFrom<RawStep> for Step {
    type Error = InvalidStep;

    fn try_from(raw: RawStep) -> Result<Self, InvalidStep> {
        let RawStep {
            name,
            when,
            optional,
            once,
            timeout_secs,
            open,
            popup,
            click,
            double_click,
            fill,
            select,
            upload,
            expect,
            ok,
            wait_for,
            into,
            fail,
            outcome,
            download,
            read,
            issued,
            wait_until,
            call,
            with,
            main_window,
            set,
        } = raw;
        // Noted before the values move into their actions; a wrong count is
        // reported first, since it is what the author most likely meant to fix.
        let companions = [
            (
                into.is_some() && wait_for.is_none(),
                "into",
                "wait_for",
                "names the variable a `wait_for` step sets",
            ),
            (
                outcome.is_some() && fail.is_none(),
                "outcome",
                "fail",
                "names what a `fail` step means",
            ),
            (
                !with.is_empty() && call.is_none(),
                "with",
                "call",
                "gives variables to the flow a `call` step runs",
            ),
        ];
        let mut actions = Vec::new();
        actions.extend(open.map(Action::Open));
        actions.extend(popup.map(Action::Popup));
        actions.extend(click.map(Action::Click));
        actions.extend(double_click.map(Action::DoubleClick));
        actions.extend(fill.map(Action::Fill));
        actions.extend(select.map(Action::Select));
        actions.extend(upload.map(Action::Upload));
        actions.extend(expect.map(Action::Expect));
        actions.extend(ok.map(Action::Ok));
        actions.extend(wait_for.map(|conditions| Action::WaitFor { conditions, into }));
        actions.extend(fail.map(|message| Action::Fail { message, outcome }));
        actions.extend(download.map(Action::Download));
        actions.extend(read.map(Action::Read));
        actions.extend(issued.map(Action::Issued));
        actions.extend(wait_until.map(Action::WaitUntil));
        actions.extend(call.map(|flow| Action::Call { flow, with }));
        // `main_window = false` and `set = {}` ask for nothing, as they always did.
        actions.extend(main_window.then_some(Action::MainWindow));
        actions.extend((!set.is_empty()).then_some(Action::Set(set)));

        if actions.len() > 1 {
            return Err(InvalidStep::ManyActions(
                actions.iter().map(Action::name).collect(),
            ));
        }
        let Some(action) = actions.pop() else {
            return Err(InvalidStep::NoAction);
        };
        if let Some((_, companion, action, meaning)) = companions.into_iter().find(|(bad, ..)| *bad) {
            return Err(InvalidStep::Companion {
                companion,
                action,
                meaning,
            });
        }
        Ok(Step {
            name,
            when,
            optional,
            once,
            timeout_secs,
            action,
        })
    }
}

impl From<Step> for RawStep {
    fn from(step: Step) -> Self {
        let mut raw = RawStep {
            name: step.name,
            when: step.when,
            optional: step.optional,
            once: step.once,
            timeout_secs: step.timeout_secs,
            ..RawStep::default()
        };
        match step.action {
            Action::Open(url) => raw.open = Some(url),
            Action::Popup(l) => raw.popup = Some(l),
            Action::Click(l) => raw.click = Some(l),
            Action::DoubleClick(l) => raw.double_click = Some(l),
            Action::Fill(f) => raw.fill = Some(f),
            Action::Select(f) => raw.select = Some(f),
            Action::Upload(f) => raw.upload = Some(f),
            Action::Expect(c) => raw.expect = Some(c),
            Action::Ok(text) => raw.ok = Some(text),
            Action::WaitFor { conditions, into } => {
                raw.wait_for = Some(conditions);
                raw.into = into;
            }
            Action::Fail { message, outcome } => {
                raw.fail = Some(message);
                raw.outcome = outcome;
            }
            Action::Download(d) => raw.download = Some(d),
            Action::Read(r) => raw.read = Some(r),
            Action::Issued(i) => raw.issued = Some(i),
            Action::WaitUntil(w) => raw.wait_until = Some(w),
            Action::Call { flow, with } => {
                raw.call = Some(flow);
                raw.with = with;
            }
            Action::MainWindow => raw.main_window = true,
            Action::Set(vars) => raw.set = vars,
        }
        raw
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Variables the flow needs.
    #[serde(default)]
    pub inputs: Vec<String>,
    /// Inputs that are secrets: never logged, never in an error.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Variables the flow sets for its caller.
    #[serde(default)]
    pub outputs: Vec<String>,
    #[serde(default, rename = "step", deserialize_with = "numbered_steps")]
    pub steps: Vec<Step>,
}

/// Reads a flow's steps, naming the step a shape error is in: the TOML
/// parser points every such error at the first `[[step]]`.
fn numbered_steps<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<Step>, D::Error> {
    Vec::<RawStep>::deserialize(deserializer)?
        .into_iter()
        .enumerate()
        .map(|(i, raw)| {
            Step::try_from(raw).map_err(|e| serde::de::Error::custom(format!("step {}: {e}", i + 1)))
        })
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum FlowFileError {
    #[error("flow file {origin}: {reason}")]
    Invalid { origin: String, reason: String },
    #[error("no flow named {name:?}; flows are: {known}")]
    Unknown { name: String, known: String },
}

/// The flows shipped in the binary.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("login", include_str!("../../flows/login.toml")),
    (
        "change-password",
        include_str!("../../flows/change-password.toml"),
    ),
    ("logout", include_str!("../../flows/logout.toml")),
    (
        "read-institution-code",
        include_str!("../../flows/read-institution-code.toml"),
    ),
    ("list-accounts", include_str!("../../flows/list-accounts.toml")),
    ("cert-download", include_str!("../../flows/cert-download.toml")),
    (
        "reset-master-password",
        include_str!("../../flows/reset-master-password.toml"),
    ),
    ("reset-password", include_str!("../../flows/reset-password.toml")),
    ("register-admin", include_str!("../../flows/register-admin.toml")),
    ("bulk-upload", include_str!("../../flows/bulk-upload.toml")),
    ("bulk-status", include_str!("../../flows/bulk-status.toml")),
    ("bulk-results", include_str!("../../flows/bulk-results.toml")),
];

impl Flow {
    pub fn parse(text: &str, origin: &str) -> Result<Flow, FlowFileError> {
        let invalid = |reason: String| FlowFileError::Invalid {
            origin: origin.to_string(),
            reason,
        };
        let flow: Flow = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        for (i, step) in flow.steps.iter().enumerate() {
            if let Some(t) = step.timeout_secs
                && !(t.is_finite() && (0.0..=86_400.0).contains(&t))
            {
                return Err(invalid(format!(
                    "step {}: timeout_secs must be a number of seconds between 0 and 86400, not {t}",
                    i + 1
                )));
            }
            // A literal (no `{variable}`) is checked now; a template when it is expanded.
            if let Action::WaitUntil(w) = &step.action {
                let first = w.first_interval_secs.as_ref();
                for (which, text) in [
                    (WaitSecs::Interval, &w.interval_secs),
                    (WaitSecs::Timeout, &w.timeout_secs),
                ]
                .into_iter()
                .chain(first.map(|f| (WaitSecs::Interval, f)))
                {
                    if !text.contains('{')
                        && let Err(e) = which.parse(text)
                    {
                        return Err(invalid(format!("step {}: {e}", i + 1)));
                    }
                }
            }
        }
        Ok(flow)
    }
}

/// Where flows come from: the built-in ones, overridden by files in a folder.
#[derive(Debug, Clone, Default)]
pub struct FlowLibrary {
    dir: Option<std::path::PathBuf>,
}

impl FlowLibrary {
    pub fn new(dir: Option<&Path>) -> Self {
        Self {
            dir: dir.map(Path::to_path_buf),
        }
    }

    pub fn get(&self, name: &str) -> Result<Flow, FlowFileError> {
        if let Some(dir) = &self.dir {
            let path = dir.join(format!("{name}.toml"));
            if path.is_file() {
                let text = std::fs::read_to_string(&path).map_err(|e| FlowFileError::Invalid {
                    origin: path.display().to_string(),
                    reason: e.to_string(),
                })?;
                return Flow::parse(&text, &path.display().to_string());
            }
        }
        let (_, text) = BUILT_IN
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| FlowFileError::Unknown {
                name: name.to_string(),
                known: BUILT_IN.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
            })?;
        Flow::parse(text, &format!("built-in {name}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_flow_parses() {
        let lib = FlowLibrary::default();
        for (name, _) in BUILT_IN {
            let flow = lib.get(name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(&flow.name, name);
            assert!(!flow.steps.is_empty());
        }
    }

    #[test]
    fn a_step_needs_exactly_one_action() {
        let err = Flow::parse(
            "name = \"x\"\n[[step]]\nopen = \"a\"\nclick = { text = \"b\" }\n",
            "test",
        )
        .unwrap_err();
        assert!(err.to_string().contains("exactly one action"), "{err}");
        // The error names the step it is in.
        let err = Flow::parse(
            "name = \"x\"\n[[step]]\nopen = \"a\"\n[[step]]\nname = \"empty\"\n",
            "test",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("step 2: exactly one action is needed"), "{err}");
        let err = Flow::parse(
            "name = \"x\"\n[[step]]\nfail = \"a\"\n[[step]]\nok = \"b\"\noutcome = \"refused\"\n",
            "test",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("step 2: `outcome` names what a `fail` step means; this step has no `fail`"),
            "{err}"
        );
        let err = Flow::parse("name = \"x\"\n[[step]]\nclik = { text = \"b\" }\n", "test").unwrap_err();
        assert!(err.to_string().contains("clik"), "{err}");
    }

    /// A step as a flow file writes it, and back.
    fn step(text: &str) -> Result<Step, String> {
        toml::from_str::<Step>(text).map_err(|e| e.to_string())
    }

    #[test]
    fn every_action_reads_back_as_it_was_written() {
        let cases = [
            ("open = \"https://x/\"", "open"),
            ("popup = { text = \"開く\" }", "popup"),
            ("click = [{ text = \"a\" }, { css = \"#b\" }]", "click"),
            ("double_click = { row = \"r\" }", "double_click"),
            (
                "fill = { field = { label = \"ID\" }, value = \"{user}\" }",
                "fill",
            ),
            (
                "select = { field = { label = \"種別\" }, value = \"1\" }",
                "select",
            ),
            (
                "upload = { field = { css = \"input\" }, value = \"{file}\" }",
                "upload",
            ),
            ("expect = { text = \"完了\" }", "expect"),
            ("ok = \"登録しますか\"", "ok"),
            (
                "wait_for = [{ name = \"done\", text = \"完了\" }]\ninto = \"result\"",
                "wait_for",
            ),
            ("wait_for = [{ text = \"完了\" }]", "wait_for"),
            ("fail = \"refused: {page}\"\noutcome = \"refused\"", "fail"),
            ("fail = \"refused\"", "fail"),
            (
                "download = { click = { text = \"DL\" }, into = \"cert\" }",
                "download",
            ),
            ("read = { label = \"医療機関コード\", into = \"code\" }", "read"),
            (
                "issued = { user = \"{user}\", label = [\"パスワード\"], into = \"shown\" }",
                "issued",
            ),
            (
                "wait_until = { table = \"t\", key_column = \"k\", key = \"1\", column = \"c\", pending = [\"処理中\"], interval_secs = \"1\", timeout_secs = \"60\", into = \"v\" }",
                "wait_until",
            ),
            ("call = \"login\"\nwith = { user = \"{admin}\" }", "call"),
            ("call = \"logout\"", "call"),
            ("main_window = true", "main_window"),
            ("set = { a = \"1\", b = \"{a}\" }", "set"),
        ];
        for (text, name) in cases {
            let text = format!("name = \"n\"\nif = \"x\"\noptional = true\ntimeout_secs = 5.0\n{text}\n");
            let read = step(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(read.action(), name, "{text}");
            assert_eq!(read.name.as_deref(), Some("n"));
            assert_eq!(read.when.as_deref(), Some("x"));
            assert!(read.optional && !read.once);
            assert_eq!(read.timeout_secs, Some(5.0));
            let written = toml::to_string(&read).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(step(&written), Ok(read), "{text} written as {written}");
        }
    }

    #[test]
    fn companions_land_in_their_action() {
        let s = step("wait_for = [{ text = \"a\" }]\ninto = \"v\"").expect("step");
        assert!(
            matches!(&s.action, Action::WaitFor { conditions, into: Some(v) } if conditions.len() == 1 && v == "v"),
            "{s:?}"
        );
        let s = step("fail = \"no\"\noutcome = \"locked\"").expect("step");
        assert_eq!(
            s.action,
            Action::Fail {
                message: "no".into(),
                outcome: Some("locked".into())
            }
        );
        let s = step("call = \"login\"\nwith = { user = \"u\" }").expect("step");
        assert_eq!(
            s.action,
            Action::Call {
                flow: "login".into(),
                with: BTreeMap::from([("user".to_string(), "u".to_string())]),
            }
        );
    }

    #[test]
    fn a_step_without_an_action_is_refused() {
        for text in ["name = \"nothing\"", "main_window = false", "set = {}", ""] {
            let err = step(text).expect_err(text);
            assert!(
                err.contains("exactly one action is needed (open, click, fill, …), not 0"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_step_with_two_actions_is_refused_and_both_are_named() {
        let err = step("open = \"a\"\nclick = { text = \"b\" }").expect_err("two");
        assert!(
            err.contains("exactly one action") && err.contains("not 2: open, click"),
            "{err}"
        );
        let err = step("main_window = true\nset = { a = \"1\" }\nok = \"x\"").expect_err("three");
        assert!(err.contains("not 3: ok, main_window, set"), "{err}");
        // Two actions are named before a companion that has none of its own.
        let err = step("open = \"a\"\nclick = { text = \"b\" }\noutcome = \"x\"").expect_err("two");
        assert!(err.contains("exactly one action"), "{err}");
    }

    #[test]
    fn a_companion_without_its_action_is_refused() {
        for (text, companion, action) in [
            ("click = { text = \"b\" }\ninto = \"v\"", "into", "wait_for"),
            (
                "expect = { text = \"b\" }\noutcome = \"refused\"",
                "outcome",
                "fail",
            ),
            ("set = { a = \"1\" }\nwith = { b = \"2\" }", "with", "call"),
        ] {
            let err = step(text).expect_err(text);
            assert!(
                err.contains(&format!("`{companion}`"))
                    && err.contains(&format!("this step has no `{action}`")),
                "{err}"
            );
        }
        // An empty `with` gives nothing, so it needs no `call`.
        assert!(step("set = { a = \"1\" }\nwith = {}").is_ok());
    }

    #[test]
    fn an_unknown_key_is_refused() {
        let err = step("click = { text = \"b\" }\nclik = { text = \"b\" }").expect_err("typo");
        assert!(err.contains("unknown field `clik`"), "{err}");
        let err = step("click = { txt = \"b\" }").expect_err("typo");
        assert!(err.contains("txt"), "{err}");
    }

    #[test]
    fn a_step_writes_only_its_own_action() {
        let s = Step {
            name: None,
            when: None,
            optional: false,
            once: true,
            timeout_secs: None,
            action: Action::Fail {
                message: "m".into(),
                outcome: Some("o".into()),
            },
        };
        // The same keys, in the same order, as when the flat fields were Step's own.
        let written = serde_json::to_string(&s).expect("json");
        assert_eq!(
            written,
            concat!(
                r#"{"name":null,"if":null,"optional":false,"once":true,"timeout_secs":null,"#,
                r#""open":null,"popup":null,"click":null,"double_click":null,"fill":null,"#,
                r#""select":null,"upload":null,"expect":null,"ok":null,"wait_for":null,"#,
                r#""into":null,"fail":"m","outcome":"o","download":null,"read":null,"#,
                r#""issued":null,"wait_until":null,"call":null,"with":{},"main_window":false,"set":{}}"#
            )
        );
    }

    #[test]
    fn wait_seconds_are_bounded_numbers() {
        assert_eq!(WaitSecs::Interval.parse(" 1 "), Ok(Duration::from_secs(1)));
        assert_eq!(WaitSecs::Interval.parse("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(WaitSecs::Timeout.parse("120"), Ok(Duration::from_secs(120)));
        for bad in ["", "ten", "NaN", "inf", "-1", "0", "0.1", "601", "1e300"] {
            let e = WaitSecs::Interval.parse(bad).expect_err(bad);
            assert!(
                e.contains("interval_secs")
                    && e.contains("from 0.5 to 600")
                    && e.contains(&format!("{bad:?}")),
                "{e}"
            );
        }
        for bad in ["5", "86401", "-inf"] {
            let e = WaitSecs::Timeout.parse(bad).expect_err(bad);
            assert!(
                e.contains("timeout_secs") && e.contains("from 10 to 86400"),
                "{e}"
            );
        }
    }

    #[test]
    fn a_literal_wait_is_checked_when_the_flow_loads() {
        let flow = |interval: &str, timeout: &str| {
            Flow::parse(
                &format!(
                    "name = \"x\"\n[[step]]\nwait_until = {{ table = \"t\", key_column = \"k\", key = \"1\", column = \"c\", pending = [], interval_secs = \"{interval}\", timeout_secs = \"{timeout}\", into = \"v\" }}\n"
                ),
                "test",
            )
        };
        assert!(flow("1", "60").is_ok());
        // Templates are checked once expanded, by the engine.
        assert!(flow("{a}", "{b}").is_ok());
        let err = flow("1", "-5").expect_err("refused").to_string();
        assert!(err.contains("step 1: wait_until timeout_secs is \"-5\""), "{err}");
        let err = flow("inf", "60").expect_err("refused").to_string();
        assert!(err.contains("interval_secs"), "{err}");
    }
}
