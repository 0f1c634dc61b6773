//! The recording's file format, `oqsrec` version 1.
//!
//! One JSON object per line, appended as the run goes, so a run killed at
//! any moment leaves every line before the last one readable. A resource
//! (page source, screenshot, HTTP body) is a line of its own, addressed by
//! the SHA-256 of its stored bytes and written once; entries name it by hash.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const FORMAT: &str = "oqsrec";
pub const VERSION: u32 = 1;

/// One line of a recording.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Entry {
    Header(Header),
    Resource(Resource),
    Flow(FlowStart),
    Step(StepEvent),
    Download(DownloadEvent),
    Note(Note),
    End(End),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    pub version: u32,
    /// The oqsbot version that wrote it.
    pub oqsbot: String,
    /// `run`, `flow` or `replay`.
    pub command: String,
    /// RFC 3339, UTC.
    pub started: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    /// Page source: every document of the screen, frames included.
    Page,
    /// A JPEG screenshot, downscaled.
    Screenshot,
    /// An HTTP response body the browser received.
    Body,
}

/// Stored bytes: deflate-compressed, then base64.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Resource {
    /// SHA-256 of the stored (redacted, uncompressed) bytes, hex.
    pub hash: String,
    pub kind: ResourceKind,
    /// The stored bytes' length before compression.
    pub bytes: u64,
    /// Always `deflate-base64` in version 1.
    pub encoding: String,
    pub data: String,
}

/// A flow begins; `depth` 0 is a flow the command ran, deeper ones were called.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FlowStart {
    pub flow: String,
    pub depth: usize,
    /// Text variables, redacted.
    pub vars: BTreeMap<String, String>,
    /// Names of secret variables; their values are never recorded.
    pub secrets: Vec<String>,
    /// File variables: name to the file's name (not its path or content).
    pub files: BTreeMap<String, String>,
}

/// One step as it ran.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct StepEvent {
    pub flow: String,
    /// 1-based, as in the flow file.
    pub step: usize,
    pub action: String,
    pub name: Option<String>,
    /// The locators or conditions the step looked for, in order.
    pub tried: Vec<String>,
    /// The one that matched.
    pub matched: Option<String>,
    pub url_before: Option<String>,
    pub url_after: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub started_ms: i64,
    pub ended_ms: i64,
    /// `ok`, `skipped` or `failed`.
    pub outcome: String,
    pub error: Option<String>,
    /// Hash of the page source after the step.
    pub page: Option<String>,
    /// Hash of the screenshot after the step.
    pub screenshot: Option<String>,
    /// Why no screenshot was kept, when none was.
    pub screenshot_skipped: Option<String>,
    /// HTTP responses the browser completed during the step, in order.
    pub responses: Vec<ResponseEvent>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ResponseEvent {
    pub method: String,
    pub url: String,
    pub status: u16,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub content_disposition: Option<String>,
    /// Hash of the body; none for a download (kept as a [`DownloadEvent`]) or a body not captured.
    pub body: Option<String>,
    /// The response delivered a file the run downloaded.
    pub download: bool,
}

/// A file the site sent: its summary and hash, never its content.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DownloadEvent {
    pub flow: String,
    pub step: usize,
    /// The flow variable that received it.
    pub into: String,
    pub file_name: String,
    /// SHA-256 of the file as received.
    pub sha256: String,
    pub bytes: u64,
    pub summary: DownloadSummary,
}

/// What a downloaded file said, without the secrets it carries.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DownloadSummary {
    /// A ユーザ設定情報 PDF.
    CredentialPdf {
        environment: Option<String>,
        institution_code: Option<String>,
        institution_name: Option<String>,
        user_id: Option<String>,
        user_name: Option<String>,
        /// The password's length; the password itself is never recorded.
        password_chars: Option<usize>,
        password_expires: Option<String>,
        reset_user_id: Option<String>,
        issued: Option<String>,
    },
    /// A client certificate.
    Pkcs12 {
        subject: Option<String>,
        institution_code: Option<String>,
        not_after: Option<String>,
    },
    /// A CSV such as the bulk registration's result.
    Csv { rows: usize, header: Vec<String> },
    /// Anything else.
    Other { content_type: Option<String> },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Note {
    pub ms: i64,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct End {
    pub ms: i64,
    /// `completed`, `failed` or the run's outcome word.
    pub outcome: String,
    pub error: Option<String>,
}
