//! The WebDriver connection, and whether the browser behind it is lost: the
//! driver left a command unanswered past a limit (seen with chromedriver on a
//! loaded machine, where it would otherwise hold the run for as long as it
//! liked), the driver is gone, or the driver says its browser is. Every later
//! command then fails at once, and the run can start a fresh browser.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use thirtyfour::prelude::{WebDriverError, WebDriverResult};
use thirtyfour::session::http::{Body, HttpClient};

/// Words in the error of a command the driver left unanswered.
pub(super) const UNRESPONSIVE: &str = "the browser's WebDriver stopped answering";
/// Words in the error of a command sent to a driver that is gone.
pub(super) const GONE: &str = "the browser's WebDriver is gone";

/// chromedriver's words for a session whose browser died or was killed.
// Not "not connected to DevTools": chromedriver says it too of one closed window.
const BROWSER_GONE: [&str; 5] = [
    "invalid session id",
    "chrome not reachable",
    "session deleted",
    "tab crashed",
    "browser has closed the connection",
];

/// An error that means the browser cannot be used again (`Fault::Lost`).
pub(super) fn means_lost(error_text: &str) -> bool {
    let text = error_text.to_lowercase();
    text.contains(&UNRESPONSIVE.to_lowercase())
        || text.contains(&GONE.to_lowercase())
        || BROWSER_GONE.iter().any(|words| text.contains(words))
}

/// Shared by the connection and the `Browser`, which asks whether its driver is lost.
#[derive(Clone, Default)]
pub(super) struct Lost(Arc<AtomicBool>);

impl Lost {
    pub(super) fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The WebDriver commands sent and the time spent waiting for their answers,
/// for the benchmarks' account of where a job's time goes.
#[derive(Clone, Default)]
pub(super) struct Usage {
    commands: Arc<std::sync::atomic::AtomicU64>,
    nanos: Arc<std::sync::atomic::AtomicU64>,
}

impl Usage {
    fn add(&self, took: Duration) {
        self.commands.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Commands so far, and the time they took.
    pub(super) fn so_far(&self) -> (u64, Duration) {
        (
            self.commands.load(Ordering::Relaxed),
            Duration::from_nanos(self.nanos.load(Ordering::Relaxed)),
        )
    }
}

/// How long a new session (the browser starting) may take at least.
const SESSION_START: Duration = Duration::from_secs(120);

pub(super) struct WatchedClient {
    http: reqwest::Client,
    limit: Duration,
    lost: Lost,
    usage: Usage,
}

impl WatchedClient {
    pub(super) fn new(limit: Duration, lost: Lost) -> Self {
        WatchedClient {
            http: reqwest::Client::new(),
            limit,
            lost,
            usage: Usage::default(),
        }
    }

    /// Counts each command and its time into `usage`.
    pub(super) fn counting(mut self, usage: Usage) -> Self {
        self.usage = usage;
        self
    }

    fn unanswered(&self) -> WebDriverError {
        WebDriverError::RequestFailed(format!(
            "{UNRESPONSIVE}: a command went unanswered for {} s",
            self.limit.as_secs()
        ))
    }

    fn gone(&self, why: &str) -> WebDriverError {
        WebDriverError::RequestFailed(format!("{GONE}: {why}"))
    }

    async fn exchange(&self, request: Request<Body<'_>>) -> WebDriverResult<Response<Bytes>> {
        let (parts, body) = request.into_parts();
        let mut sent = self.http.request(parts.method, parts.uri.to_string());
        for (name, value) in parts.headers.iter() {
            sent = sent.header(name, value);
        }
        sent = match body {
            Body::Empty => sent.body(reqwest::Body::default()),
            Body::Json(json) => sent.json(json),
        };
        // No answer at all: the driver was killed or crashed (nothing listens, or
        // the connection broke mid-command), and the session's state is unknown.
        let answer = match sent.send().await {
            Ok(answer) => answer,
            Err(e) => {
                self.lost.set();
                return Err(self.gone(&e.to_string()));
            }
        };
        let status = answer.status();
        let mut response = Response::builder().status(status);
        for (name, value) in answer.headers() {
            response = response.header(name, value);
        }
        let bytes = match answer.bytes().await {
            Ok(bytes) => bytes,
            Err(e) => {
                self.lost.set();
                return Err(self.gone(&e.to_string()));
            }
        };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if !status.is_success() && means_lost(&text) {
            self.lost.set();
        }
        response
            .body(bytes)
            .map_err(|_| WebDriverError::UnknownResponse(status.as_u16(), text))
    }
}

#[async_trait::async_trait]
impl HttpClient for WatchedClient {
    async fn send(&self, request: Request<Body<'_>>) -> WebDriverResult<Response<Bytes>> {
        // A lost browser gets no more commands: each would wait out the limit again.
        if self.lost.is_set() {
            return Err(self.gone("an earlier command found it so"));
        }
        // Starting a browser is slow on a loaded machine, and nothing to wait for yet.
        let starting = request.method() == http::Method::POST && request.uri().path().ends_with("/session");
        let limit = if starting {
            self.limit.max(SESSION_START)
        } else {
            self.limit
        };
        let started = std::time::Instant::now();
        let answer = tokio::time::timeout(limit, self.exchange(request)).await;
        self.usage.add(started.elapsed());
        match answer {
            Ok(answer) => answer,
            Err(_) => {
                self.lost.set();
                Err(self.unanswered())
            }
        }
    }

