//! アカウント管理(更新) (search, detail, パスワード初期化) and アカウント管理（登録）,
//! with the passwords they hand out: shown behind 「パスワード表示」 and printed
//! as a ユーザ設定情報 PDF.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, NaiveDate};
use serde::Deserialize;

use super::{Ctx, error_page_box, forbidden_csrf, require_role, screen};
use crate::app::App;
use crate::config::{Charset, PasswordDisplay};
use crate::html::{NotesFor, Ui, esc, js, text_input};
use crate::message::Message;
use crate::model::{Account, Role};
use crate::pdf::CredentialNotice;
use crate::policy;
use crate::state::{IssueKind, IssuedCredential, LastSearch, random_token};

const MANAGERS: [Role; 3] = [Role::MasterReset, Role::Master, Role::Admin];

fn date(d: NaiveDate) -> String {
    d.format("%Y/%m/%d").to_string()
}

fn end_date(d: Option<NaiveDate>) -> String {
    d.map(date).unwrap_or_else(|| "9999/12/31".to_string())
}

/// Who sees whom in アカウント管理(更新).
fn visible(app: &App, viewer: &Account, target: &Account) -> bool {
    match viewer.role {
        Role::MasterReset => target.role == Role::Master,
        Role::Master => target.role != Role::MasterReset,
        Role::Admin => match target.role {
            Role::MasterReset => false,
            Role::Master => app.config().ui.admin_sees_master,
            _ => true,
        },
        _ => false,
    }
}

#[derive(Deserialize, Default, Clone)]
pub struct SearchQuery {
    #[serde(default)]
    search: Option<String>,
    #[serde(default)]
    role: String,
    #[serde(default)]
    uid: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kana: String,
    #[serde(default)]
    enabled: String,
    #[serde(default)]
    locked: String,
    #[serde(default)]
    page: Option<usize>,
}

fn select(name: &str, id: &str, options: &[(&str, &str)], current: &str) -> String {
    let mut html = format!("<select name=\"{name}\" id=\"{id}\">");
    for (value, label) in options {
        let sel = if *value == current { " selected" } else { "" };
        html.push_str(&format!(
            "<option value=\"{}\"{sel}>{}</option>",
            esc(value),
            esc(label)
        ));
    }
    html.push_str("</select>");
    html
}

pub async fn search(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<SearchQuery>,
) -> Response {
    let (ctx, user) = match require_role(&app, &headers, &MANAGERS) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let config = app.config();
    let ui = Ui { v: &config.ui };
    let mut role_options: Vec<(&str, &str)> = vec![("", "全て")];
    role_options.extend(
        Role::ALL
            .iter()
            .filter(|r| **r != Role::MasterReset)
            .map(|r| (r.label(), r.label())),
    );
    let text = text_input;
    let fields = [
        ui.shown("医療コード", &app.scenario.institution.code),
        ui.field(
            "権限区分",
            "s-role",
            &select("role", "s-role", &role_options, &q.role),
            false,
        ),
        ui.field("ユーザID", "s-uid", &text("uid", "s-uid", &q.uid), false),
        ui.field("ユーザ名", "s-name", &text("name", "s-name", &q.name), false),
        ui.field(
            "ユーザ名(カナ)",
            "s-kana",
            &text("kana", "s-kana", &q.kana),
            false,
        ),
        ui.field(
            "有効/無効",
            "s-enabled",
            &select(
                "enabled",
                "s-enabled",
                &[("", "全て"), ("有効", "有効"), ("無効", "無効")],
                &q.enabled,
            ),
            false,
        ),
        ui.field(
            "アカウントロック",
            "s-locked",
            &select(
                "locked",
                "s-locked",
                &[("", "全て"), ("あり", "あり"), ("なし", "なし")],
                &q.locked,
            ),
            false,
        ),
        ui.field("利用開始年月日", "s-start", &text("start", "s-start", ""), false),
        ui.field("利用終了年月日", "s-end", &text("end", "s-end", ""), false),
    ]
    .concat();
    let mut body = format!(
        "<h1>アカウント検索</h1><form method=\"get\" action=\"/oqs/account/search\"><input type=\"hidden\" name=\"search\" value=\"1\">{}<p>{}{}</p></form>{}",
        ui.fields(&fields),
        ui.submit("検索", ""),
        ui.go("クリア", "/oqs/account/search"),
        ui.notes(NotesFor::Search, config.site.lockout_after),
    );
    let page_size = config.site.page_size.max(1);
    let charset = config.ui.charset;
    if q.search.is_some() {
        let matches = find(&app, &user, &q);
        app.state().last_searches.insert(
            user.user_id.clone(),
            LastSearch {
                role: q.role.clone(),
                uid: q.uid.clone(),
                name: q.name.clone(),
                kana: q.kana.clone(),
                enabled: q.enabled.clone(),
                locked: q.locked.clone(),
                page: q.page,
                rows: matches.clone(),
            },
        );
        body.push_str(&results_table(&ui, &q, &matches, page_size, charset));
    } else if config.ui.search_shows_last {
        // The table of this user's last search, as it was then; before any,
        // the table a bare 「検索」 would give now.
        let last = app.state().last_searches.get(&user.user_id).cloned();
        let (shown_query, rows) = match last {
            Some(l) => (
                SearchQuery {
                    search: Some("1".into()),
                    role: l.role,
                    uid: l.uid,
                    name: l.name,
                    kana: l.kana,
                    enabled: l.enabled,
                    locked: l.locked,
                    page: l.page,
                },
                l.rows,
            ),
            None => {
                let all = SearchQuery::default();
                let rows = find(&app, &user, &all);
                (all, rows)
            }
        };
        body.push_str(&results_table(&ui, &shown_query, &rows, page_size, charset));
    }
    body.push_str(&format!("<p>{}</p>", ui.go("戻る", "/oqs/menu")));
    screen(&app, &ctx, &config, "アカウント検索", body)
}

