//! Each switch of the unfamiliar portal, shown over real HTTP: wordings,
//! refusals as alerts, standing notes, label and button markup, menu labels,
//! post-redirect-get, jitter, the search page's old table, 「確認」, the extra
//! registration dialog, receipt numbers, frames and Shift_JIS.

use crate::common;

use common::*;

const ADMIN: (&str, &str) = ("OnsKANRI", "OnsAdmin@00369");

async fn admin_in(config_text: &str) -> (oqs_sim::RunningSim, Browser, Page) {
    let sim = sim_with("carried-over", config(config_text)).await;
    let b = Browser::new(&sim);
    let menu = b.login(ADMIN.0, ADMIN.1).await;
    (sim, b, menu)
}

fn today(sim_state: &serde_json::Value) -> String {
    sim_state["today_jst"].as_str().expect("today").replace('-', "/")
}

#[tokio::test]
async fn a_message_takes_the_wording_it_is_given() {
    let sim = sim_with(
        "carried-over",
        config("[ui.wordings]\nlogin-refused = 1\ncert-unknown = 2\n"),
    )
    .await;
    let b = Browser::new(&sim);
    let page = b.login(ADMIN.0, "Wrong#Pass1").await;
    assert!(page.has("ユーザIDまたはパスワードに誤りがあります。"));
    assert!(!page.has("ユーザIDまたはパスワードが正しくありません。"));
    let page = b
        .post(
            "/cert/download",
            &[
                ("request_id", "000"),
                ("reference_id", "XXX"),
                ("password", "1234"),
                ("password_confirm", "1234"),
            ],
        )
        .await;
    assert!(page.has("入力された情報に該当する証明書がありません。"));
    assert!(!page.has("正しくありません"));
    // The manual's own texts never change.
    let s = sim_with(
        "initial-password",
        config("[ui.wordings]\nlogin-refused = 2\nlogged-out = 1\n"),
    )
    .await;
    let b = Browser::new(&s);
    assert!(
        b.login("H1310100", "x7Kp2#qLm9Az")
            .await
            .has("初期パスワードを変更してください。")
    );
    assert!(b.change_password("Mst#Chosen2026x").await.has("更新しました。"));
    let menu = b.get("/oqs/menu").await;
    assert!(menu.has("data-confirm-message=\"ログアウトします。\""));
    assert!(
        b.submit(&menu, "/oqs/logout", &[])
            .await
            .has("ログアウトが完了しました。")
    );
}

#[tokio::test]
async fn refusals_may_come_as_an_alert() {
    let sim = sim_with("carried-over", config("[ui]\nrefusals = \"alert\"\n")).await;
    let b = Browser::new(&sim);
    let page = b.login(ADMIN.0, "Wrong#Pass1").await;
    assert!(page.has("alert('ユーザIDまたはパスワードが正しくありません。')"));
    assert!(
        !page.has("class=\"error\" role=\"alert\">ユーザID"),
        "not in the page"
    );
    b.login(ADMIN.0, ADMIN.1).await;
    let page = b.change_password("ab1!").await;
    assert!(
        page.has("alert('パスワードは8文字以上20文字以下で設定してください。\\nパスワードに英字大文字が"),
        "every reason in one alert"
    );
    assert!(!page.has("role=\"alert\"><ul>"));
    // A page that is an error in itself still says so in the page.
    assert!(
        Browser::new(&sim)
            .get("/oqs/menu")
            .await
            .has("role=\"alert\">ログインしていません")
    );
}

