//! Starting the driver: with no more of oqsbot's environment than a browser
//! needs (the job's secrets are given to oqsbot as environment variables, and
//! a child's environment can be read by other local processes), and on the
//! port the driver itself chose and announced.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{BufRead, Read};
use std::process::{ChildStderr, ChildStdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Variables a driver and its browser may need: where programs, fonts, the
/// display, temporary files and the user's folders are; the language and
/// zone; a proxy of the clinic's network; and Windows' own.
const PASSED_ON: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TMPDIR",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "XAUTHORITY",
    "DBUS_SESSION_BUS_ADDRESS",
    "FONTCONFIG_FILE",
    "FONTCONFIG_PATH",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "SYSTEMROOT",
    "SYSTEMDRIVE",
    "WINDIR",
    "COMSPEC",
    "PATHEXT",
    "TEMP",
    "TMP",
    "USERPROFILE",
    "USERNAME",
    "USERDOMAIN",
    "COMPUTERNAME",
    "APPDATA",
    "LOCALAPPDATA",
    "PROGRAMDATA",
    "PROGRAMFILES",
    "PROGRAMFILES(X86)",
    "PROGRAMW6432",
    "COMMONPROGRAMFILES",
    "COMMONPROGRAMFILES(X86)",
    "NUMBER_OF_PROCESSORS",
    "PROCESSOR_ARCHITECTURE",
    "OS",
];

/// Whether a variable of this name is passed to the driver.
pub fn passed_on(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    PASSED_ON.contains(&upper.as_str()) || upper.starts_with("LC_") || upper.starts_with("XDG_")
}

/// This process's environment, as far as a driver and its browser need it.
pub fn child_environment() -> Vec<(OsString, OsString)> {
    std::env::vars_os()
        .filter(|(name, _)| name.to_str().is_some_and(passed_on))
        .collect()
}

/// The port in chromedriver's (or msedgedriver's) "… started successfully on port 44167."
pub fn parse_announced_port(line: &str) -> Option<u16> {
    if !line.contains("successfully") {
        return None;
    }
    let (_, after) = line.rsplit_once("port")?;
    let digits: String = after
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok().filter(|p| *p != 0)
}

/// The driver's last words before the port, from both of its streams: they say
/// why a driver that never announced one did not start ("bind() failed", …).
/// Once the port is announced, nothing more is kept: later errors are about
/// pages and stay out of oqsbot's messages.
#[derive(Clone, Default)]
pub struct LastLines(Arc<Kept>);

#[derive(Default)]
struct Kept {
    lines: Mutex<VecDeque<String>>,
    port_announced: AtomicBool,
}

/// Enough to hold chromedriver's reason and the line before it.
const LAST_LINES_KEPT: usize = 4;
/// A line longer than this is cut: it goes into an error message.
const LAST_LINE_CHARS: usize = 300;

impl LastLines {
    fn keep(&self, line: &[u8]) {
        let text: String = String::from_utf8_lossy(line)
            .trim()
            .chars()
            .take(LAST_LINE_CHARS)
            .collect();
        if text.is_empty() || self.0.port_announced.load(Ordering::Relaxed) {
            return;
        }
        if let Ok(mut lines) = self.0.lines.lock() {
            if lines.len() == LAST_LINES_KEPT {
                lines.pop_front();
            }
            lines.push_back(text);
        }
    }

    fn close(&self) {
        self.0.port_announced.store(true, Ordering::Relaxed);
    }

    /// The lines kept, on one line; empty if the driver said nothing.
    pub fn joined(&self) -> String {
        self.0
            .lines
            .lock()
            .map(|lines| lines.iter().cloned().collect::<Vec<_>>().join(" / "))
            .unwrap_or_default()
    }
}

/// Reads the driver's standard output on a thread of its own until the port
/// is announced, then keeps draining it so the driver never blocks on a full pipe.
/// The receiver fails when the output ends without a port: the driver has exited.
pub fn announced_port(stdout: ChildStdout, last: LastLines) -> tokio::sync::oneshot::Receiver<u16> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut tx = Some(tx);
    each_line(stdout, move |line| {
        last.keep(line);
        if let Some(port) = parse_announced_port(&String::from_utf8_lossy(line))
            && let Some(tx) = tx.take()
        {
            last.close();
            let _ = tx.send(port);
        }
    });
    rx
}

/// Drains the driver's error output, keeping its last lines while it starts.
/// The receiver hears when the output has ended, every line kept.
pub fn drain_errors(stderr: ChildStderr, last: LastLines) -> tokio::sync::oneshot::Receiver<()> {
    each_line(stderr, move |line| last.keep(line))
}

/// Hands each line of `stream` to `on_line` on a thread of its own, until the
/// stream ends; the receiver hears when it has.
fn each_line(
    stream: impl Read + Send + 'static,
    mut on_line: impl FnMut(&[u8]) + Send + 'static,
) -> tokio::sync::oneshot::Receiver<()> {
    let (ended, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut reader = std::io::BufReader::new(stream);
        let mut line = Vec::new();
        // Bytes, not text: a line that is not UTF-8 must not stop the draining.
        while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
            on_line(&line);
            line.clear();
        }
        let _ = ended.send(());
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_is_the_one_the_driver_announced() {
        assert_eq!(
            parse_announced_port("ChromeDriver was started successfully on port 44167."),
            Some(44167)
        );
        assert_eq!(
            parse_announced_port("Microsoft Edge WebDriver was started successfully on port 9515."),
            Some(9515)
        );
        assert_eq!(
            parse_announced_port("Starting ChromeDriver 156.0.8078.114 (…) on port 0"),
            None
        );
        assert_eq!(parse_announced_port("Only local connections are allowed."), None);
    }

    #[test]
    fn the_last_words_before_the_port_are_kept_and_nothing_after() {
        let last = LastLines::default();
        for line in ["one", "", "two", "three", "four", "five"] {
            last.keep(format!("{line}\n").as_bytes());
        }
        assert_eq!(last.joined(), "two / three / four / five");
        last.keep("x".repeat(1000).as_bytes());
        assert!(
            last.joined()
                .ends_with(&format!(" / {}", "x".repeat(LAST_LINE_CHARS)))
        );
        last.close();
        last.keep(b"[SEVERE]: about a page\n");
        assert!(!last.joined().contains("about a page"));
    }

    #[test]
    fn secrets_in_the_environment_stay_with_oqsbot() {
        for name in [
            "T_CERT",
            "OQS_ADMIN_PW",
            "CERT_PASSWORD",
            "SECRET_NUMBER",
            "AWS_SECRET_ACCESS_KEY",
        ] {
            assert!(!passed_on(name), "{name}");
        }
        for name in [
            "PATH",
            "HOME",
            "LC_ALL",
            "XDG_RUNTIME_DIR",
            "SystemRoot",
            "LOCALAPPDATA",
            "DISPLAY",
        ] {
            assert!(passed_on(name), "{name}");
        }
    }
}
