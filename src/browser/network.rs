//! The HTTP responses the browser receives, through WebDriver BiDi network
//! data collection, for the recording.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use futures_util::StreamExt;
use thirtyfour::WebDriver;
use thirtyfour::bidi::CollectorId;
use thirtyfour::bidi::events::{ResponseCompleted, ResponseStarted};
use thirtyfour::bidi::modules::network::{DataType, GetData};

/// One completed response, with its body when the browser kept it.
#[derive(Debug, Clone)]
pub struct CapturedResponse {
    pub method: String,
    pub url: String,
    pub status: u16,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub content_disposition: Option<String>,
    pub body: Option<Vec<u8>>,
}

pub struct NetworkCapture {
    bidi: thirtyfour::bidi::BiDi,
    collector: CollectorId,
    completed: Arc<Mutex<Vec<ResponseCompleted>>>,
    /// Responses whose headers arrived: a download never completes as a response.
    started: Arc<Mutex<Vec<ResponseStarted>>>,
    /// Responses already given from their start; their late completion is not given twice.
    given: Mutex<std::collections::HashSet<String>>,
    /// Started, not completed by the last look: given from their start at the next.
    pending: Mutex<Vec<ResponseStarted>>,
    /// Responses given from their completion: a start that arrives after it is not given again.
    completed_keys: Mutex<std::collections::HashSet<String>>,
    /// The browser stopped answering for bodies: no more are asked for.
    bodies_off: std::sync::atomic::AtomicBool,
    listeners: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for NetworkCapture {
    fn drop(&mut self) {
        self.listeners.iter().for_each(|l| l.abort());
    }
}

/// A file the site sends rather than a page it shows.
pub fn is_file(content_type: Option<&str>, content_disposition: Option<&str>) -> bool {
    let ct = content_type.unwrap_or_default().to_ascii_lowercase();
    content_disposition.is_some_and(|d| d.to_ascii_lowercase().contains("attachment"))
        || ["pdf", "pkcs12", "octet-stream", "csv", "x-x509"]
            .iter()
            .any(|t| ct.contains(t))
}

fn header(headers: &[serde_json::Value], name: &str) -> Option<String> {
    headers.iter().find_map(|h| {
        let n = h.get("name")?.as_str()?;
        if !n.eq_ignore_ascii_case(name) {
            return None;
        }
        h.get("value")?.get("value")?.as_str().map(str::to_string)
    })
}

impl NetworkCapture {
    /// Starts collecting; `max_bytes` bounds what the browser keeps per response.
    pub async fn start(driver: &WebDriver, max_bytes: u64) -> Result<NetworkCapture, String> {
        let bidi = driver.bidi().await.map_err(|e| e.to_string())?;
        let collector = bidi
            .network()
            .add_data_collector(vec![DataType::Response], max_bytes)
            .await
            .map_err(|e| e.to_string())?
            .collector;
        let mut events = bidi
            .subscribe::<ResponseCompleted>()
            .await
            .map_err(|e| e.to_string())?;
        let mut started_events = bidi
            .subscribe::<ResponseStarted>()
            .await
            .map_err(|e| e.to_string())?;
        let completed = Arc::new(Mutex::new(Vec::new()));
        let started = Arc::new(Mutex::new(Vec::new()));
        let sink = completed.clone();
        let on_complete = tokio::spawn(async move {
            while let Some(event) = events.next().await {
                sink.lock().unwrap_or_else(|e| e.into_inner()).push(event);
            }
        });
        let sink = started.clone();
        let on_start = tokio::spawn(async move {
            while let Some(event) = started_events.next().await {
                sink.lock().unwrap_or_else(|e| e.into_inner()).push(event);
            }
        });
        Ok(NetworkCapture {
            bidi,
            collector,
            completed,
            started,
            given: Mutex::new(std::collections::HashSet::new()),
            pending: Mutex::new(Vec::new()),
            completed_keys: Mutex::new(std::collections::HashSet::new()),
            bodies_off: std::sync::atomic::AtomicBool::new(false),
            listeners: vec![on_complete, on_start],
        })
    }

