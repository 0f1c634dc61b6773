//! Whether the browser will present the client certificate by itself: the
//! AutoSelectCertificateForUrls policy must cover the オン資 site's origin.
//! Without it, a headless browser waits for a certificate picker nobody sees,
//! until the page-load timeout. Checked before any browser starts.

use std::path::{Path, PathBuf};

use super::BrowserKind;
use super::client_cert::{origin, policy_rule};

pub const POLICY: &str = "AutoSelectCertificateForUrls";

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error(
        "no {POLICY} policy covers {origin}, so the browser cannot present the client certificate to the オン資 site (it would wait for a certificate picker until the page-load timeout). {fix}"
    )]
    NotCovered { origin: String, fix: String },
    #[error("cannot read the browser policy {place}: {message}")]
    Unreadable { place: String, message: String },
}

/// The rules one browser reads: each a JSON object with a `pattern`.
pub trait PolicySource {
    /// The effective rules, and where they came from.
    fn rules(&self, kind: BrowserKind) -> Result<(Vec<String>, String), PolicyError>;
}

/// The machine's own policy: managed policy files on Linux, the registry on Windows.
pub struct SystemPolicy;

impl PolicySource for SystemPolicy {
    #[cfg(not(windows))]
    fn rules(&self, kind: BrowserKind) -> Result<(Vec<String>, String), PolicyError> {
        let dir = managed_dir(kind);
        let rules = rules_in_dir(&dir)?;
        Ok((rules, dir.display().to_string()))
    }

    #[cfg(windows)]
    fn rules(&self, kind: BrowserKind) -> Result<(Vec<String>, String), PolicyError> {
        let mut rules = Vec::new();
        let mut places = Vec::new();
        for hive in ["HKLM", "HKCU"] {
            let key = format!("{hive}\\{}", registry_key(kind));
            let out = std::process::Command::new("reg")
                .args(["query", &key])
                .output()
                .map_err(|e| PolicyError::Unreadable {
                    place: key.clone(),
                    message: e.to_string(),
                })?;
            places.push(key);
            // A key that does not exist is no rule, not an error.
            if out.status.success() {
                rules = rules_in_reg_query(&String::from_utf8_lossy(&out.stdout));
            }
            // The machine's list, when it has one, replaces the user's.
            if !rules.is_empty() {
                break;
            }
        }
        Ok((rules, places.join(", ")))
    }
}

/// Where Chromium-family browsers on Linux read mandatory policy files.
pub fn managed_dir(kind: BrowserKind) -> PathBuf {
    PathBuf::from(match kind {
        BrowserKind::Chromium => "/etc/chromium/policies/managed",
        BrowserKind::Chrome => "/etc/opt/chrome/policies/managed",
        BrowserKind::Edge => "/etc/opt/edge/policies/managed",
    })
}

/// The policy's registry key on Windows, under HKLM or HKCU.
pub fn registry_key(kind: BrowserKind) -> String {
    let vendor = match kind {
        BrowserKind::Edge => "Microsoft\\Edge",
        BrowserKind::Chrome => "Google\\Chrome",
        BrowserKind::Chromium => "Chromium",
    };
    format!("SOFTWARE\\Policies\\{vendor}\\{POLICY}")
}

/// The rules a policy folder gives. Chromium reads every file in it, in name
/// order, and the last file that sets a policy wins; lists are not merged.
pub fn rules_in_dir(dir: &Path) -> Result<Vec<String>, PolicyError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(PolicyError::Unreadable {
                place: dir.display().to_string(),
                message: e.to_string(),
            });
        }
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    for file in files.iter().rev() {
        // Chromium skips a file it cannot parse; so does this.
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        if let Some(list) = value.get(POLICY).and_then(|v| v.as_array()) {
            return Ok(list
                .iter()
                .filter_map(|r| r.as_str().map(str::to_string))
                .collect());
        }
    }
    Ok(Vec::new())
}

/// The rules in `reg query` output: one `name    REG_SZ    value` line each.
pub fn rules_in_reg_query(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|line| {
            let (_, value) = line.split_once("REG_SZ")?;
            let value = value.trim();
            (!value.is_empty()).then(|| value.to_string())
        })
        .collect()
}

