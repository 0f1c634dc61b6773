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

/// Every secret any redactor of this process was given.
fn log_redactor() -> &'static Redactor {
    static LOG: std::sync::OnceLock<Redactor> = std::sync::OnceLock::new();
    LOG.get_or_init(Redactor::new)
}

/// `text` with every secret this process knows scrubbed, for a log line.
pub fn redact_for_log(text: &str) -> String {
    log_redactor().redact(text)
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&self, secret: &Secret) {
        self.insert(secret.expose());
        // A dependency may log what the bot typed: the log scrubs every secret of the process.
        let log = log_redactor();
        if !std::ptr::eq(self, log) {
            log.insert(secret.expose());
        }
    }

    fn insert(&self, value: &str) {
        // An empty secret would match everywhere.
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
            // Pages and URLs escape what they show: every form is scrubbed.
            for form in written_forms(s) {
                out = scrub(&out, &form, s.chars().count() < WHOLE_WORD_BELOW);
            }
        }
        out
    }

    /// Every string in a JSON value redacted; numbers and keys stay as they
    /// are, so the result is still valid JSON (a 4-digit PIN never masks a duration).
    pub fn redact_json(&self, value: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::String(s) => Value::String(self.redact(s)),
            Value::Array(a) => Value::Array(a.iter().map(|v| self.redact_json(v)).collect()),
            Value::Object(o) => {
                Value::Object(o.iter().map(|(k, v)| (k.clone(), self.redact_json(v))).collect())
            }
            other => other.clone(),
        }
    }
}

/// A secret shorter than this (a 4-digit PIN) is scrubbed only where it
/// stands alone, never inside an ID, a code or a date.
const WHOLE_WORD_BELOW: usize = 8;

/// The secret as typed, HTML-escaped (named and numeric entities) and URL-encoded.
fn written_forms(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_string()];
    let mut named = String::new();
    let mut decimal = String::new();
    let mut hex = String::new();
    let mut url = String::new();
    for c in secret.chars() {
        match c {
            '&' => named.push_str("&amp;"),
            '<' => named.push_str("&lt;"),
            '>' => named.push_str("&gt;"),
            '"' => named.push_str("&quot;"),
            '\'' => named.push_str("&#39;"),
            c => named.push(c),
        }
        if c.is_ascii_alphanumeric() {
            decimal.push(c);
            hex.push(c);
        } else {
            decimal.push_str(&format!("&#{};", c as u32));
            hex.push_str(&format!("&#x{:x};", c as u32));
        }
        if c.is_ascii_alphanumeric() || "-._~".contains(c) {
            url.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                url.push_str(&format!("%{b:02X}"));
            }
        }
    }
    // In JSON and script bodies: backslash escapes, and \u escapes of everything but letters and digits.
    let mut json = String::new();
    let mut json_unicode = String::new();
    let mut json_unicode_upper = String::new();
    for c in secret.chars() {
        match c {
            '"' => json.push_str("\\\""),
            '\\' => json.push_str("\\\\"),
            '/' => json.push_str("\\/"),
            c => json.push(c),
        }
        if c.is_ascii_alphanumeric() {
            json_unicode.push(c);
            json_unicode_upper.push(c);
        } else {
            json_unicode.push_str(&format!("\\u{:04x}", c as u32));
            json_unicode_upper.push_str(&format!("\\u{:04X}", c as u32));
        }
    }
    let url_lower = lowercase_escapes(&url);
    for form in [
        named,
        decimal,
        hex.clone(),
        hex.replace("&#x", "&#X"),
        url.clone(),
        url.replace("%20", "+"),
        url_lower,
        json,
        json_unicode,
        json_unicode_upper,
    ] {
        if !forms.contains(&form) {
            forms.push(form);
        }
    }
    forms
}

/// `%2F` as `%2f`: percent-encoders differ in case.
fn lowercase_escapes(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let mut chars = url.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '%' {
            for _ in 0..2 {
                if let Some(h) = chars.next() {
                    out.push(h.to_ascii_lowercase());
                }
            }
        }
    }
    out
}

/// `text` with each occurrence of `form` masked; with `whole_word`, only
/// occurrences with no letter or digit right before or after.
fn scrub(text: &str, form: &str, whole_word: bool) -> String {
    if form.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(form) {
        let before = rest[..i].chars().next_back();
        let after = rest[i + form.len()..].chars().next();
        let glued = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        out.push_str(&rest[..i]);
        if whole_word && (glued(before) || glued(after)) {
            out.push_str(form);
        } else {
            out.push_str(MASK);
        }
        rest = &rest[i + form.len()..];
    }
    out.push_str(rest);
    out
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
    fn a_short_secret_is_scrubbed_alone_never_inside_an_id_or_a_number() {
        let r = Redactor::new();
        r.register(&Secret::new("1357"));
        assert_eq!(
            r.redact("PIN 1357, master H1357924, code 2713579890, 2026/13/57"),
            "PIN ********, master H1357924, code 2713579890, 2026/13/57"
        );
        let json = serde_json::json!({ "millis": 1357, "typed": "1357" });
        assert_eq!(
            r.redact_json(&json),
            serde_json::json!({ "millis": 1357, "typed": "********" })
        );
    }

    #[test]
    fn every_escaped_form_is_scrubbed() {
        let r = Redactor::new();
        r.register(&Secret::new("It's#Ok<2026>"));
        for form in [
            "It&#39;s#Ok&lt;2026&gt;",
            "It&#39;s&#35;Ok&#60;2026&#62;",
            "It%27s%23Ok%3C2026%3E",
        ] {
            assert_eq!(r.redact(&format!("a {form} b")), "a ******** b", "{form}");
        }
    }

    #[test]
    fn json_escapes_and_lowercase_percent_forms_are_scrubbed() {
        let r = Redactor::new();
        r.register(&Secret::new("Ab/c\"d#1"));
        for form in [
            "Ab\\/c\\\"d#1",
            "Ab\\u002fc\\u0022d\\u00231",
            "Ab\\u002Fc\\u0022d\\u00231",
            "Ab%2fc%22d%231",
            "Ab&#X2f;c&#X22;d&#X23;1",
        ] {
            assert_eq!(r.redact(&format!("a {form} b")), "a ******** b", "{form}");
        }
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
