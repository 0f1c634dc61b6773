//! The run's recording: an append-only, redacted log of every step with the
//! pages, screenshots and HTTP responses behind it, which `oqsbot replay`
//! serves again offline.

pub mod format;
pub mod read;
pub mod standin;
pub mod viewer;

use std::collections::HashSet;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use sha2::Digest;

use crate::secret::Redactor;
pub use format::{DownloadEvent, DownloadSummary, Entry, FlowStart, ResponseEvent, StepEvent};
pub use read::Recording;

/// The recording's file name in a run's output folder.
pub const FILE_NAME: &str = "recording.oqsrec";

/// Default bound on the stored resources of one recording.
pub const DEFAULT_CAP_BYTES: u64 = 20 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("cannot use the recording {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the recording {path} is damaged at line {line} ({reason}); only its last line may be cut short")]
    Damaged {
        path: String,
        line: usize,
        reason: String,
    },
    #[error(
        "this is not an oqsbot recording this version can read ({format} version {version}); use the oqsbot that wrote it"
    )]
    Version { format: String, version: u32 },
    #[error("this is not an oqsbot recording: it has no header line")]
    NoHeader,
}

/// A step as captured from the browser, before redaction.
#[derive(Debug, Default)]
pub struct CapturedStep {
    /// The event; its resource hashes are filled in when written.
    pub event: StepEvent,
    /// Every document of the screen after the step.
    pub page: Option<String>,
    pub screenshot: Option<Screenshot>,
    /// One per `event.responses`, in the same order.
    pub bodies: Vec<Option<Vec<u8>>>,
}

/// A JPEG and the text that was readable on screen when it was taken.
#[derive(Debug)]
pub struct Screenshot {
    pub jpeg: Vec<u8>,
    pub visible_text: String,
}

enum Pending {
    Step(Box<CapturedStep>),
    Entry(Box<Entry>),
}

struct Writer {
    file: File,
    path: PathBuf,
    written: HashSet<String>,
    stored: u64,
    cap: u64,
    cap_noted: bool,
    /// A write failed: the file ends where it did.
    broken: bool,
    redactor: Redactor,
    /// While a flow may show a password the run does not know yet, its steps wait here.
    held: Option<Vec<Pending>>,
}