/// Whether one rule's pattern covers the origin of `url`: Chromium's content
/// settings patterns, `[scheme://][[*.]host][:port]`, `*` for any part.
pub fn rule_covers(rule: &str, url: &str) -> bool {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(rule) else {
        return false;
    };
    let Some(pattern) = value.get("pattern").and_then(|p| p.as_str()) else {
        return false;
    };
    let Some((scheme, host, port)) = split_url(url) else {
        return false;
    };
    pattern_covers(pattern, &scheme, &host, port)
}

fn split_url(url: &str) -> Option<(String, String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    let scheme = scheme.to_ascii_lowercase();
    let default = if scheme == "https" { 443 } else { 80 };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => match p.parse() {
            Ok(port) => (h, port),
            Err(_) => (authority, default),
        },
        None => (authority, default),
    };
    Some((scheme, host.to_ascii_lowercase(), port))
}

fn pattern_covers(pattern: &str, scheme: &str, host: &str, port: u16) -> bool {
    let pattern = pattern.trim();
    if pattern == "*" {
        return true;
    }
    let (p_scheme, rest) = match pattern.split_once("://") {
        Some((s, r)) => (Some(s.to_ascii_lowercase()), r),
        None => (None, pattern),
    };
    if let Some(s) = &p_scheme
        && s != "*"
        && s != scheme
    {
        return false;
    }
    let authority = rest.split('/').next().unwrap_or(rest);
    let (p_host, p_port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (h, Some(p)),
        _ => (authority, None),
    };
    match p_port {
        // No port: every port.
        None | Some("*") => {}
        Some(p) => {
            if p.parse::<u16>().ok() != Some(port) {
                return false;
            }
        }
    }
    let p_host = p_host.to_ascii_lowercase();
    if p_host == "*" {
        return true;
    }
    match p_host.strip_prefix("[*.]") {
        Some(domain) => host == domain || host.ends_with(&format!(".{domain}")),
        None => host == p_host,
    }
}

/// Refuses a run whose browser would not present the certificate to `url`.
/// Plain-HTTP sites need no certificate and pass.
pub fn check(
    source: &dyn PolicySource,
    kind: BrowserKind,
    url: &str,
    issuer_cn: &str,
) -> Result<(), PolicyError> {
    if !url.to_ascii_lowercase().starts_with("https://") {
        return Ok(());
    }
    let (rules, place) = source.rules(kind)?;
    if rules.iter().any(|r| rule_covers(r, url)) {
        return Ok(());
    }
    Err(PolicyError::NotCovered {
        origin: origin(url),
        fix: fix_for(kind, url, issuer_cn, &place, !rules.is_empty()),
    })
}