/// The accounts `user` may see that match the query, by ユーザID.
fn find(app: &App, user: &Account, q: &SearchQuery) -> Vec<Account> {
    let state = app.state();
    let mut found: Vec<Account> = state
        .accounts
        .iter()
        .filter(|a| visible(app, user, a))
        .filter(|a| q.role.is_empty() || a.role.label() == q.role)
        .filter(|a| a.user_id.contains(q.uid.trim()))
        .filter(|a| a.name.contains(q.name.trim()))
        .filter(|a| a.kana.contains(q.kana.trim()))
        .filter(|a| q.enabled.is_empty() || (q.enabled == "有効") == a.enabled)
        .filter(|a| q.locked.is_empty() || (q.locked == "あり") == a.locked)
        .cloned()
        .collect();
    found.sort_by(|a, b| a.user_id.cmp(&b.user_id));
    found
}

fn results_table(
    ui: &Ui,
    q: &SearchQuery,
    matches: &[Account],
    page_size: usize,
    charset: Charset,
) -> String {
    let total = matches.len();
    let pages = total.div_ceil(page_size).max(1);
    let page = q.page.unwrap_or(1).clamp(1, pages);
    let first = (page - 1) * page_size;
    let shown = &matches[first.min(total)..(first + page_size).min(total)];
    let link = |p: usize| {
        let query = [
            ("search", "1"),
            ("role", q.role.as_str()),
            ("uid", q.uid.as_str()),
            ("name", q.name.as_str()),
            ("kana", q.kana.as_str()),
            ("enabled", q.enabled.as_str()),
            ("locked", q.locked.as_str()),
        ]
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode_in(v, charset)))
        .collect::<Vec<_>>()
        .join("&");
        format!("/oqs/account/search?{query}&page={p}")
    };
    let mut pager = String::new();
    if page > 1 {
        pager.push_str(&format!("<a href=\"{}\">&lt;&lt;前へ</a> ", esc(&link(page - 1))));
    } else {
        pager.push_str("<span>&lt;&lt;前へ</span> ");
    }
    for p in 1..=pages {
        if p == page {
            pager.push_str(&format!("<strong>{p}</strong> "));
        } else {
            pager.push_str(&format!("<a href=\"{}\">{p}</a> ", esc(&link(p))));
        }
    }
    if page < pages {
        pager.push_str(&format!("<a href=\"{}\">次へ&gt;&gt;</a>", esc(&link(page + 1))));
    } else {
        pager.push_str("<span>次へ&gt;&gt;</span>");
    }
    let range = if total == 0 {
        String::new()
    } else {
        format!("{}-{}件表示", first + 1, first + shown.len())
    };
    let mut html = format!(
        "<h2>検索結果: {total}件</h2><div class=\"pager\">{range} {pager}</div><table class=\"list\" aria-label=\"検索結果\"><thead><tr><th>ユーザID</th><th>ユーザ名</th><th>権限区分</th><th>有効/無効</th><th>アカウントロック</th><th>利用開始日</th><th>利用終了日</th></tr></thead><tbody>"
    );
    for a in shown {
        html.push_str(&format!(
            "<tr class=\"row\" data-href=\"/oqs/account/detail?uid={}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&urlencode_in(&a.user_id, charset)),
            esc(&a.user_id),
            esc(&a.name),
            esc(ui.t(a.role.label()).as_str()),
            if a.enabled { "有効" } else { "無効" },
            if a.locked { "あり" } else { "なし" },
            date(a.start),
            end_date(a.end),
        ));
    }
    html.push_str("</tbody></table>");
    html
}

