//! 医療機関等コード: 都道府県番号 (2) + 点数表番号 (1) + 郡市区番号 (2) +
//! 医療機関等番号 (4) + 検証番号 (1).

use std::fmt;
use std::str::FromStr;

/// What the 点数表番号 says the institution is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Kind {
    #[serde(rename = "医科")]
    Medical,
    #[serde(rename = "歯科")]
    Dental,
    #[serde(rename = "薬局")]
    Pharmacy,
    #[serde(rename = "訪問看護")]
    VisitingNursing,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Medical => "医科",
            Kind::Dental => "歯科",
            Kind::Pharmacy => "薬局",
            Kind::VisitingNursing => "訪問看護",
        }
    }

    pub fn from_table_digit(d: u8) -> Option<Kind> {
        match d {
            1 => Some(Kind::Medical),
            3 => Some(Kind::Dental),
            4 => Some(Kind::Pharmacy),
            6 => Some(Kind::VisitingNursing),
            _ => None,
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        match text.trim() {
            "医科" => Some(Kind::Medical),
            "歯科" => Some(Kind::Dental),
            "薬局" | "調剤" => Some(Kind::Pharmacy),
            "訪問看護" => Some(Kind::VisitingNursing),
            _ => None,
        }
    }

    /// The terminal's setting: 医科歯科 or 薬局 (OQS_LOGIN_KEY R0RENK01 or R1RENK01).
    pub fn is_pharmacy(self) -> bool {
        self == Kind::Pharmacy
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstitutionCodeError {
    #[error("医療機関等コード {code:?} must be 10 digits, not {len} characters")]
    Length { code: String, len: usize },
    #[error("医療機関等コード {code:?} has a character that is not a digit at position {position}")]
    NotDigit { code: String, position: usize },
    #[error("医療機関等コード {code}: 都道府県番号 {prefecture:02} (digits 1-2) must be 01 to 47")]
    Prefecture { code: String, prefecture: u8 },
    #[error(
        "医療機関等コード {code}: 点数表番号 {digit} (digit 3) must be 1 (医科), 3 (歯科), 4 (薬局) or 6 (訪問看護)"
    )]
    Table { code: String, digit: u8 },
    #[error(
        "医療機関等コード {code} is not valid: its check digit (digit 10) is {found}, it should be {expected}. Check the code on the new 電子証明書取得に関する情報 or the 医療機関等向けポータルサイト"
    )]
    CheckDigit { code: String, found: u8, expected: u8 },
}

/// A valid 10-digit 医療機関等コード.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InstitutionCode {
    digits: [u8; 10],
}

/// The check digit over the first nine digits: from the rightmost, weights 2, 1, 2, 1 …;
/// the digits of each product are added; check = (10 − sum mod 10) mod 10.
pub fn check_digit(first_nine: &[u8; 9]) -> u8 {
    let sum: u32 = first_nine
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let p = u32::from(*d) * if i % 2 == 0 { 2 } else { 1 };
            p / 10 + p % 10
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

impl InstitutionCode {
    pub fn parse(text: &str) -> Result<Self, InstitutionCodeError> {
        let code = text.trim().to_string();
        let chars: Vec<char> = code.chars().collect();
        if chars.len() != 10 {
            return Err(InstitutionCodeError::Length {
                len: chars.len(),
                code,
            });
        }
        let mut digits = [0u8; 10];
        for (i, c) in chars.iter().enumerate() {
            match c.to_digit(10).filter(|_| c.is_ascii_digit()) {
                Some(d) => digits[i] = d as u8,
                None => {
                    return Err(InstitutionCodeError::NotDigit {
                        code,
                        position: i + 1,
                    });
                }
            }
        }
        let prefecture = digits[0] * 10 + digits[1];
        if !(1..=47).contains(&prefecture) {
            return Err(InstitutionCodeError::Prefecture { code, prefecture });
        }
        if Kind::from_table_digit(digits[2]).is_none() {
            return Err(InstitutionCodeError::Table {
                code,
                digit: digits[2],
            });
        }
        let mut first_nine = [0u8; 9];
        first_nine.copy_from_slice(&digits[..9]);
        let expected = check_digit(&first_nine);
        if digits[9] != expected {
            return Err(InstitutionCodeError::CheckDigit {
                code,
                found: digits[9],
                expected,
            });
        }
        Ok(Self { digits })
    }

    pub fn prefecture(&self) -> u8 {
        self.digits[0] * 10 + self.digits[1]
    }

    pub fn kind(&self) -> Kind {
        // Checked in parse.
        Kind::from_table_digit(self.digits[2]).unwrap_or(Kind::Medical)
    }

    /// 郡市区番号 (digits 4-5).
    pub fn district(&self) -> String {
        self.as_string()[3..5].to_string()
    }

    /// 医療機関等番号 (digits 6-9).
    pub fn number(&self) -> String {
        self.as_string()[5..9].to_string()
    }

    pub fn as_string(&self) -> String {
        self.digits.iter().map(|d| char::from(b'0' + d)).collect()
    }
}

impl fmt::Display for InstitutionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_string())
    }
}

