//! The password policy from the manual's パスワード変更 page, and a generator
//! whose every output passes it.

use std::fmt;

use rand::TryRngCore;
use rand::rngs::OsRng;

/// The special characters the portal accepts, as the manual lists them.
pub const SPECIALS: &str = "~!@#$%^&*_{}[]|;'<>,.?-()/";
/// The generator's specials: the accepted ones that are easy to read aloud and
/// type at a card reader's console, and that need no quoting in CSV.
const GENERATOR_SPECIALS: &str = "@#$%&*?!-_";
/// Letters and digits that cannot be mistaken for one another on paper.
const GENERATOR_DIGITS: &str = "23456789";
const GENERATOR_LOWER: &str = "abcdefghijkmnpqrstuvwxyz";
const GENERATOR_UPPER: &str = "ABCDEFGHJKLMNPQRSTUVWXYZ";

/// The portal's password rules.
pub struct PasswordPolicy;

impl PasswordPolicy {
    pub const MIN_LEN: usize = 8;
    pub const MAX_LEN: usize = 20;
    /// From this length on, no history rule applies and the password never expires.
    pub const NEVER_EXPIRES_FROM: usize = 13;
    /// How many recent passwords (the current one included) the history rules cover.
    pub const GENERATIONS: usize = 5;
    pub const SIMILAR_PREFIX: usize = 5;
    pub const EXPIRY_DAYS: i64 = 60;
    /// The generator's default: long enough never to expire.
    pub const GENERATED_LEN: usize = 13;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharClass {
    Digit,
    Lower,
    Upper,
    Special,
}

impl fmt::Display for CharClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CharClass::Digit => "digit (数字)",
            CharClass::Lower => "lower-case letter (英字小文字)",
            CharClass::Upper => "upper-case letter (英字大文字)",
            CharClass::Special => "special character (特殊文字) from ~!@#$%^&*_{}[]|;'<>,.?-()/",
        })
    }
}

/// One broken rule. Never carries the password itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    Length {
        len: usize,
    },
    Missing(CharClass),
    /// 1-based positions of characters the portal does not accept.
    Disallowed {
        positions: Vec<usize>,
    },
    /// Equal to the password `generation` changes back (1 = the current one).
    Reused {
        generation: usize,
    },
    /// Shares its first five characters with the password `generation` changes back.
    Similar {
        generation: usize,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Length { len } => write!(
                f,
                "it has {len} characters; the portal needs {} to {}",
                PasswordPolicy::MIN_LEN,
                PasswordPolicy::MAX_LEN
            ),
            Violation::Missing(class) => write!(f, "it needs at least one {class}"),
            Violation::Disallowed { positions } => {
                let list: Vec<String> = positions.iter().map(|p| p.to_string()).collect();
                write!(
                    f,
                    "character {} {} not accepted (only half-width letters, digits and ~!@#$%^&*_{{}}[]|;'<>,.?-()/; no spaces)",
                    list.join(", "),
                    if positions.len() == 1 { "is" } else { "are" }
                )
            }
            Violation::Reused { generation } => write!(
                f,
                "it is the same as a recent password ({generation} back); below {} characters the last {} cannot be reused",
                PasswordPolicy::NEVER_EXPIRES_FROM,
                PasswordPolicy::GENERATIONS
            ),
            Violation::Similar { generation } => write!(
                f,
                "its first {} characters are those of a recent password ({generation} back); below {} characters that is refused",
                PasswordPolicy::SIMILAR_PREFIX,
                PasswordPolicy::NEVER_EXPIRES_FROM
            ),
        }
    }
}

fn class_of(c: char) -> Option<CharClass> {
    if c.is_ascii_digit() {
        Some(CharClass::Digit)
    } else if c.is_ascii_lowercase() {
        Some(CharClass::Lower)
    } else if c.is_ascii_uppercase() {
        Some(CharClass::Upper)
    } else if SPECIALS.contains(c) {
        Some(CharClass::Special)
    } else {
        None
    }
}