fn urlencode(s: &str) -> String {
    urlencode_in(s, Charset::Utf8)
}

/// Percent-encoding in the pages' charset: a browser reads a query back in it.
fn urlencode_in(s: &str, charset: Charset) -> String {
    let bytes = match charset {
        Charset::Utf8 => std::borrow::Cow::Borrowed(s.as_bytes()),
        Charset::ShiftJis => encoding_rs::SHIFT_JIS.encode(s).0,
    };
    let mut out = String::new();
    for &b in bytes.iter() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The password an issued credential shows: hidden until 「パスワード表示」.
fn password_box(ui: &Ui, display: PasswordDisplay, token: &str, password: &str) -> String {
    let value = match display {
        PasswordDisplay::Masked => format!("<span class=\"pw-value\" hidden>{}</span>", esc(password)),
        PasswordDisplay::Absent => String::new(),
    };
    format!(
        "<span class=\"password-box\" data-source=\"/oqs/credential/{t}/password\"><span class=\"pw-mask\">●●●●●●</span>{value} {button}</span>",
        t = esc(token),
        button = ui.action("パスワード表示", "showPassword(this)", "")
    )
}

#[derive(Deserialize)]
pub struct DetailQuery {
    #[serde(default)]
    uid: String,
    #[serde(default)]
    issued: Option<String>,
}

pub async fn detail(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<DetailQuery>,
) -> Response {
    let (ctx, user) = match require_role(&app, &headers, &MANAGERS) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let config = app.config();
    let ui = Ui { v: &config.ui };
    let (target, issued) = {
        let state = app.state();
        let target = state.account(&q.uid).cloned();
        let issued = q
            .issued
            .as_ref()
            .and_then(|t| state.issued.get(t).cloned().map(|c| (t.clone(), c)));
        (target, issued)
    };
    let Some(target) = target.filter(|t| visible(&app, &user, t)) else {
        let body = format!(
            "{}<p>{}</p>",
            error_page_box(ui.say(Message::NoSuchAccount)),
            ui.go("戻る", SEARCH_URL)
        );
        return screen(&app, &ctx, &config, "アカウント管理", body);
    };
    let disabled = if target.enabled { "" } else { " checked" };
    let shown = [
        ui.shown_line(&[
            ("医療コード", &app.scenario.institution.code),
            ("機関名", &app.scenario.institution.name),
        ]),
        ui.shown("権限区分", &ui.t(target.role.label())),
        ui.shown("ユーザID", &target.user_id),
        ui.shown("ユーザ名", &target.name),
        ui.shown("ユーザ名(カナ)", &target.kana),
        ui.field(
            "有効/無効",
            "d-disable",
            &format!(
                "<label><input type=\"checkbox\" id=\"d-disable\" disabled{disabled}>無効にする</label>"
            ),
            false,
        ),
        ui.shown("アカウントロック", if target.locked { "あり" } else { "なし" }),
        ui.shown("利用開始年月日", &date(target.start)),
        ui.shown("利用終了年月日", &end_date(target.end)),
    ]
    .concat();
    let reset = if user.role.may_reset(target.role) {
        let (attrs, modal) = ui.confirm(
            config.ui.reset_confirm,
            "modal-reset",
            "パスワード初期化",
            "パスワードを初期化します。よろしいですか？",
        );
        format!(
            "<form method=\"post\" action=\"/oqs/account/reset\" {attrs}><input type=\"hidden\" name=\"_csrf\" value=\"{}\"><input type=\"hidden\" name=\"uid\" value=\"{}\">{}</form>{modal}",
            esc(&ctx.csrf),
            esc(&target.user_id),
            ui.submit("パスワード初期化", "")
        )
    } else {
        String::new()
    };
    let mut body = format!(
        "<h1>アカウント管理</h1>{}{reset}<p>{}</p>",
        ui.fields(&shown),
        ui.go("戻る", SEARCH_URL)
    );
    if let Some((token, cred)) =
        issued.filter(|(_, c)| c.session_id == ctx.sid && c.user_id == target.user_id)
    {
        let lines = format!(
            "<p>パスワードを初期化しました。<br>利用者にパスワード情報を通知してください。</p>{}{}",
            ui.fields(&ui.shown("ユーザID", &cred.user_id)),
            ui.fields(&ui.field(
                "初期後のパスワード",
                "d-password",
                &password_box(&ui, config.ui.password_display, &token, &cred.password),
                false
            )),
        );
        let buttons = format!(
            "{}{}",
            ui.go("ダウンロード", &format!("/oqs/credential/{token}/pdf")),
            ui.go(
                "OK",
                &format!("/oqs/account/detail?uid={}", urlencode(&target.user_id))
            )
        );
        body.push_str(&format!(
            "<div class=\"modal-backdrop\" id=\"modal-password\"><div class=\"modal\" role=\"dialog\" aria-modal=\"true\" aria-label=\"パスワード\"><div class=\"modal-title\">パスワード</div><div class=\"modal-body\">{lines}</div><div class=\"modal-buttons\">{buttons}</div></div></div>"
        ));
    }
    screen(&app, &ctx, &config, "アカウント管理", body)
}

const SEARCH_URL: &str = "/oqs/account/search?search=1";

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    uid: String,
}

