//! Between ④ and ⑦: the client certificate made usable by the browser that
//! logs in to the オン資 site. The run imports it into a certificate database
//! of its own, or stops for a person to install it (工事手順⑤⑥), or relies on
//! the one the system's store holds already.

use std::path::{Path, PathBuf};

use chrono::Utc;

use super::{Kept, RunError};
use crate::job::journal::{Action, Progress};
use crate::job::procedure::Prepared;
use crate::job::report::ReportStep;
use crate::job::{Install, JobFile};
use crate::secret::Secret;

/// The HOME the run gives its browser for the オン資 site: its NSS database
/// holds the client certificate and trusts the server's CA.
pub(super) fn browser_home(job: &JobFile) -> PathBuf {
    job.output.dir.join("browser-home")
}

/// The run's certificate database holds the private key: it goes when the run
/// ends, however it ends. The .p12 backup stays.
pub(super) struct RemovedOnDrop(Option<PathBuf>);

impl RemovedOnDrop {
    pub(super) fn new(dir: PathBuf) -> Self {
        Self(Some(dir))
    }

    /// Keeps the folder after all.
    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for RemovedOnDrop {
    fn drop(&mut self) {
        if let Some(dir) = &self.0 {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn step(kept: &mut Kept, what: &str, result: &str) {
    crate::progress::emit(crate::progress::Event::Note { what, result });
    kept.carried.steps.push(ReportStep {
        at: Utc::now(),
        what: what.to_string(),
        result: result.to_string(),
        millis: 0,
        webdriver: None,
    });
}

/// Makes the certificate usable; returns the HOME for the browser when the run
/// holds the certificate itself, `None` when the system's store does.
pub(super) fn make_usable(
    job: &JobFile,
    prepared: &Prepared,
    kept: &mut Kept,
    downloaded_now: bool,
) -> Result<Option<PathBuf>, RunError> {
    const WHAT: &str = "電子証明書のインストール (工事手順⑤⑥)";
    if let (Some(cert), Some(password)) = (&job.certificate, &prepared.cert_password) {
        let backup = match kept.carried.journal.progress(&Action::Certificate) {
            Progress::Done {
                detail: Some(path), ..
            } => PathBuf::from(path),
            _ => {
                return Err(RunError::Input(
                    "the journal has no downloaded certificate; run the job again to download it".into(),
                ));
            }
        };
        return match cert.install() {
            Install::Person if downloaded_now => {
                step(
                    kept,
                    WHAT,
                    &format!(
                        "作業者がインストールしてください: {} (「PFXのインストール」→「現在のユーザー」)。完了後、同じジョブをもう一度実行してください",
                        backup.display()
                    ),
                );
                Err(RunError::NeedsPerson(format!(
                    "install the new certificate on this terminal, then run the same job again. File: {} (right-click →「PFXのインストール」→「現在のユーザー」; the 4-digit 証明書パスワード is the job's, kept as cert_password in {}; 「このキーをエクスポート可能にする」 and 「すべての拡張プロパティを含める」 checked; 「自動的に証明書ストアを選択する」). Then check in Edge's 「証明書の管理」 that the 「個人」 tab shows it, issued by {}",
                    backup.display(),
                    kept.carried.store.path().display(),
                    crate::cert::EXPECTED_ISSUER
                )))
            }
            Install::Person => {
                step(
                    kept,
                    WHAT,
                    "作業者がインストール済み (システムの証明書ストアを使います)",
                );
                Ok(None)
            }
            Install::Run => import(job, &backup, password, kept, WHAT).map(Some),
        };
    }
    if let (Some(given), Some(password)) = (&job.client_certificate, &prepared.client_cert_password) {
        return import(job, &given.file, password, kept, "電子証明書の読み込み").map(Some);
    }
    step(
        kept,
        WHAT,
        "ジョブに証明書の指定がないため、システムの証明書ストアを使います",
    );
    Ok(None)
}

/// A fresh NSS database under the run's own HOME, with the certificate and,
/// if the job names one, the CA that signed the server.
fn import(
    job: &JobFile,
    p12: &Path,
    password: &Secret,
    kept: &mut Kept,
    what: &str,
) -> Result<PathBuf, RunError> {
    if !p12.is_file() {
        return Err(RunError::Input(format!(
            "the certificate {} is missing: copy the .p12 back there (from the copy of the backup folder), then run the same job again. Keep the output folder: it holds the passwords the portal issued",
            p12.display()
        )));
    }
    let home = browser_home(job);
    // An earlier run's database may hold another certificate: start clean.
    if home.exists() {
        std::fs::remove_dir_all(&home)
            .map_err(|e| RunError::Input(format!("cannot clear {}: {e}", home.display())))?;
    }
    crate::owner_only::create_dir(&home)
        .map_err(|e| RunError::Input(format!("cannot create {}: {e}", home.display())))?;
    // Gone again if the import fails halfway.
    let partial = RemovedOnDrop::new(home.clone());
    crate::browser::client_cert::import_into_nss(&home, p12, password, job.sites.oqs_ca_file.as_deref())
        .map_err(|e| {
            RunError::Input(format!(
                "cannot give the browser the certificate {}: {e}",
                p12.display()
            ))
        })?;
    let ca = match &job.sites.oqs_ca_file {
        Some(ca) => format!("、サーバーの認証局 {} を信頼", ca.display()),
        None => String::new(),
    };
    step(
        kept,
        what,
        &format!("{} をこの実行専用のブラウザに読み込みました{ca}", p12.display()),
    );
    partial.keep();
    Ok(home)
}
