//! The log on standard error. Nothing in it may carry a secret, at any level,
//! whoever logs it: every line is scrubbed of every secret the process knows,
//! and other crates' debug and trace events (the WebDriver client logs its
//! request bodies, and a typed password travels there one character at a time,
//! where no scrubbing can find it) are never shown.
//!
//! Without RUST_LOG it holds only warnings and errors, timestamped only when
//! written to a file: a run's progress is the command line's to show
//! ([`crate::progress`]). With RUST_LOG it is the timestamped diagnostic log;
//! at `debug`, progress events included.

use std::io::{IsTerminal, Write};

use tracing_subscriber::filter::{EnvFilter, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;

/// Only what needs a person's attention; RUST_LOG overrides it.
const DEFAULT_FILTER: &str = "oqsbot=warn,oqs_sim=warn";

/// Our own crates, whose events are written with secrets in mind.
fn ours(target: &str) -> bool {
    ["oqsbot", "oqs_sim"]
        .iter()
        .any(|c| target == *c || target.starts_with(&format!("{c}::")))
}

pub fn init() {
    let diagnostics = std::env::var_os("RUST_LOG").is_some();
    let env = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let dependencies_quiet = filter_fn(|meta| ours(meta.target()) || *meta.level() <= tracing::Level::INFO);
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(ScrubbedStderr)
        // A batch's job writes to its log file, where colour codes are noise.
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    // Timestamps help whoever reads a diagnostic log or a log file later, not a
    // warning among progress lines at a terminal.
    let layer = if diagnostics || !std::io::stderr().is_terminal() {
        layer.boxed()
    } else {
        layer.without_time().boxed()
    };
    let layer = layer.with_filter(env).with_filter(dependencies_quiet);
    // Already set (a second call, a test harness): the first one stands.
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// Standard error, with every secret of the process scrubbed from each line.
struct ScrubbedStderr;

impl<'a> MakeWriter<'a> for ScrubbedStderr {
    type Writer = ScrubbedLine;

    fn make_writer(&'a self) -> Self::Writer {
        ScrubbedLine(Vec::new())
    }
}

/// One event, collected whole and scrubbed as it is let go.
struct ScrubbedLine(Vec<u8>);

impl Write for ScrubbedLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for ScrubbedLine {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let line = crate::secret::redact_for_log(&String::from_utf8_lossy(&self.0));
        // Past a spinner, when one is drawn.
        crate::progress::log_line(&line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_crates_count_as_ours() {
        assert!(ours("oqsbot"));
        assert!(ours("oqsbot::flow::engine"));
        assert!(ours("oqs_sim::server"));
        assert!(!ours("thirtyfour::session::http"));
        assert!(!ours("oqsbotx"));
    }

    #[test]
    fn a_line_is_scrubbed_of_every_secret_the_process_knows() {
        let redactor = crate::secret::Redactor::new();
        redactor.register(&crate::secret::Secret::new("Zq9#LogSecret"));
        let scrubbed = crate::secret::redact_for_log("typed Zq9#LogSecret into パスワード");
        assert!(!scrubbed.contains("Zq9#LogSecret"), "{scrubbed}");
        assert!(scrubbed.contains("パスワード"), "{scrubbed}");
    }
}
