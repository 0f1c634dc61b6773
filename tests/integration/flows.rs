//! Every flow, end to end: real headless Chromium through chromedriver against
//! the simulator over real HTTP.

use std::path::Path;

use crate::common;
use oqs_sim::{RunningSim, Scenario, SimConfig};

use common::{account, state};
use oqsbot::browser::{Browser, BrowserOptions, Deadline};
use oqsbot::flow::{Engine, FailureKind, FlowLibrary, Var};
use oqsbot::secret::{Redactor, Secret};

async fn sim(scenario: &str, config: &str) -> RunningSim {
    let scenario = Scenario::load(scenario).expect("scenario");
    let config = SimConfig::from_toml(config).expect("config");
    oqs_sim::start(scenario, config, 0).await.expect("simulator")
}

async fn browser(dir: &Path) -> Browser {
    Browser::start(BrowserOptions::new(dir.join("downloads")))
        .await
        .expect("a browser (chromium and chromium-driver installed)")
}

fn engine<'b>(b: &'b Browser, sim: &RunningSim, dir: &Path) -> Engine<'b> {
    let mut e = Engine::new(b, FlowLibrary::default(), Redactor::new(), &dir.join("artifacts"));
    e.set("oqs_url", &sim.oqs_url());
    e.set("cert_url", &sim.cert_site_url());
    e.keep_issued_with(std::sync::Arc::new(oqsbot::job::store::StoreKeeper {
        dir: dir.join("store"),
    }));
    e
}

/// The password an `issued` step read off the screen and kept, if any.
fn kept(dir: &Path, user_id: &str) -> Option<String> {
    oqsbot::job::store::CredentialStore::open(&dir.join("store"))
        .expect("store")
        .password(user_id)
        .map(|(pw, _)| pw.expose().to_string())
}

fn file(e: &Engine, name: &str) -> std::path::PathBuf {
    match e.vars.get(name) {
        Some(Var::File(p)) => p.clone(),
        other => panic!("{name} is not a file: {other:?}"),
    }
}

/// The manual's bulk CSV for this kind of terminal, written to `dir`.
fn bulk_csv(dir: &Path, kind: oqsbot::bulk_csv::TerminalKind) -> std::path::PathBuf {
    let layout = oqsbot::bulk_csv::Layout::builtin();
    let rows =
        oqsbot::bulk_csv::default_accounts(layout, kind, "OnsAdmin@00369", chrono::Utc::now().date_naive());
    let path = dir.join("accounts.csv");
    std::fs::write(&path, oqsbot::bulk_csv::encode(layout, &rows).expect("csv")).expect("write csv");
    path
}

/// The login variables; `new_password` for an account that must change its password.
fn credentials(e: &mut Engine, user_id: &str, password: &str, new_password: Option<&str>) {
    e.set("user_id", user_id);
    e.set_secret("password", Secret::new(password));
    if let Some(p) = new_password {
        e.set_secret("new_password", Secret::new(p));
    }
}

#[tokio::test]
async fn login_with_forced_change_then_code_and_logout() {
    let sim = sim("initial-password", "").await;
    let dir = tempfile::tempdir().expect("dir");
    let b = browser(dir.path()).await;
    let mut e = engine(&b, &sim, dir.path());
    credentials(&mut e, "H1310100", "x7Kp2#qLm9Az", Some("Mst#Chosen2026x"));
    e.run("login").await.unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(e.text("login_result"), Some("must_change"));
    let s = state(&sim).await;
    assert_eq!(account(&s, "H1310100")["must_change"], false);
    assert_eq!(account(&s, "H1310100")["password"], "Mst#Chosen2026x");

    e.run("read-institution-code")
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(e.text("institution_code"), Some("1310100126"));
    e.run("logout").await.unwrap_or_else(|err| panic!("{err}"));
    let matched: Vec<_> = e.records.iter().filter_map(|r| r.matched.clone()).collect();
    assert!(
        matched.iter().any(|m| m.contains("システムの利用を始める")),
        "the recording says what matched: {matched:?}"
    );
    b.quit().await;
}

