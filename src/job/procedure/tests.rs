//! The decision tree against a portal held in memory: each branch, refusal and
//! crash point in milliseconds, with no browser. The end-to-end proof stays
//! with the browser tests against the simulator.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::Utc;

use super::portal::{BulkStatus, Issue, LoggedIn, Portal};
use super::{Carried, Prepared, Procedure};
use crate::flow::engine::Keeper;
use crate::job::JobFile;
use crate::job::journal::{Action, Journal, Progress};
use crate::job::outcome::{PortalAnswer, RunError};
use crate::job::report::Report;
use crate::job::store::{CredentialStore, Origin, StoreKeeper};
use crate::pdf::Credentials;
use crate::secret::{Redactor, Secret};

const CODE: &str = "1342304563";
const MASTER: &str = "Y1342304";
const RESET: &str = "Y1342304R";
const ADMIN: &str = "OnsKANRI";
const FACE: &str = "FOFACE01";
const LINK: &str = "R0RENK01";
const SECRET_NUMBER: &str = "4321";
const MASTER_TARGET: &str = "Master-Target1";
const ADMIN_TARGET: &str = "Admin-Target1";
const ACCOUNTS_PASSWORD: &str = "Accounts-Bulk1";

struct Account {
    password: String,
    must_change: bool,
    refused: u32,
}

/// What the PDF of an issuing step says.
#[derive(Clone, Copy, PartialEq)]
enum Pdf {
    /// The issued password, for this institution, 本番環境.
    Matching,
    /// A password other than the one issued.
    Differing,
    /// No password printed.
    WithoutPassword,
    /// For another 医療機関コード.
    OtherInstitution,
    /// None came.
    Missing,
}

/// A portal in memory that behaves as the manual describes: a first login
/// asks for a new password, five refusals lock an account, the master resets
/// and registers, the admin uploads.
struct FakePortal {
    accounts: BTreeMap<String, Account>,
    locked: Vec<String>,
    session: Option<String>,
    /// Every task that changed the portal, in order: `reset:ID`, `register:ID`, `upload`.
    changes: Vec<String>,
    logins: Vec<String>,
    keeper: StoreKeeper,
    shows_password: bool,
    pdf: Pdf,
    last_issued: Option<(String, String)>,
    shown: bool,
    final_status: String,
    receipts: Vec<String>,
    code: String,
    /// The portal fails this task once: `issue`, `upload` and `bulk_status`
    /// after they took effect, `login:ID` before.
    fails_after: Option<&'static str>,
    /// A refusal says how many attempts are left.
    tells_attempts_left: bool,
    issued_count: u32,
}

impl FakePortal {
    fn new(dir: &Path) -> Self {
        let mut accounts = BTreeMap::new();
        accounts.insert(
            RESET.to_string(),
            Account {
                password: SECRET_NUMBER.into(),
                must_change: false,
                refused: 0,
            },
        );
        accounts.insert(
            MASTER.to_string(),
            Account {
                password: "Master-Unknown1".into(),
                must_change: false,
                refused: 0,
            },
        );
        Self {
            accounts,
            locked: Vec::new(),
            session: None,
            changes: Vec::new(),
            logins: Vec::new(),
            keeper: StoreKeeper {
                dir: dir.to_path_buf(),
            },
            shows_password: true,
            pdf: Pdf::Matching,
            last_issued: None,
            shown: false,
            final_status: "登録完了".into(),
            receipts: Vec::new(),
            code: CODE.into(),
            fails_after: None,
            tells_attempts_left: false,
            issued_count: 0,
        }
    }

    fn with_account(mut self, id: &str, password: &str, must_change: bool) -> Self {
        self.accounts.insert(
            id.to_string(),
            Account {
                password: password.into(),
                must_change,
                refused: 0,
            },
        );
        self
    }

    fn password(&self, id: &str) -> Option<&str> {
        self.accounts.get(id).map(|a| a.password.as_str())
    }

    fn count(&self, change: impl std::fmt::Display) -> usize {
        let change = change.to_string();
        self.changes.iter().filter(|c| **c == change).count()
    }

    fn fail_now(&mut self, task: &str) -> Result<(), RunError> {
        if self.fails_after == Some(task) {
            self.fails_after = None;
            return Err(RunError::Unavailable {
                message: format!("HTTP 500 after {task}"),
                in_doubt: true,
            });
        }
        Ok(())
    }

    fn logged_in_as(&self, id: &str) -> Result<(), RunError> {
        if self.session.as_deref() == Some(id) {
            Ok(())
        } else {
            Err(RunError::NeedsPerson(format!(
                "the fake portal: this task needs {id}, the session is {:?}",
                self.session
            )))
        }
    }

