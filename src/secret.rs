//! Secrets as a type, and the redactor that scrubs them from everything a run
//! writes except the credential store.

use std::fmt;
use std::sync::{Arc, RwLock};

/// A password, a 秘密の番号 or a certificate password. Debug and Display never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for typing it into the portal or writing it to the credential store.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(********)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

pub const MASK: &str = "********";

/// Every secret known to a run, registered the moment it is known.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Arc<RwLock<Vec<String>>>,
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&self, secret: &Secret) {
        let value = secret.expose();
        // Too short to scrub without scrubbing ordinary text too (a 4-digit PIN is still
        // registered: it never appears as page text we keep).
        if value.is_empty() {
            return;
        }
        let mut list = self.secrets.write().unwrap_or_else(|e| e.into_inner());
        if !list.iter().any(|s| s == value) {
            list.push(value.to_string());
            // Longest first, so a secret that contains another is scrubbed whole.
            list.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    pub fn redact(&self, text: &str) -> String {
        let list = self.secrets.read().unwrap_or_else(|e| e.into_inner());
        let mut out = text.to_string();
        for s in list.iter() {
            out = out.replace(s.as_str(), MASK);
            // Pages escape what they show: scrub the HTML-escaped form too.
            let escaped = s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
            if escaped != *s {
                out = out.replace(&escaped, MASK);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("OnsAdmin@00369");
        assert_eq!(format!("{s} {s:?}"), "******** Secret(********)");
    }

    #[test]
    fn redaction_scrubs_plain_and_escaped_forms() {
        let r = Redactor::new();
        r.register(&Secret::new("Ab&cd<1"));
        r.register(&Secret::new("Ab&cd<1xyz"));
        let text = "a Ab&cd<1xyz b Ab&amp;cd&lt;1 c";
        assert_eq!(r.redact(text), "a ******** b ******** c");
    }
}