/// Writes the recording. Clones share one file.
#[derive(Clone)]
pub struct Recorder {
    writer: Arc<Mutex<Writer>>,
    steps: Arc<std::sync::atomic::AtomicUsize>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Recorder")
    }
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Recorder {
    /// Starts `path` afresh; an earlier recording there is kept under a dated name.
    pub fn create(
        path: &Path,
        command: &str,
        redactor: Redactor,
        cap: u64,
    ) -> Result<Recorder, RecordingError> {
        let io = |source| RecordingError::Io {
            path: path.display().to_string(),
            source,
        };
        if path.exists() {
            let stamp = std::fs::metadata(path)
                .and_then(|m| m.modified())
                .map(chrono::DateTime::<chrono::Utc>::from)
                .unwrap_or_else(|_| chrono::Utc::now());
            let kept = path.with_extension(format!("{}.oqsrec", stamp.format("%Y%m%dT%H%M%S")));
            std::fs::rename(path, &kept).map_err(io)?;
        }
        let file = crate::owner_only::create_file(path).map_err(io)?;
        let recorder = Recorder {
            steps: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            writer: Arc::new(Mutex::new(Writer {
                file,
                path: path.to_path_buf(),
                written: HashSet::new(),
                stored: 0,
                cap,
                cap_noted: false,
                broken: false,
                redactor,
                held: None,
            })),
        };
        recorder.write(Entry::Header(format::Header {
            format: format::FORMAT.into(),
            version: format::VERSION,
            oqsbot: env!("CARGO_PKG_VERSION").into(),
            command: command.into(),
            started: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }));
        Ok(recorder)
    }

    pub fn path(&self) -> PathBuf {
        self.lock().path.clone()
    }

    /// The file's size now.
    pub fn size(&self) -> u64 {
        std::fs::metadata(self.path()).map(|m| m.len()).unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn flow_started(&self, start: FlowStart) {
        self.write(Entry::Flow(start));
    }

    /// Steps recorded so far, held ones included.
    pub fn step_count(&self) -> usize {
        self.steps.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn step(&self, step: CapturedStep) {
        self.steps.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut w = self.lock();
        match &mut w.held {
            Some(held) => held.push(Pending::Step(Box::new(step))),
            None => w.write_step(step),
        }
    }

    pub fn download(&self, download: DownloadEvent) {
        self.write(Entry::Download(download));
    }

    pub fn note(&self, message: impl Into<String>) {
        self.write(Entry::Note(format::Note {
            ms: now_ms(),
            message: message.into(),
        }));
    }

    pub fn end(&self, outcome: &str, error: Option<String>) {
        // Only a read file or a flow that ended well publishes held pages.
        self.release_without_pages("the run ended before the file it downloaded was read");
        self.write(Entry::End(format::End {
            ms: now_ms(),
            outcome: outcome.into(),
            error,
        }));
    }

    /// Keeps what follows in memory until [`release`](Self::release): the pages
    /// of an issuing flow show a password the run learns only from its PDF.
    pub fn hold(&self) {
        let mut w = self.lock();
        if w.held.is_none() {
            w.held = Some(Vec::new());
        }
    }

    /// Writes what was held, redacted with every secret known now.
    pub fn release(&self) {
        let mut w = self.lock();
        if let Some(held) = w.held.take() {
            for p in held {
                match p {
                    Pending::Step(s) => w.write_step(*s),
                    Pending::Entry(e) => w.write_entry(*e),
                }
            }
        }
    }

    /// Writes the held steps without their pages, screenshots and bodies: a
    /// password was shown that the run could not learn, so no copy of it is kept.
    pub fn release_without_pages(&self, why: &str) {
        let mut w = self.lock();
        if let Some(held) = w.held.take() {
            for p in held {
                match p {
                    Pending::Step(mut s) => {
                        s.page = None;
                        s.screenshot = None;
                        s.bodies.iter_mut().for_each(|b| *b = None);
                        s.event.screenshot_skipped = Some(why.to_string());
                        w.write_step(*s);
                    }
                    Pending::Entry(e) => w.write_entry(*e),
                }
            }
            w.write_entry(Entry::Note(format::Note {
                ms: now_ms(),
                message: format!("pages not kept: {why}"),
            }));
        }
    }

    fn write(&self, entry: Entry) {
        let mut w = self.lock();
        match &mut w.held {
            Some(held) => held.push(Pending::Entry(Box::new(entry))),
            None => w.write_entry(entry),
        }
    }
}

impl Writer {
    fn write_entry(&mut self, entry: Entry) {
        let value = match serde_json::to_value(&entry) {
            Ok(v) => self.redactor.redact_json(&v),
            Err(_) => return,
        };
        let Ok(line) = serde_json::to_string(&value) else {
            return;
        };
        // One unbuffered write per line: a killed run loses at most the line it was writing.
        self.append(line);
    }

    /// Stores a resource once; its hash, or none when the cap is reached.
    fn store(&mut self, kind: format::ResourceKind, bytes: &[u8]) -> Option<String> {
        let hash = hex(&sha2::Sha256::digest(bytes));
        if self.written.contains(&hash) {
            return Some(hash);
        }
        let data = encode(bytes);
        if self.stored + data.len() as u64 > self.cap {
            if !self.cap_noted {
                self.cap_noted = true;
                let message = format!(
                    "the recording reached its cap of {} bytes: later pages, screenshots and bodies are not kept",
                    self.cap
                );
                self.write_entry(Entry::Note(format::Note {
                    ms: now_ms(),
                    message,
                }));
            }
            return None;
        }
        let stored = data.len() as u64;
        // Written as is: its bytes were redacted before hashing.
        let line = serde_json::to_string(&Entry::Resource(format::Resource {
            hash: hash.clone(),
            kind,
            bytes: bytes.len() as u64,
            encoding: "deflate-base64".into(),
            data,
        }))
        .ok()?;
        if !self.append(line) {
            return None;
        }
        self.stored += stored;
        self.written.insert(hash.clone());
        Some(hash)
    }

    /// Appends one line; after a failed write (a full disk) nothing more is
    /// written, so the cut line stays the file's last and the rest still reads.
    fn append(&mut self, mut line: String) -> bool {
        if self.broken {
            return false;
        }
        line.push('\n');
        if let Err(e) = self.file.write_all(line.as_bytes()) {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot write the recording; it ends here");
            self.broken = true;
            return false;
        }
        true
    }

    fn write_step(&mut self, step: CapturedStep) {
        let CapturedStep {
            mut event,
            page,
            screenshot,
            bodies,
        } = step;
        if let Some(page) = page {
            let page = self.redactor.redact(&page);
            event.page = self.store(format::ResourceKind::Page, page.as_bytes());
        }
        if let Some(shot) = screenshot {
            // Pixels cannot be scrubbed: a screenshot with a secret readable on it is not kept.
            if self.redactor.redact(&shot.visible_text) != shot.visible_text {
                event.screenshot_skipped = Some("a secret was readable on the screen".into());
            } else {
                event.screenshot = self.store(format::ResourceKind::Screenshot, &shot.jpeg);
            }
        }
        for (response, body) in event.responses.iter_mut().zip(bodies) {
            let Some(body) = body else { continue };
            if let Some(kept) = redact_body(&self.redactor, response.content_type.as_deref(), &body) {
                response.body = self.store(format::ResourceKind::Body, &kept);
            }
        }
        self.write_entry(Entry::Step(event));
    }
}

/// The body as it may be kept: text of a known kind redacted in its own
/// encoding, images as they are, anything else (a PDF, a certificate, an
/// office file, bytes of no declared kind) not at all.
pub fn redact_body(redactor: &Redactor, content_type: Option<&str>, body: &[u8]) -> Option<Vec<u8>> {
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    let mime = ct.split(';').next().unwrap_or("").trim();
    // Files by their first bytes, whatever the header claims: PDF, zip (office files), DER.
    if body.starts_with(b"%PDF") || body.starts_with(b"PK\x03\x04") || body.starts_with(&[0x30, 0x82]) {
        return None;
    }
    const TEXT: &[&str] = &[
        "text/html",
        "text/plain",
        "text/css",
        "text/javascript",
        "application/javascript",
        "application/x-javascript",
        "application/json",
        "application/xhtml+xml",
        "text/xml",
        "application/xml",
    ];
    if TEXT.contains(&mime) {
        if let Some((encoding, _)) = encoding_rs::Encoding::for_bom(body) {
            let (text, had_errors) = encoding.decode_with_bom_removal(body);
            return (!had_errors).then(|| redactor.redact(&text).into_bytes());
        }
        if let Ok(text) = std::str::from_utf8(body) {
            return Some(redactor.redact(text).into_bytes());
        }
        let encoding = crate::net::declared_charset(&ct, body).unwrap_or(encoding_rs::SHIFT_JIS);
        let (text, _, had_errors) = encoding.decode(body);
        // Text that does not decode cleanly might hide a secret in a form no scrub finds.
        if had_errors {
            return None;
        }
        let redacted = redactor.redact(&text);
        let (bytes, _, _) = encoding.encode(&redacted);
        return Some(bytes.into_owned());
    }
    if mime.starts_with("image/") || mime.starts_with("font/") {
        return Some(body.to_vec());
    }
    None
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes to `deflate-base64`.
pub fn encode(bytes: &[u8]) -> String {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    let compressed = enc
        .write_all(bytes)
        .and_then(|_| enc.finish())
        .unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(compressed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn recorder(dir: &Path, redactor: &Redactor) -> Recorder {
        Recorder::create(&dir.join(FILE_NAME), "run", redactor.clone(), DEFAULT_CAP_BYTES).unwrap()
    }

    fn step(page: &str) -> CapturedStep {
        CapturedStep {
            event: StepEvent {
                flow: "login".into(),
                step: 1,
                action: "fill".into(),
                outcome: "ok".into(),
                ..Default::default()
            },
            page: Some(page.into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_page_is_stored_once_and_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let redactor = Redactor::new();
        redactor.register(&Secret::new("Pass&word1"));
        let r = recorder(dir.path(), &redactor);
        r.step(step("<p>Pass&amp;word1</p>"));
        r.step(step("<p>Pass&amp;word1</p>"));
        r.end("completed", None);
        let rec = Recording::open(&dir.path().join(FILE_NAME)).unwrap();
        assert_eq!(rec.resource_count(), 1);
        let steps: Vec<_> = rec.steps().collect();
        assert_eq!(steps[0].page, steps[1].page);
        let page = rec.resource_text(steps[0].page.as_deref().unwrap()).unwrap();
        assert_eq!(page, "<p>********</p>");
    }

    #[test]
    fn held_steps_are_redacted_with_a_secret_learned_later() {
        let dir = tempfile::tempdir().unwrap();
        let redactor = Redactor::new();
        let r = recorder(dir.path(), &redactor);
        r.hold();
        r.step(step("<span id=pw>Issued#2026</span>"));
        assert!(
            !std::fs::read_to_string(dir.path().join(FILE_NAME))
                .unwrap()
                .contains("step"),
            "a held step is not written"
        );
        redactor.register(&Secret::new("Issued#2026"));
        r.release();
        let rec = Recording::open(&dir.path().join(FILE_NAME)).unwrap();
        let page = rec.steps().next().and_then(|s| s.page.clone()).unwrap();
        assert_eq!(rec.resource_text(&page).unwrap(), "<span id=pw>********</span>");
    }

    #[test]
    fn a_screenshot_showing_a_secret_is_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let redactor = Redactor::new();
        redactor.register(&Secret::new("Shown#2026"));
        let r = recorder(dir.path(), &redactor);
        let mut s = step("<p>x</p>");
        s.screenshot = Some(Screenshot {
            jpeg: vec![0xff, 0xd8, 1, 2],
            visible_text: "パスワード Shown#2026".into(),
        });
        r.step(s);
        let rec = Recording::open(&dir.path().join(FILE_NAME)).unwrap();
        let event = rec.steps().next().unwrap();
        assert_eq!(event.screenshot, None);
        assert!(event.screenshot_skipped.is_some());
    }

    #[test]
    fn a_shift_jis_body_is_redacted_in_its_own_encoding() {
        let redactor = Redactor::new();
        redactor.register(&Secret::new("Sjis#Pass1"));
        let (body, _, _) = encoding_rs::SHIFT_JIS.encode("<p>初期パスワード Sjis#Pass1</p>");
        let kept = redact_body(&redactor, Some("text/html; charset=Shift_JIS"), &body).unwrap();
        let (text, _, _) = encoding_rs::SHIFT_JIS.decode(&kept);
        assert_eq!(text, "<p>初期パスワード ********</p>");
        assert_eq!(redact_body(&redactor, Some("application/pdf"), b"%PDF"), None);
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_an_earlier_one_is_damage() {
        let dir = tempfile::tempdir().unwrap();
        let r = recorder(dir.path(), &Redactor::new());
        r.step(step("<p>a</p>"));
        let path = dir.path().join(FILE_NAME);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(b"{\"t\":\"step\",\"flow\":\"lo");
        let rec = Recording::parse(&bytes).unwrap();
        assert!(rec.torn_tail);
        assert_eq!(rec.steps().count(), 1);
        bytes.extend_from_slice(b"\n{}\n");
        assert!(matches!(
            Recording::parse(&bytes),
            Err(RecordingError::Damaged { .. })
        ));
    }

    #[test]
    fn the_cap_bounds_stored_resources_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let r = Recorder::create(&dir.path().join(FILE_NAME), "run", Redactor::new(), 64).unwrap();
        for i in 0..20 {
            r.step(step(&format!("<p>page {i} {}</p>", "x".repeat(i * 50))));
        }
        let rec = Recording::open(&dir.path().join(FILE_NAME)).unwrap();
        assert!(rec.resource_count() < 20);
        assert!(
            rec.entries
                .iter()
                .any(|e| matches!(e, Entry::Note(n) if n.message.contains("cap")))
        );
    }
}
