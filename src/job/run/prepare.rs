//! Everything a run checks and builds before a browser starts: the secrets, the
//! target passwords, the master's PDF and the Shift-JIS bulk file.

use std::path::Path;

use chrono::Utc;

use super::{RunError, RunOptions};
use crate::bulk_csv::{self, Layout, TerminalKind};
use crate::job::JobFile;
use crate::job::procedure::{Prepared, check_pdf};
use crate::job::secrets::SecretRef;
use crate::job::store::CredentialStore;
use crate::portal::PasswordPolicy;
use crate::secret::Secret;

/// Everything checked before a browser starts; every problem reported at once.
pub(super) fn prepare(
    job: &JobFile,
    options: &RunOptions,
    store: &mut CredentialStore,
) -> Result<Prepared, RunError> {
    let mut problems = job.problems();
    let mut master_pdf = None;
    if let Some(path) = &job.master.pdf {
        match std::fs::read(path) {
            Err(e) => problems.push(format!("[master] pdf {}: {e}", path.display())),
            Ok(bytes) => match crate::pdf::read_credentials(&bytes) {
                Err(e) => problems.push(format!("[master] pdf {}: {e}", path.display())),
                Ok(c) => match check_pdf(job, &c, &job.master.user_id, "the master's PDF") {
                    Err(e) => problems.push(format!("[master] pdf: {e}")),
                    Ok(()) => master_pdf = Some(c),
                },
            },
        }
    }
    let source = &options.secrets;
    // `missing`: the problem to report when the job gives no source for a secret it needs.
    let mut resolve =
        |r: SecretRef, key: &str, what: &str, missing: Option<&str>| match source.resolve(&r, key, what) {
            Ok(None) => {
                problems.extend(missing.map(str::to_string));
                None
            }
            Ok(found) => found,
            Err(e) => {
                problems.push(e);
                None
            }
        };
    let cert_password = match &job.certificate {
        None => None,
        Some(_) => resolve(
            job.cert_password_ref(),
            "[certificate] password",
            "証明書パスワード (4桁)",
            Some("[certificate] give password_env or password_file for the 4-digit 証明書パスワード"),
        ),
    };
    let client_cert_password = match &job.client_certificate {
        None => None,
        Some(_) => resolve(
            job.client_cert_password_ref(),
            "[client_certificate] password",
            "証明書パスワード (4桁)",
            None,
        ),
    };
    let secret_number_ref = job.secret_number_ref();
    // The 秘密の番号 is asked for only when the reset may need it.
    let pdf_has_password = master_pdf.as_ref().is_some_and(|c| c.password.is_some());
    let secret_number = if secret_number_ref.is_given() || !pdf_has_password {
        resolve(
            secret_number_ref,
            "[master] secret_number",
            "秘密の番号 (4桁)",
            (!pdf_has_password).then_some(
                "[master] the master's PDF has no initial password, so the reset needs the 秘密の番号: give secret_number_env or secret_number_file",
            ),
        )
    } else {
        None
    };
    let targets = [
        (
            "target:master",
            job.master_password_ref(),
            "[master] password",
            "マスタアカウントの新しいパスワード",
        ),
        (
            "target:admin",
            job.admin_password_ref(),
            "[admin] password",
            "管理アカウントのパスワード",
        ),
        (
            "target:accounts",
            job.accounts_password_ref(),
            "[accounts] password",
            "顔認証・連携アカウントのパスワード",
        ),
    ];
    // A target password the job does not give is generated, never asked for.
    let given_targets: Vec<Option<Secret>> = targets
        .iter()
        .map(|(_, r, key, what)| {
            if r.is_given() {
                resolve(r.clone(), key, what, None)
            } else {
                None
            }
        })
        .collect();
    if let Some(p) = &cert_password {
        if !(p.expose().len() == 4 && p.expose().bytes().all(|b| b.is_ascii_digit())) {
            problems.push("[certificate] the certificate password must be 4 half-width digits".into());
        } else {
            // The technician needs it again at step ⑤, installing the .p12 on the terminal.
            store.record_secret("cert_password", p)?;
        }
    }
    // Target passwords: from the job, or generated once and kept in the store.
    for ((key, r, _, _), given) in targets.iter().zip(given_targets) {
        let key = *key;
        let secret = match given {
            Some(s) => Some(s),
            None if r.is_given() => None,
            None => match store.secret(key) {
                Some(s) => Some(s),
                None => {
                    let generated = PasswordPolicy::generate(PasswordPolicy::GENERATED_LEN)
                        .map_err(|e| RunError::Input(e.to_string()))?;
                    let s = Secret::new(generated);
                    store.record_secret(key, &s)?;
                    Some(s)
                }
            },
        };
        match secret {
            // Already reported when it was resolved.
            None => {}
            Some(s) => {
                for v in PasswordPolicy::check(s.expose(), &[]) {
                    problems.push(format!("{key}: the portal will refuse this password: {v}"));
                }
                store.record_secret(key, &s)?;
            }
        }
    }
    if let (Some(given), Some(password)) = (&job.client_certificate, &client_cert_password) {
        // The same checks as a downloaded one: the password, the institution, the issuer, the dates.
        if let Err(e) =
            crate::cert::check_file(&given.file, password.expose(), &job.institution.code, Utc::now())
        {
            problems.push(format!("[client_certificate] {}: {e}", given.file.display()));
        }
    }
    if let Some(ca) = &job.sites.oqs_ca_file {
        match std::fs::read_to_string(ca) {
            Err(e) => problems.push(format!("[sites] oqs_ca_file {}: {e}", ca.display())),
            Ok(text) if !text.contains("-----BEGIN CERTIFICATE-----") => problems.push(format!(
                "[sites] oqs_ca_file {} is not a PEM certificate (-----BEGIN CERTIFICATE-----)",
                ca.display()
            )),
            Ok(_) => {}
        }
    }
    // The WebDriver protocol carries every password the run types.
    if let Some(url) = &options.browser.webdriver_url
        && let Err(e) = crate::net::check_webdriver_url(url, options.browser.allow_plain_webdriver)
    {
        problems.push(e.to_string());
    }
    if options.browser.webdriver_url.is_some() && job.sites.oqs_url.starts_with("https://") {
        problems.extend(remote_certificate_problems(job));
    }
    // A browser without the policy would wait for a certificate picker nobody sees.
    if options.browser.webdriver_url.is_none()
        && let Err(e) = crate::browser::policy::check(
            options.policy.as_ref(),
            options.browser.kind,
            &job.sites.oqs_url,
            crate::cert::EXPECTED_ISSUER,
        )
    {
        problems.push(e.to_string());
    }
    // The bulk CSV is built now, so a name with no Shift-JIS form stops the run here.
    let kind = TerminalKind::from(job.kind());
    let layout = Layout::builtin();
    let start = match &job.accounts.start {
        Some(s) => chrono::NaiveDate::parse_from_str(s, "%Y/%m/%d").unwrap_or_else(|_| today_jst()),
        None => today_jst(),
    };
    let csv = job.output.dir.join("accounts.csv");
    let password = store.secret("target:accounts").unwrap_or_else(|| Secret::new(""));
    let rows = bulk_csv::default_accounts(layout, kind, password.expose(), start);
    let bulk_ids: Vec<String> = rows.iter().map(|r| r.user_id.clone()).collect();
    if !password.expose().is_empty() {
        match bulk_csv::encode(layout, &rows) {
            Err(e) => problems.push(format!("bulk CSV: {e}")),
            Ok(bytes) => {
                if let Err(e) = write_owner_only(&csv, &bytes) {
                    problems.push(format!("cannot write {}: {e}", csv.display()));
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(RunError::Input(format!(
            "the job cannot run:\n  - {}",
            problems.join("\n  - ")
        )));
    }
    Ok(Prepared {
        master_pdf,
        cert_password,
        client_cert_password,
        secret_number,
        csv,
        bulk_ids,
    })
}

/// The CSV holds a password: owner-only, like the credential store.
fn write_owner_only(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    crate::owner_only::create_file(path)?.write_all(bytes)
}

/// Today in Japan, where the portal's dates are: not the machine's own zone.
pub fn today_jst() -> chrono::NaiveDate {
    japan_date(Utc::now())
}

/// The date in Japan at an instant.
pub fn japan_date(at: chrono::DateTime<Utc>) -> chrono::NaiveDate {
    at.with_timezone(&chrono_tz::Asia::Tokyo).date_naive()
}

/// A browser on another machine (`--webdriver-url`) presents only the client
/// certificate its own machine holds: the job must say that machine is
/// prepared, and leave installing a new certificate there to a person.
fn remote_certificate_problems(job: &JobFile) -> Vec<String> {
    let mut out = Vec::new();
    if !job.sites.remote_browser_has_certificate {
        out.push(format!(
            "the オン資 site {} asks for the client certificate, and the browser at --webdriver-url (a Grid node, or a driver started apart from oqsbot) presents only what its own machine and profile hold: install this institution's certificate and the AutoSelectCertificateForUrls policy (oqsbot browser-policy) on the Grid node, then set [sites] remote_browser_has_certificate = true",
            job.sites.oqs_url
        ));
    }
    if job
        .certificate
        .as_ref()
        .is_some_and(|c| c.install() == crate::job::Install::Run)
    {
        out.push(
            "[certificate] install = \"run\" cannot reach a browser on another machine (--webdriver-url): set install = \"person\", and a person installs the downloaded certificate on the Grid node"
                .to_string(),
        );
    }
    if job.client_certificate.is_some() {
        out.push(
            "[client_certificate] is imported into a browser on this machine, not the one at --webdriver-url: install it on the Grid node instead, and remove the section"
                .to_string(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_date_turns_at_midnight_in_japan_not_at_midnight_utc() {
        let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).expect("date");
        let utc = |h, min, s| {
            Utc.with_ymd_and_hms(2026, 12, 1, h, min, s)
                .single()
                .expect("instant")
        };
        // 23:59:59 in Tokyo on 12/01 is 14:59:59 UTC.
        assert_eq!(japan_date(utc(14, 59, 59)), day(2026, 12, 1));
        // One second later it is 12/02 in Tokyo, still 12/01 in UTC.
        assert_eq!(japan_date(utc(15, 0, 0)), day(2026, 12, 2));
        // UTC's own midnight changes nothing in Tokyo (09:00 there).
        assert_eq!(japan_date(utc(0, 0, 0)), day(2026, 12, 1));
        let new_year = Utc
            .with_ymd_and_hms(2026, 12, 31, 15, 0, 0)
            .single()
            .expect("instant");
        assert_eq!(japan_date(new_year), day(2027, 1, 1));
    }
}
