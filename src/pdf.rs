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
//! file runs out of its work budget with [`PdfError::TooMuchWork`]
//! instead of hanging.

mod budget;
mod content;
mod font;
mod layout;
mod object;

use chrono::NaiveDate;
use lopdf::{Document, LoadOptions};
use serde::Serialize;

use crate::portal::text::normalize;
pub use budget::Work;
use budget::WorkBudget;

/// Largest any one stream of the file may inflate to while it is loaded (lopdf
/// inflates object streams up front, before the budget applies): the same as
/// all the streams the reader may decode.
const MAX_LOAD_STREAM: usize = budget::LIMITS.stream_bytes;

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("not a readable PDF: {0}")]
    NotPdf(String),
    #[error("the PDF has no text oqsbot can read{0}")]
    NoText(String),
    #[error("this is not a ユーザ設定情報 PDF: no {0} found")]
    Missing(String),
    #[error(
        "the PDF asks for more work than a ユーザ設定情報 PDF needs ({}); it is not one the portal issued, so oqsbot stopped reading it",
        .work.describe(*.limit)
    )]
    TooMuchWork { work: Work, limit: usize },
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
    read_within(bytes, &mut WorkBudget::default())
}

fn read_within(bytes: &[u8], budget: &mut WorkBudget) -> Result<Credentials, PdfError> {
    let runs = text_runs(bytes, budget)?;
    let creds = layout::credentials(runs, budget)?;
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
fn text_runs(bytes: &[u8], budget: &mut WorkBudget) -> Result<Vec<content::Run>, PdfError> {
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
            return Err(PdfError::TooMuchWork {
                work: Work::StreamBytes,
                limit: MAX_LOAD_STREAM,
            });
        }
        Ok(Err(e)) => return Err(PdfError::NotPdf(e.to_string())),
        Err(_) => return Err(PdfError::NotPdf("the file is damaged".into())),
    };
    let walked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| content::extract(&doc, budget)));
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

/// A date as a notice prints it: 2021年08月23日, 2021年8月23日 or 2021/08/23.
pub fn parse_japanese_date(text: &str) -> Option<NaiveDate> {
    let t = normalize(text);
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

    /// Real notices, made by the simulator in every font mode, drawing order
    /// and split, with the longest values it prints.
    fn simulator_notices() -> Vec<(String, Vec<u8>)> {
        use oqs_sim::config::{DrawOrder, PdfFont, PdfOptions};
        let font = oqs_sim::pdf::find_font(None).expect("a Japanese font (fonts-ipafont-gothic)");
        let font = std::fs::read(font).expect("font");
        let notice = oqs_sim::pdf::CredentialNotice {
            issued: NaiveDate::from_ymd_opt(2026, 11, 25).expect("date"),
            postal_code: "〒530-0001".into(),
            address: "大阪府大阪市北区梅田1-2-3 梅田センタービル二十三階".into(),
            institution_name: "医療法人社団なにわ会 なにわ整形外科リハビリテーション医院".into(),
            institution_code: "2713107890".into(),
            user_id: "H2713107".into(),
            user_name: "マスター病院".into(),
            password: Some("x7Kp2#qLm9Az".into()),
            password_expires: NaiveDate::from_ymd_opt(2027, 1, 24),
            reset_user_id: Some("H2713107R".into()),
            subtitle: Some("【マスタアカウント情報】".into()),
        };
        let mut out = Vec::new();
        for mode in [
            PdfFont::Embedded,
            PdfFont::UnijisUcs2,
            PdfFont::UnijisUtf16,
            PdfFont::Rksj,
        ] {
            for order in [DrawOrder::Rows, DrawOrder::Columns] {
                for split in [false, true] {
                    let opts = PdfOptions {
                        font: mode,
                        draw_order: order,
                        split_values: split,
                        ..PdfOptions::default()
                    };
                    let bytes = oqs_sim::pdf::render(&notice, &opts, Some(&font)).expect("renders");
                    out.push((format!("{mode:?} {order:?} split={split}"), bytes));
                }
            }
        }
        out
    }

    #[test]
    fn real_notices_stay_far_inside_the_budget() {
        // The limits must stay at least 50 times what a real notice uses; the
        // figures printed here are the ones quoted in budget.rs.
        let limits = budget::LIMITS;
        let mut most = budget::Tally::default();
        for (what, bytes) in simulator_notices() {
            let mut budget = WorkBudget::default();
            let creds = read_within(&bytes, &mut budget).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(creds.user_id.as_deref(), Some("H2713107"), "{what}");
            let used = budget.used();
            println!("{what}: {used:?}");
            most.operators = most.operators.max(used.operators);
            most.stream_bytes = most.stream_bytes.max(used.stream_bytes);
            most.map_entries = most.map_entries.max(used.map_entries);
            most.text_pieces = most.text_pieces.max(used.text_pieces);
            most.pairing_steps = most.pairing_steps.max(used.pairing_steps);
        }
        println!("most: {most:?}");
        assert!(most.operators * 50 <= limits.operators, "{most:?}");
        assert!(most.stream_bytes * 50 <= limits.stream_bytes, "{most:?}");
        assert!(most.map_entries * 50 <= limits.map_entries, "{most:?}");
        assert!(most.text_pieces * 50 <= limits.text_pieces, "{most:?}");
        assert!(most.pairing_steps * 50 <= limits.pairing_steps, "{most:?}");
    }
}
