//! ユーザ設定情報 PDFs, laid out as the manual shows them, with Japanese text
//! in CID fonts: either a subset TrueType font embedded with a ToUnicode map,
//! or a predefined CMap with nothing embedded and no ToUnicode.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};

use crate::config::{DrawOrder, PdfFont, PdfOptions};
use crate::error::SimError;

const FONT_CANDIDATES: &[&str] = &[
    "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
    "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/truetype/takao-gothic/TakaoGothic.ttf",
];

/// The TrueType font to embed: the configured one, or the first usual Japanese font present.
pub fn find_font(configured: Option<&Path>) -> Result<PathBuf, SimError> {
    if let Some(path) = configured {
        return Ok(path.to_path_buf());
    }
    FONT_CANDIDATES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .ok_or_else(|| {
            SimError::Pdf(
                "no Japanese TrueType font found to embed in PDFs: install fonts-ipafont-gothic, \
             set pdf.font_file, or use a predefined-CMap font mode (pdf.font = \"unijis-ucs2\")"
                    .into(),
            )
        })
}

/// What one ユーザ設定情報 PDF says.
#[derive(Debug, Clone)]
pub struct CredentialNotice {
    pub issued: NaiveDate,
    pub postal_code: String,
    pub address: String,
    pub institution_name: String,
    pub institution_code: String,
    pub user_id: String,
    pub user_name: String,
    pub password: Option<String>,
    pub password_expires: Option<NaiveDate>,
    pub reset_user_id: Option<String>,
    /// A line under the title, e.g. 【マスタアカウント情報】.
    pub subtitle: Option<String>,
}

pub fn japanese_date(d: NaiveDate) -> String {
    format!("{:04}年{:02}月{:02}日", d.year(), d.month(), d.day())
}

struct Run {
    x: f32,
    y: f32,
    size: f32,
    text: String,
}

enum Align {
    Left,
    Right,
    Center,
}

/// Widths in thousandths of the font size.
trait Metrics {
    fn width(&self, c: char) -> f32;
    fn text_width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.width(c)).sum::<f32>() * size / 1000.0
    }
}

struct HalfWidthAscii;
impl Metrics for HalfWidthAscii {
    fn width(&self, c: char) -> f32 {
        if c.is_ascii() { 500.0 } else { 1000.0 }
    }
}

#[derive(Default)]
struct Layout {
    runs: Vec<Run>,
    lines: Vec<(f32, f32, f32, f32)>,
}

struct Placer<'m> {
    layout: Layout,
    metrics: &'m dyn Metrics,
}

impl Placer<'_> {
    fn text(&mut self, align: Align, x: f32, y: f32, size: f32, text: &str) {
        let w = self.metrics.text_width(text, size);
        let x = match align {
            Align::Left => x,
            Align::Right => x - w,
            Align::Center => x - w / 2.0,
        };
        self.layout.runs.push(Run {
            x,
            y,
            size,
            text: text.to_string(),
        });
    }

    /// A value cell; split in two runs, drawn second half first, when asked.
    fn value(&mut self, split: bool, x: f32, y: f32, size: f32, text: &str) {
        let n = text.chars().count();
        if !split || n < 2 {
            return self.text(Align::Left, x, y, size, text);
        }
        let cut = text.char_indices().nth(n / 2).map(|(b, _)| b).unwrap_or(0);
        let (a, b) = text.split_at(cut);
        let x2 = x + self.metrics.text_width(a, size);
        self.text(Align::Left, x2, y, size, b);
        self.text(Align::Left, x, y, size, a);
    }
}

fn table_rows(notice: &CredentialNotice, opts: &PdfOptions) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = vec![
        ("利用環境".into(), opts.environment.clone()),
        ("医療機関コード".into(), notice.institution_code.clone()),
        ("医療機関等名".into(), notice.institution_name.clone()),
        ("ユーザID".into(), notice.user_id.clone()),
        ("ユーザ名".into(), notice.user_name.clone()),
    ];
    if let Some(password) = &notice.password {
        rows.push((opts.password_label.clone(), password.clone()));
    }
    if let Some(expires) = notice.password_expires {
        rows.push(("パスワード有効期限".into(), japanese_date(expires)));
    }
    if let Some(reset) = &notice.reset_user_id {
        rows.push(("リセット用ユーザID".into(), reset.clone()));
    }
    rows
}

