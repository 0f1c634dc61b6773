use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use oqsbot::commands::{self, CsvBuild, Verdict};
use oqsbot::portal::PasswordPolicy;
use oqsbot::sim::{self, SimOptions};

#[derive(Parser)]
#[command(
    name = "oqsbot",
    version,
    about = "Re-provisions an オンライン資格確認 terminal's web accounts through the portal"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the simulator of both sites on 127.0.0.1 until Ctrl-C.
    Sim {
        /// A built-in scenario (carried-over, initial-password, needs-reset, admin-exists, pharmacy,
        /// expired-certificate) or a scenario file ending in .toml.
        #[arg(long, default_value = "needs-reset")]
        scenario: String,
        /// 0 picks a free port.
        #[arg(long, default_value_t = 8400)]
        port: u16,
        /// A simulator config file (TOML): timings, screen variants, PDF fonts, TLS, faults.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Also write the master's ユーザ設定情報 PDF to this file.
        #[arg(long)]
        write_master_pdf: Option<PathBuf>,
        #[command(flatten)]
        vary: sim::VaryArg,
    },
    /// Provision a sample clinic end to end on the built-in simulator (master needs a reset).
    Demo {
        /// Where the demo's job, credential store and report go.
        #[arg(long, default_value = "demo-run")]
        dir: PathBuf,
        #[command(flatten)]
        browser: BrowserArgs,
    },
    /// Follow the succession procedure's web half for a job, unattended. Re-running
    /// the same job after a stop continues where it stopped.
    Run {
        /// A job file; or several, or a folder of them (*.toml), each run as its own
        /// `oqsbot run JOB`, --jobs at a time, with one summary at the end.
        #[arg(required = true, num_args = 1..)]
        job: Vec<PathBuf>,
        /// How many of several jobs run at once.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=32))]
        jobs: u16,
        /// Where the summary of several jobs (index.html, summary.json) is written;
        /// by default the folder given, or the first job file's folder.
        #[arg(long)]
        summary: Option<PathBuf>,
        /// A folder of flow files that override the built-in ones by name.
        #[arg(long)]
        flows: Option<PathBuf>,
        #[command(flatten)]
        recording: RecordingArgs,
        #[command(flatten)]
        browser: BrowserArgs,
    },
    /// Serve a recording's responses again offline and run its flows against them in a
    /// browser, step by step compared with the recording; or, with --html, write its viewer.
    Replay {
        /// A recording (recording.oqsrec in a run's output folder).
        file: PathBuf,
        /// A folder of flow files to try instead of the built-in ones (a fix, proven on the recording).
        #[arg(long)]
        flows: Option<PathBuf>,
        /// Write a static viewer of the recording to this HTML file, and replay nothing.
        #[arg(long)]
        html: Option<PathBuf>,
        /// Where the replay keeps its downloads and its own recording.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        browser: BrowserArgs,
    },
    /// 医療機関等コード: check digit, prefecture, 点数表.
    Code {
        #[command(subcommand)]
        action: CodeAction,
    },
    /// The portal's password policy.
    Password {
        #[command(subcommand)]
        action: PasswordAction,
    },
    /// The Shift-JIS bulk registration CSV (アカウント一括登録用ファイル).
    Csv {
        #[command(subcommand)]
        action: CsvAction,
    },
    /// Read a ユーザ設定情報 PDF.
    Pdf {
        file: PathBuf,
        /// One JSON object with every field (the password included).
        #[arg(long)]
        json: bool,
        /// Show the password instead of ●●●●●●.
        #[arg(long)]
        show_password: bool,
    },
    /// Downloaded client certificates (.p12).
    Cert {
        #[command(subcommand)]
        action: CertAction,
    },
    /// The passwords a job's runs kept, for the hand-over to the customer.
    Credentials {
        #[command(subcommand)]
        action: CredentialsAction,
    },
    /// Write the browser policy that presents the client certificate to the オン資 site
    /// without a picker (AutoSelectCertificateForUrls). Needs root; done only when asked.
    BrowserPolicy {
        #[command(flatten)]
        args: PolicyArgs,
    },
    /// Run one flow in a real browser (login, change-password, logout, cert-download,
    /// reset-master-password, register-admin, bulk-upload, bulk-status, bulk-results, list-accounts,
    /// read-institution-code).
    Flow {
        name: String,
        /// The job file: site URLs, IDs, and the environment variables that hold secrets.
        #[arg(long)]
        job: Option<PathBuf>,
        /// A flow variable, name=value (repeatable).
        #[arg(long = "var")]
        vars: Vec<String>,
        /// A secret flow variable from the environment, name=ENV_VAR (repeatable).
        #[arg(long = "secret-env")]
        secret_envs: Vec<String>,
        /// Log in as the job's admin, master or reset account.
        #[arg(long = "as")]
        login_as: Option<String>,
        /// A folder of flow files that override the built-in ones by name.
        #[arg(long)]
        flows: Option<PathBuf>,
        /// Where downloads, screenshots and the step log go.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        recording: RecordingArgs,
        #[command(flatten)]
        browser: BrowserArgs,
    },
}

