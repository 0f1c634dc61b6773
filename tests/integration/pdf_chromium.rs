//! ユーザ設定情報 notices from a generator we did not write: an HTML page in
//! IPAexGothic (fonts-ipaexfont) printed by headless Chromium on A4 with
//! 20 mm × 22 mm margins. Its PDF is tagged, draws through a scaled, flipped
//! CTM, one glyph per text operator, and IPAexGothic's ToUnicode map sends
//! 士, 山, 月, 日, 用 … to Kangxi radicals (Chromium adds /ActualText spans).
//! Every layout is checked against pdftotext first, so the PDF is known to
//! hold what the test expects.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::NaiveDate;
use oqsbot::pdf::{Credentials, read_credentials};

/// What one notice says; `password_label` is how its password row is labelled.
#[derive(Clone)]
struct Notice {
    issued: &'static str,
    environment: &'static str,
    code: &'static str,
    name: &'static str,
    user_id: &'static str,
    user_name: &'static str,
    password_label: &'static str,
    password: &'static str,
    expires: &'static str,
    reset_user_id: &'static str,
}

const PRODUCTION: Notice = Notice {
    issued: "2021年06月24日",
    environment: "本番環境",
    code: "1312345678",
    name: "富士山クリニック",
    user_id: "H1312345",
    user_name: "山本 富士子",
    password_label: "パスワード",
    password: "Fj7~!@#$%^&*_{}",
    expires: "2021年08月23日",
    reset_user_id: "H1312345R",
};

const VERIFICATION: Notice = Notice {
    issued: "２０２６年１１月２０日",
    environment: "接続検証環境",
    code: "２７１３１０７８９０",
    name: "医療法人富士山会 山の上診療所",
    user_id: "OnsKANRI01",
    user_name: "管理アカウント",
    password_label: "初期パスワード",
    password: "Kz9[]|;'<>,.?-()/",
    expires: "2027年1月19日",
    reset_user_id: "OnsKANRI01R",
};

