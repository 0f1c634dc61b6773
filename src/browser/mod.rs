//! A real browser over WebDriver: a chromedriver (or msedgedriver) we spawn on
//! a free loopback port, or a remote WebDriver such as a Selenium Grid.
//! Downloads go to the run's own folder; popups, JavaScript dialogs and
//! in-page modals are handled here. The driver process dies with this value.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use thirtyfour::prelude::*;

pub mod client_cert;
mod launch;
pub mod network;
pub mod policy;
pub mod processes;
pub mod remote_files;
mod sessions;
mod watchdog;

pub use sessions::{end_remote_sessions, open_count as open_remote_sessions};

const LOCATE_JS: &str = concat!(
    include_str!("watch.js"),
    include_str!("locate.js"),
    "\nreturn run();\n"
);
/// locate.js waiting inside the page until the screen settles (an asynchronous script).
const SETTLE_JS: &str = concat!(
    include_str!("watch.js"),
    include_str!("locate.js"),
    include_str!("settle.js")
);
/// The watcher, run by the browser in every new document before the page's own scripts.
const PRELOAD_JS: &str = concat!("() => {\n", include_str!("watch.js"), "\nwatch(window, true);\n}");
/// How long setting up the BiDi preload may take before the run goes on without it.
const BIDI_SETUP_LIMIT: Duration = Duration::from_secs(10);

/// What the browser keeps of one response body for the recording.
const NETWORK_BODY_LIMIT: u64 = 8 * 1024 * 1024;

/// How often a wait looks again.
pub const POLL: Duration = Duration::from_millis(50);

/// The time limit of a wait on a condition. The only pause in a wait on this
/// side is here (a look may also wait inside the page, for the page),
/// between two looks at the condition.
pub struct Deadline {
    at: tokio::time::Instant,
    limit: Duration,
}

impl Deadline {
    pub fn after(limit: Duration) -> Self {
        Self {
            at: tokio::time::Instant::now() + limit,
            limit,
        }
    }

    /// Pauses before the next look; false once the limit has passed.
    pub async fn next_look(&self) -> bool {
        if tokio::time::Instant::now() >= self.at {
            return false;
        }
        tokio::time::sleep(POLL).await;
        true
    }

    pub fn secs(&self) -> f64 {
        self.limit.as_secs_f64()
    }

    /// The time left, none once the limit has passed.
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(tokio::time::Instant::now())
    }

    pub fn passed(&self) -> bool {
        tokio::time::Instant::now() >= self.at
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    #[error(
        "{what} was not found on PATH or beside oqsbot; install it (Debian: apt-get install chromium chromium-driver; Windows: msedgedriver.exe of Edge's exact version, beside oqsbot.exe) or pass --chromedriver PATH"
    )]
    DriverMissing { what: String },
    #[error("cannot start {program}: {source}")]
    Spawn { program: String, source: std::io::Error },
    #[error("the WebDriver at {url} did not answer within {secs} s{}", driver_said(.said))]
    DriverNotReady { url: String, secs: u64, said: String },
    #[error("{program} did not start in {} tries; the last one exited ({status}){}; if the next run fails the same way, start {program} by hand to see why", DRIVER_START_TRIES, driver_said(.said))]
    DriverExited {
        program: String,
        status: String,
        said: String,
    },
    #[error("WebDriver: {message}")]
    WebDriver { fault: Fault, message: String },
    #[error("cannot prepare the download folder {path}: {source}")]
    DownloadDir { path: String, source: std::io::Error },
    #[error("no download finished in {dir} within {secs} s")]
    DownloadTimeout { dir: String, secs: u64 },
    #[error(
        "the page did not load within {secs} s. If the site asks for a client certificate, the browser needs the AutoSelectCertificateForUrls policy (oqsbot browser-policy) and the certificate in its NSS database"
    )]
    PageLoadTimeout { secs: u64 },
    #[error("the browser's screenshot could not be read: {0}")]
    Screenshot(String),
    #[error(transparent)]
    WebDriverUrl(#[from] crate::net::WebDriverUrlError),
    #[error(transparent)]
    RemoteFile(#[from] remote_files::RemoteFileError),
    #[error(
        "the Selenium Grid at {url} does not hand its downloads back, and the portal's PDFs and certificate are downloads: start its node with --enable-managed-downloads true"
    )]
    NoManagedDownloads { url: String },
    #[error("cannot read {path} to upload it: {source}")]
    ReadUpload { path: String, source: std::io::Error },
    #[error("cannot keep the file the Grid node downloaded as {path}: {source}")]
    KeepDownload { path: String, source: std::io::Error },
}

/// The WebDriver errors a flow reacts to; everything else is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The element belongs to a page that was replaced.
    StaleElement,
    /// The window was closed (a popup that closed itself).
    WindowGone,
    /// A JavaScript dialog is open; nothing else can be read until it is answered.
    DialogOpen,
    /// Another element (an overlay) took the click.
    ClickIntercepted,
    /// The frame is gone.
    FrameGone,
    Timeout,
    /// The driver stopped answering, is gone, or lost its browser: nothing more
    /// can be done in this browser.
    Lost,
    Other,
}

impl From<WebDriverError> for BrowserError {
    fn from(e: WebDriverError) -> Self {
        use thirtyfour::error::WebDriverErrorInner as Inner;
        let fault = match e.as_inner() {
            Inner::StaleElementReference(_) => Fault::StaleElement,
            Inner::NoSuchWindow(_) => Fault::WindowGone,
            Inner::UnexpectedAlertOpen(_) => Fault::DialogOpen,
            Inner::ElementClickIntercepted(_) => Fault::ClickIntercepted,
            Inner::NoSuchFrame(_) => Fault::FrameGone,
            Inner::InvalidSessionId(_) => Fault::Lost,
            Inner::Timeout(_) | Inner::WebDriverTimeout(_) | Inner::ScriptTimeout(_) => Fault::Timeout,
            _ => {
                // chromedriver reports a closed window and a detached frame in a few wordings.
                let text = e.to_string().to_lowercase();
                if watchdog::means_lost(&text) {
                    Fault::Lost
                } else if text.contains("no such window")
                    || text.contains("target window already closed")
                    || text.contains("web view not found")
                {
                    Fault::WindowGone
                } else if text.contains("unexpected alert open") {
                    Fault::DialogOpen
                } else if text.contains("timed out receiving message from renderer")
                    || text.contains("cannot determine loading status")
                {
                    // chromedriver's own words for a page load that never ended.
                    Fault::Timeout
                } else if text.contains("stale element") || text.contains("node is detached") {
                    Fault::StaleElement
                } else {
                    Fault::Other
                }
            }
        };
        BrowserError::WebDriver {
            fault,
            message: e.to_string(),
        }
    }
}

impl BrowserError {
    pub fn fault(&self) -> Option<Fault> {
        match self {
            BrowserError::WebDriver { fault, .. } => Some(*fault),
            _ => None,
        }
    }

    fn other(message: impl Into<String>) -> Self {
        BrowserError::WebDriver {
            fault: Fault::Other,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BrowserKind {
    #[default]
    Chromium,
    Chrome,
    Edge,
}

impl BrowserKind {
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "chromium" => Some(Self::Chromium),
            "chrome" => Some(Self::Chrome),
            "edge" | "msedge" => Some(Self::Edge),
            _ => None,
        }
    }

    fn driver_name(self) -> &'static str {
        match self {
            BrowserKind::Edge => "msedgedriver",
            _ => "chromedriver",
        }
    }

    /// The driver's vendor prefix for CDP commands: msedgedriver answers only on `ms/`.
    fn cdp_vendor(self) -> &'static str {
        match self {
            BrowserKind::Edge => "ms",
            _ => "goog",
        }
    }
}