#[derive(clap::Args, Debug, PartialEq)]
struct RecordingArgs {
    /// Keep no recording (recording.oqsrec) of the run.
    #[arg(long)]
    no_record: bool,
    /// Bound on the pages, screenshots and responses the recording stores, in MB.
    #[arg(long, default_value_t = 20)]
    recording_cap_mb: u64,
}

#[derive(clap::Args)]
struct PolicyArgs {
    /// The オン資 site's URL; the rule covers its origin.
    #[arg(long)]
    url: String,
    /// Chromium's managed policy folder (Chrome: /etc/opt/chrome/policies/managed).
    #[arg(long, default_value = "/etc/chromium/policies/managed")]
    dir: PathBuf,
    #[arg(long, default_value = "oqsbot-client-certificate")]
    name: String,
}

#[derive(clap::Args, Debug, PartialEq)]
struct BrowserArgs {
    /// chromium (default), chrome, or edge (through msedgedriver).
    #[arg(long)]
    browser: Option<String>,
    /// The driver binary, when it is not on PATH.
    #[arg(long)]
    chromedriver: Option<PathBuf>,
    /// Use a running WebDriver (a Selenium Grid, say) instead of spawning one: https://, or
    /// http:// on this machine (127.0.0.1, ::1, localhost).
    #[arg(long)]
    webdriver_url: Option<String>,
    /// Accept a plain http:// --webdriver-url on another machine; passwords then cross the
    /// network in clear.
    #[arg(long, requires = "webdriver_url")]
    allow_plain_webdriver: bool,
    /// Show the browser window.
    #[arg(long)]
    headed: bool,
    /// Seconds one WebDriver command may go unanswered before the browser counts as lost
    /// (a run then starts again in a fresh one); default: the page-load limit plus 60, and
    /// never less than the page-load limit plus 5.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(5..=3600))]
    driver_answer_secs: Option<u64>,
}

#[derive(Subcommand)]
enum CodeAction {
    /// Exit 0 for a valid code and say what it is; 1 with the reason otherwise.
    Check { code: String },
}

#[derive(Subcommand)]
enum PasswordAction {
    /// Read a password from standard input; exit 0 if the portal will take it, 1 with reasons.
    Check,
    /// Print a password that passes the policy, from OS randomness.
    Generate {
        #[arg(long, default_value_t = PasswordPolicy::GENERATED_LEN)]
        length: usize,
    },
}

