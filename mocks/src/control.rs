//! `/__sim/`: endpoints for tests and for people running the simulator, never
//! part of the portal: state as JSON, reset, the clock, the config, the
//! master's PDF and the CA certificate.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Json, Response};
use axum::routing::get;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::App;
use crate::config::TextVariant;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(index))
        .route("/__sim/", get(index))
        .route("/__sim/state", get(state))
        .route("/__sim/served", get(served))
        .route("/__sim/reset", axum::routing::post(reset))
        .route("/__sim/clock", get(clock).post(move_clock))
        .route("/__sim/config", get(config).post(patch_config))
        .route("/__sim/master-pdf", get(master_pdf))
        .route("/__sim/ca.pem", get(ca_pem))
}

async fn index(State(app): State<Arc<App>>) -> Html<String> {
    let s = &app.scenario;
    Html(format!(
        r#"<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8"><title>oqs-sim</title></head><body style="font-family:sans-serif;margin:32px">
<h1>oqs-sim: {name}</h1><p>{desc}</p>
<ul><li><a href="/cert/">電子証明書のダウンロードサイト</a> (site A)</li><li><a href="/oqs/">オンライン資格確認等システム</a> (site B)</li></ul>
<h2>For tests only</h2><ul>
<li>GET <a href="/__sim/state">/__sim/state</a>: accounts, uploads, events as JSON</li>
<li>POST /__sim/reset: restore the scenario</li>
<li>GET/POST /__sim/clock: <code>{{"advance_secs": 61}}</code>, <code>{{"set": "2026-11-25T01:00:00Z"}}</code>, <code>{{"reset": true}}</code></li>
<li>GET/POST /__sim/config: the config in effect (with a seed's draws applied); POST a partial config as JSON to merge into the one given</li>
<li>GET <a href="/__sim/master-pdf">/__sim/master-pdf</a>: the master's ユーザ設定情報 PDF</li>
<li>GET <a href="/__sim/ca.pem">/__sim/ca.pem</a>: the simulator's CA</li></ul></body></html>"#,
        name = crate::html::esc(&s.name),
        desc = crate::html::esc(&s.description)
    ))
}

async fn state(State(app): State<Arc<App>>) -> Json<Value> {
    Json(snapshot(&app))
}

fn snapshot(app: &App) -> Value {
    let config = app.config();
    let now = app.clock.now();
    let state = app.state();
    let uploads: Vec<Value> = state
        .uploads
        .iter()
        .map(|u| {
            let status = state.status_of(u, now, &config);
            json!({
                "receipt": u.receipt,
                "uploader": u.uploader,
                "received_at": u.received_at,
                "status": status.text(TextVariant::Spec),
                "status_code": status,
                "processed": u.outcome.as_ref().and_then(|o| o.processed),
                "results": u.outcome.as_ref().map(|o| o.rows.iter().map(|r| json!({"user_id": r.fields[1], "result": r.result, "detail": r.detail})).collect::<Vec<_>>()),
            })
        })
        .collect();
    json!({
        "scenario": app.scenario.name,
        "now": now,
        "today_jst": app.clock.today_jst(),
        "institution": {"code": app.scenario.institution.code, "name": app.scenario.institution.name},
        "accounts": state.accounts,
        "uploads": uploads,
        "events": state.events,
        "certificates": state.certificates.iter().map(|c| json!({"request_id": c.request_id, "serial": c.serial, "downloads": c.downloads})).collect::<Vec<_>>(),
        "sessions": state.sessions.values().filter(|s| s.user.is_some()).count(),
        "requests": state.request_counts,
    })
}

/// Every request answered, in order, with the simulator's own time for each.
async fn served(State(app): State<Arc<App>>) -> Json<Value> {
    Json(json!(app.state().served))
}

async fn reset(State(app): State<Arc<App>>) -> Json<Value> {
    app.reset();
    Json(snapshot(&app))
}

async fn clock(State(app): State<Arc<App>>) -> Json<Value> {
    Json(
        json!({"now": app.clock.now(), "now_jst": app.clock.now_jst().to_rfc3339(), "today_jst": app.clock.today_jst()}),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockMove {
    #[serde(default)]
    advance_secs: Option<i64>,
    #[serde(default)]
    set: Option<DateTime<Utc>>,
    #[serde(default)]
    reset: bool,
}

async fn move_clock(State(app): State<Arc<App>>, Json(m): Json<ClockMove>) -> Json<Value> {
    if m.reset {
        app.clock.reset();
    }
    if let Some(at) = m.set {
        app.clock.set(at);
    }
    if let Some(secs) = m.advance_secs {
        app.clock.advance(Duration::seconds(secs));
    }
    clock(State(app)).await
}

async fn config(State(app): State<Arc<App>>) -> Json<Value> {
    Json(serde_json::to_value(app.config()).unwrap_or(Value::Null))
}

/// The patch applies to the config as given: a seed then draws what it leaves open.
async fn patch_config(State(app): State<Arc<App>>, Json(patch): Json<Value>) -> Response {
    match app.given_config().merged(&patch) {
        Ok(merged) => {
            app.set_config(merged);
            config(State(app)).await.into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

async fn master_pdf(State(app): State<Arc<App>>) -> Response {
    match app.master_pdf() {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "application/pdf"),
                (header::CONTENT_DISPOSITION, "attachment; filename=\"master.pdf\""),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn ca_pem(State(app): State<Arc<App>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        app.pki.ca_pem().to_string(),
    )
}