    fn new_initial_password(&mut self) -> String {
        self.issued_count += 1;
        format!("Init-{}x", self.issued_count)
    }
}

impl Portal for FakePortal {
    async fn login(
        &mut self,
        user_id: &str,
        password: &Secret,
        new_password: &Secret,
    ) -> Result<LoggedIn, RunError> {
        self.fail_now(&format!("login:{user_id}"))?;
        self.logins.push(user_id.to_string());
        if self.locked.iter().any(|l| l == user_id) {
            return Err(RunError::Answered {
                answer: PortalAnswer::Locked,
                message: "アカウントがロックされています".into(),
            });
        }
        let tells = self.tells_attempts_left;
        let Some(account) = self.accounts.get_mut(user_id) else {
            return Err(RunError::Answered {
                answer: PortalAnswer::Refused,
                message: "ユーザIDまたはパスワードが違います".into(),
            });
        };
        if account.password != password.expose() {
            account.refused += 1;
            if account.refused >= 5 {
                self.locked.push(user_id.to_string());
            }
            let left = 5u32.saturating_sub(account.refused);
            return Err(RunError::Answered {
                answer: PortalAnswer::Refused,
                message: if tells {
                    format!("パスワードが違います。あと{left}回失敗するとロックされます。")
                } else {
                    "ユーザIDまたはパスワードが違います".into()
                },
            });
        }
        account.refused = 0;
        self.session = Some(user_id.to_string());
        if account.must_change {
            account.password = new_password.expose().to_string();
            account.must_change = false;
            return Ok(LoggedIn::Changed);
        }
        Ok(LoggedIn::AsIs)
    }

    async fn logout(&mut self) -> Result<(), RunError> {
        self.session = None;
        Ok(())
    }

    async fn accounts(&mut self) -> Result<Vec<String>, RunError> {
        Ok(self
            .accounts
            .keys()
            .filter(|id| id.as_str() != RESET)
            .cloned()
            .collect())
    }

    async fn issue(&mut self, issue: Issue<'_>) -> Result<(), RunError> {
        self.shown = false;
        self.last_issued = None;
        let user_id = match issue {
            Issue::ResetMaster { secret_number, .. } => {
                self.logged_in_as(RESET)?;
                assert_eq!(secret_number.expose(), SECRET_NUMBER);
                MASTER.to_string()
            }
            Issue::Reset { user_id } => {
                self.logged_in_as(MASTER)?;
                user_id.to_string()
            }
            Issue::RegisterAdmin { .. } => {
                self.logged_in_as(MASTER)?;
                if self.accounts.contains_key(ADMIN) {
                    return Err(RunError::Answered {
                        answer: PortalAnswer::Refused,
                        message: "既に登録されています".into(),
                    });
                }
                ADMIN.to_string()
            }
        };
        let password = self.new_initial_password();
        let change = match issue {
            Issue::RegisterAdmin { .. } => format!("register:{user_id}"),
            _ => format!("reset:{user_id}"),
        };
        self.changes.push(change);
        self.accounts.insert(
            user_id.clone(),
            Account {
                password: password.clone(),
                must_change: true,
                refused: 0,
            },
        );
        self.locked.retain(|l| *l != user_id);
        if self.shows_password {
            // As the flow's `issued` step does: in the store before the task goes on.
            self.keeper
                .keep(&user_id, &Secret::new(password.clone()))
                .map_err(RunError::Input)?;
            self.shown = true;
        }
        self.last_issued = Some((user_id, password));
        self.fail_now("issue")
    }

    fn issued_shown(&self) -> bool {
        self.shown
    }

    fn issued_pdf(&mut self) -> Result<(PathBuf, Credentials), RunError> {
        let Some((user_id, password)) = self.last_issued.clone() else {
            return Err(RunError::Refused("the portal gave no PDF".into()));
        };
        let (code, password) = match self.pdf {
            Pdf::Missing => return Err(RunError::Refused("the portal gave no PDF".into())),
            Pdf::Matching => (CODE.to_string(), Some(password)),
            Pdf::Differing => (CODE.to_string(), Some(format!("{password}-other"))),
            Pdf::WithoutPassword => (CODE.to_string(), None),
            Pdf::OtherInstitution => ("1312345678".to_string(), Some(password)),
        };
        Ok((
            PathBuf::from(format!("{user_id}.pdf")),
            Credentials {
                environment: Some("本番環境".into()),
                institution_code: Some(code),
                institution_name: None,
                user_id: Some(user_id),
                user_name: None,
                password,
                password_expires: None,
                reset_user_id: None,
                issued: None,
            },
        ))
    }

