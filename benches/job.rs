//! The whole job, `oqsbot run`, on simulators with no added delays: the
//! needs-reset clinic (certificate, reset, registration, upload, verification).
//!
//! - the median wall time of one job, and the CPU time the bot itself spent;
//! - 1, 2, 4 and 8 jobs at once, each for a different institution on its own
//!   simulator: the time until all are done, the throughput, and the peak
//!   memory of everything involved (this process, the drivers and every
//!   browser process), as the sum of proportional set sizes (PSS), so pages
//!   the browsers share are counted once.
//!
//! - where the median job's time went, flow by flow: its wall time; the
//!   WebDriver commands and the time their answers took (the browser's work,
//!   page loads included); the rest, which is oqsbot's own (its checks, its
//!   waits between looks); the pages the simulator served and the time it took.
//!
//! `OQS_BENCH_RUNS` sets the rounds per measurement (default 5 alone, 3 at once);
//! `OQS_BENCH_WEBDRIVER_URL` runs every job through that WebDriver (a Grid);
//! `OQS_BENCH_ALONE_ONLY=1` measures the single job and its breakdown only.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use oqs_sim::{RunningSim, Scenario, SimConfig};
use oqsbot::cli::demo::{demo_secrets, write_demo_job};
use oqsbot::job::run::{RunOptions, run};
use oqsbot::portal::institution::check_digit;

/// The needs-reset scenario, moved to the `n`th institution: its own code and master.
fn institution(n: usize) -> Scenario {
    let mut s = Scenario::load("needs-reset").expect("scenario");
    let old = s.institution.code.clone();
    let first_nine = format!("27131{:02}89", 7 + n);
    let digits: Vec<u8> = first_nine.bytes().map(|b| b - b'0').collect();
    let nine: [u8; 9] = digits.try_into().expect("nine digits");
    let code = format!("{first_nine}{}", check_digit(&nine));
    s.master.user_id = format!("H{}", &code[..7]);
    for c in s.certificates.iter_mut().filter(|c| c.institution_code == old) {
        c.institution_code = code.clone();
    }
    s.institution.code = code;
    s.name = format!("needs-reset-{n}");
    s
}

/// The bulk registration's own delays: none, or a real portal's few seconds each.
#[derive(Clone, Copy)]
enum BulkDelays {
    None,
    Portal { queued: u64, processing: u64 },
}

async fn simulator(n: usize, delays: BulkDelays) -> RunningSim {
    let (queued, processing) = match delays {
        BulkDelays::None => (0, 0),
        BulkDelays::Portal { queued, processing } => (queued, processing),
    };
    let config = SimConfig::from_toml(&format!(
        "[delays]\nqueued_secs = {queued}\nprocessing_secs = {processing}\n"
    ))
    .expect("config");
    oqs_sim::start(institution(n), config, 0)
        .await
        .expect("simulator")
}

/// Where one flow's time went.
struct FlowTime {
    what: String,
    wall: Duration,
    commands: u64,
    webdriver: Duration,
    pages: usize,
    server: Duration,
}

/// One job, start to end; its wall time, and where it went.
async fn one_job(n: usize, dir: &Path) -> (Duration, Vec<FlowTime>) {
    job_with(n, dir, BulkDelays::None).await
}

/// With the portal's delays, the job keeps the default status settings, as a
/// technician's does: the demo's one-second interval would hide the wait's cost.
async fn job_with(n: usize, dir: &Path, delays: BulkDelays) -> (Duration, Vec<FlowTime>) {
    let sim = simulator(n, delays).await;
    let mut job = write_demo_job(&dir.join(format!("job-{n}")), &sim).expect("job");
    if let BulkDelays::Portal { .. } = delays {
        let defaults: oqsbot::job::Output = toml::from_str("dir = \"x\"").expect("defaults");
        job.output.status_interval_secs = defaults.status_interval_secs;
        job.output.status_first_look_secs = defaults.status_first_look_secs;
    }
    let mut options = RunOptions::new(&job);
    options.secrets = demo_secrets();
    // Through a Grid, say: its node's browsers then count in no memory figure here.
    options.browser.webdriver_url = std::env::var("OQS_BENCH_WEBDRIVER_URL").ok();
    let started = Instant::now();
    let (result, out) = run(&job, &options).await;
    let elapsed = started.elapsed();
    result.unwrap_or_else(|e| panic!("job {n}: {e}"));
    (elapsed, flow_times(&out, &sim))
}

