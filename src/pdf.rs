//! Credentials out of ユーザ設定情報 PDFs.
//!
//! The text is placed, not read in drawing order: every run of text gets its
//! position on the page, runs are grouped into lines and cells by position,
//! and each label cell is paired with the cell beside it. A table drawn column
//! by column, or a value drawn in pieces, still reads right. Fonts: CID fonts
//! with a ToUnicode map (Identity-H), predefined CJK CMaps without one
//! (UniJIS-UCS2-H, UniJIS-UTF16-H, 90ms-RKSJ-H), and simple fonts.

use std::collections::HashMap;

use chrono::NaiveDate;
use lopdf::content::Content;
use lopdf::{Dictionary, Document, Object, ObjectId};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("not a readable PDF: {0}")]
    NotPdf(String),
    #[error("the PDF has no text oqsbot can read{0}")]
    NoText(String),
    #[error("this is not a ユーザ設定情報 PDF: no {0} found")]
    Missing(String),
}

/// Every field of a ユーザ設定情報 PDF; `None` where the PDF does not print it.
#[derive(Clone, Default, PartialEq, Eq, Serialize)]
pub struct Credentials {
    /// 利用環境 as printed, e.g. 本番環境 or 接続検証環境.
    pub environment: Option<String>,
    pub institution_code: Option<String>,
    pub institution_name: Option<String>,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub password: Option<String>,
    pub password_expires: Option<NaiveDate>,
    pub reset_user_id: Option<String>,
    pub issued: Option<NaiveDate>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("environment", &self.environment)
            .field("institution_code", &self.institution_code)
            .field("institution_name", &self.institution_name)
            .field("user_id", &self.user_id)
            .field("user_name", &self.user_name)
            .field("password", &self.password.as_ref().map(|_| "********"))
            .field("password_expires", &self.password_expires)
            .field("reset_user_id", &self.reset_user_id)
            .field("issued", &self.issued)
            .finish()
    }
}

impl Credentials {
    /// 本番環境: the only environment a production terminal may use.
    pub fn is_production(&self) -> bool {
        self.environment.as_deref().map(|e| e.replace([' ', '　'], "")) == Some("本番環境".into())
    }
}

/// Reads a ユーザ設定情報 PDF. At least the institution code and the user ID must be found.
pub fn read_credentials(bytes: &[u8]) -> Result<Credentials, PdfError> {
    let lines = text_lines(bytes)?;
    let creds = credentials_from_lines(&lines);
    let mut missing = Vec::new();
    if creds.institution_code.is_none() {
        missing.push("医療機関コード");
    }
    if creds.user_id.is_none() {
        missing.push("ユーザID");
    }
    if !missing.is_empty() {
        return Err(PdfError::Missing(missing.join(" or ")));
    }
    Ok(creds)
}

/// A line of text on the page: cells left to right, separated by wide gaps.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub y: f32,
    pub cells: Vec<String>,
}

impl Line {
    pub fn text(&self) -> String {
        self.cells.join(" ")
    }
}

/// The text of every page, as lines top to bottom.
pub fn text_lines(bytes: &[u8]) -> Result<Vec<Line>, PdfError> {
    if !bytes.starts_with(b"%PDF") && !bytes.windows(5).take(1024).any(|w| w == b"%PDF-") {
        return Err(PdfError::NotPdf("it does not start with %PDF".into()));
    }
    // lopdf is a third-party parser fed with files from outside: a panic in it
    // must become an error, not a crash of the job.
    let loaded = std::panic::catch_unwind(|| Document::load_mem(bytes));
    let doc = match loaded {
        Ok(Ok(doc)) => doc,
        Ok(Err(e)) => return Err(PdfError::NotPdf(e.to_string())),
        Err(_) => return Err(PdfError::NotPdf("the file is damaged".into())),
    };
    let walked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| walk_document(&doc)));
    let (runs, unreadable) = walked.map_err(|_| PdfError::NotPdf("the file is damaged".into()))?;
    if runs.is_empty() {
        let why = if unreadable.is_empty() {
            String::new()
        } else {
            format!(
                ": font {} has no ToUnicode map and no known encoding",
                unreadable.join(", ")
            )
        };
        return Err(PdfError::NoText(why));
    }
    Ok(group_lines(runs))
}

