//! Markup and behaviour the simulator does not produce by default, served by
//! wiremock: what a portal written by someone else may do. Each test fails
//! without the engine rule it names.

use std::path::Path;
use std::time::Duration;

use oqsbot::browser::Browser;
use oqsbot::flow::{Engine, FailureKind, FlowLibrary};
use oqsbot::secret::{Redactor, Secret};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn html(body: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(
        format!("<!doctype html><html lang=ja><head><meta charset=utf-8><title>オンライン資格確認等システム</title></head><body>{body}</body></html>"),
        "text/html; charset=utf-8",
    )
}

async fn page(server: &MockServer, verb: &str, at: &str, response: ResponseTemplate) {
    Mock::given(method(verb))
        .and(path(at))
        .respond_with(response)
        .mount(server)
        .await;
}

const START: &str = r#"<h1>オンライン資格確認等システム</h1>
<button onclick="window.open('/login','oqslogin','width=640,height=480')">システムの利用を始める</button>"#;

/// A login form laid out with plain cells, under a standing note that speaks of a lock.
fn login_form(answer: &str) -> String {
    format!(
        r#"<form method=post action=/login><table>
<tr><td>ユーザID</td><td><input name=uid></td></tr>
<tr><td>パスワード</td><td><input type=password name=pw></td></tr></table>
<input type=submit value="ログイン"></form>
<div>{answer}</div>
<p>※パスワードを5回連続で誤るとアカウントがロックされます。ロックされた場合は管理者に連絡してください。</p>"#
    )
}

async fn login_portal(answer: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    page(&server, "GET", "/start", html(START)).await;
    page(&server, "GET", "/login", html(&login_form(""))).await;
    page(&server, "POST", "/login", answer).await;
    server
}

fn engine<'b>(b: &'b Browser, dir: &Path, flows: Option<&Path>) -> Engine<'b> {
    Engine::new(
        b,
        FlowLibrary::new(flows),
        Redactor::new(),
        &dir.join("artifacts"),
    )
}

async fn try_login(server: &MockServer) -> (Result<(), Box<oqsbot::flow::FlowError>>, Option<String>) {
    let dir = tempfile::tempdir().expect("dir");
    let b = super::browser(dir.path()).await;
    let mut e = engine(&b, dir.path(), None);
    e.set("oqs_url", &format!("{}/start", server.uri()));
    e.set("user_id", "OnsKANRI");
    e.set_secret("password", Secret::new("Wrong#Guess2026"));
    e.set_secret("new_password", Secret::new("Never#Used2026x"));
    let result = e.run("login").await;
    let answer = e.text("login_result").map(str::to_string);
    b.quit().await;
    (result, answer)
}

#[tokio::test]
async fn a_standing_note_about_locks_is_not_the_answer_to_a_refused_login() {
    // A wording of the portal's own, and a note that mentions ロック on the form before and after.
    let answer = "認証できませんでした。入力内容をご確認ください。";
    let server = login_portal(html(&login_form(answer)).set_delay(Duration::from_millis(400))).await;
    let (result, outcome) = try_login(&server).await;
    let err = result.expect_err("the login was refused");
    assert_eq!(outcome.as_deref(), Some("refused"), "{err}");
    assert_eq!(err.outcome.as_deref(), Some("refused"), "{err}");
    assert_eq!(err.kind, FailureKind::Refused);
    assert!(
        err.message.contains(answer),
        "the portal's words are quoted: {err}"
    );
}

#[tokio::test]
async fn a_lock_is_a_lock_only_when_the_new_text_says_so() {
    let answer = "このアカウントはロック中です。管理者にお問い合わせください。";
    let server = login_portal(html(&login_form(answer))).await;
    let (result, outcome) = try_login(&server).await;
    let err = result.expect_err("locked");
    assert_eq!(outcome.as_deref(), Some("locked"), "{err}");
    assert_eq!(err.outcome.as_deref(), Some("locked"), "{err}");
}

