//! `oqsbot run` killed with SIGKILL at each irreversible step, then run again:
//! the second run continues, repeats nothing, and loses no credential. Checked
//! against the simulator's `/__sim/state`.
// Signals, process groups and /proc: these runs are Linux only.
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common;
use oqs_sim::RunningSim;
use serde_json::Value;

use common::{events, find_account, job, report_in, report_says, sim, sim_with, state};
use oqsbot::cli::RECORDING_LINE;
use oqsbot::job::store::CredentialStore;
use oqsbot::recording::{FILE_NAME, Recording};
use oqsbot::replay::Verdict;

const SCENARIO: &str = "needs-reset";

/// `oqsbot run JOB` as a field engineer starts it, with the secrets in the
/// environment; recording, as by default.
fn start_bot(job: &Path, sim: &RunningSim) -> Child {
    bot(job, sim, true)
}

fn bot(job: &Path, sim: &RunningSim, record: bool) -> Child {
    bot_with(job, sim, record, &[])
}

fn bot_with(job: &Path, sim: &RunningSim, record: bool, options: &[&str]) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_oqsbot"));
    command.arg("run").arg(job).args(options);
    if !record {
        command.arg("--no-record");
    }
    command
        .env("T_CERT", "1357")
        .env("T_SECRET", &sim.scenario().master.secret_number)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("oqsbot starts")
}

fn journal_has(out: &Path, action: &str, phase: &str) -> bool {
    let needle = format!("\"action\":\"{action}\",\"phase\":\"{phase}\"");
    std::fs::read_to_string(out.join("journal.jsonl")).is_ok_and(|j| j.contains(&needle))
}

/// PDFs the browser has finished saving (Chromium renames a download once it is complete).
fn downloaded_pdfs(out: &Path) -> usize {
    std::fs::read_dir(out.join("downloads"))
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten().flatten())
        .filter(|f| f.path().extension().is_some_and(|e| e == "pdf"))
        .count()
}

/// Kills the bot with SIGKILL as soon as `ready` holds; fails if it ends first.
async fn kill_when(bot: &mut Child, mut ready: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    loop {
        tick.tick().await;
        if ready().await {
            bot.kill().expect("SIGKILL");
            bot.wait().expect("reaped");
            return;
        }
        if let Some(status) = bot.try_wait().expect("status") {
            let mut err = String::new();
            if let Some(mut e) = bot.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            panic!("the bot ended ({status}) before the kill point: {err}");
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the kill point never came"
        );
    }
}

/// Runs the bot to its end and returns its exit code.
/// The run after a kill records nothing: the killed one's recording is what a test reads.
async fn run_to_end(job: &Path, sim: &RunningSim) -> i32 {
    let bot = bot(job, sim, false);
    let output = tokio::task::spawn_blocking(move || bot.wait_with_output())
        .await
        .expect("joined")
        .expect("waited");
    if !output.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    }
    output.status.code().unwrap_or(-1)
}

/// Processes still running with this run's browser profile on their command line.
fn browsers_of(out: &Path) -> usize {
    let profile = std::fs::canonicalize(out)
        .unwrap_or_else(|_| out.to_path_buf())
        .join("browser-profile");
    let needle = format!("--user-data-dir={}", profile.display());
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|c| c.split(|b| *b == 0).any(|a| a == needle.as_bytes()))
        .count()
}