fn issue(app: &App, ctx: &Ctx, account: &Account, kind: IssueKind, password: &str) -> String {
    let token = random_token(20);
    let now = app.clock.now();
    app.state().issued.insert(
        token.clone(),
        IssuedCredential {
            session_id: ctx.sid.clone(),
            user_id: account.user_id.clone(),
            user_name: account.name.clone(),
            password: password.to_string(),
            kind,
            issued_at: now,
        },
    );
    token
}

pub async fn reset(State(app): State<Arc<App>>, headers: HeaderMap, Form(form): Form<ResetForm>) -> Response {
    let (ctx, user) = match require_role(&app, &headers, &MANAGERS) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    if !ctx.csrf_ok(&form.csrf) {
        return forbidden_csrf(&app, &ctx);
    }
    let now = app.clock.now();
    let password = policy::generate_initial();
    let target = {
        let mut state = app.state();
        let allowed = state
            .account(&form.uid)
            .is_some_and(|t| visible(&app, &user, t) && user.role.may_reset(t.role));
        let target = if allowed {
            state.account_mut(&form.uid)
        } else {
            None
        };
        let Some(target) = target else {
            drop(state);
            let config = app.config();
            let ui = Ui { v: &config.ui };
            let body = ui.refusal(ui.say(Message::ResetRefused));
            return screen(&app, &ctx, &config, "アカウント管理", body);
        };
        target.set_password(password.clone(), now);
        target.must_change = true;
        target.locked = false;
        target.failed_logins = 0;
        let snapshot = target.clone();
        state.log(now, "password_reset", &form.uid, format!("by {}", user.user_id));
        snapshot
    };
    let token = issue(&app, &ctx, &target, IssueKind::Reset, &password);
    ctx.redirect(&format!(
        "/oqs/account/detail?uid={}&issued={token}",
        urlencode(&target.user_id)
    ))
}

#[derive(Deserialize, Default)]
pub struct RegisterQuery {
    #[serde(default)]
    done: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
pub struct RegisterForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    user_name: String,
    #[serde(default)]
    kana: String,
    #[serde(default)]
    start: String,
    #[serde(default)]
    end: String,
}

