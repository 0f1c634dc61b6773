//! Fonts: from the codes in a shown string to Unicode text and glyph widths.
//!
//! CID fonts with a ToUnicode map (Identity-H), predefined CJK CMaps without
//! one (UniJIS-UCS2-H, UniJIS-UTF16-H, 90ms-RKSJ-H), simple and Type 3 fonts.

use std::collections::HashMap;

use lopdf::{Dictionary, Document, Object};

use super::PdfError;
use super::budget::{Work, WorkBudget};
use super::object::{deref, name_of, num};

enum Decoder {
    Utf16Be,
    ShiftJis,
    Utf8,
    /// A ToUnicode map, with the byte lengths its codes use, longest first.
    ToUnicode {
        map: HashMap<(u8, u32), String>,
        lengths: Vec<u8>,
    },
    /// A simple font with no ToUnicode: Latin-1 is right for the ASCII a notice needs.
    Latin1,
    Unreadable,
}

pub(super) struct Font {
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

fn utf16_units(bytes: &[u8]) -> Vec<u16> {
    bytes
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]))
        .collect()
}

impl Font {
    pub(super) fn is_unreadable(&self) -> bool {
        matches!(self.decoder, Decoder::Unreadable)
    }

    /// Decoded characters with their widths (thousandths of the font size). An
    /// unmapped code gives an empty string, so positions stay honest.
    pub(super) fn decode(&self, bytes: &[u8]) -> Vec<(String, f32)> {
        let per_char = |s: String| {
            s.chars()
                .map(|c| (c.to_string(), estimate(c)))
                .collect::<Vec<_>>()
        };
        match &self.decoder {
            Decoder::Utf16Be => per_char(String::from_utf16_lossy(&utf16_units(bytes))),
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
                    let found = lengths.iter().find_map(|len| {
                        let len = usize::from(*len);
                        let piece = bytes.get(i..i + len)?;
                        let code = piece.iter().fold(0u32, |acc, b| acc << 8 | u32::from(*b));
                        map.get(&(len as u8, code)).map(|text| (len, code, text))
                    });
                    match found {
                        Some((len, code, text)) => {
                            let w = self
                                .widths
                                .get(&code)
                                .copied()
                                .or(self.default_width.filter(|_| self.cid_is_code))
                                .unwrap_or_else(|| text.chars().map(estimate).sum());
                            out.push((text.clone(), w));
                            i += len;
                        }
                        None => {
                            let len = lengths.first().copied().unwrap_or(1).max(1);
                            out.push((String::new(), self.default_width.unwrap_or(1000.0)));
                            i += usize::from(len);
                        }
                    }
                }
                out
            }
            Decoder::Unreadable => Vec::new(),
        }
    }
}

fn hex_bytes(token: &str) -> Option<Vec<u8>> {
    let hex: Vec<u8> = token
        .bytes()
        .filter(u8::is_ascii_hexdigit)
        .map(|b| (b as char).to_digit(16).unwrap_or(0) as u8)
        .collect();
    if hex.is_empty() {
        return None;
    }
    // An odd digit count means a trailing 0 (PDF hex strings).
    Some(
        hex.chunks(2)
            .map(|p| p[0] << 4 | p.get(1).copied().unwrap_or(0))
            .collect(),
    )
}

fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'<' => {
                let end = text[i..].find('>').map_or(text.len(), |e| i + e);
                out.push(&text[i..end]);
                i = end + 1;
            }
            b'[' | b']' => {
                out.push(&text[i..i + 1]);
                i += 1;
            }
            b if b.is_ascii_whitespace() => i += 1,
            _ => {
                let end = text[i..]
                    .find(|c: char| c.is_ascii_whitespace() || matches!(c, '<' | '[' | ']'))
                    .map_or(text.len(), |e| i + e);
                out.push(&text[i..end]);
                i = end;
            }
        }
    }
    out
}

type CMap = (HashMap<(u8, u32), String>, Vec<u8>);