    /// The responses completed since the last call, bodies fetched and released.
    pub async fn take(&self) -> Vec<CapturedResponse> {
        let events: Vec<ResponseCompleted> =
            std::mem::take(&mut *self.completed.lock().unwrap_or_else(|e| e.into_inner()));
        let fresh: Vec<ResponseStarted> =
            std::mem::take(&mut *self.started.lock().unwrap_or_else(|e| e.into_inner()));
        let carried: Vec<ResponseStarted> =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        let mut out = Vec::new();
        let batch: std::collections::HashSet<String> = events
            .iter()
            .map(|e| key(&e.request.id, &e.request.url, e.response.status))
            .collect();
        let completes = |s: &ResponseStarted| {
            let k = key(&s.request.id, &s.request.url, s.response.status);
            batch.contains(&k)
                || self
                    .completed_keys
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .contains(&k)
        };
        // One budget for the bodies of one look: a browser that stops answering must not stall the run.
        let deadline = std::time::Instant::now() + BODIES_BUDGET;
        let site = |url: &str| url.starts_with("http://") || url.starts_with("https://");
        let mut still_pending = Vec::new();
        let starts = carried
            .into_iter()
            .map(|s| (s, true))
            .chain(fresh.into_iter().map(|s| (s, false)));
        for (s, was_pending) in starts {
            if completes(&s) || !site(&s.request.url) {
                continue;
            }
            let headers = &s.response.headers;
            let file = is_file(
                header(headers, "content-type").as_deref(),
                header(headers, "content-disposition").as_deref(),
            );
            // A download never completes as a response; nor does a page whose window
            // closed as it loaded (a login popup that sends its opener on). Such a page's
            // body may still be kept by the browser.
            if !file && !was_pending {
                // Only a page that loaded is worth giving from its start.
                if (200..300).contains(&s.response.status) {
                    still_pending.push(s);
                }
                continue;
            }
            let k = key(&s.request.id, &s.request.url, s.response.status);
            self.given.lock().unwrap_or_else(|e| e.into_inner()).insert(k);
            let body = if file {
                None
            } else {
                self.body(
                    &s.request.id,
                    header(headers, "content-type").as_deref(),
                    deadline,
                )
                .await
            };
            out.push(CapturedResponse {
                method: s.request.method.clone(),
                url: s.request.url.clone(),
                status: s.response.status,
                content_type: header(headers, "content-type"),
                location: header(headers, "location"),
                content_disposition: header(headers, "content-disposition"),
                body,
            });
        }
        *self.pending.lock().unwrap_or_else(|e| e.into_inner()) = still_pending;
        for e in events {
            // The browser's own pages (a PDF viewer, an extension) are not the site's.
            if !(e.request.url.starts_with("http://") || e.request.url.starts_with("https://")) {
                continue;
            }
            let k = key(&e.request.id, &e.request.url, e.response.status);
            if self.given.lock().unwrap_or_else(|e| e.into_inner()).remove(&k) {
                continue;
            }
            self.completed_keys
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(k);
            let header = |name: &str| header(&e.response.headers, name);
            // A redirect shares its request's id with the response it leads to: the
            // data under that id is the final response's, fetched with that one.
            let redirect = (300..400).contains(&e.response.status);
            let body = if redirect {
                None
            } else {
                self.body(&e.request.id, header("content-type").as_deref(), deadline)
                    .await
            };
            out.push(CapturedResponse {
                method: e.request.method.clone(),
                url: e.request.url.clone(),
                status: e.response.status,
                content_type: header("content-type"),
                location: header("location"),
                content_disposition: header("content-disposition"),
                body,
            });
        }
        out
    }
}

impl NetworkCapture {
    /// The body the browser kept for a request, released as it is read; none past `deadline`.
    async fn body(
        &self,
        id: &thirtyfour::bidi::RequestId,
        content_type: Option<&str>,
        deadline: std::time::Instant,
    ) -> Option<Vec<u8>> {
        use std::sync::atomic::Ordering;
        if self.bodies_off.load(Ordering::Relaxed) {
            return None;
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let read = GetData {
            data_type: DataType::Response,
            request: id.clone(),
            collector: Some(self.collector.clone()),
            disown: Some(true),
        };
        match tokio::time::timeout(left, self.bidi.send(read)).await {
            Ok(Ok(data)) => bytes_value(&data.bytes, content_type),
            Ok(Err(_)) => {
                // Nothing to read: the data, if any, is still released.
                let network = self.bidi.network();
                let release = network.disown_data(DataType::Response, self.collector.clone(), id.clone());
                let _ = tokio::time::timeout(left.min(BODY_WAIT), release).await;
                None
            }
            Err(_) => {
                tracing::warn!(
                    "the browser stopped handing over response bodies; the recording keeps no more of them"
                );
                self.bodies_off.store(true, Ordering::Relaxed);
                // The browser keeps no more bodies for a recording that no longer asks.
                let network = self.bidi.network();
                let _ =
                    tokio::time::timeout(BODY_WAIT, network.remove_data_collector(self.collector.clone()))
                        .await;
                None
            }
        }
    }
}

/// How long one look may spend fetching bodies, and one release.
const BODIES_BUDGET: std::time::Duration = std::time::Duration::from_secs(10);
const BODY_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

fn key(id: &thirtyfour::bidi::RequestId, url: &str, status: u16) -> String {
    format!("{id:?} {url} {status}")
}

/// A BiDi `network.BytesValue`: base64, or text the browser already decoded,
/// which goes back to the encoding the site sent it in (Shift_JIS on many portals).
fn bytes_value(v: &serde_json::Value, content_type: Option<&str>) -> Option<Vec<u8>> {
    let value = v.get("value")?.as_str()?;
    match v.get("type")?.as_str()? {
        "string" => {
            let encoding = crate::net::declared_charset(content_type.unwrap_or(""), value.as_bytes())
                .unwrap_or(encoding_rs::UTF_8);
            Some(encoding.encode(value).0.into_owned())
        }
        "base64" => base64::engine::general_purpose::STANDARD.decode(value).ok(),
        _ => None,
    }
}