fn register_screen(
    app: &App,
    ctx: &Ctx,
    user: &Account,
    form: &RegisterForm,
    errors: &[String],
    done: Option<(String, IssuedCredential)>,
) -> Response {
    let config = app.config();
    let ui = Ui { v: &config.ui };
    let mut roles: Vec<(&str, &str)> = vec![("", "選択してください")];
    roles.extend(user.role.may_register().iter().map(|r| (r.label(), r.label())));
    let today = date(app.clock.today_jst());
    let text = text_input;
    let fields = [
        ui.shown_line(&[
            ("機関コード", &app.scenario.institution.code),
            ("医療機関名", &app.scenario.institution.name),
        ]),
        ui.field(
            "権限区分",
            "r-role",
            &select("role", "r-role", &roles, &form.role),
            true,
        ),
        ui.field(
            "ユーザID",
            "r-uid",
            &text("user_id", "r-uid", &form.user_id),
            true,
        ),
        ui.field(
            "ユーザ名",
            "r-name",
            &text("user_name", "r-name", &form.user_name),
            true,
        ),
        ui.field(
            "ユーザ名(カナ)",
            "r-kana",
            &text("kana", "r-kana", &form.kana),
            true,
        ),
        ui.field(
            "利用開始年月日",
            "r-start",
            &format!(
                r#"<input type="text" name="start" id="r-start" placeholder="yyyy/mm/dd" value="{}"> {}"#,
                esc(&form.start),
                ui.action(
                    "作業日選択",
                    &format!("document.getElementById('r-start').value={}", js(&today)),
                    ""
                )
            ),
            true,
        ),
        ui.field(
            "利用終了年月日",
            "r-end",
            &format!(
                r#"<input type="text" name="end" id="r-end" placeholder="yyyy/mm/dd" value="{}">"#,
                esc(&form.end)
            ),
            false,
        ),
    ]
    .concat();
    let (attrs, modal) = ui.confirm(
        config.ui.register_confirm,
        "modal-register",
        "アカウント登録",
        "登録します。よろしいですか？",
    );
    let completion = match done {
        Some((token, cred)) => {
            // With the extra dialog, the completion shows once its OK is clicked.
            let (hidden, dialog) = if config.ui.register_dialog {
                let ok = ui.action(
                    "OK",
                    "document.getElementById('modal-registered').hidden=true;document.getElementById('registered').hidden=false",
                    "",
                );
                (
                    " hidden",
                    ui.modal(
                        "modal-registered",
                        "アカウント管理",
                        &[ui.say(Message::RegisterDialog)],
                        &ok,
                        true,
                    ),
                )
            } else {
                ("", String::new())
            };
            format!(
                "<div class=\"info\" role=\"status\" id=\"registered\"{hidden}><p>{}</p>{}{}<p>{}</p></div>{dialog}",
                esc(ui.say(Message::Registered)),
                ui.fields(&ui.shown("ユーザID", &cred.user_id)),
                ui.fields(&ui.field(
                    "初期パスワード",
                    "r-password",
                    &password_box(&ui, config.ui.password_display, &token, &cred.password),
                    false
                )),
                ui.go("ダウンロード", &format!("/oqs/credential/{token}/pdf")),
            )
        }
        None => String::new(),
    };
    let body = format!(
        "<h1>アカウント管理 <span class=\"req\">*必須項目</span></h1>{completion}{errors}<form method=\"post\" action=\"/oqs/account/register\" {attrs}><input type=\"hidden\" name=\"_csrf\" value=\"{csrf}\">{fields}<p>{submit}</p></form>{modal}{notes}<p>{menu}{back}</p>",
        errors = ui.refusals(errors),
        notes = ui.notes(NotesFor::Register, config.site.lockout_after),
        csrf = esc(&ctx.csrf),
        fields = ui.fields(&fields),
        submit = ui.submit("登録", ""),
        menu = ui.go("メニュー", "/oqs/menu"),
        back = ui.action("戻る", "history.back()", ""),
    );
    screen(app, ctx, &config, "アカウント管理", body)
}

pub async fn register_page(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<RegisterQuery>,
) -> Response {
    let (ctx, user) = match require_role(&app, &headers, &[Role::Master, Role::Admin]) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let done = q.done.and_then(|t| {
        let state = app.state();
        state
            .issued
            .get(&t)
            .filter(|c| c.session_id == ctx.sid && c.kind == IssueKind::Registered)
            .cloned()
            .map(|c| (t, c))
    });
    register_screen(&app, &ctx, &user, &RegisterForm::default(), &[], done)
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    let t = text.trim();
    (t.len() == 10)
        .then(|| NaiveDate::parse_from_str(t, "%Y/%m/%d").ok())
        .flatten()
}

