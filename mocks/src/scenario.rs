//! Scenarios: the state both sites start in, as data files under `mocks/scenarios/`.
//!
//! The format (TOML; every key required unless a default is given):
//!
//! ```toml
//! name = "admin-locked"
//! description = "…"
//!
//! [institution]
//! code = "1310100126"          # 10 digits
//! name = "…"
//! postal_code = "〒100-0001"
//! address = "…"
//!
//! [master]
//! user_id = "H1310100"         # the reset account is this plus "R"
//! name = "マスター病院"
//! kana = "マスタービョウイン"
//! password = "…"               # current password (an initial one when must_change)
//! must_change = true
//! secret_number = "5902"       # 4 digits: the reset account's password
//! pdf_shows_password = true    # the ユーザ設定情報 PDF prints `password`
//! pdf_institution_code = "…"   # optional: the PDF names this code (say, the old one)
//! locked = false               # optional (false): アカウントロック あり
//! failed_logins = 0            # optional (0): failed logins already counted
//! reset_locked = false         # optional (false): the same for the reset account
//! reset_failed_logins = 0      # optional (0)
//!
//! [[accounts]]                 # any number: accounts that exist already
//! user_id = "OnsKANRI"
//! role = "管理者"              # a 権限区分 as the portal lists it
//! name = "管理アカウント"
//! kana = "カンリアカウント"
//! password = "…"
//! must_change = false          # optional (false)
//! locked = false               # optional (false)
//! enabled = true               # optional (true); false is 無効
//! failed_logins = 0            # optional (0)
//!
//! [[certificates]]             # any number: what the download site issues
//! request_id = "…"
//! reference_id = "…"
//! institution_code = "…"       # 発行先
//! terminal_name = "総合受付"
//! issued_days_ago = 5
//! download_days = 180          # optional (180)
//! ```

use serde::{Deserialize, Serialize};

use crate::error::SimError;

