//! The run's recording: no secret in any stored byte, and a replay that does
//! what the run did, offline, through wiremock.

use std::path::Path;

use oqsbot::browser::{Browser, BrowserOptions};
use oqsbot::recording::{FILE_NAME, Recording};
use oqsbot::replay::Verdict;
use serde_json::Value;

/// Every secret the credential store holds: passwords now and before, the
/// 秘密の番号, the certificate's password.
fn secrets_in_store(out: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(out.join("credentials.json")).expect("store");
    let store: Value = serde_json::from_str(&text).expect("store is JSON");
    let mut found = Vec::new();
    fn walk(v: &Value, key: &str, found: &mut Vec<String>) {
        match v {
            Value::Object(o) => o.iter().for_each(|(k, v)| walk(v, k, found)),
            Value::Array(a) => a.iter().for_each(|v| walk(v, key, found)),
            Value::String(s) if !matches!(key, "origin" | "recorded_at") && s.len() >= 4 => {
                found.push(s.clone())
            }
            _ => {}
        }
    }
    walk(&store, "", &mut found);
    found.sort();
    found.dedup();
    found
}

/// `needle` in `hay`; a short one only where no letter or digit touches it.
fn holds(hay: &[u8], needle: &str) -> bool {
    let n = needle.as_bytes();
    let short = needle.chars().count() < 8;
    hay.windows(n.len()).enumerate().any(|(i, w)| {
        w == n && {
            let alnum = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
            !short || (!alnum(i.checked_sub(1).and_then(|j| hay.get(j))) && !alnum(hay.get(i + n.len())))
        }
    })
}

fn forms(secret: &str) -> Vec<String> {
    let html = secret
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;");
    let url: String = secret
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let mut all = vec![secret.to_string(), html, url];
    all.dedup();
    all
}

/// The whole recording, every resource decompressed, holds none of the run's secrets.
pub fn keeps_no_secret(out: &Path) {
    let path = out.join(FILE_NAME);
    let raw = std::fs::read(&path).expect("the run leaves a recording");
    let recording = Recording::open(&path).expect("the recording reads back");
    assert!(!recording.torn_tail);
    assert!(recording.steps().count() > 50, "every step is recorded");
    assert!(
        recording
            .steps()
            .any(|s| s.responses.iter().any(|r| r.body.is_some())),
        "the responses' bodies are kept"
    );
    assert!(
        recording.steps().filter(|s| s.screenshot.is_some()).count() > 10,
        "screenshots are kept"
    );
    let secrets = secrets_in_store(out);
    assert!(
        secrets.len() >= 4,
        "the store holds the run's secrets: {}",
        secrets.len()
    );
    let mut parts: Vec<(String, Vec<u8>)> = vec![("the file".into(), raw.clone())];
    parts.extend(
        recording
            .all_resources()
            .map(|(hash, bytes)| (format!("resource {hash}"), bytes)),
    );
    for secret in &secrets {
        for form in forms(secret) {
            for (what, bytes) in &parts {
                assert!(
                    !holds(bytes, &form),
                    "a secret of {} characters is in {what} of the recording",
                    secret.chars().count()
                );
            }
        }
    }
    assert!(
        raw.len() < 2 * 1024 * 1024,
        "a full run's recording stays under 2 MB: {} bytes",
        raw.len()
    );
}

/// Replayed offline, every step does what it did in the run.
pub async fn replays_as_recorded(out: &Path) {
    let recording = Recording::open(&out.join(FILE_NAME)).expect("recording");
    let work = tempfile::tempdir().expect("dir");
    let outcome = super::common::replay_in(&recording, work.path()).await;
    let differing = super::common::differences(&outcome);
    assert_eq!(outcome.verdict, Verdict::Same, "{differing:?}");
    assert_eq!(outcome.comparisons.len(), recording.steps().count());
    viewer_renders(&recording, work.path()).await;
}

/// The static viewer opens from disk in headless Chromium and shows every step with its screenshot.
async fn viewer_renders(recording: &Recording, dir: &Path) {
    let page = dir.join("viewer.html");
    std::fs::write(&page, oqsbot::recording::viewer::render(recording, "viewer")).expect("viewer");
    let browser = Browser::start(BrowserOptions::new(dir.join("viewer-downloads")))
        .await
        .expect("browser");
    browser
        .goto(&format!("file://{}", page.display()))
        .await
        .expect("the viewer opens");
    let steps = recording.steps().count();
    let text = browser.body_text().await.expect("text");
    let start: String = text.chars().take(400).collect();
    assert!(text.contains(&format!("ステップ {steps} 件")), "{start}");
    let shown = browser
        .sources()
        .await
        .expect("source")
        .concat()
        .matches("data:image/jpeg;base64,")
        .count();
    assert!(shown > 10, "the screenshots are shown: {shown}");
    browser.quit().await;
}
