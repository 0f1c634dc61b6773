//! Credentials out of ユーザ設定情報 PDFs.
//!
//! Reading goes in three steps. `content` walks the pages and places every
//! piece of text on the page after the full CTM, honouring a tagged PDF's
//! /ActualText; `font` turns codes into Unicode (CID fonts with a ToUnicode
//! map, predefined CJK CMaps without one, simple and Type 3 fonts); `layout`
//! groups the pieces into lines and words and pairs each label with its value
//! by position alone, so neither the drawing order nor one generator's
//! geometry matters. Radicals and compatibility ideographs that a font's
//! ToUnicode map gives for ordinary kanji are folded back
//! ([`crate::portal::text::fold_ideographs`]). Reading is bounded: a hostile
//! file runs out of budget with [`PdfError::TooComplex`] instead of hanging.

mod content;
mod font;
mod layout;

use chrono::NaiveDate;
use lopdf::{Document, LoadOptions};
use serde::Serialize;

/// Largest any one stream of the file may inflate to while it is loaded.
const MAX_LOAD_STREAM: usize = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("not a readable PDF: {0}")]
    NotPdf(String),
    #[error("the PDF has no text oqsbot can read{0}")]
    NoText(String),
    #[error("this is not a ユーザ設定情報 PDF: no {0} found")]
    Missing(String),
    #[error("the PDF is too large or complex to be a ユーザ設定情報 notice ({0}); oqsbot stopped reading it")]
    TooComplex(String),
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
    let runs = text_runs(bytes)?;
    let creds = layout::credentials(runs)?;
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

/// Every piece of text on every page, placed.
fn text_runs(bytes: &[u8]) -> Result<Vec<content::Run>, PdfError> {
    if !bytes.starts_with(b"%PDF") && !bytes.windows(5).take(1024).any(|w| w == b"%PDF-") {
        return Err(PdfError::NotPdf("it does not start with %PDF".into()));
    }
    let options = LoadOptions {
        max_decompressed_size: Some(MAX_LOAD_STREAM),
        ..LoadOptions::default()
    };
    // lopdf is a third-party parser fed with files from outside: a panic in it
    // must become an error, not a crash of the job.
    let loaded = std::panic::catch_unwind(|| Document::load_mem_with_options(bytes, options));
    let doc = match loaded {
        Ok(Ok(doc)) => doc,
        Ok(Err(lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { .. }))) => {
            return Err(PdfError::TooComplex(format!(
                "a stream inflates to more than {} MiB",
                MAX_LOAD_STREAM >> 20
            )));
        }
        Ok(Err(e)) => return Err(PdfError::NotPdf(e.to_string())),
        Err(_) => return Err(PdfError::NotPdf("the file is damaged".into())),
    };
    let walked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| content::extract(&doc)));
    let extracted = walked.map_err(|_| PdfError::NotPdf("the file is damaged".into()))??;
    if extracted.runs.is_empty() {
        let why = if extracted.unreadable.is_empty() {
            String::new()
        } else {
            format!(
                ": font {} has no ToUnicode map and no known encoding",
                extracted.unreadable.join(", ")
            )
        };
        return Err(PdfError::NoText(why));
    }
    Ok(extracted.runs)
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
}