#[tokio::test]
async fn standing_notes_use_the_words_outcome_checks_look_for() {
    let cfg = "[ui]\nnotes = true\n";
    let sim = sim_with("carried-over", config(cfg)).await;
    let b = Browser::new(&sim);
    let lock_note = "※パスワードを5回連続で誤るとアカウントがロックされます。";
    let before = b.get("/oqs/login").await;
    assert!(before.has(lock_note) && before.has("正しくありません"));
    let refused = b.login(ADMIN.0, "Wrong#Pass1").await;
    assert!(refused.has(lock_note), "still there after the action");
    let cert = b.get("/cert/").await;
    assert!(cert.has("正しくありません") && cert.has("失敗"));
    b.login(ADMIN.0, ADMIN.1).await;
    let mut words = String::new();
    for path in [
        "/oqs/password/change",
        "/oqs/account/register",
        "/oqs/bulk/upload",
        "/oqs/account/search",
        "/oqs/bulk/results",
    ] {
        let page = b.get(path).await;
        assert!(page.has("class=\"note standing\""), "{path}");
        words.push_str(&page.body);
    }
    for word in ["ロック", "誤り", "完了", "エラー", "失敗", "正しくありません"] {
        assert!(words.contains(word), "no note says {word}");
    }
    let after = b.change_password("Ab1!").await;
    assert!(after.has("※入力内容に誤りがある場合はエラーとなり"));
    let plain = common::sim("carried-over").await;
    assert!(!Browser::new(&plain).get("/oqs/login").await.has(lock_note));
}

#[tokio::test]
async fn labels_as_div_pairs_or_plain_text() {
    let (_sim, b, _) = admin_in("[ui]\nlabels = \"div\"\n").await;
    let page = b.get("/oqs/account/register").await;
    assert!(
        page.has(
            "<div class=\"cell-l\"><span class=\"req\">*</span>ユーザID</div><div class=\"cell-v\"><input"
        )
    );
    assert!(page.has("<div class=\"cell-l\">機関コード</div><div class=\"cell-v\">1312304569</div>"));
    assert!(!page.has("<label for=\"r-uid\">") && !page.has("<th>"));

    let (_sim, b, _) = admin_in("[ui]\nlabels = \"text\"\n").await;
    let page = b.get("/oqs/account/register").await;
    assert!(
        page.has("<p class=\"line\">機関コード：1312304569\u{3000}医療機関名：さくら内科クリニック</p>"),
        "as in the manual's screenshot"
    );
    assert!(page.has("<span class=\"req\">*</span>ユーザID：<input"));
    assert!(!page.has("<label for=\"r-uid\">") && !page.has("<th>"));
    let detail = b.get("/oqs/account/detail?uid=FOFACE01").await;
    assert!(detail.has("<p class=\"line\">ユーザID：FOFACE01</p>"));
}

#[tokio::test]
async fn buttons_and_menu_items_as_script_links() {
    let (_sim, b, menu) = admin_in("[ui]\nbuttons = \"script\"\nmenu_items = \"script\"\n").await;
    assert!(menu.has(
        "<a href=\"javascript:void(0)\" class=\"menu-item\" onclick=\"location.href=&#39;/oqs/bulk/results&#39;\">アカウント一括登録結果</a>"
    ));
    assert!(
        menu.has("<a href=\"javascript:void(0)\" class=\"btn\" onclick=\"submitForm(this)\" >ログアウト</a>")
    );
    assert!(menu.has("function submitForm(el)"));
    let login = b.get("/oqs/login").await;
    assert!(login.has("onclick=\"submitForm(this)\" >ログイン</a>") && !login.has("<button"));
    let cert = b.get("/cert/").await;
    assert!(cert.has("onclick=\"submitForm(this)\" >ダウンロード</a>") && cert.has("function submitForm"));
}

#[tokio::test]
async fn menu_labels_follow_the_manuals_variants() {
    async fn menus(labels: &str) -> (Page, Page) {
        let cfg = format!("[ui]\nmenu_labels = \"{labels}\"\n");
        let s = sim_with("admin-exists", config(&cfg)).await;
        let master = Browser::new(&s).login("H1411303", "Mst#Changed2026").await;
        let admin = Browser::new(&s);
        admin.login("OnsKANRI", "q4Rt#7vWx2Ke").await;
        admin.change_password("OnsAdmin@00369").await;
        (master, admin.get("/oqs/menu").await)
    }
    let (m, a) = menus("spec").await;
    assert!(m.has(">アカウント管理（登録）</a>") && a.has(">アカウント管理(登録)</a>"));
    let (m, a) = menus("half-width").await;
    assert!(m.has(">アカウント管理(登録)</a>") && m.has(">アカウント管理(更新)</a>"));
    assert!(a.has(">アカウント管理(登録)</a>"));
    let (m, a) = menus("full-width").await;
    assert!(m.has(">アカウント管理（登録）</a>") && a.has(">アカウント管理（更新）</a>"));
    let (m, a) = menus("koushin").await;
    assert!(m.has(">アカウント管理更新 (登録)</a>") && m.has(">アカウント管理（更新）</a>"));
    assert!(a.has(">アカウント管理更新 (登録)</a>") && a.has(">アカウント管理(更新)</a>"));
    let (m, a) = menus("new").await;
    for page in [&m, &a] {
        assert!(page.has("<a href=\"/oqs/account/register\">アカウント管理</a>"));
        assert!(page.has("<a href=\"/oqs/account/search\">アカウント管理(新)</a>"));
    }
}