/// A piece of text placed on the page (device space, y up).
#[derive(Debug, Clone)]
struct Run {
    page: u32,
    x: f32,
    end: f32,
    y: f32,
    size: f32,
    text: String,
}

type Matrix = [f32; 6];
const IDENTITY: Matrix = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];

fn mul(m: &Matrix, n: &Matrix) -> Matrix {
    [
        m[0] * n[0] + m[1] * n[2],
        m[0] * n[1] + m[1] * n[3],
        m[2] * n[0] + m[3] * n[2],
        m[2] * n[1] + m[3] * n[3],
        m[4] * n[0] + m[5] * n[2] + n[4],
        m[4] * n[1] + m[5] * n[3] + n[5],
    ]
}

fn num(o: &Object) -> f32 {
    match o {
        Object::Integer(i) => *i as f32,
        Object::Real(r) => *r,
        _ => 0.0,
    }
}

enum Decoder {
    Utf16Be,
    ShiftJis,
    Utf8,
    /// A ToUnicode map, with the byte lengths its codes use.
    ToUnicode {
        map: HashMap<(u8, u32), String>,
        lengths: Vec<u8>,
    },
    /// A simple font with no ToUnicode: Latin-1 is right for the ASCII a notice needs.
    Latin1,
    Unreadable,
}

struct Font {
    decoder: Decoder,
    /// Code → width (thousandths of the font size), when the font says.
    widths: HashMap<u32, f32>,
    default_width: Option<f32>,
    /// Whether CIDs are the codes themselves (Identity-H), so `widths` apply.
    cid_is_code: bool,
}

fn estimate(c: char) -> f32 {
    if c.is_ascii() || ('\u{FF61}'..='\u{FF9F}').contains(&c) {
        500.0
    } else {
        1000.0
    }
}

impl Font {
    /// Decoded characters with their widths.
    fn decode(&self, bytes: &[u8]) -> Vec<(String, f32)> {
        let per_char = |s: String| {
            s.chars()
                .map(|c| (c.to_string(), estimate(c)))
                .collect::<Vec<_>>()
        };
        match &self.decoder {
            Decoder::Utf16Be => {
                let units: Vec<u16> = bytes
                    .chunks(2)
                    .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                    .collect();
                per_char(String::from_utf16_lossy(&units))
            }
            Decoder::ShiftJis => per_char(
                encoding_rs::SHIFT_JIS
                    .decode_without_bom_handling(bytes)
                    .0
                    .into_owned(),
            ),
            Decoder::Utf8 => per_char(String::from_utf8_lossy(bytes).into_owned()),
            Decoder::Latin1 => bytes
                .iter()
                .map(|b| {
                    let c = char::from(*b);
                    let w = self.widths.get(&u32::from(*b)).copied().unwrap_or(estimate(c));
                    (c.to_string(), w)
                })
                .collect(),
            Decoder::ToUnicode { map, lengths } => {
                let mut out = Vec::new();
                let mut i = 0;
                while i < bytes.len() {
                    let mut matched = false;
                    for len in lengths {
                        let len = *len as usize;
                        if i + len > bytes.len() {
                            continue;
                        }
                        let code = bytes[i..i + len]
                            .iter()
                            .fold(0u32, |acc, b| acc << 8 | u32::from(*b));
                        if let Some(text) = map.get(&(len as u8, code)) {
                            let w = self
                                .widths
                                .get(&code)
                                .copied()
                                .or(self.default_width.filter(|_| self.cid_is_code))
                                .unwrap_or_else(|| text.chars().map(estimate).sum());
                            out.push((text.clone(), w));
                            i += len;
                            matched = true;
                            break;
                        }
                    }
                    if !matched {
                        // An unmapped code: skip its bytes, keep the position honest.
                        let len = lengths.first().copied().unwrap_or(1) as usize;
                        out.push((String::new(), self.default_width.unwrap_or(1000.0)));
                        i += len.max(1);
                    }
                }
                out
            }
            Decoder::Unreadable => Vec::new(),
        }
    }
}