/// A ToUnicode CMap: bfchar and bfrange entries, codes of 1 to 4 bytes. Every
/// entry is charged to the budget, so a hostile map cannot grow without end.
fn parse_to_unicode(text: &str, budget: &mut WorkBudget) -> Result<CMap, PdfError> {
    let tokens = tokens(text);
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
    let dst = |t: &str| t.strip_prefix('<').and_then(hex_bytes);
    let mut i = 0;
    let mut section = "";
    while i < tokens.len() {
        let t = tokens[i];
        match t {
            "beginbfchar" | "beginbfrange" | "begincodespacerange" => {
                section = t;
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
            "begincodespacerange" if i + 1 < tokens.len() => {
                if let Some((len, _)) = code(t) {
                    lengths.push(len);
                }
                i += 2;
            }
            "beginbfchar" if i + 1 < tokens.len() => {
                if let (Some((len, c)), Some(d)) = (code(t), dst(tokens[i + 1])) {
                    budget.spend(Work::MapEntries, 1)?;
                    map.insert((len, c), String::from_utf16_lossy(&utf16_units(&d)));
                    lengths.push(len);
                }
                i += 2;
            }
            "beginbfrange" if i + 2 < tokens.len() => {
                let (Some((len, lo)), Some((_, hi))) = (code(t), code(tokens[i + 1])) else {
                    i += 1;
                    continue;
                };
                lengths.push(len);
                // A real range covers one font at most.
                let hi = hi.min(lo.saturating_add(0xFFFF));
                if tokens[i + 2] == "[" {
                    let mut j = i + 3;
                    let mut c = lo;
                    while j < tokens.len() && tokens[j] != "]" {
                        if let Some(d) = dst(tokens[j]) {
                            if c <= hi {
                                budget.spend(Work::MapEntries, 1)?;
                                map.insert((len, c), String::from_utf16_lossy(&utf16_units(&d)));
                            }
                            c = c.saturating_add(1);
                        }
                        j += 1;
                    }
                    i = j + 1;
                } else {
                    if let Some(d) = dst(tokens[i + 2]) {
                        budget.spend(
                            Work::MapEntries,
                            (hi.saturating_sub(lo) as usize).saturating_add(1),
                        )?;
                        let mut units = utf16_units(&d);
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
    Ok((map, lengths))
}

fn read_cid_widths(
    doc: &Document,
    w: &[Object],
    out: &mut HashMap<u32, f32>,
    budget: &mut WorkBudget,
) -> Result<(), PdfError> {
    let mut i = 0;
    while i < w.len() {
        let first = num(deref(doc, &w[i])) as u32;
        match w.get(i + 1).map(|o| deref(doc, o)) {
            Some(Object::Array(list)) => {
                budget.spend(Work::MapEntries, list.len())?;
                for (k, v) in list.iter().enumerate() {
                    out.insert(first.saturating_add(k as u32), num(deref(doc, v)));
                }
                i += 2;
            }
            Some(last) => {
                let last = (num(last) as u32).min(first.saturating_add(0xFFFF));
                let width = w.get(i + 2).map(|o| num(deref(doc, o))).unwrap_or(1000.0);
                budget.spend(
                    Work::MapEntries,
                    (last.saturating_sub(first) as usize).saturating_add(1),
                )?;
                for c in first..=last {
                    out.insert(c, width);
                }
                i += 3;
            }
            None => break,
        }
    }
    Ok(())
}

pub(super) fn load_font(
    doc: &Document,
    font: &Dictionary,
    budget: &mut WorkBudget,
) -> Result<Font, PdfError> {
    let subtype = name_of(doc, font, b"Subtype").unwrap_or_default();
    let to_unicode = match font
        .get(b"ToUnicode")
        .ok()
        .map(|o| deref(doc, o))
        .and_then(|o| o.as_stream().ok())
    {
        Some(stream) => {
            let bytes = budget.decompress(stream)?;
            Some(parse_to_unicode(&String::from_utf8_lossy(&bytes), budget)?)
        }
        None => None,
    };
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
                read_cid_widths(doc, w, &mut widths, budget)?;
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
        return Ok(Font {
            decoder,
            widths: if cid_is_code { widths } else { HashMap::new() },
            default_width,
            cid_is_code,
        });
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
        // A simple font has 256 codes; anything past that is noise.
        for (i, v) in w.iter().enumerate().take(256) {
            widths.insert(first.saturating_add(i as u32), num(deref(doc, v)) * unit);
        }
    }
    let decoder = match to_unicode {
        Some((map, lengths)) => Decoder::ToUnicode {
            map,
            lengths: if lengths.is_empty() { vec![1] } else { lengths },
        },
        None => Decoder::Latin1,
    };
    Ok(Font {
        decoder,
        widths,
        default_width: None,
        cid_is_code: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_to_unicode_map_with_chars_and_ranges() {
        let cmap = "/CIDInit /ProcSet findresource begin 1 begincodespacerange <0000> <FFFF> endcodespacerange\n\
                    2 beginbfchar <0003> <0041> <0004> <30D1> endbfchar\n\
                    2 beginbfrange <0010> <0012> <0030> <0020> <0021> [<3042> <3044>] endbfrange";
        let (map, lengths) = parse_to_unicode(cmap, &mut WorkBudget::default()).expect("parses");
        assert_eq!(lengths, vec![2]);
        assert_eq!(map.get(&(2, 3)).map(String::as_str), Some("A"));
        assert_eq!(map.get(&(2, 4)).map(String::as_str), Some("パ"));
        assert_eq!(map.get(&(2, 0x12)).map(String::as_str), Some("2"));
        assert_eq!(map.get(&(2, 0x21)).map(String::as_str), Some("い"));
    }

    #[test]
    fn a_hostile_to_unicode_map_runs_out_of_budget() {
        // Each bfrange over 0000-FFFF asks for 65,536 entries: 40 of them, 2.6 million.
        let mut cmap = String::from("1 begincodespacerange <0000> <FFFF> endcodespacerange\n");
        for _ in 0..40 {
            cmap.push_str("1 beginbfrange <0000> <FFFF> <4E00> endbfrange\n");
        }
        let mut budget = WorkBudget::default();
        let err = parse_to_unicode(&cmap, &mut budget).err();
        assert!(
            matches!(
                &err,
                Some(PdfError::TooMuchWork {
                    work: Work::MapEntries,
                    ..
                })
            ),
            "{err:?}"
        );
        // A range is charged before it is expanded: the map never outgrew the limit.
        assert!(budget.used().map_entries <= super::super::budget::LIMITS.map_entries);
    }

    #[test]
    fn unmapped_codes_keep_their_place() {
        let (map, lengths) = parse_to_unicode(
            "1 begincodespacerange <0000> <FFFF> endcodespacerange 1 beginbfchar <0001> <58EB> endbfchar",
            &mut WorkBudget::default(),
        )
        .expect("parses");
        let font = Font {
            decoder: Decoder::ToUnicode { map, lengths },
            widths: HashMap::new(),
            default_width: Some(1000.0),
            cid_is_code: true,
        };
        let decoded = font.decode(&[0, 1, 0, 9, 0, 1]);
        let texts: Vec<&str> = decoded.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(texts, ["士", "", "士"]);
    }
}