#[derive(Debug, Clone)]
pub struct BrowserOptions {
    pub kind: BrowserKind,
    /// A driver binary; found on PATH when unset.
    pub driver_path: Option<PathBuf>,
    /// Attach to this WebDriver instead of spawning one.
    pub webdriver_url: Option<String>,
    /// Let `webdriver_url` be plain http to another machine (`--allow-plain-webdriver`).
    pub allow_plain_webdriver: bool,
    /// The browser binary; the usual places when unset.
    pub binary: Option<PathBuf>,
    pub headed: bool,
    pub download_dir: PathBuf,
    /// A HOME for the driver and the browser, so a per-run NSS database holds the client certificate.
    pub home: Option<PathBuf>,
    pub page_load_timeout: Duration,
    /// How long one WebDriver command may go unanswered before the browser counts
    /// as lost; by default a page load's limit and a minute more.
    pub answer_limit: Option<Duration>,
    /// How long a step waits for its target.
    pub step_timeout: Duration,
    /// Accept the server's certificate even if no trusted CA issued it (the simulator's own CA).
    pub accept_insecure_certs: bool,
    /// Keep the HTTP responses the browser receives, for the recording (a WebDriver BiDi session).
    pub capture_network: bool,
    /// Reach no host but this machine: a replay must never touch the real portal.
    pub loopback_only: bool,
}

impl BrowserOptions {
    /// The browser profile: beside the downloads, inside the run's folder.
    pub fn profile_dir(&self) -> PathBuf {
        self.download_dir
            .parent()
            .unwrap_or(&self.download_dir)
            .join("browser-profile")
    }

    /// No command legitimately takes longer: a navigation gives up at the page-load limit.
    /// Never below the page-load limit and a little: a slow page is not a lost browser.
    pub fn answer_limit(&self) -> Duration {
        let floor = self.page_load_timeout + Duration::from_secs(5);
        self.answer_limit
            .unwrap_or(self.page_load_timeout + Duration::from_secs(60))
            .max(floor)
    }

    pub fn new(download_dir: PathBuf) -> Self {
        Self {
            kind: BrowserKind::default(),
            driver_path: None,
            webdriver_url: None,
            allow_plain_webdriver: false,
            binary: None,
            headed: false,
            download_dir,
            home: None,
            page_load_timeout: Duration::from_secs(30),
            answer_limit: None,
            step_timeout: Duration::from_secs(15),
            accept_insecure_certs: false,
            capture_network: false,
            loopback_only: false,
        }
    }
}

/// The driver, in a process group of its own with the browsers it starts.
struct DriverProcess {
    child: Child,
    /// Already waited for: its pid may since be another process's.
    reaped: bool,
    /// The browser's profile folder: every browser process names it on its command line.
    profile: String,
    pid_file: PathBuf,
}

impl Drop for DriverProcess {
    fn drop(&mut self) {
        // Not yet waited for, even if it has exited, its pid cannot have been reused.
        if !self.reaped {
            #[cfg(unix)]
            if let Ok(pid) = i32::try_from(self.child.id()) {
                // SAFETY: kill(2) with a negative pid signals the process group we created
                // for the driver at spawn; it touches no memory of ours.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
            #[cfg(windows)]
            processes::kill_trees(&[self.child.id()]);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        kill_browsers_of(&self.profile);
        let _ = std::fs::remove_file(&self.pid_file);
    }
}

/// Where the running driver's pid is kept, so the next run can end it if this one is killed.
fn driver_pid_file(options: &BrowserOptions) -> PathBuf {
    options.profile_dir().with_extension("driver-pid")
}

/// Ends the driver and browsers a killed run left on this profile; true if
/// the recorded driver was still running and was ended.
fn kill_leftovers(options: &BrowserOptions) -> bool {
    let mut ended = false;
    let pid_file = driver_pid_file(options);
    #[cfg(target_os = "linux")]
    if let Some((pid, started)) = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|t| parse_pid_file(&t))
    {
        let driver = options.kind.driver_name();
        // Only if that pid is still a driver: pids are reused.
        let is_driver = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|c| {
                c.split(|b| *b == 0)
                    .next()
                    .is_some_and(|arg0| arg0.ends_with(driver.as_bytes()))
            })
            .unwrap_or(false);
        // And the same process, not another run's driver that was given the pid since.
        let same_process = started.is_none_or(|at| process_start_time(pid) == Some(at));
        if is_driver && same_process {
            // SAFETY: kill(2) on the process group the killed run created for its driver.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
            ended = true;
        }
    }
    #[cfg(windows)]
    if let Some(pid) = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
    {
        ended = processes::kill_driver_if_still(pid, options.kind.driver_name());
    }
    let _ = std::fs::remove_file(&pid_file);
    kill_browsers_of(&options.profile_dir().display().to_string());
    ended
}

/// The pid file's text: the pid and, on Linux, when the process started, since
/// a pid alone may name another process by the time the file is read.
fn pid_file_text(pid: u32) -> String {
    #[cfg(target_os = "linux")]
    if let Some(at) = i32::try_from(pid).ok().and_then(process_start_time) {
        return format!("{pid} {at}");
    }
    pid.to_string()
}

/// The pid, and the start time if the file has one (a file of an older oqsbot has not).
#[cfg(target_os = "linux")]
fn parse_pid_file(text: &str) -> Option<(i32, Option<u64>)> {
    let mut words = text.split_whitespace();
    let pid = words.next()?.parse().ok()?;
    let started = match words.next() {
        Some(word) => Some(word.parse().ok()?),
        None => None,
    };
    Some((pid, started))
}

/// When the process started, in clock ticks since boot: field 22 of /proc/PID/stat.
#[cfg(target_os = "linux")]
fn process_start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The name (field 2) may hold spaces and parentheses; the fields after its last ')' do not.
    let (_, after_name) = stat.rsplit_once(')')?;
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// Chromium's zygote leaves the driver's process group: find its processes by profile.
#[cfg(target_os = "linux")]
fn kill_browsers_of(profile: &str) {
    let needle = format!("--user-data-dir={profile}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if cmdline.split(|b| *b == 0).any(|arg| arg == needle.as_bytes()) {
            // SAFETY: kill(2) on a pid we just read; no memory is touched.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

/// The browser's processes need not be in the driver's tree any more: find them by profile.
#[cfg(windows)]
fn kill_browsers_of(profile: &str) {
    processes::kill_browsers_of(profile);
}

#[cfg(not(any(target_os = "linux", windows)))]
fn kill_browsers_of(_profile: &str) {}

/// The driver on PATH, or beside oqsbot itself (where a Windows install keeps msedgedriver.exe).
fn find_driver(name: &str) -> Option<PathBuf> {
    let file = format!("{name}{}", std::env::consts::EXE_SUFFIX);
    find_on_path(&file).or_else(|| {
        let beside = std::env::current_exe().ok()?.parent()?.join(&file);
        beside.is_file().then_some(beside)
    })
}

/// `C:\x` for `\\?\C:\x`: Windows' canonical form, which Edge does not take as a download folder.
fn without_verbatim_prefix(path: PathBuf) -> PathBuf {
    let text = path.to_string_lossy();
    let plain = if let Some(rest) = text.strip_prefix(r"\\?\UNC\") {
        Some(PathBuf::from(format!(r"\\{rest}")))
    } else {
        text.strip_prefix(r"\\?\")
            .filter(|rest| rest.as_bytes().get(1) == Some(&b':'))
            .map(PathBuf::from)
    };
    plain.unwrap_or(path)
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .find(|c| c.is_file())
        })
        .unwrap_or(None)
}

/// What one `find` returned: which alternative matched, and the element.
/// The screen as it was before an action, as locate.js noted it.
#[derive(Debug, Clone)]
pub struct Snapshot(Value);

impl Snapshot {
    /// The portal's login form was on the screen.
    pub fn showed_login_form(&self) -> bool {
        self.0.get("login").and_then(Value::as_bool).unwrap_or(false)
    }

    /// The screen's titles and shown top headings.
    pub fn titles(&self) -> Vec<String> {
        self.0
            .get("titles")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    }
}

/// What a screen that no step expected is, beyond the flow's own words.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct PageDiagnosis {
    /// The highest HTTP status among the screen's documents; 0 when unknown.
    #[serde(default)]
    pub status: u16,
    /// The documents' titles and shown `<h1>`/`<h2>` headings.
    #[serde(default)]
    pub titles: Vec<String>,
    /// The portal's login form is shown.
    #[serde(default)]
    pub login: bool,
}