#[tokio::test]
async fn post_redirect_get_answers_a_post_with_303() {
    let sim = sim_with("carried-over", config("[ui]\npost_redirect_get = true\n")).await;
    let b = Browser::manual(&sim);
    let form = b.get("/oqs/login").await;
    let posted = b
        .submit(
            &form,
            "/oqs/login",
            &[("user_id", ADMIN.0), ("password", "Wrong#Pass1")],
        )
        .await;
    assert_eq!(posted.status, 303);
    assert!(posted.body.is_empty());
    let to = posted.location.expect("a Location");
    assert!(to.starts_with("/oqs/login?prg="), "{to}");
    let shown = b.get(&to).await;
    assert_eq!(shown.status, 200);
    assert!(shown.has("ユーザIDまたはパスワードが正しくありません。"));
    // Shown once: the same address again is the plain page.
    let again = b.get(&to).await;
    assert!(again.has("ユーザID") && !again.has("正しくありません"));

    // A policy refusal, then logout: POST-only, so a stale address falls back.
    let form = b.get("/oqs/login").await;
    let posted = b
        .submit(
            &form,
            "/oqs/login",
            &[("user_id", ADMIN.0), ("password", ADMIN.1)],
        )
        .await;
    assert_eq!(
        (posted.status, posted.location.as_deref()),
        (303, Some("/oqs/menu"))
    );
    let change = b.get("/oqs/password/change").await;
    let posted = b
        .submit(
            &change,
            "/oqs/password/change",
            &[("new_password", "Ab1!"), ("new_password_confirm", "Ab1!")],
        )
        .await;
    assert_eq!(posted.status, 303);
    assert!(
        b.get(&posted.location.expect("to"))
            .await
            .has("8文字以上20文字以下")
    );
    let menu = b.get("/oqs/menu").await;
    let posted = b.submit(&menu, "/oqs/logout", &[]).await;
    let to = posted.location.expect("to");
    assert!(to.starts_with("/oqs/logout?prg="), "{to}");
    assert!(b.get(&to).await.has("ログアウトしました。"));
    assert_eq!(b.get(&to).await.location.as_deref(), Some("/oqs/"));
    assert!(b.get("/oqs/menu").await.has("ログインしていません"));

    // Site A too; a download is a download.
    let page = b
        .post(
            "/cert/download",
            &[
                ("request_id", "202611250000123"),
                ("reference_id", "WRONG"),
                ("password", "1234"),
                ("password_confirm", "1234"),
            ],
        )
        .await;
    assert_eq!(page.status, 303);
    assert!(b.get(&page.location.expect("to")).await.has("正しくありません"));
    let p12 = b
        .post(
            "/cert/download",
            &[
                ("request_id", "202611250000123"),
                ("reference_id", "K7Q2M9X4TA"),
                ("password", "1234"),
                ("password_confirm", "1234"),
            ],
        )
        .await;
    assert_eq!(p12.status, 200);
    assert_eq!(p12.content_type, "application/x-pkcs12");
}