#[tokio::test]
async fn a_refusal_in_a_dialog_of_unknown_wording_is_a_refusal() {
    // The form comes back and an alert() of the portal's own wording opens on it.
    let body = format!(
        "{}<script>setTimeout(function(){{alert('入力された情報に誤りがあります');}}, 0);</script>",
        login_form("")
    );
    let server = login_portal(html(&body)).await;
    let (result, outcome) = try_login(&server).await;
    let err = result.expect_err("refused");
    assert_eq!(outcome.as_deref(), Some("refused"), "{err}");
    assert!(err.message.contains("入力された情報に誤りがあります"), "{err}");
}

#[tokio::test]
async fn the_menu_after_a_slow_login_is_success() {
    let menu = r#"<header>サンプル医療機関 管理アカウント <a href="/logout">ログアウト</a></header>
<nav><a href="/news">お知らせ一覧</a></nav><p>※アカウントがロックされた場合は管理者に連絡してください。</p>"#;
    let server = login_portal(html(menu).set_delay(Duration::from_millis(600))).await;
    let (result, outcome) = try_login(&server).await;
    result.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome.as_deref(), Some("menu"));
}

#[tokio::test]
async fn a_form_the_page_draws_anew_after_loading_is_filled_once_drawn() {
    // A script of the page's own takes over the server's form 900 ms after the
    // page loads and draws it again, empty, with a field of its own: anything
    // typed before is gone, and a form sent before lacks that field.
    // Anything typed before the redraw is reported to the server.
    let redraw = "<script>addEventListener('load',()=>setTimeout(()=>{const f=document.querySelector('form');if([...f.querySelectorAll('input:not([type=submit])')].some(i=>i.value))fetch('/typed-before-redraw');f.insertAdjacentHTML('beforeend','<input type=hidden name=drawn value=1>');f.outerHTML=f.outerHTML;},900));</script>";
    let server = MockServer::start().await;
    page(&server, "GET", "/start", html(START)).await;
    page(
        &server,
        "GET",
        "/login",
        html(&format!("{}{redraw}", login_form(""))),
    )
    .await;
    let menu = r#"<header>サンプル医療機関 管理アカウント <a href="/logout">ログアウト</a></header><nav><a href="/news">お知らせ一覧</a></nav>"#;
    // Only a login sent from the form as drawn, with both fields typed, reaches the menu.
    Mock::given(method("POST"))
        .and(path("/login"))
        .and(body_string_contains("drawn=1"))
        .and(body_string_contains("uid=OnsKANRI"))
        .and(body_string_contains("pw=Wrong%23Guess2026"))
        .respond_with(html(menu))
        .with_priority(1)
        .mount(&server)
        .await;
    page(
        &server,
        "POST",
        "/login",
        html(&login_form("ユーザIDとパスワードを入力してください。")),
    )
    .await;
    let (result, outcome) = try_login(&server).await;
    result.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        outcome.as_deref(),
        Some("menu"),
        "the login was sent with a field the redraw emptied"
    );
    let early = server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/typed-before-redraw")
        .count();
    assert_eq!(
        early, 0,
        "a field was typed into before the page had drawn it for good"
    );
}

/// A search page that already shows the last results; 「検索」 fetches new ones.
/// The old table holds a row that the flow's fallback alternative matches.
fn search_page(button: &str) -> String {
    format!(
        r#"<h2>アカウント検索</h2>
<table><tr><th>権限区分</th><td><select name=role><option>マスタアカウント</option><option>管理者</option></select></td></tr></table>
<button type=button {button}>検索</button>
<div id=results><p>検索結果: 1件</p><table><tr><th>ユーザID</th><th>ユーザ名</th><th>権限区分</th></tr>
<tr ondblclick="location.href='/wrong'"><td>H9999999</td><td>旧マスタ</td><td>マスタアカウント</td></tr></table></div>"#
    )
}

const RESULTS: &str = r#"<p>検索結果: 1件</p><table><tr><th>ユーザID</th><th>ユーザ名</th><th>権限区分</th></tr>
<tr ondblclick="location.href='/detail'"><td>H0000001</td><td>マスタアカウント</td><td>マスタアカウント</td></tr></table>"#;