/// The end state every crash must reach: done once, each password stored and current.
async fn assert_finished_once(sim: &RunningSim, out: &Path, what: &str) {
    let s: Value = state(sim).await;
    assert_eq!(events(&s, "password_reset"), 1, "{what}: one reset");
    assert_eq!(events(&s, "upload_received"), 1, "{what}: one upload");
    let admin_registrations = s["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "account_registered" && e["user_id"] == "OnsKANRI")
        .count();
    assert_eq!(admin_registrations, 1, "{what}: OnsKANRI registered once");
    // The target password is refused once before the reset. A run killed during the
    // forced change leaves the initial and the target password in doubt: at most one
    // more attempt, far from the lockout.
    let master_failures = s["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "login_failed" && e["user_id"] == sim.scenario().master.user_id)
        .count();
    assert!(
        master_failures <= 2,
        "{what}: {master_failures} failed master logins"
    );
    let store = CredentialStore::open(out).expect("store");
    for id in [
        sim.scenario().master.user_id.as_str(),
        "OnsKANRI",
        "FOFACE01",
        "R0RENK01",
    ] {
        let (pw, _) = store
            .password(id)
            .unwrap_or_else(|| panic!("{what}: {id}'s password is in the store"));
        let account = find_account(&s, id).unwrap_or_else(|| panic!("{what}: {id} exists"));
        assert_eq!(
            account["password"],
            pw.expose(),
            "{what}: {id}'s stored password is current"
        );
        assert_eq!(account["locked"], false, "{what}: {id} is not locked");
    }
    let report = report_in(out);
    assert_eq!(report["exit_code"], 0, "{what}");
    assert_eq!(report["institution_code_read"], sim.scenario().institution.code);
    assert_eq!(browsers_of(out), 0, "{what}: no browser is left running");
}

/// Starts the job, kills it where `ready` says, runs it again to the end, and checks the end state.
async fn crash_and_rerun(what: &str, ready: impl AsyncFnMut(&Path, &RunningSim) -> bool) {
    crash_on(sim(SCENARIO).await, what, ready, |_| {}).await;
}

/// As `crash_and_rerun`, on `sim`; `between` sees the output folder after the kill.
/// Returns the second run's report.
async fn crash_on(
    sim: RunningSim,
    what: &str,
    ready: impl AsyncFnMut(&Path, &RunningSim) -> bool,
    between: impl FnOnce(&Path),
) -> Value {
    let dir = tempfile::tempdir().expect("dir");
    let job_file: PathBuf = job(dir.path(), &sim, false);
    let out = dir.path().join("out");
    let mut ready = ready;
    let mut bot = start_bot(&job_file, &sim);
    kill_when(&mut bot, async || ready(&out, &sim).await).await;
    between(&out);
    assert_eq!(
        run_to_end(&job_file, &sim).await,
        0,
        "{what}: the second run ends 完了"
    );
    assert_finished_once(&sim, &out, what).await;
    report_in(&out)
}

#[tokio::test]
async fn killed_after_the_reset() {
    crash_and_rerun("after the reset", async |out, _| {
        journal_has(out, "reset:H2713107", "done")
    })
    .await;
}

#[tokio::test]
async fn killed_with_the_reset_pdf_saved_but_not_stored() {
    // The window between the PDF landing in the download folder and the credential
    // store is a few milliseconds wide. The run is killed just after the reset, and the
    // output folder is put back to what a kill inside that window leaves: the journal
    // without the reset's end, the store without the issued password.
    let report = crash_on(
        sim(SCENARIO).await,
        "reset PDF not stored",
        async |out, _| journal_has(out, "reset:H2713107", "done"),
        |out| {
            let journal = std::fs::read_to_string(out.join("journal.jsonl")).expect("journal");
            let cut = journal
                .find("\"action\":\"reset:H2713107\",\"phase\":\"done\"")
                .and_then(|at| journal[..at].rfind('\n'))
                .expect("the reset's end");
            std::fs::write(out.join("journal.jsonl"), &journal[..=cut]).expect("journal");
            let store_path = out.join("credentials.json");
            let mut store: Value =
                serde_json::from_str(&std::fs::read_to_string(&store_path).expect("store")).expect("json");
            let master_target = store["secrets"]["target:master"].clone();
            store["accounts"]
                .as_object_mut()
                .expect("accounts")
                .remove("H2713107");
            // Before the reset the target password had been refused, and that was recorded.
            store["failed"]["H2713107"] = serde_json::json!([master_target]);
            std::fs::write(&store_path, serde_json::to_string(&store).expect("json")).expect("store");
            assert_eq!(
                downloaded_pdfs(out),
                1,
                "the reset's PDF is in the download folder"
            );
        },
    )
    .await;
    let recovered = report_says(&report, "前回の実行が受け取った PDF");
    assert!(recovered, "the password came from the saved PDF: {report}");
}

#[tokio::test]
async fn killed_after_the_registration() {
    let kept = tempfile::tempdir().expect("dir");
    let copy = kept.path().join(FILE_NAME);
    crash_on(
        sim(SCENARIO).await,
        "after the registration",
        async |out, _| journal_has(out, "register:OnsKANRI", "done"),
        |out| {
            std::fs::copy(out.join(FILE_NAME), &copy).expect("the killed run left its recording");
        },
    )
    .await;
    // The killed run's recording reads, and replays offline up to its last step.
    let recording = Recording::open(&copy).expect("a killed run's recording reads");
    assert!(
        recording.steps().count() > 20,
        "the steps before the kill are there"
    );
    let work = tempfile::tempdir().expect("dir");
    let outcome = common::replay_in(&recording, work.path()).await;
    assert!(
        matches!(outcome.verdict, Verdict::RecordingEnds | Verdict::Same),
        "{:?}: {:?}",
        outcome.verdict,
        outcome.comparisons.last()
    );
    assert_eq!(outcome.comparisons.len(), recording.steps().count());
}

#[tokio::test]
async fn killed_after_the_registration_over_mutual_tls() {
    let sim = common::sim_mutual(SCENARIO, "").await;
    let mut home_during_the_run = false;
    crash_on(
        sim,
        "after the registration, over mutual TLS",
        async |out, _| journal_has(out, "register:OnsKANRI", "done"),
        |out| home_during_the_run = out.join("browser-home").exists(),
    )
    .await;
    assert!(
        home_during_the_run,
        "the killed run's browser had the certificate in the run's own database"
    );
}

#[tokio::test]
async fn killed_before_the_receipt_is_read() {
    // The page after the upload answers slowly, so the kill lands after the portal took
    // the file and before the run read its 受付番号: the next run must find the upload.
    let slow = "[faults]\nslow = [{ path = \"/oqs/bulk/upload\", ms = 1500 }]\n";
    let report = crash_on(
        sim_with(SCENARIO, slow).await,
        "receipt not read",
        async |out, sim| {
            events(&state(sim).await, "upload_received") >= 1
                && !journal_has(out, "upload:accounts.csv", "done")
        },
        |_| {},
    )
    .await;
    let found = report_says(&report, "前回の実行が中断したアップロードを確認しました");
    assert!(found, "the second run adopted the upload it found: {report}");
}

#[tokio::test]
async fn killed_after_the_upload() {
    crash_and_rerun("after the upload", async |out, _| {
        journal_has(out, "upload:accounts.csv", "done")
    })
    .await;
}

#[tokio::test]
async fn interrupted_with_ctrl_c() {
    let sim = sim(SCENARIO).await;
    let dir = tempfile::tempdir().expect("dir");
    let job_file = job(dir.path(), &sim, false);
    let out = dir.path().join("out");
    let mut bot = start_bot(&job_file, &sim);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    while !journal_has(&out, "register:OnsKANRI", "done") {
        tick.tick().await;
        if let Some(status) = bot.try_wait().expect("status") {
            let mut err = String::new();
            if let Some(mut e) = bot.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            panic!("the bot ended ({status}) before the registration: {err}");
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the registration never came"
        );
    }
    let pid = i32::try_from(bot.id()).expect("pid");
    // SAFETY: kill(2) on the child we started and have not reaped.
    unsafe {
        libc::kill(pid, libc::SIGINT);
    }
    let status = tokio::task::spawn_blocking(move || bot.wait())
        .await
        .expect("joined")
        .expect("waited");
    assert_eq!(status.code(), Some(130), "Ctrl-C ends with 130");
    assert_eq!(browsers_of(&out), 0, "Ctrl-C leaves no browser running");
    assert_eq!(run_to_end(&job_file, &sim).await, 0, "the second run ends 完了");
    assert_finished_once(&sim, &out, "Ctrl-C").await;
}

#[tokio::test]
async fn killed_when_the_master_password_was_changed() {
    // The portal has the new password; the store may still call it the initial one.
    crash_and_rerun("master password changed", async |out, sim| {
        let s = state(sim).await;
        journal_has(out, "password:H2713107", "intent")
            && events(&s, "password_reset") == 1
            && find_account(&s, "H2713107").is_some_and(|a| a["must_change"] == false)
    })
    .await;
}

/// A second `oqsbot run` of the same job, started while the first works, is
/// refused at once, names the first, and leaves its browser alone.
#[tokio::test]
async fn a_second_run_of_the_same_job_is_refused_and_the_first_goes_on() {
    let sim = sim(SCENARIO).await;
    let dir = tempfile::tempdir().expect("dir");
    let path = job(dir.path(), &sim, false);
    let out = dir.path().join("out");
    // The first run's recording is not what this test reads.
    let mut first = bot(&path, &sim, false);
    let first_pid = first.id();
    // The first run's browser is up: ④ has begun.
    wait_while_running(&mut first, async || browsers_of(&out) > 0).await;

    let second = {
        let (path, sim_secret) = (path.clone(), sim.scenario().master.secret_number.clone());
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_oqsbot"))
                .arg("run")
                .arg(&path)
                .env("T_CERT", "1357")
                .env("T_SECRET", sim_secret)
                .stdin(Stdio::null())
                .output()
                .expect("the second oqsbot runs")
        })
        .await
        .expect("joined")
    };
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(6), "{stderr}");
    assert!(stderr.contains("another oqsbot is working"), "{stderr}");
    assert!(stderr.contains(&format!("process {first_pid}")), "{stderr}");
    assert!(!stderr.contains(RECORDING_LINE), "{stderr}");

    let output = tokio::task::spawn_blocking(move || first.wait_with_output())
        .await
        .expect("joined")
        .expect("waited");
    assert!(
        output.status.success(),
        "the first run was disturbed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_finished_once(&sim, &out, "two runs at once").await;
}