#[tokio::test]
async fn jitter_delays_each_request_without_blocking_others() {
    let sim = sim_with("carried-over", config("[ui]\njitter_ms = 300\n")).await;
    let b = Browser::new(&sim);
    let mut drawn = Vec::new();
    for _ in 0..8 {
        let started = std::time::Instant::now();
        let page = b.get("/oqs/login").await;
        let ms = page.jitter_ms.expect("the jitter header");
        assert!(ms <= 300, "{ms}");
        assert!(
            started.elapsed().as_millis() as u64 >= ms,
            "the request waited its jitter"
        );
        drawn.push(ms);
    }
    assert!(
        drawn.windows(2).any(|w| w[0] != w[1]),
        "drawn per request: {drawn:?}"
    );

    // The test runtime has one thread: were the wait blocking, these would queue.
    let started = std::time::Instant::now();
    let pages = futures_join(&b, 12).await;
    let elapsed = started.elapsed().as_millis() as u64;
    let total: u64 = pages.iter().map(|p| p.jitter_ms.expect("jitter")).sum();
    let longest = pages
        .iter()
        .map(|p| p.jitter_ms.expect("jitter"))
        .max()
        .unwrap_or(0);
    assert!(
        total > 2 * longest,
        "the seed's draws spread: {total} vs {longest}"
    );
    assert!(
        elapsed < total,
        "concurrent requests took {elapsed} ms, their jitter adds to {total} ms"
    );

    let plain = common::sim("carried-over").await;
    assert_eq!(Browser::new(&plain).get("/oqs/login").await.jitter_ms, None);
}

async fn futures_join(b: &Browser, n: usize) -> Vec<Page> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let http = b.http.clone();
        let url = format!("{}/oqs/login", b.base);
        tasks.spawn(async move { Browser::page(http.get(url).send().await.expect("GET")).await });
    }
    let mut pages = Vec::new();
    while let Some(page) = tasks.join_next().await {
        pages.push(page.expect("task"));
    }
    pages
}

#[tokio::test]
async fn the_search_page_shows_the_last_table_before_searching() {
    let (sim, b, _) = admin_in("[ui]\nsearch_shows_last = true\n").await;
    let first = b.get("/oqs/account/search").await;
    assert!(first.has("検索結果: 3件"), "a table before any search");
    let found = b.get("/oqs/account/search?search=1&uid=FOFACE01").await;
    assert!(found.has("検索結果: 1件"));
    let back = b.get("/oqs/account/search").await;
    assert!(back.has("検索結果: 1件") && back.has("<td>FOFACE01</td>") && !back.has("<td>R0RENK01</td>"));

    // The old table stays old: an account registered since shows only after 「検索」.
    b.get("/oqs/account/search?search=1").await;
    let form = b.get("/oqs/account/register").await;
    let start = today(&state(&sim).await);
    let done = b
        .submit(
            &form,
            "/oqs/account/register",
            &[
                ("role", "一般"),
                ("user_id", "IPPAN001"),
                ("user_name", "一般利用者"),
                ("kana", "イッパンリヨウシャ"),
                ("start", &start),
                ("end", ""),
            ],
        )
        .await;
    assert!(done.has("アカウントを登録しました。"), "{}", done.body);
    let stale = b.get("/oqs/account/search").await;
    assert!(stale.has("検索結果: 3件") && !stale.has("<td>IPPAN001</td>"));
    assert!(
        b.get("/oqs/account/search?search=1")
            .await
            .has("<td>IPPAN001</td>")
    );

    let (_s, plain, _) = admin_in("").await;
    assert!(!plain.get("/oqs/account/search").await.has("検索結果"));
}

#[tokio::test]
async fn the_results_page_may_say_kakunin() {
    let (_s, b, _) = admin_in("[ui]\nresults_button = \"confirm\"\n").await;
    let page = b.get("/oqs/bulk/results").await;
    assert!(page.has(">確認</button>") && !page.has(">更新</button>"));
    let (_s, b, _) = admin_in("").await;
    assert!(b.get("/oqs/bulk/results").await.has(">更新</button>"));
}

