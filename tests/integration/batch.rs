//! `oqsbot run DIR --jobs N`: several institutions at once, each its own
//! `oqsbot run` in a real browser against its own simulated portal.
// Signals and file modes: Linux only, as the other run tests.
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common;

use common::{events, failed_logins, find_account as account, not_owner_only, sim, state};
use oqs_sim::RunningSim;
use serde_json::Value;

/// A job for `sim` in `desk/NAME.toml`, its PDF and output under `work/NAME`,
/// its secret number in `T_SECRET_NAME`.
fn desk_job(root: &Path, name: &str, sim: &RunningSim, admin_password_env: bool) -> PathBuf {
    let work = root.join("work").join(name);
    std::fs::create_dir_all(&work).expect("work");
    let written = common::job(&work, sim, admin_password_env);
    let text = std::fs::read_to_string(&written).expect("job");
    let at = |file: &str| format!("\"../work/{name}/{file}\"");
    let moved = text
        .replace("\"master.pdf\"", &at("master.pdf"))
        .replace("\"ca.pem\"", &at("ca.pem"))
        .replace("dir = \"out\"", &format!("dir = {}", at("out")))
        .replace("\"T_SECRET\"", &format!("\"T_SECRET_{}\"", name.to_uppercase()));
    let desk = root.join("desk");
    std::fs::create_dir_all(&desk).expect("desk");
    let path = desk.join(format!("{name}.toml"));
    std::fs::write(&path, moved).expect("job");
    path
}

fn out_of(root: &Path, name: &str) -> PathBuf {
    root.join("work").join(name).join("out")
}

/// `oqsbot run desk …`, awaited so that the simulators in this process go on serving.
async fn batch(root: &Path, sims: &[(&str, &RunningSim)], args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_oqsbot"));
    command
        .arg("run")
        .arg(root.join("desk"))
        .args(args)
        .arg("--no-record");
    for (name, sim) in sims {
        command.env(
            format!("T_SECRET_{}", name.to_uppercase()),
            &sim.scenario().master.secret_number,
        );
    }
    command
        .env("T_CERT", "1357")
        .env("T_ADMIN", "OnsAdmin@00369")
        .env("T_ACCOUNTS", "OnsAdmin@00369")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("oqsbot runs")
}

fn report(root: &Path, name: &str) -> Value {
    common::report_in(&out_of(root, name))
}

fn requests(s: &Value) -> u64 {
    s["requests"]
        .as_object()
        .expect("requests")
        .values()
        .filter_map(Value::as_u64)
        .sum()
}

/// The files `index.html` links to, percent-decoded and taken from its folder.
fn linked_files(index: &Path) -> Vec<PathBuf> {
    let html = std::fs::read_to_string(index).expect("index.html");
    let base = index.parent().expect("folder");
    html.split("href=\"")
        .skip(1)
        .map(|rest| {
            let href = &rest[..rest.find('"').expect("closing quote")];
            base.join(decode(href))
        })
        .collect()
}

fn decode(href: &str) -> String {
    let bytes = href.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&href[i + 1..i + 3], 16).expect("hex"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("utf-8")
}

