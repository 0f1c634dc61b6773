//! The simulator in a real headless Chromium, driven through chromedriver.
//! Elements are found as a person finds them: by label and visible text.

use crate::common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use thirtyfour::prelude::*;

const WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(50);

struct Chromedriver {
    child: Child,
    url: String,
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` until it yields a value; fails the test after `WAIT`.
async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

async fn chromedriver() -> Chromedriver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr")
        .port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is installed (package chromium-driver)");
    let url = format!("http://127.0.0.1:{port}");
    let status = format!("{url}/status");
    wait_for("chromedriver to answer", || {
        let status = status.clone();
        async move {
            reqwest::get(&status)
                .await
                .ok()
                .filter(|r| r.status().is_success())
                .map(|_| ())
        }
    })
    .await;
    Chromedriver { child, url }
}

async fn browser(driver: &Chromedriver) -> WebDriver {
    let mut caps = DesiredCapabilities::chrome();
    if std::path::Path::new("/usr/bin/chromium").exists() {
        caps.set_binary("/usr/bin/chromium").expect("binary");
    }
    for arg in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1024",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--lang=ja",
    ] {
        caps.add_arg(arg).expect("arg");
    }
    caps.set("unhandledPromptBehavior", "ignore")
        .expect("prompt behaviour");
    WebDriver::new(&driver.url, caps)
        .await
        .expect("a browser session")
}

fn xpath_literal(s: &str) -> String {
    format!("'{s}'")
}

/// The input beside a label: a `<label for>`, a `<th>` next to a `<td>`, or
/// plain text 「ラベル：」 just before it.
async fn field(d: &WebDriver, label: &str) -> WebElement {
    control(d, label, "input").await
}

async fn control(d: &WebDriver, label: &str, tag: &str) -> WebElement {
    let l = xpath_literal(label);
    let text = xpath_literal(&format!("{label}："));
    let xpath = format!(
        "//{tag}[@id=//label[normalize-space(.)={l}]/@for] | //th[normalize-space(.)={l}]/following-sibling::td[1]//{tag} | //div[contains(@class,'line')][normalize-space(text()[1])={text}]/{tag}"
    );
    d.query(By::XPath(xpath))
        .and_displayed()
        .wait(WAIT, POLL)
        .first()
        .await
        .unwrap_or_else(|e| panic!("field {label}: {e}"))
}

/// A visible button by its text, whatever element it is.
async fn button(d: &WebDriver, text: &str) -> WebElement {
    let t = xpath_literal(text);
    let xpath = format!(
        "//button[normalize-space(.)={t}] | //input[(@type='submit' or @type='button') and @value={t}] | //a[normalize-space(.)={t}]"
    );
    d.query(By::XPath(xpath))
        .and_displayed()
        .wait(WAIT, POLL)
        .first()
        .await
        .unwrap_or_else(|e| panic!("button {text}: {e}"))
}

async fn see(d: &WebDriver, text: &str) {
    let xpath = format!(
        "//*[not(self::script)][contains(normalize-space(.), {})]",
        xpath_literal(text)
    );
    d.query(By::XPath(xpath))
        .and_displayed()
        .wait(WAIT, POLL)
        .first()
        .await
        .unwrap_or_else(|e| panic!("text {text}: {e}"));
}

async fn alert_text(d: &WebDriver) -> String {
    wait_for("an alert", || async { d.get_alert_text().await.ok() }).await
}

/// Types a ユーザID and パスワード into the login form.
async fn type_login(d: &WebDriver, user_id: &str, password: &str) {
    for (label, text) in [("ユーザID", user_id), ("パスワード", password)] {
        field(d, label)
            .await
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type {label}: {e}"));
    }
}

async fn open_login_popup(d: &WebDriver, sim: &oqs_sim::RunningSim) -> WindowHandle {
    d.goto(sim.oqs_url()).await.expect("start page");
    let main = d.window().await.expect("window");
    button(d, "システムの利用を始める")
        .await
        .click()
        .await
        .expect("click");
    let popup = wait_for("the login popup", || async {
        d.windows()
            .await
            .ok()
            .and_then(|w| w.into_iter().find(|h| *h != main))
    })
    .await;
    d.switch_to_window(popup).await.expect("switch to popup");
    main
}

#[tokio::test]
async fn popup_login_forced_change_and_menu() {
    let sim = sim("initial-password").await;
    let driver = chromedriver().await;
    let d = browser(&driver).await;
    open_login_popup(&d, &sim).await;
    type_login(&d, "H1310100", "x7Kp2#qLm9Az").await;
    button(&d, "ログイン").await.click().await.expect("click");

    see(&d, "初期パスワードを変更してください。").await;
    button(&d, "OK").await.click().await.expect("OK");
    field(&d, "新パスワード")
        .await
        .send_keys("Mst#Chosen2026x")
        .await
        .expect("type");
    field(&d, "新パスワード (確認)")
        .await
        .send_keys("Mst#Chosen2026x")
        .await
        .expect("type");
    button(&d, "変更").await.click().await.expect("change");
    see(&d, "更新しました。").await;
    button(&d, "OK").await.click().await.expect("OK");
    see(&d, "アカウント管理（登録）").await;
    assert_eq!(
        account(&state(&sim).await, "H1310100").expect("master")["must_change"],
        false
    );

    // Logout asks with confirm().
    button(&d, "ログアウト").await.click().await.expect("logout");
    assert_eq!(alert_text(&d).await, "ログアウトします。");
    d.accept_alert().await.expect("accept");
    see(&d, "ログアウトしました。").await;
    d.quit().await.expect("quit");
}

/// A slow page (`slow_clicks`): busy at the press, so the click comes 400 ms
/// later, and the form goes 300 ms after the click. Timed inside the page, so
/// the browser's own speed does not matter.
#[tokio::test]
async fn a_slow_page_sends_its_form_a_while_after_the_click() {
    let sim = sim_with("initial-password", config("[ui]\nslow_clicks = true\n")).await;
    let driver = chromedriver().await;
    let d = browser(&driver).await;
    open_login_popup(&d, &sim).await;
    type_login(&d, "H1310100", "x7Kp2#qLm9Az").await;
    d.execute(
        "for (const [type, key] of [['mousedown', 'pressed'], ['click', 'clicked'], ['beforeunload', 'left']]) \
           window.addEventListener(type, () => sessionStorage.setItem(key, Date.now()), true);",
        vec![],
    )
    .await
    .expect("note the times");
    button(&d, "ログイン").await.click().await.expect("click");
    see(&d, "初期パスワードを変更してください。").await;
    let times: Vec<f64> = d
        .execute(
            "return ['pressed', 'clicked', 'left'].map(k => Number(sessionStorage.getItem(k)));",
            vec![],
        )
        .await
        .expect("read the times")
        .convert()
        .expect("numbers");
    let [pressed, clicked, left] = times[..] else {
        panic!("three times: {times:?}");
    };
    assert!(
        clicked - pressed >= 400.0,
        "the press kept the page busy: {times:?}"
    );
    assert!(
        left - clicked >= 300.0,
        "the form went a while after the click: {times:?}"
    );
    d.quit().await.expect("quit");
}

#[tokio::test]
async fn opener_alert_and_modal_readings() {
    let cfg = config(
        "[ui]\nmenu_opens_in = \"opener\"\ninitial_change_notice = \"alert\"\nchange_done_notice = \"modal\"\nbuttons = \"input\"\nlabels = \"th\"\nlogout_confirm = \"modal\"\n",
    );
    let sim = sim_with("initial-password", cfg).await;
    let driver = chromedriver().await;
    let d = browser(&driver).await;
    let main = open_login_popup(&d, &sim).await;
    type_login(&d, "H1310100", "x7Kp2#qLm9Az").await;
    button(&d, "ログイン").await.click().await.expect("click");

    // The popup closes itself and the opener goes on.
    wait_for("the popup to close", || async {
        d.windows().await.ok().filter(|w| w.len() == 1).map(|_| ())
    })
    .await;
    d.switch_to_window(main).await.expect("back to the opener");
    assert_eq!(alert_text(&d).await, "初期パスワードを変更してください。");
    d.accept_alert().await.expect("accept");
    field(&d, "新パスワード")
        .await
        .send_keys("Mst#Chosen2026x")
        .await
        .expect("type");
    field(&d, "新パスワード (確認)")
        .await
        .send_keys("Mst#Chosen2026x")
        .await
        .expect("type");
    button(&d, "変更").await.click().await.expect("change");
    see(&d, "更新しました。").await;
    // Several dialogs hold an OK; only the visible one counts.
    button(&d, "OK").await.click().await.expect("OK");
    see(&d, "アカウント管理（登録）").await;

    button(&d, "ログアウト").await.click().await.expect("logout");
    see(&d, "ログアウトします。").await;
    button(&d, "OK").await.click().await.expect("OK in the modal");
    see(&d, "ログアウトしました。").await;
    d.quit().await.expect("quit");
}

#[tokio::test]
async fn every_screen_renders_for_a_person() {
    let sim = sim("carried-over").await;
    let driver = chromedriver().await;
    let d = browser(&driver).await;
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("sim-screens");
    std::fs::create_dir_all(&dir).expect("screens dir");
    let shoot = |name: &'static str| {
        let d = d.clone();
        let path = dir.join(format!("{name}.png"));
        async move {
            let png = d.screenshot_as_png().await.expect("screenshot");
            assert!(png.len() > 1000, "{name} is an empty screenshot");
            std::fs::write(path, png).expect("write screenshot");
        }
    };
    d.goto(sim.cert_site_url()).await.expect("site A");
    see(&d, "証明書の取得画面").await;
    shoot("01-cert").await;
    let main = open_login_popup(&d, &sim).await;
    see(&d, "ユーザID").await;
    shoot("02-login").await;
    field(&d, "ユーザID")
        .await
        .send_keys("OnsKANRI")
        .await
        .expect("type");
    field(&d, "パスワード")
        .await
        .send_keys("OnsAdmin@00369")
        .await
        .expect("type");
    button(&d, "ログイン").await.click().await.expect("login");
    see(&d, "顔認証付きカードリーダー操作").await;
    shoot("03-menu").await;
    button(&d, "アカウント管理(更新)")
        .await
        .click()
        .await
        .expect("search");
    button(&d, "検索").await.click().await.expect("search");
    see(&d, "検索結果: 3件").await;
    let row = d
        .query(By::XPath("//td[normalize-space(.)='FOFACE01']"))
        .wait(WAIT, POLL)
        .first()
        .await
        .expect("row");
    row.click().await.expect("click row");
    let tr = row.parent().await.expect("row");
    assert!(
        tr.class_name()
            .await
            .expect("class")
            .unwrap_or_default()
            .contains("selected"),
        "a click highlights the row"
    );
    shoot("04-search").await;
    d.action_chain()
        .double_click_element(&row)
        .perform()
        .await
        .expect("double-click");
    see(&d, "無効にする").await;
    shoot("05-detail").await;
    d.goto(format!("{}/oqs/account/register", sim.oqs_base_url))
        .await
        .expect("register");
    see(&d, "*必須項目").await;
    shoot("06-register").await;
    d.goto(format!("{}/oqs/bulk/upload", sim.oqs_base_url))
        .await
        .expect("upload");
    see(&d, "アカウント一括登録用ファイル").await;
    shoot("07-upload").await;
    d.goto(format!("{}/oqs/bulk/results", sim.oqs_base_url))
        .await
        .expect("results");
    see(&d, "受付番号").await;
    shoot("08-results").await;
    d.goto(format!("{}/oqs/password/change", sim.oqs_base_url))
        .await
        .expect("password");
    see(&d, "【パスワードについて】").await;
    shoot("09-password").await;
    let _ = main;
    d.quit().await.expect("quit");
}

/// The structure of an older enterprise system, in a real browser: frames,
/// Shift_JIS pages and form posts, links that submit by script, plain-text
/// labels, post-redirect-get, refusals as alerts and the extra 「アカウント管理」
/// dialog. The registration's Japanese must arrive intact.
#[tokio::test]
async fn an_older_enterprise_portal_in_a_real_browser() {
    use oqs_sim::message::Message;
    use oqs_sim::wording::say;
    let cfg = config(
        "[ui]\nvary = 3\nframes = \"frameset\"\ncharset = \"shift-jis\"\nbuttons = \"script\"\nmenu_items = \"script\"\nlabels = \"text\"\npost_redirect_get = true\nrefusals = \"alert\"\nregister_dialog = true\nregister_confirm = \"confirm\"\nlogout_confirm = \"modal\"\nnotes = true\ninitial_change_notice = \"page\"\nchange_done_notice = \"page\"\nmenu_opens_in = \"popup\"\njitter_ms = 0\n",
    );
    let sim = sim_with("initial-password", cfg).await;
    let drawn = sim.config();
    let driver = chromedriver().await;
    let d = browser(&driver).await;
    open_login_popup(&d, &sim).await;

    // A refusal comes as an alert, after a 303.
    type_login(&d, "H1310100", "Wrong#Pass1").await;
    button(&d, "ログイン").await.click().await.expect("login");
    assert_eq!(alert_text(&d).await, say(&drawn.ui, Message::LoginRefused));
    d.accept_alert().await.expect("accept");
    // The refused page keeps the ユーザID typed.
    field(&d, "ユーザID").await.clear().await.expect("clear");
    type_login(&d, "H1310100", "x7Kp2#qLm9Az").await;
    button(&d, "ログイン").await.click().await.expect("login");

    see(&d, "初期パスワードを変更してください。").await;
    button(&d, "OK").await.click().await.expect("OK");
    field(&d, "新パスワード")
        .await
        .send_keys("Mst#Chosen2026x")
        .await
        .expect("type");
    field(&d, "新パスワード (確認)")
        .await
        .send_keys("Mst#Chosen2026x")
        .await
        .expect("type");
    button(&d, "変更").await.click().await.expect("change");
    see(&d, "更新しました。").await;
    button(&d, "OK").await.click().await.expect("OK");

    // The menu is a frame; the screen opens in the frame beside it.
    let frame = |name: &'static str| {
        let d = d.clone();
        async move {
            d.enter_default_frame().await.expect("top");
            d.query(By::XPath(format!("//frame[@name='{name}']")))
                .wait(WAIT, POLL)
                .first()
                .await
                .unwrap_or_else(|e| panic!("frame {name}: {e}"))
                .enter_frame()
                .await
                .expect("enter frame");
        }
    };
    frame("menu").await;
    let (register, _) = drawn.ui.menu_labels.for_role(oqs_sim::model::Role::Master);
    button(&d, register).await.click().await.expect("menu item");
    frame("main").await;
    see(&d, "機関コード：1310100126").await;
    let role = control(&d, "権限区分", "select").await;
    thirtyfour::components::SelectElement::new(&role)
        .await
        .expect("select")
        .select_by_exact_text("管理者")
        .await
        .expect("管理者");
    field(&d, "ユーザID")
        .await
        .send_keys("OnsKANRI")
        .await
        .expect("type");
    field(&d, "ユーザ名")
        .await
        .send_keys("管理アカウント")
        .await
        .expect("type");
    field(&d, "ユーザ名(カナ)")
        .await
        .send_keys("カンリアカウント")
        .await
        .expect("type");
    button(&d, "作業日選択").await.click().await.expect("today");
    button(&d, "登録").await.click().await.expect("register");
    assert_eq!(alert_text(&d).await, "登録します。よろしいですか？");
    d.accept_alert().await.expect("OK");
    see(&d, say(&drawn.ui, Message::RegisterDialog)).await;
    button(&d, "OK").await.click().await.expect("the dialog's OK");
    see(&d, say(&drawn.ui, Message::Registered)).await;
    let s = state(&sim).await;
    let admin = account(&s, "OnsKANRI").expect("registered");
    assert_eq!(admin["name"], "管理アカウント", "Shift-JIS read back");
    assert_eq!(admin["kana"], "カンリアカウント");

    // ログアウト sits in the menu frame, asks in a modal there, and leaves the frames.
    frame("menu").await;
    button(&d, "ログアウト").await.click().await.expect("logout");
    see(&d, "ログアウトします。").await;
    button(&d, "OK").await.click().await.expect("OK in the modal");
    d.enter_default_frame().await.expect("top");
    see(&d, say(&drawn.ui, Message::LoggedOut)).await;
    assert_eq!(state(&sim).await["sessions"], 0);
    d.quit().await.expect("quit");
}
