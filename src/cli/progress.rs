//! A run's progress for the person following it: at a terminal a spinner on
//! the current step, with the finished steps as lines above it; anywhere else
//! (a batch job's log file, a pipe, CI) one plain line per event. Every line
//! is scrubbed of the process's secrets, as the log is.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::progress::{Event, Outcome, Sink, StatusLook};
use crate::secret::redact_for_log;

/// Where progress goes: standard output, unless the command's own answer is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    Stdout,
    Stderr,
}

impl Target {
    fn is_terminal(self) -> bool {
        match self {
            Target::Stdout => std::io::stdout().is_terminal(),
            Target::Stderr => std::io::stderr().is_terminal(),
        }
    }

    fn write_line(self, line: &str) {
        let _ = match self {
            Target::Stdout => writeln!(std::io::stdout().lock(), "{line}"),
            Target::Stderr => writeln!(std::io::stderr().lock(), "{line}"),
        };
    }
}

/// Installs the renderer that fits `target`: a spinner at a terminal, plain lines elsewhere.
pub(super) fn install(target: Target) {
    let sink: Box<dyn Sink> = match target {
        _ if target.is_terminal() => Box::new(Spinner::new(target)),
        Target::Stdout => Box::new(Plain::new(std::io::stdout())),
        Target::Stderr => Box::new(Plain::new(std::io::stderr())),
    };
    // Each command installs once; a second call would keep the first renderer.
    if crate::progress::install(sink).is_ok() {
        // A panic's message is not drawn over by the next tick of a spinner.
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            crate::progress::finish();
            previous(info);
        }));
    }
}

/// Whole seconds, rounded up: a look due in 0.4 s is "1 s" away, not "0 s".
fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// The status part of a look, the same at a terminal and in a file.
fn status(look: &StatusLook<'_>) -> String {
    format!(
        "{}: {}",
        look.column,
        look.status.unwrap_or("まだ一覧にありません")
    )
}

/// `登録状況: 登録中 (受付番号 R0001, 待ち 12 s, 次の確認まで 5 s)`
fn look_line(look: &StatusLook<'_>) -> String {
    let mut line = format!(
        "{} ({} {}, 待ち {} s",
        status(look),
        look.key_column,
        look.key,
        look.waited.as_secs()
    );
    if let Some(next) = look.next_look {
        line.push_str(&format!(", 次の確認まで {} s", ceil_secs(next)));
    }
    line.push(')');
    line
}

/// One event as a plain line: the step's name first, no timestamp, no colour.
pub(crate) fn plain_line(event: &Event<'_>) -> String {
    let line = match event {
        Event::TaskStarted { what } => format!("{what} …"),
        Event::TaskEnded {
            what,
            outcome,
            elapsed,
        } => format!("{what}: {outcome} ({})", secs(*elapsed)),
        Event::Note { what, result } => format!("{what}: {result}"),
        Event::StatusLook(look) => look_line(look),
    };
    redact_for_log(&line)
}

/// Plain lines into a writer that is not a terminal.
pub(crate) struct Plain<W> {
    out: Mutex<W>,
}

impl<W: Write + Send> Plain<W> {
    pub(crate) fn new(out: W) -> Self {
        Self { out: Mutex::new(out) }
    }