fn hex_bytes(token: &str) -> Option<Vec<u8>> {
    let hex: String = token.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    if hex.is_empty() {
        return None;
    }
    let hex = if hex.len() % 2 == 1 {
        format!("{hex}0")
    } else {
        hex
    };
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

fn utf16_hex(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
        .collect();
    String::from_utf16_lossy(&units)
}

/// A ToUnicode CMap: bfchar and bfrange entries, codes of 1 to 4 bytes.
fn parse_to_unicode(text: &str) -> (HashMap<(u8, u32), String>, Vec<u8>) {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '<' => {
                let start = i + 1;
                let mut end = start;
                for (j, d) in chars.by_ref() {
                    if d == '>' {
                        end = j;
                        break;
                    }
                }
                tokens.push(format!("<{}", &text[start..end.max(start)]));
            }
            '[' | ']' => tokens.push(c.to_string()),
            c if c.is_whitespace() => {}
            _ => {
                let start = i;
                let mut end = i + c.len_utf8();
                while let Some((j, d)) = chars.peek() {
                    if d.is_whitespace() || matches!(d, '<' | '[' | ']') {
                        break;
                    }
                    end = j + d.len_utf8();
                    chars.next();
                }
                tokens.push(text[start..end].to_string());
            }
        }
    }
    let mut map = HashMap::new();
    let mut lengths: Vec<u8> = Vec::new();
    let code = |t: &str| -> Option<(u8, u32)> {
        let b = hex_bytes(t.strip_prefix('<')?)?;
        if b.is_empty() || b.len() > 4 {
            return None;
        }
        Some((
            b.len() as u8,
            b.iter().fold(0u32, |acc, x| acc << 8 | u32::from(*x)),
        ))
    };
    let mut i = 0;
    let mut section = "";
    while i < tokens.len() {
        let t = tokens[i].as_str();
        match t {
            "beginbfchar" | "beginbfrange" | "begincodespacerange" => {
                section = match t {
                    "beginbfchar" => "char",
                    "beginbfrange" => "range",
                    _ => "space",
                };
                i += 1;
                continue;
            }
            "endbfchar" | "endbfrange" | "endcodespacerange" => {
                section = "";
                i += 1;
                continue;
            }
            _ => {}
        }
        match section {
            "space" if i + 1 < tokens.len() => {
                if let Some((len, _)) = code(&tokens[i]) {
                    lengths.push(len);
                }
                i += 2;
            }
            "char" if i + 1 < tokens.len() => {
                if let (Some((len, c)), Some(dst)) = (
                    code(&tokens[i]),
                    tokens[i + 1].strip_prefix('<').and_then(hex_bytes),
                ) {
                    map.insert((len, c), utf16_hex(&dst));
                    lengths.push(len);
                }
                i += 2;
            }
            "range" if i + 2 < tokens.len() => {
                let (Some((len, lo)), Some((_, hi))) = (code(&tokens[i]), code(&tokens[i + 1])) else {
                    i += 1;
                    continue;
                };
                lengths.push(len);
                // Bound a hostile range: a real one covers one font.
                let hi = hi.min(lo.saturating_add(0xFFFF));
                if tokens[i + 2] == "[" {
                    let mut j = i + 3;
                    let mut c = lo;
                    while j < tokens.len() && tokens[j] != "]" {
                        if let Some(dst) = tokens[j].strip_prefix('<').and_then(hex_bytes) {
                            if c <= hi {
                                map.insert((len, c), utf16_hex(&dst));
                            }
                            c = c.saturating_add(1);
                        }
                        j += 1;
                    }
                    i = j + 1;
                } else {
                    if let Some(dst) = tokens[i + 2].strip_prefix('<').and_then(hex_bytes) {
                        let mut units: Vec<u16> = dst
                            .chunks(2)
                            .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                            .collect();
                        for c in lo..=hi {
                            map.insert((len, c), String::from_utf16_lossy(&units));
                            if let Some(last) = units.last_mut() {
                                *last = last.wrapping_add(1);
                            }
                        }
                    }
                    i += 3;
                }
            }
            _ => i += 1,
        }
    }
    lengths.sort_unstable_by(|a, b| b.cmp(a));
    lengths.dedup();
    (map, lengths)
}