fn lay_out(notice: &CredentialNotice, opts: &PdfOptions, metrics: &dyn Metrics) -> Layout {
    let mut p = Placer {
        layout: Layout::default(),
        metrics,
    };
    p.text(Align::Right, 535.0, 790.0, 10.5, &japanese_date(notice.issued));
    p.text(Align::Left, 60.0, 760.0, 10.5, &notice.postal_code);
    p.text(Align::Left, 60.0, 745.0, 10.5, &notice.address);
    p.text(
        Align::Left,
        60.0,
        718.0,
        12.0,
        &format!("{} 御中", notice.institution_name),
    );
    p.text(Align::Right, 535.0, 690.0, 10.5, "社会保険診療報酬支払基金");
    p.text(
        Align::Center,
        297.5,
        645.0,
        16.0,
        "オンライン資格確認等システムユーザ設定情報",
    );
    if let Some(sub) = &notice.subtitle {
        p.text(Align::Center, 297.5, 625.0, 11.0, sub);
    }
    p.text(
        Align::Left,
        60.0,
        595.0,
        11.0,
        "☆オンライン資格確認等システム利用に関する情報",
    );

    let rows = table_rows(notice, opts);
    let (left, mid, right, top, height, size) = (70.0, 230.0, 525.0, 575.0, 26.0, 11.0);
    let bottom = top - height * rows.len() as f32;
    for i in 0..=rows.len() {
        let y = top - height * i as f32;
        p.layout.lines.push((left, y, right, y));
    }
    for x in [left, mid, right] {
        p.layout.lines.push((x, top, x, bottom));
    }
    let baseline = |i: usize| top - height * i as f32 - 17.0;
    match opts.draw_order {
        DrawOrder::Rows => {
            for (i, (label, value)) in rows.iter().enumerate() {
                p.text(Align::Left, left + 8.0, baseline(i), size, label);
                p.value(opts.split_values, mid + 10.0, baseline(i), size, value);
            }
        }
        DrawOrder::Columns => {
            for (i, (_, value)) in rows.iter().enumerate().rev() {
                p.value(opts.split_values, mid + 10.0, baseline(i), size, value);
            }
            for (i, (label, _)) in rows.iter().enumerate() {
                p.text(Align::Left, left + 8.0, baseline(i), size, label);
            }
        }
    }
    p.text(
        Align::Left,
        60.0,
        bottom - 30.0,
        9.5,
        "※ 重要な情報が記載されていますので、取扱いに注意し大切に保管願います。",
    );
    p.text(
        Align::Left,
        60.0,
        bottom - 45.0,
        9.5,
        "※ オンライン資格確認等システムに初回ログイン時、パスワードの変更を行ってください。",
    );
    p.layout
}

/// How strings reach the page, and the font objects that go with it.
enum FontPlan {
    Embedded {
        glyphs: BTreeMap<char, (u16, f32)>,
        font_file: Vec<u8>,
        base: String,
        descriptor: FontDescriptor,
    },
    Predefined {
        encoding: &'static str,
        supplement: u8,
    },
}

struct FontDescriptor {
    bbox: [i32; 4],
    ascent: i32,
    descent: i32,
    cap_height: i32,
}

struct EmbeddedMetrics(BTreeMap<char, (u16, f32)>);
impl Metrics for EmbeddedMetrics {
    fn width(&self, c: char) -> f32 {
        self.0.get(&c).map(|(_, w)| *w).unwrap_or(1000.0)
    }
}

fn embedded_plan(text: &str, font_data: &[u8]) -> Result<FontPlan, SimError> {
    let face = ttf_parser::Face::parse(font_data, 0).map_err(|e| SimError::Pdf(format!("font: {e}")))?;
    let upem = f32::from(face.units_per_em());
    let mut remapper = subsetter::GlyphRemapper::new();
    let mut glyphs = BTreeMap::new();
    for c in text.chars() {
        if glyphs.contains_key(&c) {
            continue;
        }
        let gid = face
            .glyph_index(c)
            .ok_or_else(|| SimError::Pdf(format!("the font has no glyph for {c:?}")))?;
        let width = f32::from(face.glyph_hor_advance(gid).unwrap_or(0)) * 1000.0 / upem;
        glyphs.insert(c, (remapper.remap(gid.0), width));
    }
    let font_file =
        subsetter::subset(font_data, 0, &remapper).map_err(|e| SimError::Pdf(format!("font subset: {e}")))?;
    let scale = |v: i16| (f32::from(v) * 1000.0 / upem) as i32;
    let bb = face.global_bounding_box();
    let name = face
        .names()
        .into_iter()
        .find(|n| n.name_id == ttf_parser::name_id::POST_SCRIPT_NAME)
        .and_then(|n| n.to_string())
        .unwrap_or_else(|| "JapaneseGothic".to_string());
    Ok(FontPlan::Embedded {
        glyphs,
        font_file,
        base: format!("SIMSUB+{}", name.replace(' ', "")),
        descriptor: FontDescriptor {
            bbox: [scale(bb.x_min), scale(bb.y_min), scale(bb.x_max), scale(bb.y_max)],
            ascent: scale(face.ascender()),
            descent: scale(face.descender()),
            cap_height: face.capital_height().map(scale).unwrap_or(700),
        },
    })
}

