//! Replay: the recorded responses served again by wiremock, in recorded order
//! for each method and path, and the same flows run against them in a real
//! browser, step by step compared with the recording.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use wiremock::{Mock, MockServer, Respond, ResponseTemplate};

use crate::browser::{Browser, BrowserError, BrowserOptions};
use crate::flow::engine::{Engine, FlowError};
use crate::flow::model::FlowLibrary;
use crate::recording::format::{DownloadEvent, Entry, ResponseEvent, StepEvent};
use crate::recording::{Recorder, Recording};
use crate::secret::{Redactor, Secret};

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Recording(#[from] crate::recording::RecordingError),
    #[error(
        "the recording holds no HTTP responses (its browser offered no WebDriver BiDi network capture), so it can be viewed with --html but not replayed"
    )]
    NoResponses,
    #[error("the recording holds no flow to replay")]
    NoFlows,
    #[error("cannot start the replay's web server: {0}")]
    Server(String),
    #[error("cannot prepare the replay's folder {path}: {source}")]
    Folder { path: String, source: std::io::Error },
    #[error(transparent)]
    Browser(#[from] BrowserError),
}

/// A step of the replay beside the step of the recording.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub recorded: Option<StepEvent>,
    pub replayed: Option<StepEvent>,
    /// What differed; empty when the step did the same.
    pub differences: Vec<String>,
    /// What differed without counting as a difference: with other flows, a
    /// step may match another of its alternatives.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every step did what it did in the recording.
    Same,
    /// The replay did the same until the step that failed in the recording,
    /// which passes now (a fixed flow, proven on the recording).
    FailurePassesNow,
    /// Every recorded step did the same, and the recording stops there: its
    /// run was killed before it could write its end.
    RecordingEnds,
    /// The replay did something else at this step (0-based).
    Diverged(usize),
}

#[derive(Debug)]
pub struct ReplayOutcome {
    pub comparisons: Vec<Comparison>,
    pub verdict: Verdict,
    /// The replay's own recording, for its viewer.
    pub recording: PathBuf,
    /// How the last replayed flow failed, if it did: what a run would have reported.
    pub failure: Option<Box<FlowError>>,
    /// Requests the recording holds no answer for (answered 404), in order.
    pub unmatched: Vec<String>,
}

pub struct ReplayOptions {
    pub flows_dir: Option<PathBuf>,
    pub browser: BrowserOptions,
    /// Where the replay keeps its downloads and its own recording.
    pub work_dir: PathBuf,
    /// Recorded answers served otherwise: the portal's answers a simulator
    /// cannot give on demand (a server error, a maintenance page, a changed
    /// label, a response that never comes), on an otherwise recorded run.
    pub changes: Vec<ChangedAnswer>,
}

/// One request's answer, served otherwise than recorded.
#[derive(Debug, Clone)]
pub struct ChangedAnswer {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, with the query if the recorded request had one.
    pub path: String,
    /// Which request to that method and path, from 1.
    pub nth: usize,
    pub answer: Answer,
}

#[derive(Debug, Clone)]
pub enum Answer {
    /// This status and HTML page instead.
    Page { status: u16, html: String },
    /// The recorded answer with one text replaced by another.
    Edited { from: String, to: String },
    /// Headers and body never come.
    Never,
}

/// Long enough to outlast any page-load timeout; the server's thread ends the wait when it stops.
const NEVER: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

