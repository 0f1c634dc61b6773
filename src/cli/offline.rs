//! The offline subcommands: each checks one kind of input with no browser.
//! They print to the writer they are given and say whether the input passed.

use std::io::{BufRead, Write};
use std::path::Path;

use chrono::{NaiveDate, Utc};
use serde_json::json;

use crate::bulk_csv::{self, Layout, TerminalKind};
use crate::portal::institution::prefecture_name;
use crate::portal::{InstitutionCode, PasswordPolicy};
use crate::{cert, pdf};

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error(
        "environment variable {0} is not set: export it with the password, or leave the option out to be asked"
    )]
    MissingEnv(String),
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Csv(#[from] bulk_csv::BulkCsvError),
    #[error("output: {0}")]
    Output(#[from] std::io::Error),
}

/// Whether the input passed: exit 0 or 1.
pub type Verdict = Result<bool, CommandError>;

fn read(path: &Path) -> Result<Vec<u8>, CommandError> {
    std::fs::read(path).map_err(|source| CommandError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// A secret from an environment variable, or asked for on the terminal (not echoed).
pub fn secret(env: Option<&str>, prompt: &str) -> Result<String, CommandError> {
    match env {
        Some(var) => std::env::var(var).map_err(|_| CommandError::MissingEnv(var.to_string())),
        None => rpassword::prompt_password(prompt)
            .map_err(|e| CommandError::Input(format!("cannot read the password: {e}"))),
    }
}

pub fn code_check(code: &str, out: &mut dyn Write) -> Verdict {
    match InstitutionCode::parse(code) {
        Ok(c) => {
            writeln!(
                out,
                "{c}: valid — {} ({:02}), {}, 郡市区番号 {}, 医療機関等番号 {}, 連携アカウント {}",
                prefecture_name(c.prefecture()),
                c.prefecture(),
                c.kind(),
                c.district(),
                c.number(),
                Layout::builtin().link_account_label(TerminalKind::from(c.kind()))
            )?;
            Ok(true)
        }
        Err(e) => {
            writeln!(out, "{e}")?;
            Ok(false)
        }
    }
}

/// Checks the first line of `input` against the policy (no history is known offline).
pub fn password_check(input: &mut dyn BufRead, out: &mut dyn Write) -> Verdict {
    let mut line = String::new();
    input.read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']);
    let violations = PasswordPolicy::check(password, &[]);
    if violations.is_empty() {
        let expiry = if PasswordPolicy::expires(password) {
            "expires 60 days after it is set (card-reader and 連携 accounts excepted)"
        } else {
            "never expires (13 characters or more)"
        };
        writeln!(out, "the password passes the portal's policy; it {expiry}")?;
        return Ok(true);
    }
    writeln!(out, "the portal will refuse this password:")?;
    for v in violations {
        writeln!(out, "  - {v}")?;
    }
    Ok(false)
}

pub fn password_generate(length: usize, out: &mut dyn Write) -> Verdict {
    let password = PasswordPolicy::generate(length).map_err(|e| CommandError::Input(e.to_string()))?;
    writeln!(out, "{password}")?;
    Ok(true)
}

fn layout(path: Option<&Path>) -> Result<Layout, CommandError> {
    Ok(match path {
        Some(p) => Layout::load(p)?,
        None => Layout::builtin().clone(),
    })
}

pub struct CsvBuild<'a> {
    pub kind: &'a str,
    pub start: &'a str,
    pub password: &'a str,
    pub output: &'a Path,
    pub layout: Option<&'a Path>,
}

pub fn csv_build(args: &CsvBuild, out: &mut dyn Write) -> Verdict {
    let layout = layout(args.layout)?;
    let Some(kind) = TerminalKind::parse(args.kind) else {
        return Err(CommandError::Input(format!(
            "--kind {:?}: use 医科歯科 or 薬局",
            args.kind
        )));
    };
    let start = NaiveDate::parse_from_str(args.start.trim(), "%Y/%m/%d")
        .map_err(|_| CommandError::Input(format!("--start {:?}: use a date like 2026/11/25", args.start)))?;
    let violations = PasswordPolicy::check(args.password, &[]);
    if !violations.is_empty() {
        writeln!(
            out,
            "the portal would refuse the password, so no file was written:"
        )?;
        for v in violations {
            writeln!(out, "  - {v}")?;
        }
        return Ok(false);
    }
    let rows = bulk_csv::default_accounts(&layout, kind, args.password, start);
    let bytes = bulk_csv::encode(&layout, &rows)?;
    std::fs::write(args.output, &bytes).map_err(|source| CommandError::Write {
        path: args.output.display().to_string(),
        source,
    })?;
    let ids: Vec<&str> = rows.iter().map(|r| r.user_id.as_str()).collect();
    writeln!(
        out,
        "wrote {} ({} bytes, Shift-JIS, {}): {} accounts, {}",
        args.output.display(),
        bytes.len(),
        kind.label(),
        rows.len(),
        ids.join(", ")
    )?;
    Ok(true)
}

pub fn csv_check(path: &Path, json: bool, layout_path: Option<&Path>, out: &mut dyn Write) -> Verdict {
    let layout = layout(layout_path)?;
    let report = bulk_csv::check(&layout, &read(path)?);
    if json {
        writeln!(
            out,
            "{}",
            json!({"valid": report.is_valid(), "rows": report.rows, "problems": report.problems})
        )?;
    } else if report.is_valid() {
        writeln!(out, "{}: valid, {} account rows", path.display(), report.rows)?;
    } else {
        writeln!(
            out,
            "{}: {} problem(s); the portal would refuse the whole file:",
            path.display(),
            report.problems.len()
        )?;
        for p in &report.problems {
            writeln!(out, "  {p}")?;
        }
    }
    Ok(report.is_valid())
}

pub fn pdf_show(path: &Path, as_json: bool, show_password: bool, out: &mut dyn Write) -> Verdict {
    let bytes = read(path)?;
    let creds = match pdf::read_credentials(&bytes) {
        Ok(c) => c,
        Err(e) => {
            writeln!(out, "{}: {e}", path.display())?;
            return Ok(false);
        }
    };
    if as_json {
        writeln!(
            out,
            "{}",
            json!({
                "environment": creds.environment,
                "institution_code": creds.institution_code,
                "institution_name": creds.institution_name,
                "user_id": creds.user_id,
                "user_name": creds.user_name,
                "password": creds.password,
                "password_expires": creds.password_expires,
                "reset_user_id": creds.reset_user_id,
                "issued": creds.issued,
            })
        )?;
        return Ok(true);
    }
    let text = |v: &Option<String>| v.clone().unwrap_or_else(|| "(not printed)".into());
    let date = |v: &Option<NaiveDate>| {
        v.map(|d| d.format("%Y/%m/%d").to_string())
            .unwrap_or_else(|| "(not printed)".into())
    };
    let password = match (&creds.password, show_password) {
        (None, _) => "(not printed: reset it with the reset account and the 秘密の番号)".to_string(),
        (Some(p), true) => p.clone(),
        (Some(_), false) => "●●●●●● (--show-password to show it)".to_string(),
    };
    for (label, value) in [
        ("発行日", date(&creds.issued)),
        ("利用環境", text(&creds.environment)),
        ("医療機関コード", text(&creds.institution_code)),
        ("医療機関等名", text(&creds.institution_name)),
        ("ユーザID", text(&creds.user_id)),
        ("ユーザ名", text(&creds.user_name)),
        ("パスワード", password),
        ("パスワード有効期限", date(&creds.password_expires)),
        ("リセット用ユーザID", text(&creds.reset_user_id)),
    ] {
        writeln!(out, "{label}: {value}")?;
    }
    if !creds.is_production() {
        writeln!(
            out,
            "warning: this PDF is not for 本番環境; never use it on a production terminal"
        )?;
    }
    Ok(true)
}

pub fn cert_check(path: &Path, code: &str, password: &str, out: &mut dyn Write) -> Verdict {
    if let Err(e) = InstitutionCode::parse(code) {
        return Err(CommandError::Input(format!("--code: {e}")));
    }
    match cert::check_file(path, password, code, Utc::now()) {
        Ok(info) => {
            writeln!(
                out,
                "{}: valid — 発行先 {}, 発行者 {}, 有効期間 {} - {}",
                path.display(),
                info.institution_code,
                info.issuer,
                info.not_before.format("%Y/%m/%d"),
                info.not_after.format("%Y/%m/%d")
            )?;
            Ok(true)
        }
        Err(cert::CertError::Io { path, source }) => Err(CommandError::Read { path, source }),
        Err(e) => {
            writeln!(out, "{}: {e}", path.display())?;
            Ok(false)
        }
    }
}