#[derive(Subcommand)]
enum CsvAction {
    /// Build the file for the face account and the 連携 account.
    Build {
        /// 医科歯科 (R0RENK01) or 薬局 (R1RENK01).
        #[arg(long)]
        kind: String,
        /// 利用開始年月日, YYYY/MM/DD.
        #[arg(long)]
        start: String,
        /// The environment variable holding the accounts' password (asked for when left out).
        #[arg(long)]
        password_env: Option<String>,
        #[arg(short = 'o', long)]
        output: PathBuf,
        /// A copy of data/bulk_csv.toml with a corrected layout.
        #[arg(long)]
        layout: Option<PathBuf>,
    },
    /// Check a file as the portal will: exit 0 when valid, 1 with row-level errors.
    Check {
        file: PathBuf,
        #[arg(long)]
        json: bool,
        #[arg(long)]
        layout: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum CredentialsAction {
    /// Write a printable, owner-only page with each account's ID and password and the
    /// certificate password (by default hand-over.html in the output folder). Delete it
    /// after printing.
    Sheet {
        job: PathBuf,
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
    },
    /// Print one account's password, at a terminal only (e.g. FOFACE01 for step ⑩'s
    /// 管理コンソール).
    Show { job: PathBuf, user_id: String },
}

#[derive(Subcommand)]
enum CertAction {
    /// Check a .p12: its password, the institution code in its subject, its issuer, its validity.
    Check {
        file: PathBuf,
        /// The new 10-digit 医療機関等コード.
        #[arg(long)]
        code: String,
        /// The environment variable holding the 4-digit certificate password (asked for when left out).
        #[arg(long)]
        password_env: Option<String>,
    },
}

fn exit(verdict: Verdict) -> ExitCode {
    match verdict {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("oqsbot: {e}");
            ExitCode::from(2)
        }
    }
}

async fn serve(options: SimOptions, vary: sim::VaryArg) -> ExitCode {
    let running = match sim::start_varied(&options, vary).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("oqsbot: {e}");
            return ExitCode::from(2);
        }
    };
    println!("{}", sim::describe(&running, &options));
    println!("Press Ctrl-C to stop.");
    let _ = std::io::stdout().flush();
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("oqsbot: cannot wait for Ctrl-C: {e}");
    }
    running.shutdown();
    ExitCode::SUCCESS
}

fn apply_browser(options: &mut oqsbot::browser::BrowserOptions, args: &BrowserArgs) -> Result<(), ExitCode> {
    if let Some(kind) = &args.browser {
        match oqsbot::browser::BrowserKind::parse(kind) {
            Some(k) => options.kind = k,
            None => {
                eprintln!("oqsbot: --browser {kind:?}: use chromium, chrome or edge");
                return Err(ExitCode::from(2));
            }
        }
    }
    options.driver_path = args.chromedriver.clone();
    options.webdriver_url = args.webdriver_url.clone();
    options.allow_plain_webdriver = args.allow_plain_webdriver;
    options.headed = args.headed;
    options.answer_limit = args.driver_answer_secs.map(std::time::Duration::from_secs);
    // A refused URL is reported by the run's input checks (or the replay's start), with exit code 2.
    if let Some(url) = &args.webdriver_url
        && let Ok(Some(warning)) = oqsbot::net::check_webdriver_url(url, args.allow_plain_webdriver)
    {
        eprintln!("{warning}");
    }
    Ok(())
}

async fn run_job(job: &oqsbot::job::JobFile, options: &oqsbot::job::run::RunOptions) -> ExitCode {
    let started = std::time::SystemTime::now();
    let (result, dir) = tokio::select! {
        r = oqsbot::job::run::run(job, options) => r,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("oqsbot: interrupted; run the same job again to continue");
            return ExitCode::from(130);
        }
    };
    let report = dir.join("report.html");
    let recording = dir.join(oqsbot::recording::FILE_NAME);
    // Only this run's: a run refused before it began leaves the last one's in place,
    // and a folder another run holds is that run's.
    let busy = matches!(result, Err(oqsbot::job::run::RunError::Lock(_)));
    if options.record
        && !busy
        && let Ok(meta) = std::fs::metadata(&recording)
        && meta.modified().is_ok_and(|m| m >= started)
    {
        eprintln!(
            "recording (send this file to the support desk): {} ({} KB)",
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
            ExitCode::SUCCESS
        }
        Err(e) => {
            // A batch copies this line into its summary: scrubbed as a log line is.
            eprintln!("oqsbot: {}", oqsbot::secret::redact_for_log(&e.to_string()));
            eprintln!(
                "停止しました (終了コード {})。{}",
                e.exit_code(),
                e.next_step_ja()
            );
            if report.exists() {
                eprintln!("レポート: {}", report.display());
            }
            ExitCode::from(e.exit_code())
        }
    }
}

