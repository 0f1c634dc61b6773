//! Site B: the オンライン資格確認等システム web system.

mod accounts;
mod auth;
mod bulk_pages;
mod menu;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Duration;

use crate::app::App;
use crate::config::{Frames, SimConfig};
use crate::html::{Header, Page, Placement, Ui};
use crate::message::Message;
use crate::model::{Account, Role};
use crate::state::{Session, random_token};

const COOKIE: &str = "OQSSESSION";

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/oqs/", get(auth::start_page))
        .route("/oqs/login", get(auth::login_page).post(auth::login))
        .route("/oqs/logout", post(auth::logout))
        .route("/oqs/password/notice", get(auth::initial_notice))
        .route("/oqs/password/change", get(auth::change_page).post(auth::change))
        .route("/oqs/password/done", get(auth::change_done))
        .route("/oqs/menu", get(menu::menu))
        .route("/oqs/frame/menu", get(menu::menu_frame))
        .route("/oqs/feature", get(menu::feature))
        .route("/oqs/account/search", get(accounts::search))
        .route("/oqs/account/detail", get(accounts::detail))
        .route("/oqs/account/reset", post(accounts::reset))
        .route(
            "/oqs/account/register",
            get(accounts::register_page).post(accounts::register),
        )
        .route(
            "/oqs/credential/{token}/password",
            get(accounts::credential_password),
        )
        .route("/oqs/credential/{token}/pdf", get(accounts::credential_pdf))
        .route(
            "/oqs/bulk/upload",
            get(bulk_pages::upload_page).post(bulk_pages::upload),
        )
        .route("/oqs/bulk/results", get(bulk_pages::results))
        .route("/oqs/bulk/results/{receipt}/file", get(bulk_pages::result_file))
}

/// In mutual-TLS mode the plain port says where the オン資 site is instead.
pub fn tls_only_router() -> Router<Arc<App>> {
    async fn use_https() -> (StatusCode, Html<String>) {
        (
            StatusCode::FORBIDDEN,
            Html(crate::html::plain_page(
                "クライアント証明書が必要です",
                "オンライン資格確認等システムはクライアント証明書を用いた HTTPS でのみ利用できます。",
            )),
        )
    }
    Router::new()
        .route("/oqs/", get(use_https))
        .route("/oqs/{*rest}", get(use_https).post(use_https))
}

pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().strip_prefix(&format!("{COOKIE}=")).map(str::to_string))
        .next()
}

/// The visitor's session for this request.
pub struct Ctx {
    pub sid: String,
    pub csrf: String,
    pub user: Option<Account>,
    /// The browser sent a session that is gone (idle timeout, or a fault).
    pub expired: bool,
    set_cookie: bool,
}

impl Ctx {
    pub fn new_session(app: &App, expired: bool) -> Ctx {
        let sid = random_token(32);
        let csrf = random_token(24);
        app.state().sessions.insert(
            sid.clone(),
            Session {
                user: None,
                csrf: csrf.clone(),
                last_seen: app.clock.now(),
            },
        );
        Ctx {
            sid,
            csrf,
            user: None,
            expired,
            set_cookie: true,
        }
    }

    pub fn load(app: &App, headers: &HeaderMap) -> Ctx {
        let now = app.clock.now();
        let idle = Duration::seconds(app.config().site.idle_timeout_secs);
        let Some(sid) = session_cookie(headers) else {
            return Ctx::new_session(app, false);
        };
        let found = {
            let mut state = app.state();
            let live = match state.sessions.get_mut(&sid) {
                Some(s) if now - s.last_seen <= idle => {
                    s.last_seen = now;
                    Some((s.csrf.clone(), s.user.clone()))
                }
                _ => None,
            };
            if live.is_none() {
                state.sessions.remove(&sid);
            }
            live.map(|(csrf, user)| (csrf, user.and_then(|u| state.account(&u).cloned())))
        };
        match found {
            Some((csrf, user)) => Ctx {
                sid,
                csrf,
                user,
                expired: false,
                set_cookie: false,
            },
            None => Ctx::new_session(app, true),
        }
    }

    /// Replaces the session with a fresh one for `user_id` (no fixation across login).
    pub fn log_in(&mut self, app: &App, account: &Account) {
        let mut state = app.state();
        state.sessions.remove(&self.sid);
        self.sid = random_token(32);
        self.csrf = random_token(24);
        state.sessions.insert(
            self.sid.clone(),
            Session {
                user: Some(account.user_id.clone()),
                csrf: self.csrf.clone(),
                last_seen: app.clock.now(),
            },
        );
        self.user = Some(account.clone());
        self.set_cookie = true;
    }