    async fn upload(&mut self, _csv: &Path) -> Result<String, RunError> {
        self.logged_in_as(ADMIN)?;
        self.changes.push("upload".into());
        for id in [FACE, LINK] {
            self.accounts.entry(id.to_string()).or_insert(Account {
                password: ACCOUNTS_PASSWORD.into(),
                must_change: true,
                refused: 0,
            });
        }
        let receipt = format!(
            "{}_{ADMIN}",
            Utc::now()
                .with_timezone(&chrono_tz::Asia::Tokyo)
                .format("%Y%m%d%H%M%S%3f")
        );
        self.receipts.push(receipt.clone());
        self.fail_now("upload")?;
        Ok(receipt)
    }

    async fn uploads(&mut self) -> Result<Vec<String>, RunError> {
        Ok(self.receipts.clone())
    }

    async fn bulk_status(&mut self, receipt: &str) -> Result<BulkStatus, RunError> {
        assert!(self.receipts.iter().any(|r| r == receipt), "{receipt}");
        self.fail_now("bulk_status")?;
        Ok(BulkStatus {
            status: self.final_status.clone(),
            processed: Some("2".into()),
            result_file: None,
        })
    }

    async fn institution_code(&mut self) -> Result<String, RunError> {
        self.logged_in_as(ADMIN)?;
        Ok(self.code.clone())
    }

    async fn download_certificate(&mut self, _: &str, _: &str, _: &Secret) -> Result<PathBuf, RunError> {
        Err(RunError::Input(
            "the procedure's tests have no certificate site".into(),
        ))
    }
}

/// A job folder: the job file, its store with the targets `prepare` sets, its journal.
struct Desk {
    _dir: tempfile::TempDir,
    job: JobFile,
    /// Every run's: what it was told to keep out of logs and reports.
    redactor: Redactor,
}

impl Desk {
    fn new(extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let text = format!(
            "[institution]\ncode = \"{CODE}\"\nname = \"ひまわり薬局\"\n\
             [sites]\ncert_url = \"https://cert.example/\"\noqs_url = \"https://hweb.oqs.onshikaku.org/\"\n\
             [master]\nuser_id = \"{MASTER}\"\n[output]\ndir = \"run\"\n{extra}"
        );
        let path = dir.path().join("job.toml");
        std::fs::write(&path, text).expect("job file");
        let job = JobFile::load(&path).expect("job loads");
        std::fs::create_dir_all(&job.output.dir).expect("output folder");
        let mut store = CredentialStore::open(&job.output.dir).expect("store");
        for (key, value) in [
            ("target:master", MASTER_TARGET),
            ("target:admin", ADMIN_TARGET),
            ("target:accounts", ACCOUNTS_PASSWORD),
        ] {
            store.record_secret(key, &Secret::new(value)).expect("target");
        }
        Self {
            _dir: dir,
            job,
            redactor: Redactor::new(),
        }
    }

    fn dir(&self) -> &Path {
        &self.job.output.dir
    }

    fn prepared(&self, master_pdf_password: Option<&str>, secret_number: bool) -> Prepared {
        Prepared {
            master_pdf: master_pdf_password.map(|pw| Credentials {
                environment: Some("本番環境".into()),
                institution_code: Some(CODE.into()),
                institution_name: None,
                user_id: Some(MASTER.into()),
                user_name: None,
                password: Some(pw.into()),
                password_expires: None,
                reset_user_id: None,
                issued: None,
            }),
            cert_password: None,
            client_cert_password: None,
            secret_number: secret_number.then(|| Secret::new(SECRET_NUMBER)),
            csv: self.dir().join("accounts.csv"),
            bulk_ids: vec![FACE.into(), LINK.into()],
        }
    }

    /// One run of the procedure, from the folder's store and journal, as a rerun would.
    async fn run(
        &self,
        portal: FakePortal,
        prepared: &Prepared,
    ) -> (Result<(), RunError>, FakePortal, Vec<String>) {
        let carried = Carried {
            store: CredentialStore::open(self.dir()).expect("store"),
            journal: Journal::open(self.dir()).expect("journal"),
            steps: Vec::new(),
            report: Report::new(&self.job, Utc::now()),
            downloads: self.dir().join("downloads"),
            attempts_left: Default::default(),
        };
        let mut procedure = Procedure::new(&self.job, portal, self.redactor.clone(), carried);
        let result = procedure.run(prepared).await;
        let (portal, carried) = procedure.into_parts();
        let steps = carried
            .steps
            .iter()
            .map(|s| format!("{}: {}", s.what, s.result))
            .collect();
        (result, portal, steps)
    }

    fn store(&self) -> CredentialStore {
        CredentialStore::open(self.dir()).expect("store")
    }

    fn journal(&self) -> Journal {
        Journal::open(self.dir()).expect("journal")
    }
}

