//! Scenarios: the state both sites start in, as data files under `mocks/scenarios/`.

use serde::{Deserialize, Serialize};

use crate::SimError;

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
        let secret = &self.master.secret_number;
        if secret.len() != 4 || !secret.bytes().all(|b| b.is_ascii_digit()) {
            return Err("the master's secret_number must be 4 digits".into());
        }
        for seed in &self.accounts {
            if crate::state::Role::parse(&seed.role).is_none() {
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
    fn an_unknown_name_lists_the_choices() {
        let err = Scenario::load("nope").unwrap_err().to_string();
        assert!(err.contains("needs-reset"), "{err}");
    }
}