    async fn new(&self) -> Arc<dyn HttpClient> {
        Arc::new(WatchedClient::new(self.limit, self.lost.clone()).counting(self.usage.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that takes connections and never answers, as the hung driver did.
    async fn silent_server() -> (String, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/status", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        (url, task)
    }

    #[tokio::test]
    async fn an_unanswered_command_marks_the_driver_lost_and_the_next_fails_at_once() {
        let (url, server) = silent_server().await;
        let lost = Lost::default();
        let client = WatchedClient::new(Duration::from_millis(300), lost.clone());
        let request = || Request::get(url.as_str()).body(Body::Empty).expect("request");
        let first = client.send(request()).await.expect_err("no answer");
        assert!(first.to_string().contains(UNRESPONSIVE), "{first}");
        assert!(lost.is_set());
        let started = std::time::Instant::now();
        let second = client.send(request()).await.expect_err("lost");
        assert!(means_lost(&second.to_string()), "{second}");
        assert!(started.elapsed() < Duration::from_millis(300), "not sent again");
        server.abort();
    }

    #[tokio::test]
    async fn a_driver_that_is_gone_marks_the_browser_lost() {
        // A port that was free a moment ago: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let lost = Lost::default();
        let client = WatchedClient::new(Duration::from_secs(30), lost.clone());
        let request = Request::get(format!("http://127.0.0.1:{port}/status"))
            .body(Body::Empty)
            .expect("request");
        let e = client.send(request).await.expect_err("nobody there");
        assert!(e.to_string().contains(GONE), "{e}");
        assert!(lost.is_set());
    }

    #[tokio::test]
    async fn a_driver_whose_browser_died_marks_it_lost_and_its_words_pass_through() {
        let server = wiremock::MockServer::start().await;
        let died = r#"{"value":{"error":"invalid session id","message":"invalid session id: session deleted as the browser has closed the connection","stacktrace":""}}"#;
        wiremock::Mock::given(wiremock::matchers::method("GET"))
            .respond_with(wiremock::ResponseTemplate::new(404).set_body_string(died))
            .mount(&server)
            .await;
        let lost = Lost::default();
        let client = WatchedClient::new(Duration::from_secs(30), lost.clone());
        let request = Request::get(format!("{}/session/1/url", server.uri()))
            .body(Body::Empty)
            .expect("request");
        let answer = client
            .send(request)
            .await
            .expect("the driver's answer is handed on");
        assert_eq!(answer.status(), 404);
        assert!(lost.is_set());
    }

    #[test]
    fn a_page_that_merely_mentions_a_session_is_not_a_lost_browser() {
        assert!(!means_lost("no such element: 「セッション」"));
        assert!(!means_lost("stale element reference"));
        assert!(means_lost("unknown error: Chrome not reachable"));
    }

    #[tokio::test]
    async fn an_answer_within_the_limit_passes_through() {
        let server = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::method("GET"))
            .respond_with(wiremock::ResponseTemplate::new(200).set_body_string("{\"value\":1}"))
            .mount(&server)
            .await;
        let lost = Lost::default();
        let client = WatchedClient::new(Duration::from_secs(30), lost.clone());
        let request = Request::get(format!("{}/status", server.uri()))
            .body(Body::Empty)
            .expect("request");
        let answer = client.send(request).await.expect("answered");
        assert_eq!(answer.status(), 200);
        assert_eq!(answer.body().as_ref(), b"{\"value\":1}");
        assert!(!lost.is_set());
    }
}
