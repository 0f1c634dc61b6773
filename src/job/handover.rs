//! What the technician hands over (工事手順: the accounts and the certificate
//! backup): a printable sheet of each account's ID and password and the
//! certificate password, and one password at a time for step ⑩'s 管理コンソール.
//! Both read the job's credential store and nothing else.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::Utc;

use super::JobFile;
use super::report::{esc, jst, origin_ja, role_of};
use super::store::{CredentialStore, StoreError};
use crate::secret::Secret;

/// The sheet's file name in the output folder, unless another is given.
pub const SHEET_FILE: &str = "hand-over.html";

#[derive(Debug, thiserror::Error)]
pub enum HandOverError {
    #[error(
        "{0} holds no credential store yet: run the job first (oqsbot run), and give this command the same job file"
    )]
    NoStore(PathBuf),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the store has no password for {user}; it has: {known}")]
    Unknown { user: String, known: String },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

fn store_of(job: &JobFile) -> Result<CredentialStore, HandOverError> {
    // Opening would make an empty store; a job never run has nothing to hand over.
    if !job.output.dir.join(super::store::FILE_NAME).is_file() {
        return Err(HandOverError::NoStore(job.output.dir.clone()));
    }
    Ok(CredentialStore::open(&job.output.dir)?)
}

/// One account's current password.
pub fn password_of(job: &JobFile, user_id: &str) -> Result<Secret, HandOverError> {
    let store = store_of(job)?;
    store
        .password(user_id)
        .map(|(password, _)| password)
        .ok_or_else(|| HandOverError::Unknown {
            user: user_id.to_string(),
            known: store
                .accounts()
                .into_iter()
                .map(|(id, _)| id)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Writes the sheet, owner-only, to `path` (by default `hand-over.html` in the output folder).
pub fn write_sheet(job: &JobFile, path: Option<&Path>) -> Result<PathBuf, HandOverError> {
    let store = store_of(job)?;
    let path = path
        .map(Path::to_path_buf)
        .unwrap_or_else(|| job.output.dir.join(SHEET_FILE));
    let page = sheet(job, &store);
    crate::owner_only::create_file(&path)
        .and_then(|mut f| {
            f.write_all(page.as_bytes())?;
            f.sync_all()
        })
        .map_err(|source| HandOverError::Write {
            path: path.clone(),
            source,
        })?;
    Ok(path)
}

fn sheet(job: &JobFile, store: &CredentialStore) -> String {
    let mut rows = String::new();
    for (id, origin) in store.accounts() {
        let Some((password, _)) = store.password(&id) else {
            continue;
        };
        rows.push_str(&format!(
            "<tr><td>{}</td><td class=\"id\">{}</td><td class=\"secret\">{}</td><td>{}</td></tr>\n",
            esc(role_of(job, &id)),
            esc(&id),
            esc(password.expose()),
            esc(origin_ja(origin)),
        ));
    }
    let certificate = match store.secret("cert_password") {
        Some(p) => format!(
            "<h2>電子証明書</h2>\n<table><tr><th>証明書パスワード (PFXのインストールで入力)</th><td class=\"secret\">{}</td></tr></table>\n",
            esc(p.expose())
        ),
        None => String::new(),
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"ja\"><head><meta charset=\"utf-8\"><title>アカウント引き渡し票 {code}</title>\n\
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin-bottom:1.5em}}td,th{{border:1px solid #555;padding:.4em .8em;text-align:left}}\
td.secret,td.id{{font-family:monospace;font-size:120%;letter-spacing:.05em}}p.warn{{border:2px solid #a00;padding:.5em;color:#a00;font-weight:bold}}</style></head>\n\
<body><h1>アカウント引き渡し票</h1>\n<p class=\"warn\">機密情報です。印刷してお客様にお渡ししたら、このファイルは削除してください。</p>\n\
<p>医療機関等コード {code} ・ {name} ・ {when} 作成</p>\n\
<h2>オンライン資格確認等システムのアカウント</h2>\n<table><tr><th>区分</th><th>ユーザID</th><th>パスワード</th><th>パスワードの由来</th></tr>\n{rows}</table>\n\
{certificate}<p>電子証明書のバックアップ (.p12) は、別途お客様のUSBメモリ等に保管していただいてください。</p>\n</body></html>\n",
        code = esc(&job.institution.code),
        name = esc(&job.institution.name),
        when = jst(Utc::now()),
    )
}
