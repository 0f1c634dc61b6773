//! A cookie-keeping HTTP client that reads the simulator's pages as a script would.
#![allow(dead_code)]

use oqs_sim::{RunningSim, Scenario, SimConfig};
use serde_json::Value;

pub async fn sim(scenario: &str) -> RunningSim {
    sim_with(scenario, SimConfig::default()).await
}

pub async fn sim_with(scenario: &str, config: SimConfig) -> RunningSim {
    let scenario = Scenario::load(scenario).expect("scenario loads");
    oqs_sim::start(scenario, config, 0)
        .await
        .expect("simulator starts")
}

pub fn config(toml: &str) -> SimConfig {
    SimConfig::from_toml(toml).expect("valid config")
}

pub struct Page {
    pub status: u16,
    pub url: String,
    /// Decoded as the Content-Type's charset says (UTF-8 or Shift_JIS).
    pub body: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
    /// `Location`, for a client that does not follow redirects.
    pub location: Option<String>,
    /// `x-sim-jitter-ms`, when the simulator adds jitter.
    pub jitter_ms: Option<u64>,
}

impl Page {
    pub fn has(&self, text: &str) -> bool {
        self.body.contains(text)
    }

    pub fn csrf(&self) -> String {
        let marker = "name=\"_csrf\" value=\"";
        let start = self.body.find(marker).expect("a form with a CSRF token") + marker.len();
        let end = self.body[start..].find('"').expect("closing quote") + start;
        self.body[start..end].to_string()
    }

    /// The first `href`/`location.href` target that starts with `prefix`.
    pub fn link(&self, prefix: &str) -> String {
        self.link_to(prefix, "")
    }

    /// The first link target that starts with `prefix` and ends with `suffix`.
    pub fn link_to(&self, prefix: &str, suffix: &str) -> String {
        // A URL in an escaped onclick sits between &#39; quotes.
        for quote in ["\"", "'", "&#39;"] {
            let needle = format!("{quote}{prefix}");
            for (start, _) in self.body.match_indices(&needle) {
                let rest = &self.body[start + quote.len()..];
                let end = rest.find(quote).expect("closing quote");
                let target = rest[..end].replace("&amp;", "&");
                if target.ends_with(suffix) {
                    return target;
                }
            }
        }
        panic!("no link {prefix}…{suffix} in {}", self.url);
    }
}

pub struct Browser {
    pub base: String,
    pub http: reqwest::Client,
}

impl Browser {
    pub fn new(sim: &RunningSim) -> Self {
        Self::at(&sim.base_url)
    }

    pub fn at(base: &str) -> Self {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .expect("client");
        Self {
            base: base.to_string(),
            http,
        }
    }

    /// A client that shows each redirect instead of following it.
    pub fn manual(sim: &RunningSim) -> Self {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self {
            base: sim.base_url.clone(),
            http,
        }
    }

    pub async fn page(resp: reqwest::Response) -> Page {
        let status = resp.status().as_u16();
        let url = resp.url().to_string();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header("content-type").unwrap_or_default();
        let location = header("location");
        let jitter_ms = header("x-sim-jitter-ms").and_then(|v| v.parse().ok());
        let bytes = resp.bytes().await.expect("body").to_vec();
        let body = if content_type.to_ascii_lowercase().contains("shift_jis") {
            encoding_rs::SHIFT_JIS.decode(&bytes).0.into_owned()
        } else {
            String::from_utf8_lossy(&bytes).into_owned()
        };
        Page {
            status,
            url,
            body,
            content_type,
            bytes,
            location,
            jitter_ms,
        }
    }

