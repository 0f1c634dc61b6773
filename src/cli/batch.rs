//! Several jobs at once: `oqsbot run JOB… | DIR --jobs N`. Each job runs as its
//! own `oqsbot run JOB` process, so a failure, a panic or a lost browser ends
//! that job alone, and each keeps its own folder, lock, journal, credential
//! store, report and recording. A job its last run finished is not run again.
//! The batch ends with one summary: a table on the terminal, and `index.html`
//! and `summary.json` beside the jobs.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::future::Future;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Component, Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use crate::job::outcome::Exit;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::task::JoinSet;

use crate::job::JobFile;

/// The child's output, appended run after run, in the job's output folder.
pub const LOG_FILE: &str = "run.log";
pub const SUMMARY_HTML: &str = "index.html";
pub const SUMMARY_JSON: &str = "summary.json";

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("{0}: no such job file or folder")]
    Missing(PathBuf),
    #[error("{0}: the folder holds no job file (*.toml)")]
    EmptyFolder(PathBuf),
    #[error("cannot read the folder {path}: {source}")]
    Folder { path: PathBuf, source: std::io::Error },
    #[error(
        "{first} and {second} {what}: two jobs at once would work on the same {thing}; give each job its own, or run them one after the other"
    )]
    Shared {
        first: PathBuf,
        second: PathBuf,
        what: String,
        thing: &'static str,
    },
    #[error("cannot write the summary {path}: {source}")]
    Summary { path: PathBuf, source: std::io::Error },
}

/// The job files named on the command line: a folder stands for the `*.toml`
/// files in it (not in its sub-folders), in name order. A file named twice runs once.
pub fn job_files(args: &[PathBuf]) -> Result<Vec<PathBuf>, BatchError> {
    let mut files: Vec<PathBuf> = Vec::new();
    for arg in args {
        if arg.is_dir() {
            let entries = std::fs::read_dir(arg).map_err(|source| BatchError::Folder {
                path: arg.clone(),
                source,
            })?;
            let mut in_folder: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("toml")))
                .collect();
            if in_folder.is_empty() {
                return Err(BatchError::EmptyFolder(arg.clone()));
            }
            in_folder.sort();
            files.extend(in_folder);
        } else if arg.is_file() {
            files.push(arg.clone());
        } else {
            return Err(BatchError::Missing(arg.clone()));
        }
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(absolute(f)));
    Ok(files)
}

/// A job file and what loading it gave.
pub struct PlannedJob {
    pub path: PathBuf,
    pub job: Result<JobFile, String>,
}

/// Loads every job. A job file with a mistake is kept, to be reported with
/// exit code 2 while the others run; two jobs on one output folder or one
/// institution refuse the whole batch, before anything starts.
pub fn plan(files: Vec<PathBuf>) -> Result<Vec<PlannedJob>, BatchError> {
    let planned: Vec<PlannedJob> = files
        .into_iter()
        .map(|path| {
            let job = JobFile::load(&path).map_err(|e| e.to_string());
            PlannedJob { path, job }
        })
        .collect();
    let mut folders: HashMap<PathBuf, &Path> = HashMap::new();
    let mut codes: HashMap<&str, &Path> = HashMap::new();
    for p in &planned {
        let Ok(job) = &p.job else { continue };
        if let Some(first) = folders.insert(absolute(&job.output.dir), &p.path) {
            return Err(BatchError::Shared {
                first: first.to_path_buf(),
                second: p.path.clone(),
                what: format!("both write to {}", job.output.dir.display()),
                thing: "output folder",
            });
        }
        if let Some(first) = codes.insert(&job.institution.code, &p.path) {
            return Err(BatchError::Shared {
                first: first.to_path_buf(),
                second: p.path.clone(),
                what: format!("are both for 医療機関等コード {}", job.institution.code),
                thing: "institution's accounts",
            });
        }
    }
    Ok(planned)
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// How a job of the batch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Its `oqsbot run` ended with `exit_code`.
    Ran,
    /// Its last run finished every web step: not run again.
    DoneBefore,
    /// The job file has a mistake: not run.
    Invalid,
    /// The batch was interrupted before its turn.
    NotStarted,
}