/// One recorded response, ready to serve.
#[derive(Clone)]
struct Served {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Serves each method and path's responses in recorded order; the last one again after that.
struct Sequence {
    by_key: Mutex<HashMap<String, (usize, Vec<Served>)>>,
    /// Requests with no recorded answer, shared by every site's server.
    unmatched: std::sync::Arc<Mutex<Vec<String>>>,
    /// By request key and 1-based count.
    changes: HashMap<(String, usize), Answer>,
}

impl Respond for Sequence {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let key = request_key(request.method.as_ref(), request.url.path(), request.url.query());
        let mut map = self.by_key.lock().unwrap_or_else(|e| e.into_inner());
        let Some((next, list)) = map.get_mut(&key) else {
            let mut unmatched = self.unmatched.lock().unwrap_or_else(|e| e.into_inner());
            // Bounded: a page that polls an unknown path must not grow this
            // without end. The browser's own favicon request is no page's.
            if unmatched.len() < 100 && !unmatched.contains(&key) && request.url.path() != "/favicon.ico" {
                unmatched.push(key);
            }
            return ResponseTemplate::new(404).set_body_string("not in the recording");
        };
        let i = (*next).min(list.len().saturating_sub(1));
        *next += 1;
        let Some(served) = list.get(i) else {
            return ResponseTemplate::new(404);
        };
        let mut body = served.body.clone();
        match self.changes.get(&(key, *next)) {
            Some(Answer::Page { status, html }) => {
                return ResponseTemplate::new(*status)
                    .insert_header("content-type", "text/html; charset=utf-8")
                    .set_body_bytes(html.as_bytes().to_vec());
            }
            Some(Answer::Never) => return ResponseTemplate::new(200).set_delay(NEVER),
            Some(Answer::Edited { from, to }) => body = replace_bytes(&body, from.as_bytes(), to.as_bytes()),
            None => {}
        }
        let mut t = ResponseTemplate::new(served.status).set_body_bytes(body);
        for (name, value) in &served.headers {
            t = t.insert_header(name.as_str(), value.as_str());
        }
        t
    }
}