#[derive(Clone, Copy, Debug)]
enum Layout {
    /// `<table>` of `<th>` and `<td>`: labels in a left column, values right.
    Table,
    /// `<dl>`: each value on the line below its label, indented.
    DefinitionList,
    /// `th { white-space: nowrap }` in a table this many mm wide: a long value
    /// wraps over lines beside its vertically centred label.
    NowrapWrapped(u32),
    /// Two pairs a row: label, value, label, value.
    Pairs,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn rows(n: &Notice) -> Vec<(&'static str, &'static str)> {
    vec![
        ("利用環境", n.environment),
        ("医療機関コード", n.code),
        ("医療機関等名", n.name),
        ("ユーザID", n.user_id),
        ("ユーザ名", n.user_name),
        (n.password_label, n.password),
        ("パスワード有効期限", n.expires),
        ("リセット用ユーザID", n.reset_user_id),
    ]
}

fn html(n: &Notice, layout: Layout) -> String {
    let table = match layout {
        Layout::Table => rows(n)
            .iter()
            .map(|(l, v)| format!("<tr><th>{}</th><td>{}</td></tr>", escape(l), escape(v)))
            .collect::<String>(),
        Layout::NowrapWrapped(_) => rows(n)
            .iter()
            .map(|(l, v)| {
                format!(
                    "<tr><th class=\"nowrap\">{}</th><td>{}</td></tr>",
                    escape(l),
                    escape(v)
                )
            })
            .collect::<String>(),
        Layout::DefinitionList => rows(n)
            .iter()
            .map(|(l, v)| format!("<dt>{}</dt><dd>{}</dd>", escape(l), escape(v)))
            .collect::<String>(),
        Layout::Pairs => rows(n)
            .chunks(2)
            .map(|pair| {
                let cells: String = pair
                    .iter()
                    .map(|(l, v)| format!("<th>{}</th><td>{}</td>", escape(l), escape(v)))
                    .collect();
                format!("<tr>{cells}</tr>")
            })
            .collect::<String>(),
    };
    let (body, extra_css) = match layout {
        Layout::DefinitionList => (format!("<dl>{table}</dl>"), String::new()),
        Layout::NowrapWrapped(mm) => (
            format!("<table class=\"narrow\">{table}</table>"),
            format!(".nowrap {{ white-space: nowrap; }} .narrow {{ width: {mm}mm; }}"),
        ),
        _ => (format!("<table>{table}</table>"), String::new()),
    };
    format!(
        r#"<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8"><style>
@page {{ size: A4; margin: 20mm 22mm; }}
body {{ font-family: "IPAexGothic", sans-serif; font-size: 11pt; margin: 0; }}
table {{ border-collapse: collapse; margin-top: 8mm; }}
th, td {{ border: 1px solid #000; padding: 6px 12px; text-align: left; font-weight: normal; }}
th {{ background: #ddd; }}
{extra_css}
</style></head><body>
<p style="text-align:right">{issued}</p>
<p>〒400-0001<br>山梨県富士吉田市上吉田1-2-3</p>
<p>{name} 御中</p>
<p style="text-align:right">社会保険診療報酬支払基金</p>
<h2 style="text-align:center">オンライン資格確認等システムユーザ設定情報</h2>
<p>☆オンライン資格確認等システム利用に関する情報</p>
{body}
<p>※ 重要な情報が記載されていますので、取扱いに注意し大切に保管願います。</p>
</body></html>"#,
        issued = escape(n.issued),
        name = escape(n.name),
    )
}

fn chromium() -> &'static str {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
    .expect("Chromium is installed (scripts/setup-system.sh: package chromium)")
}

/// A notice printed by Chromium; the folder lives as long as the value.
struct Printed {
    dir: tempfile::TempDir,
    pdf: PathBuf,
    bytes: Vec<u8>,
}

fn print(html: &str) -> Printed {
    let dir = tempfile::tempdir().expect("temp dir");
    let page = dir.path().join("notice.html");
    let pdf = dir.path().join("notice.pdf");
    std::fs::write(&page, html).expect("write html");
    let status = Command::new(chromium())
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
        ])
        .args([
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
        ])
        // A profile of its own: tests print in parallel.
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(&page)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("Chromium runs");
    assert!(status.success(), "Chromium failed to print: {status}");
    let bytes = std::fs::read(&pdf).expect("Chromium wrote the PDF");
    assert!(
        bytes.windows(11).any(|w| w == b"IPAexGothic"),
        "the PDF should embed IPAexGothic (scripts/setup-system.sh: package fonts-ipaexfont)"
    );
    // OQSBOT_KEEP_PDFS=DIR keeps every printed notice there, for a look.
    if let Some(keep) = std::env::var_os("OQSBOT_KEEP_PDFS") {
        let name = format!("notice-{}.pdf", std::process::id() as usize + bytes.len());
        let _ = std::fs::copy(&pdf, Path::new(&keep).join(name));
    }
    Printed { dir, pdf, bytes }
}

/// pdftotext's reading of a PDF (`-raw`: in the order the text was drawn).
fn pdftotext(pdf: &Path, mode: &str) -> String {
    let out = Command::new("pdftotext")
        .args([mode, "-enc", "UTF-8"])
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext runs (scripts/setup-system.sh: package poppler-utils)");
    assert!(
        out.status.success(),
        "pdftotext failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("pdftotext writes UTF-8")
}

fn squash(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The PDF says what the HTML said: pdftotext reads each label followed by its
/// value, and the issue date.
fn check_with_pdftotext(printed: &Printed, n: &Notice) {
    let raw = squash(&pdftotext(&printed.pdf, "-raw"));
    for (label, value) in rows(n) {
        let pair = format!("{label}{}", squash(value));
        assert!(raw.contains(&pair), "pdftotext does not read {pair:?} in:\n{raw}");
    }
    assert!(
        raw.contains(n.issued),
        "pdftotext does not read the date {}",
        n.issued
    );
}

fn date(text: &str) -> Option<NaiveDate> {
    oqsbot::pdf::parse_japanese_date(text)
}

fn assert_fields(c: &Credentials, n: &Notice, what: &str) {
    let folded = |v: &str| squash(&oqsbot::portal::text::fold_width(v));
    assert_eq!(c.environment.as_deref(), Some(n.environment), "{what}");
    assert_eq!(c.is_production(), n.environment == "本番環境", "{what}");
    assert_eq!(
        c.institution_code.as_deref(),
        Some(folded(n.code).as_str()),
        "{what}"
    );
    assert_eq!(c.institution_name.as_deref(), Some(n.name), "{what}");
    assert_eq!(c.user_id.as_deref(), Some(n.user_id), "{what}");
    assert_eq!(c.user_name.as_deref(), Some(n.user_name), "{what}");
    assert_eq!(c.password.as_deref(), Some(n.password), "{what}");
    assert_eq!(c.password_expires, date(n.expires), "{what}");
    assert!(c.password_expires.is_some(), "{what}");
    assert_eq!(c.reset_user_id.as_deref(), Some(n.reset_user_id), "{what}");
    assert_eq!(c.issued, date(n.issued), "{what}");
    assert!(c.issued.is_some(), "{what}");
}

fn print_and_read(n: &Notice, layout: Layout) -> Printed {
    let printed = print(&html(n, layout));
    check_with_pdftotext(&printed, n);
    let what = format!("{layout:?} {}", n.environment);
    let c = read_credentials(&printed.bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_fields(&c, n, &what);
    printed
}

#[test]
fn chromium_table_production_notice() {
    print_and_read(&PRODUCTION, Layout::Table);
}

#[test]
fn chromium_table_verification_notice() {
    print_and_read(&VERIFICATION, Layout::Table);
}

#[test]
fn chromium_definition_list() {
    print_and_read(&PRODUCTION, Layout::DefinitionList);
}

#[test]
fn chromium_two_pairs_a_row() {
    let printed = print_and_read(&VERIFICATION, Layout::Pairs);
    // At this width Chromium wraps the longer labels in their cells: the
    // reader put パスワード有効 and 期限 back together.
    let layout = pdftotext(&printed.pdf, "-layout");
    let lines: Vec<String> = layout.lines().map(squash).collect();
    assert!(
        lines.iter().any(|l| l.contains("パスワード有効"))
            && !lines.iter().any(|l| l.contains("パスワード有効期限")),
        "the label should wrap:\n{layout}"
    );
}

const LONG_NAME: &str = "医療法人社団富士山会 富士山クリニック附属山中湖健康管理研究所";

/// Prints the notice with a long name in a table `mm` wide and checks that the
/// name wrapped onto `lines` lines.
fn wrapped(mm: u32, lines: usize) {
    let n = Notice {
        name: LONG_NAME,
        ..PRODUCTION
    };
    let printed = print_and_read(&n, Layout::NowrapWrapped(mm));
    let layout = pdftotext(&printed.pdf, "-layout");
    // The table's lines (the name is also printed whole above it, with 御中).
    let table: Vec<String> = layout
        .lines()
        .skip_while(|l| !l.contains("利用環境"))
        .map(squash)
        .collect();
    let first = table.iter().position(|l| l.contains("医療法"));
    let last = table.iter().position(|l| l.contains('所'));
    let (Some(first), Some(last)) = (first, last) else {
        panic!("pdftotext does not show the name in the table:\n{layout}");
    };
    assert_eq!(
        last - first + 1,
        lines,
        "the name should wrap onto {lines} lines:\n{layout}"
    );
}

#[test]
fn chromium_nowrap_label_and_a_value_wrapped_in_two_lines() {
    // The label sits half-way between the value's two lines.
    wrapped(120, 2);
}

#[test]
fn chromium_nowrap_label_and_a_value_wrapped_in_five_lines() {
    // The last line is nearer the next row's label than its own.
    wrapped(62, 5);
}

/// Chromium's PDF with every /ActualText span taken out: only the font's
/// ToUnicode map is left, and it gives radicals for 士, 山, 月, 日 and 用.
fn without_actual_text(bytes: &[u8]) -> Vec<u8> {
    use lopdf::content::{Content, Operation};
    let mut doc = lopdf::Document::load_mem(bytes).expect("Chromium's PDF loads");
    for (_, page) in doc.get_pages() {
        let content = Content::decode(&doc.get_page_content(page)).expect("content decodes");
        let mut dropped = Vec::new();
        let mut kept: Vec<Operation> = Vec::new();
        for op in content.operations {
            match op.operator.as_str() {
                "BDC" | "BMC" => {
                    let actual = op
                        .operands
                        .get(1)
                        .and_then(|p| p.as_dict().ok())
                        .is_some_and(|d| d.has(b"ActualText"));
                    dropped.push(actual);
                    if actual {
                        continue;
                    }
                }
                "EMC" if dropped.pop() == Some(true) => continue,
                _ => {}
            }
            kept.push(op);
        }
        let encoded = Content { operations: kept }.encode().expect("content encodes");
        doc.change_page_content(page, encoded).expect("content replaced");
    }
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("PDF saves");
    out
}

#[test]
fn chromium_radicals_fold_without_actual_text() {
    let printed = print(&html(&PRODUCTION, Layout::Table));
    let stripped = without_actual_text(&printed.bytes);
    let path = printed.dir.path().join("stripped.pdf");
    std::fs::write(&path, &stripped).expect("write");
    // The hazard is real: pdftotext now reads ⼠ and ⼭ (U+2F20, U+2F2D).
    let text = pdftotext(&path, "-raw");
    assert!(
        text.contains('\u{2F20}') && text.contains('\u{2F2D}'),
        "IPAexGothic's ToUnicode should give radicals:\n{text}"
    );
    let c = read_credentials(&stripped).expect("reads");
    assert_fields(&c, &PRODUCTION, "without ActualText");
}
