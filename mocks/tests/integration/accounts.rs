//! アカウント管理(更新), パスワード初期化 and アカウント管理（登録）.

use crate::common;

use common::*;

/// Logs in as the reset account and resets the master: the 1-① path.
async fn reset_master(sim: &oqs_sim::RunningSim) -> (Browser, Page) {
    let b = Browser::new(sim);
    assert!(b.login("H2713107R", "1357").await.url.ends_with("/oqs/menu"));
    let results = b.get("/oqs/account/search?search=1&role=マスタアカウント").await;
    assert!(results.has("検索結果: 1件"), "the reset account sees the master");
    let detail = b.get(&results.link("/oqs/account/detail?uid=")).await;
    assert!(detail.has("パスワード初期化") && detail.has("H2713107"));
    let issued = b
        .submit(&detail, "/oqs/account/reset", &[("uid", "H2713107")])
        .await;
    (b, issued)
}

#[tokio::test]
async fn reset_issues_a_new_password_shown_and_printed() {
    let sim = sim("needs-reset").await;
    let (b, page) = reset_master(&sim).await;
    assert!(
        page.has("パスワードを初期化しました。") && page.has("利用者にパスワード情報を通知してください。")
    );
    assert!(page.has("初期後のパスワード") && page.has("●●●●●●") && page.has("パスワード表示"));
    let s = state(&sim).await;
    let master = account(&s, "H2713107").expect("master");
    let password = master["password"].as_str().expect("password");
    assert_eq!(master["must_change"], true);
    let escaped = password.replace('&', "&amp;");
    assert!(
        page.has(&format!("<span class=\"pw-value\" hidden>{escaped}</span>")),
        "masked, in the page"
    );

    let (status, disposition, pdf) = b.bytes(&page.link_to("/oqs/credential/", "/pdf")).await;
    assert_eq!(status, 200);
    assert!(disposition.starts_with("attachment"), "{disposition}");
    let text = pdftotext(&pdf);
    for expected in [
        "オンライン資格確認等システムユーザ設定情報",
        "本番環境",
        "2713107890",
        "H2713107",
        password,
        "H2713107R",
    ] {
        assert!(text.contains(expected), "PDF lacks {expected}:\n{text}");
    }
    // The new password logs the master in, to the forced change.
    let m = Browser::new(&sim);
    assert!(
        m.login("H2713107", password)
            .await
            .has("初期パスワードを変更してください。")
    );
}

