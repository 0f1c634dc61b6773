//! Login, lockout, sessions, CSRF, and パスワード変更 with the whole policy.

use crate::common;

use common::*;

#[tokio::test]
async fn start_page_opens_the_login_in_a_popup() {
    let sim = sim("carried-over").await;
    let page = Browser::new(&sim).get("/oqs/").await;
    assert!(page.has("システムの利用を始める"));
    assert!(
        page.has("window.open(&#39;/oqs/login&#39;"),
        "the button opens a window"
    );
}

#[tokio::test]
async fn carried_over_admin_logs_in_to_the_menu() {
    let sim = sim("carried-over").await;
    let b = Browser::new(&sim);
    let page = b.login("OnsKANRI", "OnsAdmin@00369").await;
    assert!(page.url.ends_with("/oqs/menu"), "{}", page.url);
    for item in [
        "アカウント一括登録結果",
        "アカウント管理(登録)",
        "アカウント管理(更新)",
        "顔認証付きカードリーダー操作",
        "ログアウト",
        "さくら内科クリニック",
        "管理アカウント",
    ] {
        assert!(page.has(item), "menu lacks {item}");
    }
}

#[tokio::test]
async fn menus_differ_by_role() {
    let sim = sim("needs-reset").await;
    let b = Browser::new(&sim);
    let page = b.login("H2713107R", "1357").await;
    assert!(page.has("アカウント管理(更新)") && page.has("パスワード変更"));
    assert!(!page.has("アカウント管理（登録）") && !page.has("アカウント一括登録"));
    // The reset account cannot reach registration by URL either.
    assert_eq!(b.get("/oqs/account/register").await.status, 403);
}

#[tokio::test]
async fn five_failures_lock_the_account_even_for_the_right_password() {
    let sim = sim("carried-over").await;
    let b = Browser::new(&sim);
    for n in 1..=4 {
        let page = b.login("OnsKANRI", "Wrong#Pass1").await;
        assert!(
            page.has("ユーザIDまたはパスワードが正しくありません。"),
            "attempt {n}"
        );
    }
    let page = b.login("OnsKANRI", "Wrong#Pass1").await;
    assert!(page.has("アカウントがロックされました"));
    let page = b.login("OnsKANRI", "OnsAdmin@00369").await;
    assert!(page.has("アカウントがロックされています"));
    let s = state(&sim).await;
    assert_eq!(account(&s, "OnsKANRI").expect("admin")["locked"], true);
}

#[tokio::test]
async fn a_success_resets_the_failure_count() {
    let sim = sim("carried-over").await;
    let b = Browser::new(&sim);
    for _ in 0..4 {
        b.login("OnsKANRI", "Wrong#Pass1").await;
    }
    assert!(
        b.login("OnsKANRI", "OnsAdmin@00369")
            .await
            .url
            .ends_with("/oqs/menu")
    );
    let s = state(&sim).await;
    assert_eq!(account(&s, "OnsKANRI").expect("admin")["failed_logins"], 0);
}

#[tokio::test]
async fn an_initial_password_must_be_changed_first() {
    let sim = sim("initial-password").await;
    let b = Browser::new(&sim);
    let page = b.login("H1310100", "x7Kp2#qLm9Az").await;
    assert!(page.url.contains("/oqs/password/notice"), "{}", page.url);
    assert!(page.has("初期パスワードを変更してください。"));
    // Nothing else is reachable until the change.
    assert!(b.get("/oqs/menu").await.url.ends_with("/oqs/password/change"));
    let page = b.change_password("Mst#Chosen2026x").await;
    assert!(page.url.ends_with("/oqs/password/done"));
    assert!(page.has("更新しました。"));
    assert!(b.get("/oqs/menu").await.has("アカウント管理（登録）"));
    let s = state(&sim).await;
    let master = account(&s, "H1310100").expect("master");
    assert_eq!(master["must_change"], false);
    assert_eq!(master["password"], "Mst#Chosen2026x");
}

#[tokio::test]
async fn the_policy_is_enforced_with_its_reasons() {
    let sim = sim("initial-password").await;
    let b = Browser::new(&sim);
    b.login("H1310100", "x7Kp2#qLm9Az").await;
    let cases = [
        ("Ab1!", "8文字以上20文字以下"),
        ("Abcdefgh1!Abcdefgh1!X", "8文字以上20文字以下"),
        ("abcdefg1!", "英字大文字が含まれていません"),
        ("ABCDEFG1!", "英字小文字が含まれていません"),
        ("Abcdefgh!", "数字が含まれていません"),
        ("Abcdefgh1", "特殊文字が含まれていません"),
        ("Abcd efg1!", "使用できない文字"),
        ("Abcdefg1+", "使用できない文字"),
        // The current (initial) password is one of the last five.
        ("x7Kp2#qLm9Az", "同じパスワードは使用できません"),
        ("x7Kp2#Other1", "先頭5文字が同じ"),
    ];
    for (candidate, reason) in cases {
        let page = b.change_password(candidate).await;
        assert!(
            page.has(reason),
            "{candidate:?} should be refused with {reason:?}"
        );
        assert!(!page.has("更新しました。"));
    }
    let form = b.get("/oqs/password/change").await;
    let page = b
        .submit(
            &form,
            "/oqs/password/change",
            &[
                ("new_password", "Good#Pass2026"),
                ("new_password_confirm", "Good#Pass2027"),
            ],
        )
        .await;
    assert!(page.has("一致しません"));
}