#[tokio::test]
async fn registration_may_show_an_extra_dialog_first() {
    let (sim, b, _) = admin_in("[ui]\nregister_dialog = true\n").await;
    let form = b.get("/oqs/account/register").await;
    let start = today(&state(&sim).await);
    let page = b
        .submit(
            &form,
            "/oqs/account/register",
            &[
                ("role", "一般"),
                ("user_id", "IPPAN001"),
                ("user_name", "一般利用者"),
                ("kana", "イッパンリヨウシャ"),
                ("start", &start),
                ("end", ""),
            ],
        )
        .await;
    assert!(page.has(
        "<div class=\"modal-backdrop\" id=\"modal-registered\"><div class=\"modal\" role=\"dialog\" aria-modal=\"true\" aria-label=\"アカウント管理\">"
    ));
    assert!(page.has("<p>登録しました。</p>"));
    assert!(
        page.has("id=\"registered\" hidden>"),
        "the completion waits for the dialog's OK"
    );
    assert!(page.has("document.getElementById(&#39;registered&#39;).hidden=false"));
}

#[tokio::test]
async fn receipt_numbers_may_name_the_master_or_nobody() {
    for (suffix, expect_master) in [("master", true), ("opaque", false)] {
        let cfg = format!("[ui]\nreceipt_suffix = \"{suffix}\"\nreceipt_notice = \"page\"\n");
        let sim = sim_with("admin-exists", config(&cfg)).await;
        let b = Browser::new(&sim);
        b.login("OnsKANRI", "q4Rt#7vWx2Ke").await;
        b.change_password("OnsAdmin@00369").await;
        let page = b.upload(sjis(GOOD_CSV)).await;
        let s = state(&sim).await;
        let receipt = s["uploads"][0]["receipt"].as_str().expect("receipt").to_string();
        assert!(page.has(&format!("受付番号は{receipt}です。")));
        let (stamp, tail) = receipt.split_once('_').expect("an underscore");
        assert_eq!(stamp.len(), 17);
        assert_ne!(tail, "OnsKANRI");
        if expect_master {
            assert_eq!(tail, "H1411303");
        } else {
            assert!(
                tail.len() == 13 && tail.bytes().all(|b| b.is_ascii_digit()),
                "{tail}"
            );
        }
    }
}

#[tokio::test]
async fn frames_hold_the_menu_beside_the_content() {
    let (_s, b, top) = admin_in("[ui]\nframes = \"frameset\"\n").await;
    assert!(
        top.has("<frameset cols=\"380,*\"><frame name=\"menu\" src=\"/oqs/frame/menu\"><frame name=\"main\"")
    );
    assert!(!top.has("ログアウト"));
    let menu = b.get("/oqs/frame/menu").await;
    assert!(menu.has("<form method=\"post\" action=\"/oqs/logout\" target=\"_top\""));
    assert!(menu.has("<a href=\"/oqs/bulk/upload\" target=\"main\">アカウント一括登録</a>"));
    let content = b.get("/oqs/bulk/upload").await;
    assert!(content.has("アカウント一括登録用ファイル"));
    assert!(!content.has("action=\"/oqs/logout\"") && !content.has("class=\"topbar\""));
    assert!(
        content.has("top.location.href=&#39;/oqs/menu&#39;"),
        "戻る leaves the frames"
    );
    // Logging out from the menu frame ends the session everywhere.
    let out = b.submit(&menu, "/oqs/logout", &[]).await;
    assert!(out.has("ログアウトしました。"));
    assert!(b.get("/oqs/frame/menu").await.has("ログインしていません"));

    let (_s, b, top) = admin_in("[ui]\nframes = \"iframes\"\nmenu_items = \"input\"\n").await;
    assert!(top.has(
        "<iframe name=\"menu\" title=\"メニュー\" src=\"/oqs/frame/menu\"></iframe><iframe name=\"main\""
    ));
    assert!(top.has("<form method=\"post\" action=\"/oqs/logout\" data-confirm"));
    let menu = b.get("/oqs/frame/menu").await;
    assert!(!menu.has("action=\"/oqs/logout\""));
    assert!(menu.has("onclick=\"parent.frames[&#39;main&#39;].location.href=&#39;/oqs/bulk/upload&#39;\""));
    let (_s, b, _) = admin_in("").await;
    assert!(b.get("/oqs/frame/menu").await.url.ends_with("/oqs/menu"));
}

