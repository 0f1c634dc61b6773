//! The start page, the login popup, logout and パスワード変更 (forced and voluntary).

use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, Response};
use serde::Deserialize;

use super::{Ctx, not_logged_in, screen, screen_with_head};
use crate::app::App;
use crate::config::{MenuOpensIn, NoticeStyle, SimConfig};
use crate::html::{NotesFor, Page, Placement, Ui, esc, js};
use crate::message::Message;
use crate::model::Account;
use crate::policy;
use crate::wording::say_violation;

pub async fn start_page(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let ctx = Ctx::load(&app, &headers);
    let config = app.config();
    let ui = Ui { v: &config.ui };
    let open = "window.open('/oqs/login','oqslogin','width=620,height=520')";
    let body = format!(
        "<h1>オンライン資格確認等システム</h1><p>本システムを利用するには、以下のボタンからログインしてください。</p><p>{}</p>",
        ui.action("システムの利用を始める", open, "")
    );
    window_page(&ctx, &config, "トップページ", body)
}

/// A page in a window of its own, without the logged-in header: the start
/// page, the login popup and what it shows after logging in or out.
fn window_page(ctx: &Ctx, config: &SimConfig, title: &str, body: String) -> Response {
    let page = Page {
        title,
        header: None,
        // Only the header's ログアウト form carries the token.
        csrf: "",
        logout_confirm: config.ui.logout_confirm,
        body,
        head: "",
        placement: Placement::Window,
    };
    ctx.finish(Html(page.render(&Ui { v: &config.ui })))
}

pub(super) fn login_form(app: &App, ctx: &Ctx, user_id: &str, error: Option<Message>) -> Response {
    let config = app.config();
    let ui = Ui { v: &config.ui };
    let error = error.map(|e| ui.refusal(ui.say(e))).unwrap_or_default();
    let fields = ui.fields(&format!(
        "{}{}",
        ui.field(
            "ユーザID",
            "f-uid",
            &format!(
                r#"<input type="text" id="f-uid" name="user_id" value="{}" autocomplete="off">"#,
                esc(user_id)
            ),
            false
        ),
        ui.field(
            "パスワード",
            "f-pw",
            r#"<input type="password" id="f-pw" name="password" autocomplete="off">"#,
            false
        ),
    ));
    let body = format!(
        "<h1>ログイン</h1>{error}<form method=\"post\" action=\"/oqs/login\"><input type=\"hidden\" name=\"_csrf\" value=\"{}\">{fields}<p>{}</p></form>{}",
        esc(&ctx.csrf),
        ui.submit("ログイン", ""),
        ui.notes(NotesFor::Login, config.site.lockout_after)
    );
    window_page(ctx, &config, "ログイン", body)
}

pub async fn login_page(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let ctx = Ctx::load(&app, &headers);
    login_form(&app, &ctx, "", None)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    password: String,
}