/// The report has a line with this text.
fn noted(steps: &[String], text: &str) -> bool {
    steps.iter().any(|s| s.contains(text))
}

fn admin_given() -> &'static str {
    "[admin]\npassword_env = \"OQSBOT_TEST_ADMIN\"\n"
}

fn assert_done(desk: &Desk, action: &Action) {
    assert!(
        matches!(desk.journal().progress(action), Progress::Done { .. }),
        "{action} is not done in the journal"
    );
}

/// The end state every completed run leaves: the accounts registered, each
/// password changed from its initial one and in the store.
fn assert_complete(desk: &Desk, portal: &FakePortal) {
    let store = desk.store();
    for id in [ADMIN, FACE, LINK] {
        let (stored, _) = store
            .password(id)
            .unwrap_or_else(|| panic!("{id} has no password stored"));
        assert_eq!(portal.password(id), Some(stored.expose()), "{id}");
        assert!(
            !portal.accounts[id].must_change,
            "{id} still has its initial password"
        );
    }
    assert_eq!(portal.count("upload"), 1);
}

#[tokio::test]
async fn an_admin_that_logs_in_goes_straight_to_the_bulk_registration() {
    let desk = Desk::new(admin_given());
    let portal = FakePortal::new(desk.dir()).with_account(ADMIN, ADMIN_TARGET, false);
    let (result, portal, _) = desk.run(portal, &desk.prepared(None, false)).await;
    result.expect("completes");
    assert_complete(&desk, &portal);
    assert_eq!(portal.changes, ["upload"], "no reset, no registration");
    assert!(!portal.logins.iter().any(|l| l == MASTER || l == RESET));
    assert_done(&desk, &Action::Upload);
}

#[tokio::test]
async fn no_admin_password_means_the_master_registers_the_admin() {
    let desk = Desk::new("");
    let portal = FakePortal::new(desk.dir()).with_account(MASTER, "Master-FromPdf1", true);
    let (result, portal, steps) = desk
        .run(portal, &desk.prepared(Some("Master-FromPdf1"), true))
        .await;
    result.expect("completes");
    assert_complete(&desk, &portal);
    assert_eq!(portal.changes, [format!("register:{ADMIN}"), "upload".into()]);
    assert_eq!(
        portal.password(MASTER),
        Some(MASTER_TARGET),
        "the master's initial password was changed"
    );
    assert_eq!(portal.password(ADMIN), Some(ADMIN_TARGET));
    assert_eq!(
        portal.logins[0], MASTER,
        "no admin login was spent without a password"
    );
    assert!(noted(
        &steps,
        "管理アカウントでログイン (工事手順⑦): パスワードの指定がない"
    ));
    assert_done(&desk, &Action::Register(ADMIN.into()));
    assert_done(&desk, &Action::Password(MASTER.into()));
}

#[tokio::test]
async fn a_master_pdf_the_portal_refuses_leads_to_one_reset_with_the_secret_number() {
    let desk = Desk::new("");
    let portal = FakePortal::new(desk.dir());
    let (result, portal, steps) = desk
        .run(portal, &desk.prepared(Some("Master-Stale1"), true))
        .await;
    result.expect("completes");
    assert_complete(&desk, &portal);
    assert_eq!(portal.count(Action::Reset(MASTER.into())), 1);
    assert_eq!(
        portal.accounts[MASTER].refused, 0,
        "the master logged in after the reset"
    );
    assert_eq!(portal.password(MASTER), Some(MASTER_TARGET));
    // The stale password once, then the issued one.
    assert_eq!(portal.logins.iter().filter(|l| *l == MASTER).count(), 2);
    assert!(noted(&steps, "ログインできません (ポータルが拒否しました)"));
    assert_done(&desk, &Action::Reset(MASTER.into()));
}

#[tokio::test]
async fn without_a_secret_number_the_master_is_not_reset() {
    let desk = Desk::new("");
    let portal = FakePortal::new(desk.dir());
    let (result, portal, _) = desk
        .run(portal, &desk.prepared(Some("Master-Stale1"), false))
        .await;
    let e = result.expect_err("stops");
    assert_eq!(e.exit_code(), 5);
    assert!(e.to_string().contains("秘密の番号"), "{e}");
    assert!(portal.changes.is_empty());
    assert!(!portal.logins.iter().any(|l| l == RESET));
}

