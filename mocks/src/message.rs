//! The messages the field manual never shows, by name. The names alone, so the
//! config can key `[ui.wordings]` on them without importing `wording`, which
//! reads the config.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Message {
    LoginRefused,
    AccountLocked,
    LockedNow,
    AccountDisabled,
    LoginFormExpired,
    SessionTimeout,
    NotLoggedIn,
    BadTransition,
    NoPermission,
    LoggedOut,
    PasswordEmpty,
    PasswordMismatch,
    PasswordLength,
    PasswordCharacters,
    /// `{name}` is the missing class: 数字, 英字小文字, 英字大文字 or 特殊文字.
    PasswordClass,
    PasswordReused,
    PasswordSimilar,
    NoSuchAccount,
    ResetRefused,
    RegisterRole,
    RegisterUserId,
    RegisterExists,
    RegisterName,
    RegisterKana,
    RegisterStartFormat,
    RegisterStartPast,
    RegisterEndFormat,
    RegisterEndBeforeStart,
    /// The completion message with the ユーザID and the initial password.
    Registered,
    /// The body of the extra 「アカウント管理」 dialog (`register_dialog`).
    RegisterDialog,
    UploadNoFile,
    UploadTooBig,
    UploadUnreadable,
    UploadTooSoon,
    CertMissingIds,
    CertPasswordFormat,
    CertPasswordMismatch,
    CertUnknown,
    CertExpired,
    SystemError,
}

impl Message {
    pub const ALL: [Message; 40] = [
        Message::LoginRefused,
        Message::AccountLocked,
        Message::LockedNow,
        Message::AccountDisabled,
        Message::LoginFormExpired,
        Message::SessionTimeout,
        Message::NotLoggedIn,
        Message::BadTransition,
        Message::NoPermission,
        Message::LoggedOut,
        Message::PasswordEmpty,
        Message::PasswordMismatch,
        Message::PasswordLength,
        Message::PasswordCharacters,
        Message::PasswordClass,
        Message::PasswordReused,
        Message::PasswordSimilar,
        Message::NoSuchAccount,
        Message::ResetRefused,
        Message::RegisterRole,
        Message::RegisterUserId,
        Message::RegisterExists,
        Message::RegisterName,
        Message::RegisterKana,
        Message::RegisterStartFormat,
        Message::RegisterStartPast,
        Message::RegisterEndFormat,
        Message::RegisterEndBeforeStart,
        Message::Registered,
        Message::RegisterDialog,
        Message::UploadNoFile,
        Message::UploadTooBig,
        Message::UploadUnreadable,
        Message::UploadTooSoon,
        Message::CertMissingIds,
        Message::CertPasswordFormat,
        Message::CertPasswordMismatch,
        Message::CertUnknown,
        Message::CertExpired,
        Message::SystemError,
    ];

    /// The config key, as `[ui.wordings]` spells it.
    pub fn key(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_message_once() {
        let keys: std::collections::BTreeSet<String> = Message::ALL.iter().map(|m| m.key()).collect();
        assert_eq!(keys.len(), Message::ALL.len());
        assert!(keys.contains("login-refused"));
    }
}