/// The driver stops answering, as chromedriver was seen to on a loaded machine
/// (here SIGSTOP), after the portal took the upload and before the run read its
/// 受付番号. The run gives that browser up, starts a fresh one by itself, finds
/// its upload on アカウント一括登録結果 and finishes without uploading again.
#[tokio::test]
async fn a_driver_that_stops_answering_is_replaced_and_the_run_goes_on() {
    lose_the_browser_mid_upload("a driver that stopped answering", libc::SIGSTOP, |bot| {
        children_of(bot, "chromedriver")
    })
    .await;
}

#[tokio::test]
async fn a_driver_killed_mid_step_is_replaced_and_the_run_goes_on() {
    lose_the_browser_mid_upload("a killed driver", libc::SIGKILL, |bot| {
        children_of(bot, "chromedriver")
    })
    .await;
}

#[tokio::test]
async fn a_browser_killed_mid_step_is_replaced_and_the_run_goes_on() {
    lose_the_browser_mid_upload("a killed browser", libc::SIGKILL, |bot| {
        children_of(bot, "chromedriver")
            .into_iter()
            .flat_map(|driver| children_of(u32::try_from(driver).unwrap_or_default(), "chrom"))
            .collect()
    })
    .await;
}

/// Sends `signal` to the processes `targets` names (given the bot's pid) once the
/// portal has the upload and the run has not read its 受付番号; the run must
/// finish by itself, once, with one upload.
async fn lose_the_browser_mid_upload(what: &str, signal: i32, targets: impl Fn(u32) -> Vec<i32>) {
    let slow = "[faults]\nslow = [{ path = \"/oqs/bulk/upload\", ms = 1500 }]\n";
    let sim = sim_with(SCENARIO, slow).await;
    let dir = tempfile::tempdir().expect("dir");
    let job_file = job(dir.path(), &sim, false);
    let out = dir.path().join("out");
    // The least the run takes (the page-load limit and 5 s); the default would make the test slow.
    let mut bot = bot_with(&job_file, &sim, false, &["--driver-answer-secs", "35"]);
    let bot_pid = bot.id();
    let mut hit = Vec::new();
    wait_while_running(&mut bot, async || {
        if events(&state(&sim).await, "upload_received") >= 1
            && !journal_has(&out, "upload:accounts.csv", "done")
        {
            hit = targets(bot_pid);
        }
        !hit.is_empty()
    })
    .await;
    for pid in &hit {
        // SAFETY: kill(2) on a process our child started; at worst it is gone already.
        unsafe {
            libc::kill(*pid, signal);
        }
    }
    let output = tokio::task::spawn_blocking(move || bot.wait_with_output())
        .await
        .expect("joined")
        .expect("waited");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{what}: the run did not finish: {stderr}"
    );
    let report = report_in(&out);
    let restarts: Vec<&Value> = report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["what"] == "ブラウザが応答しなくなったため、新しいブラウザで最初から再実行")
        .collect();
    assert_eq!(
        restarts.len(),
        1,
        "{what}: the report tells of one fresh browser: {report}"
    );
    assert!(
        restarts[0]["result"]
            .as_str()
            .is_some_and(|r| r.contains("bulk-upload")),
        "{what}: and of where the old one stopped: {report}"
    );
    assert!(
        report_says(&report, "前回の実行が中断したアップロードを確認しました"),
        "{what}: the fresh browser found the upload rather than making another: {report}"
    );
    assert_finished_once(&sim, &out, what).await;
    for pid in hit {
        assert!(process_is_zombie(pid), "{what}: process {pid} was ended");
    }
}

