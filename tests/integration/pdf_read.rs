//! Reading real ユーザ設定情報 PDFs: from the simulator in every font mode and
//! drawing order, and from an independent generator (Chromium's print-to-PDF).

use chrono::NaiveDate;
use oqs_sim::config::{DrawOrder, PdfFont, PdfOptions};
use oqs_sim::pdf::{CredentialNotice, render};
use oqsbot::pdf::{PdfError, Work, read_credentials};
use proptest::prelude::*;
use std::fmt::Write as _;

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

/// The resources of a handmade page: font F1 (object 4) takes UTF-16 codes
/// (UniJIS-UCS2-H, nothing embedded).
const F1: &str = "/Font << /F1 4 0 R >>";

/// A one-page PDF with `content` as its page content, `resources` inside its
/// resource dictionary, and `extra` as more objects from number 6 on.
fn handmade_pdf(content: &[u8], resources: &str, extra: &[Vec<u8>]) -> Vec<u8> {
    let mut page = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
    page.extend_from_slice(content);
    page.extend_from_slice(b"\nendstream");
    handmade_pdf_with(page, resources, extra)
}

/// `handmade_pdf` with the page's content stream object given whole.
fn handmade_pdf_with(page: Vec<u8>, resources: &str, extra: &[Vec<u8>]) -> Vec<u8> {
    let mut objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 594.96 841.92] /Resources << {resources} >> /Contents 5 0 R >>"
        )
        .into_bytes(),
        b"<< /Type /Font /Subtype /Type0 /BaseFont /HeiseiKakuGo-W5 /Encoding /UniJIS-UCS2-H /DescendantFonts [<< /Type /Font /Subtype /CIDFontType0 /BaseFont /HeiseiKakuGo-W5 /CIDSystemInfo << /Registry (Adobe) /Ordering (Japan1) /Supplement 2 >> /DW 1000 >>] >>".to_vec(),
    ];
    objects.push(page);
    objects.extend(extra.iter().cloned());
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1).as_bytes());
    for off in &offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            offsets.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// Text drawn as Chromium draws it: a text object per piece, `1 0 0 -1 x y Tm`
/// in a y-down space, then one `Tj` per glyph moved along with `Td`.
/// `actual` wraps the glyphs given in a /Span with that /ActualText.
fn chromium_style_text(out: &mut String, x: f32, y: f32, text: &str, actual: &[(char, char)]) {
    let size = 14.66;
    let _ = write!(out, "BT /F1 {size} Tf 1 0 0 -1 {x} {y} Tm ");
    let mut advance = 0.0;
    for c in text.chars() {
        let _ = write!(out, "{advance} 0 Td ");
        let shown = actual
            .iter()
            .find(|(page, _)| *page == c)
            .map(|(_, glyph)| *glyph);
        let code: String = shown
            .unwrap_or(c)
            .encode_utf16(&mut [0; 2])
            .iter()
            .map(|u| format!("{u:04X}"))
            .collect();
        match shown {
            // The glyph's own code says a radical; the ActualText says what the page shows.
            Some(_) => {
                let real: String = c
                    .encode_utf16(&mut [0; 2])
                    .iter()
                    .map(|u| format!("{u:04X}"))
                    .collect();
                let _ = write!(out, "/Span << /ActualText <FEFF{real}> >> BDC <{code}> Tj EMC ");
            }
            None => {
                let _ = write!(out, "<{code}> Tj ");
            }
        }
        advance = if c.is_ascii() { size / 2.0 } else { size };
    }
    out.push_str("ET\n");
}

#[test]
fn a_tagged_pdf_with_a_scaled_flipped_ctm_and_actual_text() {
    // As Chromium prints: a flipped, scaled CTM, nested q/Q with another cm,
    // marked content around everything, glyph codes that are Kangxi radicals
    // with and without an ActualText to correct them.
    // ク's glyph reads as a private-use character: only its ActualText gives ク.
    let radicals = [
        ('士', '\u{2F20}'),
        ('山', '\u{2F2D}'),
        ('月', '\u{2F49}'),
        ('日', '\u{2F47}'),
        ('ク', '\u{E000}'),
    ];
    let mut c =
        String::from(".23999999 0 0 -.23999999 0 841.91998 cm\nq\n3.125 0 0 3.125 259.375 237.5 cm\n");
    c.push_str("/P << /MCID 0 >> BDC\n");
    chromium_style_text(&mut c, 400.0, 28.0, "2021年06月24日", &radicals);
    c.push_str("EMC\n");
    // 用 (U+2F64 as the font maps it) has no ActualText here: folding reads it.
    let rows = [
        ("利\u{2F64}環境", "本番環境"),
        ("医療機関コード", "1312345678"),
        ("医療機関等名", "富士山クリニック"),
        ("ユーザID", "H1312345"),
        ("ユーザ名", "山本 富士子"),
        ("パスワード", "Fj7~!@#$%^&*_{}"),
        ("パスワード有効期限", "2021年08月23日"),
        ("リセット\u{2F64}ユーザID", "H1312345R"),
    ];
    for (i, (label, value)) in rows.iter().enumerate() {
        let y = 242.0 + 28.0 * i as f32;
        let _ = writeln!(
            c,
            "/TH << /MCID {} >> BDC q 0.8667 g 9 {} 157 28 re f Q",
            2 * i + 1,
            y - 20.0
        );
        // The label in two pieces, in two text objects.
        let cut = label.char_indices().nth(2).map_or(0, |(b, _)| b);
        chromium_style_text(&mut c, 21.0, y, &label[..cut], &[]);
        chromium_style_text(&mut c, 21.0 + 14.66 * 2.0, y, &label[cut..], &[]);
        c.push_str("EMC\n");
        let _ = writeln!(c, "/TD << /MCID {} >> BDC", 2 * i + 2);
        chromium_style_text(&mut c, 178.6, y, value, &radicals);
        c.push_str("EMC\n");
    }
    c.push_str("Q\n");
    let creds = read_credentials(&handmade_pdf(c.as_bytes(), F1, &[])).expect("reads");
    assert_eq!(creds.environment.as_deref(), Some("本番環境"));
    assert_eq!(creds.institution_code.as_deref(), Some("1312345678"));
    assert_eq!(creds.institution_name.as_deref(), Some("富士山クリニック"));
    assert_eq!(creds.user_id.as_deref(), Some("H1312345"));
    assert_eq!(creds.user_name.as_deref(), Some("山本 富士子"));
    assert_eq!(creds.password.as_deref(), Some("Fj7~!@#$%^&*_{}"));
    assert_eq!(creds.password_expires, NaiveDate::from_ymd_opt(2021, 8, 23));
    assert_eq!(creds.reset_user_id.as_deref(), Some("H1312345R"));
    assert_eq!(creds.issued, NaiveDate::from_ymd_opt(2021, 6, 24));
}