    #[cfg(test)]
    fn into_inner(self) -> W {
        self.out.into_inner().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<W: Write + Send> Sink for Plain<W> {
    fn event(&self, event: &Event<'_>) {
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        // A log file is read while the run goes on: each line is let go whole.
        let _ = writeln!(out, "{}", plain_line(event)).and_then(|()| out.flush());
    }
}

/// Marks a Japanese console font has everywhere: Windows' console does no font
/// fallback, and its MS Gothic has neither ✔ nor braille.
#[cfg(windows)]
mod marks {
    pub(super) const DONE: char = '○';
    pub(super) const FAILED: char = '×';
    /// The spinner's frames, the last one for a spinner that has stopped.
    pub(super) const TICKS: &[&str] = &["|", "/", "-", "\\", " "];
}
#[cfg(not(windows))]
mod marks {
    pub(super) const DONE: char = '✔';
    pub(super) const FAILED: char = '✘';
    pub(super) const TICKS: &[&str] = &["⠁", "⠂", "⠄", "⡀", "⢀", "⠠", "⠐", "⠈", " "];
}

/// A finished step at a terminal: `✔ 管理アカウントの登録  完了 (1.4 s)`.
fn finished_line(what: &str, outcome: &Outcome<'_>, elapsed: Duration) -> String {
    let mark = match outcome {
        Outcome::Done => marks::DONE,
        Outcome::Failed(_) => marks::FAILED,
    };
    redact_for_log(&format!("{mark} {what}  {outcome} ({})", secs(elapsed)))
}

/// The last look of a wait, drawn live under the spinner.
struct Look {
    status: String,
    key: String,
    waited: Duration,
    next_look: Option<Duration>,
    seen: Instant,
}

impl Look {
    /// `登録状況: 登録中 · 受付番号 R0001 · 待ち 14 s · 次の確認まで 3 s`, as of now.
    fn text(&self) -> String {
        let since = self.seen.elapsed();
        let mut text = format!(
            "{} · {} · 待ち {} s",
            self.status,
            self.key,
            (self.waited + since).as_secs()
        );
        match self.next_look.map(|n| n.saturating_sub(since)) {
            Some(n) if !n.is_zero() => text.push_str(&format!(" · 次の確認まで {} s", ceil_secs(n))),
            Some(_) => text.push_str(" · 確認中 …"),
            None => {}
        }
        text
    }
}

/// A spinner on the current step, at a terminal.
struct Spinner {
    target: Target,
    /// The spinner drawn now; none between steps.
    current: Mutex<Option<Drawn>>,
    /// Read by the spinner's template at each tick.
    look: Arc<Mutex<Option<Look>>>,
}

struct Drawn {
    bar: ProgressBar,
    /// A wait's own spinner, outside any task (oqsbot flow bulk-status).
    for_wait: bool,
}

impl Spinner {
    fn new(target: Target) -> Self {
        Self {
            target,
            current: Mutex::new(None),
            look: Arc::new(Mutex::new(None)),
        }
    }

    fn start(&self, what: &str, for_wait: bool) -> Drawn {
        let draw = match self.target {
            Target::Stdout => ProgressDrawTarget::stdout(),
            Target::Stderr => ProgressDrawTarget::stderr(),
        };
        let look = Arc::clone(&self.look);
        let style = ProgressStyle::with_template("{spinner} {msg}  {took}{look}")
            .expect("a valid template")
            .tick_strings(marks::TICKS)
            .with_key("took", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{} s", state.elapsed().as_secs());
            })
            .with_key("look", move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                let look = look.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(look) = look.as_ref() {
                    let _ = write!(w, "\n  {}", redact_for_log(&look.text()));
                }
            });
        let bar = ProgressBar::with_draw_target(None, draw)
            .with_style(style)
            .with_message(redact_for_log(what));
        bar.enable_steady_tick(Duration::from_millis(120));
        Drawn { bar, for_wait }
    }

    fn set_look(&self, look: Option<Look>) {
        *self.look.lock().unwrap_or_else(PoisonError::into_inner) = look;
    }

    /// Takes the spinner and its live line off the screen.
    fn clear(&self, current: &mut Option<Drawn>) {
        if let Some(old) = current.take() {
            old.bar.finish_and_clear();
        }
        self.set_look(None);
    }

    /// Writes a line above the spinner, or alone when there is none.
    fn line(&self, current: Option<&Drawn>, line: &str) {
        match current {
            Some(drawn) => drawn.bar.suspend(|| self.target.write_line(line)),
            None => self.target.write_line(line),
        }
    }
}