const PICK_FLOW: &str = r#"name = "pick-master"
inputs = ["base"]

[[step]]
open = "{base}/search"

[[step]]
click = [{ text = "検索" }]

[[step]]
name = "the master's row"
double_click = [{ row = "H0000001" }, { row = "マスタアカウント" }]

[[step]]
expect = { text = "H0000001 の詳細" }
"#;

/// Picks the master's row after 「検索」; `button` is the search button's attributes.
async fn pick_master(button: &str, results: ResponseTemplate) -> Result<(), String> {
    let server = MockServer::start().await;
    page(&server, "GET", "/search", html(&search_page(button))).await;
    page(&server, "GET", "/results", results).await;
    page(
        &server,
        "POST",
        "/search",
        html(&format!("<h2>アカウント検索</h2><div id=results>{RESULTS}</div>"))
            .set_delay(Duration::from_millis(500)),
    )
    .await;
    page(
        &server,
        "GET",
        "/detail",
        html("<h2>アカウント管理</h2><p>H0000001 の詳細</p>"),
    )
    .await;
    page(
        &server,
        "GET",
        "/wrong",
        html("<h2>アカウント管理</h2><p>H9999999 の詳細</p>"),
    )
    .await;
    let dir = tempfile::tempdir().expect("dir");
    let flows = dir.path().join("flows");
    std::fs::create_dir_all(&flows).expect("flows");
    std::fs::write(flows.join("pick-master.toml"), PICK_FLOW).expect("flow");
    let b = super::browser(dir.path()).await;
    let mut e = engine(&b, dir.path(), Some(&flows));
    e.set("base", &server.uri());
    let result = e.run("pick-master").await.map_err(|err| err.to_string());
    b.quit().await;
    result
}