pub async fn login(State(app): State<Arc<App>>, headers: HeaderMap, Form(form): Form<LoginForm>) -> Response {
    let mut ctx = Ctx::load(&app, &headers);
    let user_id = form.user_id.trim().to_string();
    if !ctx.csrf_ok(&form.csrf) {
        return login_form(&app, &ctx, &user_id, Some(Message::LoginFormExpired));
    }
    let config = app.config();
    let now = app.clock.now();
    let account = {
        let mut state = app.state();
        // Every refused attempt is in the event log, so a test can count what a client spent.
        let refusal = match state.account_mut(&user_id).map(|a| (a.locked, a.enabled)) {
            None => Some(("no such account", Message::LoginRefused)),
            Some((true, _)) => Some(("locked", Message::AccountLocked)),
            Some((false, false)) => Some(("disabled", Message::AccountDisabled)),
            Some((false, true)) => None,
        };
        if let Some((why, message)) = refusal {
            state.log(now, "login_failed", &user_id, why);
            drop(state);
            return login_form(&app, &ctx, &user_id, Some(message));
        }
        let Some(account) = state.account_mut(&user_id) else {
            drop(state);
            return login_form(&app, &ctx, &user_id, Some(Message::LoginRefused));
        };
        if account.password != form.password {
            account.failed_logins += 1;
            let locked_now = account.failed_logins >= config.site.lockout_after;
            account.locked = locked_now;
            let failures = account.failed_logins;
            state.log(now, "login_failed", &user_id, format!("{failures} consecutive"));
            if locked_now {
                state.log(now, "account_locked", &user_id, "");
                drop(state);
                return login_form(&app, &ctx, &user_id, Some(Message::LockedNow));
            }
            drop(state);
            return login_form(&app, &ctx, &user_id, Some(Message::LoginRefused));
        }
        account.failed_logins = 0;
        if account.password_expired(now) {
            account.must_change = true;
        }
        let snapshot = account.clone();
        state.log(now, "login", &user_id, "");
        snapshot
    };
    ctx.log_in(&app, &account);
    let destination = if !account.must_change {
        "/oqs/menu".to_string()
    } else {
        let reason = if account.password_expired(now) {
            "expired"
        } else {
            "initial"
        };
        match config.ui.initial_change_notice {
            NoticeStyle::Page => format!("/oqs/password/notice?reason={reason}"),
            _ => format!("/oqs/password/change?notice={reason}"),
        }
    };
    match config.ui.menu_opens_in {
        MenuOpensIn::Popup => ctx.redirect(&destination),
        MenuOpensIn::Opener => {
            let body = format!(
                "<p>ログインしました。</p><p><a href=\"{href}\">画面が切り替わらない場合はこちら</a></p><script>if(window.opener&&!window.opener.closed){{window.opener.location.href={to};window.close();}}else{{location.href={to};}}</script>",
                href = esc(&destination),
                to = js(&destination)
            );
            window_page(&ctx, &config, "ログイン", body)
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
}

pub async fn logout(State(app): State<Arc<App>>, headers: HeaderMap, Form(form): Form<CsrfForm>) -> Response {
    let (ctx, user) = match signed_in(&app, &headers) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    if !ctx.csrf_ok(&form.csrf) {
        return super::forbidden_csrf(&app, &ctx);
    }
    let now = app.clock.now();
    {
        let mut state = app.state();
        state.sessions.remove(&ctx.sid);
        state.log(now, "logout", &user.user_id, "");
    }
    // A fresh anonymous session: the next page says "not logged in", not "timed out".
    let ctx = Ctx::new_session(&app, false);
    let config = app.config();
    let ui = Ui { v: &config.ui };
    let body = format!(
        "<div class=\"info\">{}</div><p>{}{}</p>",
        esc(ui.say(Message::LoggedOut)),
        ui.go("トップページへ", "/oqs/"),
        ui.action("閉じる", "window.close()", "")
    );
    window_page(&ctx, &config, "ログアウト", body)
}

#[derive(Deserialize, Default)]
pub struct NoticeQuery {
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    notice: Option<String>,
}

fn notice_text(reason: Option<&str>) -> &'static str {
    match reason {
        Some("expired") => "パスワードの有効期限が切れています。パスワードを変更してください。",
        _ => "初期パスワードを変更してください。",
    }
}

/// 「初期パスワードを変更してください。」 as a screen of its own.
pub async fn initial_notice(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<NoticeQuery>,
) -> Response {
    password_message(
        &app,
        &headers,
        notice_text(q.reason.as_deref()),
        "/oqs/password/change",
    )
}

/// A パスワード変更 screen that says `text`, with an OK that goes to `next`.
fn password_message(app: &App, headers: &HeaderMap, text: &str, next: &str) -> Response {
    let (ctx, _) = match signed_in(app, headers) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let config = app.config();
    let ui = Ui { v: &config.ui };
    let body = format!(
        "<h1>パスワード変更</h1><div class=\"info\">{}</div><p>{}</p>",
        esc(text),
        ui.go("OK", next)
    );
    screen(app, &ctx, &config, "パスワード変更", body)
}

fn change_form(app: &App, ctx: &Ctx, errors: &[String], after: &str) -> Response {
    let config = app.config();
    let ui = Ui { v: &config.ui };
    let fields = ui.fields(&format!(
        "{}{}",
        ui.field(
            "新パスワード",
            "f-new",
            r#"<input type="password" id="f-new" name="new_password" autocomplete="new-password">"#,
            false
        ),
        ui.field(
            "新パスワード (確認)",
            "f-new2",
            r#"<input type="password" id="f-new2" name="new_password_confirm" autocomplete="new-password">"#,
            false
        ),
    ));
    let body = format!(
        "<h1>パスワード変更</h1>{errors}<form method=\"post\" action=\"/oqs/password/change\"><input type=\"hidden\" name=\"_csrf\" value=\"{csrf}\">{fields}<p>{button}</p></form>{rules}{notes}{after}",
        errors = ui.refusals(errors),
        csrf = esc(&ctx.csrf),
        button = ui.submit("変更", ""),
        rules = POLICY_NOTE,
        notes = ui.notes(NotesFor::PasswordChange, config.site.lockout_after),
    );
    screen(app, ctx, &config, "パスワード変更", body)
}

const POLICY_NOTE: &str = "<div class=\"note\"><p>【パスワードについて】</p><ul>\
<li>8文字以上20文字以下で設定してください。</li>\
<li>数字、英字小文字、英字大文字、特殊文字をそれぞれひとつ以上組み合わせてください。<br>※特殊文字として使用できる記号は以下のとおりです。<br>~ ! @ # $ % ^ &amp; * _ { } [ ] | ; &#39; &lt; &gt; , . ? - ( ) /</li>\
<li>パスワード変更時に設定するパスワードが13文字未満の場合、以下を満たしてください。<br>(1) 5世代前までのパスワードと同じパスワードは使用できません。<br>(2) 5世代前までのパスワードと先頭5文字が同じになる類似のパスワードは使用できません。</li>\
<li>パスワードの有効期限は以下のとおりです。<br>(1) パスワードが13文字未満の場合、「60日間」です。<br>(2) パスワードが13文字以上の場合、「無期限」です。<br>(3) 顔認証付きカードリーダー用、連携アプリケーション用、WebAPI用のアカウントはパスワードの文字数に関係なく「無期限」です。</li></ul></div>";

pub async fn change_page(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let (ctx, _) = match signed_in(&app, &headers) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let config = app.config();
    let ui = Ui { v: &config.ui };
    let notice = match q.notice.as_deref() {
        Some(reason) if config.ui.initial_change_notice != NoticeStyle::Page => ui.notice(
            config.ui.initial_change_notice,
            "modal-initial",
            "パスワード変更",
            &[notice_text(Some(reason))],
            None,
        ),
        _ => String::new(),
    };
    change_form(&app, &ctx, &[], &notice)
}

#[derive(Deserialize)]
pub struct ChangeForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_confirm: String,
}

