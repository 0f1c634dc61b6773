//! アカウント一括登録 and アカウント一括登録結果: encoding, checks, lifecycle, result files.

use crate::common;

use common::*;

async fn admin(sim: &oqs_sim::RunningSim) -> Browser {
    let b = Browser::new(sim);
    assert!(
        b.login("OnsKANRI", "OnsAdmin@00369")
            .await
            .url
            .ends_with("/oqs/menu")
    );
    b
}

fn receipt_of(page: &Page) -> String {
    let start = page.body.find("受付番号は").expect("a receipt") + "受付番号は".len();
    let end = page.body[start..].find("です。").expect("end") + start;
    page.body[start..end].to_string()
}

async fn status(b: &Browser, receipt: &str) -> String {
    let page = b.get("/oqs/bulk/results").await;
    let row = page
        .body
        .find(&format!("<td>{receipt}</td>"))
        .expect("the receipt's row");
    let rest = &page.body[row..];
    let cell = rest.split("<td>").nth(2).expect("status cell");
    cell.split("</td>").next().expect("cell end").to_string()
}

/// A scenario where OnsKANRI exists but the face and 連携 accounts do not.
async fn fresh_admin_sim(config_text: &str) -> oqs_sim::RunningSim {
    let text = r#"
name = "bulk-test"
description = "admin only"
[institution]
code = "1312304569"
name = "さくら内科クリニック"
postal_code = "〒150-0001"
address = "東京都渋谷区神宮前1-2-3"
[master]
user_id = "H1312304"
name = "マスタアカウント"
kana = "マスタアカウント"
password = "Mst#Carried2026x"
must_change = false
secret_number = "4821"
pdf_shows_password = false
[[accounts]]
user_id = "OnsKANRI"
role = "管理者"
name = "管理アカウント"
kana = "カンリアカウント"
password = "OnsAdmin@00369"
"#;
    let scenario = oqs_sim::Scenario::parse(text, "bulk-test").expect("scenario");
    oqs_sim::start(scenario, config(config_text), 0)
        .await
        .expect("starts")
}

#[tokio::test]
async fn the_upload_page_has_the_manual_texts() {
    let sim = fresh_admin_sim("").await;
    let page = admin(&sim).await.get("/oqs/bulk/upload").await;
    for text in [
        "アカウント一括登録用ファイル",
        "type=\"file\"",
        "登録",
        "※アップロードは1分以上間隔を空けてください。",
        "※アップロードするCSVの文字コードは環境設定情報に関わらずShift-JISのみとなります。",
        "登録確認",
        "登録します。よろしいですか？",
        "戻る",
    ] {
        assert!(page.has(text), "missing {text}");
    }
}

#[tokio::test]
async fn a_good_file_goes_through_the_lifecycle() {
    let sim = fresh_admin_sim("").await;
    let b = admin(&sim).await;
    let page = b.upload(sjis(GOOD_CSV)).await;
    assert!(page.has("登録完了"));
    let receipt = receipt_of(&page);
    let (stamp, uploader) = receipt.split_once('_').expect("stamp_uploader");
    assert_eq!(stamp.len(), 17, "{receipt}");
    assert!(stamp.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(uploader, "OnsKANRI");
    assert!(page.has("(受付時刻:") && page.has("分)"));

    assert_eq!(status(&b, &receipt).await, "登録待ち");
    assert!(
        account(&state(&sim).await, "FOFACE01").is_none(),
        "nothing registered while queued"
    );
    advance(&sim, 3).await;
    assert_eq!(status(&b, &receipt).await, "登録中");
    advance(&sim, 5).await;
    assert_eq!(status(&b, &receipt).await, "登録完了");
    let results = b.get("/oqs/bulk/results").await;
    assert!(results.has("<td>2</td>"), "処理件数 2");
    assert!(results.has("http-equiv=\"refresh\" content=\"60\""));
    assert!(results.has("更新") && results.has("戻る"));

    let s = state(&sim).await;
    assert_eq!(
        account(&s, "FOFACE01").expect("face")["role"],
        "顔認証付きカードリーダー用"
    );
    assert_eq!(
        account(&s, "R0RENK01").expect("連携")["role"],
        "連携アプリケーション用"
    );
    assert_eq!(account(&s, "R0RENK01").expect("連携")["must_change"], false);
    assert!(
        Browser::new(&sim)
            .login("FOFACE01", "OnsAdmin@00369")
            .await
            .url
            .ends_with("/oqs/menu")
    );

    let (code, _, bytes) = b.bytes(&results.link("/oqs/bulk/results/")).await;
    assert_eq!(code, 200);
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
    assert!(!bad, "the result file is Shift-JIS");
    assert!(text.starts_with("権限区分,ユーザID,ユーザ名,ユーザ名(カナ),パスワード,利用開始年月日,利用終了年月日,登録結果,エラー詳細\r\n"));
    assert!(
        !text.contains("OnsAdmin@00369"),
        "no passwords in the result file"
    );
}

#[tokio::test]
async fn uploads_are_a_minute_apart() {
    let sim = fresh_admin_sim("").await;
    let b = admin(&sim).await;
    assert!(b.upload(sjis(GOOD_CSV)).await.has("受付番号は"));
    advance(&sim, 59).await;
    let page = b.upload(sjis(GOOD_CSV)).await;
    assert!(page.has("1分以上間隔を空けて"), "refused within the minute");
    assert!(!page.has("受付番号は"));
    advance(&sim, 2).await;
    assert!(b.upload(sjis(GOOD_CSV)).await.has("受付番号は"));
    assert_eq!(state(&sim).await["uploads"].as_array().expect("uploads").len(), 2);
}

async fn final_status(sim: &oqs_sim::RunningSim, b: &Browser, bytes: Vec<u8>) -> (String, String) {
    let receipt = receipt_of(&b.upload(bytes).await);
    advance(sim, 8).await;
    let s = status(b, &receipt).await;
    advance(sim, 60).await;
    (receipt, s)
}

#[tokio::test]
async fn malformed_files_are_file_structure_errors() {
    let sim = fresh_admin_sim("").await;
    let b = admin(&sim).await;
    let wrong_header = GOOD_CSV.replace("ユーザ名(カナ)", "カナ");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("UTF-8 with Japanese", GOOD_CSV.as_bytes().to_vec()),
        ("wrong header", sjis(&wrong_header)),
        ("not CSV", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec()),
        (
            "six columns",
            sjis(&GOOD_CSV.replace(",2026/11/25,\r\n", ",2026/11/25\r\n")),
        ),
    ];
    for (what, bytes) in cases {
        let (_, s) = final_status(&sim, &b, bytes).await;
        assert_eq!(s, "登録失敗(ファイル構造エラー)", "{what}");
    }
    assert!(account(&state(&sim).await, "FOFACE01").is_none());
    let results = b.get("/oqs/bulk/results").await;
    assert!(!results.has("/file"), "no result file for a structure error");
}