/// The one command that puts the policy in place, for this platform.
fn fix_for(kind: BrowserKind, url: &str, issuer_cn: &str, place: &str, others: bool) -> String {
    let shadow = if others {
        format!(" The browser reads the rules of {place}, and none of them covers this site.")
    } else {
        String::new()
    };
    if cfg!(windows) {
        let rule = policy_rule(url, issuer_cn).replace('"', "\\\"");
        format!(
            "As administrator, run:\n  reg add HKLM\\{} /v 1 /t REG_SZ /d \"{rule}\"\nthen run the job again.{shadow}",
            registry_key(kind)
        )
    } else {
        let dir = managed_dir(kind);
        let dir_arg = if kind == BrowserKind::Chromium {
            String::new()
        } else {
            format!(" --dir {}", dir.display())
        };
        format!(
            "As root, run:\n  oqsbot browser-policy --url {}{dir_arg}\nthen run the job again.{shadow}",
            origin(url)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "Online Billing NW Common Root CA";

    struct Given(Vec<String>);

    impl PolicySource for Given {
        fn rules(&self, _: BrowserKind) -> Result<(Vec<String>, String), PolicyError> {
            Ok((self.0.clone(), "the test's rules".into()))
        }
    }

    fn rule(pattern: &str) -> String {
        serde_json::json!({ "pattern": pattern, "filter": { "ISSUER": { "CN": ISSUER } } }).to_string()
    }

    #[test]
    fn patterns_cover_what_chromium_would() {
        let url = "https://hweb.oqs.onshikaku.org:8443/portal/index.html";
        for covering in [
            "https://hweb.oqs.onshikaku.org:8443",
            "https://hweb.oqs.onshikaku.org:*",
            "https://hweb.oqs.onshikaku.org",
            "https://[*.]onshikaku.org",
            "[*.]oqs.onshikaku.org",
            "*://HWEB.oqs.onshikaku.org:8443/*",
            "*",
        ] {
            assert!(rule_covers(&rule(covering), url), "{covering} covers {url}");
        }
        for not_covering in [
            "https://hweb.oqs.onshikaku.org:443",
            "http://hweb.oqs.onshikaku.org:8443",
            "https://other.onshikaku.org",
            "https://[*.]shikaku.org",
            "https://xhweb.oqs.onshikaku.org",
        ] {
            assert!(
                !rule_covers(&rule(not_covering), url),
                "{not_covering} does not cover {url}"
            );
        }
        assert!(rule_covers(
            &rule("https://127.0.0.1:*"),
            "https://127.0.0.1:40123/"
        ));
        assert!(!rule_covers("not json", url));
        assert!(!rule_covers("{\"filter\":{}}", url));
    }

    #[test]
    fn the_default_port_is_the_schemes() {
        let r = rule("https://hweb.example:443");
        assert!(rule_covers(&r, "https://hweb.example/portal"));
        assert!(!rule_covers(&r, "https://hweb.example:8443/portal"));
    }

    #[test]
    fn an_uncovered_site_is_refused_with_the_command_that_fixes_it() {
        let none = Given(vec![]);
        let err = check(
            &none,
            BrowserKind::Chromium,
            "https://127.0.0.1:9443/portal",
            ISSUER,
        )
        .expect_err("refused");
        let text = err.to_string();
        assert!(text.contains("https://127.0.0.1:9443"), "{text}");
        if cfg!(windows) {
            assert!(text.contains("reg add HKLM"), "{text}");
        } else {
            assert!(
                text.contains("oqsbot browser-policy --url https://127.0.0.1:9443"),
                "{text}"
            );
        }
        let other = Given(vec![rule("https://elsewhere.example")]);
        let text = check(&other, BrowserKind::Chrome, "https://127.0.0.1:9443/", ISSUER)
            .expect_err("refused")
            .to_string();
        assert!(text.contains("none of them covers"), "{text}");
        let covered = Given(vec![
            rule("https://elsewhere.example"),
            rule("https://127.0.0.1:9443"),
        ]);
        check(&covered, BrowserKind::Chromium, "https://127.0.0.1:9443/", ISSUER).expect("covered");
        // Plain HTTP asks for no certificate.
        check(&none, BrowserKind::Chromium, "http://127.0.0.1:9443/", ISSUER).expect("http");
    }

    #[test]
    fn only_the_last_file_that_sets_the_policy_counts() {
        let dir = tempfile::tempdir().expect("dir");
        let write = |name: &str, pattern: &str| {
            let text = serde_json::json!({ POLICY: [rule(pattern)] }).to_string();
            std::fs::write(dir.path().join(name), text).expect("write")
        };
        // Chromium reads files without .json too; unparsable or unrelated ones set nothing.
        write("a-other.json", "https://other.example");
        write("b-site", "https://hweb.example");
        std::fs::write(
            dir.path().join("c-unrelated.json"),
            "{\"HomepageLocation\":\"x\"}",
        )
        .expect("write");
        std::fs::write(dir.path().join("d-broken.json"), "{").expect("write");
        let rules = rules_in_dir(dir.path()).expect("rules");
        assert_eq!(rules.len(), 1);
        assert!(rule_covers(&rules[0], "https://hweb.example/"));
        assert!(!rule_covers(&rules[0], "https://other.example/"));
        assert!(rules_in_dir(&dir.path().join("absent")).expect("none").is_empty());
    }

    #[test]
    fn registry_values_are_read_from_reg_query() {
        let out = "\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Edge\\AutoSelectCertificateForUrls\r\n    1    REG_SZ    {\"pattern\":\"https://hweb.example\",\"filter\":{}}\r\n    2    REG_SZ    {\"pattern\":\"https://b.example\"}\r\n\r\n";
        let rules = rules_in_reg_query(out);
        assert_eq!(rules.len(), 2);
        assert!(rule_covers(&rules[0], "https://hweb.example/portal"));
        assert_eq!(
            registry_key(BrowserKind::Edge),
            "SOFTWARE\\Policies\\Microsoft\\Edge\\AutoSelectCertificateForUrls"
        );
    }
}