impl FontPlan {
    fn encode(&self, text: &str) -> Result<Vec<u8>, SimError> {
        match self {
            FontPlan::Embedded { glyphs, .. } => Ok(text
                .chars()
                .flat_map(|c| glyphs.get(&c).map(|(g, _)| *g).unwrap_or(0).to_be_bytes())
                .collect()),
            FontPlan::Predefined {
                encoding: "90ms-RKSJ-H",
                ..
            } => {
                let (bytes, _, bad) = encoding_rs::SHIFT_JIS.encode(text);
                if bad {
                    return Err(SimError::Pdf(format!(
                        "{text:?} has a character with no Shift-JIS form"
                    )));
                }
                Ok(bytes.into_owned())
            }
            FontPlan::Predefined {
                encoding: "UniJIS-UCS2-H",
                ..
            } => {
                if text.chars().any(|c| c as u32 > 0xFFFF) {
                    return Err(SimError::Pdf(format!("{text:?} has a character outside UCS-2")));
                }
                Ok(text.encode_utf16().flat_map(u16::to_be_bytes).collect())
            }
            FontPlan::Predefined { .. } => Ok(text.encode_utf16().flat_map(u16::to_be_bytes).collect()),
        }
    }
}

/// Renders `notice`; `font_data` is the TrueType font for the embedded mode.
pub fn render(
    notice: &CredentialNotice,
    opts: &PdfOptions,
    font_data: Option<&[u8]>,
) -> Result<Vec<u8>, SimError> {
    // Lay out once to learn the characters, then again with the real metrics.
    let draft = lay_out(notice, opts, &HalfWidthAscii);
    let all_text: String = draft.runs.iter().map(|r| r.text.as_str()).collect();
    let plan = match opts.font {
        PdfFont::Embedded => {
            let data =
                font_data.ok_or_else(|| SimError::Pdf("the embedded font mode needs a font file".into()))?;
            embedded_plan(&all_text, data)?
        }
        PdfFont::UnijisUcs2 => FontPlan::Predefined {
            encoding: "UniJIS-UCS2-H",
            supplement: 2,
        },
        PdfFont::UnijisUtf16 => FontPlan::Predefined {
            encoding: "UniJIS-UTF16-H",
            supplement: 6,
        },
        PdfFont::Rksj => FontPlan::Predefined {
            encoding: "90ms-RKSJ-H",
            supplement: 2,
        },
    };
    let layout = match &plan {
        FontPlan::Embedded { glyphs, .. } => lay_out(notice, opts, &EmbeddedMetrics(glyphs.clone())),
        FontPlan::Predefined { .. } => draft,
    };

    let mut content = String::from("0.5 w 0 0 0 RG\n");
    for (x1, y1, x2, y2) in &layout.lines {
        let _ = writeln!(content, "{x1:.1} {y1:.1} m {x2:.1} {y2:.1} l S");
    }
    for run in &layout.runs {
        let hex: String = plan
            .encode(&run.text)?
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        let _ = writeln!(
            content,
            "BT /F1 {:.1} Tf 1 0 0 1 {:.2} {:.2} Tm <{hex}> Tj ET",
            run.size, run.x, run.y
        );
    }

    let mut pdf = PdfWriter::default();
    pdf.object("<< /Type /Catalog /Pages 2 0 R >>".into());
    pdf.object("<< /Type /Pages /Kids [3 0 R] /Count 1 >>".into());
    pdf.object(
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"
            .into(),
    );
    match &plan {
        FontPlan::Embedded {
            glyphs,
            font_file,
            base,
            descriptor,
        } => {
            pdf.object(format!(
                "<< /Type /Font /Subtype /Type0 /BaseFont /{base} /Encoding /Identity-H /DescendantFonts [6 0 R] /ToUnicode 8 0 R >>"
            ));
            pdf.stream("", content.as_bytes());
            let mut widths = String::new();
            for (gid, w) in glyphs.values() {
                let _ = write!(widths, "{gid} [{}] ", w.round() as i32);
            }
            pdf.object(format!(
                "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{base} /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor 7 0 R /DW 1000 /W [{widths}] /CIDToGIDMap /Identity >>"
            ));
            let d = descriptor;
            pdf.object(format!(
                "<< /Type /FontDescriptor /FontName /{base} /Flags 4 /FontBBox [{} {} {} {}] /ItalicAngle 0 /Ascent {} /Descent {} /CapHeight {} /StemV 80 /FontFile2 9 0 R >>",
                d.bbox[0], d.bbox[1], d.bbox[2], d.bbox[3], d.ascent, d.descent, d.cap_height
            ));
            pdf.stream("", to_unicode_cmap(glyphs).as_bytes());
            pdf.stream(&format!("/Length1 {}", font_file.len()), font_file);
        }
        FontPlan::Predefined { encoding, supplement } => {
            let base = "HeiseiKakuGo-W5";
            pdf.object(format!(
                "<< /Type /Font /Subtype /Type0 /BaseFont /{base} /Encoding /{encoding} /DescendantFonts [6 0 R] >>"
            ));
            pdf.stream("", content.as_bytes());
            pdf.object(format!(
                "<< /Type /Font /Subtype /CIDFontType0 /BaseFont /{base} /CIDSystemInfo << /Registry (Adobe) /Ordering (Japan1) /Supplement {supplement} >> /FontDescriptor 7 0 R /DW 1000 /W [1 95 500 231 325 500] >>"
            ));
            pdf.object(format!(
                "<< /Type /FontDescriptor /FontName /{base} /Flags 4 /FontBBox [-92 -250 1010 922] /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 740 /StemV 80 >>"
            ));
        }
    }
    Ok(pdf.finish(&notice.issued))
}

