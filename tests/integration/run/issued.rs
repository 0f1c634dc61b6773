//! A password the portal issues is read off the screen and from its PDF, kept
//! the moment it is read, and compared: a PDF that lacks it, contradicts it, or
//! never comes is each handled without a login spent on a guess.

use super::common::{events, failed_logins, find_account, job, report_in, report_says, sim_with, state};
use super::run_job;
use oqsbot::job::store::CredentialStore;

const MASTER: &str = "H2713107";

/// The master's password as the portal has it, and as the store has it.
async fn master_passwords(sim: &oqs_sim::RunningSim, out: &std::path::Path) -> (String, Option<String>) {
    let s = state(sim).await;
    let portal = find_account(&s, MASTER).expect("the master exists")["password"]
        .as_str()
        .expect("password")
        .to_string();
    let stored = CredentialStore::open(out)
        .expect("store")
        .password(MASTER)
        .map(|(pw, _)| pw.expose().to_string());
    (portal, stored)
}

#[tokio::test]
async fn a_pdf_without_the_password_leaves_the_one_shown_on_screen() {
    // The password is not even in the page until 「パスワード表示」 fetches it.
    let sim = sim_with(
        "needs-reset",
        "[ui]\npassword_display = \"absent\"\n[faults]\nissued_pdf = \"without-password\"\n",
    )
    .await;
    let dir = tempfile::tempdir().expect("dir");
    let path = job(dir.path(), &sim, false);
    let (result, job) = super::run_job_recorded(&path, &sim, None).await;
    result.unwrap_or_else(|e| panic!("the shown password carries the run: {e}"));
    assert_eq!(failed_logins(&state(&sim).await), Vec::<String>::new());
    // The revealed password is in no page, body or screenshot the recording kept.
    super::recording::keeps_no_secret(&job.output.dir);
    let report = report_in(&job.output.dir);
    assert!(
        report_says(
            &report,
            "PDF にパスワードの記載がありません。画面に表示されたパスワードを使います"
        ),
        "{report}"
    );
}

#[tokio::test]
async fn a_pdf_that_contradicts_the_screen_stops_before_any_login_with_either() {
    let sim = sim_with("needs-reset", "[faults]\nissued_pdf = \"differs\"\n").await;
    let dir = tempfile::tempdir().expect("dir");
    let path = job(dir.path(), &sim, false);
    let (result, job) = run_job(&path, &sim, None).await;
    let err = result.expect_err("two different passwords: a person decides");
    assert_eq!(err.exit_code(), 5, "{err}");
    assert!(err.to_string().contains("differ"), "{err}");
    let s = state(&sim).await;
    assert_eq!(events(&s, "password_reset"), 1);
    let master_logins = s["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "login" && e["user_id"] == MASTER)
        .count();
    assert_eq!(master_logins, 0, "no login with either password");
    let failed_before_the_reset = failed_logins(&s).iter().filter(|id| *id == MASTER).count();
    assert!(
        failed_before_the_reset <= 1,
        "only the target password, before the reset"
    );
    let (portal, stored) = master_passwords(&sim, &job.output.dir).await;
    assert_eq!(
        stored.as_deref(),
        Some(portal.as_str()),
        "the shown one is stored"
    );
    assert!(
        !err.to_string().contains(&portal),
        "the message does not print the password: {err}"
    );
}

#[tokio::test]
async fn a_pdf_that_never_comes_keeps_the_shown_password_and_nothing_is_reset_again() {
    let sim = sim_with("needs-reset", "[faults]\nissued_pdf = \"withheld\"\n").await;
    let dir = tempfile::tempdir().expect("dir");
    let path = job(dir.path(), &sim, false);
    let (result, job) = run_job(&path, &sim, None).await;
    // The portal's error page stops the flow; the run starts again by itself, and
    // the password it stored from the screen carries it on.
    result.unwrap_or_else(|e| panic!("the shown password carries the run: {e}"));
    let journal = std::fs::read_to_string(job.output.dir.join("journal.jsonl")).expect("journal");
    let done_on_screen =
        "\"action\":\"reset:H2713107\",\"phase\":\"done\",\"detail\":\"shown on screen; no PDF\"";
    assert!(
        journal.contains(done_on_screen),
        "the reset is done, on the password the screen showed: {journal}"
    );
    let s = state(&sim).await;
    assert_eq!(events(&s, "password_reset"), 1, "the master was reset once");
    assert!(failed_logins(&s).iter().filter(|id| *id == MASTER).count() <= 1);
    let (portal, stored) = master_passwords(&sim, &job.output.dir).await;
    assert_eq!(stored.as_deref(), Some(portal.as_str()));
}