#[tokio::test]
async fn a_refused_secret_number_is_tried_once_and_nothing_is_reset() {
    let desk = Desk::new("");
    let mut portal = FakePortal::new(desk.dir());
    portal.accounts.get_mut(RESET).expect("reset account").password = "9999".into();
    let (result, portal, _) = desk.run(portal, &desk.prepared(None, true)).await;
    let e = result.expect_err("stops");
    assert_eq!(e.exit_code(), 5);
    assert!(e.to_string().contains(RESET), "{e}");
    assert_eq!(portal.logins.iter().filter(|l| *l == RESET).count(), 1);
    assert!(portal.changes.is_empty());

    // Run again: the refused 秘密の番号 is not spent a second time.
    let (result, portal, _) = desk.run(portal, &desk.prepared(None, true)).await;
    assert_eq!(result.expect_err("stops again").exit_code(), 5);
    assert_eq!(portal.logins.iter().filter(|l| *l == RESET).count(), 1);
}

#[tokio::test]
async fn an_existing_admin_without_a_password_is_not_reset_unasked() {
    let desk = Desk::new("");
    let portal = FakePortal::new(desk.dir())
        .with_account(MASTER, "Master-FromPdf1", false)
        .with_account(ADMIN, "Admin-Unknown1", false);
    let (result, portal, _) = desk
        .run(portal, &desk.prepared(Some("Master-FromPdf1"), true))
        .await;
    let e = result.expect_err("stops");
    assert_eq!(e.exit_code(), 5);
    assert!(e.to_string().contains("reset_if_exists"), "{e}");
    assert!(portal.changes.is_empty());
    assert_eq!(portal.password(ADMIN), Some("Admin-Unknown1"));
}

#[tokio::test]
async fn an_existing_admin_is_reset_when_the_job_allows_it() {
    let desk = Desk::new("[admin]\nreset_if_exists = true\n");
    let portal = FakePortal::new(desk.dir())
        .with_account(MASTER, "Master-FromPdf1", false)
        .with_account(ADMIN, "Admin-Unknown1", false);
    let (result, portal, _) = desk
        .run(portal, &desk.prepared(Some("Master-FromPdf1"), true))
        .await;
    result.expect("completes");
    assert_complete(&desk, &portal);
    assert_eq!(portal.changes, [format!("reset:{ADMIN}"), "upload".into()]);
    // Logged in as it was: the job's master password is the target, not the current one.
    assert_eq!(portal.password(MASTER), Some("Master-FromPdf1"));
    assert_eq!(
        desk.store().password(MASTER).map(|(_, o)| o),
        Some(Origin::Portal)
    );
}

#[tokio::test]
async fn no_login_is_spent_that_would_lock_the_account() {
    let desk = Desk::new("");
    let mut store = desk.store();
    for n in 0..4 {
        store
            .record_failed_login(MASTER, &Secret::new(format!("Tried-{n}x")))
            .expect("failed login");
    }
    let portal = FakePortal::new(desk.dir());
    let (result, portal, _) = desk
        .run(portal, &desk.prepared(Some("Master-Stale1"), true))
        .await;
    let e = result.expect_err("stops");
    assert_eq!(e.exit_code(), 5);
    assert!(e.to_string().contains("could lock it"), "{e}");
    assert!(
        !portal.logins.iter().any(|l| l == MASTER),
        "the fifth attempt was not made"
    );
}

#[tokio::test]
async fn the_portals_own_count_of_attempts_left_is_honoured() {
    let desk = Desk::new(admin_given());
    let mut portal = FakePortal::new(desk.dir()).with_account(ADMIN, "Admin-Other1", false);
    portal.accounts.get_mut(ADMIN).expect("admin").refused = 3;
    portal.tells_attempts_left = true;
    // The store's password and the job's: two candidates, but the portal says one attempt is left after the first.
    desk.store()
        .record_password(ADMIN, &Secret::new("Admin-Stored1"), Origin::Job)
        .expect("stored");
    let (result, portal, _) = desk.run(portal, &desk.prepared(None, true)).await;
    let e = result.expect_err("stops");
    assert_eq!(e.exit_code(), 5);
    assert!(e.to_string().contains("1 login attempt(s) left"), "{e}");
    assert_eq!(portal.logins, [ADMIN], "one login, then no more");
    assert!(portal.locked.is_empty());
}

#[tokio::test]
async fn a_locked_account_stops_the_run_for_a_person() {
    let desk = Desk::new(admin_given());
    let mut portal = FakePortal::new(desk.dir()).with_account(ADMIN, ADMIN_TARGET, false);
    portal.locked.push(ADMIN.into());
    let (result, portal, _) = desk.run(portal, &desk.prepared(None, true)).await;
    let e = result.expect_err("stops");
    assert_eq!(e.exit_code(), 5);
    assert!(e.to_string().contains("is locked"), "{e}");
    assert!(portal.changes.is_empty(), "nothing is reset around a lock");
}

