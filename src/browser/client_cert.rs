//! Client certificates for the オン資 site: the .p12 goes into an NSS database
//! under the run's own HOME (where Chromium on Linux looks), and the
//! AutoSelectCertificateForUrls policy lets a headless browser present it.
//! Without that policy, headless Chromium waits for a certificate picker that
//! never appears. The policy is written only by `oqsbot browser-policy`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum ClientCertError {
    #[error("{tool} is not installed: apt-get install libnss3-tools")]
    ToolMissing { tool: String },
    #[error("{tool} failed: {message}")]
    Tool { tool: String, message: String },
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
}

fn run(tool: &str, args: &[&str]) -> Result<(), ClientCertError> {
    let out = Command::new(tool)
        .args(args)
        .env_clear()
        .envs(super::launch::child_environment())
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ClientCertError::ToolMissing {
                tool: tool.to_string(),
            },
            _ => ClientCertError::Tool {
                tool: tool.to_string(),
                message: e.to_string(),
            },
        })?;
    if !out.status.success() {
        let message = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(ClientCertError::Tool {
            tool: tool.to_string(),
            message,
        });
    }
    Ok(())
}

/// Imports the .p12 (and, if given, a CA to trust for the server) into
/// `home/.pki/nssdb`. The password goes through an owner-only file, never the command line.
pub fn import_into_nss(
    home: &Path,
    p12: &Path,
    password: &Secret,
    server_ca_pem: Option<&Path>,
) -> Result<PathBuf, ClientCertError> {
    let db = home.join(".pki").join("nssdb");
    std::fs::create_dir_all(&db).map_err(|source| ClientCertError::Write {
        path: db.display().to_string(),
        source,
    })?;
    let db_arg = format!("sql:{}", db.display());
    if !db.join("cert9.db").exists() {
        run("certutil", &["-N", "-d", &db_arg, "--empty-password"])?;
    }
    let pw_file = home.join(".p12-password");
    {
        let mut f = owner_only_file(&pw_file)?;
        f.write_all(password.expose().as_bytes())
            .map_err(|source| ClientCertError::Write {
                path: pw_file.display().to_string(),
                source,
            })?;
    }
    let p12_arg = p12.display().to_string();
    let pw_arg = pw_file.display().to_string();
    let result = run("pk12util", &["-i", &p12_arg, "-d", &db_arg, "-w", &pw_arg]);
    let _ = std::fs::remove_file(&pw_file);
    result?;
    if let Some(ca) = server_ca_pem {
        run(
            "certutil",
            &[
                "-A",
                "-d",
                &db_arg,
                "-n",
                "oqs-server-ca",
                "-t",
                "CT,C,C",
                "-a",
                "-i",
                &ca.display().to_string(),
            ],
        )?;
    }
    Ok(db)
}

fn owner_only_file(path: &Path) -> Result<std::fs::File, ClientCertError> {
    crate::owner_only::create_file(path).map_err(|source| ClientCertError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// One AutoSelectCertificateForUrls rule: present the certificate whose issuer
/// is `issuer_cn` to `url`'s origin. The registry value on Windows is this string.
pub fn policy_rule(url: &str, issuer_cn: &str) -> String {
    serde_json::json!({ "pattern": origin(url), "filter": { "ISSUER": { "CN": issuer_cn } } }).to_string()
}

/// The policy file's content.
pub fn policy_json(url: &str, issuer_cn: &str) -> String {
    serde_json::json!({ "AutoSelectCertificateForUrls": [policy_rule(url, issuer_cn)] }).to_string()
}

/// `https://host:port` of a URL.
pub fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let host = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{host}")
}

/// Writes the managed policy for Chromium (Linux). Chrome reads
/// /etc/opt/chrome/policies/managed instead; on Windows, Edge takes the same
/// rule from the registry (see README).
pub fn write_policy(dir: &Path, name: &str, url: &str, issuer_cn: &str) -> Result<PathBuf, ClientCertError> {
    std::fs::create_dir_all(dir).map_err(|source| ClientCertError::Write {
        path: dir.display().to_string(),
        source,
    })?;
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, policy_json(url, issuer_cn)).map_err(|source| ClientCertError::Write {
        path: path.display().to_string(),
        source,
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_the_origin_and_the_issuer() {
        let json = policy_json(
            "https://hweb.oqs.onshikaku.org/portal/index.html",
            "Online Billing NW Common Root CA",
        );
        let v: serde_json::Value = serde_json::from_str(&json).expect("json");
        let rule: serde_json::Value = serde_json::from_str(
            v["AutoSelectCertificateForUrls"][0]
                .as_str()
                .expect("a string rule"),
        )
        .expect("rule json");
        assert_eq!(rule["pattern"], "https://hweb.oqs.onshikaku.org");
        assert_eq!(rule["filter"]["ISSUER"]["CN"], "Online Billing NW Common Root CA");
    }
}
