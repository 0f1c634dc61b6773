//! The command line: every `oqsbot` command, its arguments turned into the
//! library's options once, and the only place that prints. Exit codes are the
//! README's: 0 done, 1 a check failed, 2 bad input, 3 to 7 a run's outcome
//! (`job::outcome`), 130 interrupted.

pub mod batch;
mod credentials;
pub mod demo;
mod flow;
mod offline;
mod progress;
mod replay;
mod run;
mod sim;

pub use run::RECORDING_LINE;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::job::outcome::Exit;

use clap::{Parser, Subcommand};

use crate::portal::PasswordPolicy;
use offline::{CsvBuild, Verdict};
use sim::SimOptions;

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
        Ok(true) => Exit::Done.into(),
        Ok(false) => Exit::Failed.into(),
        Err(e) => {
            eprintln!("oqsbot: {e}");
            Exit::Input.into()
        }
    }
}

/// Sets the browser options the command line gives; an unknown browser is refused.
fn set_browser(options: &mut crate::browser::BrowserOptions, args: &BrowserArgs) -> Result<(), String> {
    if let Some(kind) = &args.browser {
        options.kind = crate::browser::BrowserKind::parse(kind)
            .ok_or_else(|| format!("--browser {kind:?}: use chromium, chrome or edge"))?;
    }
    options.driver_path = args.chromedriver.clone();
    options.webdriver_url = args.webdriver_url.clone();
    options.allow_plain_webdriver = args.allow_plain_webdriver;
    options.headed = args.headed;
    options.answer_limit = args.driver_answer_secs.map(std::time::Duration::from_secs);
    Ok(())
}

fn apply_browser(options: &mut crate::browser::BrowserOptions, args: &BrowserArgs) -> Result<(), ExitCode> {
    if let Err(e) = set_browser(options, args) {
        eprintln!("oqsbot: {e}");
        return Err(Exit::Input.into());
    }
    // A refused URL is reported by the run's input checks (or the replay's start), with exit code 2.
    if let Some(url) = &args.webdriver_url
        && let Ok(Some(warning)) = crate::net::check_webdriver_url(url, args.allow_plain_webdriver)
    {
        eprintln!("{warning}");
    }
    Ok(())
}

/// Parses the command line and runs the command.
pub async fn main() -> ExitCode {
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
            sim::serve(
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
            demo::demo(dir, browser).await
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
                    let mut checked = crate::browser::BrowserOptions::new(PathBuf::from("."));
                    if let Err(code) = apply_browser(&mut checked, &browser) {
                        return code;
                    }
                    if let Some(url) = &browser.webdriver_url
                        && let Err(e) = crate::net::check_webdriver_url(url, browser.allow_plain_webdriver)
                    {
                        eprintln!("oqsbot: {e}");
                        return Exit::Input.into();
                    }
                    let child_args = run::child_args(flows.as_deref(), &recording, &browser);
                    return run::run_batch(&jobs, parallel.into(), summary, child_args).await;
                }
            };
            let job = match crate::job::JobFile::load(job) {
                Ok(j) => j,
                Err(e) => {
                    eprintln!("oqsbot: {e}");
                    return Exit::Input.into();
                }
            };
            let mut options = crate::job::run::RunOptions::new(&job);
            options.flows_dir = flows;
            options.record = !recording.no_record;
            options.recording_cap = recording.recording_cap_mb.saturating_mul(1024 * 1024);
            if let Err(code) = apply_browser(&mut options.browser, &browser) {
                return code;
            }
            progress::install(progress::Target::Stdout);
            run::run_job(&job, &options).await
        }
        Command::Code {
            action: CodeAction::Check { code },
        } => exit(offline::code_check(&code, &mut out)),
        Command::Password {
            action: PasswordAction::Check,
        } => exit(offline::password_check(&mut std::io::stdin().lock(), &mut out)),
        Command::Password {
            action: PasswordAction::Generate { length },
        } => exit(offline::password_generate(length, &mut out)),
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
            let verdict = offline::secret(password_env.as_deref(), "password for the accounts: ").and_then(
                |password| {
                    offline::csv_build(
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
        } => exit(offline::csv_check(&file, json, layout.as_deref(), &mut out)),
        Command::Pdf {
            file,
            json,
            show_password,
        } => exit(offline::pdf_show(&file, json, show_password, &mut out)),
        Command::BrowserPolicy { args } => {
            let issuer = crate::cert::EXPECTED_ISSUER;
            match crate::browser::client_cert::write_policy(&args.dir, &args.name, &args.url, issuer) {
                Ok(path) => {
                    let rule =
                        crate::browser::client_cert::policy_rule(&args.url, issuer).replace('"', "\\\"");
                    let _ = writeln!(out, "wrote {}", path.display());
                    // Chromium takes the policy from the last file, by name, that sets it.
                    let effective = crate::browser::policy::rules_in_dir(&args.dir).unwrap_or_default();
                    if !effective
                        .iter()
                        .any(|r| crate::browser::policy::rule_covers(r, &args.url))
                    {
                        eprintln!(
                            "oqsbot: another file in {} that sorts after {} sets AutoSelectCertificateForUrls too, and the browser takes the list from that one: put this rule into it",
                            args.dir.display(),
                            path.display()
                        );
                        return Exit::Failed.into();
                    }
                    let _ = writeln!(
                        out,
                        "Edge on Windows takes the same rule from the registry (as administrator):\n  reg add HKLM\\SOFTWARE\\Policies\\Microsoft\\Edge\\AutoSelectCertificateForUrls /v 1 /t REG_SZ /d \"{rule}\""
                    );
                    Exit::Done.into()
                }
                Err(e) => {
                    eprintln!("oqsbot: {e}");
                    Exit::Input.into()
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
            let cmd = flow::FlowCommand {
                name,
                job,
                vars,
                secret_envs,
                login_as,
                flows_dir: flows,
                out_dir,
                browser,
                record: !recording.no_record,
                recording_cap: recording.recording_cap_mb.saturating_mul(1024 * 1024),
            };
            // Standard output is the flow's JSON answer.
            progress::install(progress::Target::Stderr);
            let verdict = flow::run(cmd, &mut out).await;
            crate::progress::finish();
            exit(verdict)
        }
        Command::Credentials { action } => credentials::credentials(action, &mut out),
        Command::Replay {
            file,
            flows,
            html,
            out: out_dir,
            browser,
        } => {
            drop(out);
            // Standard output is the comparison with the recording.
            progress::install(progress::Target::Stderr);
            replay::replay(file, flows, html, out_dir, browser).await
        }
        Command::Cert {
            action:
                CertAction::Check {
                    file,
                    code,
                    password_env,
                },
        } => {
            let verdict = offline::secret(password_env.as_deref(), "certificate password (4 digits): ")
                .and_then(|password| offline::cert_check(&file, &code, &password, &mut out));
            exit(verdict)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::run::{absolute, child_args};
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