#[derive(Debug, Clone, Serialize)]
pub struct JobOutcome {
    pub job_file: PathBuf,
    pub institution_code: String,
    pub institution_name: String,
    pub state: JobState,
    /// As `oqsbot run JOB` alone would have exited (0 for a job done before).
    pub exit_code: u8,
    /// The run's own words: 完了, or its error.
    pub detail: String,
    pub seconds: f64,
    pub report: Option<PathBuf>,
    pub log: Option<PathBuf>,
}

impl JobOutcome {
    /// A job that did not run (or could not start), with why.
    fn not_run(path: PathBuf, job: Option<&JobFile>, state: JobState, exit_code: u8, detail: String) -> Self {
        JobOutcome {
            job_file: path,
            institution_code: job.map(|j| j.institution.code.clone()).unwrap_or_default(),
            institution_name: job.map(|j| j.institution.name.clone()).unwrap_or_default(),
            state,
            exit_code,
            detail,
            seconds: 0.0,
            report: None,
            log: None,
        }
    }

    pub fn finished(&self) -> bool {
        matches!(self.state, JobState::Ran | JobState::DoneBefore) && self.exit_code == 0
    }

    /// The outcome in a word, for the technician.
    pub fn verdict(&self) -> &'static str {
        match self.state {
            JobState::DoneBefore => "完了 (前回)",
            JobState::Invalid => "ジョブファイルの誤り",
            JobState::NotStarted => "未実行 (中断)",
            JobState::Ran => match self.exit_code {
                0 => "完了",
                2 => "入力の誤り",
                3 => "ポータルが拒否",
                4 => "時間切れ",
                5 => "担当者の確認が必要",
                6 => "ブラウザ等の障害",
                7 => "ポータル障害 (後で再実行)",
                130 => "中断",
                _ => "異常終了",
            },
        }
    }
}

pub struct BatchOptions {
    /// How many jobs run at once.
    pub parallel: usize,
    /// The oqsbot that runs each job.
    pub exe: PathBuf,
    /// Given to each `oqsbot run JOB` after the job: flows, recording and browser options.
    pub child_args: Vec<OsString>,
}

/// What the batch tells as it goes.
pub enum Progress<'a> {
    Started {
        index: usize,
        total: usize,
        job: &'a JobFile,
        path: &'a Path,
    },
    Ended {
        index: usize,
        total: usize,
        outcome: &'a JobOutcome,
    },
    Interrupted {
        running: usize,
    },
}