    pub fn finish(&self, response: impl IntoResponse) -> Response {
        let mut response = response.into_response();
        if self.set_cookie
            && let Ok(v) = HeaderValue::from_str(&format!(
                "{COOKIE}={}; Path=/oqs; HttpOnly; SameSite=Lax",
                self.sid
            ))
        {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
        response
    }

    pub fn redirect(&self, to: &str) -> Response {
        self.finish(Redirect::to(to))
    }

    pub fn csrf_ok(&self, token: &str) -> bool {
        !token.is_empty() && token == self.csrf
    }
}

/// Renders a screen of the logged-in system, header and all.
pub fn screen(app: &App, ctx: &Ctx, config: &SimConfig, title: &str, body: String) -> Response {
    screen_with_head(app, ctx, config, title, body, "")
}

pub fn screen_with_head(
    app: &App,
    ctx: &Ctx,
    config: &SimConfig,
    title: &str,
    body: String,
    head: &str,
) -> Response {
    let ui = Ui { v: &config.ui };
    let who = ctx.user.as_ref().map(|u| match config.ui.header_shows {
        crate::config::HeaderShows::Name => u.name.clone(),
        crate::config::HeaderShows::Role => u.role.header_label().to_string(),
    });
    // In frames, every screen is the content frame's: the header is in another.
    let placement = match config.ui.frames {
        Frames::None => Placement::Window,
        _ => Placement::Content,
    };
    let page = Page {
        title,
        header: who.as_deref().map(|who| Header {
            institution: &app.scenario.institution.name,
            who,
        }),
        csrf: &ctx.csrf,
        logout_confirm: config.ui.logout_confirm,
        body,
        head,
        placement,
    };
    ctx.finish(Html(page.render(&ui)))
}

/// A page for a visitor with no usable session.
pub fn not_logged_in(app: &App, ctx: &Ctx) -> Response {
    let config = app.config();
    if ctx.expired && config.ui.session_end == crate::config::SessionEnd::LoginForm {
        return auth::login_form(app, ctx, "", Some(Message::SessionTimeout));
    }
    let ui = Ui { v: &config.ui };
    let message = if ctx.expired {
        ui.say(Message::SessionTimeout)
    } else {
        ui.say(Message::NotLoggedIn)
    };
    // A page of its own, not a refusal: always in the page.
    let body = format!(
        "{}<p>{}</p>",
        error_page_box(message),
        ui.go("トップページへ", "/oqs/")
    );
    screen(app, ctx, &config, "エラー", body)
}

/// The message of an error page (not a form's refusal): always in the page.
pub fn error_page_box(message: &str) -> String {
    format!(
        "<div class=\"error\" role=\"alert\">{}</div>",
        crate::html::esc(message)
    )
}

pub fn forbidden_csrf(app: &App, ctx: &Ctx) -> Response {
    let config = app.config();
    let body = error_page_box(crate::wording::say(&config.ui, Message::BadTransition));
    let mut r = screen(app, ctx, &config, "エラー", body);
    *r.status_mut() = StatusCode::FORBIDDEN;
    r
}

/// The logged-in account, or the response that refuses the request. An
/// account that must change its password is sent to パスワード変更.
/// The error is boxed: a refusal is a whole response, and the happy path stays small.
pub fn require_user(app: &App, headers: &HeaderMap) -> Result<(Ctx, Account), Box<Response>> {
    let ctx = Ctx::load(app, headers);
    let Some(user) = ctx.user.clone() else {
        return Err(Box::new(not_logged_in(app, &ctx)));
    };
    if user.must_change {
        return Err(Box::new(ctx.redirect("/oqs/password/change")));
    }
    Ok((ctx, user))
}

/// As `require_user`, and the account must hold one of `roles`.
pub fn require_role(app: &App, headers: &HeaderMap, roles: &[Role]) -> Result<(Ctx, Account), Box<Response>> {
    let (ctx, user) = require_user(app, headers)?;
    if !roles.contains(&user.role) {
        let config = app.config();
        let body = error_page_box(crate::wording::say(&config.ui, Message::NoPermission));
        let mut r = screen(app, &ctx, &config, "エラー", body);
        *r.status_mut() = StatusCode::FORBIDDEN;
        return Err(Box::new(r));
    }
    Ok((ctx, user))
}
