//! What reading one PDF may cost, so a hostile or broken file is refused in a
//! fraction of a second instead of hanging the job or filling memory.
//!
//! Measured with `real_notices_stay_far_inside_the_budget` (in `pdf.rs`; the
//! simulator's one-page notice in every font mode, drawing order and split)
//! and on a Chromium-printed notice, the most any of them used:
//!
//! | work                 | simulator | Chromium | limit     | margin |
//! |----------------------|-----------|----------|-----------|--------|
//! | operators            |       940 |      667 |   500,000 |  ~530x |
//! | decoded stream bytes |     6,023 |    8,164 |     4 MiB |  ~510x |
//! | font map entries     |       314 |      227 |   250,000 |  ~800x |
//! | text pieces          |        40 |       42 |    20,000 |  ~475x |
//! | pairing steps        |         9 |        7 | 2,000,000 |   huge |
//!
//! A two-page notice doubles these at most. Font map entries keep a margin
//! for a generator that embeds a whole font's ToUnicode map (about 20,000
//! entries for a complete CJK font). Pairing steps are charged only where
//! pairing could grow faster than the text; its limit is what crafted text
//! may cost, not what a notice does. At these limits each hostile file in the
//! tests (millions of operators, forms drawn over and over, 0000-FFFF
//! bfranges, a decompression bomb) is refused in under half a second in a
//! debug build, building the file included.

use super::PdfError;

/// One kind of work the reader does, each with its own limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Content-stream operators over every page and every form drawn (a form
    /// drawn twice counts twice); a shown string costs one more per byte.
    Operators,
    /// Bytes of page content, forms and ToUnicode maps once decompressed.
    StreamBytes,
    /// ToUnicode (bfchar/bfrange) and glyph width entries over all fonts.
    MapEntries,
    /// Pieces of text placed on the pages.
    TextPieces,
    /// Steps taken pairing labels with their values.
    PairingSteps,
}

impl Work {
    /// "more than `limit` `what`", as a field engineer reads it.
    pub fn describe(self, limit: usize) -> String {
        match self {
            Work::Operators => format!("more than {limit} drawing operators"),
            Work::StreamBytes if limit >= 1 << 20 => {
                format!("more than {} MiB of decompressed streams", limit >> 20)
            }
            Work::StreamBytes => format!("more than {limit} bytes of decompressed streams"),
            Work::MapEntries => format!("font maps with more than {limit} entries"),
            Work::TextPieces => format!("more than {limit} pieces of text"),
            Work::PairingSteps => format!("more than {limit} steps to pair its labels with values"),
        }
    }
}

/// An amount of each kind of work: the limits, or what was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Tally {
    pub operators: usize,
    pub stream_bytes: usize,
    pub map_entries: usize,
    pub text_pieces: usize,
    pub pairing_steps: usize,
}

impl Tally {
    fn get_mut(&mut self, work: Work) -> &mut usize {
        match work {
            Work::Operators => &mut self.operators,
            Work::StreamBytes => &mut self.stream_bytes,
            Work::MapEntries => &mut self.map_entries,
            Work::TextPieces => &mut self.text_pieces,
            Work::PairingSteps => &mut self.pairing_steps,
        }
    }

    fn get(&self, work: Work) -> usize {
        match work {
            Work::Operators => self.operators,
            Work::StreamBytes => self.stream_bytes,
            Work::MapEntries => self.map_entries,
            Work::TextPieces => self.text_pieces,
            Work::PairingSteps => self.pairing_steps,
        }
    }
}

/// The limits for one ユーザ設定情報 PDF; the figures are in the module comment.
pub(super) const LIMITS: Tally = Tally {
    operators: 500_000,
    stream_bytes: 4 << 20,
    map_entries: 250_000,
    text_pieces: 20_000,
    pairing_steps: 2_000_000,
};

/// What one PDF may still cost; threaded through every step of reading it.
#[derive(Debug)]
pub(super) struct WorkBudget {
    limits: Tally,
    used: Tally,
}

impl Default for WorkBudget {
    fn default() -> Self {
        Self::new(LIMITS)
    }
}

impl WorkBudget {
    pub(super) fn new(limits: Tally) -> Self {
        Self {
            limits,
            used: Tally::default(),
        }
    }

    /// What has been used so far.
    #[cfg(test)]
    pub(super) fn used(&self) -> Tally {
        self.used
    }

    /// Charges `n` of `work`, or says the file asks for more than a notice needs.
    pub(super) fn spend(&mut self, work: Work, n: usize) -> Result<(), PdfError> {
        let limit = self.limits.get(work);
        let used = self.used.get_mut(work);
        match used.checked_add(n) {
            Some(total) if total <= limit => {
                *used = total;
                Ok(())
            }
            _ => Err(PdfError::TooMuchWork { work, limit }),
        }
    }

    /// A stream's decoded bytes, charged to the budget. Decoding itself stops
    /// at what is left, so a decompression bomb never fills memory.
    pub(super) fn decompress(&mut self, stream: &lopdf::Stream) -> Result<Vec<u8>, PdfError> {
        let left = self.limits.stream_bytes.saturating_sub(self.used.stream_bytes);
        let bytes = match stream.decompressed_content_with_limit(left) {
            Ok(bytes) => bytes,
            Err(lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { .. })) => {
                return Err(PdfError::TooMuchWork {
                    work: Work::StreamBytes,
                    limit: self.limits.stream_bytes,
                });
            }
            // A filter that fails: read the stream as stored, as viewers do.
            Err(_) => stream.content.clone(),
        };
        self.spend(Work::StreamBytes, bytes.len())?;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spending_stops_at_the_limit_and_names_it() {
        let mut budget = WorkBudget::new(Tally {
            operators: 10,
            ..LIMITS
        });
        assert!(budget.spend(Work::Operators, 10).is_ok());
        let err = budget.spend(Work::Operators, 1).err();
        assert!(
            matches!(
                err,
                Some(PdfError::TooMuchWork {
                    work: Work::Operators,
                    limit: 10
                })
            ),
            "{err:?}"
        );
        assert_eq!(budget.used().operators, 10, "a refused charge is not kept");
        let message = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains("more than 10 drawing operators")
                && message.contains("not one the portal issued"),
            "{message}"
        );
        assert!(budget.spend(Work::MapEntries, usize::MAX).is_err(), "no overflow");
    }
}