pub async fn change(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(form): Form<ChangeForm>,
) -> Response {
    let (ctx, user) = match signed_in(&app, &headers) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    if !ctx.csrf_ok(&form.csrf) {
        return super::forbidden_csrf(&app, &ctx);
    }
    let config = app.config();
    let ui = Ui { v: &config.ui };
    let mut errors = Vec::new();
    if form.new_password.is_empty() {
        errors.push(ui.say(Message::PasswordEmpty).to_string());
    } else if form.new_password != form.new_password_confirm {
        errors.push(ui.say(Message::PasswordMismatch).to_string());
    } else {
        errors = policy::broken_rules(&form.new_password, &user.history())
            .into_iter()
            .map(|v| say_violation(&config.ui, v))
            .collect();
    }
    if !errors.is_empty() {
        return change_form(&app, &ctx, &errors, "");
    }
    let now = app.clock.now();
    {
        let mut state = app.state();
        if let Some(account) = state.account_mut(&user.user_id) {
            account.set_password(form.new_password.clone(), now);
            account.must_change = false;
        }
        state.log(now, "password_changed", &user.user_id, "");
    }
    match config.ui.change_done_notice {
        NoticeStyle::Page => ctx.redirect("/oqs/password/done"),
        style => {
            let notice = ui.notice(
                style,
                "modal-updated",
                "パスワード変更",
                &["更新しました。"],
                Some("/oqs/menu"),
            );
            let body = format!("<h1>パスワード変更</h1>{notice}");
            screen_with_head(&app, &ctx, &config, "パスワード変更", body, "")
        }
    }
}

pub async fn change_done(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    password_message(&app, &headers, "更新しました。", "/oqs/menu")
}

/// As `require_user`, but an account that must change its password is let in:
/// these screens are where it does.
fn signed_in(app: &App, headers: &HeaderMap) -> Result<(Ctx, Account), Box<Response>> {
    let ctx = Ctx::load(app, headers);
    let Some(user) = ctx.user.clone() else {
        return Err(Box::new(not_logged_in(app, &ctx)));
    };
    Ok((ctx, user))
}