/// Every `from` in `bytes` replaced by `to`.
fn replace_bytes(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    if from.is_empty() {
        return bytes.to_vec();
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

fn request_key(method: &str, path: &str, query: Option<&str>) -> String {
    match query {
        Some(q) if !q.is_empty() => format!("{} {path}?{q}", method.to_ascii_uppercase()),
        _ => format!("{} {path}", method.to_ascii_uppercase()),
    }
}

fn origin_of(url: &str) -> Option<String> {
    let u = reqwest::Url::parse(url).ok()?;
    Some(u.origin().ascii_serialization())
}

/// The recorded origins served again, each by a server of its own.
struct Sites {
    /// Kept alive while the replay runs: dropping one stops it.
    _servers: Vec<MockServer>,
    unmatched: std::sync::Arc<Mutex<Vec<String>>>,
    /// Recorded origin to the local server's.
    origins: BTreeMap<String, String>,
}

impl Sites {
    /// Longest origin first: `http://h:4432` must not eat into `http://h:44321`.
    fn by_length(&self) -> Vec<(&String, &String)> {
        let mut pairs: Vec<_> = self.origins.iter().collect();
        pairs.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
        pairs
    }

    fn rewrite(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (from, to) in self.by_length() {
            out = out.replace(from.as_str(), to);
        }
        out
    }

    /// As `rewrite`, on bytes in any ASCII-compatible encoding (a Shift_JIS page).
    fn rewrite_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        for (from, to) in self.by_length() {
            out = replace_bytes(&out, from.as_bytes(), to.as_bytes());
        }
        out
    }

    /// A replayed URL with the recorded origin put back, for comparison.
    fn unrewrite(&self, text: &str) -> String {
        let mut pairs: Vec<_> = self.origins.iter().collect();
        pairs.sort_by_key(|(_, to)| std::cmp::Reverse(to.len()));
        let mut out = text.to_string();
        for (from, to) in pairs {
            out = out.replace(to.as_str(), from);
        }
        out
    }
}

async fn serve(recording: &Recording, changes: &[ChangedAnswer]) -> Result<Sites, ReplayError> {
    let mut origins = BTreeMap::new();
    for step in recording.steps() {
        for r in &step.responses {
            if let Some(o) = origin_of(&r.url) {
                origins.entry(o).or_insert_with(String::new);
            }
        }
    }
    if origins.is_empty() {
        return Err(ReplayError::NoResponses);
    }
    let mut servers = Vec::new();
    for (_, local) in origins.iter_mut() {
        // Bound here, so that a failure is an error rather than wiremock's panic.
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
            .map_err(|e| ReplayError::Server(format!("cannot listen on 127.0.0.1: {e}")))?;
        let server = MockServer::builder().listener(listener).start().await;
        *local = server.uri();
        servers.push(server);
    }
    let sites = Sites {
        _servers: Vec::new(),
        unmatched: Default::default(),
        origins,
    };
    let mut per_origin: BTreeMap<String, HashMap<String, (usize, Vec<Served>)>> = BTreeMap::new();
    let downloads: Vec<&DownloadEvent> = recording
        .entries
        .iter()
        .filter_map(|e| match e {
            Entry::Download(d) => Some(d),
            _ => None,
        })
        .collect();
    for step in recording.steps() {
        for r in &step.responses {
            let Some(origin) = origin_of(&r.url) else { continue };
            let Ok(url) = reqwest::Url::parse(&r.url) else {
                continue;
            };
            let served = served(recording, &sites, step, r, &downloads);
            per_origin
                .entry(origin)
                .or_default()
                .entry(request_key(&r.method, url.path(), url.query()))
                .or_insert_with(|| (0, Vec::new()))
                .1
                .push(served);
        }
    }
    let changes: HashMap<(String, usize), Answer> = changes
        .iter()
        .map(|c| {
            let (path, query) = match c.path.split_once('?') {
                Some((p, q)) => (p, Some(q)),
                None => (c.path.as_str(), None),
            };
            ((request_key(&c.method, path, query), c.nth), c.answer.clone())
        })
        .collect();
    for (server, (origin, _)) in servers.iter().zip(sites.origins.iter()) {
        let by_key = per_origin.remove(origin).unwrap_or_default();
        Mock::given(wiremock::matchers::any())
            .respond_with(Sequence {
                by_key: Mutex::new(by_key),
                unmatched: sites.unmatched.clone(),
                changes: changes.clone(),
            })
            .mount(server)
            .await;
    }
    Ok(Sites {
        _servers: servers,
        ..sites
    })
}

fn served(
    recording: &Recording,
    sites: &Sites,
    step: &StepEvent,
    r: &ResponseEvent,
    downloads: &[&DownloadEvent],
) -> Served {
    let mut headers = Vec::new();
    if let Some(ct) = &r.content_type {
        headers.push(("content-type".to_string(), ct.clone()));
    }
    if let Some(location) = &r.location {
        headers.push(("location".to_string(), sites.rewrite(location)));
    }
    if let Some(d) = &r.content_disposition {
        headers.push(("content-disposition".to_string(), d.clone()));
    }
    let body = if r.download {
        // A stand-in built from the file's summary, with placeholder secrets.
        downloads
            .iter()
            .find(|d| d.flow == step.flow && d.step == step.step)
            .and_then(|d| crate::recording::standin::build(&d.summary, &d.file_name).ok())
            .unwrap_or_default()
    } else {
        match r.body.as_deref().and_then(|h| recording.resource(h)) {
            Some(bytes) => sites.rewrite_bytes(&bytes),
            None => Vec::new(),
        }
    };
    Served {
        status: r.status,
        headers,
        body,
    }
}

/// The file name of a variable that held an absolute file path when it was
/// recorded, on this system or the other (a Windows terminal's `C:\…\a.csv`
/// replayed on Linux, and back).
fn recorded_file_name(value: &str) -> Option<&str> {
    let bytes = value.as_bytes();
    let windows_absolute = (bytes.len() > 3
        && bytes[0].is_ascii_alphabetic()
        && bytes[1] == b':'
        && matches!(bytes[2], b'\\' | b'/'))
        || value.starts_with("\\\\");
    if !(value.starts_with('/') || windows_absolute) || value.contains('\n') {
        return None;
    }
    let name = value.rsplit(['/', '\\']).next()?;
    // A file, not a folder or a URL path: it has an extension.
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !ext.is_empty() => Some(name),
        _ => None,
    }
}

/// Placeholder for every secret the recorded flow was given.
const PLACEHOLDER_SECRET: &str = "Replay0000";

/// Runs the recording's flows again against its own responses.
/// Keeps nothing: a replay writes to no credential store.
struct Discard;

