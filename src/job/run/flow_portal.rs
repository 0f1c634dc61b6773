//! The portal's screen tasks, done through the flow files in a real browser.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::flow::{Engine, Var};
use crate::job::JobFile;
use crate::job::outcome::RunError;
use crate::job::procedure::portal::{BulkStatus, Issue, LoggedIn, Portal};
use crate::pdf::Credentials;
use crate::portal::text::normalize;
use crate::secret::Secret;

/// The flow that issues a password, the variable its PDF lands in, and the
/// one its `issued` step marks when the screen showed the password.
struct IssuingFlow {
    flow: &'static str,
    pdf_var: &'static str,
    shown_var: &'static str,
}

fn issuing_flow(issue: &Issue<'_>) -> IssuingFlow {
    match issue {
        Issue::ResetMaster { .. } => IssuingFlow {
            flow: "reset-master-password",
            pdf_var: "master_pdf",
            shown_var: "master_shown",
        },
        Issue::Reset { .. } => IssuingFlow {
            flow: "reset-password",
            pdf_var: "reset_pdf",
            shown_var: "reset_shown",
        },
        Issue::RegisterAdmin { .. } => IssuingFlow {
            flow: "register-admin",
            pdf_var: "admin_pdf",
            shown_var: "admin_shown",
        },
    }
}

/// The variables the job gives every flow: the sites, the accounts, today's
/// date in Japan, and the status wait's timing.
pub fn set_job_vars(engine: &mut Engine<'_>, job: &JobFile) {
    engine.set("oqs_url", &job.sites.oqs_url);
    engine.set("cert_url", &job.sites.cert_url);
    engine.set("master_user_id", &job.master.user_id);
    engine.set("reset_user_id", &job.reset_user_id());
    engine.set("admin_user_id", &job.admin.user_id);
    engine.set("admin_name", &job.admin.name);
    engine.set("admin_kana", &job.admin.kana);
    engine.set("start_date", &super::today_jst().format("%Y/%m/%d").to_string());
    engine.set(
        "status_interval_secs",
        &job.output.status_interval_secs.to_string(),
    );
    engine.set("status_timeout_secs", &job.output.status_timeout_secs.to_string());
    engine.set(
        "status_first_look_secs",
        &job.output.status_first_look_secs().to_string(),
    );
}

/// A row's cell under `header`, however the screen spaces or widens the header (ユーザＩＤ).
fn cell<'r>(row: &'r std::collections::BTreeMap<String, String>, header: &str) -> Option<&'r String> {
    let wanted = normalize(header);
    row.iter().find(|(h, _)| normalize(h) == wanted).map(|(_, v)| v)
}

pub(crate) struct FlowPortal<'b> {
    pub(crate) engine: Engine<'b>,
    /// The last issuing flow, for `issued_shown` and `issued_pdf`.
    issued: Option<IssuingFlow>,
    failure_brief: Option<String>,
}

impl<'b> FlowPortal<'b> {
    /// Gives the flows what the job says about the institution and its accounts.
    pub(crate) fn new(mut engine: Engine<'b>, job: &JobFile) -> Self {
        set_job_vars(&mut engine, job);
        Self {
            engine,
            issued: None,
            failure_brief: None,
        }
    }

    async fn run(&mut self, flow: &str) -> Result<(), RunError> {
        self.engine.run(flow).await.map_err(|e| {
            self.failure_brief = Some(e.message.clone());
            RunError::from_flow(e)
        })
    }

    fn table(&self, var: &str) -> &[std::collections::BTreeMap<String, String>] {
        match self.engine.vars.get(var) {
            Some(Var::Table(rows)) => rows,
            _ => &[],
        }
    }

    fn column(&self, var: &str, header: &str) -> Vec<String> {
        self.table(var)
            .iter()
            .filter_map(|row| cell(row, header).map(|v| v.trim().to_string()))
            .collect()
    }
}