fn deref<'a>(doc: &'a Document, o: &'a Object) -> &'a Object {
    match o {
        Object::Reference(id) => doc.get_object(*id).unwrap_or(o),
        _ => o,
    }
}

fn name_of(doc: &Document, dict: &Dictionary, key: &[u8]) -> Option<String> {
    match deref(doc, dict.get(key).ok()?) {
        Object::Name(n) => Some(String::from_utf8_lossy(n).into_owned()),
        _ => None,
    }
}

fn stream_text(doc: &Document, o: &Object) -> Option<String> {
    let stream = deref(doc, o).as_stream().ok()?;
    let bytes = stream
        .decompressed_content()
        .unwrap_or_else(|_| stream.content.clone());
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

fn load_font(doc: &Document, font: &Dictionary) -> Font {
    let subtype = name_of(doc, font, b"Subtype").unwrap_or_default();
    let to_unicode = font
        .get(b"ToUnicode")
        .ok()
        .and_then(|o| stream_text(doc, o))
        .map(|t| parse_to_unicode(&t));
    if subtype == "Type0" {
        let encoding = name_of(doc, font, b"Encoding").unwrap_or_default();
        let descendant = font
            .get(b"DescendantFonts")
            .ok()
            .map(|o| deref(doc, o))
            .and_then(|o| o.as_array().ok())
            .and_then(|a| a.first())
            .map(|o| deref(doc, o))
            .and_then(|o| o.as_dict().ok());
        let mut widths = HashMap::new();
        let mut default_width = Some(1000.0);
        if let Some(d) = descendant {
            if let Ok(dw) = d.get(b"DW") {
                default_width = Some(num(deref(doc, dw)));
            }
            if let Some(w) = d
                .get(b"W")
                .ok()
                .map(|o| deref(doc, o))
                .and_then(|o| o.as_array().ok())
            {
                read_cid_widths(doc, w, &mut widths);
            }
        }
        let decoder = if encoding.contains("UCS2") || encoding.contains("UTF16") {
            Decoder::Utf16Be
        } else if encoding.contains("RKSJ") {
            Decoder::ShiftJis
        } else if encoding.contains("UTF8") {
            Decoder::Utf8
        } else if let Some((map, lengths)) = to_unicode {
            Decoder::ToUnicode {
                map,
                lengths: if lengths.is_empty() { vec![2] } else { lengths },
            }
        } else {
            Decoder::Unreadable
        };
        let cid_is_code = encoding.starts_with("Identity");
        return Font {
            decoder,
            widths: if cid_is_code { widths } else { HashMap::new() },
            default_width,
            cid_is_code,
        };
    }
    let mut widths = HashMap::new();
    let first = font
        .get(b"FirstChar")
        .map(|o| num(deref(doc, o)) as u32)
        .unwrap_or(0);
    // Type 3 widths are in glyph space; its FontMatrix takes them to text space.
    let unit = match subtype.as_str() {
        "Type3" => font
            .get(b"FontMatrix")
            .ok()
            .and_then(|m| deref(doc, m).as_array().ok())
            .and_then(|m| m.first())
            .map(|a| num(deref(doc, a)) * 1000.0)
            .unwrap_or(1.0),
        _ => 1.0,
    };
    if let Some(w) = font
        .get(b"Widths")
        .ok()
        .map(|o| deref(doc, o))
        .and_then(|o| o.as_array().ok())
    {
        for (i, v) in w.iter().enumerate().take(65536) {
            widths.insert(first + i as u32, num(deref(doc, v)) * unit);
        }
    }
    let decoder = match to_unicode {
        Some((map, lengths)) => Decoder::ToUnicode {
            map,
            lengths: if lengths.is_empty() { vec![1] } else { lengths },
        },
        None => Decoder::Latin1,
    };
    Font {
        decoder,
        widths,
        default_width: None,
        cid_is_code: true,
    }
}

fn read_cid_widths(doc: &Document, w: &[Object], out: &mut HashMap<u32, f32>) {
    let mut i = 0;
    while i < w.len() {
        let first = num(deref(doc, &w[i])) as u32;
        match w.get(i + 1).map(|o| deref(doc, o)) {
            Some(Object::Array(list)) => {
                for (k, v) in list.iter().enumerate().take(65536) {
                    out.insert(first + k as u32, num(deref(doc, v)));
                }
                i += 2;
            }
            Some(last) => {
                let last = num(last) as u32;
                let width = w.get(i + 2).map(|o| num(deref(doc, o))).unwrap_or(1000.0);
                for c in first..=last.min(first.saturating_add(65535)) {
                    out.insert(c, width);
                }
                i += 3;
            }
            None => break,
        }
    }
}

fn fonts_of(
    doc: &Document,
    resources: Option<&Dictionary>,
    unreadable: &mut Vec<String>,
) -> HashMap<Vec<u8>, Font> {
    let mut fonts = HashMap::new();
    let Some(dict) = resources
        .and_then(|r| r.get(b"Font").ok())
        .map(|o| deref(doc, o))
        .and_then(|o| o.as_dict().ok())
    else {
        return fonts;
    };
    for (name, f) in dict.iter() {
        if let Ok(font) = deref(doc, f).as_dict() {
            let loaded = load_font(doc, font);
            if matches!(loaded.decoder, Decoder::Unreadable) {
                unreadable.push(String::from_utf8_lossy(name).into_owned());
            }
            fonts.insert(name.clone(), loaded);
        }
    }
    fonts
}

fn page_resources(doc: &Document, page: ObjectId) -> Option<&Dictionary> {
    // Resources may be inherited from a parent Pages node.
    let mut node = doc.get_dictionary(page).ok();
    for _ in 0..16 {
        let dict = node?;
        if let Ok(r) = dict.get(b"Resources") {
            return deref(doc, r).as_dict().ok();
        }
        node = dict
            .get(b"Parent")
            .ok()
            .and_then(|p| p.as_reference().ok())
            .and_then(|id| doc.get_dictionary(id).ok());
    }
    None
}

fn walk_document(doc: &Document) -> (Vec<Run>, Vec<String>) {
    let mut runs = Vec::new();
    let mut unreadable = Vec::new();
    for (number, page) in doc.get_pages() {
        let resources = page_resources(doc, page);
        let content = doc.get_page_content(page);
        walk_content(
            doc,
            number,
            &content,
            resources,
            IDENTITY,
            0,
            &mut runs,
            &mut unreadable,
        );
    }
    unreadable.sort();
    unreadable.dedup();
    (runs, unreadable)
}

#[allow(clippy::too_many_arguments)]
fn walk_content(
    doc: &Document,
    page: u32,
    content: &[u8],
    resources: Option<&Dictionary>,
    base: Matrix,
    depth: u8,
    runs: &mut Vec<Run>,
    unreadable: &mut Vec<String>,
) {
    let Ok(content) = Content::decode(content) else {
        return;
    };
    let fonts = fonts_of(doc, resources, unreadable);
    let mut ctm = base;
    let mut stack: Vec<Matrix> = Vec::new();
    let (mut tm, mut tlm) = (IDENTITY, IDENTITY);
    let mut font: Option<&Font> = None;
    let (mut size, mut char_space, mut word_space, mut scale, mut leading, mut rise) =
        (0.0f32, 0.0f32, 0.0f32, 1.0f32, 0.0f32, 0.0f32);

    for op in &content.operations {
        let a = &op.operands;
        let f = |i: usize| a.get(i).map(num).unwrap_or(0.0);
        match op.operator.as_str() {
            "q" => stack.push(ctm),
            "Q" => ctm = stack.pop().unwrap_or(base),
            "cm" if a.len() == 6 => ctm = mul(&[f(0), f(1), f(2), f(3), f(4), f(5)], &ctm),
            "BT" => {
                tm = IDENTITY;
                tlm = IDENTITY;
            }
            "Tf" => {
                font = a
                    .first()
                    .and_then(|n| n.as_name().ok())
                    .and_then(|n| fonts.get(n));
                size = f(1);
            }
            "Tc" => char_space = f(0),
            "Tw" => word_space = f(0),
            "Tz" => scale = f(0) / 100.0,
            "TL" => leading = f(0),
            "Ts" => rise = f(0),
            "Td" => {
                tlm = mul(&[1.0, 0.0, 0.0, 1.0, f(0), f(1)], &tlm);
                tm = tlm;
            }
            "TD" => {
                leading = -f(1);
                tlm = mul(&[1.0, 0.0, 0.0, 1.0, f(0), f(1)], &tlm);
                tm = tlm;
            }
            "Tm" if a.len() == 6 => {
                tlm = [f(0), f(1), f(2), f(3), f(4), f(5)];
                tm = tlm;
            }
            "T*" => {
                tlm = mul(&[1.0, 0.0, 0.0, 1.0, 0.0, -leading], &tlm);
                tm = tlm;
            }
            "Tj" | "'" | "\"" | "TJ" => {
                if op.operator == "'" || op.operator == "\"" {
                    if op.operator == "\"" {
                        word_space = f(0);
                        char_space = f(1);
                    }
                    tlm = mul(&[1.0, 0.0, 0.0, 1.0, 0.0, -leading], &tlm);
                    tm = tlm;
                }
                let Some(font) = font else { continue };
                let pieces: Vec<&Object> = match op.operator.as_str() {
                    "TJ" => a
                        .first()
                        .and_then(|o| o.as_array().ok())
                        .map(|v| v.iter().collect())
                        .unwrap_or_default(),
                    "\"" => a.get(2).into_iter().collect(),
                    _ => a.first().into_iter().collect(),
                };
                for piece in pieces {
                    match piece {
                        Object::String(bytes, _) => {
                            let start = mul(&mul(&[1.0, 0.0, 0.0, 1.0, 0.0, rise], &tm), &ctm);
                            let mut text = String::new();
                            for (chars, w) in font.decode(bytes) {
                                let space = if chars == " " { word_space } else { 0.0 };
                                let advance = (w / 1000.0 * size + char_space + space) * scale;
                                tm = mul(&[1.0, 0.0, 0.0, 1.0, advance, 0.0], &tm);
                                text.push_str(&chars);
                            }
                            let end = mul(&tm, &ctm);
                            let v_scale = (start[2] * start[2] + start[3] * start[3]).sqrt();
                            if !text.trim().is_empty() {
                                runs.push(Run {
                                    page,
                                    x: start[4],
                                    end: end[4],
                                    y: start[5],
                                    size: size * v_scale,
                                    text,
                                });
                            }
                        }
                        other => {
                            let shift = -num(other) / 1000.0 * size * scale;
                            tm = mul(&[1.0, 0.0, 0.0, 1.0, shift, 0.0], &tm);
                        }
                    }
                }
            }
            "Do" if depth < 8 => {
                let Some(name) = a.first().and_then(|n| n.as_name().ok()) else {
                    continue;
                };
                let Some(xobject) = resources
                    .and_then(|r| r.get(b"XObject").ok())
                    .map(|o| deref(doc, o))
                    .and_then(|o| o.as_dict().ok())
                    .and_then(|d| d.get(name).ok())
                    .map(|o| deref(doc, o))
                    .and_then(|o| o.as_stream().ok())
                else {
                    continue;
                };
                if name_of(doc, &xobject.dict, b"Subtype").as_deref() != Some("Form") {
                    continue;
                }
                let matrix = xobject
                    .dict
                    .get(b"Matrix")
                    .ok()
                    .and_then(|m| m.as_array().ok())
                    .filter(|m| m.len() == 6)
                    .map(|m| {
                        [
                            num(&m[0]),
                            num(&m[1]),
                            num(&m[2]),
                            num(&m[3]),
                            num(&m[4]),
                            num(&m[5]),
                        ]
                    })
                    .unwrap_or(IDENTITY);
                let inner = xobject
                    .decompressed_content()
                    .unwrap_or_else(|_| xobject.content.clone());
                let res = xobject
                    .dict
                    .get(b"Resources")
                    .ok()
                    .map(|o| deref(doc, o))
                    .and_then(|o| o.as_dict().ok());
                walk_content(
                    doc,
                    page,
                    &inner,
                    res.or(resources),
                    mul(&matrix, &ctm),
                    depth + 1,
                    runs,
                    unreadable,
                );
            }
            _ => {}
        }
    }
}

/// Groups runs into lines (by baseline) and cells (by the gaps between runs).
fn group_lines(mut runs: Vec<Run>) -> Vec<Line> {
    runs.sort_by(|a, b| {
        a.page
            .cmp(&b.page)
            .then(b.y.total_cmp(&a.y))
            .then(a.x.total_cmp(&b.x))
    });
    let mut lines: Vec<(u32, f32, Vec<Run>)> = Vec::new();
    for run in runs {
        let tolerance = run.size.max(1.0) * 0.4;
        match lines.last_mut() {
            Some((page, y, members)) if *page == run.page && (*y - run.y).abs() <= tolerance => {
                members.push(run)
            }
            _ => lines.push((run.page, run.y, vec![run])),
        }
    }
    lines
        .into_iter()
        .map(|(_, y, mut members)| {
            members.sort_by(|a, b| a.x.total_cmp(&b.x));
            let mut cells: Vec<String> = Vec::new();
            let mut last_end: Option<f32> = None;
            for run in members {
                let gap = last_end.map(|e| run.x - e);
                match gap {
                    Some(g) if g < run.size * 1.5 => {
                        let cell = cells.last_mut().expect("a cell exists after the first run");
                        if g > run.size * 0.25 {
                            cell.push(' ');
                        }
                        cell.push_str(&run.text);
                    }
                    _ => cells.push(run.text.clone()),
                }
                last_end = Some(last_end.map_or(run.end, |e| e.max(run.end)));
            }
            let cells = cells
                .into_iter()
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect();
            Line { y, cells }
        })
        .collect()
}

/// Full-width ASCII (digits, letters, symbols) and the ideographic space to half-width.
pub fn fold_width(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            other => other,
        })
        .collect()
}