impl crate::flow::engine::Keeper for Discard {
    fn keep(&self, _user_id: &str, _password: &crate::secret::Secret) -> Result<(), String> {
        Ok(())
    }
}

pub async fn replay(recording: &Recording, options: ReplayOptions) -> Result<ReplayOutcome, ReplayError> {
    let flows: Vec<&crate::recording::FlowStart> = recording
        .entries
        .iter()
        .filter_map(|e| match e {
            Entry::Flow(f) if f.depth == 0 => Some(f),
            _ => None,
        })
        .collect();
    if flows.is_empty() {
        return Err(ReplayError::NoFlows);
    }
    crate::owner_only::private_umask();
    let sites = serve(recording, &options.changes).await?;
    let folder = |path: &Path| {
        crate::owner_only::create_dir(path).map_err(|source| ReplayError::Folder {
            path: path.display().to_string(),
            source,
        })
    };
    folder(&options.work_dir)?;
    let files_dir = options.work_dir.join("files");
    folder(&files_dir)?;
    let redactor = Redactor::new();
    let own = options.work_dir.join(crate::recording::FILE_NAME);
    let recorder = Recorder::create(
        &own,
        "replay",
        redactor.clone(),
        crate::recording::DEFAULT_CAP_BYTES,
    )?;
    let mut browser_options = options.browser;
    browser_options.capture_network = false;
    browser_options.loopback_only = true;
    let browser = Browser::start(browser_options).await?;
    let mut engine = Engine::new(
        &browser,
        FlowLibrary::new(options.flows_dir.as_deref()),
        redactor,
        &options.work_dir.join("failures"),
    );
    engine.record_to(recorder.clone());
    // What a replayed screen shows is the recording's redacted stand-in, never a password to keep.
    engine.keep_issued_with(std::sync::Arc::new(Discard));
    let recorded: Vec<StepEvent> = recording.steps().cloned().collect();
    let ended = recording.entries.iter().any(|e| matches!(e, Entry::End(_)));
    let mut comparisons = Vec::new();
    let mut verdict = Verdict::Same;
    let mut failure = None;
    for flow in flows {
        for (name, value) in &flow.vars {
            // A file the run made for the flow (the CSV to upload) is not in the recording: a stand-in is.
            if let Some(file) = recorded_file_name(value) {
                let standin = files_dir.join(file);
                let _ = std::fs::write(&standin, b"oqsbot replay stand-in\r\n");
                engine.set(name, &standin.display().to_string());
                continue;
            }
            engine.set(name, &sites.rewrite(value));
        }
        for name in &flow.secrets {
            engine.set_secret(name, Secret::new(PLACEHOLDER_SECRET));
        }
        for (name, file) in &flow.files {
            let path = files_dir.join(if file.is_empty() { name } else { file });
            let _ = std::fs::write(&path, b"oqsbot replay stand-in\n");
            engine.set_file(name, path);
        }
        // Past the recording's last step nothing was recorded to serve: the flow is cut there.
        let limit = recorded.len();
        let beyond = async {
            while recorder.step_count() <= limit {
                tokio::time::sleep(crate::browser::POLL).await;
            }
        };
        failure = tokio::select! {
            result = engine.run(&flow.flow) => result.err(),
            _ = beyond => None,
        };
        recorder.release();
        let replayed: Vec<StepEvent> = Recording::open(&own)?.steps().cloned().collect();
        let (mut list, v) = compare(&recorded, &replayed, &sites, options.flows_dir.is_some());
        verdict = match v {
            // A killed run's recording stops mid-way: going on past it is no difference.
            Verdict::Diverged(i) if !ended && i == recorded.len() => {
                list.truncate(i);
                Verdict::RecordingEnds
            }
            other => other,
        };
        comparisons = list;
        if verdict != Verdict::Same {
            break;
        }
    }
    recorder.end("replayed", None);
    browser.quit().await;
    // A replay that stopped early left recorded steps it never reached.
    if verdict == Verdict::Same && comparisons.len() < recorded.len() {
        let at = comparisons.len();
        comparisons.push(Comparison {
            recorded: recorded.get(at).cloned(),
            replayed: None,
            differences: vec!["the replay ran no more steps".into()],
            notes: Vec::new(),
        });
        verdict = Verdict::Diverged(at);
    }
    let unmatched = sites.unmatched.lock().map(|u| u.clone()).unwrap_or_default();
    drop(sites);
    Ok(ReplayOutcome {
        comparisons,
        verdict,
        recording: own,
        failure,
        unmatched,
    })
}

