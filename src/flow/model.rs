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

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// A short description for logs and errors.
    #[serde(default)]
    pub name: Option<String>,
    /// Run only when this holds: `var == value`, `var != value`, `var ~= text` (contains),
    /// `var` (set and not empty), `!var`.
    #[serde(default, rename = "if")]
    pub when: Option<String>,
    /// A step that may not apply: when its target does not appear, go on.
    #[serde(default)]
    pub optional: bool,
    /// Irreversible (a login attempt, a reset, a registration, an upload): never retried.
    #[serde(default)]
    pub once: bool,
    #[serde(default)]
    pub timeout_secs: Option<f64>,

    #[serde(default)]
    pub open: Option<String>,
    /// Click, then follow the window it opens.
    #[serde(default)]
    pub popup: Option<Locators>,
    #[serde(default)]
    pub click: Option<Locators>,
    #[serde(default)]
    pub double_click: Option<Locators>,
    #[serde(default)]
    pub fill: Option<Fill>,
    #[serde(default)]
    pub select: Option<Fill>,
    #[serde(default)]
    pub upload: Option<Fill>,
    #[serde(default)]
    pub expect: Option<Condition>,
    /// Answer a notice or a confirmation with OK, whether it is a JavaScript
    /// dialog, an in-page modal, or a page of its own; the text identifies it.
    #[serde(default)]
    pub ok: Option<String>,
    #[serde(default)]
    pub wait_for: Option<Vec<Condition>>,
    /// With `wait_for`: the variable that records which condition held.
    #[serde(default)]
    pub into: Option<String>,
    /// Stop the flow with this message.
    #[serde(default)]
    pub fail: Option<String>,
    /// With `fail`: the outcome the caller matches on (`refused`, `locked`, `exists`, …).
    #[serde(default)]
    pub outcome: Option<String>,
    #[serde(default)]
    pub download: Option<Download>,
    #[serde(default)]
    pub read: Option<Read>,
    #[serde(default)]
    pub issued: Option<Issued>,
    #[serde(default)]
    pub wait_until: Option<WaitUntil>,
    /// Run another flow with the same variables (plus `with`).
    #[serde(default)]
    pub call: Option<String>,
    #[serde(default)]
    pub with: BTreeMap<String, String>,
    /// Go back to the window the run started in, closing every other one.
    #[serde(default)]
    pub main_window: bool,
    /// Set variables.
    #[serde(default)]
    pub set: BTreeMap<String, String>,
}

impl Step {
    /// The action's name, for logs and errors.
    pub fn action(&self) -> &'static str {
        let actions: [(&'static str, bool); 18] = [
            ("open", self.open.is_some()),
            ("popup", self.popup.is_some()),
            ("click", self.click.is_some()),
            ("double_click", self.double_click.is_some()),
            ("fill", self.fill.is_some()),
            ("select", self.select.is_some()),
            ("upload", self.upload.is_some()),
            ("expect", self.expect.is_some()),
            ("ok", self.ok.is_some()),
            ("wait_for", self.wait_for.is_some()),
            ("fail", self.fail.is_some()),
            ("download", self.download.is_some()),
            ("read", self.read.is_some()),
            ("issued", self.issued.is_some()),
            ("wait_until", self.wait_until.is_some()),
            ("call", self.call.is_some()),
            ("main_window", self.main_window),
            ("set", !self.set.is_empty()),
        ];
        actions
            .iter()
            .find(|(_, set)| *set)
            .map(|(n, _)| *n)
            .unwrap_or("nothing")
    }

    fn action_count(&self) -> usize {
        [
            self.open.is_some(),
            self.popup.is_some(),
            self.click.is_some(),
            self.double_click.is_some(),
            self.fill.is_some(),
            self.select.is_some(),
            self.upload.is_some(),
            self.expect.is_some(),
            self.ok.is_some(),
            self.wait_for.is_some(),
            self.fail.is_some(),
            self.download.is_some(),
            self.read.is_some(),
            self.issued.is_some(),
            self.wait_until.is_some(),
            self.call.is_some(),
            self.main_window,
            !self.set.is_empty(),
        ]
        .iter()
        .filter(|b| **b)
        .count()
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
    #[serde(default, rename = "step")]
    pub steps: Vec<Step>,
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
            if step.action_count() != 1 {
                return Err(invalid(format!(
                    "step {} must have exactly one action (open, click, fill, …), not {}",
                    i + 1,
                    step.action_count()
                )));
            }
            if step.outcome.is_some() && step.fail.is_none() {
                return Err(invalid(format!(
                    "step {}: `outcome` names what a `fail` step means; this step has no `fail`",
                    i + 1
                )));
            }
            if let Some(t) = step.timeout_secs
                && !(t.is_finite() && (0.0..=86_400.0).contains(&t))
            {
                return Err(invalid(format!(
                    "step {}: timeout_secs must be a number of seconds between 0 and 86400, not {t}",
                    i + 1
                )));
            }
            // A literal (no `{variable}`) is checked now; a template when it is expanded.
            if let Some(w) = &step.wait_until {
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
        let err = Flow::parse("name = \"x\"\n[[step]]\nclik = { text = \"b\" }\n", "test").unwrap_err();
        assert!(err.to_string().contains("clik"), "{err}");
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
