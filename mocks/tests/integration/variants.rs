//! Each reading of the spec's 'Unknowns' shows in the markup, both ways.

use crate::common;

use common::*;

async fn admin_menu(config_text: &str) -> Page {
    let sim = sim_with("carried-over", config(config_text)).await;
    Browser::new(&sim).login("OnsKANRI", "OnsAdmin@00369").await
}

async fn login_page(config_text: &str) -> Page {
    let sim = sim_with("carried-over", config(config_text)).await;
    Browser::new(&sim).get("/oqs/login").await
}

#[tokio::test]
async fn buttons_as_button_input_or_link() {
    assert!(
        login_page("")
            .await
            .has(r#"<button type="submit" class="btn" >ログイン</button>"#)
    );
    let input = login_page("[ui]\nbuttons = \"input\"\n").await;
    assert!(input.has(r#"<input type="submit" class="btn" value="ログイン""#) && !input.has("<button"));
    let link = login_page("[ui]\nbuttons = \"link\"\n").await;
    assert!(
        link.has(r##"<a href="#" class="btn" role="button""##)
            && link.has(">ログイン</a>")
            && !link.has("<button")
    );
}

#[tokio::test]
async fn labels_as_label_or_th() {
    let label = login_page("").await;
    assert!(label.has(r#"<label for="f-uid">ユーザID</label>"#) && !label.has("<th>ユーザID</th>"));
    let th = login_page("[ui]\nlabels = \"th\"\n").await;
    assert!(th.has("<th>ユーザID</th><td><input") && !th.has("<label for=\"f-uid\">"));
}

#[tokio::test]
async fn menu_items_as_links_or_inputs() {
    let links = admin_menu("").await;
    assert!(links.has(">アカウント一括登録結果</a>"));
    let inputs = admin_menu("[ui]\nmenu_items = \"input\"\n").await;
    assert!(inputs.has(r#"<input type="button" class="menu-item" value="アカウント一括登録結果""#));
    assert!(!inputs.has(">アカウント一括登録結果</a>"));
}

#[tokio::test]
async fn bracket_widths() {
    assert!(admin_menu("").await.has(">アカウント管理(更新)</a>"));
    assert!(
        admin_menu("[ui]\ntexts = \"full-width\"\n")
            .await
            .has(">アカウント管理（更新）</a>")
    );
}

#[tokio::test]
async fn header_shows_the_name_or_the_role() {
    assert!(
        admin_menu("")
            .await
            .has("<div class=\"user\">管理アカウント</div>")
    );
    assert!(
        admin_menu("[ui]\nheader_shows = \"role\"\n")
            .await
            .has("<div class=\"user\">管理者</div>")
    );
}

#[tokio::test]
async fn confirmations_as_confirm_or_modal() {
    let js = admin_menu("").await;
    assert!(js.has("data-confirm=\"js\" data-confirm-message=\"ログアウトします。\""));
    let modal = admin_menu("[ui]\nlogout_confirm = \"modal\"\n").await;
    assert!(modal.has("data-confirm=\"modal\" data-confirm-modal=\"modal-logout\""));
    assert!(modal.has("id=\"modal-logout\" hidden"), "hidden until asked");
    // Several hidden dialogs, each with its own OK.
    assert!(modal.body.matches("class=\"modal-backdrop\"").count() >= 2);

    let confirming = sim_with("needs-reset", config("[ui]\nreset_confirm = \"confirm\"\n")).await;
    let b = Browser::new(&confirming);
    b.login("H2713107R", "1357").await;
    let detail = b.get("/oqs/account/detail?uid=H2713107").await;
    assert!(detail.has("data-confirm-message=\"パスワードを初期化します。よろしいですか？\""));
    let plain = sim("needs-reset").await;
    let b = Browser::new(&plain);
    b.login("H2713107R", "1357").await;
    let detail = b.get("/oqs/account/detail?uid=H2713107").await;
    assert!(
        detail.has("パスワード初期化") && !detail.has("パスワードを初期化します。"),
        "no confirmation by default"
    );
}

#[tokio::test]
async fn bulk_accounts_may_have_to_change_their_password() {
    for must in [false, true] {
        let sim = sim_with(
            "admin-exists",
            config(&format!(
                "[ui]\nbulk_accounts_must_change = {must}\n[delays]\nqueued_secs = 0\nprocessing_secs = 0\n"
            )),
        )
        .await;
        let b = Browser::new(&sim);
        b.login("OnsKANRI", "q4Rt#7vWx2Ke").await;
        b.change_password("OnsAdmin@00369").await;
        assert!(b.upload(sjis(GOOD_CSV)).await.has("受付番号は"));
        let s = state(&sim).await;
        assert_eq!(account(&s, "FOFACE01").expect("registered")["must_change"], must);
    }
}
