//! What the procedure asks of the portal, one screen task at a time. A run
//! does each task through its flow file in a browser (`run::flow_portal`); the
//! procedure's own tests, through a portal held in memory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::job::outcome::RunError;
use crate::pdf::Credentials;
use crate::secret::Secret;

/// How a login ended when the portal let the account in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoggedIn {
    /// With the password given.
    AsIs,
    /// The portal asked for a new password at this first login; it is now the new one.
    Changed,
}

/// A screen task that issues a password, with its ユーザ設定情報 PDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Issue<'a> {
    /// 補足① 1-①: マスタアカウントのパスワード初期化, by the reset account, which
    /// has just logged in with the 秘密の番号.
    ResetMaster {
        master_id: &'a str,
        secret_number: &'a Secret,
    },
    /// パスワード初期化 of an existing account on アカウント管理(更新), by the master.
    Reset { user_id: &'a str },
    /// 補足① 2-②: the admin's registration, by the master.
    RegisterAdmin { admin_id: &'a str },
}

impl Issue<'_> {
    /// The account whose password is issued.
    pub fn account(&self) -> &str {
        match self {
            Issue::ResetMaster { master_id, .. } => master_id,
            Issue::Reset { user_id } => user_id,
            Issue::RegisterAdmin { admin_id } => admin_id,
        }
    }
}

/// アカウント一括登録結果 for one upload.
#[derive(Debug, Clone, Default)]
pub struct BulkStatus {
    /// 登録状況, as the screen shows it.
    pub status: String,
    /// 処理件数, when the row shows it.
    pub processed: Option<String>,
    /// The result file the portal offers, downloaded.
    pub result_file: Option<PathBuf>,
}

/// The portal's screen tasks. Each ends on a page from which the next task
/// can start; an error says what the portal answered (`RunError::Answered`)
/// or why the task could not be done.
// Used through generics only, never as `dyn`: the futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait Portal {
    /// Logs in. If the portal asks for a new password at a first login, it
    /// is changed to `new_password` on the spot.
    async fn login(
        &mut self,
        user_id: &str,
        password: &Secret,
        new_password: &Secret,
    ) -> Result<LoggedIn, RunError>;

    async fn logout(&mut self) -> Result<(), RunError>;

    /// The ユーザID that アカウント管理(更新) lists.
    async fn accounts(&mut self) -> Result<Vec<String>, RunError>;

    /// Takes the step that issues a new password. A password the screen shows
    /// is in the credential store before the task goes on, even if it then fails.
    async fn issue(&mut self, issue: Issue<'_>) -> Result<(), RunError>;

    /// Whether the last `issue` read the new password off the screen.
    fn issued_shown(&self) -> bool;

    /// The PDF the last `issue` handed out, and what it says.
    fn issued_pdf(&mut self) -> Result<(PathBuf, Credentials), RunError>;

    /// アカウント一括登録 of the Shift-JIS file; the 受付番号 the portal gave.
    async fn upload(&mut self, csv: &Path) -> Result<String, RunError>;

    /// The 受付番号 that アカウント一括登録結果 lists.
    async fn uploads(&mut self) -> Result<Vec<String>, RunError>;

    /// Waits until the upload's 登録状況 is final, and reads it.
    async fn bulk_status(&mut self, receipt: &str) -> Result<BulkStatus, RunError>;

    /// The 機関コード the logged-in account's screens show.
    async fn institution_code(&mut self) -> Result<String, RunError>;

    /// 工事手順④ on the certificate download site: the .p12 saved.
    async fn download_certificate(
        &mut self,
        request_id: &str,
        reference_id: &str,
        password: &Secret,
    ) -> Result<PathBuf, RunError>;

    /// WebDriver commands sent so far and the time their answers took, for the report.
    fn driver_use(&self) -> (u64, Duration) {
        (0, Duration::ZERO)
    }

    /// The short reason of the last task that failed, for the report's line.
    fn take_failure_brief(&mut self) -> Option<String> {
        None
    }
}