/// The steps so far, side by side, and what to make of them.
/// `other_flows`: the replay runs flows other than the recorded ones, so a
/// step matching another of its alternatives is a note, not a difference.
fn compare(
    recorded: &[StepEvent],
    replayed: &[StepEvent],
    sites: &Sites,
    other_flows: bool,
) -> (Vec<Comparison>, Verdict) {
    let mut out = Vec::new();
    for (i, now) in replayed.iter().enumerate() {
        let Some(then) = recorded.get(i) else {
            out.push(Comparison {
                recorded: None,
                replayed: Some(now.clone()),
                differences: vec!["the recording ends before this step".into()],
                notes: Vec::new(),
            });
            return (out, Verdict::Diverged(i));
        };
        let (differences, notes): (Vec<Difference>, Vec<Difference>) = differences(then, now, sites)
            .into_iter()
            .partition(|d| !(other_flows && d.kind == DifferenceKind::Matched));
        let differences: Vec<String> = differences.into_iter().map(|d| d.text).collect();
        let notes: Vec<String> = notes.into_iter().map(|d| d.text).collect();
        let same = differences.is_empty();
        let last_failure = recorded.iter().rposition(|s| s.outcome == "failed") == Some(i);
        let fixed = !same
            && last_failure
            && then.outcome == "failed"
            && now.outcome == "ok"
            && then.flow == now.flow
            && then.step == now.step;
        out.push(Comparison {
            recorded: Some(then.clone()),
            replayed: Some(now.clone()),
            differences,
            notes,
        });
        if fixed {
            return (out, Verdict::FailurePassesNow);
        }
        if !same {
            return (out, Verdict::Diverged(i));
        }
    }
    (out, Verdict::Same)
}