/// Runs the planned jobs, `parallel` at a time, in order. When `interrupt`
/// completes (Ctrl-C), no further job starts; the running ones are told to
/// stop (each stops as `oqsbot run` does on Ctrl-C, ready to continue) and
/// are waited for.
pub async fn run<F, P>(
    planned: Vec<PlannedJob>,
    options: &BatchOptions,
    interrupt: F,
    mut progress: P,
) -> Vec<JobOutcome>
where
    F: Future<Output = ()>,
    P: FnMut(Progress<'_>),
{
    crate::owner_only::private_umask();
    let total = planned.len();
    let mut outcomes: Vec<Option<JobOutcome>> = vec![None; total];
    let mut queue: Vec<(usize, PathBuf, JobFile)> = Vec::new();
    for (index, p) in planned.into_iter().enumerate() {
        match p.job {
            Err(message) => {
                outcomes[index] = Some(JobOutcome::not_run(p.path, None, JobState::Invalid, 2, message));
            }
            Ok(job) => match done_before(&job) {
                Some(report) => {
                    let detail = "完了 (前回の実行で完了済みのため、今回は実行していません)".to_string();
                    let mut done = JobOutcome::not_run(p.path, Some(&job), JobState::DoneBefore, 0, detail);
                    done.report = Some(report);
                    outcomes[index] = Some(done);
                }
                None => queue.push((index, p.path, job)),
            },
        }
    }
    for (index, o) in outcomes.iter().enumerate() {
        if let Some(o) = o {
            progress(Progress::Ended {
                index,
                total,
                outcome: o,
            });
        }
    }
    queue.reverse();
    let parallel = options.parallel.max(1);
    let mut running: JoinSet<(usize, JobOutcome)> = JoinSet::new();
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut interrupted = false;
    tokio::pin!(interrupt);
    // Its first poll installs the handler: a Ctrl-C while the first jobs start is not lost.
    tokio::select! {
        biased;
        () = &mut interrupt => {
            interrupted = true;
            progress(Progress::Interrupted { running: 0 });
        }
        () = std::future::ready(()) => {}
    }
    loop {
        while !interrupted && running.len() < parallel {
            let Some((index, path, job)) = queue.pop() else {
                break;
            };
            progress(Progress::Started {
                index,
                total,
                job: &job,
                path: &path,
            });
            match start(&path, &job, options) {
                Ok((child, started)) => {
                    let stopping = stopping.clone();
                    running.spawn(async move { (index, finish(child, started, path, job, stopping).await) });
                }
                Err(detail) => {
                    let outcome = JobOutcome::not_run(path, Some(&job), JobState::Ran, 6, detail);
                    progress(Progress::Ended {
                        index,
                        total,
                        outcome: &outcome,
                    });
                    outcomes[index] = Some(outcome);
                }
            }
        }
        if running.is_empty() {
            break;
        }
        tokio::select! {
            joined = running.join_next() => {
                match joined {
                    Some(Ok((index, outcome))) => {
                        progress(Progress::Ended { index, total, outcome: &outcome });
                        outcomes[index] = Some(outcome);
                    }
                    // The task only waits on a child process; it cannot panic.
                    Some(Err(e)) => tracing::error!("a job's watcher ended: {e}"),
                    None => break,
                }
            }
            () = &mut interrupt, if !interrupted => {
                interrupted = true;
                progress(Progress::Interrupted { running: running.len() });
                let _ = stop.send(true);
            }
        }
    }
    for (index, path, job) in queue {
        let detail = "中断のため開始していません".to_string();
        outcomes[index] = Some(JobOutcome::not_run(
            path,
            Some(&job),
            JobState::NotStarted,
            130,
            detail,
        ));
    }
    outcomes.into_iter().flatten().collect()
}

/// The report of a run that finished every web step of this job, if the last one did.
fn done_before(job: &JobFile) -> Option<PathBuf> {
    let path = job.output.dir.join("report.json");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).ok()?).ok()?;
    let done = report["exit_code"].as_u64() == Some(0)
        && !report["finished"].is_null()
        && report["institution_code"].as_str() == Some(job.institution.code.as_str());
    done.then(|| job.output.dir.join("report.html"))
}

/// The log's length before this run, and when it began.
struct Started {
    at: Instant,
    at_system: SystemTime,
    log: PathBuf,
    log_from: u64,
}

/// Starts `oqsbot run JOB`, its output appended to the job's log. Nothing is
/// asked on a terminal: several jobs cannot share one, so secrets come from
/// the environment or files, and one that is missing stops that job with exit code 2.
fn start(
    path: &Path,
    job: &JobFile,
    options: &BatchOptions,
) -> Result<(tokio::process::Child, Started), String> {
    let dir = &job.output.dir;
    let log = dir.join(LOG_FILE);
    // Where this run's part of the log begins: its header, then the child's output.
    let (mut file, log_from) = crate::owner_only::create_dir(dir)
        .and_then(|()| open_log(&log))
        .map_err(|e| format!("cannot write {}: {e}", log.display()))?;
    let _ = writeln!(
        file,
        "──── oqsbot run {} ({}) ────",
        path.display(),
        chrono::Local::now().format("%Y-%m-%d %H:%M:%S")
    );
    let stderr = file
        .try_clone()
        .map_err(|e| format!("cannot write {}: {e}", log.display()))?;
    let started = Started {
        at: Instant::now(),
        at_system: SystemTime::now(),
        log,
        log_from,
    };
    let child = tokio::process::Command::new(&options.exe)
        .arg("run")
        .arg(path)
        .args(&options.child_args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(file))
        .stderr(Stdio::from(stderr))
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", options.exe.display()))?;
    Ok((child, started))
}

/// The job's log, appended to; with its length before.
fn open_log(path: &Path) -> std::io::Result<(File, u64)> {
    if path.exists() {
        let file = std::fs::OpenOptions::new().append(true).open(path)?;
        let len = file.metadata()?.len();
        Ok((file, len))
    } else {
        Ok((crate::owner_only::create_file(path)?, 0))
    }
}