/// The budget error for `work`, and its message.
fn over_budget(result: Result<oqsbot::pdf::Credentials, PdfError>, work: Work, what: &str) -> String {
    match result {
        Err(e @ PdfError::TooMuchWork { work: w, .. }) if w == work => {
            let message = e.to_string();
            assert!(
                message.contains("more work than a ユーザ設定情報 PDF needs")
                    && message.contains("not one the portal issued"),
                "{what}: {message}"
            );
            message
        }
        other => panic!("{what}: expected TooMuchWork {{ {work:?} }}, got {other:?}"),
    }
}

/// A FlateDecode stream object holding `content`, and extra dictionary entries.
fn compressed_stream(content: Vec<u8>, dict: &str) -> Vec<u8> {
    let mut stream = lopdf::Stream::new(lopdf::Dictionary::new(), content);
    stream.compress().expect("compresses");
    let mut object = format!(
        "<< {dict} /Filter /FlateDecode /Length {} >>\nstream\n",
        stream.content.len()
    )
    .into_bytes();
    object.extend_from_slice(&stream.content);
    object.extend_from_slice(b"\nendstream");
    object
}

#[test]
fn millions_of_trivial_operators_run_out_of_work() {
    // Two million `q`/`Q` in one page's content: 4 MB of operators from a few KB on disk.
    let content = b"q\nQ\n".repeat(1_000_000);
    let bytes = handmade_pdf_with(compressed_stream(content, ""), F1, &[]);
    assert!(bytes.len() < 64 << 10, "the file is small: {}", bytes.len());
    let message = over_budget(read_credentials(&bytes), Work::Operators, "trivial operators");
    assert!(message.contains("drawing operators"), "{message}");
    // A real notice still reads under the same budget.
    let opts = PdfOptions {
        font: PdfFont::Embedded,
        ..PdfOptions::default()
    };
    let real = render(&notice(Some("x7Kp2#qLm9Az")), &opts, Some(&font_data())).expect("renders");
    let creds = read_credentials(&real).expect("a real notice reads");
    assert_eq!(creds.user_id.as_deref(), Some("H2713107"));
}

#[test]
fn a_form_drawn_over_and_over_runs_out_of_work() {
    // 20,000 draws of a form of 1,000 operators: 20 million operators from 100 KB.
    let page = "/X Do ".repeat(20_000);
    let form_ops = "q Q ".repeat(500);
    let form = format!(
        "<< /Type /XObject /Subtype /Form /BBox [0 0 10 10] /Length {} >>\nstream\n{form_ops}\nendstream",
        form_ops.len() + 1
    );
    let bytes = handmade_pdf(
        page.as_bytes(),
        &format!("{F1} /XObject << /X 6 0 R >>"),
        &[form.into_bytes()],
    );
    over_budget(read_credentials(&bytes), Work::Operators, "endless forms");
}

#[test]
fn a_huge_font_map_runs_out_of_entries() {
    // 64 bfranges over 0000-FFFF: 4 million ToUnicode entries asked for.
    let mut cmap = String::from("1 begincodespacerange <0000> <FFFF> endcodespacerange\n");
    for _ in 0..64 {
        cmap.push_str("1 beginbfrange <0000> <FFFF> <4E00> endbfrange\n");
    }
    let to_unicode = format!("<< /Length {} >>\nstream\n{cmap}\nendstream", cmap.len() + 1);
    let font = b"<< /Type /Font /Subtype /Type0 /BaseFont /X /Encoding /Identity-H /ToUnicode 7 0 R /DescendantFonts [<< /Type /Font /Subtype /CIDFontType2 /BaseFont /X /DW 1000 >>] >>".to_vec();
    let bytes = handmade_pdf(
        b"BT /F2 10 Tf 10 10 Td <0001> Tj ET",
        "/Font << /F2 6 0 R >>",
        &[font, to_unicode.into_bytes()],
    );
    let message = over_budget(read_credentials(&bytes), Work::MapEntries, "huge ToUnicode");
    assert!(message.contains("font maps"), "{message}");
}

#[test]
fn a_decompression_bomb_is_refused() {
    // 80 MiB of spaces in a form XObject, a few dozen KB on disk.
    let form = compressed_stream(
        vec![b' '; 80 << 20],
        "/Type /XObject /Subtype /Form /BBox [0 0 1 1]",
    );
    assert!(form.len() < 1 << 20, "the bomb is small on disk");
    let bytes = handmade_pdf(b"/X Do", "/XObject << /X 6 0 R >>", &[form]);
    let message = over_budget(read_credentials(&bytes), Work::StreamBytes, "decompression bomb");
    assert!(message.contains("MiB"), "{message}");
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
