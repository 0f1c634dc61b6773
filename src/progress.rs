//! A run's progress as typed events, for whoever shows them. The library never
//! prints: the command line installs a [`Sink`] that draws them; with none
//! installed (the library used on its own, the tests) each event is an info
//! line of the log, worded as it always was.
//!
//! A leaf: it depends on nothing else of the crate.

use std::fmt;
use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;

/// How a task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome<'a> {
    Done,
    /// The portal's or the run's brief reason.
    Failed(&'a str),
}

impl fmt::Display for Outcome<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Done => f.write_str("完了"),
            Outcome::Failed(why) => write!(f, "失敗: {why}"),
        }
    }
}

/// One look at a status that is not final yet (登録状況 while 登録中).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusLook<'a> {
    /// The column read (登録状況).
    pub column: &'a str,
    /// The column that finds the row (受付番号) and its value.
    pub key_column: &'a str,
    pub key: &'a str,
    /// The status seen; `None` while the row is not listed yet.
    pub status: Option<&'a str>,
    /// Since the wait began.
    pub waited: Duration,
    /// Until the next look at the latest; `None` when the wait has run out.
    pub next_look: Option<Duration>,
}

/// Something a person following the run wants to see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    TaskStarted {
        what: &'a str,
    },
    TaskEnded {
        what: &'a str,
        outcome: Outcome<'a>,
        elapsed: Duration,
    },
    /// A step with a result and no duration (a task found done already, a decision).
    Note {
        what: &'a str,
        result: &'a str,
    },
    StatusLook(StatusLook<'a>),
}

/// The log's wording, the same as before events existed.
impl fmt::Display for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::TaskStarted { what } => write!(f, "{what} …"),
            Event::TaskEnded {
                what,
                outcome,
                elapsed,
            } => write!(f, "{what}: {outcome} ({:.1} s)", elapsed.as_secs_f64()),
            Event::Note { what, result } => write!(f, "{what}: {result}"),
            Event::StatusLook(look) => write!(
                f,
                "{} {}: {} ({} s)",
                look.key_column,
                look.key,
                look.status.unwrap_or("not listed yet"),
                look.waited.as_secs()
            ),
        }
    }
}

/// Where events go once the command line has installed it.
pub trait Sink: Send + Sync {
    fn event(&self, event: &Event<'_>);

    /// Writes one line of the log (already scrubbed) without garbling what the
    /// sink draws, e.g. by taking a spinner off the screen while it is written.
    fn log(&self, line: &str) {
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    /// The run is over: whatever is still drawn goes before the command's last lines.
    fn finish(&self) {}
}

#[derive(Debug, thiserror::Error)]
#[error("a progress sink is installed already")]
pub struct AlreadyInstalled;

static SINK: OnceLock<Box<dyn Sink>> = OnceLock::new();

/// Sends this process's events to `sink` from now on; once per process.
pub fn install(sink: Box<dyn Sink>) -> Result<(), AlreadyInstalled> {
    SINK.set(sink).map_err(|_| AlreadyInstalled)
}

pub fn emit(event: Event<'_>) {
    match SINK.get() {
        Some(sink) => {
            // Still in the log for RUST_LOG diagnostics, with its timestamp.
            tracing::debug!("{event}");
            sink.event(&event);
        }
        None => tracing::info!("{event}"),
    }
}

/// A line of the log, already scrubbed, past the sink when there is one.
pub(crate) fn log_line(line: &str) {
    match SINK.get() {
        Some(sink) => sink.log(line),
        None => {
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
    }
}

/// Clears whatever the sink still draws.
pub fn finish() {
    if let Some(sink) = SINK.get() {
        sink.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_wording_is_unchanged() {
        let ended = Event::TaskEnded {
            what: "管理アカウントの登録",
            outcome: Outcome::Failed("ログインできません"),
            elapsed: Duration::from_millis(1440),
        };
        assert_eq!(
            ended.to_string(),
            "管理アカウントの登録: 失敗: ログインできません (1.4 s)"
        );
        let look = Event::StatusLook(StatusLook {
            column: "登録状況",
            key_column: "受付番号",
            key: "R0001",
            status: None,
            waited: Duration::from_secs(12),
            next_look: Some(Duration::from_secs(5)),
        });
        assert_eq!(look.to_string(), "受付番号 R0001: not listed yet (12 s)");
    }
}