#[tokio::test]
async fn a_pdf_that_contradicts_the_screen_stops_before_any_login_with_either() {
    let desk = Desk::new("");
    let mut portal = FakePortal::new(desk.dir());
    portal.pdf = Pdf::Differing;
    let (result, portal, _) = desk.run(portal, &desk.prepared(None, true)).await;
    let e = result.expect_err("stops");
    assert_eq!(e.exit_code(), 5);
    let shown = portal.password(MASTER).expect("reset").to_string();
    assert!(
        !e.to_string().contains(&shown),
        "the password is not in the message"
    );
    assert_eq!(
        desk.store()
            .password(MASTER)
            .map(|(pw, _)| pw.expose().to_string()),
        Some(shown)
    );
    assert!(!portal.logins.iter().any(|l| l == MASTER));
    // Done: a rerun must not reset again.
    assert_done(&desk, &Action::Reset(MASTER.into()));
}

#[tokio::test]
async fn a_pdf_without_the_password_leaves_the_shown_one() {
    let desk = Desk::new("");
    let mut portal = FakePortal::new(desk.dir());
    portal.pdf = Pdf::WithoutPassword;
    let (result, portal, steps) = desk.run(portal, &desk.prepared(None, true)).await;
    result.expect("completes");
    assert_complete(&desk, &portal);
    assert!(noted(&steps, "PDF にパスワードの記載がありません"));
}

#[tokio::test]
async fn a_pdf_for_another_institution_is_refused_as_input() {
    let desk = Desk::new("");
    let mut portal = FakePortal::new(desk.dir());
    portal.pdf = Pdf::OtherInstitution;
    portal.shows_password = false;
    let (result, portal, _) = desk.run(portal, &desk.prepared(None, true)).await;
    let e = result.expect_err("stops");
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("1312345678"), "{e}");
    assert!(!portal.logins.iter().any(|l| l == MASTER));
    // Only the portal knows which password it issued: a person looks before a rerun resets again.
    assert!(matches!(
        desk.journal().progress(&Action::Reset(MASTER.into())),
        Progress::Unknown { .. }
    ));
}

#[tokio::test]
async fn neither_screen_nor_pdf_giving_the_password_asks_a_person() {
    let desk = Desk::new("");
    let mut portal = FakePortal::new(desk.dir());
    portal.pdf = Pdf::Missing;
    portal.shows_password = false;
    let (result, _, _) = desk.run(portal, &desk.prepared(None, true)).await;
    let e = result.expect_err("stops");
    assert_eq!(e.exit_code(), 5);
    assert!(matches!(
        desk.journal().progress(&Action::Reset(MASTER.into())),
        Progress::Failed { .. }
    ));
}

#[tokio::test]
async fn a_failure_after_the_password_was_shown_is_not_a_reason_to_reset_again() {
    let desk = Desk::new("");
    let mut portal = FakePortal::new(desk.dir());
    portal.fails_after = Some("issue");
    let (result, portal, _) = desk.run(portal, &desk.prepared(None, true)).await;
    assert_eq!(result.expect_err("the portal failed").exit_code(), 7);
    assert_done(&desk, &Action::Reset(MASTER.into()));

    // The rerun continues with the stored password.
    let (result, portal, _) = desk.run(portal, &desk.prepared(None, true)).await;
    result.expect("completes");
    assert_complete(&desk, &portal);
    assert_eq!(portal.count(Action::Reset(MASTER.into())), 1);
    assert_eq!(portal.count(Action::Register(ADMIN.into())), 1);
}

#[tokio::test]
async fn a_rerun_after_each_failure_point_never_repeats_a_reset_a_registration_or_an_upload() {
    for task in ["issue", "upload", "bulk_status"] {
        let desk = Desk::new("");
        let mut portal = FakePortal::new(desk.dir());
        portal.fails_after = Some(task);
        let (first, mut portal, _) = desk.run(portal, &desk.prepared(None, true)).await;
        assert_eq!(first.expect_err(task).exit_code(), 7, "{task}");
        // A rerun starts logged out, as a fresh browser does.
        portal.session = None;
        let (result, portal, _) = desk.run(portal, &desk.prepared(None, true)).await;
        result.unwrap_or_else(|e| panic!("after {task}: {e}"));
        assert_complete(&desk, &portal);
        assert_eq!(
            portal.changes,
            [
                format!("reset:{MASTER}"),
                format!("register:{ADMIN}"),
                "upload".into()
            ],
            "after {task}"
        );
    }
}

