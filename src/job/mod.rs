//! The provisioning job file: what a run needs to know. Secrets are named by
//! environment variable or by an owner-only file, never written in the job.

pub mod handover;
pub mod journal;
pub mod lock;
pub mod outcome;
pub mod procedure;
pub mod report;
pub mod run;
pub mod secrets;
pub mod store;

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::flow::model::WaitSecs;
use crate::net;
use crate::portal::{InstitutionCode, Kind};
use crate::secret::Secret;
use secrets::SecretRef;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("cannot read the job file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("job file {path}: {reason}")]
    Invalid { path: String, reason: String },
    #[error("job file {path}: {}", problems.join("; "))]
    Problems { path: String, problems: Vec<String> },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Institution {
    /// The new 10-digit 医療機関等コード.
    pub code: String,
    pub name: String,
    /// 医科, 歯科, 薬局 or 訪問看護; derived from the code when left out.
    #[serde(default)]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sites {
    /// 電子証明書のダウンロードサイト, 証明書の取得画面.
    pub cert_url: String,
    /// オンライン資格確認等システム, the start page with 「システムの利用を始める」.
    pub oqs_url: String,
    /// The CA that signed the オン資 site's server certificate, when the system
    /// does not trust it already (a closed network's own CA). PEM.
    #[serde(default)]
    pub oqs_ca_file: Option<PathBuf>,
    /// With `--webdriver-url` (a Grid node) and an `https://` オン資 site: the node's
    /// browser holds this institution's client certificate and the policy that
    /// presents it. The run cannot put a certificate on another machine.
    #[serde(default)]
    pub remote_browser_has_certificate: bool,
}

/// Who makes the downloaded certificate usable by the browser before the login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Install {
    /// The run imports it into a certificate database of its own (Linux: NSS).
    Run,
    /// A person installs it (Windows: 証明書のインポート, 工事手順⑤⑥); the run
    /// stops after the download and continues when run again.
    Person,
}