    /// Posts a body as it is, with its content type.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Page {
        Self::page(
            self.http
                .post(format!("{}{path}", self.base))
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .expect("POST"),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Page {
        Self::page(
            self.http
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .expect("GET"),
        )
        .await
    }

    pub async fn bytes(&self, path: &str) -> (u16, String, Vec<u8>) {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET");
        let status = resp.status().as_u16();
        let disposition = resp
            .headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (status, disposition, resp.bytes().await.expect("bytes").to_vec())
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        Self::page(
            self.http
                .post(format!("{}{path}", self.base))
                .form(form)
                .send()
                .await
                .expect("POST"),
        )
        .await
    }

    /// Posts a form the way the page that holds it would, CSRF token included.
    pub async fn submit(&self, from: &Page, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = from.csrf();
        let mut form: Vec<(&str, &str)> = vec![("_csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        self.post(path, &form).await
    }

    pub async fn login(&self, user_id: &str, password: &str) -> Page {
        let form = self.get("/oqs/login").await;
        self.submit(
            &form,
            "/oqs/login",
            &[("user_id", user_id), ("password", password)],
        )
        .await
    }

    pub async fn change_password(&self, new: &str) -> Page {
        let form = self.get("/oqs/password/change").await;
        self.submit(
            &form,
            "/oqs/password/change",
            &[("new_password", new), ("new_password_confirm", new)],
        )
        .await
    }

    pub async fn upload(&self, bytes: Vec<u8>) -> Page {
        let page = self.get("/oqs/bulk/upload").await;
        let form = reqwest::multipart::Form::new().text("_csrf", page.csrf()).part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name("accounts.csv"),
        );
        Self::page(
            self.http
                .post(format!("{}/oqs/bulk/upload", self.base))
                .multipart(form)
                .send()
                .await
                .expect("upload"),
        )
        .await
    }
}

pub async fn state(sim: &RunningSim) -> Value {
    reqwest::get(format!("{}/__sim/state", sim.base_url))
        .await
        .expect("state")
        .json()
        .await
        .expect("json")
}

pub fn account<'a>(state: &'a Value, user_id: &str) -> Option<&'a Value> {
    state["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .find(|a| a["user_id"] == user_id)
}

pub async fn advance(sim: &RunningSim, secs: i64) {
    reqwest::Client::new()
        .post(format!("{}/__sim/clock", sim.base_url))
        .json(&serde_json::json!({ "advance_secs": secs }))
        .send()
        .await
        .expect("clock");
}

pub async fn patch_config(sim: &RunningSim, patch: Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/__sim/config", sim.base_url))
        .json(&patch)
        .send()
        .await
        .expect("config");
    assert!(
        resp.status().is_success(),
        "config patch refused: {}",
        resp.text().await.unwrap_or_default()
    );
}

/// A url-encoded form as a Shift_JIS page's form posts it.
pub fn sjis_form(fields: &[(&str, &str)]) -> Vec<u8> {
    let enc = |text: &str| -> String {
        sjis(text)
            .iter()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (*b as char).to_string(),
                b' ' => "+".to_string(),
                other => format!("%{other:02X}"),
            })
            .collect()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

pub fn sjis(text: &str) -> Vec<u8> {
    let (bytes, _, bad) = encoding_rs::SHIFT_JIS.encode(text);
    assert!(!bad, "test text has no Shift-JIS form");
    bytes.into_owned()
}

pub const GOOD_CSV: &str = "権限区分,ユーザID,ユーザ名,ユーザ名(カナ),パスワード,利用開始年月日,利用終了年月日\r\n\
顔認証付きカードリーダー用,FOFACE01,顔認証アカウント,カオニンショウアカウント,OnsAdmin@00369,2026/11/25,\r\n\
連携アプリケーション用,R0RENK01,連携アカウント,レンケイアカウント,OnsAdmin@00369,2026/11/25,\r\n";

/// Text of a PDF as poppler reads it.
pub fn pdftotext(bytes: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("oqs-sim-pdf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!(
        "{:x}.pdf",
        bytes.len() ^ (bytes.iter().map(|b| *b as usize).sum::<usize>() << 8)
    ));
    std::fs::write(&path, bytes).expect("write pdf");
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext is installed (poppler-utils)");
    assert!(
        out.status.success(),
        "pdftotext failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}
