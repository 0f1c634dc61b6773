//! The portal's password policy, as the manual's パスワード変更 page states it.
//! The simulator keeps its own copy on purpose: a bug shared with the bot
//! would hide.

use rand::Rng;
use rand::seq::SliceRandom;

use crate::config::UiVariants;
use crate::wording::{Message, say};

pub const SPECIALS: &str = "~!@#$%^&*_{}[]|;'<>,.?-()/";
/// How many earlier passwords the history rules look back on.
pub const GENERATIONS: usize = 5;
/// From this length on, the history rules do not apply and the password never expires.
pub const LONG_PASSWORD: usize = 13;
pub const EXPIRY_DAYS: i64 = 60;

/// A rule of the policy that a candidate breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    Length,
    Characters,
    /// A class with no character in the password: 数字, 英字小文字, 英字大文字, 特殊文字.
    Missing(&'static str),
    Reused,
    Similar,
}

impl Violation {
    /// The refusal as this config words it.
    pub fn message(self, ui: &UiVariants) -> String {
        match self {
            Violation::Length => say(ui, Message::PasswordLength).to_string(),
            Violation::Characters => say(ui, Message::PasswordCharacters).to_string(),
            Violation::Missing(name) => say(ui, Message::PasswordClass).replace("{name}", name),
            Violation::Reused => say(ui, Message::PasswordReused).to_string(),
            Violation::Similar => say(ui, Message::PasswordSimilar).to_string(),
        }
    }
}

/// Every rule `candidate` breaks, in the simulator's own wording. `history`
/// holds the account's recent passwords, newest first, the current one included.
pub fn violations(candidate: &str, history: &[String]) -> Vec<String> {
    let ui = UiVariants::default();
    broken_rules(candidate, history)
        .into_iter()
        .map(|v| v.message(&ui))
        .collect()
}

/// Every rule `candidate` breaks.
pub fn broken_rules(candidate: &str, history: &[String]) -> Vec<Violation> {
    let mut out = Vec::new();
    let len = candidate.chars().count();
    if !(8..=20).contains(&len) {
        out.push(Violation::Length);
    }
    let bad: Vec<char> = candidate
        .chars()
        .filter(|c| !(c.is_ascii_alphanumeric() || SPECIALS.contains(*c)))
        .collect();
    if !bad.is_empty() {
        out.push(Violation::Characters);
    }
    let classes = [
        (candidate.chars().any(|c| c.is_ascii_digit()), "数字"),
        (candidate.chars().any(|c| c.is_ascii_lowercase()), "英字小文字"),
        (candidate.chars().any(|c| c.is_ascii_uppercase()), "英字大文字"),
        (candidate.chars().any(|c| SPECIALS.contains(c)), "特殊文字"),
    ];
    for (present, name) in classes {
        if !present {
            out.push(Violation::Missing(name));
        }
    }
    if len < LONG_PASSWORD {
        let recent = history.iter().take(GENERATIONS);
        let prefix: String = candidate.chars().take(5).collect();
        let mut same = false;
        let mut similar = false;
        for old in recent {
            if old == candidate {
                same = true;
            } else if old.chars().take(5).collect::<String>() == prefix {
                similar = true;
            }
        }
        if same {
            out.push(Violation::Reused);
        }
        if similar {
            out.push(Violation::Similar);
        }
    }
    out
}

/// An initial password as the portal issues one: 12 characters, every class present.
pub fn generate_initial() -> String {
    let mut rng = rand::rng();
    let pick = |rng: &mut rand::rngs::ThreadRng, set: &[u8]| set[rng.random_range(0..set.len())] as char;
    let digits = b"23456789";
    let lower = b"abcdefghijkmnpqrstuvwxyz";
    let upper = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    let special = b"!#$%&*?@";
    let mut chars = vec![
        pick(&mut rng, digits),
        pick(&mut rng, lower),
        pick(&mut rng, upper),
        pick(&mut rng, special),
    ];
    let all: Vec<u8> = [&digits[..], lower, upper].concat();
    while chars.len() < 12 {
        chars.push(pick(&mut rng, &all));
    }
    chars.shuffle(&mut rng);
    chars.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn accepts_the_manual_default() {
        assert!(violations("OnsAdmin@00369", &[]).is_empty());
    }

    #[test]
    fn names_each_missing_class() {
        let v = violations("abcdefgh", &[]);
        assert!(v.iter().any(|m| m.contains("数字が")));
        assert!(v.iter().any(|m| m.contains("英字大文字が")));
        assert!(v.iter().any(|m| m.contains("特殊文字が")));
        assert!(!v.iter().any(|m| m.contains("英字小文字が")));
    }

    #[test]
    fn length_and_characters() {
        assert!(violations("Aa1!", &[])[0].contains("8文字以上20文字以下"));
        assert!(violations("Aa1!aaaaaaaaaaaaaaaaa", &[])[0].contains("8文字以上20文字以下"));
        assert!(
            violations("Aa1! aaaa", &[])
                .iter()
                .any(|m| m.contains("使用できない文字"))
        );
        assert!(
            violations("Aa1!ああaaaa", &[])
                .iter()
                .any(|m| m.contains("使用できない文字"))
        );
        assert!(
            violations("Aa1+aaaa", &[])
                .iter()
                .any(|m| m.contains("使用できない文字"))
        );
    }

    #[test]
    fn history_rules_apply_below_thirteen() {
        let history = h(&["Staff123!", "Other99#x"]);
        assert!(
            violations("Staff123!", &history)
                .iter()
                .any(|m| m.contains("同じパスワード"))
        );
        assert!(violations("Staf456!A", &history).is_empty());
        assert!(
            violations("Staff456!", &history)
                .iter()
                .any(|m| m.contains("先頭5文字"))
        );
        // 13 characters or more: history does not matter.
        let long = "Staff123!abcd";
        assert!(violations(long, &h(&[long])).is_empty());
    }

    #[test]
    fn history_looks_back_five_generations_only() {
        let history = h(&[
            "Aaaaa111!",
            "Baaaa111!",
            "Caaaa111!",
            "Daaaa111!",
            "Eaaaa111!",
            "Faaaa111!",
        ]);
        assert!(!violations("Eaaaa111!", &history).is_empty());
        assert!(violations("Faaaa111!", &history).is_empty());
    }

    #[test]
    fn generated_passwords_pass() {
        for _ in 0..200 {
            let p = generate_initial();
            assert!(violations(&p, &[]).is_empty(), "{p}");
        }
    }
}