fn label_key(text: &str) -> String {
    fold_width(text)
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, ':' | '：' | '*' | '＊'))
        .collect()
}

#[derive(Clone, Copy, PartialEq)]
enum Field {
    Environment,
    Code,
    Name,
    UserId,
    UserName,
    Password,
    Expires,
    ResetId,
}

fn field_for(label: &str) -> Option<Field> {
    Some(match label_key(label).as_str() {
        "利用環境" | "利用種別" => Field::Environment,
        "医療機関コード" | "医療機関等コード" | "機関コード" => Field::Code,
        "医療機関等名" | "医療機関名" => Field::Name,
        "ユーザID" => Field::UserId,
        "ユーザ名" => Field::UserName,
        "パスワード" | "初期パスワード" | "初期後のパスワード" => Field::Password,
        "パスワード有効期限" => Field::Expires,
        "リセット用ユーザID" => Field::ResetId,
        _ => return None,
    })
}

/// A date as a notice prints it: 2021年08月23日, 2021年8月23日 or 2021/08/23.
pub fn parse_japanese_date(text: &str) -> Option<NaiveDate> {
    let t: String = fold_width(text).chars().filter(|c| !c.is_whitespace()).collect();
    let parts: Vec<&str> = t
        .split(['年', '月', '日', '/', '-'])
        .filter(|p| !p.is_empty())
        .collect();
    if parts.len() != 3 || !parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let (y, m, d) = (
        parts[0].parse().ok()?,
        parts[1].parse().ok()?,
        parts[2].parse().ok()?,
    );
    if !(1900..=2999).contains(&y) {
        return None;
    }
    NaiveDate::from_ymd_opt(y, m, d)
}