pub async fn register(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(form): Form<RegisterForm>,
) -> Response {
    let (ctx, user) = match require_role(&app, &headers, &[Role::Master, Role::Admin]) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    if !ctx.csrf_ok(&form.csrf) {
        return forbidden_csrf(&app, &ctx);
    }
    let today = app.clock.today_jst();
    let config = app.config();
    let say = |m: Message| crate::wording::say(&config.ui, m).to_string();
    let mut errors = Vec::new();
    let role = Role::parse(&form.role).filter(|r| user.role.may_register().contains(r));
    if role.is_none() {
        errors.push(say(Message::RegisterRole));
    }
    let uid = form.user_id.trim();
    if !((4..=20).contains(&uid.len()) && uid.bytes().all(|b| b.is_ascii_alphanumeric())) {
        errors.push(say(Message::RegisterUserId));
    } else if app.state().account(uid).is_some() {
        errors.push(say(Message::RegisterExists));
    }
    let name = form.user_name.trim();
    if name.is_empty() || name.chars().count() > 30 {
        errors.push(say(Message::RegisterName));
    }
    let kana = form.kana.trim();
    if kana.is_empty()
        || !kana
            .chars()
            .all(|c| matches!(c, '\u{30A1}'..='\u{30F6}' | 'ー' | '・' | '　'))
    {
        errors.push(say(Message::RegisterKana));
    }
    let start = parse_date(&form.start);
    match start {
        None => errors.push(say(Message::RegisterStartFormat)),
        Some(s) if s < today => errors.push(say(Message::RegisterStartPast)),
        Some(_) => {}
    }
    let end = if form.end.trim().is_empty() {
        None
    } else {
        let end = parse_date(&form.end);
        match end {
            None => errors.push(say(Message::RegisterEndFormat)),
            Some(e) if start.is_some_and(|s| e < s) => errors.push(say(Message::RegisterEndBeforeStart)),
            Some(_) => {}
        }
        end
    };
    let (Some(role), Some(start), true) = (role, start, errors.is_empty()) else {
        return register_screen(&app, &ctx, &user, &form, &errors, None);
    };
    let now = app.clock.now();
    let password = policy::generate_initial();
    let account = Account {
        user_id: uid.to_string(),
        role,
        name: name.to_string(),
        kana: kana.to_string(),
        password: password.clone(),
        previous: Vec::new(),
        must_change: true,
        locked: false,
        failed_logins: 0,
        enabled: true,
        start,
        end,
        password_set_at: now,
    };
    {
        let mut state = app.state();
        state.accounts.push(account.clone());
        state.log(
            now,
            "account_registered",
            uid,
            format!("{} by {}", role.label(), user.user_id),
        );
    }
    let token = issue(&app, &ctx, &account, IssueKind::Registered, &password);
    ctx.redirect(&format!("/oqs/account/register?done={token}"))
}

fn owned_credential(app: &App, headers: &HeaderMap, token: &str) -> Option<IssuedCredential> {
    let ctx = Ctx::load(app, headers);
    ctx.user.as_ref()?;
    app.state()
        .issued
        .get(token)
        .filter(|c| c.session_id == ctx.sid)
        .cloned()
}

/// The password behind 「パスワード表示」, for pages that leave it out until asked.
pub async fn credential_password(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    match owned_credential(&app, &headers, &token) {
        Some(c) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], c.password).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

pub async fn credential_pdf(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    let Some(cred) = owned_credential(&app, &headers, &token) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let issued_pdf = app.config().faults.issued_pdf;
    if issued_pdf == crate::config::IssuedPdf::Withheld {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let today = app.clock.today_jst();
    let s = &app.scenario;
    let is_master = cred.user_id == s.master.user_id;
    let password = match issued_pdf {
        crate::config::IssuedPdf::WithoutPassword => None,
        // Another password the policy takes: the account's own, turned around.
        crate::config::IssuedPdf::Differs => {
            Some(format!("{}Z9", cred.password.chars().rev().collect::<String>()))
        }
        _ => Some(cred.password.clone()),
    };
    let notice = CredentialNotice {
        issued: today,
        postal_code: s.institution.postal_code.clone(),
        address: s.institution.address.clone(),
        institution_name: s.institution.name.clone(),
        institution_code: s.institution.code.clone(),
        user_id: cred.user_id.clone(),
        user_name: cred.user_name.clone(),
        password,
        password_expires: Some(today + Duration::days(policy::EXPIRY_DAYS)),
        reset_user_id: is_master.then(|| s.reset_user_id()),
        subtitle: None,
    };
    match app.render_pdf(&notice) {
        Ok(bytes) => {
            let disposition = format!(
                "attachment; filename=\"{id}.pdf\"; filename*=UTF-8''{}{id}.pdf",
                urlencode("ユーザ設定情報_"),
                id = cred.user_id
            );
            (
                [
                    (header::CONTENT_TYPE, HeaderValue::from_static("application/pdf")),
                    (
                        header::CONTENT_DISPOSITION,
                        HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("attachment")),
                    ),
                ],
                bytes,
            )
                .into_response()
        }
        Err(e) => {
            tracing::error!("{e}");
            (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
        }
    }
}
