//! `oqsbot run`: one job, or several at once, each as its own process.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::job::outcome::Exit;

use super::{BrowserArgs, RecordingArgs};

/// How a run names its recording in its last lines, before the file's path and size.
pub const RECORDING_LINE: &str = "実行の記録 (サポート窓口へ送るファイル)";

/// How long a remote WebDriver may take to end a session the run left open.
const REMOTE_END_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Ends the remote browser a run left open (interrupted, or stopped on an
/// error): a Selenium Grid would keep its slot until its own time-out.
/// One job per process, so every open session is this job's.
async fn end_remote_sessions() {
    let open = crate::browser::open_remote_sessions();
    if open == 0 {
        return;
    }
    let ended = crate::browser::end_remote_sessions(REMOTE_END_LIMIT).await;
    if ended < open {
        eprintln!(
            "oqsbot: the remote WebDriver did not end {} browser session(s); it frees them at its own time-out",
            open - ended
        );
    }
}

pub(super) async fn run_job(job: &crate::job::JobFile, options: &crate::job::run::RunOptions) -> ExitCode {
    let started = std::time::SystemTime::now();
    let (result, dir) = tokio::select! {
        r = crate::job::run::run(job, options) => r,
        _ = tokio::signal::ctrl_c() => {
            crate::progress::finish();
            // A second Ctrl-C does not wait for the remote WebDriver.
            tokio::select! {
                _ = end_remote_sessions() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            eprintln!("oqsbot: interrupted; run the same job again to continue");
            return Exit::Interrupted.into();
        }
    };
    // The last lines are not drawn over by a spinner.
    crate::progress::finish();
    end_remote_sessions().await;
    let report = dir.join("report.html");
    let recording = dir.join(crate::recording::FILE_NAME);
    // Only this run's: a run refused before it began leaves the last one's in place,
    // and a folder another run holds is that run's.
    let busy = matches!(result, Err(crate::job::run::RunError::Lock(_)));
    if options.record
        && !busy
        && let Ok(meta) = std::fs::metadata(&recording)
        && meta.modified().is_ok_and(|m| m >= started)
    {
        eprintln!(
            "{RECORDING_LINE}: {} ({} KB)",
            recording.display(),
            meta.len().div_ceil(1024)
        );
    }
    match result {
        Ok(()) => {
            println!("完了: Web 側の作業はすべて終わりました。");
            println!("レポート: {}", report.display());
            println!(
                "次の作業: レポートの「残りの Windows 作業」を順に行ってください。お客様への引き渡し票は oqsbot credentials sheet (ジョブファイル) で作れます。"
            );
            Exit::Done.into()
        }
        Err(e) => {
            // A batch copies this line into its summary: scrubbed as a log line is.
            eprintln!("oqsbot: {}", crate::secret::redact_for_log(&e.to_string()));
            eprintln!(
                "停止しました (終了コード {})。{}",
                e.exit_code(),
                e.next_step_ja()
            );
            if report.exists() {
                eprintln!("レポート: {}", report.display());
            }
            e.exit().into()
        }
    }
}

/// Several jobs: each as its own `oqsbot run JOB`, with one summary at the end.
pub(super) async fn run_batch(
    args: &[PathBuf],
    parallel: usize,
    summary: Option<PathBuf>,
    child_args: Vec<OsString>,
) -> ExitCode {
    use super::batch::{self, Progress};
    let planned = match batch::job_files(args).and_then(batch::plan) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("oqsbot: {e}");
            return Exit::Input.into();
        }
    };
    let summary_dir = summary.unwrap_or_else(|| match args {
        [dir] if dir.is_dir() => dir.clone(),
        _ => planned
            .first()
            .and_then(|p| p.path.parent())
            .map(|p| {
                if p.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    p.to_path_buf()
                }
            })
            .unwrap_or_else(|| PathBuf::from(".")),
    });
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("oqsbot: cannot find this program's own file to run each job: {e}");
            return Exit::Broken.into();
        }
    };
    let options = batch::BatchOptions {
        parallel,
        exe,
        child_args,
    };
    println!(
        "{} jobs, {parallel} at a time; each job's output goes to {} in its folder",
        planned.len(),
        batch::LOG_FILE
    );
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let outcomes = batch::run(planned, &options, interrupt, |event| match event {
        Progress::Started { index, total, job, path } => println!(
            "[{}/{total}] 開始 {} {} ({})",
            index + 1,
            job.institution.code,
            job.institution.name,
            path.display()
        ),
        Progress::Ended { index, total, outcome } => println!(
            "[{}/{total}] {} {}: exit {} ({})",
            index + 1,
            outcome.verdict(),
            if outcome.institution_code.is_empty() {
                outcome.job_file.display().to_string()
            } else {
                format!("{} {}", outcome.institution_code, outcome.institution_name)
            },
            outcome.exit_code,
            batch::duration(outcome.seconds)
        ),
        Progress::Interrupted { running } => eprintln!(
            "oqsbot: interrupted; no further job starts, and the {running} running ones are stopping; run the same command again to continue"
        ),
    })
    .await;
    println!("\n{}", batch::table(&outcomes));
    match batch::write_summary(&outcomes, &summary_dir) {
        Ok(path) => println!("summary: {}", path.display()),
        Err(e) => eprintln!("oqsbot: {e}"),
    }
    batch::exit(&outcomes).into()
}

/// The options of `oqsbot run` that each job of a batch is given, as they were given.
pub(super) fn child_args(
    flows: Option<&std::path::Path>,
    recording: &RecordingArgs,
    browser: &BrowserArgs,
) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    let mut pair = |name: &str, value: OsString| {
        args.push(name.into());
        args.push(value);
    };
    if let Some(f) = flows {
        pair("--flows", absolute(f).into());
    }
    pair(
        "--recording-cap-mb",
        recording.recording_cap_mb.to_string().into(),
    );
    if let Some(b) = &browser.browser {
        pair("--browser", b.into());
    }
    if let Some(d) = &browser.chromedriver {
        pair("--chromedriver", d.into());
    }
    if let Some(u) = &browser.webdriver_url {
        pair("--webdriver-url", u.into());
    }
    if let Some(s) = browser.driver_answer_secs {
        pair("--driver-answer-secs", s.to_string().into());
    }
    for (given, flag) in [
        (recording.no_record, "--no-record"),
        (browser.allow_plain_webdriver, "--allow-plain-webdriver"),
        (browser.headed, "--headed"),
    ] {
        if given {
            args.push(flag.into());
        }
    }
    args
}

pub(super) fn absolute(path: &std::path::Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