/// `oqsbot credentials`: the hand-over sheet, or one password at a terminal.
fn credentials(action: CredentialsAction, out: &mut dyn Write) -> ExitCode {
    use oqsbot::job::handover;
    use std::io::IsTerminal;
    let load = |path: &std::path::Path| oqsbot::job::JobFile::load(path).map_err(|e| e.to_string());
    let result = match action {
        CredentialsAction::Sheet { job, output } => load(&job).and_then(|job| {
            let path = handover::write_sheet(&job, output.as_deref()).map_err(|e| e.to_string())?;
            let _ = writeln!(
                out,
                "機密: アカウントとパスワードの引き渡し票を書きました (本人のみ読み書き可): {}\n印刷してお客様にお渡ししたら、このファイルを削除してください。\nsecret: the hand-over sheet with every password: {}; print it, then delete it",
                path.display(),
                path.display()
            );
            Ok(())
        }),
        CredentialsAction::Show { job, user_id } => {
            // Never into a file, a pipe or a terminal log someone reads later.
            if !std::io::stdout().is_terminal() {
                Err("oqsbot credentials show prints a password only to a terminal, not into a file or a pipe; for paper, use oqsbot credentials sheet".to_string())
            } else {
                load(&job).and_then(|job| {
                    let password = handover::password_of(&job, &user_id).map_err(|e| e.to_string())?;
                    let _ = writeln!(out, "{user_id}: {}", password.expose());
                    Ok(())
                })
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("oqsbot: {e}");
            ExitCode::from(2)
        }
    }
}

/// Several jobs: each as its own `oqsbot run JOB`, with one summary at the end.
async fn run_batch(
    args: &[PathBuf],
    parallel: usize,
    summary: Option<PathBuf>,
    child_args: Vec<OsString>,
) -> ExitCode {
    use oqsbot::batch::{self, Progress};
    let planned = match batch::job_files(args).and_then(batch::plan) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("oqsbot: {e}");
            return ExitCode::from(2);
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
            return ExitCode::from(6);
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
    ExitCode::from(batch::exit_code(&outcomes))
}

/// The options of `oqsbot run` that each job of a batch is given, as they were given.
fn child_args(
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

fn absolute(path: &std::path::Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `oqsbot replay`: the viewer, or the recording's flows run again against its responses.
async fn replay(
    file: PathBuf,
    flows: Option<PathBuf>,
    html: Option<PathBuf>,
    out_dir: Option<PathBuf>,
    browser: BrowserArgs,
) -> ExitCode {
    use oqsbot::recording::replay::{ReplayOptions, Verdict};
    let recording = match oqsbot::recording::Recording::open(&file) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("oqsbot: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(html) = html {
        let title = file.display().to_string();
        let page = oqsbot::recording::viewer::render(&recording, &title);
        return match std::fs::write(&html, page) {
            Ok(()) => {
                println!("viewer: {}", html.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("oqsbot: cannot write {}: {e}", html.display());
                ExitCode::from(2)
            }
        };
    }
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let work_dir = out_dir.unwrap_or_else(|| PathBuf::from(format!("runs/replay-{stamp}")));
    let mut browser_options = oqsbot::browser::BrowserOptions::new(work_dir.join("downloads"));
    if let Err(code) = apply_browser(&mut browser_options, &browser) {
        return code;
    }
    println!(
        "replaying {} (oqsbot {}, {} of {}): {} steps{}",
        file.display(),
        recording.header.oqsbot,
        recording.header.command,
        recording.header.started,
        recording.steps().count(),
        if recording.torn_tail {
            "; its last line was cut short and is left out"
        } else {
            ""
        }
    );
    let options = ReplayOptions {
        flows_dir: flows,
        browser: browser_options,
        work_dir,
        changes: Vec::new(),
    };
    let outcome = match oqsbot::recording::replay::replay(&recording, options).await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("oqsbot: {e}");
            return ExitCode::from(2);
        }
    };
    for c in &outcome.comparisons {
        let step = c.replayed.as_ref().or(c.recorded.as_ref());
        let what = step
            .map(|s| format!("{} {} {}", s.flow, s.step, s.action))
            .unwrap_or_default();
        let matched = step.and_then(|s| s.matched.clone()).unwrap_or_default();
        if c.differences.is_empty() {
            println!("  same     {what} {matched}");
        } else {
            println!("  DIFFERS  {what}: {}", c.differences.join("; "));
        }
        for note in &c.notes {
            println!("           ({note})");
        }
    }
    if !outcome.unmatched.is_empty() {
        println!(
            "requests the recording has no answer for (answered 404): {}",
            outcome.unmatched.join(", ")
        );
    }
    println!("the replay's own recording: {}", outcome.recording.display());
    match outcome.verdict {
        Verdict::Same => {
            println!("every step did what it did in the recording");
            ExitCode::SUCCESS
        }
        Verdict::RecordingEnds => {
            println!(
                "every recorded step did the same; the recording stops there (its run was stopped before it ended)"
            );
            ExitCode::SUCCESS
        }
        Verdict::FailurePassesNow => {
            println!("the step that failed in the recording passes now; the recording ends there");
            ExitCode::SUCCESS
        }
        Verdict::Diverged(i) => {
            println!("the replay did something else at step {} of the recording", i + 1);
            if let Some(e) = outcome.failure {
                let run = oqsbot::job::run::RunError::from_flow(e);
                println!(
                    "the replayed flow failed (a run would stop with exit code {}): {run}",
                    run.exit_code()
                );
            }
            ExitCode::from(1)
        }
    }
}

/// Where the demo serves the オン資 site over mutual TLS; fixed, so that a
/// browser policy can name it ahead of time.
const DEMO_TLS_PORT: u16 = 18443;

/// The simulator in the needs-reset scenario, a job for its sample clinic, and the run.
async fn demo(dir: PathBuf, browser: BrowserArgs) -> ExitCode {
    let mut browser_options = oqsbot::browser::BrowserOptions::new(dir.join("downloads"));
    if let Err(code) = apply_browser(&mut browser_options, &browser) {
        return code;
    }
    // As the real portal, when the browser can present the certificate.
    let tls_url = format!("https://127.0.0.1:{DEMO_TLS_PORT}/");
    let policy = oqsbot::browser::policy::check(
        &oqsbot::browser::policy::SystemPolicy,
        browser_options.kind,
        &tls_url,
        oqsbot::cert::EXPECTED_ISSUER,
    );
    let mutual = browser_options.webdriver_url.is_none() && policy.is_ok();
    if mutual {
        println!("mutual TLS: the オン資 site asks for the client certificate, as the real portal does");
    } else {
        println!(
            "The demo's オン資 site runs over plain HTTP. To run it as the real portal does, over mutual TLS with the downloaded client certificate, run as root:\n  oqsbot browser-policy --url {} --name oqsbot-demo\n(./scripts/demo.sh does this when run as root)",
            tls_url.trim_end_matches('/')
        );
    }
    let options = SimOptions {
        scenario: "needs-reset".into(),
        port: 0,
        config: None,
        master_pdf: None,
        mutual_tls_port: mutual.then_some(DEMO_TLS_PORT),
    };
    let sim = match sim::start(&options).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("oqsbot: {e}");
            if mutual {
                eprintln!("Is port {DEMO_TLS_PORT} taken? The demo's mutual-TLS site needs it.");
            }
            return ExitCode::from(2);
        }
    };
    println!("{}", sim::describe(&sim, &options));
    let job = match oqsbot::job::demo::write_demo_job(&dir, &sim) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("oqsbot: cannot prepare the demo in {}: {e}", dir.display());
            return ExitCode::from(2);
        }
    };
    println!("job file: {}", dir.join("job.toml").display());
    let mut options = oqsbot::job::run::RunOptions::new(&job);
    options.secrets = oqsbot::job::demo::demo_secrets();
    if let Err(code) = apply_browser(&mut options.browser, &browser) {
        return code;
    }
    let code = run_job(&job, &options).await;
    sim.shutdown();
    code
}

