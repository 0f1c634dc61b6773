//! The simulator's own faults through a whole run: the portal's passing
//! trouble is retried by the run itself, from its journal; trouble that stays
//! stops the run with exit 7 having spent nothing, and the same job, run again
//! once the portal is back, continues to the end without repeating what was done.

use super::common::{events, failed_logins, job, sim_with, state};
use super::run_job;

pub(super) async fn patch_config(sim: &oqs_sim::RunningSim, patch: serde_json::Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/__sim/config", sim.base_url))
        .json(&patch)
        .send()
        .await
        .expect("config");
    assert!(resp.status().is_success(), "config patch refused");
}

/// Why the run started again by itself, as its report lists each retry.
fn retries(report: &serde_json::Value) -> Vec<&str> {
    report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|step| step["what"].as_str().is_some_and(|w| w.contains("再実行")))
        .filter_map(|step| step["result"].as_str())
        .collect()
}

#[tokio::test]
async fn maintenance_stops_before_any_login_and_the_job_continues_afterwards() {
    let sim = sim_with("needs-reset", "[faults]\nmaintenance = true\n").await;
    let dir = tempfile::tempdir().expect("dir");
    let path = job(dir.path(), &sim, false);
    let (result, _) = run_job(&path, &sim, None).await;
    let err = result.expect_err("the portal is under maintenance through every retry");
    assert_eq!(err.exit_code(), 7, "{err}");
    assert!(err.to_string().contains("「メンテナンス中」"), "{err}");
    let s = state(&sim).await;
    assert_eq!(
        events(&s, "login") + events(&s, "login_failed"),
        0,
        "no login attempt was spent"
    );

    patch_config(&sim, serde_json::json!({"faults": {"maintenance": false}})).await;
    let (result, _) = run_job(&path, &sim, None).await;
    result.unwrap_or_else(|e| panic!("after the maintenance: {e}"));
    assert_eq!(failed_logins(&state(&sim).await), Vec::<String>::new());
}

#[tokio::test]
async fn a_server_error_after_the_reset_is_survived_without_resetting_again() {
    // The third search of the accounts: the first page after the master's reset
    // and its first login.
    let sim = sim_with(
        "needs-reset",
        "[[faults.http_500]]\npath = \"/oqs/account/search\"\nnth = 3\n",
    )
    .await;
    let dir = tempfile::tempdir().expect("dir");
    let path = job(dir.path(), &sim, false);
    let (result, job) = run_job(&path, &sim, None).await;
    result.unwrap_or_else(|e| panic!("the run starts again by itself and completes: {e}"));
    let s = state(&sim).await;
    assert_eq!(events(&s, "password_reset"), 1, "the retry does not reset again");
    assert_eq!(failed_logins(&s), Vec::<String>::new());
    let report = super::report(&job);
    let retried = retries(&report);
    assert_eq!(retried.len(), 1, "{report}");
    assert!(retried[0].contains("HTTP 500"), "{retried:?}");
}

#[tokio::test]
async fn a_session_that_ends_mid_run_is_logged_in_again_and_the_run_completes() {
    // The upload page's first request finds the session gone; the portal shows its login form.
    let sim = sim_with(
        "needs-reset",
        "[ui]\nsession_end = \"login-form\"\n[[faults.expire_session]]\npath = \"/oqs/bulk/upload\"\nnth = 1\n",
    )
    .await;
    let dir = tempfile::tempdir().expect("dir");
    let path = job(dir.path(), &sim, false);
    let (result, job) = run_job(&path, &sim, None).await;
    result.unwrap_or_else(|e| panic!("the run logs in again and completes: {e}"));
    let s = state(&sim).await;
    assert_eq!(events(&s, "upload_received"), 1, "one upload");
    assert_eq!(events(&s, "password_reset"), 1, "one reset");
    assert_eq!(failed_logins(&s), Vec::<String>::new());
    let report = super::report(&job);
    let retried = retries(&report)
        .iter()
        .filter(|r| r.contains("the session ended"))
        .count();
    assert_eq!(retried, 1, "{report}");
}

#[tokio::test]
async fn a_server_error_answering_the_reset_itself_is_left_to_a_person() {
    // 「パスワード初期化」 is answered with a 500: whether the portal reset the
    // password is unknown, so nothing is tried again without a person.
    let sim = sim_with(
        "needs-reset",
        "[[faults.http_500]]\npath = \"/oqs/account/reset\"\nnth = 1\n",
    )
    .await;
    let dir = tempfile::tempdir().expect("dir");
    let path = job(dir.path(), &sim, false);
    let (result, job) = run_job(&path, &sim, None).await;
    let err = result.expect_err("a person must look");
    assert_eq!(err.exit_code(), 5, "{err}");
    let text = err.to_string();
    assert!(text.contains("HTTP 500") && text.contains("under way"), "{text}");
    assert!(text.contains("reset:"), "{text}");
    let report = super::report(&job);
    assert!(retries(&report).is_empty(), "no retry: {report}");
    assert_eq!(events(&state(&sim).await, "password_reset"), 0);
    // A person looked: the portal never took the reset. The same job, run again, completes.
    let (again, _) = run_job(&path, &sim, None).await;
    again.unwrap_or_else(|e| panic!("the rerun: {e}"));
    assert_eq!(events(&state(&sim).await, "password_reset"), 1);
}