/// Splits "ユーザID: H0123456" style cells.
fn split_inline(cell: &str) -> Option<(&str, &str)> {
    let (label, value) = cell.split_once(['：', ':'])?;
    Some((label, value))
}

fn credentials_from_lines(lines: &[Line]) -> Credentials {
    let mut c = Credentials::default();
    for line in lines {
        let pair = match line.cells.as_slice() {
            [label, rest @ ..] if !rest.is_empty() && field_for(label).is_some() => {
                Some((label.as_str(), rest.join(" ")))
            }
            [only] => split_inline(only)
                .filter(|(l, _)| field_for(l).is_some())
                .map(|(l, v)| (l, v.to_string())),
            _ => None,
        };
        let Some((label, value)) = pair else {
            if c.issued.is_none() && line.cells.len() == 1 {
                c.issued = parse_japanese_date(&line.cells[0]);
            }
            continue;
        };
        let compact = || {
            fold_width(&value)
                .chars()
                .filter(|ch| !ch.is_whitespace())
                .collect::<String>()
        };
        let slot = |s: &mut Option<String>, v: String| {
            if s.is_none() && !v.is_empty() {
                *s = Some(v);
            }
        };
        match field_for(label) {
            Some(Field::Environment) => slot(&mut c.environment, value.trim().to_string()),
            Some(Field::Code) => slot(&mut c.institution_code, compact()),
            Some(Field::Name) => slot(&mut c.institution_name, value.trim().to_string()),
            Some(Field::UserId) => slot(&mut c.user_id, compact()),
            Some(Field::UserName) => slot(&mut c.user_name, value.trim().to_string()),
            Some(Field::Password) => slot(&mut c.password, compact()),
            Some(Field::Expires) if c.password_expires.is_none() => {
                c.password_expires = parse_japanese_date(&value);
            }
            Some(Field::Expires) => {}
            Some(Field::ResetId) => slot(&mut c.reset_user_id, compact()),
            None => {}
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_every_printed_form() {
        let d = NaiveDate::from_ymd_opt(2021, 8, 23);
        assert_eq!(parse_japanese_date("2021年08月23日"), d);
        assert_eq!(parse_japanese_date("2021年8月23日"), d);
        assert_eq!(parse_japanese_date("２０２１年０８月２３日"), d);
        assert_eq!(parse_japanese_date("2021/08/23"), d);
        assert_eq!(parse_japanese_date("2021年13月23日"), None);
        assert_eq!(parse_japanese_date("社会保険診療報酬支払基金"), None);
    }

    #[test]
    fn full_width_folds() {
        assert_eq!(fold_width("Ｈ０１２３４５６　ＡＢ"), "H0123456 AB");
    }

    #[test]
    fn a_to_unicode_map_with_chars_and_ranges() {
        let cmap = "/CIDInit /ProcSet findresource begin 1 begincodespacerange <0000> <FFFF> endcodespacerange\n\
                    2 beginbfchar <0003> <0041> <0004> <30D1> endbfchar\n\
                    2 beginbfrange <0010> <0012> <0030> <0020> <0021> [<3042> <3044>] endbfrange";
        let (map, lengths) = parse_to_unicode(cmap);
        assert_eq!(lengths, vec![2]);
        assert_eq!(map.get(&(2, 3)).map(String::as_str), Some("A"));
        assert_eq!(map.get(&(2, 4)).map(String::as_str), Some("パ"));
        assert_eq!(map.get(&(2, 0x12)).map(String::as_str), Some("2"));
        assert_eq!(map.get(&(2, 0x21)).map(String::as_str), Some("い"));
    }

    #[test]
    fn lines_pair_labels_with_values() {
        let line = |cells: &[&str]| Line {
            y: 0.0,
            cells: cells.iter().map(|s| s.to_string()).collect(),
        };
        let lines = vec![
            line(&["2021年06月24日"]),
            line(&["利用環境", "接続検証環境"]),
            line(&["医療機関コード", "１２３４ ５６７８９０"]),
            line(&["ユーザID：H0123456"]),
            line(&["初期後のパスワード", "Ab3#", "xyz9"]),
            line(&["パスワード有効期限", "2021年08月23日"]),
            line(&["リセット用ユーザID", "H0123456R"]),
        ];
        let c = credentials_from_lines(&lines);
        assert_eq!(c.issued, NaiveDate::from_ymd_opt(2021, 6, 24));
        assert_eq!(c.environment.as_deref(), Some("接続検証環境"));
        assert!(!c.is_production());
        assert_eq!(c.institution_code.as_deref(), Some("1234567890"));
        assert_eq!(c.user_id.as_deref(), Some("H0123456"));
        assert_eq!(c.password.as_deref(), Some("Ab3#xyz9"));
        assert_eq!(c.reset_user_id.as_deref(), Some("H0123456R"));
        assert!(!format!("{c:?}").contains("Ab3#"), "Debug hides the password");
    }
}