/// The report's flow steps, each with the requests the simulator served meanwhile.
fn flow_times(out: &Path, sim: &RunningSim) -> Vec<FlowTime> {
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).expect("report"))
            .expect("json");
    let served: Vec<(chrono::DateTime<chrono::Utc>, u64)> = sim
        .served()
        .into_iter()
        .filter(|r| !r.path.starts_with("/__sim"))
        .map(|r| (r.at, r.micros))
        .collect();
    report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s.get("webdriver").is_some())
        .map(|s| {
            let end: chrono::DateTime<chrono::Utc> = s["at"].as_str().expect("at").parse().expect("time");
            let wall = Duration::from_millis(s["millis"].as_u64().unwrap_or_default());
            let start = end - chrono::Duration::from_std(wall).unwrap_or_default();
            let during: Vec<u64> = served
                .iter()
                .filter(|(at, _)| *at >= start && *at <= end)
                .map(|(_, micros)| *micros)
                .collect();
            FlowTime {
                what: s["what"].as_str().unwrap_or_default().to_string(),
                wall,
                commands: s["webdriver"]["commands"].as_u64().unwrap_or_default(),
                webdriver: Duration::from_millis(s["webdriver"]["millis"].as_u64().unwrap_or_default()),
                pages: during.len(),
                server: Duration::from_micros(during.iter().sum()),
            }
        })
        .collect()
}

fn print_flow_times(wall: Duration, flows: &[FlowTime]) {
    println!(
        "\nwhere the median job's {:.2} s went (WebDriver: commands and the wait for their answers; oqsbot: the rest of the flow's time; served: requests the simulator answered, and its time)",
        wall.as_secs_f64()
    );
    println!(
        "{:>8} {:>9} {:>10} {:>8} {:>7} {:>9}  flow",
        "wall", "commands", "WebDriver", "oqsbot", "served", "server"
    );
    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
    for f in flows {
        println!(
            "{:>8} {:>9} {:>10} {:>8} {:>7} {:>9}  {}",
            ms(f.wall),
            f.commands,
            ms(f.webdriver),
            ms(f.wall.saturating_sub(f.webdriver)),
            f.pages,
            ms(f.server),
            f.what
        );
    }
    let sum = |g: fn(&FlowTime) -> Duration| flows.iter().map(g).sum::<Duration>();
    let in_flows = sum(|f| f.wall);
    println!(
        "{:>8} {:>9} {:>10} {:>8} {:>7} {:>9}  all flows",
        ms(in_flows),
        flows.iter().map(|f| f.commands).sum::<u64>(),
        ms(sum(|f| f.webdriver)),
        ms(in_flows.saturating_sub(sum(|f| f.webdriver))),
        flows.iter().map(|f| f.pages).sum::<usize>(),
        ms(sum(|f| f.server)),
    );
    println!(
        "{:>8}  outside the flows: browsers starting and ending, the PDF and certificate checks, the store and the journal",
        ms(wall.saturating_sub(in_flows))
    );
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// CPU time (user + system) this process has used, from /proc/self/stat.
fn own_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    // SAFETY: sysconf has no preconditions.
    #[cfg(unix)]
    let per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    // No /proc elsewhere: `ticks` is 0 there.
    #[cfg(not(unix))]
    let per_sec = 100;
    Duration::from_millis(ticks * 1000 / per_sec)
}

/// This process and every process it started, and the browsers run on `dir`'s profiles.
fn our_processes(dir: &Path) -> Vec<u32> {
    let me = std::process::id();
    let needle = dir.display().to_string();
    let mut parent: HashMap<u32, u32> = HashMap::new();
    let mut ours: HashSet<u32> = HashSet::from([me]);
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if let Ok(stat) = std::fs::read_to_string(entry.path().join("stat"))
            && let Some(ppid) = stat
                .rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().nth(1))
                .and_then(|p| p.parse().ok())
        {
            parent.insert(pid, ppid);
        }
        if std::fs::read(entry.path().join("cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle))
        {
            ours.insert(pid);
        }
    }
    for &pid in parent.keys() {
        let mut p = pid;
        for _ in 0..64 {
            if ours.contains(&p) {
                ours.insert(pid);
                break;
            }
            match parent.get(&p) {
                Some(&pp) if pp != 0 && pp != p => p = pp,
                _ => break,
            }
        }
    }
    ours.into_iter().collect()
}