#[tokio::test]
async fn one_bad_row_registers_nothing() {
    let sim = fresh_admin_sim("").await;
    let b = admin(&sim).await;
    let bad = GOOD_CSV.replace("レンケイアカウント,OnsAdmin@00369", "れんけい,short");
    let (receipt, s) = final_status(&sim, &b, sjis(&bad)).await;
    assert_eq!(s, "登録失敗(入力チェックエラー)");
    let st = state(&sim).await;
    assert!(
        account(&st, "FOFACE01").is_none() && account(&st, "R0RENK01").is_none(),
        "no row registered"
    );
    let (_, _, bytes) = b.bytes(&format!("/oqs/bulk/results/{receipt}/file")).await;
    let (text, _, _) = encoding_rs::SHIFT_JIS.decode(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[1].contains("FOFACE01") && lines[1].ends_with("未登録,【入力チェックエラーなし:未登録】"),
        "{}",
        lines[1]
    );
    assert!(lines[2].contains("R0RENK01") && lines[2].contains("【入力チェックエラー】"));
    assert!(
        lines[2].contains("ユーザ名(カナ)") && lines[2].contains("パスワード"),
        "{}",
        lines[2]
    );
}

#[tokio::test]
async fn existing_ids_are_a_partial_success() {
    let sim = sim("carried-over").await;
    let b = admin(&sim).await;
    let csv = GOOD_CSV.replace("R0RENK01", "R0RENK02");
    let (receipt, s) = final_status(&sim, &b, sjis(&csv)).await;
    assert_eq!(s, "登録完了(一部 ID 重複あり)");
    assert!(account(&state(&sim).await, "R0RENK02").is_some());
    let (_, _, bytes) = b.bytes(&format!("/oqs/bulk/results/{receipt}/file")).await;
    let (text, _, _) = encoding_rs::SHIFT_JIS.decode(&bytes);
    assert!(text.contains("FOFACE01") && text.contains("【ID重複】"));
}

#[tokio::test]
async fn system_error_and_stuck_switches() {
    let sim = fresh_admin_sim("[faults]\nsystem_error = true\n").await;
    let b = admin(&sim).await;
    let (_, s) = final_status(&sim, &b, sjis(GOOD_CSV)).await;
    assert_eq!(s, "登録失敗(システムエラー)");
    assert!(account(&state(&sim).await, "FOFACE01").is_none());

    let sim = fresh_admin_sim("[faults]\nstuck_processing = true\n[site]\nidle_timeout_secs = 86400\n").await;
    let b = admin(&sim).await;
    let receipt = receipt_of(&b.upload(sjis(GOOD_CSV)).await);
    advance(&sim, 3600).await;
    assert_eq!(status(&b, &receipt).await, "登録中");
}

#[tokio::test]
async fn status_texts_follow_the_variant() {
    let sim = fresh_admin_sim("[ui]\ntexts = \"full-width\"\n").await;
    let b = admin(&sim).await;
    let (_, s) = final_status(&sim, &b, GOOD_CSV.as_bytes().to_vec()).await;
    assert_eq!(s, "登録失敗（ファイル構造エラー）");
    patch_config(&sim, serde_json::json!({"ui": {"texts": "manual-sample"}})).await;
    let (_, s) = final_status(&sim, &b, GOOD_CSV.as_bytes().to_vec()).await;
    assert_eq!(s, "登録失敗 (CSV形式エラー)");
}

#[tokio::test]
async fn only_an_admin_uploads() {
    let sim = sim("carried-over").await;
    let b = Browser::new(&sim);
    b.login("H1312304", "Mst#Carried2026x").await;
    assert_eq!(b.get("/oqs/bulk/upload").await.status, 403);
}