impl FromStr for InstitutionCode {
    type Err = InstitutionCodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// 都道府県 by number, for messages a technician reads.
pub fn prefecture_name(n: u8) -> &'static str {
    const NAMES: [&str; 47] = [
        "北海道",
        "青森県",
        "岩手県",
        "宮城県",
        "秋田県",
        "山形県",
        "福島県",
        "茨城県",
        "栃木県",
        "群馬県",
        "埼玉県",
        "千葉県",
        "東京都",
        "神奈川県",
        "新潟県",
        "富山県",
        "石川県",
        "福井県",
        "山梨県",
        "長野県",
        "岐阜県",
        "静岡県",
        "愛知県",
        "三重県",
        "滋賀県",
        "京都府",
        "大阪府",
        "兵庫県",
        "奈良県",
        "和歌山県",
        "鳥取県",
        "島根県",
        "岡山県",
        "広島県",
        "山口県",
        "徳島県",
        "香川県",
        "愛媛県",
        "高知県",
        "福岡県",
        "佐賀県",
        "長崎県",
        "熊本県",
        "大分県",
        "宮崎県",
        "鹿児島県",
        "沖縄県",
    ];
    NAMES.get(usize::from(n).wrapping_sub(1)).copied().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specs_examples_are_valid() {
        let c = InstitutionCode::parse("0110113719").expect("valid");
        assert_eq!(c.prefecture(), 1);
        assert_eq!(c.kind(), Kind::Medical);
        let c = InstitutionCode::parse("2714206386").expect("valid");
        assert_eq!(c.kind(), Kind::Medical);
        assert_eq!(prefecture_name(c.prefecture()), "大阪府");
        assert_eq!(c.district(), "42");
        assert_eq!(c.number(), "0638");
    }

    #[test]
    fn the_manuals_sample_is_not_valid() {
        let err = InstitutionCode::parse("1234567890").unwrap_err();
        assert!(
            matches!(
                err,
                InstitutionCodeError::CheckDigit {
                    found: 0,
                    expected: 7,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("should be 7"));
    }

    #[test]
    fn each_part_is_checked() {
        assert!(matches!(
            InstitutionCode::parse("123").unwrap_err(),
            InstitutionCodeError::Length { len: 3, .. }
        ));
        assert!(matches!(
            InstitutionCode::parse("13123O4569").unwrap_err(),
            InstitutionCodeError::NotDigit { position: 6, .. }
        ));
        assert!(matches!(
            InstitutionCode::parse("４８１２３０４５６９").unwrap_err(),
            InstitutionCodeError::NotDigit { .. }
        ));
        assert!(matches!(
            InstitutionCode::parse("4812304560").unwrap_err(),
            InstitutionCodeError::Prefecture { prefecture: 48, .. }
        ));
        assert!(matches!(
            InstitutionCode::parse("1322304560").unwrap_err(),
            InstitutionCodeError::Table { digit: 2, .. }
        ));
    }

    #[test]
    fn kinds_follow_the_table_digit() {
        assert_eq!(
            InstitutionCode::parse("1312304569").expect("valid").kind(),
            Kind::Medical
        );
        assert_eq!(
            InstitutionCode::parse("1342304563").expect("valid").kind(),
            Kind::Pharmacy
        );
        let dental = format!("133230456{}", check_digit(&[1, 3, 3, 2, 3, 0, 4, 5, 6]));
        assert_eq!(
            InstitutionCode::parse(&dental).expect("valid").kind(),
            Kind::Dental
        );
    }
}
