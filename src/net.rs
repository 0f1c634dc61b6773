//! Which URLs oqsbot may use: plain http only on this machine, never the
//! verification environment for a production job. And how a response says
//! what encoding its text is in.

use std::net::IpAddr;

use reqwest::Url;

/// The オン資 site's production host (spec/portal.md).
pub const PRODUCTION_HOST: &str = "hweb.oqs.onshikaku.org";
/// The 接続検証環境 (verification environment) host (spec/portal.md): its accounts
/// and data are not the clinic's, so a production job must never log in there.
pub const VERIFICATION_HOST: &str = "hweb.oqs-st.onshikaku.org";

/// The host is this machine: 127.0.0.0/8, ::1 or localhost. Traffic to it never
/// crosses a network, so plain http is harmless (the simulator serves http there).
pub fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    // host_str writes an IPv6 address in brackets.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.trim_end_matches('.').eq_ignore_ascii_case("localhost"),
    }
}

/// The URL's host is the 接続検証環境.
pub fn is_verification_host(url: &Url) -> bool {
    url.host_str()
        .is_some_and(|h| h.trim_end_matches('.').eq_ignore_ascii_case(VERIFICATION_HOST))
}

#[derive(Debug, thiserror::Error)]
pub enum WebDriverUrlError {
    #[error(
        "--webdriver-url {url:?} is not a URL ({reason}): write it like https://grid.example:4444 or http://127.0.0.1:9515"
    )]
    Invalid { url: String, reason: String },
    #[error("--webdriver-url {url:?} must start with https:// or http://")]
    Scheme { url: String },
    #[error(
        "--webdriver-url {url:?} is plain http:// to another machine: every password the run types (certificate, 秘密の番号, account passwords) would cross the network in clear. Use https://, or a WebDriver on this machine (http://127.0.0.1:…); on a network you trust, pass --allow-plain-webdriver"
    )]
    Plain { url: String },
}

/// `url` with any user name and password taken out, for messages.
fn without_credentials(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// Printed when `--allow-plain-webdriver` lets a plain http WebDriver on another machine through.
pub fn plain_webdriver_warning(url: &str) -> String {
    format!(
        "warning: --allow-plain-webdriver: the WebDriver at {url} is reached over plain http; every password the run types crosses the network in clear"
    )
}

/// Checks a `--webdriver-url`. The WebDriver protocol carries every keystroke,
/// passwords included, so it must be https unless it stays on this machine or
/// the user allowed plain http (`allow_plain`). `Ok(Some(warning))`: allowed
/// plain http to another machine; the caller prints the warning.
pub fn check_webdriver_url(url: &str, allow_plain: bool) -> Result<Option<String>, WebDriverUrlError> {
    let parsed = Url::parse(url).map_err(|e| WebDriverUrlError::Invalid {
        url: "(not shown: it may hold a password)".to_string(),
        reason: e.to_string(),
    })?;
    // A grid's user and token in the URL are never printed.
    let shown = if parsed.username().is_empty() && parsed.password().is_none() {
        url.to_string()
    } else {
        without_credentials(&parsed)
    };
    let url = shown.as_str();
    match parsed.scheme() {
        "https" => Ok(None),
        "http" if is_loopback(&parsed) => Ok(None),
        "http" if allow_plain => Ok(Some(plain_webdriver_warning(url))),
        "http" => Err(WebDriverUrlError::Plain { url: url.to_string() }),
        _ => Err(WebDriverUrlError::Scheme { url: url.to_string() }),
    }
}

/// The encoding the header or the page's own `<meta>` declares.
pub fn declared_charset(content_type: &str, body: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let declared = |s: &str| {
        let i = s.find("charset=")?;
        let label: String = s[i + 8..]
            .trim_start_matches(['"', '\''])
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        encoding_rs::Encoding::for_label(label.as_bytes())
    };
    declared(&content_type.to_ascii_lowercase()).or_else(|| {
        let head = String::from_utf8_lossy(&body[..body.len().min(2048)]).to_ascii_lowercase();
        declared(&head)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("url")
    }

    #[test]
    fn loopback_is_this_machine_only() {
        for u in [
            "http://127.0.0.1:8400/oqs/",
            "http://127.3.2.1/",
            "http://[::1]:9515/",
            "http://localhost:4444/",
            "http://LOCALHOST./",
        ] {
            assert!(is_loopback(&url(u)), "{u}");
        }
        for u in [
            "http://10.0.0.5:4444/",
            "http://128.0.0.1/",
            "http://[::2]/",
            "http://localhost.example/",
            "http://grid/",
        ] {
            assert!(!is_loopback(&url(u)), "{u}");
        }
    }

    #[test]
    fn the_verification_host_is_recognised() {
        assert!(is_verification_host(&url("https://hweb.oqs-st.onshikaku.org/")));
        assert!(is_verification_host(&url(
            "https://HWEB.OQS-ST.onshikaku.org:443/x"
        )));
        assert!(!is_verification_host(&url("https://hweb.oqs.onshikaku.org/")));
    }

    #[test]
    fn a_webdrivers_credentials_are_never_shown() {
        let err =
            check_webdriver_url("http://grid:t0ken-Secret@10.1.2.3:4444/wd/hub", false).expect_err("refused");
        assert!(!err.to_string().contains("t0ken-Secret"), "{err}");
        let warning = check_webdriver_url("http://grid:t0ken-Secret@10.1.2.3:4444", true)
            .expect("allowed")
            .unwrap_or_default();
        assert!(
            !warning.contains("t0ken-Secret") && warning.contains("10.1.2.3"),
            "{warning}"
        );
        let err = check_webdriver_url("http://grid:t0ken-Secret@[::1", false).expect_err("not a URL");
        assert!(!err.to_string().contains("t0ken-Secret"), "{err}");
    }

    #[test]
    fn a_webdriver_elsewhere_needs_https_or_the_flag() {
        assert!(matches!(
            check_webdriver_url("https://grid.example:4444/wd/hub", false),
            Ok(None)
        ));
        assert!(matches!(
            check_webdriver_url("http://127.0.0.1:9515", false),
            Ok(None)
        ));
        assert!(matches!(
            check_webdriver_url("http://localhost:4444", false),
            Ok(None)
        ));
        let plain = check_webdriver_url("http://10.1.2.3:4444", false).expect_err("refused");
        let text = plain.to_string();
        assert!(
            text.contains("in clear") && text.contains("--allow-plain-webdriver"),
            "{text}"
        );
        let allowed = check_webdriver_url("http://10.1.2.3:4444", true).expect("allowed");
        assert!(allowed.is_some_and(|w| w.contains("in clear")));
        assert!(matches!(
            check_webdriver_url("ftp://10.1.2.3/", true),
            Err(WebDriverUrlError::Scheme { .. })
        ));
        assert!(matches!(
            check_webdriver_url("10.1.2.3:4444", false),
            Err(WebDriverUrlError::Invalid { .. }) | Err(WebDriverUrlError::Scheme { .. })
        ));
    }
}
