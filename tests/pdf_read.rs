//! Reading real ユーザ設定情報 PDFs: from the simulator in every font mode and
//! drawing order, and from an independent generator (Chromium's print-to-PDF).

use chrono::NaiveDate;
use oqs_sim::config::{DrawOrder, PdfFont, PdfOptions};
use oqs_sim::pdf::{CredentialNotice, render};
use oqsbot::pdf::{PdfError, read_credentials};
use proptest::prelude::*;

fn notice(password: Option<&str>) -> CredentialNotice {
    CredentialNotice {
        issued: NaiveDate::from_ymd_opt(2026, 11, 25).expect("date"),
        postal_code: "〒530-0001".into(),
        address: "大阪府大阪市北区梅田1-2-3".into(),
        institution_name: "なにわ整形外科医院".into(),
        institution_code: "2713107890".into(),
        user_id: "H2713107".into(),
        user_name: "マスター病院".into(),
        password: password.map(str::to_string),
        password_expires: password.map(|_| NaiveDate::from_ymd_opt(2027, 1, 24).expect("date")),
        reset_user_id: Some("H2713107R".into()),
        subtitle: Some("【マスタアカウント情報】".into()),
    }
}

fn font_data() -> Vec<u8> {
    let path = oqs_sim::pdf::find_font(None).expect("a Japanese font (fonts-ipafont-gothic)");
    std::fs::read(path).expect("font")
}

#[test]
fn simulator_pdfs_in_every_mode_and_order() {
    let font = font_data();
    let fonts = [
        PdfFont::Embedded,
        PdfFont::UnijisUcs2,
        PdfFont::UnijisUtf16,
        PdfFont::Rksj,
    ];
    for mode in fonts {
        for order in [DrawOrder::Rows, DrawOrder::Columns] {
            for split in [false, true] {
                for label in ["パスワード", "初期パスワード", "初期後のパスワード"] {
                    let opts = PdfOptions {
                        font: mode,
                        draw_order: order,
                        split_values: split,
                        password_label: label.into(),
                        ..PdfOptions::default()
                    };
                    let bytes = render(&notice(Some("x7Kp2#qLm9Az")), &opts, Some(&font)).expect("renders");
                    let what = format!("{mode:?} {order:?} split={split} {label}");
                    let c = read_credentials(&bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
                    assert_eq!(c.environment.as_deref(), Some("本番環境"), "{what}");
                    assert!(c.is_production());
                    assert_eq!(c.institution_code.as_deref(), Some("2713107890"), "{what}");
                    assert_eq!(
                        c.institution_name.as_deref(),
                        Some("なにわ整形外科医院"),
                        "{what}"
                    );
                    assert_eq!(c.user_id.as_deref(), Some("H2713107"), "{what}");
                    assert_eq!(c.user_name.as_deref(), Some("マスター病院"), "{what}");
                    assert_eq!(c.password.as_deref(), Some("x7Kp2#qLm9Az"), "{what}");
                    assert_eq!(c.password_expires, NaiveDate::from_ymd_opt(2027, 1, 24), "{what}");
                    assert_eq!(c.reset_user_id.as_deref(), Some("H2713107R"), "{what}");
                    assert_eq!(c.issued, NaiveDate::from_ymd_opt(2026, 11, 25), "{what}");
                }
            }
        }
    }
}

#[test]
fn no_password_and_the_verification_environment() {
    let opts = PdfOptions {
        font: PdfFont::UnijisUcs2,
        environment: "接続検証環境".into(),
        ..PdfOptions::default()
    };
    let bytes = render(&notice(None), &opts, None).expect("renders");
    let c = read_credentials(&bytes).expect("reads");
    assert_eq!(c.password, None);
    assert_eq!(c.password_expires, None);
    assert_eq!(c.environment.as_deref(), Some("接続検証環境"));
    assert!(!c.is_production());
}

fn chromium() -> &'static str {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
    .expect("Chromium is installed (package chromium)")
}

