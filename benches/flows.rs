//! WebDriver commands and wall time per flow, against the simulator with no
//! added delays. Each flow runs several times on a fresh simulator; the
//! browser is started once per flow and not counted.

use std::time::{Duration, Instant};

use oqs_sim::{Scenario, SimConfig};
use oqsbot::browser::{Browser, BrowserOptions};
use oqsbot::flow::{Engine, FlowLibrary};
use oqsbot::secret::{Redactor, Secret};

const RUNS: usize = 5;

struct Case {
    flow: &'static str,
    scenario: &'static str,
    /// Flows run first, not measured.
    before: &'static [&'static str],
    login: Option<(&'static str, &'static str)>,
}

const CASES: &[Case] = &[
    Case {
        flow: "login",
        scenario: "carried-over",
        before: &[],
        login: Some(("OnsKANRI", "OnsAdmin@00369")),
    },
    Case {
        flow: "read-institution-code",
        scenario: "carried-over",
        before: &["login"],
        login: Some(("OnsKANRI", "OnsAdmin@00369")),
    },
    Case {
        flow: "list-accounts",
        scenario: "carried-over",
        before: &["login"],
        login: Some(("OnsKANRI", "OnsAdmin@00369")),
    },
    Case {
        flow: "logout",
        scenario: "carried-over",
        before: &["login"],
        login: Some(("OnsKANRI", "OnsAdmin@00369")),
    },
    Case {
        flow: "cert-download",
        scenario: "needs-reset",
        before: &[],
        login: None,
    },
    Case {
        flow: "reset-master-password",
        scenario: "needs-reset",
        before: &[],
        login: None,
    },
    Case {
        flow: "register-admin",
        scenario: "initial-password",
        before: &["login"],
        login: Some(("H1310100", "x7Kp2#qLm9Az")),
    },
    Case {
        flow: "bulk-upload",
        scenario: "admin-exists",
        before: &["login"],
        login: Some(("OnsKANRI", "q4Rt#7vWx2Ke")),
    },
];

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let layout = oqsbot::bulk_csv::Layout::builtin();
    let rows = oqsbot::bulk_csv::default_accounts(
        layout,
        oqsbot::bulk_csv::TerminalKind::MedicalDental,
        "OnsAdmin@00369",
        chrono::Utc::now().date_naive(),
    );
    let csv = dir.path().join("accounts.csv");
    std::fs::write(&csv, oqsbot::bulk_csv::encode(layout, &rows).expect("csv")).expect("write csv");

    println!("{:<24} {:>10} {:>14}", "flow", "commands", "median time");
    // OQS_BENCH_FLOW=name runs one case only.
    let only = std::env::var("OQS_BENCH_FLOW").ok();
    for case in CASES
        .iter()
        .filter(|c| only.as_deref().is_none_or(|o| o == c.flow))
    {
        let browser = Browser::start(BrowserOptions::new(dir.path().join(case.flow)))
            .await
            .expect("browser");
        let mut times = Vec::new();
        let mut commands = Vec::new();
        for _ in 0..RUNS {
            let scenario = Scenario::load(case.scenario).expect("scenario");
            let sim = oqs_sim::start(scenario, SimConfig::default(), 0)
                .await
                .expect("simulator");
            let mut e = Engine::new(
                &browser,
                FlowLibrary::default(),
                Redactor::new(),
                &dir.path().join("artifacts"),
            );
            e.set("oqs_url", &sim.oqs_url());
            e.set("cert_url", &sim.cert_site_url());
            e.set("request_id", "202611250000789");
            e.set("reference_id", "Z9Y8X7W6VA");
            e.set_secret("cert_password", Secret::new("1357"));
            e.set("reset_user_id", "H2713107R");
            e.set("master_user_id", "H2713107");
            e.set_secret("secret_number", Secret::new("1357"));
            e.set("admin_user_id", "OnsKANRI");
            e.set("admin_name", "管理アカウント");
            e.set("admin_kana", "カンリアカウント");
            e.set(
                "start_date",
                &chrono::Utc::now()
                    .with_timezone(&chrono_tz::Asia::Tokyo)
                    .format("%Y/%m/%d")
                    .to_string(),
            );
            e.set("csv_file", csv.to_str().expect("path"));
            e.set_secret("new_password", Secret::new("New#Password2026"));
            if let Some((user, password)) = case.login {
                e.set("user_id", user);
                e.set_secret("password", Secret::new(password));
            }
            for b in case.before {
                e.run(b).await.unwrap_or_else(|err| panic!("{err}"));
            }
            let count = browser.command_count();
            let started = Instant::now();
            e.run(case.flow).await.unwrap_or_else(|err| {
                let files: Vec<_> = std::fs::read_dir(browser.download_dir())
                    .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
                    .unwrap_or_default();
                panic!("{err}\ndownloads: {files:?}")
            });
            times.push(started.elapsed());
            commands.push(browser.command_count() - count);
        }
        commands.sort();
        println!(
            "{:<24} {:>10} {:>11.0} ms",
            case.flow,
            commands[commands.len() / 2],
            median(times).as_secs_f64() * 1000.0
        );
        browser.quit().await;
    }
}