impl Portal for FlowPortal<'_> {
    async fn login(
        &mut self,
        user_id: &str,
        password: &Secret,
        new_password: &Secret,
    ) -> Result<LoggedIn, RunError> {
        self.engine.set("user_id", user_id);
        self.engine.set_secret("password", password.clone());
        self.engine.set_secret("new_password", new_password.clone());
        self.run("login").await?;
        Ok(match self.engine.text("login_result") {
            Some("must_change") => LoggedIn::Changed,
            _ => LoggedIn::AsIs,
        })
    }

    async fn logout(&mut self) -> Result<(), RunError> {
        self.run("logout").await
    }

    async fn accounts(&mut self) -> Result<Vec<String>, RunError> {
        self.run("list-accounts").await?;
        Ok(self.column("accounts", "ユーザID"))
    }

    async fn issue(&mut self, issue: Issue<'_>) -> Result<(), RunError> {
        let flow = issuing_flow(&issue);
        self.engine.set(flow.shown_var, "");
        self.engine.vars.remove(flow.pdf_var);
        let name = flow.flow;
        self.issued = Some(flow);
        match issue {
            Issue::ResetMaster { secret_number, .. } => {
                self.engine.set_secret("secret_number", secret_number.clone());
                // The run logged the reset account in through its login budget.
                self.engine.set("logged_in", "yes");
                let ran = self.run(name).await;
                self.engine.set("logged_in", "");
                ran
            }
            Issue::Reset { user_id } => {
                self.engine.set("target_user_id", user_id);
                self.run(name).await
            }
            Issue::RegisterAdmin { .. } => self.run(name).await,
        }
    }

    fn issued_shown(&self) -> bool {
        self.issued
            .as_ref()
            .is_some_and(|f| self.engine.text(f.shown_var) == Some("shown"))
    }

    fn issued_pdf(&mut self) -> Result<(PathBuf, Credentials), RunError> {
        let var = self.issued.as_ref().map_or("", |f| f.pdf_var);
        let Some(Var::File(path)) = self.engine.vars.get(var) else {
            return Err(RunError::Refused(format!("the portal gave no PDF ({var})")));
        };
        let bytes = std::fs::read(path)
            .map_err(|e| RunError::Input(format!("cannot read {}: {e}", path.display())))?;
        let creds = crate::pdf::read_credentials(&bytes).map_err(|e| {
            // The password the flow's pages showed stays unknown: they are not kept.
            if let Some(r) = self.engine.recorder() {
                r.release_without_pages("the PDF could not be read, so the password it carries is unknown");
            }
            RunError::Refused(format!("{}: {e}", path.display()))
        })?;
        Ok((path.clone(), creds))
    }

    async fn upload(&mut self, csv: &Path) -> Result<String, RunError> {
        self.engine.set("csv_file", &csv.display().to_string());
        self.run("bulk-upload").await?;
        match self.engine.text("receipt").map(str::trim) {
            Some(receipt) if !receipt.is_empty() => Ok(receipt.to_string()),
            // Sent, perhaps received: the journal keeps the upload in doubt, and a
            // rerun looks for it on アカウント一括登録結果 before uploading again.
            _ => Err(RunError::NeedsPerson(
                "the bulk file was sent, but the page showed no 受付番号 oqsbot could read. Run the same job again: it looks for the upload on アカウント一括登録結果 before uploading again".into(),
            )),
        }
    }

    async fn uploads(&mut self) -> Result<Vec<String>, RunError> {
        self.run("bulk-results").await?;
        Ok(self.column("uploads", "受付番号"))
    }

    async fn bulk_status(&mut self, receipt: &str) -> Result<BulkStatus, RunError> {
        self.engine.set("receipt", receipt);
        self.engine.vars.remove("result_file");
        self.run("bulk-status").await?;
        let status = self
            .engine
            .text("bulk_status")
            .unwrap_or_default()
            .trim()
            .to_string();
        if status.is_empty() {
            return Err(RunError::NeedsPerson(format!(
                "アカウント一括登録結果 showed no 登録状況 oqsbot could read for 受付番号 {receipt}; look at the page. Running the same job again reads it again; it does not upload again"
            )));
        }
        Ok(BulkStatus {
            status,
            processed: self
                .table("bulk_row")
                .first()
                .and_then(|r| cell(r, "処理件数").cloned()),
            result_file: match self.engine.vars.get("result_file") {
                Some(Var::File(path)) => Some(path.clone()),
                _ => None,
            },
        })
    }

    async fn institution_code(&mut self) -> Result<String, RunError> {
        self.engine.vars.remove("institution_code");
        self.run("read-institution-code").await?;
        Ok(self
            .engine
            .text("institution_code")
            .unwrap_or_default()
            .trim()
            .to_string())
    }

    async fn download_certificate(
        &mut self,
        request_id: &str,
        reference_id: &str,
        password: &Secret,
    ) -> Result<PathBuf, RunError> {
        self.engine.set("request_id", request_id);
        self.engine.set("reference_id", reference_id);
        self.engine.set_secret("cert_password", password.clone());
        self.engine.vars.remove("p12");
        self.run("cert-download").await?;
        match self.engine.vars.get("p12") {
            Some(Var::File(p12)) => Ok(p12.clone()),
            _ => Err(RunError::Refused("the download site sent no certificate".into())),
        }
    }

    fn driver_use(&self) -> (u64, Duration) {
        self.engine.browser().driver_use()
    }

    fn take_failure_brief(&mut self) -> Option<String> {
        self.failure_brief.take()
    }
}
