//! ユーザ設定情報 PDFs in every font mode, read back by poppler.

use crate::common;

use common::*;

const MODES: [&str; 4] = ["embedded", "unijis-ucs2", "unijis-utf16", "rksj"];

async fn master_pdf(scenario: &str, pdf_config: &str) -> Vec<u8> {
    let sim = sim_with(scenario, config(&format!("[pdf]\n{pdf_config}"))).await;
    let (status, disposition, bytes) = Browser::new(&sim).bytes("/__sim/master-pdf").await;
    assert_eq!(status, 200);
    assert!(disposition.contains(".pdf"));
    bytes
}

fn fonts(bytes: &[u8]) -> String {
    let path = std::env::temp_dir().join(format!(
        "oqs-sim-fonts-{}-{}.pdf",
        std::process::id(),
        bytes.len()
    ));
    std::fs::write(&path, bytes).expect("write");
    let out = std::process::Command::new("pdffonts")
        .arg(&path)
        .output()
        .expect("pdffonts");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn every_font_mode_reads_back() {
    for mode in MODES {
        let bytes = master_pdf("initial-password", &format!("font = \"{mode}\"\n")).await;
        let text = pdftotext(&bytes);
        for expected in [
            "オンライン資格確認等システムユーザ設定情報",
            "☆オンライン資格確認等システム利用に関する情報",
            "青葉ファミリークリニック 御中",
            "社会保険診療報酬支払基金",
            "本番環境",
            "1310100126",
            "H1310100",
            "マスター病院",
            "x7Kp2#qLm9Az",
            "H1310100R",
            "パスワード有効期限",
        ] {
            assert!(text.contains(expected), "{mode}: no {expected:?} in\n{text}");
        }
    }
}

#[tokio::test]
async fn font_modes_are_what_they_say() {
    let embedded = fonts(&master_pdf("needs-reset", "font = \"embedded\"\n").await);
    assert!(
        embedded.contains("CID TrueType") && embedded.contains("Identity-H"),
        "{embedded}"
    );
    let line = embedded.lines().nth(2).expect("a font line");
    assert!(
        line.contains("yes yes yes"),
        "embedded, subset, ToUnicode: {line}"
    );

    let cmap = fonts(&master_pdf("needs-reset", "font = \"unijis-ucs2\"\n").await);
    assert!(cmap.contains("UniJIS-UCS2-H"), "{cmap}");
    let line = cmap.lines().nth(2).expect("a font line");
    assert!(line.contains("no  no  no"), "not embedded, no ToUnicode: {line}");
}

#[tokio::test]
async fn no_password_row_when_the_scenario_has_none() {
    let text = pdftotext(&master_pdf("needs-reset", "").await);
    assert!(text.contains("リセット用ユーザID"));
    assert!(!text.contains("パスワード有効期限"));
    assert!(
        !text.lines().any(|l| l.trim_start().starts_with("パスワード ")),
        "{text}"
    );
}

#[tokio::test]
async fn out_of_order_drawing_still_reads_as_pairs() {
    let bytes = master_pdf(
        "initial-password",
        "draw_order = \"columns\"\nsplit_values = true\nfont = \"unijis-ucs2\"\n",
    )
    .await;
    let text = pdftotext(&bytes);
    let row = text
        .lines()
        .find(|l| l.contains("医療機関コード"))
        .expect("code row");
    assert!(row.contains("1310100126"), "{row}");
}

#[tokio::test]
async fn labels_and_environment_vary() {
    let bytes = master_pdf(
        "initial-password",
        "password_label = \"初期パスワード\"\nenvironment = \"接続検証環境\"\n",
    )
    .await;
    let text = pdftotext(&bytes);
    assert!(text.contains("初期パスワード") && text.contains("接続検証環境"));
    assert!(!text.contains("本番環境"));
}

#[tokio::test]
async fn pdfs_render_to_pages() {
    // pdftoppm exits non-zero on a PDF it cannot draw.
    for mode in MODES {
        let bytes = master_pdf("initial-password", &format!("font = \"{mode}\"\n")).await;
        let path = std::env::temp_dir().join(format!("oqs-sim-render-{}-{mode}.pdf", std::process::id()));
        std::fs::write(&path, &bytes).expect("write");
        let out = std::process::Command::new("pdftoppm")
            .args(["-r", "30", "-png", "-singlefile"])
            .arg(&path)
            .arg(path.with_extension(""))
            .output()
            .expect("pdftoppm");
        assert!(
            out.status.success(),
            "{mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("Error"),
            "{mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