impl Install {
    /// On Windows the terminal's own store takes the certificate, by a person's hand.
    pub fn platform_default() -> Self {
        if cfg!(windows) {
            Install::Person
        } else {
            Install::Run
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    pub request_id: String,
    pub reference_id: String,
    /// The environment variable holding the 4-digit 証明書パスワード.
    #[serde(default)]
    pub password_env: Option<String>,
    /// Or a file only its owner can read, holding it.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Where the .p12 is backed up (the manual: NTT東オン資端末_電子証明書).
    #[serde(default)]
    pub backup_dir: Option<PathBuf>,
    /// `run` or `person`; `person` on Windows and `run` elsewhere when unset.
    #[serde(default)]
    pub install: Option<Install>,
}

impl Certificate {
    pub fn install(&self) -> Install {
        self.install.unwrap_or_else(Install::platform_default)
    }
}

/// A certificate downloaded earlier, for a job without `[certificate]`. Without
/// either, the browser relies on the certificate already in the system's store.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientCertificate {
    /// The .p12.
    pub file: PathBuf,
    /// Its 4-digit 証明書パスワード.
    #[serde(default)]
    pub password_env: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Master {
    pub user_id: String,
    /// The ユーザ設定情報 PDF the customer downloaded from the 医療機関等向けポータルサイト.
    #[serde(default)]
    pub pdf: Option<PathBuf>,
    /// The environment variable holding the 4-digit 秘密の番号.
    #[serde(default)]
    pub secret_number_env: Option<String>,
    #[serde(default)]
    pub secret_number_file: Option<PathBuf>,
    /// The environment variable holding the password the master gets; generated when unset.
    #[serde(default)]
    pub password_env: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Admin {
    #[serde(default = "default_admin_id")]
    pub user_id: String,
    #[serde(default = "default_admin_name")]
    pub name: String,
    #[serde(default = "default_admin_kana")]
    pub kana: String,
    /// The environment variable holding the admin's password (OnsAdmin@00369 in the manual).
    #[serde(default)]
    pub password_env: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// If the admin exists already with a password nobody gave, reset it from
    /// the master. Off by default: a working admin is never reset unasked.
    #[serde(default)]
    pub reset_if_exists: bool,
}

fn default_admin_id() -> String {
    "OnsKANRI".into()
}
fn default_admin_name() -> String {
    "管理アカウント".into()
}
fn default_admin_kana() -> String {
    "カンリアカウント".into()
}

impl Default for Admin {
    fn default() -> Self {
        Self {
            user_id: default_admin_id(),
            name: default_admin_name(),
            kana: default_admin_kana(),
            password_env: None,
            password_file: None,
            reset_if_exists: false,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accounts {
    /// The environment variable holding the face and 連携 accounts' password;
    /// generated to the policy (13 characters or more) when unset.
    #[serde(default)]
    pub password_env: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// 利用開始年月日 for the bulk CSV, YYYY/MM/DD; today (Japan time) when unset.
    #[serde(default)]
    pub start: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    pub dir: PathBuf,
    /// Seconds between looks at アカウント一括登録結果.
    #[serde(default = "default_status_interval")]
    pub status_interval_secs: f64,
    /// How long to wait for the bulk registration to finish.
    #[serde(default = "default_status_timeout")]
    pub status_timeout_secs: f64,
    /// The first look at アカウント一括登録結果 after the upload, and the
    /// shortest wait between two: later waits grow to `status_interval_secs`.
    #[serde(default)]
    pub status_first_look_secs: Option<f64>,
}

impl Output {
    /// The first wait: by default a second, and never longer than the interval.
    pub fn status_first_look_secs(&self) -> f64 {
        self.status_first_look_secs
            .unwrap_or(DEFAULT_FIRST_LOOK_SECS)
            .min(self.status_interval_secs)
    }

    /// The two numbers must be ones the bulk-status flow's `wait_until` takes
    /// (NaN, infinity or a negative number would otherwise reach a Duration).
    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let checks = [
            (
                "status_interval_secs",
                self.status_interval_secs,
                WaitSecs::Interval,
            ),
            ("status_timeout_secs", self.status_timeout_secs, WaitSecs::Timeout),
        ];
        for (key, value, which) in checks {
            if which.duration(value).is_none() {
                out.push(format!("[output] {key} = {value:?}: give {}", which.allowed()));
            }
        }
        if let Some(first) = self.status_first_look_secs {
            if WaitSecs::Interval.duration(first).is_none() {
                out.push(format!(
                    "[output] status_first_look_secs = {first:?}: give {}",
                    WaitSecs::Interval.allowed()
                ));
            } else if first > self.status_interval_secs {
                out.push(format!(
                    "[output] status_first_look_secs ({first}) is longer than status_interval_secs ({}): the first look is the soonest, the interval the longest wait",
                    self.status_interval_secs
                ));
            }
        }
        if out.is_empty() && self.status_interval_secs > self.status_timeout_secs {
            out.push(format!(
                "[output] status_interval_secs ({}) is longer than status_timeout_secs ({}): the run would look at アカウント一括登録結果 only once",
                self.status_interval_secs, self.status_timeout_secs
            ));
        }
        out
    }
}

/// What is wrong with a `[sites]` URL, if anything: https on the network,
/// plain http only on this machine (the simulator), never the 接続検証環境.
fn site_url_problem(name: &str, url: &str) -> Option<String> {
    let parsed = match reqwest::Url::parse(url) {
        Ok(u) => u,
        Err(e) => {
            return Some(format!(
                "[sites] {name} {url:?} is not a URL ({e}): write the whole address, starting with https://"
            ));
        }
    };
    match parsed.scheme() {
        "https" => {}
        // Plain http stays allowed only where it never crosses a network.
        "http" if net::is_loopback(&parsed) => {}
        "http" => {
            return Some(format!(
                "[sites] {name} {url:?} must start with https://: passwords would cross the network in clear (plain http:// is only for the simulator on this machine: 127.0.0.1, ::1, localhost)"
            ));
        }
        _ => return Some(format!("[sites] {name} {url:?} must start with https://")),
    }
    // Worded as a 接続検証環境 PDF is refused (run/prepare.rs check_pdf).
    if net::is_verification_host(&parsed) {
        let production = if name == "oqs_url" {
            format!(" (https://{}/)", net::PRODUCTION_HOST)
        } else {
            String::new()
        };
        return Some(format!(
            "[sites] {name} {url:?} is for 接続検証環境 ({}), not 本番環境: use the production site{production}",
            net::VERIFICATION_HOST
        ));
    }
    None
}

const DEFAULT_FIRST_LOOK_SECS: f64 = 1.0;

fn default_status_interval() -> f64 {
    10.0
}
fn default_status_timeout() -> f64 {
    900.0
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobFile {
    pub institution: Institution,
    pub sites: Sites,
    #[serde(default)]
    pub certificate: Option<Certificate>,
    #[serde(default)]
    pub client_certificate: Option<ClientCertificate>,
    pub master: Master,
    #[serde(default)]
    pub admin: Admin,
    #[serde(default)]
    pub accounts: Accounts,
    pub output: Output,
}

impl JobFile {
    pub fn load(path: &Path) -> Result<JobFile, JobError> {
        let text = std::fs::read_to_string(path).map_err(|source| JobError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut job: JobFile = toml::from_str(&text).map_err(|e| JobError::Invalid {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        // Relative paths in the job are relative to the job file.
        let base = path.parent().unwrap_or(Path::new("."));
        job.output.dir = resolve(base, &job.output.dir);
        if let Some(c) = job.client_certificate.as_mut() {
            c.file = resolve(base, &c.file);
        }
        for path in [
            &mut job.master.pdf,
            &mut job.master.secret_number_file,
            &mut job.master.password_file,
            &mut job.admin.password_file,
            &mut job.accounts.password_file,
        ]
        .into_iter()
        .chain(job.certificate.as_mut().map(|c| &mut c.password_file))
        .chain(job.client_certificate.as_mut().map(|c| &mut c.password_file))
        .chain([&mut job.sites.oqs_ca_file])
        {
            if let Some(p) = path.as_mut() {
                *p = resolve(base, p);
            }
        }
        let problems = job.problems();
        if !problems.is_empty() {
            return Err(JobError::Problems {
                path: path.display().to_string(),
                problems,
            });
        }
        Ok(job)
    }

    /// Everything wrong with the job, each with what to fix.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        match InstitutionCode::parse(&self.institution.code) {
            Err(e) => out.push(format!("[institution] code: {e}")),
            Ok(code) => {
                if let Some(kind) = &self.institution.kind {
                    match Kind::parse(kind) {
                        None => out.push(format!(
                            "[institution] kind {kind:?}: use 医科, 歯科, 薬局 or 訪問看護"
                        )),
                        Some(k) if k != code.kind() => out.push(format!(
                            "[institution] kind is {k}, but the code's 点数表番号 says {}: check the code",
                            code.kind()
                        )),
                        Some(_) => {}
                    }
                }
            }
        }
        for (name, url) in [
            ("cert_url", &self.sites.cert_url),
            ("oqs_url", &self.sites.oqs_url),
        ] {
            out.extend(site_url_problem(name, url));
        }
        out.extend(self.output.problems());
        if self.certificate.is_some() && self.client_certificate.is_some() {
            out.push(
                "[client_certificate] names a certificate downloaded earlier, and [certificate] downloads a new one: keep only one".into(),
            );
        }
        if let Some(c) = &self.client_certificate
            && c.password_env.is_none()
            && c.password_file.is_none()
        {
            out.push("[client_certificate] give password_env or password_file for the .p12's 4-digit 証明書パスワード".into());
        }
        let installed_by_person = self
            .certificate
            .as_ref()
            .is_some_and(|c| c.install() == Install::Person);
        let system_store = self.certificate.is_none() && self.client_certificate.is_none();
        if self.sites.oqs_ca_file.is_some() && (installed_by_person || system_store) {
            out.push(
                "[sites] oqs_ca_file is imported only where the run installs the certificate itself: install the CA with the certificate, and leave oqs_ca_file out".into(),
            );
        }
        if cfg!(windows) && self.client_certificate.is_some() {
            out.push("[client_certificate] works only on Linux: on Windows, install the .p12 (「PFXのインストール」) and leave [client_certificate] out".into());
        }
        if cfg!(windows)
            && self
                .certificate
                .as_ref()
                .is_some_and(|c| c.install() == Install::Run)
        {
            out.push("[certificate] install = \"run\" works only on Linux: on Windows a person installs the certificate (install = \"person\")".into());
        }
        if let Some(start) = &self.accounts.start
            && chrono::NaiveDate::parse_from_str(start, "%Y/%m/%d").is_err()
        {
            out.push(format!(
                "[accounts] start {start:?}: write a date like 2026/11/25"
            ));
        }
        let kana_ok = !self.admin.kana.is_empty()
            && self
                .admin
                .kana
                .chars()
                .all(|c| matches!(c, '\u{30A1}'..='\u{30F6}' | 'ー' | '・' | '　'));
        if !kana_ok {
            out.push(format!(
                "[admin] kana {:?} must be full-width katakana, e.g. カンリアカウント",
                self.admin.kana
            ));
        }
        for (what, text) in [
            ("[institution] name", &self.institution.name),
            ("[admin] name", &self.admin.name),
        ] {
            let (_, _, unmappable) = encoding_rs::SHIFT_JIS.encode(text);
            if unmappable {
                out.push(format!(
                    "{what} {text:?} has a character with no Shift-JIS form; the portal cannot take it"
                ));
            }
        }
        if self.master.user_id.trim().is_empty() {
            out.push("[master] user_id is empty: take it from the master's ユーザ設定情報 PDF".into());
        }
        out
    }

    pub fn kind(&self) -> Kind {
        InstitutionCode::parse(&self.institution.code)
            .map(|c| c.kind())
            .unwrap_or(Kind::Medical)
    }

    /// The 4-digit 証明書パスワード.
    pub fn cert_password_ref(&self) -> SecretRef {
        self.certificate
            .as_ref()
            .map(|c| SecretRef::new(&c.password_env, &c.password_file))
            .unwrap_or_default()
    }

    /// The password of a certificate downloaded earlier.
    pub fn client_cert_password_ref(&self) -> SecretRef {
        self.client_certificate
            .as_ref()
            .map(|c| SecretRef::new(&c.password_env, &c.password_file))
            .unwrap_or_default()
    }

    pub fn secret_number_ref(&self) -> SecretRef {
        SecretRef::new(&self.master.secret_number_env, &self.master.secret_number_file)
    }

    pub fn master_password_ref(&self) -> SecretRef {
        SecretRef::new(&self.master.password_env, &self.master.password_file)
    }

    pub fn admin_password_ref(&self) -> SecretRef {
        SecretRef::new(&self.admin.password_env, &self.admin.password_file)
    }

    pub fn accounts_password_ref(&self) -> SecretRef {
        SecretRef::new(&self.accounts.password_env, &self.accounts.password_file)
    }

    /// Whether the job gives the face and 連携 accounts' password (else it is generated).
    /// The job gives the admin's password: the procedure's step 1 tries it.
    pub fn admin_password_given(&self) -> bool {
        self.admin.password_env.is_some() || self.admin.password_file.is_some()
    }

    pub fn accounts_password_given(&self) -> bool {
        self.accounts.password_env.is_some() || self.accounts.password_file.is_some()
    }

    pub fn reset_user_id(&self) -> String {
        format!("{}R", self.master.user_id)
    }
}

/// `path` taken from `base`, absolute, with each `..` resolved on the disk as far
/// as the path exists (after a symbolic link, `..` is the link target's parent).
/// Chromium does not start with a profile folder whose path holds `..`.
fn resolve(base: &Path, path: &Path) -> PathBuf {
    let joined = base.join(path);
    let joined = std::path::absolute(&joined).unwrap_or(joined);
    // Windows' absolute path has its `..` taken out already.
    if cfg!(windows) {
        return joined;
    }
    let mut out = PathBuf::new();
    for part in joined.components() {
        match part {
            std::path::Component::ParentDir => match out.canonicalize() {
                Ok(real) => out = real.parent().map(Path::to_path_buf).unwrap_or(real),
                Err(_) => {
                    out.pop();
                }
            },
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// A secret from the environment variable a job names.
pub fn secret_from_env(var: &str, what: &str) -> Result<Secret, String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(Secret::new(v)),
        _ => Err(format!(
            "{what}: the environment variable {var} is not set; export it before the run"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("job.toml");
        std::fs::write(&p, text).expect("write");
        p
    }

    const GOOD: &str = "[institution]\ncode = \"1342304563\"\nname = \"ひまわり薬局\"\n\
        [sites]\ncert_url = \"https://cert.example/\"\noqs_url = \"https://hweb.oqs.onshikaku.org/\"\n\
        [master]\nuser_id = \"Y1342304\"\npdf = \"master.pdf\"\n[output]\ndir = \"runs\"\n";

    #[test]
    fn the_example_job_loads() {
        let job = JobFile::load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/job.toml"
        )))
        .expect("example");
        assert_eq!(job.reset_user_id(), "H2713107R");
        assert_eq!(job.admin.user_id, "OnsKANRI");
    }

    #[test]
    fn paths_are_relative_to_the_job_and_the_kind_comes_from_the_code() {
        let dir = tempfile::tempdir().expect("dir");
        let job = JobFile::load(&write(dir.path(), GOOD)).expect("loads");
        assert_eq!(job.kind(), Kind::Pharmacy);
        assert_eq!(job.output.dir, dir.path().join("runs"));
        assert_eq!(
            job.master.pdf.as_deref(),
            Some(dir.path().join("master.pdf").as_path())
        );
    }

    /// Chromium would not start with `..` in its profile path.
    #[cfg(unix)]
    #[test]
    fn a_path_with_dot_dot_is_resolved_on_the_disk() {
        let root = tempfile::tempdir().expect("dir");
        let root = root.path().canonicalize().expect("real");
        let desk = root.join("desk");
        std::fs::create_dir_all(root.join("real/sub")).expect("dirs");
        std::fs::create_dir(&desk).expect("desk");
        std::os::unix::fs::symlink(root.join("real/sub"), desk.join("link")).expect("link");
        let job = GOOD.replace("dir = \"runs\"", "dir = \"../work/./a/out\"");
        let job = job.replace("pdf = \"master.pdf\"", "pdf = \"link/../m.pdf\"");
        let job = JobFile::load(&write(&desk, &job)).expect("loads");
        assert_eq!(job.output.dir, root.join("work/a/out"));
        assert_eq!(
            job.master.pdf.as_deref(),
            Some(root.join("real/m.pdf").as_path()),
            "past the link"
        );
    }

    #[test]
    fn the_certificate_sections_say_who_installs_what() {
        let dir = tempfile::tempdir().expect("dir");
        let cert = "[certificate]\nrequest_id = \"1\"\nreference_id = \"R\"\npassword_env = \"C\"\n";
        let with = |extra: &str| GOOD.replace("[master]", &format!("{extra}[master]"));
        let job = JobFile::load(&write(dir.path(), &with(cert))).expect("loads");
        assert_eq!(
            job.certificate.as_ref().map(Certificate::install),
            Some(Install::platform_default())
        );
        let person = format!("{cert}install = \"person\"\n");
        let job = JobFile::load(&write(dir.path(), &with(&person))).expect("loads");
        assert_eq!(
            job.certificate.as_ref().map(Certificate::install),
            Some(Install::Person)
        );

        let err = |text: &str| {
            JobFile::load(&write(dir.path(), text))
                .expect_err("refused")
                .to_string()
        };
        let earlier = "[client_certificate]\nfile = \"old/cert.p12\"\npassword_env = \"C\"\n";
        if cfg!(windows) {
            // The terminal's own store holds it, installed by a person.
            let text = err(&with(earlier));
            assert!(text.contains("works only on Linux"), "{text}");
            let text = err(&with(&format!("{cert}install = \"run\"\n")));
            assert!(text.contains("install = \"person\""), "{text}");
        } else {
            let job = JobFile::load(&write(dir.path(), &with(earlier))).expect("loads");
            assert_eq!(
                job.client_certificate.as_ref().map(|c| c.file.clone()),
                Some(dir.path().join("old/cert.p12"))
            );
        }
        let both = err(&with(&format!("{cert}{earlier}")));
        assert!(both.contains("keep only one"), "{both}");
        let no_password = err(&with("[client_certificate]\nfile = \"cert.p12\"\n"));
        assert!(
            no_password.contains("[client_certificate] give password_env"),
            "{no_password}"
        );
        // A CA file is imported only into the run's own database.
        let ca_for_person = err(&with(&person).replace(
            "oqs_url = \"https://hweb.oqs.onshikaku.org/\"\n",
            "oqs_url = \"https://hweb.oqs.onshikaku.org/\"\noqs_ca_file = \"ca.pem\"\n",
        ));
        assert!(ca_for_person.contains("oqs_ca_file"), "{ca_for_person}");
        let unknown = err(&with(&format!("{cert}install = \"robot\"\n")));
        assert!(unknown.contains("install"), "{unknown}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let dir = tempfile::tempdir().expect("dir");
        let bad = GOOD
            .replace("1342304563", "1342304560")
            .replace("https://cert.example/", "cert.example")
            .replace(
                "name = \"ひまわり薬局\"",
                "name = \"ひまわり薬局\"\nkind = \"医科\"",
            );
        let err = JobFile::load(&write(dir.path(), &bad))
            .expect_err("refused")
            .to_string();
        assert!(err.contains("should be 3") && err.contains("cert_url"), "{err}");
        let mismatch = GOOD.replace(
            "name = \"ひまわり薬局\"",
            "name = \"ひまわり薬局\"\nkind = \"医科\"",
        );
        let err = JobFile::load(&write(dir.path(), &mismatch))
            .expect_err("refused")
            .to_string();
        assert!(err.contains("点数表番号 says 薬局"), "{err}");
        let missing = GOOD.replace("[master]\nuser_id = \"Y1342304\"\n", "[master]\n");
        let err = JobFile::load(&write(dir.path(), &missing))
            .expect_err("refused")
            .to_string();
        assert!(err.contains("user_id"), "{err}");
    }

    fn problems_of(text: &str) -> Vec<String> {
        let dir = tempfile::tempdir().expect("dir");
        match JobFile::load(&write(dir.path(), text)) {
            Ok(_) => Vec::new(),
            Err(JobError::Problems { problems, .. }) => problems,
            Err(e) => panic!("not a validation problem: {e}"),
        }
    }

    fn with_output(extra: &str) -> String {
        GOOD.replace("dir = \"runs\"\n", &format!("dir = \"runs\"\n{extra}"))
    }

    #[test]
    fn the_status_numbers_are_bounded() {
        // The defaults, the demo's and the integration tests' values.
        assert!(problems_of(GOOD).is_empty());
        for ok in [
            "status_interval_secs = 1\nstatus_timeout_secs = 120\n",
            "status_interval_secs = 0.5\nstatus_timeout_secs = 60\n",
            "status_interval_secs = 600\nstatus_timeout_secs = 86400\n",
        ] {
            assert_eq!(problems_of(&with_output(ok)), Vec::<String>::new(), "{ok}");
        }
        for (bad, key, range) in [
            (
                "status_interval_secs = nan\n",
                "status_interval_secs = NaN",
                "from 0.5 to 600",
            ),
            (
                "status_interval_secs = inf\n",
                "status_interval_secs = inf",
                "from 0.5 to 600",
            ),
            (
                "status_interval_secs = -1\n",
                "status_interval_secs = -1.0",
                "from 0.5 to 600",
            ),
            (
                "status_interval_secs = 0\n",
                "status_interval_secs = 0.0",
                "from 0.5 to 600",
            ),
            (
                "status_timeout_secs = 1e300\n",
                "status_timeout_secs = 1e300",
                "from 10 to 86400",
            ),
            (
                "status_timeout_secs = -inf\n",
                "status_timeout_secs = -inf",
                "from 10 to 86400",
            ),
            (
                "status_timeout_secs = 5\n",
                "status_timeout_secs = 5.0",
                "from 10 to 86400",
            ),
        ] {
            let problems = problems_of(&with_output(bad));
            assert!(
                problems
                    .iter()
                    .any(|p| p.starts_with(&format!("[output] {key}")) && p.contains(range)),
                "{bad}: {problems:?}"
            );
        }
        let slow = problems_of(&with_output(
            "status_interval_secs = 300\nstatus_timeout_secs = 60\n",
        ));
        assert!(
            slow.iter().any(|p| p.contains("longer than status_timeout_secs")),
            "{slow:?}"
        );
    }

    #[test]
    fn the_demo_numbers_are_valid() {
        let demo = Output {
            dir: PathBuf::from("run"),
            status_interval_secs: 1.0,
            status_timeout_secs: 120.0,
            status_first_look_secs: None,
        };
        assert!(demo.problems().is_empty());
        assert_eq!(demo.status_first_look_secs(), 1.0);
    }

    #[test]
    fn the_first_look_is_the_soonest_wait() {
        let output = |first: f64| Output {
            dir: PathBuf::from("run"),
            status_interval_secs: 10.0,
            status_timeout_secs: 600.0,
            status_first_look_secs: Some(first),
        };
        assert!(output(2.0).problems().is_empty());
        let longer = output(20.0).problems();
        assert!(
            longer.iter().any(|p| p.contains("status_first_look_secs (20)")),
            "{longer:?}"
        );
        let zero = output(0.0).problems();
        assert!(
            zero.iter().any(|p| p.contains("status_first_look_secs = 0.0")),
            "{zero:?}"
        );
        let mut slow = output(2.0);
        slow.status_first_look_secs = None;
        slow.status_interval_secs = 0.5;
        assert_eq!(
            slow.status_first_look_secs(),
            0.5,
            "never longer than the interval"
        );
    }

    fn with_sites(cert_url: &str, oqs_url: &str) -> String {
        GOOD.replace("https://cert.example/", cert_url)
            .replace("https://hweb.oqs.onshikaku.org/", oqs_url)
    }

    #[test]
    fn plain_http_is_only_for_this_machine() {
        for (cert, oqs) in [
            ("http://127.0.0.1:8400/cert/", "http://127.0.0.1:8400/oqs/"),
            ("http://localhost:8400/cert/", "http://[::1]:8400/oqs/"),
            ("https://cert.example/", "https://10.0.0.5/oqs/"),
        ] {
            assert_eq!(problems_of(&with_sites(cert, oqs)), Vec::<String>::new(), "{oqs}");
        }
        let problems = problems_of(&with_sites(
            "http://cert.example/",
            "http://192.168.1.10:8400/oqs/",
        ));
        for name in ["cert_url", "oqs_url"] {
            assert!(
                problems
                    .iter()
                    .any(|p| p.starts_with(&format!("[sites] {name}"))
                        && p.contains("must start with https://")),
                "{name}: {problems:?}"
            );
        }
        let other = problems_of(&with_sites(
            "ftp://127.0.0.1/cert/",
            "https://hweb.oqs.onshikaku.org/",
        ));
        assert!(other.iter().any(|p| p.contains("cert_url")), "{other:?}");
    }

    #[test]
    fn the_verification_environment_is_refused() {
        let problems = problems_of(&with_sites(
            "https://cert.example/",
            "https://hweb.oqs-st.onshikaku.org/",
        ));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("[sites] oqs_url")
                && problems[0].contains("接続検証環境")
                && problems[0].contains("not 本番環境")
                && problems[0].contains("https://hweb.oqs.onshikaku.org/"),
            "{problems:?}"
        );
        let cert = problems_of(&with_sites(
            "https://HWEB.oqs-st.onshikaku.org/cert/",
            "https://hweb.oqs.onshikaku.org/",
        ));
        assert!(
            cert.iter()
                .any(|p| p.contains("cert_url") && p.contains("接続検証環境")),
            "{cert:?}"
        );
    }
}