#[tokio::test]
async fn every_reset_click_issues_another_password() {
    let sim = sim("needs-reset").await;
    let (b, first) = reset_master(&sim).await;
    let p1 = account(&state(&sim).await, "H2713107").expect("master")["password"].clone();
    let detail = b.get("/oqs/account/detail?uid=H2713107").await;
    b.submit(&detail, "/oqs/account/reset", &[("uid", "H2713107")])
        .await;
    let p2 = account(&state(&sim).await, "H2713107").expect("master")["password"].clone();
    assert_ne!(p1, p2);
    // The first dialog's PDF still prints what was issued then.
    let (_, _, pdf) = b.bytes(&first.link_to("/oqs/credential/", "/pdf")).await;
    assert!(pdftotext(&pdf).contains(p1.as_str().expect("text")));
    let resets = state(&sim).await["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "password_reset")
        .count();
    assert_eq!(resets, 2);
}

#[tokio::test]
async fn an_issued_password_belongs_to_its_session() {
    let sim = sim("needs-reset").await;
    let (_, page) = reset_master(&sim).await;
    let other = Browser::new(&sim);
    other.login("H2713107R", "1357").await;
    assert_eq!(
        other.bytes(&page.link_to("/oqs/credential/", "/pdf")).await.0,
        404
    );
    assert_eq!(
        other
            .bytes(&page.link_to("/oqs/credential/", "/password"))
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn absent_passwords_come_only_from_the_show_button() {
    let sim = sim_with("needs-reset", config("[ui]\npassword_display = \"absent\"\n")).await;
    let (b, page) = reset_master(&sim).await;
    let password = account(&state(&sim).await, "H2713107").expect("master")["password"]
        .as_str()
        .expect("text")
        .to_string();
    assert!(!page.has(&password.replace('&', "&amp;")), "not in the page");
    let source = page.link_to("/oqs/credential/", "/password");
    let shown = b.get(&source).await;
    assert_eq!(shown.body, password);
}

#[tokio::test]
async fn the_master_registers_the_admin() {
    let sim = sim("initial-password").await;
    let b = Browser::new(&sim);
    b.login("H1310100", "x7Kp2#qLm9Az").await;
    b.change_password("Mst#Chosen2026x").await;
    let form = b.get("/oqs/account/register").await;
    for text in [
        "アカウント管理",
        "*必須項目",
        "機関コード",
        "1310100126",
        "青葉ファミリークリニック",
        "権限区分",
        "管理者",
        "ユーザ名(カナ)",
        "利用開始年月日",
        "作業日選択",
        "メニュー",
        "戻る",
    ] {
        assert!(form.has(text), "register form lacks {text}");
    }
    assert!(
        form.has("data-confirm-modal=\"modal-register\"") && form.has("登録します。よろしいですか？"),
        "a modal confirmation by default"
    );
    let today = state(&sim).await["today_jst"]
        .as_str()
        .expect("date")
        .replace('-', "/");
    let done = b
        .submit(
            &form,
            "/oqs/account/register",
            &[
                ("role", "管理者"),
                ("user_id", "OnsKANRI"),
                ("user_name", "管理アカウント"),
                ("kana", "カンリアカウント"),
                ("start", &today),
                ("end", ""),
            ],
        )
        .await;
    assert!(done.has("アカウントを登録しました。") && done.has("初期パスワード") && done.has("ダウンロード"));
    let s = state(&sim).await;
    let admin = account(&s, "OnsKANRI").expect("registered");
    assert_eq!(admin["role"], "管理者");
    assert_eq!(admin["must_change"], true);
    let (_, _, pdf) = b.bytes(&done.link_to("/oqs/credential/", "/pdf")).await;
    let text = pdftotext(&pdf);
    assert!(text.contains("OnsKANRI") && text.contains(admin["password"].as_str().expect("text")));

    // Once is enough: the same ID again is refused.
    let form = b.get("/oqs/account/register").await;
    let again = b
        .submit(
            &form,
            "/oqs/account/register",
            &[
                ("role", "管理者"),
                ("user_id", "OnsKANRI"),
                ("user_name", "管理アカウント"),
                ("kana", "カンリアカウント"),
                ("start", &today),
            ],
        )
        .await;
    assert!(again.has("既に登録されています"));
}

#[tokio::test]
async fn registration_checks_its_fields() {
    let sim = sim("carried-over").await;
    let b = Browser::new(&sim);
    b.login("H1312304", "Mst#Carried2026x").await;
    let form = b.get("/oqs/account/register").await;
    let page = b
        .submit(
            &form,
            "/oqs/account/register",
            &[
                ("role", "一般"),
                ("user_id", "ab"),
                ("user_name", ""),
                ("kana", "かんり"),
                ("start", "2020/01/01"),
                ("end", "2019/01/01"),
            ],
        )
        .await;
    for reason in [
        "権限区分を選択してください",
        "半角英数字4文字以上",
        "ユーザ名は1文字以上",
        "全角カタカナ",
        "当日以降",
        "利用開始年月日以降",
    ] {
        assert!(page.has(reason), "missing {reason}");
    }
    assert!(account(&state(&sim).await, "ab").is_none());
}

#[tokio::test]
async fn search_pages_and_visibility() {
    let sim = sim_with("carried-over", config("[site]\npage_size = 2\n")).await;
    let b = Browser::new(&sim);
    b.login("OnsKANRI", "OnsAdmin@00369").await;
    let page = b.get("/oqs/account/search?search=1").await;
    assert!(page.has("検索結果: 3件") && page.has("1-2件表示") && page.has("次へ&gt;&gt;"));
    assert!(
        !page.has("H1312304"),
        "a 管理者 does not see the master by default"
    );
    for header in [
        "ユーザID",
        "ユーザ名",
        "権限区分",
        "有効/無効",
        "アカウントロック",
        "利用開始日",
        "利用終了日",
    ] {
        assert!(page.has(&format!("<th>{header}</th>")));
    }
    let next = b
        .get(
            &page
                .link("/oqs/account/search?search=1")
                .replace("page=1", "page=2"),
        )
        .await;
    assert!(next.has("3-3件表示") && next.has("R0RENK01") && next.has("&lt;&lt;前へ"));

    patch_config(&sim, serde_json::json!({"ui": {"admin_sees_master": true}})).await;
    assert!(b.get("/oqs/account/search?search=1").await.has("検索結果: 4件"));
}