#[tokio::test]
async fn accounts_listed_already_are_not_uploaded_again() {
    let desk = Desk::new(admin_given());
    let portal = FakePortal::new(desk.dir())
        .with_account(ADMIN, ADMIN_TARGET, false)
        .with_account(FACE, "Face-Unknown1", false)
        .with_account(LINK, "Link-Unknown1", false);
    let (result, portal, steps) = desk.run(portal, &desk.prepared(None, true)).await;
    result.expect("completes");
    assert!(portal.changes.is_empty());
    assert!(noted(&steps, "登録済み。一括登録は行いません"));
    // Their passwords are nobody's here: no login is spent on them.
    assert!(!portal.logins.iter().any(|l| l == FACE || l == LINK));
}

#[tokio::test]
async fn a_partly_duplicate_registration_verifies_the_rest_and_asks_about_the_duplicate() {
    let desk = Desk::new(admin_given());
    let mut portal = FakePortal::new(desk.dir())
        .with_account(ADMIN, ADMIN_TARGET, false)
        .with_account(FACE, "Face-Unknown1", false);
    portal.final_status = "登録完了（一部 ID 重複あり）".into();
    let (result, portal, _) = desk.run(portal, &desk.prepared(None, true)).await;
    let e = result.expect_err("asks a person");
    assert_eq!(e.exit_code(), 5);
    assert!(e.to_string().contains(FACE), "{e}");
    assert!(
        portal.logins.iter().any(|l| l == LINK),
        "the new account was verified"
    );
    assert!(
        !portal.logins.iter().any(|l| l == FACE),
        "no login on a password nobody has"
    );
    assert_eq!(portal.password(FACE), Some("Face-Unknown1"));
}

#[tokio::test]
async fn a_refused_bulk_file_may_be_uploaded_again_once_fixed() {
    let desk = Desk::new(admin_given());
    let mut portal = FakePortal::new(desk.dir()).with_account(ADMIN, ADMIN_TARGET, false);
    portal.final_status = "登録失敗（入力チェックエラー）".into();
    let (result, _, _) = desk.run(portal, &desk.prepared(None, true)).await;
    let e = result.expect_err("refused");
    assert_eq!(e.exit_code(), 3);
    assert!(e.to_string().contains("fix the row"), "{e}");
    assert!(matches!(
        desk.journal().progress(&Action::Upload),
        Progress::Failed { .. }
    ));
}

#[tokio::test]
async fn an_upload_a_killed_run_began_is_found_on_the_results_page() {
    let desk = Desk::new(admin_given());
    let mut portal = FakePortal::new(desk.dir()).with_account(ADMIN, ADMIN_TARGET, false);
    // The killed run: the upload reached the portal, the journal has only the intent.
    desk.journal().intend(&Action::Upload, None).expect("intent");
    portal.session = Some(ADMIN.into());
    portal.upload(Path::new("accounts.csv")).await.expect("upload");
    portal.session = None;
    let (result, portal, steps) = desk.run(portal, &desk.prepared(None, true)).await;
    result.expect("completes");
    assert_complete(&desk, &portal);
    assert!(noted(&steps, "中断したアップロードを確認しました"));
}

#[tokio::test]
async fn another_institution_code_on_screen_fails_the_check() {
    let desk = Desk::new(admin_given());
    let mut portal = FakePortal::new(desk.dir()).with_account(ADMIN, ADMIN_TARGET, false);
    portal.code = "1312345678".into();
    let (result, _, _) = desk.run(portal, &desk.prepared(None, true)).await;
    let e = result.expect_err("refused");
    assert_eq!(e.exit_code(), 3);
    assert!(e.to_string().contains("1312345678"), "{e}");
}

#[tokio::test]
async fn a_run_killed_after_a_password_change_began_tries_the_target_next_time() {
    let desk = Desk::new("");
    // The killed run changed the master's password to the target and never journaled it done.
    desk.journal()
        .intend(&Action::Password(MASTER.into()), Some("the target password"))
        .expect("intent");
    let portal = FakePortal::new(desk.dir()).with_account(MASTER, MASTER_TARGET, false);
    let (result, portal, _) = desk
        .run(portal, &desk.prepared(Some("Master-Stale1"), true))
        .await;
    result.expect("completes");
    assert_complete(&desk, &portal);
    assert!(
        portal.changes.iter().all(|c| !c.starts_with("reset:")),
        "{:?}",
        portal.changes
    );
    assert_eq!(
        desk.store()
            .password(MASTER)
            .map(|(pw, _)| pw.expose().to_string()),
        Some(MASTER_TARGET.into())
    );
}