#[tokio::test]
async fn several_jobs_run_at_once_and_the_same_command_continues_only_the_unfinished() {
    let needs_reset = sim("needs-reset").await;
    let pharmacy = sim("pharmacy").await;
    // Someone spent OnsKANRI's attempts: this job stops for a person.
    let locked = sim("admin-locked").await;
    let root = tempfile::tempdir().expect("dir");
    let root = root.path();
    desk_job(root, "a", &needs_reset, false);
    desk_job(root, "b", &pharmacy, false);
    desk_job(root, "c", &locked, true);
    // A job file with a mistake is reported, and the others run.
    std::fs::write(root.join("desk/d.toml"), "[institution]\ncode = \"1312345678\"\n").expect("job");
    let sims = [("a", &needs_reset), ("b", &pharmacy), ("c", &locked)];

    let first = batch(root, &sims, &["--jobs", "2"]).await;
    let stdout = String::from_utf8_lossy(&first.stdout);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert_eq!(
        first.status.code(),
        Some(1),
        "one job stopped\n{stdout}\n{stderr}"
    );

    // Each portal got its job, whole, and no login that could fail.
    let s = state(&needs_reset).await;
    assert_eq!(failed_logins(&s), Vec::<String>::new());
    assert_eq!(events(&s, "password_reset"), 1);
    assert!(account(&s, "OnsKANRI").is_some() && account(&s, "R0RENK01").is_some());
    let s = state(&pharmacy).await;
    assert_eq!(failed_logins(&s), Vec::<String>::new());
    assert!(account(&s, "R1RENK01").is_some());
    let s = state(&locked).await;
    assert_eq!(
        failed_logins(&s),
        ["OnsKANRI".to_string()],
        "one look at the locked admin"
    );
    assert_eq!(events(&s, "password_reset"), 0);

    // The first two ran at the same time, each in its own folder.
    let (a, b) = (report(root, "a"), report(root, "b"));
    let time = |r: &Value, key: &str| {
        chrono::DateTime::parse_from_rfc3339(r[key].as_str().expect(key)).expect("time")
    };
    assert!(
        time(&a, "started") < time(&b, "finished") && time(&b, "started") < time(&a, "finished"),
        "--jobs 2 runs two at once: a {a:?}\nb {b:?}"
    );
    assert_eq!(a["exit_code"], 0);
    // Each flow step of the report says what it cost in WebDriver commands.
    let flow_steps: Vec<&Value> = a["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s.get("webdriver").is_some())
        .collect();
    assert!(flow_steps.len() > 10, "{a:?}");
    assert!(
        flow_steps
            .iter()
            .all(|s| s["webdriver"]["commands"].as_u64() > Some(0))
    );
    assert_eq!(b["exit_code"], 0);
    assert_eq!(report(root, "c")["exit_code"], 5);
    for name in ["a", "b", "c"] {
        let out = out_of(root, name);
        for file in ["report.html", "journal.jsonl", "credentials.json", "run.log"] {
            assert!(out.join(file).is_file(), "{name}: {file}");
        }
        assert_eq!(not_owner_only(&out), Vec::<String>::new(), "{name}");
    }
    let log = std::fs::read_to_string(out_of(root, "c").join("run.log")).expect("log");
    assert!(log.contains("locked"), "the stopped job's log says why: {log}");
    assert!(
        log.contains("停止しました (終了コード 5)") && log.contains("担当者の確認が必要です"),
        "and, in Japanese, what to do next: {log}"
    );
    let done = std::fs::read_to_string(out_of(root, "a").join("run.log")).expect("log");
    assert!(
        done.contains("完了: Web 側の作業はすべて終わりました。"),
        "{done}"
    );
    assert!(done.contains("次の作業:"), "{done}");
    // A job's standard output is its log file, not a terminal: a plain line per
    // step, the step's name first, with no timestamp or spinner.
    assert!(
        done.lines().any(|l| l == "管理アカウントの登録 (補足① 2-②) …")
            && done
                .lines()
                .any(|l| l.starts_with("管理アカウントの登録 (補足① 2-②): 完了 (") && l.ends_with(" s)")),
        "{done}"
    );
    // The wait's last look, with the final status (the looks before it depend
    // on how long the upload took).
    assert!(
        done.lines()
            .any(|l| l.starts_with("登録状況: 登録完了 (受付番号 ") && l.contains(", 待ち ")),
        "the status as the wait ended: {done}"
    );
    let spinner = |c: char| c == '\r' || c == '\u{1b}' || ('\u{2800}'..='\u{28ff}').contains(&c);
    assert!(!done.contains(spinner), "{done}");
    assert!(!log.contains('\u{1b}'), "no colour codes in a log file");

    // The summary: a row per job, with why a job stopped.
    let row = |code: &str| summary_row(&stdout, code);
    assert!(row("2713107890").contains("完了"), "{stdout}");
    assert!(row("1342304563").contains("完了"), "{stdout}");
    assert!(row("1311301012").contains("担当者の確認が必要"), "{stdout}");
    assert!(stdout.contains("ジョブファイルの誤り"), "{stdout}");
    let index = root.join("desk/index.html");
    let linked: Vec<PathBuf> = linked_files(&index)
        .iter()
        .map(|f| {
            f.canonicalize()
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()))
        })
        .collect();
    let real = |name: &str, file: &str| out_of(root, name).join(file).canonicalize().expect("real");
    assert!(linked.contains(&real("a", "report.html")), "{linked:?}");
    assert!(linked.contains(&real("c", "run.log")), "{linked:?}");
    assert_eq!(linked.len(), 6, "three reports and three logs: {linked:?}");
    for file in &linked {
        assert!(
            file.is_file(),
            "index.html links to a file that is there: {}",
            file.display()
        );
    }
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("desk/summary.json")).expect("json"))
            .expect("json");
    let codes: Vec<u64> = summary["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| j["exit_code"].as_u64().expect("code"))
        .collect();
    assert_eq!(codes, [0, 0, 5, 2], "in name order");

    // The passwords the runs set or were handed are in the stores, never in a log or the summary.
    let mut written = String::new();
    for file in ["desk/summary.json", "desk/index.html"] {
        written.push_str(&std::fs::read_to_string(root.join(file)).expect(file));
    }
    for name in ["a", "b", "c"] {
        written.push_str(&std::fs::read_to_string(out_of(root, name).join("run.log")).expect("log"));
    }
    for name in ["a", "b", "c"] {
        for secret in passwords_in_store(&out_of(root, name)) {
            assert!(
                !written.contains(&secret),
                "{name}: a stored password in a log or the summary"
            );
        }
    }

    // Again: the finished jobs are not touched; the stopped one runs again.
    let before = (
        requests(&state(&needs_reset).await),
        requests(&state(&pharmacy).await),
    );
    let locked_before = requests(&state(&locked).await);
    let second = batch(root, &sims, &["--jobs", "2"]).await;
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert_eq!(second.status.code(), Some(1), "{stdout}");
    assert_eq!(
        (
            requests(&state(&needs_reset).await),
            requests(&state(&pharmacy).await)
        ),
        before,
        "finished jobs are not run again"
    );
    assert!(
        requests(&state(&locked).await) > locked_before,
        "the stopped job ran again"
    );
    assert!(stdout.contains("完了 (前回)"), "{stdout}");
}