/// How one document of the screen stands.
#[derive(Debug, Clone, Default, serde::Deserialize)]
struct DocState {
    ready: String,
    quiet: f64,
    nav: bool,
    pending: i64,
    /// Watched from its first moment, and no action on it since: the work it
    /// deferred while loading is counted as in flight.
    #[serde(default)]
    watched: bool,
}

/// A document that changed less than this long ago may still be changing.
pub const SETTLE_QUIET: Duration = Duration::from_millis(100);
/// The same for a document watched from its first moment and not yet acted
/// on: the timers and requests it started while loading are counted as work in
/// flight, so the quiet moment only covers work begun some other way. After an
/// action on the same document the longer moment applies again.
pub const WATCHED_QUIET: Duration = Duration::from_millis(40);

/// Every document loaded, no navigation begun, no request in flight, and no
/// change for a quiet moment. Mirrored by quietNow() in settle.js.
fn settled(docs: &[DocState]) -> bool {
    !docs.is_empty()
        && docs.iter().all(|d| {
            let quiet = if d.watched { WATCHED_QUIET } else { SETTLE_QUIET };
            d.ready == "complete" && !d.nav && d.pending <= 0 && d.quiet >= quiet.as_millis() as f64
        })
}

/// An observation as locate.js answers it.
fn observation(v: &Value) -> Observation {
    let docs: Vec<DocState> = v
        .get("state")
        .cloned()
        .and_then(|s| serde_json::from_value(s).ok())
        .unwrap_or_default();
    Observation {
        settled: settled(&docs),
        matched: v.get("match").and_then(Value::as_u64).map(|n| n as usize),
        fresh: v
            .get("fresh")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|b| b.as_str().map(str::to_string)).collect())
            .unwrap_or_default(),
        waited: v.get("waited").and_then(Value::as_bool).unwrap_or(false),
    }
}

/// One look at the screen.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    pub settled: bool,
    /// The first condition that holds.
    pub matched: Option<usize>,
    /// Text that was not on the screen before the action.
    pub fresh: Vec<String>,
    /// The look waited inside the page before it answered.
    pub waited: bool,
}

pub struct Found {
    pub alternative: usize,
    pub element: WebElement,
    /// The screen as it was when the target was found, when that was asked for.
    pub armed: Option<Snapshot>,
    /// A form field that holds no value (unknown inside a frame).
    pub empty: bool,
}

pub struct Browser {
    _process: Option<DriverProcess>,
    // Never dropped: thirtyfour's drop of an un-quit session blocks the async executor
    // on a teardown that needs that executor. `quit` ends the session properly; on
    // every other path the driver process group is killed instead, and this small
    // handle is let go.
    driver: std::mem::ManuallyDrop<WebDriver>,
    main_window: WindowHandle,
    download_dir: PathBuf,
    pub options: BrowserOptions,
    commands: Arc<AtomicU64>,
    downloads: AtomicU64,
    /// WebDriver's context is inside a frame (to act on an element found there).
    in_frame: std::sync::atomic::AtomicBool,
    network: Option<network::NetworkCapture>,
    lost: watchdog::Lost,
    /// The browser is a Grid node's, which keeps its downloads for us to fetch.
    managed_downloads: bool,
    /// A Selenium server, which takes a file to upload before its path is typed.
    sends_files: bool,
    usage: watchdog::Usage,
}

/// The screen as the recording keeps it.
#[derive(Debug, Default)]
pub struct PageCapture {
    /// Every document's markup, frames after the top one.
    pub source: String,
    /// What a screenshot would show: visible text and typed values.
    pub shown: String,
    /// The top document's address.
    pub url: Option<String>,
    pub width: u64,
    pub height: u64,
}

impl Browser {
    pub async fn start(options: BrowserOptions) -> Result<Browser, BrowserError> {
        // The commands check it first; this keeps every other caller to the same rule.
        if let Some(url) = &options.webdriver_url {
            crate::net::check_webdriver_url(url, options.allow_plain_webdriver)?;
        }
        std::fs::create_dir_all(&options.download_dir).map_err(|source| BrowserError::DownloadDir {
            path: options.download_dir.display().to_string(),
            source,
        })?;
        let download_dir =
            std::fs::canonicalize(&options.download_dir).map_err(|source| BrowserError::DownloadDir {
                path: options.download_dir.display().to_string(),
                source,
            })?;
        let download_dir = without_verbatim_prefix(download_dir);
        let (url, process) = match &options.webdriver_url {
            Some(url) => (url.clone(), None),
            None => {
                // A run that was killed leaves its driver and browser behind, holding the profile.
                if kill_leftovers(&options) {
                    tracing::info!("ended the driver a killed run had left running");
                }
                let (url, child) = spawn_driver(&options).await?;
                (url, Some(child))
            }
        };
        let binary = options.binary.clone().or_else(|| default_binary(options.kind));
        let caps = capabilities(&options, &download_dir, binary.as_deref(), true)?;
        let lost = watchdog::Lost::default();
        let usage = watchdog::Usage::default();
        let connect = |caps: Capabilities| {
            WebDriver::builder(&url, caps)
                .client(
                    watchdog::WatchedClient::new(options.answer_limit(), lost.clone())
                        .counting(usage.clone()),
                )
                .connect()
        };
        // WebDriver BiDi watches each page from its first moment, and captures
        // the responses for the recording.
        let (driver, bidi) = match connect(caps).await {
            Ok(d) => (d, true),
            // An older or remote driver may refuse a BiDi session: the run matters more.
            Err(e) if !lost.is_set() => {
                tracing::warn!(error = %e, "the driver refused a WebDriver BiDi session; trying without: pages are watched from oqsbot's first look, and a recording keeps no HTTP responses");
                let caps = capabilities(&options, &download_dir, binary.as_deref(), false)?;
                (connect(caps).await?, false)
            }
            Err(e) => return Err(e.into()),
        };
        if bidi {
            // The BiDi websocket uses rustls' process-wide provider; a second install is refused harmlessly.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let network = if bidi && options.capture_network {
            match network::NetworkCapture::start(&driver, NETWORK_BODY_LIMIT).await {
                Ok(n) => Some(n),
                Err(e) => {
                    // The run goes on; its recording holds pages and screenshots but no responses.
                    tracing::warn!(error = %e, "the browser offers no WebDriver BiDi network capture; the recording keeps no HTTP responses");
                    None
                }
            }
        } else {
            None
        };
        if bidi {
            watch_from_the_start(&driver).await;
        }
        let returned = serde_json::to_value(driver.handle().capabilities()).unwrap_or_default();
        // Only a browser on another machine: a local driver saves where the run looks.
        let remote = options.webdriver_url.is_some();
        let managed_downloads = remote && remote_files::managed_downloads(&returned);
        let sends_files = remote && remote_files::selenium_server(&returned);
        // A Grid node that keeps its downloads to itself: the portal's PDFs would never arrive.
        if sends_files && !managed_downloads {
            let driver: WebDriver = driver;
            let _ = driver.quit().await;
            return Err(BrowserError::NoManagedDownloads {
                url: options.webdriver_url.clone().unwrap_or_default(),
            });
        }
        let browser = Browser {
            usage,
            managed_downloads,
            sends_files,
            network,
            main_window: driver.window().await?,
            driver: std::mem::ManuallyDrop::new(driver),
            _process: process,
            download_dir,
            options,
            commands: Arc::new(AtomicU64::new(1)),
            downloads: AtomicU64::new(0),
            in_frame: std::sync::atomic::AtomicBool::new(false),
            lost,
        };
        if remote {
            sessions::began(&browser.driver);
        }
        // Until a flow prepares a download, anything the site sends is denied. A
        // Grid node's downloads go where the node says, and are cleared before each.
        if !browser.managed_downloads {
            browser.set_download_behavior(None).await?;
        }
        // Last: a short page-load limit must not apply while a fresh browser is still starting.
        browser
            .driver
            .set_page_load_timeout(browser.options.page_load_timeout)
            .await?;
        browser.count(2);
        Ok(browser)
    }

