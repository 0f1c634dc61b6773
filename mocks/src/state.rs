//! What the portal knows: accounts, sessions, issued credentials, uploads and
//! an event log of every irreversible thing that happened.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::Rng;
use serde::Serialize;

use crate::bulk::{BulkStatus, Parsed, ResultRow};
use crate::config::SimConfig;
use crate::model::{Account, Role};
use crate::scenario::Scenario;

#[derive(Debug, Clone)]
pub struct Session {
    pub user: Option<String>,
    pub csrf: String,
    pub last_seen: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IssueKind {
    Reset,
    Registered,
}

/// A password the portal handed out and can show again (パスワード表示) or print (ダウンロード).
#[derive(Debug, Clone)]
pub struct IssuedCredential {
    pub session_id: String,
    pub user_id: String,
    pub user_name: String,
    pub password: String,
    pub kind: IssueKind,
    pub issued_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Upload {
    pub receipt: String,
    pub uploader: String,
    pub received_at: DateTime<Utc>,
    pub parsed: Parsed,
    pub forced_system_error: bool,
    pub outcome: Option<Outcome>,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: BulkStatus,
    pub completed_at: DateTime<Utc>,
    pub processed: Option<usize>,
    pub rows: Vec<ResultRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub kind: &'static str,
    pub user_id: String,
    pub detail: String,
}

/// A certificate the download site has issued: one key, wrapped anew for each password.
#[derive(Debug, Clone)]
pub struct IssuedCertificate {
    pub request_id: String,
    pub serial: String,
    pub key_der: Vec<u8>,
    pub cert_der: Vec<u8>,
    pub downloads: u32,
}

/// A user's last search in アカウント管理(更新): its conditions, and the rows as they were.
#[derive(Debug, Clone, Default)]
pub struct LastSearch {
    pub role: String,
    pub uid: String,
    pub name: String,
    pub kana: String,
    pub enabled: String,
    pub locked: String,
    pub page: Option<usize>,
    pub rows: Vec<Account>,
}

/// A page a POST produced, kept for the GET its 303 leads to (post-redirect-get).
#[derive(Debug, Clone)]
pub struct HeldPage {
    pub status: u16,
    pub body: Vec<u8>,
}

#[derive(Debug, Default)]
pub struct SimState {
    /// The day the scenario was loaded: its relative dates count from here.
    pub epoch: NaiveDate,
    pub accounts: Vec<Account>,
    pub sessions: HashMap<String, Session>,
    pub issued: HashMap<String, IssuedCredential>,
    pub uploads: Vec<Upload>,
    pub events: Vec<Event>,
    pub certificates: Vec<IssuedCertificate>,
    /// Requests per exact path, for the Nth-request faults.
    pub request_counts: HashMap<String, u64>,
    /// Each request answered, with how long the simulator took (the latest `SERVED_KEPT`).
    pub served: std::collections::VecDeque<Served>,
    /// By ユーザID.
    pub last_searches: HashMap<String, LastSearch>,
    /// By token: shown once, by the GET after a POST's 303.
    pub held_pages: HashMap<String, HeldPage>,
}

/// How many answered requests `served` keeps.
pub const SERVED_KEPT: usize = 20_000;

/// A request the simulator answered: when it came, and how long its answer took.
#[derive(Debug, Clone, Serialize)]
pub struct Served {
    pub at: DateTime<Utc>,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub micros: u64,
}

pub fn random_token(len: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

impl SimState {
    pub fn from_scenario(scenario: &Scenario, now: DateTime<Utc>, today: NaiveDate) -> Self {
        let start = today - Duration::days(400);
        let mut accounts = vec![
            Account {
                user_id: scenario.master.user_id.clone(),
                role: Role::Master,
                name: scenario.master.name.clone(),
                kana: scenario.master.kana.clone(),
                password: scenario.master.password.clone(),
                previous: Vec::new(),
                must_change: scenario.master.must_change,
                locked: scenario.master.locked,
                failed_logins: scenario.master.failed_logins,
                enabled: true,
                start,
                end: None,
                password_set_at: now,
            },
            Account {
                user_id: scenario.reset_user_id(),
                role: Role::MasterReset,
                name: "マスタアカウントリセット用アカウント".to_string(),
                kana: "マスタアカウントリセットヨウアカウント".to_string(),
                password: scenario.master.secret_number.clone(),
                previous: Vec::new(),
                must_change: false,
                locked: scenario.master.reset_locked,
                failed_logins: scenario.master.reset_failed_logins,
                enabled: true,
                start,
                end: None,
                password_set_at: now,
            },
        ];
        for seed in &scenario.accounts {
            accounts.push(Account {
                user_id: seed.user_id.clone(),
                // Checked when the scenario was loaded.
                role: Role::parse(&seed.role).unwrap_or(Role::General),
                name: seed.name.clone(),
                kana: seed.kana.clone(),
                password: seed.password.clone(),
                previous: Vec::new(),
                must_change: seed.must_change,
                locked: seed.locked,
                failed_logins: seed.failed_logins,
                enabled: seed.enabled,
                start,
                end: None,
                password_set_at: now,
            });
        }
        SimState {
            epoch: today,
            accounts,
            ..Default::default()
        }
    }

    pub fn account(&self, user_id: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.user_id == user_id)
    }

    pub fn account_mut(&mut self, user_id: &str) -> Option<&mut Account> {
        self.accounts.iter_mut().find(|a| a.user_id == user_id)
    }

    pub fn log(&mut self, at: DateTime<Utc>, kind: &'static str, user_id: &str, detail: impl Into<String>) {
        self.events.push(Event {
            at,
            kind,
            user_id: user_id.to_string(),
            detail: detail.into(),
        });
    }

    /// The upload's status now, finishing it (and registering its rows) once its time has come.
    pub fn settle_uploads(&mut self, now: DateTime<Utc>, config: &SimConfig, today: NaiveDate) {
        let done_after = Duration::seconds(config.delays.queued_secs + config.delays.processing_secs);
        let stuck = config.faults.stuck_processing;
        for i in 0..self.uploads.len() {
            if self.uploads[i].outcome.is_some() || stuck || now < self.uploads[i].received_at + done_after {
                continue;
            }
            let completed_at = self.uploads[i].received_at + done_after;
            let outcome = self.finish_upload(i, completed_at, config, today);
            let upload = &mut self.uploads[i];
            let detail = format!("{} {:?}", upload.receipt, outcome.status);
            let uploader = upload.uploader.clone();
            upload.outcome = Some(outcome);
            self.log(completed_at, "upload_finished", &uploader, detail);
        }
    }

    fn finish_upload(
        &mut self,
        index: usize,
        at: DateTime<Utc>,
        config: &SimConfig,
        _today: NaiveDate,
    ) -> Outcome {
        let upload = &self.uploads[index];
        if upload.forced_system_error {
            return Outcome {
                status: BulkStatus::SystemError,
                completed_at: at,
                processed: None,
                rows: Vec::new(),
            };
        }
        let rows = match &upload.parsed {
            Parsed::Structure(_) => {
                return Outcome {
                    status: BulkStatus::FileStructureError,
                    completed_at: at,
                    processed: None,
                    rows: Vec::new(),
                };
            }
            Parsed::Rows(rows) => rows.clone(),
        };
        if rows.iter().any(|r| !r.errors.is_empty()) {
            let result = rows.iter().map(ResultRow::input_check).collect();
            return Outcome {
                status: BulkStatus::InputCheckError,
                completed_at: at,
                processed: Some(rows.len()),
                rows: result,
            };
        }
        let mut result = Vec::new();
        let mut duplicates = 0;
        for row in &rows {
            if self.account(&row.user_id()).is_some() {
                duplicates += 1;
                result.push(ResultRow::duplicate(row));
                continue;
            }
            let account = row.to_account(at, config.ui.bulk_accounts_must_change);
            self.log(at, "account_registered", &account.user_id, "一括登録");
            self.accounts.push(account);
            result.push(ResultRow::registered(row));
        }
        let status = if duplicates > 0 {
            BulkStatus::CompletedWithDuplicates
        } else {
            BulkStatus::Completed
        };
        Outcome {
            status,
            completed_at: at,
            processed: Some(rows.len()),
            rows: result,
        }
    }

    pub fn status_of(&self, upload: &Upload, now: DateTime<Utc>, config: &SimConfig) -> BulkStatus {
        match &upload.outcome {
            Some(outcome) => outcome.status,
            None if now < upload.received_at + Duration::seconds(config.delays.queued_secs) => {
                BulkStatus::Waiting
            }
            None => BulkStatus::Processing,
        }
    }
}
