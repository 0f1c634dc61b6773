//! Who may use the portal: roles and accounts. It needs only the password
//! policy, so the state, the bulk file and the scenarios can share it without
//! importing each other.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use crate::policy;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Role {
    #[serde(rename = "マスタアカウント")]
    Master,
    #[serde(rename = "マスタアカウントリセット用アカウント")]
    MasterReset,
    #[serde(rename = "管理者")]
    Admin,
    #[serde(rename = "顔認証付きカードリーダー用")]
    FaceReader,
    #[serde(rename = "連携アプリケーション用")]
    Renkei,
    #[serde(rename = "一般")]
    General,
    #[serde(rename = "医療情報閲覧")]
    MedicalView,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Master,
        Role::MasterReset,
        Role::Admin,
        Role::FaceReader,
        Role::Renkei,
        Role::General,
        Role::MedicalView,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Role::Master => "マスタアカウント",
            Role::MasterReset => "マスタアカウントリセット用アカウント",
            Role::Admin => "管理者",
            Role::FaceReader => "顔認証付きカードリーダー用",
            Role::Renkei => "連携アプリケーション用",
            Role::General => "一般",
            Role::MedicalView => "医療情報閲覧",
        }
    }

    /// What the header shows when it shows the role rather than the name.
    pub fn header_label(self) -> &'static str {
        match self {
            Role::Master => "マスタアカウントユーザ",
            other => other.label(),
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.label() == text.trim())
    }

    /// Accounts whose passwords never expire, whatever their length.
    pub fn never_expires(self) -> bool {
        matches!(self, Role::FaceReader | Role::Renkei | Role::MasterReset)
    }

    /// The roles this role may register in アカウント管理（登録）.
    pub fn may_register(self) -> &'static [Role] {
        match self {
            Role::Master => &[Role::Admin],
            Role::Admin => &[
                Role::Admin,
                Role::General,
                Role::MedicalView,
                Role::FaceReader,
                Role::Renkei,
            ],
            _ => &[],
        }
    }

    /// Whether this role may reset `other`'s password.
    pub fn may_reset(self, other: Role) -> bool {
        match self {
            Role::MasterReset => other == Role::Master,
            Role::Master => other == Role::Admin,
            Role::Admin => !matches!(other, Role::Master | Role::MasterReset),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Account {
    pub user_id: String,
    pub role: Role,
    pub name: String,
    pub kana: String,
    pub password: String,
    /// Earlier passwords, newest first.
    #[serde(skip)]
    pub previous: Vec<String>,
    pub must_change: bool,
    pub locked: bool,
    pub failed_logins: u32,
    pub enabled: bool,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
    pub password_set_at: DateTime<Utc>,
}

impl Account {
    /// The current password and those before it, newest first.
    pub fn history(&self) -> Vec<String> {
        std::iter::once(self.password.clone())
            .chain(self.previous.iter().cloned())
            .collect()
    }

    pub fn set_password(&mut self, new: String, now: DateTime<Utc>) {
        let old = std::mem::replace(&mut self.password, new);
        self.previous.insert(0, old);
        self.previous.truncate(policy::GENERATIONS);
        self.password_set_at = now;
    }

    pub fn password_expired(&self, now: DateTime<Utc>) -> bool {
        !self.role.never_expires()
            && self.password.chars().count() < policy::LONG_PASSWORD
            && now - self.password_set_at > Duration::days(policy::EXPIRY_DAYS)
    }
}