/// Whether a step ends on a settled page. An action ends as soon as it is done
/// and leaves the page to load for the next step, so the URL it ended on is
/// a matter of timing; the next step's page is compared instead.
fn leaves_settled_page(action: &str) -> bool {
    !matches!(
        action,
        "click" | "double_click" | "ok" | "popup" | "open" | "download" | "call" | "main_window"
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DifferenceKind {
    Step,
    Outcome,
    Page,
    Matched,
}

struct Difference {
    kind: DifferenceKind,
    text: String,
}

fn differences(then: &StepEvent, now: &StepEvent, sites: &Sites) -> Vec<Difference> {
    let mut d = Vec::new();
    if (then.flow.as_str(), then.step, then.action.as_str())
        != (now.flow.as_str(), now.step, now.action.as_str())
    {
        d.push(Difference {
            kind: DifferenceKind::Step,
            text: format!(
                "step: recorded {} {} {}, replayed {} {} {}",
                then.flow, then.step, then.action, now.flow, now.step, now.action
            ),
        });
    }
    if then.outcome != now.outcome {
        d.push(Difference {
            kind: DifferenceKind::Outcome,
            text: format!("outcome: recorded {}, replayed {}", then.outcome, now.outcome),
        });
    }
    // A site's page only: a fresh browser of the recorded run stood on about:blank.
    let path = |u: &Option<String>| {
        u.as_deref()
            .map(|u| sites.unrewrite(u))
            .and_then(|u| reqwest::Url::parse(&u).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .map(|u| u.path().to_string())
    };
    let (path_then, path_now) = (path(&then.url_after), path(&now.url_after));
    if then.outcome == "ok"
        && now.outcome == "ok"
        && leaves_settled_page(&then.action)
        && path_then.is_some()
        && path_now.is_some()
        && path_then != path_now
    {
        d.push(Difference {
            kind: DifferenceKind::Page,
            text: format!(
                "page after: recorded {}, replayed {}",
                path_then.unwrap_or_default(),
                path_now.unwrap_or_default()
            ),
        });
    }
    if then.outcome == "ok" && now.outcome == "ok" && then.matched != now.matched {
        d.push(Difference {
            kind: DifferenceKind::Matched,
            text: format!(
                "matched: recorded {}, replayed {}",
                then.matched.as_deref().unwrap_or("-"),
                now.matched.as_deref().unwrap_or("-")
            ),
        });
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_path_is_known_from_either_system() {
        assert_eq!(
            recorded_file_name("/home/a/runs/accounts.csv"),
            Some("accounts.csv")
        );
        assert_eq!(
            recorded_file_name(r"C:\oqsbot\runs\2713107890\accounts.csv"),
            Some("accounts.csv")
        );
        assert_eq!(recorded_file_name(r"\\server\share\a.p12"), Some("a.p12"));
        assert_eq!(recorded_file_name("C:/runs/a.csv"), Some("a.csv"));
    }

    #[test]
    fn other_values_are_not_files() {
        for value in [
            "accounts.csv",
            "http://127.0.0.1/a.csv",
            "/runs/folder",
            "/runs/.hidden",
            "H2713107",
            "2026/11/25",
        ] {
            assert_eq!(recorded_file_name(value), None, "{value}");
        }
    }

    fn step(matched: &str) -> StepEvent {
        StepEvent {
            flow: "reset-master-password".into(),
            step: 2,
            action: "click".into(),
            matched: Some(matched.into()),
            url_after: Some("http://127.0.0.1:1/oqs/account/search".into()),
            outcome: "ok".into(),
            ..StepEvent::default()
        }
    }

    #[test]
    fn another_alternative_counts_only_when_the_flows_are_the_recorded_ones() {
        let sites = Sites {
            _servers: Vec::new(),
            unmatched: Default::default(),
            origins: BTreeMap::new(),
        };
        let recorded = [step("text アカウント管理(更新)")];
        let replayed = [step("text アカウント管理(新)")];
        let (list, verdict) = compare(&recorded, &replayed, &sites, false);
        assert_eq!(verdict, Verdict::Diverged(0));
        assert!(
            list[0].differences[0].starts_with("matched:"),
            "{:?}",
            list[0].differences
        );

        let (list, verdict) = compare(&recorded, &replayed, &sites, true);
        assert_eq!(verdict, Verdict::Same);
        assert!(list[0].differences.is_empty());
        assert!(
            list[0].notes[0].contains("アカウント管理(新)"),
            "{:?}",
            list[0].notes
        );
    }

    #[test]
    fn where_an_action_left_the_browser_is_timing_where_a_wait_ended_is_not() {
        let sites = Sites {
            _servers: Vec::new(),
            unmatched: Default::default(),
            origins: BTreeMap::new(),
        };
        let at = |action: &str, path: &str| StepEvent {
            action: action.into(),
            url_after: Some(format!("http://127.0.0.1:1{path}")),
            ..step("text ログイン")
        };
        let (_, verdict) = compare(
            &[at("click", "/oqs/menu")],
            &[at("click", "/oqs/login")],
            &sites,
            false,
        );
        assert_eq!(verdict, Verdict::Same);
        let (list, verdict) = compare(
            &[at("wait_for", "/oqs/menu")],
            &[at("wait_for", "/oqs/login")],
            &sites,
            false,
        );
        assert_eq!(verdict, Verdict::Diverged(0));
        assert!(list[0].differences[0].starts_with("page after:"));
    }

    #[test]
    fn a_changed_answer_edits_every_occurrence() {
        assert_eq!(
            replace_bytes("初期化 と 初期化".as_bytes(), "初期化".as_bytes(), b"reset"),
            b"reset \xe3\x81\xa8 reset".to_vec()
        );
        assert_eq!(replace_bytes(b"abc", b"", b"x"), b"abc".to_vec());
    }
}