impl PasswordPolicy {
    /// Every rule `candidate` breaks. `recent` holds the account's passwords,
    /// newest (the current one) first; pass `&[]` for a new account.
    pub fn check(candidate: &str, recent: &[&str]) -> Vec<Violation> {
        let mut out = Vec::new();
        let chars: Vec<char> = candidate.chars().collect();
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&chars.len()) {
            out.push(Violation::Length { len: chars.len() });
        }
        let positions: Vec<usize> = chars
            .iter()
            .enumerate()
            .filter(|(_, c)| class_of(**c).is_none())
            .map(|(i, _)| i + 1)
            .collect();
        if !positions.is_empty() {
            out.push(Violation::Disallowed { positions });
        }
        for class in [
            CharClass::Digit,
            CharClass::Lower,
            CharClass::Upper,
            CharClass::Special,
        ] {
            if !chars.iter().any(|c| class_of(*c) == Some(class)) {
                out.push(Violation::Missing(class));
            }
        }
        if chars.len() < Self::NEVER_EXPIRES_FROM {
            let prefix: String = chars.iter().take(Self::SIMILAR_PREFIX).collect();
            for (i, old) in recent.iter().take(Self::GENERATIONS).enumerate() {
                if *old == candidate {
                    out.push(Violation::Reused { generation: i + 1 });
                    break;
                }
                if old.chars().take(Self::SIMILAR_PREFIX).collect::<String>() == prefix {
                    out.push(Violation::Similar { generation: i + 1 });
                    break;
                }
            }
        }
        out
    }

    /// Whether a password of this length expires after 60 days (for roles that expire at all).
    pub fn expires(password: &str) -> bool {
        password.chars().count() < Self::NEVER_EXPIRES_FROM
    }

    /// A password from OS randomness that passes every rule (a new one has no history).
    pub fn generate(len: usize) -> Result<String, GenerateError> {
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&len) {
            return Err(GenerateError::Length(len));
        }
        let sets = [
            GENERATOR_DIGITS,
            GENERATOR_LOWER,
            GENERATOR_UPPER,
            GENERATOR_SPECIALS,
        ];
        let all: String = sets.concat();
        let mut out: Vec<char> = Vec::with_capacity(len);
        for set in sets {
            out.push(pick(set)?);
        }
        while out.len() < len {
            out.push(pick(&all)?);
        }
        // Fisher-Yates, so the guaranteed classes are not always in front.
        for i in (1..out.len()).rev() {
            let j = uniform(i as u32 + 1)? as usize;
            out.swap(i, j);
        }
        Ok(out.into_iter().collect())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("a password must be {min} to {max} characters, not {0}", min = PasswordPolicy::MIN_LEN, max = PasswordPolicy::MAX_LEN)]
    Length(usize),
    #[error("the operating system's random number source failed: {0}")]
    Random(String),
}

/// A uniform number below `n`, by rejection from OS randomness.
fn uniform(n: u32) -> Result<u32, GenerateError> {
    let zone = u32::MAX - (u32::MAX % n);
    loop {
        let v = OsRng
            .try_next_u32()
            .map_err(|e| GenerateError::Random(e.to_string()))?;
        if v < zone {
            return Ok(v % n);
        }
    }
}

fn pick(set: &str) -> Result<char, GenerateError> {
    let chars: Vec<char> = set.chars().collect();
    Ok(chars[uniform(chars.len() as u32)? as usize])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_manual_default_passes() {
        assert!(PasswordPolicy::check("OnsAdmin@00369", &[]).is_empty());
    }

    #[test]
    fn each_rule_is_named() {
        assert_eq!(
            PasswordPolicy::check("Ab1!", &[]),
            vec![Violation::Length { len: 4 }]
        );
        assert_eq!(
            PasswordPolicy::check("abcdefg1!", &[]),
            vec![Violation::Missing(CharClass::Upper)]
        );
        assert_eq!(
            PasswordPolicy::check("Abcd efg1!", &[]),
            vec![Violation::Disallowed { positions: vec![5] }]
        );
        assert_eq!(
            PasswordPolicy::check("Abcdefg1＠", &[]),
            vec![
                Violation::Disallowed { positions: vec![9] },
                Violation::Missing(CharClass::Special)
            ]
        );
        assert_eq!(
            PasswordPolicy::check("Staff123!", &["Staff123!"]),
            vec![Violation::Reused { generation: 1 }]
        );
        assert_eq!(
            PasswordPolicy::check("staff456!A", &["Other#99x", "staff123!A"]),
            vec![Violation::Similar { generation: 2 }]
        );
    }

    #[test]
    fn history_stops_at_five_and_at_thirteen_characters() {
        let recent = [
            "A1!aaaaaa",
            "B1!aaaaaa",
            "C1!aaaaaa",
            "D1!aaaaaa",
            "E1!aaaaaa",
            "Staff123!",
        ];
        assert!(PasswordPolicy::check("Staff123!", &recent).is_empty());
        assert!(PasswordPolicy::check("Staff123!abcd", &["Staff123!abcd"]).is_empty());
    }

    #[test]
    fn messages_never_contain_the_password() {
        let secret = "Zq 9!secret";
        for v in PasswordPolicy::check(secret, &[secret]) {
            assert!(!v.to_string().contains("secret"), "{v}");
        }
    }

    #[test]
    fn generator_length_limits() {
        assert_eq!(PasswordPolicy::generate(13).expect("13").chars().count(), 13);
        assert!(PasswordPolicy::generate(7).is_err());
        assert!(PasswordPolicy::generate(21).is_err());
        assert!(!PasswordPolicy::expires(
            &PasswordPolicy::generate(PasswordPolicy::GENERATED_LEN).expect("pw")
        ));
    }

    proptest! {
        #[test]
        fn every_generated_password_passes(len in 8usize..=20) {
            let p = PasswordPolicy::generate(len).expect("generated");
            prop_assert_eq!(p.chars().count(), len);
            prop_assert!(PasswordPolicy::check(&p, &[]).is_empty(), "{}", p);
        }

        #[test]
        fn checking_never_panics(s in "\\PC{0,40}") {
            let _ = PasswordPolicy::check(&s, &[&s]);
        }
    }
}