#[tokio::test]
async fn a_status_the_manual_does_not_list_stops_without_uploading_again() {
    let desk = Desk::new(admin_given());
    let mut portal = FakePortal::new(desk.dir()).with_account(ADMIN, ADMIN_TARGET, false);
    portal.final_status = "登録完了(一部エラーあり)".into();
    let (result, mut portal, _) = desk.run(portal, &desk.prepared(None, true)).await;
    let e = result.expect_err("asks a person");
    assert_eq!(e.exit_code(), 5);
    assert!(e.to_string().contains("登録完了(一部エラーあり)"), "{e}");
    assert_done(&desk, &Action::Upload);

    portal.session = None;
    let (result, portal, _) = desk.run(portal, &desk.prepared(None, true)).await;
    assert_eq!(result.expect_err("the same stop").exit_code(), 5);
    assert_eq!(portal.count("upload"), 1, "no second upload");
}

#[tokio::test]
async fn a_done_reset_whose_password_is_refused_is_not_made_again() {
    let desk = Desk::new("");
    // An earlier run reset the master and stored a password the portal no longer takes.
    let mut journal = desk.journal();
    let reset = Action::Reset(MASTER.into());
    journal.intend(&reset, None).expect("intent");
    journal.done(&reset, Some("master.pdf")).expect("done");
    desk.store()
        .record_issued(MASTER, &Secret::new("Init-Stale1"))
        .expect("stored");
    let portal = FakePortal::new(desk.dir());
    let (result, portal, _) = desk.run(portal, &desk.prepared(None, true)).await;
    let e = result.expect_err("asks a person");
    assert_eq!(e.exit_code(), 5);
    assert!(e.to_string().contains("before resetting again"), "{e}");
    assert!(portal.changes.is_empty(), "{:?}", portal.changes);
    assert!(!portal.logins.iter().any(|l| l == RESET), "no reset login either");
}

#[tokio::test]
async fn a_password_only_the_pdf_gives_is_used() {
    let desk = Desk::new("");
    let mut portal = FakePortal::new(desk.dir());
    portal.shows_password = false;
    let (result, portal, _) = desk.run(portal, &desk.prepared(None, true)).await;
    result.expect("completes");
    assert_complete(&desk, &portal);
    assert!(matches!(
        desk.journal().progress(&Action::Reset(MASTER.into())),
        Progress::Done { detail: Some(d), .. } if d.ends_with(".pdf")
    ));
}

#[tokio::test]
async fn a_password_only_the_pdf_gives_is_stored_before_the_login_that_uses_it() {
    let desk = Desk::new("");
    let mut portal = FakePortal::new(desk.dir());
    portal.shows_password = false;
    // The portal fails as the master is about to log in with the issued password.
    portal.fails_after = Some("login:Y1342304");
    let (result, portal, _) = desk.run(portal, &desk.prepared(None, true)).await;
    assert_eq!(result.expect_err("the portal failed").exit_code(), 7);
    let issued = portal.password(MASTER).expect("reset").to_string();
    let stored = desk
        .store()
        .password(MASTER)
        .map(|(pw, _)| pw.expose().to_string());
    assert_eq!(stored, Some(issued));
    assert_done(&desk, &Action::Reset(MASTER.into()));
}

#[tokio::test]
async fn every_password_the_run_handles_is_kept_out_of_logs_and_reports() {
    let desk = Desk::new("");
    let portal = FakePortal::new(desk.dir());
    let (result, portal, steps) = desk
        .run(portal, &desk.prepared(Some("Master-Stale1"), true))
        .await;
    result.expect("completes");
    let face_target = desk
        .store()
        .secret(&format!("target:{FACE}"))
        .expect("FOFACE01's new password");
    // The PDF's, the two the portal issued, and one the run made.
    for secret in ["Master-Stale1", "Init-1x", "Init-2x", face_target.expose()] {
        let line = format!("the page said {secret}.");
        assert!(
            !desk.redactor.redact(&line).contains(secret),
            "{secret} is not redacted"
        );
        assert!(
            steps.iter().all(|s| !s.contains(secret)),
            "{secret} is in the report"
        );
    }
    assert_eq!(portal.count(Action::Reset(MASTER.into())), 1);
}

#[tokio::test]
async fn a_failure_after_the_admin_was_registered_does_not_register_it_again() {
    let desk = Desk::new("");
    let mut portal = FakePortal::new(desk.dir()).with_account(MASTER, "Master-FromPdf1", true);
    portal.fails_after = Some("issue");
    let (result, mut portal, _) = desk
        .run(portal, &desk.prepared(Some("Master-FromPdf1"), true))
        .await;
    assert_eq!(result.expect_err("the portal failed").exit_code(), 7);
    portal.session = None;
    let (result, portal, _) = desk
        .run(portal, &desk.prepared(Some("Master-FromPdf1"), true))
        .await;
    result.expect("completes");
    assert_complete(&desk, &portal);
    assert_eq!(portal.changes, [format!("register:{ADMIN}"), "upload".into()]);
}