async fn finish(
    mut child: tokio::process::Child,
    started: Started,
    path: PathBuf,
    job: JobFile,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) -> JobOutcome {
    let status = tokio::select! {
        status = child.wait() => status,
        () = stop_asked(&mut stopping) => {
            // Told while the child is still ours: its pid cannot be another process's yet.
            if let Some(pid) = child.id() {
                tell_to_stop(pid);
            }
            child.wait().await
        }
    };
    let seconds = started.at.elapsed().as_secs_f64();
    let (exit_code, ended) = match &status {
        Ok(s) => exit_of(s),
        Err(e) => (6, Some(format!("cannot wait for oqsbot: {e}"))),
    };
    let report_path = job.output.dir.join("report.json");
    // Only this run's report: one left by an earlier run says nothing of this one.
    let report: Option<serde_json::Value> = std::fs::metadata(&report_path)
        .and_then(|m| m.modified())
        .ok()
        .filter(|m| *m >= started.at_system)
        .and_then(|_| std::fs::read_to_string(&report_path).ok())
        .and_then(|t| serde_json::from_str(&t).ok());
    // The report's words are scrubbed of the run's secrets; a job that could
    // not start writes none, and its log holds the problems.
    let detail = if exit_code == 0 {
        "完了".to_string()
    } else if let Some(e) = ended {
        e
    } else if let Some(outcome) = report.as_ref().and_then(|r| r["outcome"].as_str()) {
        outcome.to_string()
    } else if let Some(said) = last_error(&started.log, started.log_from) {
        said
    } else {
        format!("exit code {exit_code}; see {}", started.log.display())
    };
    let html = job.output.dir.join("report.html");
    JobOutcome {
        job_file: path,
        institution_code: job.institution.code.clone(),
        institution_name: job.institution.name.clone(),
        state: JobState::Ran,
        exit_code,
        detail,
        seconds,
        report: (report.is_some() && html.exists()).then_some(html),
        log: Some(started.log),
    }
}

/// The error `oqsbot run` ended with, in this run's part of the log: its
/// `oqsbot: …` line and the indented lines under it (each problem of a job
/// that cannot run).
fn last_error(log: &Path, from: u64) -> Option<String> {
    let mut file = File::open(log).ok()?;
    let len = file.metadata().ok()?.len();
    // The error is at the end; a huge log is not read whole.
    file.seek(SeekFrom::Start(from.max(len.saturating_sub(4 << 20))))
        .ok()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().rposition(|l| l.starts_with("oqsbot: "))?;
    let mut said = vec![lines[start].trim_start_matches("oqsbot: ").to_string()];
    said.extend(
        lines[start + 1..]
            .iter()
            .take_while(|l| l.starts_with(' '))
            .map(|l| l.trim_end().to_string()),
    );
    Some(said.join("\n"))
}