#[tokio::main]
async fn main() -> ExitCode {
    oqsbot::logging::init();
    let cli = Cli::parse();
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Sim {
            scenario,
            port,
            config,
            write_master_pdf,
            vary,
        } => {
            drop(out);
            serve(
                SimOptions {
                    scenario,
                    port,
                    config,
                    master_pdf: write_master_pdf,
                    mutual_tls_port: None,
                },
                vary,
            )
            .await
        }
        Command::Demo { dir, browser } => {
            drop(out);
            demo(dir, browser).await
        }
        Command::Run {
            job: jobs,
            jobs: parallel,
            summary,
            flows,
            recording,
            browser,
        } => {
            drop(out);
            let job = match jobs.as_slice() {
                [one] if !one.is_dir() && summary.is_none() => one,
                _ => {
                    // Refused once here, not in every job's own log.
                    let mut checked = oqsbot::browser::BrowserOptions::new(PathBuf::from("."));
                    if let Err(code) = apply_browser(&mut checked, &browser) {
                        return code;
                    }
                    if let Some(url) = &browser.webdriver_url
                        && let Err(e) = oqsbot::net::check_webdriver_url(url, browser.allow_plain_webdriver)
                    {
                        eprintln!("oqsbot: {e}");
                        return ExitCode::from(2);
                    }
                    let child_args = child_args(flows.as_deref(), &recording, &browser);
                    return run_batch(&jobs, parallel.into(), summary, child_args).await;
                }
            };
            let job = match oqsbot::job::JobFile::load(job) {
                Ok(j) => j,
                Err(e) => {
                    eprintln!("oqsbot: {e}");
                    return ExitCode::from(2);
                }
            };
            let mut options = oqsbot::job::run::RunOptions::new(&job);
            options.flows_dir = flows;
            options.record = !recording.no_record;
            options.recording_cap = recording.recording_cap_mb.saturating_mul(1024 * 1024);
            if let Err(code) = apply_browser(&mut options.browser, &browser) {
                return code;
            }
            run_job(&job, &options).await
        }
        Command::Code {
            action: CodeAction::Check { code },
        } => exit(commands::code_check(&code, &mut out)),
        Command::Password {
            action: PasswordAction::Check,
        } => exit(commands::password_check(&mut std::io::stdin().lock(), &mut out)),
        Command::Password {
            action: PasswordAction::Generate { length },
        } => exit(commands::password_generate(length, &mut out)),
        Command::Csv {
            action:
                CsvAction::Build {
                    kind,
                    start,
                    password_env,
                    output,
                    layout,
                },
        } => {
            let verdict = commands::secret(password_env.as_deref(), "password for the accounts: ").and_then(
                |password| {
                    commands::csv_build(
                        &CsvBuild {
                            kind: &kind,
                            start: &start,
                            password: &password,
                            output: &output,
                            layout: layout.as_deref(),
                        },
                        &mut out,
                    )
                },
            );
            exit(verdict)
        }
        Command::Csv {
            action: CsvAction::Check { file, json, layout },
        } => exit(commands::csv_check(&file, json, layout.as_deref(), &mut out)),
        Command::Pdf {
            file,
            json,
            show_password,
        } => exit(commands::pdf_show(&file, json, show_password, &mut out)),
        Command::BrowserPolicy { args } => {
            let issuer = oqsbot::cert::EXPECTED_ISSUER;
            match oqsbot::browser::client_cert::write_policy(&args.dir, &args.name, &args.url, issuer) {
                Ok(path) => {
                    let rule =
                        oqsbot::browser::client_cert::policy_rule(&args.url, issuer).replace('"', "\\\"");
                    let _ = writeln!(out, "wrote {}", path.display());
                    // Chromium takes the policy from the last file, by name, that sets it.
                    let effective = oqsbot::browser::policy::rules_in_dir(&args.dir).unwrap_or_default();
                    if !effective
                        .iter()
                        .any(|r| oqsbot::browser::policy::rule_covers(r, &args.url))
                    {
                        eprintln!(
                            "oqsbot: another file in {} that sorts after {} sets AutoSelectCertificateForUrls too, and the browser takes the list from that one: put this rule into it",
                            args.dir.display(),
                            path.display()
                        );
                        return ExitCode::from(1);
                    }
                    let _ = writeln!(
                        out,
                        "Edge on Windows takes the same rule from the registry (as administrator):\n  reg add HKLM\\SOFTWARE\\Policies\\Microsoft\\Edge\\AutoSelectCertificateForUrls /v 1 /t REG_SZ /d \"{rule}\""
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("oqsbot: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Flow {
            name,
            job,
            vars,
            secret_envs,
            login_as,
            flows,
            out: out_dir,
            recording,
            browser,
        } => {
            let cmd = oqsbot::flow_command::FlowCommand {
                name,
                job,
                vars,
                secret_envs,
                login_as,
                flows_dir: flows,
                out_dir,
                browser: oqsbot::flow_command::BrowserChoice {
                    kind: browser.browser,
                    chromedriver: browser.chromedriver,
                    webdriver_url: browser.webdriver_url,
                    allow_plain_webdriver: browser.allow_plain_webdriver,
                    headed: browser.headed,
                    answer_secs: browser.driver_answer_secs,
                },
                record: !recording.no_record,
                recording_cap: recording.recording_cap_mb.saturating_mul(1024 * 1024),
            };
            exit(oqsbot::flow_command::run(cmd, &mut out).await)
        }
        Command::Credentials { action } => credentials(action, &mut out),
        Command::Replay {
            file,
            flows,
            html,
            out: out_dir,
            browser,
        } => {
            drop(out);
            replay(file, flows, html, out_dir, browser).await
        }
        Command::Cert {
            action:
                CertAction::Check {
                    file,
                    code,
                    password_env,
                },
        } => {
            let verdict = commands::secret(password_env.as_deref(), "certificate password (4 digits): ")
                .and_then(|password| commands::cert_check(&file, &code, &password, &mut out));
            exit(verdict)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each job of a batch is given every `oqsbot run` option as it was given.
    #[test]
    fn a_batch_gives_each_job_its_options() {
        let given = [
            "oqsbot",
            "run",
            "a.toml",
            "b.toml",
            "--jobs",
            "2",
            "--summary",
            "s",
            "--flows",
            "myflows",
            "--no-record",
            "--recording-cap-mb",
            "7",
            "--browser",
            "edge",
            "--chromedriver",
            "/opt/d",
            "--webdriver-url",
            "http://10.0.0.2:4444",
            "--allow-plain-webdriver",
            "--headed",
            "--driver-answer-secs",
            "40",
        ];
        let Command::Run {
            flows,
            recording,
            browser,
            ..
        } = Cli::parse_from(given).command
        else {
            panic!("not run");
        };
        let args = child_args(flows.as_deref(), &recording, &browser);
        let mut child: Vec<OsString> = vec!["oqsbot".into(), "run".into(), "job.toml".into()];
        child.extend(args);
        let Command::Run {
            job,
            flows: child_flows,
            recording: child_recording,
            browser: child_browser,
            ..
        } = Cli::parse_from(child).command
        else {
            panic!("not run");
        };
        assert_eq!(job, [PathBuf::from("job.toml")]);
        assert_eq!(child_flows, Some(absolute(std::path::Path::new("myflows"))));
        assert_eq!(child_recording, recording);
        assert_eq!(child_browser, browser);
        let Command::Run {
            recording, browser, ..
        } = Cli::parse_from(["oqsbot", "run", "d"]).command
        else {
            panic!("not run");
        };
        let defaults = child_args(None, &recording, &browser);
        assert_eq!(defaults, [OsString::from("--recording-cap-mb"), "20".into()]);
    }
}
