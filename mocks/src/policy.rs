//! The portal's password policy, as the manual's パスワード変更 page states it.
//! The simulator keeps its own copy on purpose: a bug shared with the bot
//! would hide. Rules only: `wording` words a broken one, so the policy does not
//! depend on the config.

use rand::Rng;
use rand::seq::SliceRandom;

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
        assert!(broken_rules("OnsAdmin@00369", &[]).is_empty());
    }

    #[test]
    fn names_each_missing_class() {
        let v = broken_rules("abcdefgh", &[]);
        assert!(v.contains(&Violation::Missing("数字")));
        assert!(v.contains(&Violation::Missing("英字大文字")));
        assert!(v.contains(&Violation::Missing("特殊文字")));
        assert!(!v.contains(&Violation::Missing("英字小文字")));
    }

    #[test]
    fn length_and_characters() {
        assert_eq!(broken_rules("Aa1!", &[])[0], Violation::Length);
        assert_eq!(broken_rules("Aa1!aaaaaaaaaaaaaaaaa", &[])[0], Violation::Length);
        assert!(broken_rules("Aa1! aaaa", &[]).contains(&Violation::Characters));
        assert!(broken_rules("Aa1!ああaaaa", &[]).contains(&Violation::Characters));
        assert!(broken_rules("Aa1+aaaa", &[]).contains(&Violation::Characters));
    }

    #[test]
    fn history_rules_apply_below_thirteen() {
        let history = h(&["Staff123!", "Other99#x"]);
        assert!(broken_rules("Staff123!", &history).contains(&Violation::Reused));
        assert!(broken_rules("Staf456!A", &history).is_empty());
        assert!(broken_rules("Staff456!", &history).contains(&Violation::Similar));
        // 13 characters or more: history does not matter.
        let long = "Staff123!abcd";
        assert!(broken_rules(long, &h(&[long])).is_empty());
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
        assert!(!broken_rules("Eaaaa111!", &history).is_empty());
        assert!(broken_rules("Faaaa111!", &history).is_empty());
    }

    #[test]
    fn generated_passwords_pass() {
        for _ in 0..200 {
            let p = generate_initial();
            assert!(broken_rules(&p, &[]).is_empty(), "{p}");
        }
    }
}