#[tokio::test]
async fn shift_jis_pages_and_posts() {
    let (sim, b, menu) = admin_in("[ui]\ncharset = \"shift-jis\"\n[site]\npage_size = 2\n").await;
    assert_eq!(menu.content_type, "text/html; charset=Shift_JIS");
    assert!(menu.has("<meta http-equiv=\"Content-Type\" content=\"text/html; charset=Shift_JIS\">"));
    assert!(menu.has("アカウント一括登録結果"));
    assert!(
        std::str::from_utf8(&menu.bytes).is_err(),
        "the bytes are Shift-JIS"
    );
    assert!(
        menu.bytes
            .windows(sjis("アカウント一括登録結果").len())
            .any(|w| w == sjis("アカウント一括登録結果").as_slice())
    );

    // A form from a Shift_JIS page posts Shift-JIS.
    let form = b.get("/oqs/account/register").await;
    let start = today(&state(&sim).await);
    let csrf = form.csrf();
    let page = b
        .post_raw(
            "/oqs/account/register",
            "application/x-www-form-urlencoded",
            sjis_form(&[
                ("_csrf", &csrf),
                ("role", "一般"),
                ("user_id", "IPPAN001"),
                ("user_name", "一般 利用者"),
                ("kana", "イッパンリヨウシャ"),
                ("start", &start),
                ("end", ""),
            ]),
        )
        .await;
    assert!(page.has("アカウントを登録しました。"), "{}", page.body);
    let s = state(&sim).await;
    let a = account(&s, "IPPAN001").expect("registered");
    assert_eq!(
        (a["name"].as_str(), a["kana"].as_str()),
        (Some("一般 利用者"), Some("イッパンリヨウシャ"))
    );

    // So does a GET form's query, and the pager's links are written in Shift-JIS too.
    let percent = |text: &str| -> String {
        sjis(text)
            .iter()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (*b as char).to_string(),
                other => format!("%{other:02X}"),
            })
            .collect()
    };
    let found = b
        .get(&format!(
            "/oqs/account/search?search=1&name={}",
            percent("管理アカウント")
        ))
        .await;
    assert!(found.has("検索結果: 1件") && found.has("<td>OnsKANRI</td>"));
    let found = b
        .get(&format!(
            "/oqs/account/search?search=1&name={}",
            percent("アカウント")
        ))
        .await;
    assert!(found.has("検索結果: 3件"), "{}", found.body);
    let next = found.link_to("/oqs/account/search?", "page=2");
    assert!(
        next.contains(&format!("name={}", percent("アカウント"))),
        "{next}"
    );
    let second = b.get(&next).await;
    assert!(second.has("3-3件表示") && second.has("<td>R0RENK01</td>"));

    // A multipart post: its part headers (a file name) are Shift-JIS, the file itself stays as it is.
    let upload = b.get("/oqs/bulk/upload").await;
    let mut body = format!(
        "--B0UNDARY\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{}\r\n--B0UNDARY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"",
        upload.csrf()
    )
    .into_bytes();
    body.extend(sjis("一括登録.csv"));
    body.extend(b"\"\r\nContent-Type: text/csv\r\n\r\n");
    body.extend(sjis(GOOD_CSV));
    body.extend(b"\r\n--B0UNDARY--\r\n");
    let page = b
        .post_raw("/oqs/bulk/upload", "multipart/form-data; boundary=B0UNDARY", body)
        .await;
    assert!(page.has("受付番号は"), "{}", page.body);
    assert!(
        state(&sim).await["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["kind"] == "upload_received"
                && e["detail"].as_str().unwrap_or("").contains("一括登録.csv"))
    );

    // A UTF-8 post to a Shift_JIS site is read as Shift-JIS, as the real one would.
    let form = b.get("/oqs/account/register").await;
    let page = b
        .submit(
            &form,
            "/oqs/account/register",
            &[
                ("role", "一般"),
                ("user_id", "IPPAN002"),
                ("user_name", "一般"),
                ("kana", "イッパン"),
                ("start", &start),
                ("end", ""),
            ],
        )
        .await;
    assert!(page.has("権限区分を選択してください。"));
}