/// The summed PSS of the processes, in KiB.
fn pss_kib(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok())
        .filter_map(|text| {
            text.lines()
                .find(|l| l.starts_with("Pss:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .sum()
}

/// Samples the memory of everything this benchmark runs until stopped; keeps the peak.
struct MemoryWatch {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl MemoryWatch {
    fn start(dir: PathBuf) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, peak) = (stop.clone(), peak.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let now = pss_kib(&our_processes(&dir));
                    peak.fetch_max(now, Ordering::Relaxed);
                    // A sampling period, not a wait for a condition: the watch only observes.
                    std::thread::park_timeout(Duration::from_millis(100));
                }
            })
        };
        Self { stop, peak, thread }
    }

    /// The peak, in MiB.
    fn finish(self) -> f64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.thread().unpark();
        let _ = self.thread.join();
        self.peak.load(Ordering::Relaxed) as f64 / 1024.0
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let runs_alone: usize = std::env::var("OQS_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let runs_together = runs_alone.min(3);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut round = 0usize;

    // One job at a time: wall time, and the bot's own CPU time.
    let mut walls = Vec::new();
    let mut cpus = Vec::new();
    let mut breakdowns = Vec::new();
    for _ in 0..runs_alone {
        let round_dir = dir.path().join(format!("round-{round}"));
        round += 1;
        let cpu = own_cpu();
        let (wall, flows) = one_job(0, &round_dir).await;
        walls.push(wall);
        breakdowns.push((wall, flows));
        cpus.push(own_cpu().saturating_sub(cpu));
    }
    let wall = median(walls);
    let cpu = median(cpus);
    println!(
        "one job: median {:.2} s wall; oqsbot itself (with the simulator) used {:.2} s of CPU ({:.0}% of the wall time)",
        wall.as_secs_f64(),
        cpu.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64()
    );

    let alone_only = std::env::var("OQS_BENCH_ALONE_ONLY").is_ok_and(|v| v == "1");
    if alone_only {
        breakdowns.sort_by_key(|(wall, _)| *wall);
        let (median_wall, flows) = &breakdowns[breakdowns.len() / 2];
        print_flow_times(*median_wall, flows);
        return;
    }

    // The portal's own bulk delays, with the job's default status settings.
    let (queued, processing) = (3, 3);
    let mut with_delays = Vec::new();
    for _ in 0..runs_alone.min(3) {
        let round_dir = dir.path().join(format!("round-{round}"));
        round += 1;
        let delays = BulkDelays::Portal { queued, processing };
        with_delays.push(job_with(0, &round_dir, delays).await.0);
    }
    let with_delays = median(with_delays);
    let over = with_delays.as_secs_f64() - wall.as_secs_f64() - (queued + processing) as f64;
    println!(
        "with the portal's bulk delays ({queued} s queued, {processing} s processing) and the default status settings: median {:.2} s, {over:+.2} s over the zero-delay job and the delays",
        with_delays.as_secs_f64()
    );

    breakdowns.sort_by_key(|(wall, _)| *wall);
    let (median_wall, flows) = &breakdowns[breakdowns.len() / 2];
    print_flow_times(*median_wall, flows);
    println!();
    println!(
        "{:>6} {:>14} {:>18} {:>18} {:>16}",
        "jobs", "all done", "slowest job", "jobs per minute", "peak memory"
    );
    for jobs in [1usize, 2, 4, 8] {
        let mut makespans = Vec::new();
        let mut slowest = Vec::new();
        let mut peaks = Vec::new();
        for _ in 0..runs_together {
            let round_dir = dir.path().join(format!("round-{round}"));
            round += 1;
            std::fs::create_dir_all(&round_dir).expect("round dir");
            let watch = MemoryWatch::start(round_dir.clone());
            let started = Instant::now();
            let tasks: Vec<_> = (0..jobs)
                .map(|n| {
                    let d = round_dir.clone();
                    tokio::spawn(async move { one_job(n, &d).await.0 })
                })
                .collect();
            let mut each = Vec::new();
            for t in tasks {
                each.push(t.await.expect("job task"));
            }
            makespans.push(started.elapsed());
            slowest.push(each.into_iter().max().unwrap_or_default());
            peaks.push(watch.finish());
        }
        let makespan = median(makespans);
        peaks.sort_by(f64::total_cmp);
        println!(
            "{:>6} {:>12.2} s {:>16.2} s {:>18.1} {:>12.0} MiB",
            jobs,
            makespan.as_secs_f64(),
            median(slowest).as_secs_f64(),
            jobs as f64 * 60.0 / makespan.as_secs_f64(),
            peaks[peaks.len() / 2]
        );
    }
}