#[tokio::test]
async fn history_covers_five_generations_below_thirteen_characters() {
    let sim = sim("carried-over").await;
    let b = Browser::new(&sim);
    b.login("OnsKANRI", "OnsAdmin@00369").await;
    for p in ["Aaaaa111!", "Baaaa111!", "Caaaa111!", "Daaaa111!", "Eaaaa111!"] {
        assert!(b.change_password(p).await.has("更新しました。"), "{p}");
    }
    // History now: Eaaaa, Daaaa, Caaaa, Baaaa, Aaaaa (current included).
    assert!(b.change_password("Aaaaa111!").await.has("同じパスワード"));
    assert!(b.change_password("Baaaa999#").await.has("先頭5文字"));
    // 13 characters or more: the history rules do not apply.
    assert!(b.change_password("Aaaaa111!xyz1").await.has("更新しました。"));
    // The default from the manual is six generations back by now.
    assert!(b.change_password("OnsAdmin@00369").await.has("更新しました。"));
}

#[tokio::test]
async fn a_short_password_expires_after_sixty_days() {
    let sim = sim("carried-over").await;
    let b = Browser::new(&sim);
    b.login("OnsKANRI", "OnsAdmin@00369").await;
    b.change_password("Short#Pw1").await;
    advance(&sim, 61 * 86400).await;
    let b = Browser::new(&sim);
    let page = b.login("OnsKANRI", "Short#Pw1").await;
    assert!(page.has("パスワードの有効期限が切れています"), "{}", page.url);
    // The manual's 14-character password never expires.
    let page = Browser::new(&sim).login("FOFACE01", "OnsAdmin@00369").await;
    assert!(page.url.ends_with("/oqs/menu"));
}

#[tokio::test]
async fn an_idle_session_expires() {
    let sim = sim("carried-over").await;
    let b = Browser::new(&sim);
    b.login("OnsKANRI", "OnsAdmin@00369").await;
    assert!(b.get("/oqs/menu").await.has("アカウント一括登録"));
    advance(&sim, 1801).await;
    let page = b.get("/oqs/menu").await;
    assert!(page.has("セッションがタイムアウトしました。"));
    assert!(!page.has("アカウント一括登録結果"));
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused() {
    let sim = sim("carried-over").await;
    let b = Browser::new(&sim);
    b.login("OnsKANRI", "OnsAdmin@00369").await;
    let page = b
        .post(
            "/oqs/password/change",
            &[
                ("new_password", "Csrf#Test2026x"),
                ("new_password_confirm", "Csrf#Test2026x"),
            ],
        )
        .await;
    assert_eq!(page.status, 403);
    assert!(page.has("不正な画面遷移"));
    let s = state(&sim).await;
    assert_eq!(
        account(&s, "OnsKANRI").expect("admin")["password"],
        "OnsAdmin@00369"
    );
    // A login form from another session does not log anyone in.
    let other = Browser::new(&sim);
    let form = other.get("/oqs/login").await;
    let stolen = Browser::new(&sim);
    let page = stolen
        .submit(
            &form,
            "/oqs/login",
            &[("user_id", "OnsKANRI"), ("password", "OnsAdmin@00369")],
        )
        .await;
    assert!(page.has("画面の有効期限が切れました"));
}

#[tokio::test]
async fn logout_ends_the_session() {
    let sim = sim("carried-over").await;
    let b = Browser::new(&sim);
    let menu = b.login("OnsKANRI", "OnsAdmin@00369").await;
    assert!(
        menu.has("data-confirm-message=\"ログアウトします。\""),
        "logout asks with confirm() by default"
    );
    let page = b.submit(&menu, "/oqs/logout", &[]).await;
    assert!(page.has("ログアウトしました。"));
    assert!(b.get("/oqs/menu").await.has("ログインしていません"));
}

#[tokio::test]
async fn opener_variant_sends_the_opener_to_the_menu() {
    let sim = sim_with("carried-over", config("[ui]\nmenu_opens_in = \"opener\"\n")).await;
    let page = Browser::new(&sim).login("OnsKANRI", "OnsAdmin@00369").await;
    assert!(page.url.ends_with("/oqs/login"));
    assert!(page.has("window.opener.location.href='/oqs/menu'"));
    assert!(page.has("window.close()"));
}

#[tokio::test]
async fn notices_as_modal_or_alert() {
    let sim = sim_with(
        "initial-password",
        config("[ui]\ninitial_change_notice = \"modal\"\nchange_done_notice = \"alert\"\n"),
    )
    .await;
    let b = Browser::new(&sim);
    let page = b.login("H1310100", "x7Kp2#qLm9Az").await;
    assert!(page.url.contains("/oqs/password/change?notice=initial"));
    assert!(page.has("id=\"modal-initial\">") && page.has("初期パスワードを変更してください。"));
    let page = b.change_password("Mst#Chosen2026x").await;
    assert!(page.has("alert('更新しました。')"));

    let sim = sim_with(
        "initial-password",
        config("[ui]\ninitial_change_notice = \"alert\"\nchange_done_notice = \"modal\"\n"),
    )
    .await;
    let b = Browser::new(&sim);
    let page = b.login("H1310100", "x7Kp2#qLm9Az").await;
    assert!(page.has("alert('初期パスワードを変更してください。')"));
    let page = b.change_password("Mst#Chosen2026x").await;
    assert!(page.has("id=\"modal-updated\">") && page.has("更新しました。"));
}