    /// Ends the session and the driver. Dropping a `Browser` kills the driver too.
    pub async fn quit(self) {
        let driver: WebDriver = (*self.driver).clone();
        sessions::ended(driver.handle().session_id());
        let _ = driver.quit().await;
    }

    fn count(&self, n: u64) {
        self.commands.fetch_add(n, Ordering::Relaxed);
    }

    /// The driver stopped answering, is gone, or lost its browser.
    pub fn is_lost(&self) -> bool {
        self.lost.is_set()
    }

    /// WebDriver commands answered so far, and the time spent waiting for their
    /// answers (which includes the browser's wait for the portal's pages).
    pub fn driver_use(&self) -> (u64, Duration) {
        self.usage.so_far()
    }

    /// WebDriver commands sent so far, for benchmarks.
    pub fn command_count(&self) -> u64 {
        self.commands.load(Ordering::Relaxed)
    }

    pub fn download_dir(&self) -> &Path {
        &self.download_dir
    }

    pub async fn goto(&self, url: &str) -> Result<(), BrowserError> {
        self.count(1);
        match self.driver.goto(url).await.map_err(BrowserError::from) {
            Err(e) if e.fault() == Some(Fault::Timeout) => Err(BrowserError::PageLoadTimeout {
                secs: self.options.page_load_timeout.as_secs(),
            }),
            other => other,
        }
    }

    pub async fn current_url(&self) -> Result<String, BrowserError> {
        self.count(1);
        Ok(self.driver.current_url().await?.to_string())
    }

    pub async fn source(&self) -> Result<String, BrowserError> {
        self.leave_frame().await?;
        self.count(1);
        Ok(self.driver.source().await?)
    }

    pub async fn screenshot(&self) -> Result<Vec<u8>, BrowserError> {
        self.count(1);
        Ok(self.driver.screenshot_as_png().await?)
    }

