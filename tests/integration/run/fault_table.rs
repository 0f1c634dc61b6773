//! The README's fault table, a test per row not covered elsewhere: a server
//! error once on every page of the path, responses slowed to seconds, a status
//! stuck in 登録中, an upload the portal never took, and the one-minute rule
//! between uploads. Each is checked against `/__sim/state`.

use super::common::{events, failed_logins, job, sim_with, state};
use super::portal_faults::patch_config;
use oqsbot::job::JobFile;
use oqsbot::job::run::run;

/// Pages a run reads, where a server error costs nothing but a fresh start:
/// none answers an irreversible click.
const PAGES: &[&str] = &[
    "/cert/",
    "/oqs/",
    "/oqs/login",
    "/oqs/menu",
    "/oqs/frame/menu",
    "/oqs/feature",
    "/oqs/password/notice",
    "/oqs/account/search",
    "/oqs/account/detail",
    "/oqs/account/register",
    "/oqs/bulk/upload",
    "/oqs/bulk/results",
    "/oqs/logout",
];

fn retries(report: &serde_json::Value) -> Vec<String> {
    report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|step| step["what"].as_str().is_some_and(|w| w.contains("再実行")))
        .filter_map(|step| step["result"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn a_server_error_once_on_every_page_is_survived_without_repeating_anything() {
    let faults: String = PAGES
        .iter()
        .map(|p| format!("[[faults.http_500]]\npath = \"{p}\"\nnth = 1\n"))
        .collect();
    let sim = sim_with("needs-reset", &faults).await;
    let dir = tempfile::tempdir().expect("dir");
    let path = job(dir.path(), &sim, false);
    let job = JobFile::load(&path).expect("job");
    let mut options = super::options(&job, &sim, None);
    options.record = false;
    // One fresh start per page: more than the default allows.
    options.portal_retries = PAGES.len() as u32;
    let (result, _) = run(&job, &options).await;
    result.unwrap_or_else(|e| panic!("every page's error is survived: {e}"));
    let s = state(&sim).await;
    assert_eq!(events(&s, "password_reset"), 1, "one reset");
    assert_eq!(events(&s, "upload_received"), 1, "one upload");
    assert_eq!(failed_logins(&s), Vec::<String>::new());
    let hit = PAGES
        .iter()
        .filter(|p| s["requests"][**p].as_u64().unwrap_or(0) >= 1)
        .count();
    assert!(hit >= 10, "the path crossed most of the pages: {}", s["requests"]);
    let report = super::report(&job);
    let retried = retries(&report);
    // A page whose error costs nothing (the logout at the end) needs no fresh start.
    assert!(
        (8..=hit).contains(&retried.len()),
        "at most one fresh start per page that failed: {retried:#?}"
    );
    assert!(retried.iter().all(|r| r.contains("HTTP 500")), "{retried:#?}");
}

#[tokio::test]
async fn responses_slowed_to_seconds_are_waited_for() {
    let slow = "[faults]\nslow = [\
        { path = \"/oqs/login\", ms = 3000 },\
        { path = \"/oqs/account/search\", ms = 2000 },\
        { path = \"/oqs/account/reset\", ms = 4000 },\
        { path = \"/oqs/bulk/upload\", ms = 5000 },\
        { path = \"/oqs/bulk/results\", ms = 2500 },\
        ]\n";
    let sim = sim_with("needs-reset", slow).await;
    let dir = tempfile::tempdir().expect("dir");
    let path = job(dir.path(), &sim, false);
    let (result, job) = super::run_job(&path, &sim, None).await;
    result.unwrap_or_else(|e| panic!("a slow portal is waited for: {e}"));
    let s = state(&sim).await;
    assert_eq!(events(&s, "password_reset"), 1);
    assert_eq!(events(&s, "upload_received"), 1);
    assert_eq!(failed_logins(&s), Vec::<String>::new());
    assert!(
        retries(&super::report(&job)).is_empty(),
        "no fresh start was needed"
    );
}

#[tokio::test]
async fn a_status_stuck_in_registration_times_out_and_the_next_run_continues() {
    let sim = sim_with("needs-reset", "[faults]\nstuck_processing = true\n").await;
    let dir = tempfile::tempdir().expect("dir");
    let path = job(dir.path(), &sim, false);
    let text = std::fs::read_to_string(&path).expect("job");
    std::fs::write(
        &path,
        text.replace("status_timeout_secs = 60", "status_timeout_secs = 10"),
    )
    .expect("job");
    let (result, _) = super::run_job(&path, &sim, None).await;
    let err = result.expect_err("登録中 past the timeout");
    assert_eq!(err.exit_code(), 4, "{err}");

    patch_config(&sim, serde_json::json!({"faults": {"stuck_processing": false}})).await;
    let (result, _) = super::run_job(&path, &sim, None).await;
    result.unwrap_or_else(|e| panic!("the next run continues: {e}"));
    let s = state(&sim).await;
    assert_eq!(events(&s, "upload_received"), 1, "the upload is not made again");
    assert_eq!(events(&s, "password_reset"), 1);
}

#[tokio::test]
async fn an_upload_answered_with_a_server_error_is_looked_up_then_made_once_a_minute_later() {
    // The GET of the upload page is the first request to the path; the upload is the second.
    let sim = sim_with(
        "needs-reset",
        "[[faults.http_500]]\npath = \"/oqs/bulk/upload\"\nnth = 2\n",
    )
    .await;
    let dir = tempfile::tempdir().expect("dir");
    let path = job(dir.path(), &sim, false);
    let (result, job) = super::run_job(&path, &sim, None).await;
    result.unwrap_or_else(|e| panic!("the run checks 結果, then uploads again: {e}"));
    let s = state(&sim).await;
    assert_eq!(events(&s, "upload_received"), 1, "the portal got one upload");
    let report = super::report(&job);
    let said = |text: &str| {
        report["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .any(|step| step["result"].as_str().is_some_and(|r| r.contains(text)))
    };
    assert!(
        said("前回の実行が中断したアップロードはポータルに届いていません"),
        "the portal's own list was read first: {report}"
    );
    assert!(
        said("前回のアップロードから1分空けるため"),
        "the second upload kept the one-minute rule: {report}"
    );
}

#[tokio::test]
async fn a_session_that_ends_on_an_error_page_stops_for_a_person_and_the_job_continues() {
    // The portal's own words for an ended session are unknown: a page the flows do
    // not know is not taken for the login form, whatever it says.
    let sim = sim_with(
        "needs-reset",
        "[ui]\nsession_end = \"error-page\"\n[[faults.expire_session]]\npath = \"/oqs/bulk/upload\"\nnth = 1\n",
    )
    .await;
    let dir = tempfile::tempdir().expect("dir");
    let path = job(dir.path(), &sim, false);
    let (result, _) = super::run_job(&path, &sim, None).await;
    let err = result.expect_err("an unknown page");
    assert_eq!(err.exit_code(), 5, "{err}");
    assert_eq!(events(&state(&sim).await, "upload_received"), 0);
    let (result, _) = super::run_job(&path, &sim, None).await;
    result.unwrap_or_else(|e| panic!("the same job continues: {e}"));
    let s = state(&sim).await;
    assert_eq!(events(&s, "upload_received"), 1);
    assert_eq!(events(&s, "password_reset"), 1);
    assert_eq!(failed_logins(&s), Vec::<String>::new());
}