/// The scenarios shipped with the simulator, by name.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("carried-over", include_str!("../scenarios/carried-over.toml")),
    (
        "initial-password",
        include_str!("../scenarios/initial-password.toml"),
    ),
    ("needs-reset", include_str!("../scenarios/needs-reset.toml")),
    ("admin-exists", include_str!("../scenarios/admin-exists.toml")),
    ("pharmacy", include_str!("../scenarios/pharmacy.toml")),
    (
        "face-account-exists",
        include_str!("../scenarios/face-account-exists.toml"),
    ),
    (
        "expired-certificate",
        include_str!("../scenarios/expired-certificate.toml"),
    ),
    ("admin-locked", include_str!("../scenarios/admin-locked.toml")),
    ("old-code-pdf", include_str!("../scenarios/old-code-pdf.toml")),
    ("last-attempt", include_str!("../scenarios/last-attempt.toml")),
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub institution: Institution,
    pub master: MasterAccount,
    #[serde(default)]
    pub accounts: Vec<AccountSeed>,
    #[serde(default)]
    pub certificates: Vec<CertificateSeed>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Institution {
    pub code: String,
    pub name: String,
    pub postal_code: String,
    pub address: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MasterAccount {
    pub user_id: String,
    pub name: String,
    pub kana: String,
    /// The master's current password; when `must_change`, an initial one.
    pub password: String,
    pub must_change: bool,
    /// The 4-digit 秘密の番号: the password of the reset account `<user_id>R`.
    pub secret_number: String,
    /// Whether the ユーザ設定情報 PDF from the portal site prints `password`.
    pub pdf_shows_password: bool,
    /// The code the master's PDF prints, when not the institution's own: the
    /// customer handed over the old institution's PDF.
    #[serde(default)]
    pub pdf_institution_code: Option<String>,
    #[serde(default)]
    pub locked: bool,
    /// Failed logins already counted towards the lockout.
    #[serde(default)]
    pub failed_logins: u32,
    /// The reset account (`<user_id>R`) is locked.
    #[serde(default)]
    pub reset_locked: bool,
    #[serde(default)]
    pub reset_failed_logins: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSeed {
    pub user_id: String,
    pub role: String,
    pub name: String,
    pub kana: String,
    pub password: String,
    #[serde(default)]
    pub must_change: bool,
    #[serde(default)]
    pub locked: bool,
    /// `false` is 無効: the account exists and cannot log in.
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// Failed logins already counted towards the lockout.
    #[serde(default)]
    pub failed_logins: u32,
}

fn enabled() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateSeed {
    pub request_id: String,
    pub reference_id: String,
    /// 発行先: the code the certificate is issued to.
    pub institution_code: String,
    pub terminal_name: String,
    /// Issued this many days before the simulator's today.
    pub issued_days_ago: i64,
    /// How long the IDs work on the download site (ダウンロードサイト有効期限).
    #[serde(default = "default_download_days")]
    pub download_days: i64,
}

fn default_download_days() -> i64 {
    180
}

impl Scenario {
    /// A built-in scenario by name, or a scenario file by path (anything ending in `.toml`).
    pub fn load(name_or_path: &str) -> Result<Self, SimError> {
        if name_or_path.ends_with(".toml") {
            let text = std::fs::read_to_string(name_or_path)
                .map_err(|e| SimError::Scenario(format!("cannot read scenario file {name_or_path}: {e}")))?;
            return Self::parse(&text, name_or_path);
        }
        let (_, text) = BUILT_IN.iter().find(|(n, _)| *n == name_or_path).ok_or_else(|| {
            let names: Vec<&str> = BUILT_IN.iter().map(|(n, _)| *n).collect();
            SimError::Scenario(format!(
                "no scenario named {name_or_path:?}; built-in scenarios are: {}",
                names.join(", ")
            ))
        })?;
        Self::parse(text, name_or_path)
    }

    pub fn parse(text: &str, origin: &str) -> Result<Self, SimError> {
        let scenario: Scenario =
            toml::from_str(text).map_err(|e| SimError::Scenario(format!("scenario {origin}: {e}")))?;
        scenario
            .check()
            .map_err(|e| SimError::Scenario(format!("scenario {origin}: {e}")))?;
        Ok(scenario)
    }

    fn check(&self) -> Result<(), String> {
        let code = &self.institution.code;
        if code.len() != 10 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("institution code {code:?} is not 10 digits"));
        }
        if let Some(pdf_code) = &self.master.pdf_institution_code
            && (pdf_code.len() != 10 || !pdf_code.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(format!(
                "master.pdf_institution_code {pdf_code:?} is not 10 digits"
            ));
        }
        let secret = &self.master.secret_number;
        if secret.len() != 4 || !secret.bytes().all(|b| b.is_ascii_digit()) {
            return Err("the master's secret_number must be 4 digits".into());
        }
        for seed in &self.accounts {
            if crate::model::Role::parse(&seed.role).is_none() {
                return Err(format!("account {}: unknown role {:?}", seed.user_id, seed.role));
            }
        }
        Ok(())
    }

    pub fn reset_user_id(&self) -> String {
        format!("{}R", self.master.user_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_scenario_loads() {
        for (name, _) in BUILT_IN {
            let s = Scenario::load(name).expect(name);
            assert_eq!(&s.name, name);
        }
    }

    #[test]
    fn seeded_account_states_load() {
        let s = Scenario::load("admin-locked").expect("scenario");
        let admin = s
            .accounts
            .iter()
            .find(|a| a.user_id == "OnsKANRI")
            .expect("admin");
        assert!(admin.locked && admin.enabled);
        let s = Scenario::load("last-attempt").expect("scenario");
        assert_eq!(s.master.reset_failed_logins, 4);
        assert!(s.accounts.iter().any(|a| !a.enabled));
        let s = Scenario::load("old-code-pdf").expect("scenario");
        assert_ne!(
            s.master.pdf_institution_code.as_deref(),
            Some(s.institution.code.as_str())
        );
    }

    #[test]
    fn a_bad_pdf_code_is_refused() {
        let text = BUILT_IN
            .iter()
            .find(|(n, _)| *n == "old-code-pdf")
            .map(|(_, t)| {
                t.replace(
                    "pdf_institution_code = \"2310102344\"",
                    "pdf_institution_code = \"12\"",
                )
            })
            .expect("old-code-pdf");
        let err = Scenario::parse(&text, "test").unwrap_err().to_string();
        assert!(err.contains("pdf_institution_code"), "{err}");
    }

    #[test]
    fn an_unknown_name_lists_the_choices() {
        let err = Scenario::load("nope").unwrap_err().to_string();
        assert!(err.contains("needs-reset"), "{err}");
    }
}