/// The processes `parent` started whose name begins with `name`.
fn children_of(parent: u32, name: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // "pid (comm) state ppid ...": comm may hold spaces, so read after its ')'.
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                return false;
            };
            let comm = &stat[open + 1..close];
            let ppid = stat[close + 1..].split_whitespace().nth(1);
            comm.starts_with(name) && ppid == Some(parent.to_string().as_str())
        })
        .collect()
}

/// Gone, or ended and waiting for its parent to read its status.
fn process_is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 1..].trim_start().starts_with('Z')))
        .unwrap_or(true)
}

/// Waits until `ready` holds while the bot runs; fails if it ends first.
async fn wait_while_running(bot: &mut Child, mut ready: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    loop {
        tick.tick().await;
        if ready().await {
            return;
        }
        if let Some(status) = bot.try_wait().expect("status") {
            panic!("the bot ended ({status}) before the point the test waits for");
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the point the test waits for never came"
        );
    }
}

/// Every secret a run's credential store holds: passwords current, earlier
/// and refused, and the other secrets.
fn stored_secrets(out: &Path) -> Vec<String> {
    fn walk(v: &Value, key: &str, found: &mut Vec<String>) {
        match v {
            Value::Object(map) => map.iter().for_each(|(k, x)| walk(x, k, found)),
            Value::Array(list) => list.iter().for_each(|x| walk(x, key, found)),
            Value::String(s) if !matches!(key, "origin" | "recorded_at") => found.push(s.clone()),
            _ => {}
        }
    }
    let text = std::fs::read_to_string(out.join("credentials.json")).expect("credentials.json");
    let mut found = Vec::new();
    walk(&serde_json::from_str(&text).expect("JSON"), "", &mut found);
    found
}