impl Sink for Spinner {
    fn event(&self, event: &Event<'_>) {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        match event {
            Event::TaskStarted { what } => {
                self.clear(&mut current);
                *current = Some(self.start(what, false));
            }
            Event::TaskEnded {
                what,
                outcome,
                elapsed,
            } => {
                self.clear(&mut current);
                self.line(None, &finished_line(what, outcome, *elapsed));
            }
            Event::Note { .. } => self.line(current.as_ref(), &format!("・{}", plain_line(event))),
            Event::StatusLook(look) if look.next_look.is_none() => {
                // The wait is over: its live line goes, and a wait's own spinner too.
                if current.as_ref().is_some_and(|d| d.for_wait) {
                    self.clear(&mut current);
                    self.line(None, &format!("・{}", plain_line(event)));
                } else {
                    self.set_look(None);
                }
            }
            Event::StatusLook(look) => {
                self.set_look(Some(Look {
                    status: status(look),
                    key: format!("{} {}", look.key_column, look.key),
                    waited: look.waited,
                    next_look: look.next_look,
                    seen: Instant::now(),
                }));
                if current.is_none() {
                    *current = Some(self.start(look.column, true));
                }
            }
        }
    }

    fn log(&self, line: &str) {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        let write = || {
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        };
        match current.as_ref() {
            Some(drawn) => drawn.bar.suspend(write),
            None => write(),
        }
    }

    fn finish(&self) {
        self.clear(&mut self.current.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(events: &[Event<'_>]) -> String {
        let plain = Plain::new(Vec::new());
        for e in events {
            plain.event(e);
        }
        String::from_utf8(plain.into_inner()).expect("UTF-8")
    }

    #[test]
    fn plain_lines_start_with_the_step_and_carry_no_colour_or_time() {
        let text = lines(&[
            Event::TaskStarted {
                what: "管理アカウントの登録",
            },
            Event::TaskEnded {
                what: "管理アカウントの登録",
                outcome: Outcome::Done,
                elapsed: Duration::from_millis(1440),
            },
            Event::TaskEnded {
                what: "アカウント一括登録",
                outcome: Outcome::Failed("ファイルの形式が違います"),
                elapsed: Duration::from_millis(3200),
            },
            Event::Note {
                what: "電子証明書のインストール (工事手順⑤⑥)",
                result: "済み",
            },
        ]);
        assert_eq!(
            text,
            "管理アカウントの登録 …\n\
             管理アカウントの登録: 完了 (1.4 s)\n\
             アカウント一括登録: 失敗: ファイルの形式が違います (3.2 s)\n\
             電子証明書のインストール (工事手順⑤⑥): 済み\n"
        );
        assert!(!text.contains('\u{1b}'), "{text}");
    }

    #[test]
    fn a_status_look_says_what_was_seen_how_long_and_when_next() {
        let look = StatusLook {
            column: "登録状況",
            key_column: "受付番号",
            key: "R0001",
            status: Some("登録中"),
            waited: Duration::from_millis(12_300),
            next_look: Some(Duration::from_secs(5)),
        };
        assert_eq!(
            lines(&[Event::StatusLook(look)]),
            "登録状況: 登録中 (受付番号 R0001, 待ち 12 s, 次の確認まで 5 s)\n"
        );
        let unlisted = StatusLook {
            status: None,
            next_look: None,
            ..look
        };
        assert_eq!(
            lines(&[Event::StatusLook(unlisted)]),
            "登録状況: まだ一覧にありません (受付番号 R0001, 待ち 12 s)\n"
        );
    }

    #[test]
    fn a_finished_step_at_a_terminal_is_marked() {
        assert_eq!(
            finished_line(
                "管理アカウントの登録",
                &Outcome::Done,
                Duration::from_millis(1400)
            ),
            format!("{} 管理アカウントの登録  完了 (1.4 s)", marks::DONE)
        );
        assert_eq!(
            finished_line(
                "管理アカウントの登録",
                &Outcome::Failed("ログインできません"),
                Duration::from_millis(900)
            ),
            format!(
                "{} 管理アカウントの登録  失敗: ログインできません (0.9 s)",
                marks::FAILED
            )
        );
    }

    #[test]
    fn a_line_is_scrubbed_of_every_secret_the_process_knows() {
        let redactor = crate::secret::Redactor::new();
        redactor.register(&crate::secret::Secret::new("Zq9#ProgressSecret"));
        let text = lines(&[Event::Note {
            what: "パスワードの変更",
            result: "Zq9#ProgressSecret に変更",
        }]);
        assert!(!text.contains("Zq9#ProgressSecret"), "{text}");
        assert!(text.starts_with("パスワードの変更: "), "{text}");
    }

    #[test]
    fn the_next_look_counts_down() {
        let look = Look {
            status: "登録状況: 登録中".into(),
            key: "受付番号 R0001".into(),
            waited: Duration::from_secs(12),
            next_look: Some(Duration::from_millis(4500)),
            seen: Instant::now(),
        };
        let text = look.text();
        assert!(
            text.starts_with("登録状況: 登録中 · 受付番号 R0001 · 待ち 12 s"),
            "{text}"
        );
        assert!(text.ends_with("次の確認まで 5 s"), "{text}");
        let due = Look {
            next_look: Some(Duration::ZERO),
            ..look
        };
        assert!(due.text().ends_with("確認中 …"), "{}", due.text());
    }
}