#[tokio::test]
async fn a_fallback_never_matches_the_page_being_left() {
    // 「検索」 fetches the new results; the old ones stay on screen for 500 ms.
    let fetch =
        "fetch('/results').then(r=>r.text()).then(t=>{document.getElementById('results').innerHTML=t;})";
    pick_master(
        &format!(r#"onclick="{fetch}""#),
        html(RESULTS).set_delay(Duration::from_millis(500)),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn a_search_submitted_a_moment_after_the_click_is_waited_for() {
    // The page posts its form from a short timer, as older systems do.
    pick_master(&format!(r#"onclick="{DEFERRED_SEARCH}""#), html(RESULTS))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Posts the search form from a timer set by the click.
const DEFERRED_SEARCH: &str = "setTimeout(function(){var f=document.createElement('form');f.method='post';f.action='/search';document.body.appendChild(f);f.submit();}, 400)";

#[tokio::test]
async fn a_search_deferred_by_a_page_slow_to_take_the_click_is_waited_for() {
    // The page is busy for 400 ms when the button is pressed (a slow terminal,
    // or a heavy handler), so the click itself comes long after oqsbot noted
    // the screen; the timer it sets is still the click's work.
    let busy = "var t=Date.now(); while (Date.now()-t < 400) {}";
    pick_master(
        &format!(r#"onmousedown="{busy}" onclick="{DEFERRED_SEARCH}""#),
        html(RESULTS),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn a_row_drawn_anew_when_selected_is_found_again() {
    // A click marks the row orange by drawing the table anew: the clicked element is gone.
    let redraw = r#"<h2>アカウント検索</h2><div id=results></div>
<script>
function draw(selected) {
  document.getElementById('results').innerHTML = '<table><tr><th>ユーザID</th><th>権限区分</th></tr>'
    + '<tr style="background:' + (selected ? 'orange' : 'white') + '"><td>H0000001</td><td>マスタアカウント</td></tr></table>';
  const row = document.querySelector('#results tr:nth-child(2)');
  row.addEventListener('click', function () { draw(true); });
  row.addEventListener('dblclick', function () { location.href = '/detail'; });
}
draw(false);
</script>"#;
    let server = MockServer::start().await;
    page(&server, "GET", "/search", html(redraw)).await;
    page(&server, "GET", "/detail", html("<p>H0000001 の詳細</p>")).await;
    let flow = r#"name = "pick-row"
inputs = ["base"]

[[step]]
open = "{base}/search"

[[step]]
double_click = [{ row = "H0000001" }]

[[step]]
expect = { text = "H0000001 の詳細" }
"#;
    let dir = tempfile::tempdir().expect("dir");
    let flows = dir.path().join("flows");
    std::fs::create_dir_all(&flows).expect("flows");
    std::fs::write(flows.join("pick-row.toml"), flow).expect("flow");
    let b = super::browser(dir.path()).await;
    let mut e = engine(&b, dir.path(), Some(&flows));
    e.set("base", &server.uri());
    let result = e.run("pick-row").await;
    b.quit().await;
    result.unwrap_or_else(|err| panic!("{err}"));
}

#[tokio::test]
async fn a_label_and_value_in_running_text_are_read() {
    // 「機関コード：…」 as the manual's screenshot shows it, in one line of text.
    let server = MockServer::start().await;
    page(
        &server,
        "GET",
        "/register",
        html(
            "<h2>アカウント管理 *必須項目</h2><p>機関コード：2713107890　医療機関名：なにわ整形外科医院</p>",
        ),
    )
    .await;
    let flow = r#"name = "code"
inputs = ["base"]

[[step]]
open = "{base}/register"

[[step]]
read = { label = "機関コード", into = "institution_code" }
"#;
    let dir = tempfile::tempdir().expect("dir");
    let flows = dir.path().join("flows");
    std::fs::create_dir_all(&flows).expect("flows");
    std::fs::write(flows.join("code.toml"), flow).expect("flow");
    let b = super::browser(dir.path()).await;
    let mut e = engine(&b, dir.path(), Some(&flows));
    e.set("base", &server.uri());
    let result = e.run("code").await;
    let code = e.text("institution_code").map(str::to_string);
    b.quit().await;
    result.unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(code.as_deref(), Some("2713107890"));
}

#[tokio::test]
async fn a_menu_in_a_frame_beside_the_content_is_one_screen() {
    // An older enterprise layout: the menu in one frame, the content in another.
    let server = MockServer::start().await;
    page(
        &server,
        "GET",
        "/main",
        ResponseTemplate::new(200).set_body_raw(
            r#"<!doctype html><html><head><meta charset=utf-8></head><frameset cols="200,*"><frame name=menu src="/menu"><frame name=content src="/blank"></frameset></html>"#,
            "text/html; charset=utf-8",
        ),
    )
    .await;
    page(
        &server,
        "GET",
        "/menu",
        html(r#"<a href="/register" target="content">アカウント管理（登録）</a>"#),
    )
    .await;
    page(&server, "GET", "/blank", html("<p>お知らせ一覧</p>")).await;
    page(
        &server,
        "GET",
        "/register",
        html("<table><tr><th>機関コード</th><td>2713107890</td></tr></table>"),
    )
    .await;
    let dir = tempfile::tempdir().expect("dir");
    let b = super::browser(dir.path()).await;
    let mut e = engine(&b, dir.path(), None);
    let flows = dir.path().join("flows");
    std::fs::create_dir_all(&flows).expect("flows");
    std::fs::write(
        flows.join("open-main.toml"),
        "name = \"open-main\"\ninputs = [\"base\"]\n[[step]]\nopen = \"{base}/main\"\n",
    )
    .expect("flow");
    let mut e2 = engine(&b, dir.path(), Some(&flows));
    e2.set("base", &server.uri());
    e2.run("open-main").await.unwrap_or_else(|err| panic!("{err}"));
    drop(e2);
    e.run("read-institution-code")
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let code = e.text("institution_code").map(str::to_string);
    b.quit().await;
    assert_eq!(code.as_deref(), Some("2713107890"));
}