/// Until the batch is told to stop; never, once nobody can tell it.
async fn stop_asked(stopping: &mut tokio::sync::watch::Receiver<bool>) {
    while !*stopping.borrow_and_update() {
        if stopping.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// A job's exit code as `oqsbot run` alone would have given it; a job ended
/// by Ctrl-C before its own handler was in place counts as interrupted.
fn exit_of(status: &std::process::ExitStatus) -> (u8, Option<String>) {
    #[cfg(unix)]
    if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(status) {
        return if signal == libc::SIGINT || signal == libc::SIGTERM {
            (130, Some(format!("stopped by signal {signal} (Ctrl-C)")))
        } else {
            (6, Some(format!("oqsbot ended by signal {signal}")))
        };
    }
    match status.code() {
        Some(code) => match u8::try_from(code) {
            Ok(code) => (code, None),
            // STATUS_CONTROL_C_EXIT: Windows ended it for Ctrl-C.
            Err(_) if code as u32 == 0xC000_013A => (130, Some("stopped by Ctrl-C".into())),
            Err(_) => (6, Some(format!("oqsbot ended with code {code:#x}"))),
        },
        None => (6, Some(format!("oqsbot ended without an exit code ({status})"))),
    }
}

/// Asks a running job to stop as Ctrl-C would. On Windows the console's Ctrl-C
/// already reached every job.
fn tell_to_stop(pid: u32) {
    #[cfg(unix)]
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill(2) with SIGINT on a child this process started; the caller
        // holds it unreaped (tokio gives no pid once it is reaped).
        unsafe {
            libc::kill(pid, libc::SIGINT);
        }
    }
    #[cfg(not(unix))]
    let _ = pid;
}

/// 0 when every job is done, 130 when the batch was interrupted, 1 otherwise
/// (each job's own code is in the summary).
pub fn exit(outcomes: &[JobOutcome]) -> Exit {
    if outcomes.iter().all(JobOutcome::finished) {
        Exit::Done
    } else if outcomes
        .iter()
        .any(|o| o.state == JobState::NotStarted || o.exit_code == Exit::Interrupted.code())
    {
        Exit::Interrupted
    } else {
        Exit::Failed
    }
}

/// Minutes and seconds.
pub fn duration(seconds: f64) -> String {
    let s = Duration::from_secs_f64(seconds.max(0.0)).as_secs();
    format!("{}:{:02}", s / 60, s % 60)
}

/// The summary table for the terminal, its columns aligned for Japanese text.
pub fn table(outcomes: &[JobOutcome]) -> String {
    let header = [
        "医療機関等コード",
        "名称",
        "結果",
        "終了コード",
        "時間",
        "レポート",
    ];
    let rows: Vec<[String; 6]> = outcomes
        .iter()
        .map(|o| {
            [
                if o.institution_code.is_empty() {
                    o.job_file.display().to_string()
                } else {
                    o.institution_code.clone()
                },
                o.institution_name.clone(),
                o.verdict().to_string(),
                o.exit_code.to_string(),
                duration(o.seconds),
                o.report
                    .as_ref()
                    .or(o.log.as_ref())
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    let mut widths = header.map(width);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    let line = |cells: &[String]| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            out.push_str(cell);
            if i + 1 < cells.len() {
                out.push_str(&" ".repeat(w - width(cell) + 2));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(&header.map(String::from));
    for (row, o) in rows.iter().zip(outcomes) {
        out.push_str(&line(row));
        if !o.finished() && o.state != JobState::NotStarted {
            out.push_str(&format!("    {}\n", first_line(&o.detail)));
        }
    }
    out
}

/// The detail's first line; when that only announces a list ("…:"), with the first item.
fn first_line(text: &str) -> String {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or_default();
    match lines.next() {
        Some(next) if first.ends_with(':') => format!("{first} {next}"),
        _ => first.to_string(),
    }
}

/// Columns a terminal gives the text: two for East Asian wide characters.
fn width(text: &str) -> usize {
    text.chars()
        .map(|c| {
            let c = c as u32;
            let wide = matches!(c,
                0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF
                | 0x4E00..=0x9FFF | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF
                | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6);
            if wide { 2 } else { 1 }
        })
        .sum()
}

#[derive(Serialize)]
struct Summary<'a> {
    written: DateTime<Utc>,
    exit_code: u8,
    jobs: &'a [JobOutcome],
}

/// Writes `index.html` and `summary.json` into `dir` (made if missing); the HTML
/// links each report and log by a path relative to `dir`.
pub fn write_summary(outcomes: &[JobOutcome], dir: &Path) -> Result<PathBuf, BatchError> {
    std::fs::create_dir_all(dir).map_err(|source| BatchError::Summary {
        path: dir.to_path_buf(),
        source,
    })?;
    let html_path = dir.join(SUMMARY_HTML);
    let json_path = dir.join(SUMMARY_JSON);
    let write = |path: &Path, bytes: &[u8]| {
        crate::owner_only::create_file(path)
            .and_then(|mut f| f.write_all(bytes))
            .map_err(|source| BatchError::Summary {
                path: path.to_path_buf(),
                source,
            })
    };
    let summary = Summary {
        written: Utc::now(),
        exit_code: exit(outcomes).code(),
        jobs: outcomes,
    };
    let json = serde_json::to_string_pretty(&summary).map_err(|e| BatchError::Summary {
        path: json_path.clone(),
        source: std::io::Error::other(e),
    })?;
    write(&json_path, json.as_bytes())?;
    write(&html_path, html(outcomes, dir, summary.written).as_bytes())?;
    Ok(html_path)
}

fn html(outcomes: &[JobOutcome], dir: &Path, written: DateTime<Utc>) -> String {
    let mut rows = String::new();
    for o in outcomes {
        let link = |p: &Option<PathBuf>, text: &str| match p {
            Some(p) => format!("<a href=\"{}\">{text}</a>", esc(&href(dir, p))),
            None => String::new(),
        };
        let class = if o.finished() { "done" } else { "stopped" };
        rows.push_str(&format!(
            "<tr class=\"{class}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(&o.institution_code),
            esc(&o.institution_name),
            esc(o.verdict()),
            o.exit_code,
            duration(o.seconds),
            link(&o.report, "レポート"),
            link(&o.log, "ログ"),
            esc(&o.job_file.display().to_string()),
        ));
        if !o.finished() {
            rows.push_str(&format!(
                "<tr class=\"detail\"><td></td><td colspan=\"7\">{}</td></tr>\n",
                esc(&o.detail)
            ));
        }
    }
    let done = outcomes.iter().filter(|o| o.finished()).count();
    let when = written
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .format("%Y/%m/%d %H:%M:%S");
    format!(
        "<!DOCTYPE html>\n<html lang=\"ja\"><head><meta charset=\"utf-8\"><title>oqsbot 実行結果一覧</title>\n\
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #bbb;padding:.3em .6em;text-align:left}}\
tr.done td:nth-child(3){{color:#060}}tr.stopped td:nth-child(3){{color:#a00;font-weight:bold}}tr.detail td{{border-top:none;color:#444;font-size:90%}}</style></head>\n\
<body><h1>oqsbot 実行結果一覧</h1>\n<p>{when} (JST) 作成 ・ {done} / {} 件完了</p>\n\
<table><thead><tr><th>医療機関等コード</th><th>名称</th><th>結果</th><th>終了コード</th><th>時間</th><th>レポート</th><th>ログ</th><th>ジョブファイル</th></tr></thead>\n<tbody>\n{rows}</tbody></table>\n\
<p>完了していないジョブは、原因を直してから同じコマンドをもう一度実行すると続きから再開します。完了済みのジョブは実行されません。</p>\n</body></html>\n",
        outcomes.len()
    )
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A link from a page in `from` to `target`: relative where the two share a
/// root, otherwise a file URL; each segment percent-encoded.
fn href(from: &Path, target: &Path) -> String {
    let from = absolute(from);
    let target = absolute(target);
    let from_parts: Vec<Component> = from.components().filter(|c| *c != Component::CurDir).collect();
    let target_parts: Vec<Component> = target.components().filter(|c| *c != Component::CurDir).collect();
    let shared = from_parts
        .iter()
        .zip(&target_parts)
        .take_while(|(a, b)| a == b)
        .count();
    let same_root = shared > 0 && from_parts.first() == target_parts.first();
    let segments = |parts: &[Component]| -> Vec<String> {
        parts
            .iter()
            .filter_map(|c| match c {
                Component::Normal(s) => Some(encode(&s.to_string_lossy())),
                Component::ParentDir => Some("..".into()),
                _ => None,
            })
            .collect()
    };
    if same_root {
        let mut out: Vec<String> = vec!["..".into(); from_parts.len() - shared];
        out.extend(segments(&target_parts[shared..]));
        out.join("/")
    } else {
        let mut url = String::from("file:///");
        if let Some(Component::Prefix(p)) = target_parts.first() {
            url.push_str(&encode(&p.as_os_str().to_string_lossy()));
            url.push('/');
        }
        url.push_str(&segments(&target_parts).join("/"));
        url
    }
}

fn encode(segment: &str) -> String {
    let mut out = String::new();
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(code: &str, state: JobState, exit_code: u8) -> JobOutcome {
        JobOutcome {
            job_file: PathBuf::from(format!("jobs/{code}.toml")),
            institution_code: code.into(),
            institution_name: "テスト歯科クリニック".into(),
            state,
            exit_code,
            detail: "the portal refused the login of Y1342304\n  more".into(),
            seconds: 75.4,
            report: Some(PathBuf::from(format!("jobs/{code}/report.html"))),
            log: None,
        }
    }

    #[test]
    fn the_batch_exits_0_only_when_every_job_is_done() {
        let done = outcome("1312345671", JobState::Ran, 0);
        let before = outcome("1312345672", JobState::DoneBefore, 0);
        let refused = outcome("1312345673", JobState::Ran, 3);
        let not_started = outcome("1312345674", JobState::NotStarted, 130);
        assert_eq!(exit(&[done.clone(), before.clone()]), Exit::Done);
        assert_eq!(exit(&[done.clone(), refused.clone()]), Exit::Failed);
        assert_eq!(exit(&[done, refused, not_started]), Exit::Interrupted);
        assert_eq!(exit(&[outcome("x", JobState::Invalid, 2)]), Exit::Failed);
    }

    #[test]
    fn the_table_aligns_japanese_text_and_gives_why_a_job_stopped() {
        let table = table(&[
            outcome("1312345671", JobState::Ran, 0),
            outcome("1312345673", JobState::Ran, 3),
        ]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4, "{table}");
        // 結果 starts in the same column on every row.
        let column = |line: &str, text: &str| width(&line[..line.find(text).expect(text)]);
        assert_eq!(column(lines[0], "結果"), column(lines[1], "完了"));
        assert_eq!(column(lines[0], "結果"), column(lines[2], "ポータルが拒否"));
        assert_eq!(lines[3].trim(), "the portal refused the login of Y1342304");
        assert!(lines[1].contains("1:15"), "{table}");
    }

    #[test]
    fn wide_characters_take_two_columns() {
        assert_eq!(width("abc"), 3);
        assert_eq!(width("医療機関"), 8);
        assert_eq!(width("ｱｲ"), 2, "half-width katakana is narrow");
        assert_eq!(width("（株）"), 6);
    }

    #[test]
    fn links_are_relative_and_encoded() {
        let from = Path::new("/desk/jobs");
        assert_eq!(
            href(from, Path::new("/desk/jobs/a/out/report.html")),
            "a/out/report.html"
        );
        assert_eq!(
            href(from, Path::new("/desk/runs/さくら 歯科/report.html")),
            "../runs/%E3%81%95%E3%81%8F%E3%82%89%20%E6%AD%AF%E7%A7%91/report.html"
        );
        assert_eq!(
            href(from, Path::new("/desk/jobs/#1/report.html")),
            "%231/report.html"
        );
    }

    #[test]
    fn a_folder_stands_for_its_job_files_in_name_order() {
        let dir = tempfile::tempdir().expect("dir");
        for name in ["b.toml", "a.toml", "notes.txt"] {
            std::fs::write(dir.path().join(name), "").expect("write");
        }
        std::fs::create_dir(dir.path().join("sub.toml")).expect("a folder named like a job");
        let files = job_files(&[dir.path().to_path_buf(), dir.path().join("a.toml")]).expect("files");
        let names: Vec<_> = files
            .iter()
            .map(|f| f.file_name().expect("name").to_owned())
            .collect();
        assert_eq!(names, ["a.toml", "b.toml"]);
        let empty = tempfile::tempdir().expect("dir");
        assert!(matches!(
            job_files(&[empty.path().to_path_buf()]),
            Err(BatchError::EmptyFolder(_))
        ));
        assert!(matches!(
            job_files(&[dir.path().join("missing.toml")]),
            Err(BatchError::Missing(_))
        ));
    }

    #[test]
    fn only_this_runs_error_is_taken_from_the_log() {
        let dir = tempfile::tempdir().expect("dir");
        let log = dir.path().join(LOG_FILE);
        std::fs::write(&log, "oqsbot: an earlier run's error\n").expect("write");
        let from = std::fs::metadata(&log).expect("meta").len();
        assert_eq!(last_error(&log, from), None);
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).expect("open");
        writeln!(
            f,
            "step 1\noqsbot: the portal refused the login of Y1342304\nReport: x"
        )
        .expect("write");
        assert_eq!(
            last_error(&log, from).as_deref(),
            Some("the portal refused the login of Y1342304")
        );
        // A job that cannot run lists its problems under the line.
        let from = std::fs::metadata(&log).expect("meta").len();
        writeln!(
            f,
            "oqsbot: the job cannot run:\n  - T_SECRET_A is not set\n  - T_CERT is not set"
        )
        .expect("write");
        let said = last_error(&log, from).expect("said");
        assert_eq!(
            said,
            "the job cannot run:\n  - T_SECRET_A is not set\n  - T_CERT is not set"
        );
        assert_eq!(first_line(&said), "the job cannot run: - T_SECRET_A is not set");
    }
}