/// Prints `html` to PDF with headless Chromium.
fn print_to_pdf(html: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    let page = dir.path().join("notice.html");
    let out = dir.path().join("notice.pdf");
    std::fs::write(&page, html).expect("write html");
    let status = std::process::Command::new(chromium())
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("--print-to-pdf={}", out.display()))
        .arg(format!("file://{}", page.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("Chromium runs");
    assert!(status.success());
    std::fs::read(&out).expect("Chromium wrote the PDF")
}

const HEAD: &str = r#"<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8"><style>
body{font-family:"IPAGothic","IPAPGothic",sans-serif;font-size:14px;margin:40px}
td,th{border:1px solid #000;padding:6px 14px;text-align:left;font-weight:normal}
.cols{display:flex} .cols div{display:flex;flex-direction:column} .cols span{border:1px solid #000;padding:6px 14px;height:20px}
</style></head><body>
<p style="text-align:right">２０２６年１１月２０日</p><p>〒150-0001<br>東京都渋谷区神宮前1-2-3</p><p>さくら内科クリニック 御中</p>
<p style="text-align:right">社会保険診療報酬支払基金</p><h2 style="text-align:center">オンライン資格確認等システムユーザ設定情報</h2>
<p>☆オンライン資格確認等システム利用に関する情報</p>"#;

#[test]
fn chromium_printed_table() {
    let html = format!(
        "{HEAD}<table><tr><th>利用環境</th><td>本番環境</td></tr><tr><th>医療機関コード</th><td>１３１２３０４５６９</td></tr>\
         <tr><th>医療機関等名</th><td>さくら内科クリニック</td></tr><tr><th>ユーザID</th><td>OnsKANRI</td></tr>\
         <tr><th>ユーザ名</th><td>管理アカウント</td></tr><tr><th>初期パスワード</th><td>Xy7#kLm2pQ9z</td></tr>\
         <tr><th>パスワード有効期限</th><td>2027年1月19日</td></tr></table></body></html>"
    );
    let c = read_credentials(&print_to_pdf(&html)).expect("reads Chromium's PDF");
    assert_eq!(c.environment.as_deref(), Some("本番環境"));
    assert_eq!(
        c.institution_code.as_deref(),
        Some("1312304569"),
        "full-width digits folded"
    );
    assert_eq!(c.institution_name.as_deref(), Some("さくら内科クリニック"));
    assert_eq!(c.user_id.as_deref(), Some("OnsKANRI"));
    assert_eq!(c.user_name.as_deref(), Some("管理アカウント"));
    assert_eq!(c.password.as_deref(), Some("Xy7#kLm2pQ9z"));
    assert_eq!(c.password_expires, NaiveDate::from_ymd_opt(2027, 1, 19));
    assert_eq!(c.reset_user_id, None);
    assert_eq!(c.issued, NaiveDate::from_ymd_opt(2026, 11, 20));
}

#[test]
fn chromium_printed_columns() {
    // Labels in one column element, values in another: the source order is column by column.
    let html = format!(
        "{HEAD}<div class=\"cols\"><div><span>利用環境</span><span>医療機関コード</span><span>ユーザID</span><span>パスワード</span></div>\
         <div><span>本番環境</span><span>2713107890</span><span>H2713107</span><span>Ab3#<b>xyz9</b>Q</span></div></div></body></html>"
    );
    let c = read_credentials(&print_to_pdf(&html)).expect("reads");
    assert_eq!(c.institution_code.as_deref(), Some("2713107890"));
    assert_eq!(c.user_id.as_deref(), Some("H2713107"));
    assert_eq!(
        c.password.as_deref(),
        Some("Ab3#xyz9Q"),
        "a value in several runs and fonts"
    );
}

#[test]
fn not_a_notice() {
    let html = format!("{HEAD}<p>本文のみ</p></body></html>");
    assert!(matches!(
        read_credentials(&print_to_pdf(&html)),
        Err(PdfError::Missing(_))
    ));
    assert!(matches!(read_credentials(b"hello"), Err(PdfError::NotPdf(_))));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let mut with_header = b"%PDF-1.7\n".to_vec();
        with_header.extend_from_slice(&bytes);
        let _ = read_credentials(&bytes);
        let _ = read_credentials(&with_header);
    }

    #[test]
    fn damaged_notices_never_panic(cut in 0usize..4000, flips in proptest::collection::vec((0usize..4000, any::<u8>()), 0..8)) {
        let opts = PdfOptions { font: PdfFont::UnijisUcs2, ..PdfOptions::default() };
        let mut bytes = render(&notice(Some("x7Kp2#qLm9Az")), &opts, None).expect("renders");
        for (at, b) in flips {
            let i = at % bytes.len();
            bytes[i] = b;
        }
        bytes.truncate(cut.max(16).min(bytes.len()));
        let _ = read_credentials(&bytes);
    }
}