/// The same login and change against each reading of the spec's 'Unknowns'.
#[tokio::test]
async fn login_under_every_reading() {
    let readings = [
        "[ui]\nmenu_opens_in = \"opener\"\ninitial_change_notice = \"alert\"\nchange_done_notice = \"modal\"\n",
        "[ui]\ninitial_change_notice = \"modal\"\nchange_done_notice = \"alert\"\nbuttons = \"input\"\nlabels = \"th\"\n",
        "[ui]\nmenu_opens_in = \"opener\"\nbuttons = \"link\"\nmenu_items = \"input\"\ntexts = \"full-width\"\nlogout_confirm = \"modal\"\nheader_shows = \"role\"\n",
    ];
    for reading in readings {
        let sim = sim("initial-password", reading).await;
        let dir = tempfile::tempdir().expect("dir");
        let b = browser(dir.path()).await;
        let mut e = engine(&b, &sim, dir.path());
        credentials(&mut e, "H1310100", "x7Kp2#qLm9Az", Some("Mst#Chosen2026x"));
        e.run("login")
            .await
            .unwrap_or_else(|err| panic!("{reading}\n{err}"));
        e.run("read-institution-code")
            .await
            .unwrap_or_else(|err| panic!("{reading}\n{err}"));
        assert_eq!(e.text("institution_code"), Some("1310100126"), "{reading}");
        e.run("logout")
            .await
            .unwrap_or_else(|err| panic!("{reading}\n{err}"));
        assert_eq!(
            account(&state(&sim).await, "H1310100")["must_change"],
            false,
            "{reading}"
        );
        b.quit().await;
    }
}

