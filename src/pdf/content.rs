//! Walks the pages' content streams and places every piece of text on the page.
//!
//! Positions are in default user space (points, y up) after the full CTM:
//! `cm` inside nested `q`/`Q`, form XObjects, and the text matrices. Text
//! inside marked content with an /ActualText (a tagged PDF's replacement text,
//! e.g. Chromium's for a glyph whose ToUnicode entry is a radical) is taken
//! from the ActualText, as a PDF viewer copies it.

use std::collections::HashMap;
use std::rc::Rc;

use lopdf::content::{Content, Operation};
use lopdf::{Dictionary, Document, Object, ObjectId};

use super::PdfError;
use super::budget::{Work, WorkBudget};
use super::font::{Font, load_font};
use super::object::{deref, name_of, num};
use crate::portal::text::fold_ideographs;

/// How deep forms may draw forms.
const MAX_FORM_DEPTH: u8 = 8;

/// A piece of text with no whitespace in it, placed on the page.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Run {
    pub page: u32,
    pub x0: f32,
    pub x1: f32,
    /// The baseline.
    pub y: f32,
    /// The font size on the page (after every matrix).
    pub size: f32,
    pub text: String,
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

fn translate(x: f32, y: f32) -> Matrix {
    [1.0, 0.0, 0.0, 1.0, x, y]
}

fn matrix_of(a: &[Object]) -> Option<Matrix> {
    match a {
        [a, b, c, d, e, f] => Some([num(a), num(b), num(c), num(d), num(e), num(f)]),
        _ => None,
    }
}