fn to_unicode_cmap(glyphs: &BTreeMap<char, (u16, f32)>) -> String {
    let mut out = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    let pairs: Vec<(u16, char)> = glyphs.iter().map(|(c, (g, _))| (*g, *c)).collect();
    for chunk in pairs.chunks(100) {
        let _ = writeln!(out, "{} beginbfchar", chunk.len());
        for (gid, c) in chunk {
            let utf16: String = c
                .encode_utf16(&mut [0; 2])
                .iter()
                .map(|u| format!("{u:04X}"))
                .collect();
            let _ = writeln!(out, "<{gid:04X}> <{utf16}>");
        }
        out.push_str("endbfchar\n");
    }
    out.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    out
}

#[derive(Default)]
struct PdfWriter {
    objects: Vec<Vec<u8>>,
}

impl PdfWriter {
    fn object(&mut self, body: String) {
        self.objects.push(body.into_bytes());
    }

    fn stream(&mut self, extra: &str, data: &[u8]) {
        let mut body = format!("<< /Length {} {extra} >>\nstream\n", data.len()).into_bytes();
        body.extend_from_slice(data);
        body.extend_from_slice(b"\nendstream");
        self.objects.push(body);
    }

    fn finish(self, issued: &NaiveDate) -> Vec<u8> {
        let mut out = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
        let mut offsets = Vec::new();
        for (i, body) in self.objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
            out.extend_from_slice(body);
            out.extend_from_slice(b"\nendobj\n");
        }
        // Info dictionary: the producer is plain ASCII.
        offsets.push(out.len());
        let info_id = self.objects.len() + 1;
        out.extend_from_slice(
            format!(
                "{info_id} 0 obj\n<< /Producer (oqs-sim) /CreationDate (D:{:04}{:02}{:02}000000+09'00') >>\nendobj\n",
                issued.year(),
                issued.month(),
                issued.day()
            )
            .as_bytes(),
        );
        let xref = out.len();
        out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1).as_bytes());
        for off in &offsets {
            out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R /Info {info_id} 0 R >>\nstartxref\n{xref}\n%%EOF\n",
                offsets.len() + 1
            )
            .as_bytes(),
        );
        out
    }
}