#[tokio::test]
async fn a_refused_login_is_not_retried() {
    let sim = sim("carried-over", "").await;
    let dir = tempfile::tempdir().expect("dir");
    let b = browser(dir.path()).await;
    let mut e = engine(&b, &sim, dir.path());
    credentials(&mut e, "OnsKANRI", "Wrong#Pass2026", None);
    let err = e.run("login").await.expect_err("refused");
    assert_eq!(err.kind, FailureKind::Refused);
    assert!(err.message.contains("refused the login of OnsKANRI"), "{err}");
    assert!(
        !err.to_string().contains("Wrong#Pass2026"),
        "no secret in the error"
    );
    let failures = state(&sim).await["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "login_failed")
        .count();
    assert_eq!(failures, 1, "one attempt, no retry");
    b.quit().await;
}

#[tokio::test]
async fn a_changed_label_falls_back_or_fails_with_context() {
    let renames = "[ui.renames]\n\"ユーザID\" = \"利用者ID\"\n\"ログイン\" = \"サインイン\"\n";
    let sim = sim("carried-over", renames).await;
    let dir = tempfile::tempdir().expect("dir");
    let b = browser(dir.path()).await;
    let mut e = engine(&b, &sim, dir.path());
    credentials(&mut e, "OnsKANRI", "OnsAdmin@00369", None);
    let err = e.run("login").await.expect_err("the button is renamed");
    // ユーザID found by its fallback, and the recording says so.
    let step4 = e
        .records
        .iter()
        .find(|r| r.flow == "login" && r.step == 4)
        .expect("step 4 ran");
    assert_eq!(step4.matched.as_deref(), Some("css \"input[name*=user i]\""));
    assert_eq!(err.kind, FailureKind::NotFound);
    assert_eq!(err.flow, "login");
    assert_eq!(err.step, 6);
    let text = err.to_string();
    assert!(
        text.contains("text \"ログイン\"") && text.contains("role button \"ログイン\""),
        "every locator tried: {text}"
    );
    assert!(
        err.page.contains("サインイン"),
        "what the page showed: {}",
        err.page
    );
    assert!(!text.contains("OnsAdmin@00369"));
    let shot = err.screenshot.as_ref().expect("a screenshot");
    assert!(std::fs::metadata(shot).expect("saved").len() > 1000);
    let source = std::fs::read_to_string(err.source.as_ref().expect("page source")).expect("saved");
    assert!(source.contains("サインイン"));
    b.quit().await;
}

#[tokio::test]
async fn cert_download_gets_the_new_institutions_p12() {
    let sim = sim("needs-reset", "").await;
    let dir = tempfile::tempdir().expect("dir");
    let b = browser(dir.path()).await;
    // An old certificate already in the folder must not be taken for the new one.
    std::fs::write(b.download_dir().join("1111111111111111.p12"), b"old").expect("old file");
    let mut e = engine(&b, &sim, dir.path());
    e.set("request_id", "202611250000789");
    e.set("reference_id", "Z9Y8X7W6VA");
    e.set_secret("cert_password", Secret::new("1357"));
    e.run("cert-download").await.unwrap_or_else(|err| panic!("{err}"));
    let p12 = file(&e, "p12");
    assert_ne!(
        p12.file_name().and_then(|n| n.to_str()),
        Some("1111111111111111.p12")
    );
    let info = oqsbot::cert::check_file(&p12, "1357", "2713107890", chrono::Utc::now())
        .expect("the new institution's certificate");
    assert_eq!(info.institution_code, "2713107890");

    e.set("reference_id", "WRONGWRONG");
    let err = e.run("cert-download").await.expect_err("refused");
    assert_eq!(err.kind, FailureKind::Refused);
    assert!(err.to_string().contains("正しくありません"), "{err}");
    b.quit().await;
}

#[tokio::test]
async fn reset_master_password_hands_out_a_pdf() {
    let sim = sim("needs-reset", "").await;
    let dir = tempfile::tempdir().expect("dir");
    let b = browser(dir.path()).await;
    let mut e = engine(&b, &sim, dir.path());
    e.set("reset_user_id", "H2713107R");
    e.set("master_user_id", "H2713107");
    e.set_secret("secret_number", Secret::new("1357"));
    e.run("reset-master-password")
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let pdf = std::fs::read(file(&e, "master_pdf")).expect("PDF on disk");
    let creds = oqsbot::pdf::read_credentials(&pdf).expect("a ユーザ設定情報 PDF");
    let s = state(&sim).await;
    assert_eq!(creds.user_id.as_deref(), Some("H2713107"));
    assert_eq!(
        creds.password.as_deref(),
        account(&s, "H2713107")["password"].as_str()
    );
    assert_eq!(creds.institution_code.as_deref(), Some("2713107890"));
    assert_eq!(
        kept(dir.path(), "H2713107").as_deref(),
        account(&s, "H2713107")["password"].as_str(),
        "the screen's password was kept"
    );
    let resets = s["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "password_reset")
        .count();
    assert_eq!(resets, 1, "パスワード初期化 is clicked once");
    b.quit().await;
}

/// Registration under both confirmations (a modal by default, or confirm()) and both password displays.
#[tokio::test]
async fn master_registers_the_admin() {
    for reading in [
        "",
        "[ui]\nregister_confirm = \"confirm\"\npassword_display = \"absent\"\n",
        // An older system: menu and content in a frameset, a confirm() from inside a frame.
        "[ui]\nframes = \"frameset\"\nregister_confirm = \"confirm\"\nlabels = \"div\"\n",
    ] {
        let sim = sim("initial-password", reading).await;
        let dir = tempfile::tempdir().expect("dir");
        let b = browser(dir.path()).await;
        let mut e = engine(&b, &sim, dir.path());
        credentials(&mut e, "H1310100", "x7Kp2#qLm9Az", Some("Mst#Chosen2026x"));
        e.run("login")
            .await
            .unwrap_or_else(|err| panic!("{reading}\n{err}"));
        let today = state(&sim).await["today_jst"]
            .as_str()
            .expect("date")
            .replace('-', "/");
        e.set("admin_user_id", "OnsKANRI");
        e.set("admin_name", "管理アカウント");
        e.set("admin_kana", "カンリアカウント");
        e.set("start_date", &today);
        e.run("register-admin")
            .await
            .unwrap_or_else(|err| panic!("{reading}\n{err}"));
        assert_eq!(e.text("institution_code"), Some("1310100126"));
        let creds = oqsbot::pdf::read_credentials(&std::fs::read(file(&e, "admin_pdf")).expect("pdf"))
            .expect("creds");
        let s = state(&sim).await;
        assert_eq!(creds.user_id.as_deref(), Some("OnsKANRI"));
        assert_eq!(
            creds.password.as_deref(),
            account(&s, "OnsKANRI")["password"].as_str()
        );
        assert_eq!(
            kept(dir.path(), "OnsKANRI").as_deref(),
            account(&s, "OnsKANRI")["password"].as_str(),
            "{reading}: the screen's password was kept"
        );
        b.quit().await;
    }
}

/// A WebDriver that runs already (a Selenium Grid, say) instead of one we spawn.
#[tokio::test]
async fn attaches_to_a_running_webdriver() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let mut driver = std::process::Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromedriver");
    let sim = sim("carried-over", "").await;
    let dir = tempfile::tempdir().expect("dir");
    let mut options = BrowserOptions::new(dir.path().join("downloads"));
    options.webdriver_url = Some(format!("http://127.0.0.1:{port}"));
    // The driver was started a moment ago: wait until it answers, as for a remote one.
    let status = format!("http://127.0.0.1:{port}/status");
    let deadline = Deadline::after(std::time::Duration::from_secs(20));
    while !reqwest::get(&status).await.is_ok_and(|r| r.status().is_success()) {
        assert!(deadline.next_look().await, "chromedriver did not answer");
    }
    let b = Browser::start(options).await.unwrap_or_else(|e| panic!("{e}"));
    let mut e = engine(&b, &sim, dir.path());
    credentials(&mut e, "OnsKANRI", "OnsAdmin@00369", None);
    e.run("login").await.unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(e.text("login_result"), Some("menu"));
    b.quit().await;
    let _ = driver.kill();
    let _ = driver.wait();
}

/// admin-exists' OnsKANRI logs in and uploads the CSV.
async fn upload_as_admin(e: &mut Engine<'_>, csv: &Path) {
    credentials(e, "OnsKANRI", "q4Rt#7vWx2Ke", Some("Adm#Chosen2026x"));
    e.run("login").await.unwrap_or_else(|err| panic!("{err}"));
    e.set("csv_file", csv.to_str().expect("path"));
    e.run("bulk-upload").await.unwrap_or_else(|err| panic!("{err}"));
}

#[tokio::test]
async fn bulk_upload_and_status() {
    let sim = sim("admin-exists", "[delays]\nqueued_secs = 1\nprocessing_secs = 1\n").await;
    let dir = tempfile::tempdir().expect("dir");
    let csv = bulk_csv(dir.path(), oqsbot::bulk_csv::TerminalKind::MedicalDental);
    let b = browser(dir.path()).await;
    let mut e = engine(&b, &sim, dir.path());
    upload_as_admin(&mut e, &csv).await;
    let receipt = e.text("receipt").expect("a receipt").to_string();
    assert!(receipt.ends_with("_OnsKANRI"), "{receipt}");
    e.set("status_interval_secs", "0.5");
    e.set("status_timeout_secs", "60");
    e.run("bulk-status").await.unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(e.text("bulk_status"), Some("登録完了"));
    match e.vars.get("bulk_row") {
        Some(Var::Table(rows)) => assert_eq!(rows[0]["処理件数"], "2"),
        other => panic!("{other:?}"),
    }
    let s = state(&sim).await;
    assert_eq!(account(&s, "FOFACE01")["role"], "顔認証付きカードリーダー用");
    assert_eq!(s["uploads"].as_array().expect("uploads").len(), 1);

    e.run("list-accounts").await.unwrap_or_else(|err| panic!("{err}"));
    match e.vars.get("accounts") {
        Some(Var::Table(rows)) => {
            let ids: Vec<&str> = rows.iter().map(|r| r["ユーザID"].as_str()).collect();
            assert_eq!(ids, ["FOFACE01", "OnsKANRI", "R0RENK01"]);
        }
        other => panic!("{other:?}"),
    }
    b.quit().await;
}

/// The page that shows 登録状況.
const RESULTS_PAGE: &str = "/oqs/bulk/results";

/// Uploads as the admin on a simulator with `config`, then runs `bulk-status`
/// at a two-minute interval whose first look comes after `first_look_secs`:
/// the simulator, and how long the wait took. The registration is held (long
/// delays: 登録待ち) until the results page has been served `views` times; then
/// the test moves the simulator's clock past the delays, so what the bot sees
/// does not depend on how long the upload itself took.
async fn final_status_after_upload(
    config: &str,
    first_look_secs: &str,
    views: usize,
) -> (RunningSim, std::time::Duration) {
    let held = format!("{config}[delays]\nqueued_secs = 600\nprocessing_secs = 600\n");
    let sim = sim("admin-exists", &held).await;
    let dir = tempfile::tempdir().expect("dir");
    let csv = bulk_csv(dir.path(), oqsbot::bulk_csv::TerminalKind::MedicalDental);
    let b = browser(dir.path()).await;
    let mut e = engine(&b, &sim, dir.path());
    upload_as_admin(&mut e, &csv).await;
    e.set("status_interval_secs", "120");
    e.set("status_first_look_secs", first_look_secs);
    e.set("status_timeout_secs", "600");
    let finish_when_seen = async {
        let deadline = Deadline::after(std::time::Duration::from_secs(120));
        while results_page_views(&sim) < views {
            assert!(
                deadline.next_look().await,
                "the results page was served {} times, not {views}",
                results_page_views(&sim)
            );
        }
        let moved = reqwest::Client::new()
            .post(format!("{}/__sim/clock", sim.base_url))
            .json(&serde_json::json!({ "advance_secs": 1300 }))
            .send()
            .await
            .expect("clock");
        assert!(moved.status().is_success(), "the clock did not move");
    };
    let started = std::time::Instant::now();
    // A wait that fails before the clock moves shows its own error.
    let status = {
        let wait = e.run("bulk-status");
        tokio::pin!(wait);
        tokio::select! {
            status = &mut wait => status,
            () = finish_when_seen => wait.await,
        }
    };
    status.unwrap_or_else(|err| panic!("{err}"));
    let took = started.elapsed();
    assert_eq!(e.text("bulk_status"), Some("登録完了"));
    b.quit().await;
    (sim, took)
}

fn results_page_views(sim: &RunningSim) -> usize {
    sim.served().iter().filter(|r| r.path == RESULTS_PAGE).count()
}

/// A registration that finishes in seconds is seen in seconds, not at the
/// job's polite interval, and 「更新」 is never pressed sooner than the first look.
#[tokio::test]
async fn the_status_is_looked_at_soon_after_the_upload_then_less_often() {
    // The page, one fresh look while 登録待ち, then the look that sees 登録完了.
    let (sim, took) = final_status_after_upload("", "1", 2).await;
    // With every wait at the interval, the first fresh look would come after two minutes.
    assert!(took < std::time::Duration::from_secs(60), "seen after {took:?}");
    let looks: Vec<chrono::DateTime<chrono::Utc>> = sim
        .served()
        .into_iter()
        .filter(|r| r.path == RESULTS_PAGE)
        .map(|r| r.at)
        .collect();
    assert!(
        looks.len() >= 3,
        "the page, then at least two fresh looks: {looks:?}"
    );
    for pair in looks.windows(2) {
        let gap = (pair[1] - pair[0]).num_milliseconds();
        assert!(
            gap >= 900,
            "looks {gap} ms apart, sooner than the first look allows: {looks:?}"
        );
    }
}

/// A results page that reloads itself is read each time it does: a
/// registration that finishes is seen at the page's next reload, not at the
/// job's interval, and 「更新」 is not pressed before that interval.
#[tokio::test]
async fn a_results_page_that_reloads_itself_is_read_as_it_comes() {
    // The job's first press of 「更新」 would come after two minutes; the page
    // reloads itself every 2 s, and the registration finishes after its first reload.
    let (_sim, took) = final_status_after_upload("[site]\nresults_refresh_secs = 2\n", "120", 2).await;
    assert!(
        took < std::time::Duration::from_secs(60),
        "seen after {took:?}, not at the page's own reload"
    );
}

#[tokio::test]
async fn list_accounts_reads_every_page() {
    let sim = sim(
        "carried-over",
        "[site]\npage_size = 2\n[ui]\nadmin_sees_master = true\n",
    )
    .await;
    let dir = tempfile::tempdir().expect("dir");
    let b = browser(dir.path()).await;
    let mut e = engine(&b, &sim, dir.path());
    credentials(&mut e, "OnsKANRI", "OnsAdmin@00369", None);
    e.run("login").await.unwrap_or_else(|err| panic!("{err}"));
    let before = b.command_count();
    e.run("list-accounts").await.unwrap_or_else(|err| panic!("{err}"));
    let used = b.command_count() - before;
    match e.vars.get("accounts") {
        Some(Var::Table(rows)) => assert_eq!(rows.len(), 4, "{rows:?}"),
        other => panic!("{other:?}"),
    }
    assert!(
        used < 40,
        "a table costs a page-source call, not a call per cell: {used} commands"
    );
    b.quit().await;
}

/// Processes whose command line mentions `needle`.
fn processes_with(needle: &str) -> usize {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
                .filter(|c| String::from_utf8_lossy(c).contains(needle))
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn dropping_the_browser_kills_driver_and_browser() {
    let dir = tempfile::tempdir().expect("dir");
    let b = browser(dir.path()).await;
    let profile = b.options.profile_dir().display().to_string();
    assert!(
        processes_with(&profile) > 0,
        "the browser runs with the run's profile"
    );
    // An error path: no quit, just drop.
    drop(b);
    let deadline = Deadline::after(std::time::Duration::from_secs(10));
    while processes_with(&profile) > 0 {
        assert!(deadline.next_look().await, "browser processes outlived the run");
    }
}

/// The reset's confirmation in each form: none (the default), confirm(), a modal.
#[tokio::test]
async fn reset_under_every_confirmation() {
    for reading in [
        "[ui]\nreset_confirm = \"confirm\"\n",
        "[ui]\nreset_confirm = \"modal\"\nbuttons = \"input\"\nlabels = \"th\"\n",
    ] {
        let sim = sim("needs-reset", reading).await;
        let dir = tempfile::tempdir().expect("dir");
        let b = browser(dir.path()).await;
        let mut e = engine(&b, &sim, dir.path());
        e.set("reset_user_id", "H2713107R");
        e.set("master_user_id", "H2713107");
        e.set_secret("secret_number", Secret::new("1357"));
        e.run("reset-master-password")
            .await
            .unwrap_or_else(|err| panic!("{reading}\n{err}"));
        let creds = oqsbot::pdf::read_credentials(&std::fs::read(file(&e, "master_pdf")).expect("pdf"))
            .expect("creds");
        assert_eq!(
            creds.password.as_deref(),
            account(&state(&sim).await, "H2713107")["password"].as_str(),
            "{reading}"
        );
        assert_eq!(
            kept(dir.path(), "H2713107").as_deref(),
            account(&state(&sim).await, "H2713107")["password"].as_str(),
            "{reading}: the screen's password was kept"
        );
        b.quit().await;
    }
}

/// Upload and status with confirm(), the receipt as a page or an alert, and full-width status texts.
#[tokio::test]
async fn bulk_under_every_reading() {
    let readings = [
        "[ui]\nbulk_confirm = \"confirm\"\nreceipt_notice = \"alert\"\n",
        "[ui]\nbulk_confirm = \"modal\"\nreceipt_notice = \"page\"\ntexts = \"full-width\"\nbuttons = \"link\"\nmenu_items = \"input\"\n",
    ];
    for reading in readings {
        let sim = sim(
            "admin-exists",
            &format!("{reading}[delays]\nqueued_secs = 1\nprocessing_secs = 1\n"),
        )
        .await;
        let dir = tempfile::tempdir().expect("dir");
        let csv = bulk_csv(dir.path(), oqsbot::bulk_csv::TerminalKind::Pharmacy);
        let b = browser(dir.path()).await;
        let mut e = engine(&b, &sim, dir.path());
        credentials(&mut e, "OnsKANRI", "q4Rt#7vWx2Ke", Some("Adm#Chosen2026x"));
        e.run("login")
            .await
            .unwrap_or_else(|err| panic!("{reading}\n{err}"));
        e.set("csv_file", csv.to_str().expect("path"));
        e.run("bulk-upload")
            .await
            .unwrap_or_else(|err| panic!("{reading}\n{err}"));
        e.set("status_interval_secs", "0.5");
        e.set("status_timeout_secs", "60");
        e.run("bulk-status")
            .await
            .unwrap_or_else(|err| panic!("{reading}\n{err}"));
        assert_eq!(e.text("bulk_status"), Some("登録完了"), "{reading}");
        assert_eq!(
            account(&state(&sim).await, "R1RENK01")["role"],
            "連携アプリケーション用",
            "{reading}"
        );
        b.quit().await;
    }
}

/// A failed registration: the status is final, and the result file is downloaded.
#[tokio::test]
async fn a_failed_upload_brings_its_result_file() {
    let sim = sim("carried-over", "[delays]\nqueued_secs = 0\nprocessing_secs = 1\n").await;
    let dir = tempfile::tempdir().expect("dir");
    let csv = bulk_csv(dir.path(), oqsbot::bulk_csv::TerminalKind::MedicalDental);
    let b = browser(dir.path()).await;
    let mut e = engine(&b, &sim, dir.path());
    credentials(&mut e, "OnsKANRI", "OnsAdmin@00369", None);
    e.run("login").await.unwrap_or_else(|err| panic!("{err}"));
    e.set("csv_file", csv.to_str().expect("path"));
    e.run("bulk-upload").await.unwrap_or_else(|err| panic!("{err}"));
    e.set("status_interval_secs", "0.5");
    e.set("status_timeout_secs", "60");
    e.run("bulk-status").await.unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(e.text("bulk_status"), Some("登録完了(一部 ID 重複あり)"));
    let result = oqsbot::bulk_csv::read_result(
        oqsbot::bulk_csv::Layout::builtin(),
        &std::fs::read(file(&e, "result_file")).expect("file"),
    )
    .expect("rows");
    assert!(
        result
            .iter()
            .all(|r| r.outcome == oqsbot::bulk_csv::RowOutcome::Failed && r.detail.contains("重複")),
        "{result:?}"
    );
    b.quit().await;
}

mod unfamiliar;
