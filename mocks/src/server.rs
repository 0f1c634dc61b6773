//! Listening: one plain-HTTP port for both sites (and `/__sim/`), plus, in
//! mutual-TLS mode, an HTTPS port for the オン資 site that demands a client
//! certificate. Faults are injected here, in front of both sites.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use tokio::task::JoinHandle;

use crate::app::App;
use crate::config::SimConfig;
use crate::error::SimError;
use crate::html::plain_page;
use crate::scenario::Scenario;
use crate::{control, site_a, site_b};

/// A simulator serving on loopback until dropped or shut down.
pub struct RunningSim {
    /// `http://127.0.0.1:PORT`
    pub base_url: String,
    /// The オン資 site's root: on the plain port, or on the HTTPS port in mutual-TLS mode.
    pub oqs_base_url: String,
    app: Arc<App>,
    handle: axum_server::Handle<SocketAddr>,
    tls_handle: Option<axum_server::Handle<SocketAddr>>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningSim {
    pub fn cert_site_url(&self) -> String {
        format!("{}/cert/", self.base_url)
    }

    pub fn oqs_url(&self) -> String {
        format!("{}/oqs/", self.oqs_base_url)
    }

    pub fn control_url(&self) -> String {
        format!("{}/__sim/", self.base_url)
    }

    pub fn scenario(&self) -> &Scenario {
        &self.app.scenario
    }

    /// Every request answered so far, in order (as `GET /__sim/served` gives them).
    pub fn served(&self) -> Vec<crate::state::Served> {
        self.app.state().served.iter().cloned().collect()
    }

    /// The config in effect, with a seed's draws applied (as `GET /__sim/config` shows it).
    pub fn config(&self) -> SimConfig {
        self.app.config()
    }

    /// The master's ユーザ設定情報 PDF, as the customer brings it.
    pub fn master_pdf(&self) -> Result<Vec<u8>, SimError> {
        self.app.master_pdf()
    }

    /// The CA that issues the client certificates (and, in mutual-TLS mode, the server's).
    pub fn ca_pem(&self) -> String {
        self.app.pki.ca_pem().to_string()
    }

    pub fn shutdown(&self) {
        self.handle.shutdown();
        if let Some(h) = &self.tls_handle {
            h.shutdown();
        }
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        self.shutdown();
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Starts the simulator on 127.0.0.1:`port` (0 picks a free port).
pub async fn start(scenario: Scenario, config: SimConfig, port: u16) -> Result<RunningSim, SimError> {
    let mutual = config.tls.mutual;
    let https_port = config.tls.https_port;
    let app = Arc::new(App::new(scenario, config)?);
    let today = app.clock.today_jst();

    let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let base_url = format!("http://{addr}");

    let sites = site_a::router().merge(if mutual {
        site_b::tls_only_router()
    } else {
        site_b::router()
    });
    let plain = sites
        .layer(middleware::from_fn_with_state(
            app.clone(),
            crate::present::present,
        ))
        .layer(middleware::from_fn_with_state(app.clone(), timed))
        .merge(control::router())
        .with_state(app.clone());

    let handle = axum_server::Handle::new();
    let mut tasks = Vec::new();
    let server = axum_server::from_tcp(listener)?.handle(handle.clone());
    tasks.push(tokio::spawn(async move {
        if let Err(e) = server.serve(plain.into_make_service()).await {
            tracing::error!("simulator stopped: {e}");
        }
    }));

    let mut oqs_base_url = base_url.clone();
    let mut tls_handle = None;
    if mutual {
        let tls = app.pki.mutual_tls_config(today)?;
        let listener = std::net::TcpListener::bind(("127.0.0.1", https_port))?;
        listener.set_nonblocking(true)?;
        let tls_addr = listener.local_addr()?;
        oqs_base_url = format!("https://{tls_addr}");
        let secure = site_b::router()
            .layer(middleware::from_fn_with_state(
                app.clone(),
                crate::present::present,
            ))
            .layer(middleware::from_fn_with_state(app.clone(), timed))
            .with_state(app.clone());
        let h = axum_server::Handle::new();
        let server = axum_server::from_tcp_rustls(
            listener,
            axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(tls)),
        )?
        .handle(h.clone());
        tasks.push(tokio::spawn(async move {
            if let Err(e) = server.serve(secure.into_make_service()).await {
                tracing::error!("simulator (TLS) stopped: {e}");
            }
        }));
        tls_handle = Some(h);
    }
    Ok(RunningSim {
        base_url,
        oqs_base_url,
        app,
        handle,
        tls_handle,
        tasks,
    })
}

/// Each answer, timed from the request's arrival, faults included (a slowed
/// page is the server's time, as a slow portal's would be).
async fn timed(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let at = chrono::Utc::now();
    let started = std::time::Instant::now();
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let response = faults(app.clone(), request, next).await;
    let served = crate::state::Served {
        at,
        method,
        path,
        status: response.status().as_u16(),
        micros: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
    };
    let mut state = app.state();
    if state.served.len() >= crate::state::SERVED_KEPT {
        state.served.pop_front();
    }
    state.served.push_back(served);
    response
}

async fn faults(app: Arc<App>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let config = app.config();
    let nth = {
        let mut state = app.state();
        let count = state.request_counts.entry(path.clone()).or_default();
        *count += 1;
        *count
    };
    if config.faults.latency_ms > 0 {
        // The configured latency fault itself, not a wait for anything.
        tokio::time::sleep(std::time::Duration::from_millis(config.faults.latency_ms)).await;
    }
    if let Some(slow) = config.faults.slow.iter().find(|s| s.path == path) {
        // The configured slow-path fault itself.
        tokio::time::sleep(std::time::Duration::from_millis(slow.ms)).await;
    }
    if config.faults.maintenance {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Html(plain_page(
                "メンテナンス中",
                "ただいまシステムメンテナンス中です。しばらくしてから再度アクセスしてください。",
            )),
        )
            .into_response();
    }
    if config
        .faults
        .http_500
        .iter()
        .any(|f| f.path == path && f.nth == nth)
    {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Html(plain_page("システムエラー", "システムエラーが発生しました。")),
        )
            .into_response();
    }
    if config
        .faults
        .expire_session
        .iter()
        .any(|f| f.path == path && f.nth == nth)
    {
        if let Some(sid) = site_b::session_cookie(request.headers()) {
            app.state().sessions.remove(&sid);
        }
    }
    next.run(request).await
}