/// Whether `secret` stands in `text` as itself, not inside a longer run of
/// letters and digits (a 4-digit PIN inside a port number or a time).
fn stands_in(text: &str, secret: &str) -> bool {
    text.match_indices(secret).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + secret.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric())
            && !after.is_some_and(|c| c.is_ascii_alphanumeric())
    })
}

/// The most talkative log there is holds none of the run's secrets, whoever
/// logs them: oqsbot, or a dependency that logs what was typed.
#[tokio::test]
async fn a_run_at_rust_log_trace_prints_no_secret() {
    let sim = sim(SCENARIO).await;
    let dir = tempfile::tempdir().expect("dir");
    let path = job(dir.path(), &sim, false);
    let out = dir.path().join("out");
    let secret_number = sim.scenario().master.secret_number.clone();
    let output = {
        let (path, secret_number) = (path.clone(), secret_number.clone());
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_oqsbot"))
                .arg("run")
                .arg(&path)
                .env("T_CERT", "1357")
                .env("T_SECRET", secret_number)
                .env("RUST_LOG", "trace")
                .arg("--no-record")
                .stdin(Stdio::null())
                .output()
                .expect("oqsbot runs")
        })
        .await
        .expect("joined")
    };
    let log = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "{}",
        log.lines().rev().take(30).collect::<Vec<_>>().join("\n")
    );
    assert!(
        log.lines().count() > 100,
        "a trace log says a lot: {} lines",
        log.lines().count()
    );
    let mut secrets = stored_secrets(&out);
    secrets.push(secret_number);
    secrets.push("1357".into());
    assert!(secrets.len() >= 6, "{} secrets found", secrets.len());
    for secret in &secrets {
        let found = if secret.len() < 8 {
            stands_in(&log, secret)
        } else {
            log.contains(secret.as_str())
        };
        assert!(!found, "a secret of {} characters is in the log", secret.len());
    }
}