#[test]
fn two_jobs_on_one_output_folder_refuse_the_batch_before_anything_starts() {
    let root = tempfile::tempdir().expect("dir");
    let desk = root.path().join("desk");
    std::fs::create_dir(&desk).expect("desk");
    let job = |code: &str| {
        format!(
            "[institution]\ncode = \"{code}\"\nname = \"テスト医院\"\n[sites]\ncert_url = \"http://127.0.0.1:9/\"\noqs_url = \"http://127.0.0.1:9/\"\n\
             [certificate]\nrequest_id = \"R1\"\nreference_id = \"F1\"\npassword_env = \"T_CERT\"\n\
             [master]\nuser_id = \"H2713107\"\npdf = \"master.pdf\"\n[output]\ndir = \"same\"\n"
        )
    };
    std::fs::write(desk.join("a.toml"), job("2713107890")).expect("job");
    std::fs::write(desk.join("b.toml"), job("1342304563")).expect("job");
    let output = Command::new(env!("CARGO_BIN_EXE_oqsbot"))
        .arg("run")
        .arg(&desk)
        .stdin(Stdio::null())
        .output()
        .expect("oqsbot runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("a.toml") && stderr.contains("b.toml"), "{stderr}");
    assert!(stderr.contains("output folder"), "{stderr}");
    assert!(!desk.join("same").exists(), "nothing started");
    assert!(
        !desk.join("index.html").exists(),
        "no summary of a batch that never ran"
    );
}

/// Ctrl-C on the batch: the running job stops as `oqsbot run` does, ready to
/// continue; no further job starts; the same command then finishes both.
#[tokio::test]
async fn an_interrupted_batch_starts_nothing_more_and_continues_when_run_again() {
    let needs_reset = sim("needs-reset").await;
    let pharmacy = sim("pharmacy").await;
    let root = tempfile::tempdir().expect("dir");
    let root = root.path();
    desk_job(root, "a", &needs_reset, false);
    desk_job(root, "b", &pharmacy, false);
    let sims = [("a", &needs_reset), ("b", &pharmacy)];
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_oqsbot"));
    command
        .arg("run")
        .arg(root.join("desk"))
        .arg("--no-record")
        .env("T_CERT", "1357")
        .env("T_SECRET_A", &needs_reset.scenario().master.secret_number)
        .env("T_SECRET_B", &pharmacy.scenario().master.secret_number)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let bot = command.spawn().expect("oqsbot starts");
    let journal = out_of(root, "a").join("journal.jsonl");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(20));
    // In the middle of the first job: its admin registered.
    while !std::fs::read_to_string(&journal)
        .is_ok_and(|j| j.contains("\"action\":\"register:OnsKANRI\",\"phase\":\"done\""))
    {
        tick.tick().await;
        assert!(
            tokio::time::Instant::now() < deadline,
            "the registration never came"
        );
    }
    let pid = i32::try_from(bot.id().expect("running")).expect("pid");
    // SAFETY: kill(2) on the child we started and have not reaped; only the batch
    // itself is told, as when Ctrl-C reaches it alone.
    unsafe {
        libc::kill(pid, libc::SIGINT);
    }
    let output = bot.wait_with_output().await.expect("waited");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stdout}\n{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let row = |code: &str| summary_row(&stdout, code);
    assert!(row("2713107890").contains("中断"), "{stdout}");
    assert!(row("1342304563").contains("未実行"), "{stdout}");
    assert_eq!(
        requests(&state(&pharmacy).await),
        0,
        "the second job never started"
    );
    let log = std::fs::read_to_string(out_of(root, "a").join("run.log")).expect("log");
    assert!(log.contains("run the same job again to continue"), "{log}");

    let again = batch(root, &sims, &[]).await;
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert_eq!(again.status.code(), Some(0), "{stdout}");
    let s = state(&needs_reset).await;
    assert_eq!(events(&s, "password_reset"), 1, "the reset is not done again");
    let admin_registered = s["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "account_registered" && e["user_id"] == "OnsKANRI")
        .count();
    assert_eq!(admin_registered, 1, "OnsKANRI is not registered again");
    assert_eq!(events(&s, "upload_received"), 1);
    assert_eq!(failed_logins(&s), Vec::<String>::new());
    assert!(find(&state(&pharmacy).await, "R1RENK01"), "the second job ran");
}

/// The passwords a credential store holds (8 characters and more: the short
/// secret number and PIN could match digits of a time stamp).
fn passwords_in_store(out: &Path) -> Vec<String> {
    fn walk(v: &Value, key: &str, found: &mut Vec<String>) {
        match v {
            Value::Object(o) => o.iter().for_each(|(k, v)| walk(v, k, found)),
            Value::Array(a) => a.iter().for_each(|v| walk(v, key, found)),
            Value::String(s) if s.len() >= 8 && !matches!(key, "origin" | "recorded_at" | "user_id") => {
                found.push(s.clone())
            }
            _ => {}
        }
    }
    let text = std::fs::read_to_string(out.join("credentials.json")).expect("store");
    let mut found = Vec::new();
    walk(
        &serde_json::from_str(&text).expect("store is JSON"),
        "",
        &mut found,
    );
    assert!(!found.is_empty(), "{} holds passwords", out.display());
    found
}

/// The summary table's row for an institution.
fn summary_row(stdout: &str, code: &str) -> String {
    stdout
        .lines()
        .rev()
        .find(|l| l.starts_with(code))
        .unwrap_or_else(|| panic!("no row for {code}:\n{stdout}"))
        .to_string()
}

fn find(s: &Value, user: &str) -> bool {
    account(s, user).is_some()
}
