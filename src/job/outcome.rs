//! What the portal answered a flow with, as the flow file names it. The run
//! decides on these, never on the words of an error message.

/// A flow's named outcome (`outcome = "…"` on its `fail` step).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortalAnswer {
    /// The portal said no: a login, a password, a registration, an upload.
    Refused,
    /// The account is locked.
    Locked,
    /// An outcome a flow file names that the run has no rule for.
    Other(String),
}

impl PortalAnswer {
    pub fn parse(name: &str) -> Self {
        match name.trim() {
            "refused" => PortalAnswer::Refused,
            "locked" => PortalAnswer::Locked,
            other => PortalAnswer::Other(other.to_string()),
        }
    }
}

/// Login attempts the portal says are left, when its refusal says so
/// (「あと2回」, 「残り2回」). A hint: the wording is not known, so a refusal
/// without such a number says nothing.
pub fn attempts_left(answer: &str) -> Option<u32> {
    let folded: String = answer
        .chars()
        .map(|c| match c {
            '\u{FF10}'..='\u{FF19}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            other => other,
        })
        .filter(|c| !c.is_whitespace())
        .collect();
    for marker in ["あと", "残り"] {
        let mut rest = folded.as_str();
        while let Some(i) = rest.find(marker) {
            let after = &rest[i + marker.len()..];
            let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
            if !digits.is_empty() && after[digits.len()..].starts_with('回') {
                return digits.parse().ok();
            }
            rest = after;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_by_name() {
        assert_eq!(PortalAnswer::parse("refused"), PortalAnswer::Refused);
        assert_eq!(PortalAnswer::parse("locked"), PortalAnswer::Locked);
        assert_eq!(
            PortalAnswer::parse("exists"),
            PortalAnswer::Other("exists".into())
        );
    }

    #[test]
    fn attempts_left_from_the_portal_wording() {
        assert_eq!(
            attempts_left("パスワードが違います。あと２回失敗するとロックされます。"),
            Some(2)
        );
        assert_eq!(attempts_left("ログインできません（残り 1 回）"), Some(1));
        assert_eq!(attempts_left("ユーザIDまたはパスワードが正しくありません"), None);
        assert_eq!(attempts_left("あとで再度お試しください。3回"), None);
    }
}