fn dict_in<'a>(doc: &'a Document, dict: Option<&'a Dictionary>, key: &[u8]) -> Option<&'a Dictionary> {
    dict?
        .get(key)
        .ok()
        .map(|o| deref(doc, o))
        .and_then(|o| o.as_dict().ok())
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

/// Every piece of text on every page, and the fonts that could not be read.
pub(super) struct Extracted {
    pub runs: Vec<Run>,
    pub unreadable: Vec<String>,
}

pub(super) fn extract(doc: &Document, budget: &mut WorkBudget) -> Result<Extracted, PdfError> {
    let mut walker = Walker {
        doc,
        budget,
        fonts: HashMap::new(),
        runs: Vec::new(),
        unreadable: Vec::new(),
        page: 0,
    };
    for (number, page) in doc.get_pages() {
        walker.budget.spend(Work::Operators, 1)?;
        walker.page = number;
        let mut content = Vec::new();
        for id in doc.get_page_contents(page) {
            if let Ok(stream) = doc.get_object(id).and_then(Object::as_stream) {
                content.extend(walker.budget.decompress(stream)?);
                content.push(b'\n');
            }
        }
        walker.walk(&content, page_resources(doc, page), IDENTITY, 0)?;
    }
    let mut unreadable = walker.unreadable;
    unreadable.sort();
    unreadable.dedup();
    Ok(Extracted {
        runs: walker.runs,
        unreadable,
    })
}

/// Marked content (BMC/BDC … EMC); `actual` is its /ActualText, if any.
struct Marked {
    actual: Option<String>,
    /// Where the glyphs drawn inside it went: x0, x1, baseline, size.
    span: Option<(f32, f32, f32, f32)>,
}

/// A piece of text being gathered glyph by glyph.
#[derive(Default)]
struct Piece {
    text: String,
    x0: f32,
    x1: f32,
    y: f32,
    size: f32,
}

struct Walker<'d, 'b> {
    doc: &'d Document,
    budget: &'b mut WorkBudget,
    /// Fonts by object, so a form drawn many times loads its fonts once.
    fonts: HashMap<ObjectId, Rc<Font>>,
    runs: Vec<Run>,
    unreadable: Vec<String>,
    page: u32,
}

/// The graphics and text state of one content stream.
struct State {
    /// The CTM this stream started with.
    base: Matrix,
    ctm: Matrix,
    stack: Vec<Matrix>,
    tm: Matrix,
    tlm: Matrix,
    font: Option<Rc<Font>>,
    size: f32,
    char_space: f32,
    word_space: f32,
    scale: f32,
    leading: f32,
    rise: f32,
    marked: Vec<Marked>,
}

impl Walker<'_, '_> {
    fn fonts_of(&mut self, resources: Option<&Dictionary>) -> Result<HashMap<Vec<u8>, Rc<Font>>, PdfError> {
        let doc = self.doc;
        let mut fonts = HashMap::new();
        let Some(dict) = dict_in(doc, resources, b"Font") else {
            return Ok(fonts);
        };
        for (name, f) in dict.iter() {
            self.budget.spend(Work::Operators, 1)?;
            let cached = f.as_reference().ok().and_then(|id| self.fonts.get(&id).cloned());
            let font = match cached {
                Some(font) => font,
                None => {
                    let Ok(font_dict) = deref(doc, f).as_dict() else {
                        continue;
                    };
                    let font = Rc::new(load_font(doc, font_dict, self.budget)?);
                    if let Ok(id) = f.as_reference() {
                        self.fonts.insert(id, font.clone());
                    }
                    font
                }
            };
            if font.is_unreadable() {
                self.unreadable.push(String::from_utf8_lossy(name).into_owned());
            }
            fonts.insert(name.clone(), font);
        }
        Ok(fonts)
    }

    /// Splits `text` at whitespace into runs over x0..x1, sharing the width out by characters.
    fn emit(&mut self, text: &str, x0: f32, x1: f32, y: f32, size: f32) -> Result<(), PdfError> {
        if ![x0, x1, y, size].iter().all(|v| v.is_finite()) {
            return Ok(());
        }
        let text: String = fold_ideographs(text)
            .chars()
            .filter(|c| !c.is_control() && *c != '\u{AD}')
            .collect();
        let total = text.chars().count().max(1) as f32;
        let per_char = (x1 - x0) / total;
        let mut word = String::new();
        let mut start = 0usize;
        for (index, c) in text.chars().chain(std::iter::once(' ')).enumerate() {
            if c.is_whitespace() {
                if !word.is_empty() {
                    self.budget.spend(Work::TextPieces, 1)?;
                    self.runs.push(Run {
                        page: self.page,
                        x0: x0 + per_char * start as f32,
                        x1: x0 + per_char * index as f32,
                        y,
                        size,
                        text: std::mem::take(&mut word),
                    });
                }
                start = index + 1;
            } else {
                word.push(c);
            }
        }
        Ok(())
    }

    fn flush(&mut self, piece: &mut Piece) -> Result<(), PdfError> {
        if piece.text.is_empty() {
            return Ok(());
        }
        let p = std::mem::take(piece);
        self.emit(&p.text, p.x0, p.x1, p.y, p.size)
    }

    /// Shows one string: advances the text matrix glyph by glyph and places the text.
    fn show(&mut self, st: &mut State, bytes: &[u8]) -> Result<(), PdfError> {
        // Decoding allocates per character: a huge string costs as many operators.
        self.budget.spend(Work::Operators, bytes.len())?;
        let Some(font) = st.font.clone() else {
            return Ok(());
        };
        let mut piece = Piece::default();
        for (chars, w) in font.decode(bytes) {
            let start = mul(&mul(&translate(0.0, st.rise), &st.tm), &st.ctm);
            let space = if chars == " " { st.word_space } else { 0.0 };
            let advance = (w / 1000.0 * st.size + st.char_space + space) * st.scale;
            st.tm = mul(&translate(advance, 0.0), &st.tm);
            let end = mul(&mul(&translate(0.0, st.rise), &st.tm), &st.ctm);
            let (x0, x1) = (start[4].min(end[4]), start[4].max(end[4]));
            let (y, size) = (start[5], st.size.abs() * start[2].hypot(start[3]));
            if let Some(m) = st.marked.iter_mut().find(|m| m.actual.is_some()) {
                // The ActualText stands for these glyphs: only their place counts.
                m.span = Some(match m.span {
                    Some((a, b, y0, s0)) => (a.min(x0), b.max(x1), y0, s0),
                    None => (x0, x1, y, size),
                });
                continue;
            }
            if chars.trim().is_empty() {
                if !chars.is_empty() {
                    self.flush(&mut piece)?;
                }
                continue;
            }
            if piece.text.is_empty() {
                piece = Piece {
                    text: String::new(),
                    x0,
                    x1,
                    y,
                    size,
                };
            }
            piece.text.push_str(&chars);
            piece.x0 = piece.x0.min(x0);
            piece.x1 = piece.x1.max(x1);
        }
        self.flush(&mut piece)?;
        Ok(())
    }

    fn end_marked(&mut self, st: &mut State) -> Result<(), PdfError> {
        if let Some(Marked {
            actual: Some(text),
            span: Some((x0, x1, y, size)),
        }) = st.marked.pop()
        {
            self.emit(&text, x0, x1, y, size)?;
        }
        Ok(())
    }

    fn begin_marked(&self, st: &mut State, a: &[Object], resources: Option<&Dictionary>) {
        let doc = self.doc;
        // Only the outermost ActualText counts; one inside it is part of its text.
        let inside_actual = st.marked.iter().any(|m| m.actual.is_some());
        let props = match a.get(1).map(|o| deref(doc, o)) {
            Some(Object::Dictionary(d)) => Some(d),
            Some(Object::Name(n)) => dict_in(doc, dict_in(doc, resources, b"Properties"), n),
            _ => None,
        };
        let actual = props
            .filter(|_| !inside_actual)
            .and_then(|p| p.get(b"ActualText").ok())
            .and_then(|o| lopdf::decode_text_string(deref(doc, o)).ok());
        st.marked.push(Marked { actual, span: None });
    }

    fn draw_form(
        &mut self,
        st: &State,
        a: &[Object],
        resources: Option<&Dictionary>,
        depth: u8,
    ) -> Result<(), PdfError> {
        let doc = self.doc;
        if depth >= MAX_FORM_DEPTH {
            return Ok(());
        }
        let Some(form) = a
            .first()
            .and_then(|n| n.as_name().ok())
            .and_then(|name| dict_in(doc, resources, b"XObject")?.get(name).ok())
            .map(|o| deref(doc, o))
            .and_then(|o| o.as_stream().ok())
        else {
            return Ok(());
        };
        if name_of(doc, &form.dict, b"Subtype").as_deref() != Some("Form") {
            return Ok(());
        }
        let matrix = form
            .dict
            .get(b"Matrix")
            .ok()
            .map(|o| deref(doc, o))
            .and_then(|m| m.as_array().ok())
            .and_then(|m| matrix_of(m))
            .unwrap_or(IDENTITY);
        let inner = self.budget.decompress(form)?;
        let own = dict_in(doc, Some(&form.dict), b"Resources");
        self.walk(&inner, own.or(resources), mul(&matrix, &st.ctm), depth + 1)
    }

    fn walk(
        &mut self,
        content: &[u8],
        resources: Option<&Dictionary>,
        base: Matrix,
        depth: u8,
    ) -> Result<(), PdfError> {
        let fonts = self.fonts_of(resources)?;
        let mut st = State {
            base,
            ctm: base,
            stack: Vec::new(),
            tm: IDENTITY,
            tlm: IDENTITY,
            font: None,
            size: 0.0,
            char_space: 0.0,
            word_space: 0.0,
            scale: 1.0,
            leading: 0.0,
            rise: 0.0,
            marked: Vec::new(),
        };
        // Operations one by one: the budget stops a huge stream early, and a
        // damaged stream still gives the text before the damage.
        for op in Content::decode_iter(content) {
            let Ok(op) = op else { break };
            self.budget.spend(Work::Operators, 1)?;
            self.operate(&mut st, &op, &fonts, resources, depth)?;
        }
        // Marked content left open at the end still counts.
        while !st.marked.is_empty() {
            self.end_marked(&mut st)?;
        }
        Ok(())
    }

    fn operate(
        &mut self,
        st: &mut State,
        op: &Operation,
        fonts: &HashMap<Vec<u8>, Rc<Font>>,
        resources: Option<&Dictionary>,
        depth: u8,
    ) -> Result<(), PdfError> {
        let a = op.operands.as_slice();
        let f = |i: usize| a.get(i).map(num).unwrap_or(0.0);
        let next_line = |st: &mut State, tx: f32, ty: f32| {
            st.tlm = mul(&translate(tx, ty), &st.tlm);
            st.tm = st.tlm;
        };
        match op.operator.as_str() {
            "q" => st.stack.push(st.ctm),
            // An unbalanced Q goes back to where this stream started, never further.
            "Q" => st.ctm = st.stack.pop().unwrap_or(st.base),
            "cm" => {
                if let Some(m) = matrix_of(a) {
                    st.ctm = mul(&m, &st.ctm);
                }
            }
            "BT" => {
                st.tm = IDENTITY;
                st.tlm = IDENTITY;
            }
            "Tf" => {
                st.font = a
                    .first()
                    .and_then(|n| n.as_name().ok())
                    .and_then(|n| fonts.get(n))
                    .cloned();
                st.size = f(1);
            }
            "Tc" => st.char_space = f(0),
            "Tw" => st.word_space = f(0),
            "Tz" => st.scale = f(0) / 100.0,
            "TL" => st.leading = f(0),
            "Ts" => st.rise = f(0),
            "Td" => next_line(st, f(0), f(1)),
            "TD" => {
                st.leading = -f(1);
                next_line(st, f(0), f(1));
            }
            "Tm" => {
                if let Some(m) = matrix_of(a) {
                    st.tlm = m;
                    st.tm = m;
                }
            }
            "T*" => next_line(st, 0.0, -st.leading),
            "Tj" => {
                if let Some(Object::String(bytes, _)) = a.first() {
                    self.show(st, bytes)?;
                }
            }
            "'" => {
                next_line(st, 0.0, -st.leading);
                if let Some(Object::String(bytes, _)) = a.first() {
                    self.show(st, bytes)?;
                }
            }
            "\"" => {
                st.word_space = f(0);
                st.char_space = f(1);
                next_line(st, 0.0, -st.leading);
                if let Some(Object::String(bytes, _)) = a.get(2) {
                    self.show(st, bytes)?;
                }
            }
            "TJ" => {
                let Some(items) = a.first().and_then(|o| o.as_array().ok()) else {
                    return Ok(());
                };
                self.budget.spend(Work::Operators, items.len())?;
                for item in items {
                    match item {
                        Object::String(bytes, _) => self.show(st, bytes)?,
                        other => {
                            let shift = -num(other) / 1000.0 * st.size * st.scale;
                            st.tm = mul(&translate(shift, 0.0), &st.tm);
                        }
                    }
                }
            }
            "BMC" => st.marked.push(Marked {
                actual: None,
                span: None,
            }),
            "BDC" => self.begin_marked(st, a, resources),
            "EMC" => self.end_marked(st)?,
            "Do" => self.draw_form(st, a, resources, depth)?,
            _ => {}
        }
        Ok(())
    }
}
