//! Answers the simulator does not give on demand, served by wiremock in place
//! of one recorded response of a real simulator run: a server error, a
//! maintenance page, the login form of an ended session, a renamed button, and
//! a response that never comes. Each must stop the flow with the error and the
//! exit code a field engineer can act on.

use std::path::PathBuf;
use std::time::Duration;

use oqsbot::flow::FailureKind;
use oqsbot::job::run::RunError;
use oqsbot::recording::Recording;
use oqsbot::replay::{Answer, ChangedAnswer, ReplayOptions, ReplayOutcome, Verdict, replay};

fn fixture() -> Recording {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("recordings/reset-and-register.oqsrec");
    Recording::open(&path).expect("the fixture opens")
}

/// The first search of the accounts: the reset account's first page after its login.
const SEARCH: &str = "/oqs/account/search";

fn change(method: &str, path: &str, answer: Answer) -> ChangedAnswer {
    ChangedAnswer {
        method: method.into(),
        path: path.into(),
        nth: 1,
        answer,
    }
}

async fn replay_with(
    recording: &Recording,
    changes: Vec<ChangedAnswer>,
    dir: &std::path::Path,
) -> ReplayOutcome {
    let mut browser = oqsbot::browser::BrowserOptions::new(dir.join("downloads"));
    // Short, so that the never-answering page is given up on soon.
    browser.page_load_timeout = Duration::from_secs(6);
    browser.step_timeout = Duration::from_secs(4);
    let options = ReplayOptions {
        flows_dir: None,
        browser,
        work_dir: dir.join("replay"),
        changes,
    };
    replay(recording, options).await.expect("the replay runs")
}

/// The step the replay stopped at, its failure as a run would report it, and the run's exit code.
fn stopped(outcome: ReplayOutcome) -> (String, FailureKind, String, u8) {
    let Verdict::Diverged(i) = outcome.verdict else {
        panic!(
            "the replay should stop where the answer changed: {:?}",
            outcome.verdict
        );
    };
    let step = outcome.comparisons[i]
        .replayed
        .as_ref()
        .map(|s| format!("{} {}", s.flow, s.step))
        .unwrap_or_default();
    let failure = outcome.failure.expect("the replayed flow failed");
    let kind = failure.kind;
    let run = RunError::from_flow(failure);
    (step, kind, run.to_string(), run.exit_code())
}

/// The recorded login page (a real one, from the simulator), served where another page was due.
fn recorded_login_page(recording: &Recording) -> String {
    let body = recording
        .steps()
        .flat_map(|s| s.responses.iter())
        .find(|r| r.method == "GET" && r.url.ends_with("/oqs/login"))
        .and_then(|r| r.body.clone())
        .and_then(|hash| recording.resource(&hash))
        .expect("the recording holds the login page");
    String::from_utf8(body).expect("the login page is UTF-8")
}

#[tokio::test]
async fn an_http_500_stops_with_the_portals_fault_and_exit_7() {
    let dir = tempfile::tempdir().expect("dir");
    let page = "<html><head><title>エラー</title></head><body><p>ただいま処理できません。</p></body></html>";
    let outcome = replay_with(
        &fixture(),
        vec![change(
            "GET",
            SEARCH,
            Answer::Page {
                status: 500,
                html: page.into(),
            },
        )],
        dir.path(),
    )
    .await;
    let (step, kind, message, code) = stopped(outcome);
    assert_eq!(step, "reset-master-password 3", "{message}");
    assert_eq!(kind, FailureKind::Unavailable, "{message}");
    assert!(message.contains("HTTP 500"), "{message}");
    assert!(message.contains("Run the same job again later"), "{message}");
    assert_eq!(code, 7, "{message}");
}

#[tokio::test]
async fn a_maintenance_page_stops_before_any_login_attempt() {
    let dir = tempfile::tempdir().expect("dir");
    // Served with 200, and its note names the login and a lock: neither is an answer.
    let page = "<html><head><title>オンライン資格確認等システム</title></head><body>\
        <h1>システムメンテナンス中</h1>\
        <p>メンテナンス中はログインできません。続けて失敗するとアカウントがロックされることがあります。</p>\
        </body></html>";
    let recording = fixture();
    let outcome = replay_with(
        &recording,
        vec![change(
            "GET",
            "/oqs/",
            Answer::Page {
                status: 200,
                html: page.into(),
            },
        )],
        dir.path(),
    )
    .await;
    let replayed: Vec<String> = outcome
        .comparisons
        .iter()
        .filter_map(|c| c.replayed.as_ref())
        .map(|s| format!("{} {}", s.flow, s.step))
        .collect();
    assert!(
        !replayed.iter().any(|s| s == "login 6"),
        "no ログイン was clicked: {replayed:?}"
    );
    let (step, kind, message, code) = stopped(outcome);
    assert_eq!(step, "login 3", "{message}");
    assert_eq!(kind, FailureKind::Unavailable, "{message}");
    assert!(message.contains("「システムメンテナンス中」"), "{message}");
    assert_eq!(code, 7, "{message}");
}

#[tokio::test]
async fn the_login_form_in_place_of_the_next_page_is_an_ended_session() {
    let dir = tempfile::tempdir().expect("dir");
    let recording = fixture();
    let login = recorded_login_page(&recording);
    let outcome = replay_with(
        &recording,
        vec![change(
            "GET",
            SEARCH,
            Answer::Page {
                status: 200,
                html: login,
            },
        )],
        dir.path(),
    )
    .await;
    let (step, kind, message, code) = stopped(outcome);
    assert_eq!(step, "reset-master-password 3", "{message}");
    assert_eq!(kind, FailureKind::SessionEnded, "{message}");
    assert!(message.contains("the session ended"), "{message}");
    assert_eq!(code, 7, "{message}");
}

#[tokio::test]
async fn a_renamed_button_needs_a_person_and_names_the_label() {
    let dir = tempfile::tempdir().expect("dir");
    let outcome = replay_with(
        &fixture(),
        vec![change(
            "GET",
            "/oqs/account/detail?uid=H2713107",
            Answer::Edited {
                from: "パスワード初期化".into(),
                to: "パスワードリセット".into(),
            },
        )],
        dir.path(),
    )
    .await;
    let (step, kind, message, code) = stopped(outcome);
    assert_eq!(step, "reset-master-password 5", "{message}");
    assert_eq!(kind, FailureKind::NotFound, "{message}");
    assert!(message.contains("パスワード初期化"), "{message}");
    assert!(message.contains("fix the flow file"), "{message}");
    assert_eq!(code, 5, "{message}");
}

#[tokio::test]
async fn a_page_that_never_comes_times_out_with_exit_4() {
    let dir = tempfile::tempdir().expect("dir");
    let outcome = replay_with(&fixture(), vec![change("GET", SEARCH, Answer::Never)], dir.path()).await;
    let (step, kind, message, code) = stopped(outcome);
    assert!(step.starts_with("reset-master-password "), "{step}: {message}");
    assert_eq!(kind, FailureKind::Timeout, "{message}");
    assert_eq!(code, 4, "{message}");
    assert!(message.contains("the portal did not answer"), "{message}");
}