    /// A small JPEG of the viewport, half size: a recording holds many.
    pub async fn screenshot_jpeg(&self, width: u64, height: u64) -> Result<Vec<u8>, BrowserError> {
        self.count(1);
        let params = json!({
            "format": "jpeg",
            "quality": 40,
            "clip": { "x": 0, "y": 0, "width": width.max(1), "height": height.max(1), "scale": 0.5 },
        });
        let cmd = VendorCdp {
            vendor: self.options.kind.cdp_vendor(),
            cmd: "Page.captureScreenshot",
            params,
        };
        let value = self.driver.handle().cmd(cmd).await?.value_json()?;
        let data = value["data"].as_str().unwrap_or_default();
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| BrowserError::Screenshot(e.to_string()))
    }

    /// The page's markup and what is readable on it, in one round trip.
    pub async fn capture(&self) -> Result<PageCapture, BrowserError> {
        let v = self.script(json!({ "op": "capture" })).await?;
        let sources: Vec<&str> = v["sources"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        Ok(PageCapture {
            source: sources.join("\n<!-- next frame -->\n"),
            shown: v["shown"].as_str().unwrap_or_default().to_string(),
            url: v["url"].as_str().map(str::to_string),
            width: v["width"].as_u64().unwrap_or(1280),
            height: v["height"].as_u64().unwrap_or(1024),
        })
    }

    /// The HTTP responses completed since the last call; none without network capture.
    pub async fn responses(&self) -> Vec<network::CapturedResponse> {
        match &self.network {
            Some(n) => n.take().await,
            None => Vec::new(),
        }
    }

    /// Runs locate.js in the top document; it reaches into the frames itself.
    async fn script(&self, request: Value) -> Result<Value, BrowserError> {
        self.leave_frame().await?;
        self.count(1);
        let ret = self.driver.execute(LOCATE_JS, vec![request]).await?;
        Ok(ret.json().clone())
    }

    async fn leave_frame(&self) -> Result<(), BrowserError> {
        if !self.in_frame.load(Ordering::Relaxed) {
            return Ok(());
        }
        self.count(1);
        let left = match self.driver.enter_default_frame().await {
            Ok(()) => Ok(()),
            Err(e) => {
                let e = BrowserError::from(e);
                match e.fault() {
                    // The window closed while we were in one of its frames.
                    Some(Fault::WindowGone) => Ok(()),
                    // A dialog holds the window; the frame is left once it is answered.
                    Some(Fault::DialogOpen) => return Err(e),
                    // The frame went away under us (a download, a navigation):
                    // entering the window again puts us at its top document.
                    _ => {
                        self.count(2);
                        match self.driver.window().await {
                            Ok(w) => self.driver.switch_to_window(w).await.map_err(BrowserError::from),
                            Err(_) => Err(e),
                        }
                    }
                }
            }
        };
        if left.is_ok() {
            self.in_frame.store(false, Ordering::Relaxed);
        }
        left
    }

    /// Steps into the frame at `path` (indices into `window.frames`, from the top).
    async fn enter_frame_path(&self, path: &[u16]) -> Result<(), BrowserError> {
        self.leave_frame().await?;
        for index in path {
            self.count(1);
            self.driver.enter_frame(*index).await?;
            self.in_frame.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    /// An element from locate.js: in the top document, or in a frame, where the
    /// same request is made again from inside the frame.
    async fn element_from(&self, found: &Value, request: Value) -> Result<Option<WebElement>, BrowserError> {
        if let Some(e) = found.get("element") {
            return Ok(Some(WebElement::from_json(
                e.clone(),
                self.driver.handle().clone(),
            )?));
        }
        let Some(path) = found.get("path").and_then(Value::as_array) else {
            return Ok(None);
        };
        let path: Vec<u16> = path
            .iter()
            .filter_map(|v| v.as_u64().and_then(|n| u16::try_from(n).ok()))
            .collect();
        self.enter_frame_path(&path).await?;
        let mut request = request;
        request["frames"] = json!(false);
        self.count(1);
        let inner = self.driver.execute(LOCATE_JS, vec![request]).await?;
        match inner.json().get("element") {
            Some(e) => Ok(Some(WebElement::from_json(
                e.clone(),
                self.driver.handle().clone(),
            )?)),
            None => Ok(None),
        }
    }

    /// The first alternative that has a visible match now, in any frame.
    pub async fn find_now(&self, alternatives: &[Value]) -> Result<Option<Found>, BrowserError> {
        self.find_in_one_look(alternatives, false).await
    }

    /// As `find_now`, and notes the screen before an action in the same look,
    /// so nothing can change between finding the target and noting the screen.
    pub async fn find_and_arm(&self, alternatives: &[Value]) -> Result<Option<Found>, BrowserError> {
        self.find_in_one_look(alternatives, true).await
    }

    async fn find_in_one_look(
        &self,
        alternatives: &[Value],
        arm: bool,
    ) -> Result<Option<Found>, BrowserError> {
        let mut v = self
            .script(json!({ "op": "find", "alts": alternatives, "arm": arm }))
            .await?;
        let Some(alternative) = v.get("alt").and_then(Value::as_u64) else {
            return Ok(None);
        };
        let alternative = alternative as usize;
        let armed = v.get_mut("armed").map(|a| Snapshot(a.take()));
        let empty = v.get("empty").and_then(Value::as_bool).unwrap_or(false);
        let request =
            json!({ "op": "find", "alts": [alternatives.get(alternative).cloned().unwrap_or(Value::Null)] });
        Ok(self.element_from(&v, request).await?.map(|element| Found {
            alternative,
            element,
            armed,
            empty,
        }))
    }

    /// The OK that answers the notice holding `text`, if one is shown now.
    /// `before` is the screen before the last action: a notice that stood
    /// there already is never answered.
    pub async fn ok_button(
        &self,
        text: &str,
        before: Option<&Snapshot>,
    ) -> Result<Option<WebElement>, BrowserError> {
        let request = json!({ "op": "ok", "text": text, "before": before.map(|b| &b.0) });
        let v = self.script(request.clone()).await?;
        if v.is_null() {
            return Ok(None);
        }
        self.element_from(&v, request).await
    }

    /// Notes the screen as it is, before an action.
    pub async fn arm(&self) -> Result<Snapshot, BrowserError> {
        Ok(Snapshot(self.script(json!({ "op": "arm" })).await?))
    }

    /// One look at the screen: whether it has settled, which condition holds,
    /// and the text that is new since `before`.
    pub async fn observe(
        &self,
        conditions: &[Value],
        before: Option<&Snapshot>,
    ) -> Result<Observation, BrowserError> {
        let v = self
            .script(json!({ "op": "observe", "conds": conditions, "before": before.map(|b| &b.0) }))
            .await?;
        Ok(observation(&v))
    }

    /// Looks inside the page, for at most `wait`, until the screen has settled
    /// since `before` and one of the conditions holds (or there are none): one
    /// round trip however long the page takes. A page replaced meanwhile ends
    /// the look early, unsettled.
    pub async fn observe_waiting(
        &self,
        conditions: &[Value],
        before: Option<&Snapshot>,
        wait: Duration,
    ) -> Result<Observation, BrowserError> {
        self.leave_frame().await?;
        self.count(1);
        let request = json!({
            "op": "observe",
            "conds": conditions,
            "before": before.map(|b| &b.0),
            "wait_ms": wait.as_millis() as u64,
            "quiet_ms": SETTLE_QUIET.as_millis() as u64,
            "watched_quiet_ms": WATCHED_QUIET.as_millis() as u64,
        });
        let v = match self.driver.execute_async(SETTLE_JS, vec![request]).await {
            Ok(v) => v.json().clone(),
            Err(e) => {
                // Chromium ends a waiting script whose document unloads as a script
                // timeout, at once; a page that does not load is another error.
                let replaced = matches!(
                    e.as_inner(),
                    thirtyfour::error::WebDriverErrorInner::ScriptTimeout(_)
                ) || e.to_string().to_lowercase().contains("document unloaded");
                if replaced && !self.lost.is_set() {
                    return Ok(Observation::default());
                }
                return Err(e.into());
            }
        };
        if let Some(error) = v.get("error").and_then(Value::as_str) {
            return Err(BrowserError::other(format!(
                "the look at the page failed: {error}"
            )));
        }
        Ok(observation(&v))
    }

    pub async fn has_text(&self, text: &str) -> Result<bool, BrowserError> {
        Ok(self
            .script(json!({ "op": "has_text", "text": text }))
            .await?
            .as_bool()
            .unwrap_or(false))
    }

    /// The value shown beside a label (a `<td>` beside a `<th>`, a sibling, an
    /// input's value, or 「ラベル：値」 in running text).
    pub async fn read_label(&self, label: &str) -> Result<Option<String>, BrowserError> {
        Ok(self
            .script(json!({ "op": "read", "label": label }))
            .await?
            .as_str()
            .map(str::to_string))
    }

    /// The screen's visible text, every frame included.
    pub async fn body_text(&self) -> Result<String, BrowserError> {
        Ok(self
            .script(json!({ "op": "body" }))
            .await?
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// The markup of every document on the screen: the top one, then its frames.
    pub async fn sources(&self) -> Result<Vec<String>, BrowserError> {
        Ok(self
            .script(json!({ "op": "sources" }))
            .await?
            .as_array()
            .map(|a| a.iter().filter_map(|d| d.as_str().map(str::to_string)).collect())
            .unwrap_or_default())
    }

    /// The screen's HTTP status, title and headings, and whether it is the
    /// login form; none when the screen cannot be read (a dialog, a closed window).
    pub async fn diagnose(&self) -> Option<PageDiagnosis> {
        let v = self.script(json!({ "op": "diagnose" })).await.ok()?;
        serde_json::from_value(v).ok()
    }

    /// What the page says, in a line, for error messages.
    pub async fn summary(&self) -> String {
        match self.alert_text().await {
            Some(t) => format!("a dialog: {t}"),
            None => self
                .script(json!({ "op": "summary" }))
                .await
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
        }
    }

    pub async fn click(&self, e: &WebElement) -> Result<(), BrowserError> {
        self.count(1);
        Ok(e.click().await?)
    }

    pub async fn double_click(&self, e: &WebElement) -> Result<(), BrowserError> {
        self.count(1);
        Ok(self
            .driver
            .action_chain()
            .double_click_element(e)
            .perform()
            .await?)
    }

    /// Types `value` into a field, emptied first unless it is known to be empty.
    pub async fn fill(&self, e: &WebElement, value: &str, clear_first: bool) -> Result<(), BrowserError> {
        if clear_first {
            self.count(1);
            e.clear().await?;
        }
        self.count(1);
        Ok(e.send_keys(value).await?)
    }

    /// Picks the option whose visible text is `text`.
    pub async fn select(&self, e: &WebElement, text: &str) -> Result<(), BrowserError> {
        self.count(1);
        let script = "const s=arguments[0], want=arguments[1].replace(/\\s+/g,''); for (const o of s.options) { if (o.text.replace(/\\s+/g,'')===want) { s.value=o.value; s.dispatchEvent(new Event('change',{bubbles:true})); return true; } } return false;";
        let ok = self
            .driver
            .execute(script, vec![e.to_json()?, json!(text)])
            .await?;
        if ok.json().as_bool() != Some(true) {
            return Err(BrowserError::other(format!(
                "the drop-down has no option {text:?}"
            )));
        }
        Ok(())
    }

    pub async fn upload(&self, e: &WebElement, path: &Path) -> Result<(), BrowserError> {
        self.count(1);
        let absolute = std::fs::canonicalize(path).map_err(|source| BrowserError::DownloadDir {
            path: path.display().to_string(),
            source,
        })?;
        if !self.sends_files {
            return Ok(e.send_keys(absolute.display().to_string()).await?);
        }
        // The browser's machine cannot see this one's files: the file goes there first.
        let bytes = std::fs::read(&absolute).map_err(|source| BrowserError::ReadUpload {
            path: absolute.display().to_string(),
            source,
        })?;
        let name = absolute
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "upload".into());
        let zipped = remote_files::zipped(&name, &bytes)?;
        self.count(1);
        let answer = self
            .driver
            .handle()
            .cmd(remote_files::SendFile(zipped))
            .await?
            .value_json()?;
        let on_node = remote_files::sent_path(&answer)?;
        Ok(e.send_keys(on_node).await?)
    }

    pub async fn alert_text(&self) -> Option<String> {
        self.count(1);
        self.driver.get_alert_text().await.ok()
    }

    pub async fn accept_alert(&self) -> Result<(), BrowserError> {
        self.count(1);
        Ok(self.driver.accept_alert().await?)
    }

    pub async fn dismiss_alert(&self) -> Result<(), BrowserError> {
        self.count(1);
        Ok(self.driver.dismiss_alert().await?)
    }

    pub async fn windows(&self) -> Result<Vec<WindowHandle>, BrowserError> {
        self.count(1);
        Ok(self.driver.windows().await?)
    }

    pub async fn current_window(&self) -> Option<WindowHandle> {
        self.count(1);
        self.driver.window().await.ok()
    }

    pub async fn switch_to(&self, w: WindowHandle) -> Result<(), BrowserError> {
        self.count(1);
        // A window is entered at its top document.
        self.in_frame.store(false, Ordering::Relaxed);
        Ok(self.driver.switch_to_window(w).await?)
    }

    /// Back to the window the run started in (a popup may have closed itself).
    pub async fn switch_to_main(&self) -> Result<(), BrowserError> {
        self.switch_to(self.main_window.clone()).await
    }

    /// Back to the main window with every other window closed: a leftover login
    /// popup would take the next `window.open` of the same name, and no new window would appear.
    pub async fn close_others(&self) -> Result<(), BrowserError> {
        for w in self.windows().await? {
            if w != self.main_window {
                self.switch_to(w).await?;
                self.count(1);
                self.driver.close_window().await?;
            }
        }
        self.switch_to_main().await
    }

    /// A fresh, empty folder for the next download, and the browser told to save there.
    /// Whatever appears in it is that download: nothing is guessed among old files
    /// (the old institution's .p12), and nothing is ever overwritten.
    pub async fn prepare_download(&self) -> Result<PathBuf, BrowserError> {
        // A folder that did not exist: an earlier run's downloads stay where they are.
        let dir = loop {
            let n = self.downloads.fetch_add(1, Ordering::Relaxed) + 1;
            let candidate = self.download_dir.join(format!("{n:03}"));
            match std::fs::create_dir(&candidate) {
                Ok(()) => break candidate,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(source) => {
                    return Err(BrowserError::DownloadDir {
                        path: candidate.display().to_string(),
                        source,
                    });
                }
            }
        };
        self.count(1);
        if self.managed_downloads {
            self.driver.handle().cmd(remote_files::ClearDownloads).await?;
        } else {
            self.set_download_behavior(Some(&dir)).await?;
        }
        Ok(dir)
    }

    /// Downloads go to `dir`, or are denied without one.
    async fn set_download_behavior(&self, dir: Option<&Path>) -> Result<(), BrowserError> {
        self.driver
            .handle()
            .cmd(VendorCdp::download_behavior(self.options.kind, dir))
            .await?;
        Ok(())
    }

    /// The finished file of the download prepared in `dir`, if there is one yet.
    /// A Grid node's is fetched from the node and kept in `dir` first.
    pub async fn finished_download(&self, dir: &Path) -> Result<Option<PathBuf>, BrowserError> {
        if !self.managed_downloads {
            return Ok(Self::finished_in(dir));
        }
        self.count(1);
        let listed = self
            .driver
            .handle()
            .cmd(remote_files::ListDownloads)
            .await?
            .value_json()?;
        let names = remote_files::names(&listed)?;
        if names.iter().any(|n| remote_files::still_downloading(n)) {
            return Ok(None);
        }
        // The folder was cleared before the click: whatever is there is this download.
        let Some(name) = names.into_iter().next() else {
            return Ok(None);
        };
        self.count(1);
        let answer = self
            .driver
            .handle()
            .cmd(remote_files::FetchDownload(&name))
            .await?
            .value_json()?;
        let bytes = remote_files::downloaded_file(&answer, &name)?;
        // A credential the node holds is one more copy to lose: gone once fetched.
        self.count(1);
        self.driver.handle().cmd(remote_files::ClearDownloads).await?;
        // The node's name, never a path it might hold.
        let file_name = Path::new(&name)
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_else(|| "download".into());
        let path = dir.join(file_name);
        let keep = |source| BrowserError::KeepDownload {
            path: path.display().to_string(),
            source,
        };
        let mut file = crate::owner_only::create_file(&path).map_err(keep)?;
        std::io::Write::write_all(&mut file, &bytes).map_err(keep)?;
        file.sync_all().map_err(keep)?;
        Ok(Some(path))
    }

    /// The finished file in a local download folder, if there is one yet.
    pub fn finished_in(dir: &Path) -> Option<PathBuf> {
        let names: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        // Chromium writes *.crdownload (or a hidden temp file) and renames it when done.
        if names
            .iter()
            .any(|n| n.ends_with(".crdownload") || n.starts_with('.'))
        {
            return None;
        }
        names.into_iter().next().map(|n| dir.join(n))
    }

    /// Waits until the download into `dir` is complete.
    pub async fn wait_for_download(&self, dir: &Path, timeout: Duration) -> Result<PathBuf, BrowserError> {
        let deadline = Deadline::after(timeout);
        loop {
            if let Some(path) = self.finished_download(dir).await? {
                return Ok(path);
            }
            if !deadline.next_look().await {
                return Err(BrowserError::DownloadTimeout {
                    dir: dir.display().to_string(),
                    secs: timeout.as_secs(),
                });
            }
        }
    }
}

/// A CDP command through the driver's vendor endpoint (`goog/` or `ms/cdp/execute`).
#[derive(Debug)]
struct VendorCdp {
    vendor: &'static str,
    cmd: &'static str,
    params: Value,
}

impl VendorCdp {
    fn download_behavior(kind: BrowserKind, dir: Option<&Path>) -> Self {
        let params = match dir {
            Some(dir) => json!({ "behavior": "allow", "downloadPath": dir.display().to_string() }),
            None => json!({ "behavior": "deny" }),
        };
        Self {
            vendor: kind.cdp_vendor(),
            cmd: "Browser.setDownloadBehavior",
            params,
        }
    }
}

impl thirtyfour::common::command::FormatRequestData for VendorCdp {
    fn format_request(&self, session_id: &thirtyfour::SessionId) -> thirtyfour::RequestData {
        thirtyfour::RequestData::new(
            reqwest::Method::POST,
            format!("/session/{session_id}/{}/cdp/execute", self.vendor),
        )
        .add_body(json!({ "cmd": self.cmd, "params": self.params }))
    }
}

/// Has the browser watch every new document from its first moment. Without
/// it a page is watched from oqsbot's first look, and waits the longer quiet
/// moment.
async fn watch_from_the_start(driver: &WebDriver) {
    // The BiDi websocket is outside the WebDriver watchdog: it has its own limit.
    let install = async {
        let bidi = driver.bidi().await.map_err(|e| e.to_string())?;
        bidi.script()
            .add_preload_script(PRELOAD_JS)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let installed = match tokio::time::timeout(BIDI_SETUP_LIMIT, install).await {
        Ok(installed) => installed,
        Err(_) => Err(format!("no answer within {} s", BIDI_SETUP_LIMIT.as_secs())),
    };
    if let Err(e) = installed {
        tracing::debug!(error = %e, "the browser runs no script before a page's own; pages are watched from the first look");
    }
}

/// The browser binary when none is given: Debian's Chromium.
fn default_binary(kind: BrowserKind) -> Option<PathBuf> {
    match kind {
        BrowserKind::Chromium => ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists()),
        _ => None,
    }
}

/// What the new session asks for; `binary` is the browser found by the caller.
fn capabilities(
    options: &BrowserOptions,
    download_dir: &Path,
    binary: Option<&Path>,
    bidi: bool,
) -> Result<Capabilities, BrowserError> {
    let mut args = vec![
        "--no-sandbox".to_string(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--window-size=1280,1024".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--lang=ja".into(),
    ];
    if !options.headed {
        args.push("--headless=new".into());
    }
    if options.loopback_only {
        args.push("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost".into());
    }
    let remote = options.webdriver_url.is_some();
    // A profile inside the run's folder, not a stray one in /tmp; a browser on
    // another machine has neither this folder nor this machine's browser binary.
    if !remote {
        args.push(format!("--user-data-dir={}", options.profile_dir().display()));
    }
    let binary = binary.filter(|_| !remote);
    let mut caps: Capabilities = match options.kind {
        BrowserKind::Edge => {
            let mut c = DesiredCapabilities::edge();
            for a in &args {
                c.add_arg(a)?;
            }
            if let Some(b) = binary {
                c.set_binary(&b.display().to_string())?;
            }
            // Edge's own download settings, so no prompt appears before CDP names each
            // folder; a Grid node's Edge saves where the node says.
            if !remote {
                c.add_experimental_option(
                    "prefs",
                    json!({
                        "download.default_directory": download_dir.display().to_string(),
                        "download.prompt_for_download": false,
                    }),
                )?;
            }
            c.into()
        }
        _ => {
            let mut c = DesiredCapabilities::chrome();
            for a in &args {
                c.add_arg(a)?;
            }
            if let Some(b) = binary {
                c.set_binary(&b.display().to_string())?;
            }
            c.into()
        }
    };
    // Dialogs stay open for the flow to read and answer; chromedriver honours only this key.
    caps.set("unhandledPromptBehavior", json!("ignore"))?;
    // A Grid node keeps the downloads for the run to fetch; other drivers ignore the key.
    if remote {
        caps.set("se:downloadsEnabled", json!(true))?;
    }
    if options.accept_insecure_certs {
        caps.set("acceptInsecureCerts", json!(true))?;
    }
    if bidi {
        caps.set("webSocketUrl", json!(true))?;
    }
    Ok(caps)
}

/// How often a driver that did not start is started again before the run gives up.
const DRIVER_START_TRIES: u32 = 3;

/// Starts the driver; one that exits or stays silent as it starts is ended
/// and started again, since the next start of the same program usually works.
async fn spawn_driver(options: &BrowserOptions) -> Result<(String, DriverProcess), BrowserError> {
    let mut tries = 1;
    loop {
        match spawn_driver_once(options).await {
            Err(e @ (BrowserError::DriverNotReady { .. } | BrowserError::DriverExited { .. }))
                if tries < DRIVER_START_TRIES =>
            {
                tracing::warn!(error = %e, "the driver did not start; starting it again");
                tries += 1;
            }
            started => return started,
        }
    }
}

async fn spawn_driver_once(options: &BrowserOptions) -> Result<(String, DriverProcess), BrowserError> {
    let name = options.kind.driver_name();
    let program = options
        .driver_path
        .clone()
        .or_else(|| find_driver(name))
        .ok_or_else(|| BrowserError::DriverMissing {
            what: name.to_string(),
        })?;
    let mut cmd = Command::new(&program);
    // The driver picks a free port itself and says which: a port probed here
    // and bound by the driver later could be taken by another process between.
    cmd.arg("--port=0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_clear()
        .envs(launch::child_environment());
    if let Some(home) = &options.home {
        cmd.env("HOME", home);
    }
    // Its own process group, so the driver and what it starts can be ended together.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().map_err(|source| BrowserError::Spawn {
        program: program.display().to_string(),
        source,
    })?;
    let pid_file = driver_pid_file(options);
    if let Ok(mut f) = crate::owner_only::create_file(&pid_file) {
        use std::io::Write;
        let _ = f.write_all(pid_file_text(child.id()).as_bytes());
    }
    let last = launch::LastLines::default();
    let errors_ended = child
        .stderr
        .take()
        .map(|stderr| launch::drain_errors(stderr, last.clone()));
    let announced = child
        .stdout
        .take()
        .map(|stdout| launch::announced_port(stdout, last.clone()));
    let mut process = DriverProcess {
        child,
        reaped: false,
        profile: options.profile_dir().display().to_string(),
        pid_file,
    };
    let wait = Duration::from_secs(20);
    let announced = match announced {
        Some(rx) => tokio::time::timeout(wait, rx).await.map(Result::ok),
        None => Ok(None),
    };
    let port = match announced {
        Ok(Some(port)) => port,
        // Its output ended without a port: it has exited, or is about to.
        Ok(None) => {
            let status = exit_status(&mut process).await;
            // Its reason may still be on its way through the other stream.
            if let Some(ended) = errors_ended {
                let _ = tokio::time::timeout(Duration::from_secs(2), ended).await;
            }
            return Err(BrowserError::DriverExited {
                program: program.display().to_string(),
                status,
                said: last.joined(),
            });
        }
        Err(_) => {
            return Err(BrowserError::DriverNotReady {
                url: format!("{} --port=0", program.display()),
                secs: wait.as_secs(),
                said: last.joined(),
            });
        }
    };
    let url = format!("http://127.0.0.1:{port}");
    let status = format!("{url}/status");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| BrowserError::other(e.to_string()))?;
    let deadline = Deadline::after(wait);
    loop {
        if let Ok(r) = client.get(&status).send().await
            && r.status().is_success()
        {
            return Ok((url, process));
        }
        if !deadline.next_look().await {
            return Err(BrowserError::DriverNotReady {
                url,
                secs: wait.as_secs(),
                said: String::new(),
            });
        }
    }
}

/// How a driver whose output ended has exited; it may take a moment to be reaped.
async fn exit_status(driver: &mut DriverProcess) -> String {
    let deadline = Deadline::after(Duration::from_secs(2));
    loop {
        match driver.child.try_wait() {
            Ok(Some(status)) => {
                driver.reaped = true;
                return status.to_string();
            }
            Ok(None) if deadline.next_look().await => {}
            _ => return "its output ended".to_string(),
        }
    }
}

/// "; it said: …", or nothing when the driver said nothing.
fn driver_said(lines: &str) -> String {
    if lines.is_empty() {
        String::new()
    } else {
        format!("; it said: {lines}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chromedrivers_words_for_a_page_load_that_never_ended_are_a_timeout() {
        use thirtyfour::error::{WebDriverErrorInfo, WebDriverErrorInner};
        let hung = WebDriverError::from_inner(WebDriverErrorInner::UnknownError(WebDriverErrorInfo::new(
            "unknown error: cannot determine loading status\nfrom timeout: Timed out receiving message from renderer: 299.000"
                .into(),
        )));
        assert_eq!(BrowserError::from(hung).fault(), Some(Fault::Timeout));
        let other = WebDriverError::from_inner(WebDriverErrorInner::UnknownError(WebDriverErrorInfo::new(
            "unknown error: net::ERR_CONNECTION_REFUSED".into(),
        )));
        assert_eq!(BrowserError::from(other).fault(), Some(Fault::Other));
    }

    fn options(kind: BrowserKind) -> BrowserOptions {
        let mut o = BrowserOptions::new(PathBuf::from("/runs/r1/downloads"));
        o.kind = kind;
        o
    }

    #[tokio::test]
    async fn a_plain_remote_webdriver_is_refused_before_anything_starts() {
        let dir = tempfile::tempdir().expect("dir");
        let mut o = BrowserOptions::new(dir.path().join("downloads"));
        // TEST-NET: never reached, the check comes first.
        o.webdriver_url = Some("http://192.0.2.1:4444".into());
        match Browser::start(o.clone()).await {
            Err(BrowserError::WebDriverUrl(e)) => assert!(e.to_string().contains("in clear"), "{e}"),
            Err(e) => panic!("another error: {e}"),
            Ok(_) => panic!("a browser started"),
        }
        assert!(!dir.path().join("downloads").exists(), "nothing was prepared");
    }

    #[test]
    fn a_browser_on_another_machine_gets_no_local_path_and_keeps_its_downloads() {
        let mut o = options(BrowserKind::Chromium);
        o.webdriver_url = Some("https://grid.example:4444".into());
        let caps = capabilities(
            &o,
            Path::new("/runs/r1/downloads"),
            Some(Path::new("/usr/bin/chromium")),
            true,
        )
        .expect("caps");
        let v = serde_json::to_value(&caps).expect("json");
        assert_eq!(v["se:downloadsEnabled"], true);
        let chrome = &v["goog:chromeOptions"];
        assert!(
            chrome.get("binary").is_none(),
            "the node knows its own browser: {chrome}"
        );
        let args = chrome["args"].as_array().expect("args");
        assert!(
            !args
                .iter()
                .any(|a| a.as_str().is_some_and(|a| a.contains("/runs/r1"))),
            "{args:?}"
        );
        assert!(args.contains(&json!("--headless=new")));
        let mut edge = options(BrowserKind::Edge);
        edge.webdriver_url = Some("https://grid.example:4444".into());
        let caps = capabilities(&edge, Path::new(r"C:\oqs\run\downloads"), None, false).expect("caps");
        let v = serde_json::to_value(&caps).expect("json");
        assert!(v["ms:edgeOptions"].get("prefs").is_none(), "{v}");
        assert!(!v.to_string().contains("oqs\\\\run"), "{v}");
    }

    #[test]
    fn chromium_capabilities_are_as_before() {
        let o = options(BrowserKind::Chromium);
        let caps = capabilities(
            &o,
            Path::new("/runs/r1/downloads"),
            Some(Path::new("/usr/bin/chromium")),
            true,
        )
        .expect("caps");
        let v = serde_json::to_value(&caps).expect("json");
        assert_eq!(v["browserName"], "chrome");
        assert_eq!(v["unhandledPromptBehavior"], "ignore");
        assert!(v.get("acceptInsecureCerts").is_none());
        assert!(v.get("ms:edgeOptions").is_none());
        let chrome = &v["goog:chromeOptions"];
        assert_eq!(chrome["binary"], "/usr/bin/chromium");
        assert_eq!(
            chrome["args"],
            json!([
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--window-size=1280,1024",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--lang=ja",
                "--headless=new",
                format!("--user-data-dir={}", o.profile_dir().display())
            ])
        );
        assert!(
            chrome.get("prefs").is_none(),
            "Chromium's downloads are set over CDP only"
        );
        // Asked for, so pages are watched from their first moment; the retry without it asks for none.
        assert_eq!(v["webSocketUrl"], true);
        let plain = capabilities(&o, Path::new("/runs/r1/downloads"), None, false).expect("caps");
        assert!(
            serde_json::to_value(&plain)
                .expect("json")
                .get("webSocketUrl")
                .is_none()
        );
    }

    #[test]
    fn edge_gets_its_own_options_key_and_download_prefs() {
        let mut o = options(BrowserKind::Edge);
        o.headed = true;
        o.accept_insecure_certs = true;
        let binary = Path::new(r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe");
        let caps = capabilities(&o, Path::new(r"C:\oqs\run\downloads"), Some(binary), false).expect("caps");
        let v = serde_json::to_value(&caps).expect("json");
        assert_eq!(v["browserName"], "MicrosoftEdge");
        assert_eq!(v["unhandledPromptBehavior"], "ignore");
        assert_eq!(v["acceptInsecureCerts"], true);
        assert!(v.get("goog:chromeOptions").is_none());
        let edge = &v["ms:edgeOptions"];
        assert_eq!(edge["binary"], binary.display().to_string());
        assert_eq!(
            edge["prefs"],
            json!({
                "download.default_directory": r"C:\oqs\run\downloads",
                "download.prompt_for_download": false
            })
        );
        let args: Vec<&str> = edge["args"]
            .as_array()
            .expect("args")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            args.contains(&"--lang=ja")
                && args.contains(&format!("--user-data-dir={}", o.profile_dir().display()).as_str())
        );
        assert!(!args.contains(&"--headless=new"), "headed");
        // No binary given: Edge is found where it is installed.
        let caps = capabilities(&options(BrowserKind::Edge), Path::new("/d"), None, false).expect("caps");
        let v = serde_json::to_value(&caps).expect("json");
        assert!(v["ms:edgeOptions"].get("binary").is_none());
    }

    #[test]
    fn download_behavior_goes_to_the_drivers_vendor_endpoint() {
        use thirtyfour::common::command::FormatRequestData;
        let session = thirtyfour::SessionId::from("S1");
        let edge = VendorCdp::download_behavior(BrowserKind::Edge, Some(Path::new("/d/001")))
            .format_request(&session);
        assert_eq!(&*edge.uri, "/session/S1/ms/cdp/execute");
        assert_eq!(
            edge.body,
            Some(json!({
                "cmd": "Browser.setDownloadBehavior",
                "params": { "behavior": "allow", "downloadPath": "/d/001" }
            }))
        );
        let chromium = VendorCdp::download_behavior(BrowserKind::Chromium, None).format_request(&session);
        assert_eq!(&*chromium.uri, "/session/S1/goog/cdp/execute");
        assert_eq!(
            chromium.body.expect("body")["params"],
            json!({ "behavior": "deny" })
        );
    }

    #[test]
    fn verbatim_paths_become_plain_ones() {
        assert_eq!(
            without_verbatim_prefix(PathBuf::from(r"\\?\C:\oqs\downloads")),
            PathBuf::from(r"C:\oqs\downloads")
        );
        assert_eq!(
            without_verbatim_prefix(PathBuf::from(r"\\?\UNC\server\share\d")),
            PathBuf::from(r"\\server\share\d")
        );
        assert_eq!(
            without_verbatim_prefix(PathBuf::from("/runs/r1/downloads")),
            PathBuf::from("/runs/r1/downloads")
        );
    }

    /// A driver stand-in: a shell script in `dir` that counts its starts in `starts`.
    #[cfg(unix)]
    fn fake_driver(dir: &Path, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("chromedriver");
        let script = format!("#!/bin/sh\necho start >> '{}/starts'\n{body}\n", dir.display());
        std::fs::write(&path, script).expect("script");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("mode");
        path
    }

    #[cfg(unix)]
    fn starts(dir: &Path) -> usize {
        std::fs::read_to_string(dir.join("starts")).map_or(0, |t| t.lines().count())
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_driver_that_stops_as_it_starts_is_tried_again_then_named_with_its_words() {
        let dir = tempfile::tempdir().expect("dir");
        let mut o = BrowserOptions::new(dir.path().join("downloads"));
        o.driver_path = Some(fake_driver(
            dir.path(),
            "echo 'Starting ChromeDriver on port 0'\necho '[SEVERE]: bind() failed: Address already in use (98)' >&2\nexit 1",
        ));
        let err = match spawn_driver(&o).await {
            Err(e) => e,
            Ok((url, _)) => panic!("a driver started at {url}"),
        };
        assert!(matches!(err, BrowserError::DriverExited { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("exit status: 1"), "{text}");
        assert!(text.contains("bind() failed"), "the driver's own reason: {text}");
        assert_eq!(starts(dir.path()), DRIVER_START_TRIES as usize);
        assert!(!driver_pid_file(&o).exists(), "no pid file is left");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_driver_that_fails_its_first_start_is_started_again() {
        let dir = tempfile::tempdir().expect("dir");
        // The driver's /status, answered by the test.
        let status = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::path("/status"))
            .respond_with(
                wiremock::ResponseTemplate::new(200).set_body_json(json!({ "value": { "ready": true } })),
            )
            .mount(&status)
            .await;
        let port = status.address().port();
        let mut o = BrowserOptions::new(dir.path().join("downloads"));
        let first_start = dir.path().join("first-start-done");
        o.driver_path = Some(fake_driver(
            dir.path(),
            &format!(
                "if [ ! -e '{marker}' ]; then touch '{marker}'; exit 1; fi\necho 'ChromeDriver was started successfully on port {port}.'\nexec sleep 60",
                marker = first_start.display()
            ),
        ));
        let (url, process) = spawn_driver(&o).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(url, format!("http://127.0.0.1:{port}"));
        assert_eq!(starts(dir.path()), 2);
        let pid = process.child.id();
        #[cfg(target_os = "linux")]
        assert_eq!(
            std::fs::read_to_string(driver_pid_file(&o))
                .ok()
                .as_deref()
                .and_then(parse_pid_file),
            Some((pid as i32, process_start_time(pid as i32))),
            "the pid file names the running driver"
        );
        drop(process);
        #[cfg(target_os = "linux")]
        assert!(
            process_start_time(pid as i32).is_none(),
            "the driver is ended with its handle"
        );
    }

    /// Another run's driver that was given a dead driver's pid is not ended by this run.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_leftover_pid_is_ended_only_if_it_is_still_the_same_driver() {
        use std::os::unix::process::CommandExt;
        let dir = tempfile::tempdir().expect("dir");
        let o = BrowserOptions::new(dir.path().join("downloads"));
        // sleep(1), named as a driver is: only its name is looked at.
        let driver = dir.path().join("chromedriver");
        let mut cmd = std::process::Command::new("sleep");
        cmd.arg0(&driver).arg("60");
        cmd.process_group(0);
        let mut other = cmd.spawn().expect("spawn");
        let pid = other.id();
        // A process just spawned may show no command line for a moment.
        let deadline = Deadline::after(Duration::from_secs(10));
        while !std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| c.starts_with(driver.as_os_str().as_encoded_bytes()))
        {
            assert!(
                deadline.next_look().await,
                "the stand-in never showed its command line"
            );
        }
        let started = process_start_time(pid as i32).expect("start time");
        std::fs::write(driver_pid_file(&o), format!("{pid} {}", started + 1)).expect("pid file");
        assert!(!kill_leftovers(&o), "another process with the pid is not ended");
        assert!(matches!(other.try_wait(), Ok(None)), "and lives on");
        std::fs::write(driver_pid_file(&o), pid_file_text(pid)).expect("pid file");
        assert!(kill_leftovers(&o), "the leftover driver is ended");
        let status = other.wait().expect("wait");
        assert!(!status.success(), "by a signal: {status}");
        assert!(!driver_pid_file(&o).exists());
    }
}
