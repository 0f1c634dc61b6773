//! The bulk registration CSV (アカウント一括登録用ファイル): build it, check it,
//! encode it to Shift-JIS, and read the portal's result file. The layout lives
//! in `data/bulk_csv.toml`, not here.

use std::collections::HashSet;
use std::path::Path;
use std::sync::OnceLock;

use chrono::NaiveDate;
use encoding_rs::{EncoderResult, SHIFT_JIS};
use serde::{Deserialize, Serialize};

use crate::portal::PasswordPolicy;

const BUILTIN_LAYOUT: &str = include_str!("../data/bulk_csv.toml");

#[derive(Debug, thiserror::Error)]
pub enum BulkCsvError {
    #[error("bulk CSV layout {origin}: {reason}")]
    Layout { origin: String, reason: String },
    #[error(
        "line {line}, column {column}: {ch:?} (U+{code:04X}) has no Shift-JIS form, and the portal reads Shift-JIS only; write it another way (e.g. a common kanji or katakana)",
        code = u32::from(*ch)
    )]
    NoShiftJis { line: usize, column: String, ch: char },
    #[error("{0}")]
    Decode(String),
    #[error("the result file's header is not {expected}")]
    ResultHeader { expected: String },
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    pub key: String,
    pub header: String,
    #[serde(default)]
    pub optional: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultAccount {
    pub role: String,
    pub user_id: String,
    #[serde(default)]
    pub pharmacy_user_id: Option<String>,
    pub name: String,
    pub kana: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layout {
    pub encoding: String,
    pub line_ending: String,
    pub date_format: String,
    pub columns: Vec<Column>,
    pub result_columns: Vec<String>,
    pub roles: Vec<String>,
    pub user_id_min: usize,
    pub user_id_max: usize,
    pub name_max: usize,
    pub accounts: Vec<DefaultAccount>,
}

const KEYS: [&str; 7] = ["role", "user_id", "name", "kana", "password", "start", "end"];

impl Layout {
    pub fn builtin() -> &'static Layout {
        static LAYOUT: OnceLock<Layout> = OnceLock::new();
        // The built-in file is part of the binary and checked by tests.
        LAYOUT.get_or_init(|| Layout::parse(BUILTIN_LAYOUT, "built-in").unwrap_or_else(|e| panic!("{e}")))
    }

    pub fn load(path: &Path) -> Result<Layout, BulkCsvError> {
        let text = std::fs::read_to_string(path).map_err(|source| BulkCsvError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Layout::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, origin: &str) -> Result<Layout, BulkCsvError> {
        let err = |reason: String| BulkCsvError::Layout {
            origin: origin.to_string(),
            reason,
        };
        let layout: Layout = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        if !layout.encoding.eq_ignore_ascii_case("Shift_JIS") {
            return Err(err(format!(
                "encoding {:?}: only Shift_JIS is supported",
                layout.encoding
            )));
        }
        for key in KEYS {
            if !layout.columns.iter().any(|c| c.key == key) {
                return Err(err(format!("no column with key {key:?}")));
            }
        }
        if let Some(c) = layout.columns.iter().find(|c| !KEYS.contains(&c.key.as_str())) {
            return Err(err(format!(
                "unknown column key {:?}; keys are {}",
                c.key,
                KEYS.join(", ")
            )));
        }
        Ok(layout)
    }

    fn index(&self, key: &str) -> usize {
        // Every key was checked in parse.
        self.columns.iter().position(|c| c.key == key).unwrap_or(0)
    }

    pub fn header(&self, key: &str) -> &str {
        &self.columns[self.index(key)].header
    }
}

/// Which 連携 account the terminal uses: OQS_LOGIN_KEY R0RENK01 (医科歯科) or R1RENK01 (薬局).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TerminalKind {
    #[serde(rename = "医科歯科")]
    MedicalDental,
    #[serde(rename = "薬局")]
    Pharmacy,
}

impl TerminalKind {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "医科歯科" | "医科" | "歯科" => Some(TerminalKind::MedicalDental),
            "薬局" => Some(TerminalKind::Pharmacy),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TerminalKind::MedicalDental => "医科歯科",
            TerminalKind::Pharmacy => "薬局",
        }
    }
}

impl From<crate::portal::Kind> for TerminalKind {
    fn from(kind: crate::portal::Kind) -> Self {
        if kind.is_pharmacy() {
            TerminalKind::Pharmacy
        } else {
            TerminalKind::MedicalDental
        }
    }
}

/// One account row. The password is only ever written into the file itself.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountRow {
    pub role: String,
    pub user_id: String,
    pub name: String,
    pub kana: String,
    pub password: String,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
}

impl std::fmt::Debug for AccountRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountRow")
            .field("role", &self.role)
            .field("user_id", &self.user_id)
            .field("name", &self.name)
            .field("kana", &self.kana)
            .field("password", &"********")
            .field("start", &self.start)
            .field("end", &self.end)
            .finish()
    }
}

/// 権限区分 of the face-recognition card reader's account, as the manual names it.
pub const FACE_ROLE: &str = "顔認証付きカードリーダー用";
/// 権限区分 of the 連携 account (OQS_LOGIN_KEY).
pub const LINK_ROLE: &str = "連携アプリケーション用";

impl Layout {
    /// The ID the layout registers for `role` on this kind of terminal.
    pub fn account_id(&self, role: &str, kind: TerminalKind) -> Option<&str> {
        let account = self.accounts.iter().find(|a| a.role == role)?;
        Some(match (kind, &account.pharmacy_user_id) {
            (TerminalKind::Pharmacy, Some(id)) => id,
            _ => &account.user_id,
        })
    }

    /// The 連携 account's ID with its kind of terminal, as the report and `code check` name it.
    pub fn link_account_label(&self, kind: TerminalKind) -> String {
        format!(
            "{} ({})",
            self.account_id(LINK_ROLE, kind).unwrap_or("?"),
            kind.label()
        )
    }
}

/// The face account and the 連携 account for this kind of terminal, as the layout names them.
pub fn default_accounts(
    layout: &Layout,
    kind: TerminalKind,
    password: &str,
    start: NaiveDate,
) -> Vec<AccountRow> {
    layout
        .accounts
        .iter()
        .map(|a| AccountRow {
            role: a.role.clone(),
            user_id: match (kind, &a.pharmacy_user_id) {
                (TerminalKind::Pharmacy, Some(id)) => id.clone(),
                _ => a.user_id.clone(),
            },
            name: a.name.clone(),
            kana: a.kana.clone(),
            password: password.to_string(),
            start,
            end: None,
        })
        .collect()
}

fn quote(field: &str) -> String {
    if field.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// The file's bytes: header and rows in Shift-JIS. A character with no
/// Shift-JIS form is refused, never written as `&#NNNN;`.
pub fn encode(layout: &Layout, rows: &[AccountRow]) -> Result<Vec<u8>, BulkCsvError> {
    let mut out = Vec::new();
    let mut encoder = SHIFT_JIS.new_encoder();
    let mut put = |text: &str, line: usize, column: &str, out: &mut Vec<u8>| -> Result<(), BulkCsvError> {
        let mut buf = Vec::with_capacity(text.len() * 2 + 8);
        let (result, _) = encoder.encode_from_utf8_to_vec_without_replacement(text, &mut buf, false);
        if let EncoderResult::Unmappable(ch) = result {
            return Err(BulkCsvError::NoShiftJis {
                line,
                column: column.to_string(),
                ch,
            });
        }
        out.extend_from_slice(&buf);
        Ok(())
    };
    let header: Vec<String> = layout.columns.iter().map(|c| quote(&c.header)).collect();
    put(&header.join(","), 1, "header", &mut out)?;
    put(&layout.line_ending, 1, "header", &mut out)?;
    for (i, row) in rows.iter().enumerate() {
        let line = i + 2;
        for (j, column) in layout.columns.iter().enumerate() {
            if j > 0 {
                put(",", line, &column.header, &mut out)?;
            }
            let value = field_value(layout, row, &column.key);
            put(&quote(&value), line, &column.header, &mut out)?;
        }
        put(&layout.line_ending, line, "line end", &mut out)?;
    }
    Ok(out)
}

fn field_value(layout: &Layout, row: &AccountRow, key: &str) -> String {
    match key {
        "role" => row.role.clone(),
        "user_id" => row.user_id.clone(),
        "name" => row.name.clone(),
        "kana" => row.kana.clone(),
        "password" => row.password.clone(),
        "start" => row.start.format(&layout.date_format).to_string(),
        "end" => row
            .end
            .map(|d| d.format(&layout.date_format).to_string())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// One thing wrong with a file, where it is, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// 1-based line in the file; the header is line 1. 0: the file as a whole.
    pub line: usize,
    pub column: Option<String>,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, &self.column) {
            (0, _) => write!(f, "{}", self.message),
            (l, Some(c)) => write!(f, "line {l}, column {c}: {}", self.message),
            (l, None) => write!(f, "line {l}: {}", self.message),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckReport {
    pub rows: usize,
    pub problems: Vec<Problem>,
}

impl CheckReport {
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Decodes Shift-JIS as the portal does, refusing UTF-8 and broken bytes.
pub fn decode_shift_jis(bytes: &[u8]) -> Result<String, String> {
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Err("the file starts with a UTF-8 byte-order mark: the portal takes Shift-JIS only; save it as Shift-JIS (ANSI on a Japanese Windows)".into());
    }
    if !bytes.is_ascii() && std::str::from_utf8(bytes).is_ok() {
        return Err("the file is UTF-8 text: the portal takes Shift-JIS only; save it as Shift-JIS (ANSI on a Japanese Windows)".into());
    }
    let (text, _, had_errors) = SHIFT_JIS.decode(bytes);
    if had_errors {
        let mut decoder = SHIFT_JIS.new_decoder_without_bom_handling();
        let mut out = String::with_capacity(bytes.len() * 2);
        let (_, read) = decoder.decode_to_string_without_replacement(bytes, &mut out, true);
        let line = bytes[..read.min(bytes.len())]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        return Err(format!(
            "line {line}: bytes that are not Shift-JIS (the file may be in another encoding, or not text)"
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\r' | '\n' | '\t'))
    {
        return Err("the file holds control characters: it is not a CSV text file".into());
    }
    Ok(text.into_owned())
}

fn is_full_width_katakana(text: &str) -> bool {
    text.chars()
        .all(|c| matches!(c, '\u{30A1}'..='\u{30F6}' | 'ー' | '・' | '　'))
}

fn parse_date(layout: &Layout, text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), &layout.date_format)
        .ok()
        .filter(|d| {
            // yyyy/MM/dd with both digits: 2026/1/5 is refused as the portal expects zero-padding.
            d.format(&layout.date_format).to_string() == text.trim()
        })
}

fn records(text: &str) -> Result<Vec<(usize, Vec<String>)>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    // Newlines are counted on from the previous record, not from the start of
    // the file: recounting made a file of many short lines quadratic (fuzzing:
    // 100 KB of "a\n" took a minute).
    let (mut counted_to, mut line) = (0, 1);
    for record in reader.records() {
        let record = record.map_err(|e| format!("not readable as CSV: {e}"))?;
        // Lines from the byte offset (a quoted field may span lines). After a CRLF
        // the reader places the next record at the LF, so count through it.
        let offset = record
            .position()
            .map(|p| p.byte() as usize + 1)
            .unwrap_or(0)
            .clamp(counted_to, text.len());
        line += text.as_bytes()[counted_to..offset]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        counted_to = offset;
        out.push((line, record.iter().map(str::to_string).collect()));
    }
    Ok(out)
}

/// Checks a file as the portal will, reporting every problem by line and column.
pub fn check(layout: &Layout, bytes: &[u8]) -> CheckReport {
    let mut report = CheckReport::default();
    let whole = |message: String| Problem {
        line: 0,
        column: None,
        message,
    };
    let text = match decode_shift_jis(bytes) {
        Ok(t) => t,
        Err(e) => {
            report.problems.push(whole(e));
            return report;
        }
    };
    let records = match records(&text) {
        Ok(r) => r,
        Err(e) => {
            report.problems.push(whole(e));
            return report;
        }
    };
    let expected: Vec<&str> = layout.columns.iter().map(|c| c.header.as_str()).collect();
    let Some((_, header)) = records.first() else {
        report.problems.push(whole("the file is empty".into()));
        return report;
    };
    if header.iter().map(|h| h.trim()).ne(expected.iter().copied()) {
        report.problems.push(Problem {
            line: 1,
            column: None,
            message: format!("the header must be exactly {}", expected.join(",")),
        });
        return report;
    }
    let mut seen = HashSet::new();
    for (line, fields) in records.iter().skip(1) {
        let line = *line;
        report.rows += 1;
        let mut problem = |key: &str, message: String| {
            report.problems.push(Problem {
                line,
                column: Some(layout.header(key).to_string()),
                message,
            })
        };
        if fields.len() != layout.columns.len() {
            report.problems.push(Problem {
                line,
                column: None,
                message: format!(
                    "{} columns; every row needs {}",
                    fields.len(),
                    layout.columns.len()
                ),
            });
            continue;
        }
        let get = |key: &str| fields[layout.index(key)].trim().to_string();
        let role = get("role");
        if !layout.roles.contains(&role) {
            problem(
                "role",
                format!("{role:?} is not one of {}", layout.roles.join(", ")),
            );
        }
        let user_id = get("user_id");
        let id_ok = (layout.user_id_min..=layout.user_id_max).contains(&user_id.len())
            && user_id.bytes().all(|b| b.is_ascii_alphanumeric());
        if !id_ok {
            problem(
                "user_id",
                format!(
                    "{user_id:?}: use {} to {} half-width letters and digits",
                    layout.user_id_min, layout.user_id_max
                ),
            );
        } else if !seen.insert(user_id.clone()) {
            problem("user_id", format!("{user_id} appears twice in the file"));
        }
        let name = get("name");
        let name_len = name.chars().count();
        if name_len == 0 || name_len > layout.name_max {
            problem("name", format!("must be 1 to {} characters", layout.name_max));
        }
        let kana = get("kana");
        if kana.is_empty() {
            problem("kana", "is empty; write the name in full-width katakana".into());
        } else if !is_full_width_katakana(&kana) {
            problem(
                "kana",
                format!("{kana:?} must be full-width katakana (全角カタカナ), e.g. カンリアカウント"),
            );
        }
        for v in PasswordPolicy::check(&fields[layout.index("password")], &[]) {
            problem("password", format!("the portal will refuse it: {v}"));
        }
        let start_text = get("start");
        let start = parse_date(layout, &start_text);
        if start.is_none() {
            problem("start", format!("{start_text:?} is not a date like 2026/11/25"));
        }
        let end_text = get("end");
        if !end_text.is_empty() {
            match parse_date(layout, &end_text) {
                None => problem(
                    "end",
                    format!("{end_text:?} is not a date like 2026/11/25 (or leave it empty)"),
                ),
                Some(end) if start.is_some_and(|s| end < s) => {
                    problem("end", format!("{end_text} is before the start date {start_text}"))
                }
                Some(_) => {}
            }
        }
    }
    if report.rows == 0 && report.problems.is_empty() {
        report
            .problems
            .push(whole("the file has a header but no account rows".into()));
    }
    report
}

/// How the portal says one row went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RowOutcome {
    Registered,
    /// The row was fine, but another row's input error kept the whole file out.
    NotRegisteredNoError,
    Failed,
}

/// One row of the portal's result file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResultRow {
    pub line: usize,
    pub role: String,
    pub user_id: String,
    pub name: String,
    pub result: String,
    pub detail: String,
    pub outcome: RowOutcome,
}

/// Reads the Shift-JIS result file of アカウント一括登録結果.
pub fn read_result(layout: &Layout, bytes: &[u8]) -> Result<Vec<ResultRow>, BulkCsvError> {
    let text = decode_shift_jis(bytes).map_err(BulkCsvError::Decode)?;
    let records = records(&text).map_err(BulkCsvError::Decode)?;
    let mut expected: Vec<&str> = layout.columns.iter().map(|c| c.header.as_str()).collect();
    expected.extend(layout.result_columns.iter().map(String::as_str));
    let header_ok = records
        .first()
        .is_some_and(|(_, h)| h.iter().map(|s| s.trim()).eq(expected.iter().copied()));
    if !header_ok {
        return Err(BulkCsvError::ResultHeader {
            expected: expected.join(","),
        });
    }
    let n = layout.columns.len();
    Ok(records
        .iter()
        .skip(1)
        .map(|(line, f)| {
            let get = |i: usize| f.get(i).map(|s| s.trim().to_string()).unwrap_or_default();
            let result = get(n);
            let detail = get(n + 1);
            let outcome = if detail.contains("入力チェックエラーなし") {
                RowOutcome::NotRegisteredNoError
            } else if detail.is_empty() && !result.contains("失敗") {
                RowOutcome::Registered
            } else {
                RowOutcome::Failed
            };
            ResultRow {
                line: *line,
                role: get(layout.index("role")),
                user_id: get(layout.index("user_id")),
                name: get(layout.index("name")),
                result,
                detail,
                outcome,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn start() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).expect("date")
    }

    fn build(kind: TerminalKind) -> Vec<u8> {
        let layout = Layout::builtin();
        encode(layout, &default_accounts(layout, kind, "OnsAdmin@00369", start())).expect("encodes")
    }

    #[test]
    fn builds_the_manuals_file() {
        let bytes = build(TerminalKind::MedicalDental);
        let text = decode_shift_jis(&bytes).expect("Shift-JIS");
        assert_eq!(
            text,
            "権限区分,ユーザID,ユーザ名,ユーザ名(カナ),パスワード,利用開始年月日,利用終了年月日\r\n\
             顔認証付きカードリーダー用,FOFACE01,顔認証アカウント,カオニンショウアカウント,OnsAdmin@00369,2026/11/25,\r\n\
             連携アプリケーション用,R0RENK01,連携アカウント,レンケイアカウント,OnsAdmin@00369,2026/11/25,\r\n"
        );
        assert!(std::str::from_utf8(&bytes).is_err(), "not UTF-8");
        assert!(check(Layout::builtin(), &bytes).is_valid());
        let pharmacy = decode_shift_jis(&build(TerminalKind::Pharmacy)).expect("Shift-JIS");
        assert!(pharmacy.contains(",R1RENK01,") && !pharmacy.contains("R0RENK01"));
    }

    #[test]
    fn a_character_without_shift_jis_is_named_with_its_line() {
        let layout = Layout::builtin();
        let mut rows = default_accounts(layout, TerminalKind::MedicalDental, "OnsAdmin@00369", start());
        rows[1].name = "連携🙂".into();
        let err = encode(layout, &rows).unwrap_err();
        assert!(
            matches!(
                err,
                BulkCsvError::NoShiftJis {
                    line: 3,
                    ch: '🙂',
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("ユーザ名"));
        rows[1].name = "髙橋".into(); // 髙 is in CP932 (windows-31j)
        assert!(encode(layout, &rows).is_ok());
    }

    #[test]
    fn problems_name_line_and_column() {
        let layout = Layout::builtin();
        let text = "権限区分,ユーザID,ユーザ名,ユーザ名(カナ),パスワード,利用開始年月日,利用終了年月日\r\n\
                    顔認証付きカードリーダー用,FOFACE01,顔認証アカウント,かおにんしょう,OnsAdmin@00369,2026-11-25,\r\n\
                    連携,FOFACE01,,ﾚﾝｹｲ,short,2026/11/25,2026/11/01\r\n";
        let bytes = SHIFT_JIS.encode(text).0.into_owned();
        let report = check(layout, &bytes);
        let at = |line: usize, col: &str| {
            report
                .problems
                .iter()
                .any(|p| p.line == line && p.column.as_deref() == Some(col))
        };
        assert!(at(2, "ユーザ名(カナ)") && at(2, "利用開始年月日"), "{report:?}");
        assert!(at(3, "権限区分") && at(3, "ユーザID") && at(3, "ユーザ名") && at(3, "ユーザ名(カナ)"));
        assert!(at(3, "パスワード") && at(3, "利用終了年月日"));
        assert!(
            !report.problems.iter().any(|p| p.message.contains("short")),
            "passwords are never echoed"
        );
    }

    #[test]
    fn encodings_and_headers_are_checked() {
        let layout = Layout::builtin();
        let utf8 = decode_shift_jis(&build(TerminalKind::MedicalDental))
            .expect("text")
            .into_bytes();
        assert!(check(layout, &utf8).problems[0].message.contains("UTF-8"));
        let bad = SHIFT_JIS.encode("a,b\r\n1,2\r\n").0.into_owned();
        assert!(check(layout, &bad).problems[0].message.contains("header"));
        assert!(!check(layout, b"\x89PNG\r\n\x1a\n\0\0").is_valid());
    }

    #[test]
    fn reads_a_result_file() {
        let layout = Layout::builtin();
        let text = "権限区分,ユーザID,ユーザ名,ユーザ名(カナ),パスワード,利用開始年月日,利用終了年月日,登録結果,エラー詳細\r\n\
                    顔認証付きカードリーダー用,FOFACE01,顔認証アカウント,カオニンショウアカウント,,2026/11/25,,未登録,【入力チェックエラーなし:未登録】\r\n\
                    連携アプリケーション用,R0RENK01,連携アカウント,れんけい,,2026/11/25,,登録失敗,【入力チェックエラー】ユーザ名(カナ):全角カタカナで入力してください。\r\n";
        let rows = read_result(layout, &SHIFT_JIS.encode(text).0).expect("reads");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].outcome, RowOutcome::NotRegisteredNoError);
        assert_eq!(rows[1].outcome, RowOutcome::Failed);
        assert!(rows[1].detail.contains("全角カタカナ"));
        assert!(read_result(layout, &SHIFT_JIS.encode("a,b\r\n").0).is_err());
    }

    #[test]
    fn the_builtin_layout_parses_and_a_broken_one_is_refused() {
        assert_eq!(Layout::builtin().columns.len(), 7);
        let broken = BUILTIN_LAYOUT.replace("key = \"kana\"", "key = \"katakana\"");
        let err = Layout::parse(&broken, "test").unwrap_err().to_string();
        assert!(err.contains("kana"), "{err}");
    }

    proptest! {
        #[test]
        fn build_then_check_round_trips(
            name in "[一-龠ぁ-んァ-ヶ]{1,30}",
            kana in "[ァ-ヶー]{1,20}",
            id in "[A-Za-z0-9]{4,20}",
            days in 0i64..3650,
        ) {
            let layout = Layout::builtin();
            let password = PasswordPolicy::generate(13).expect("password");
            let row = AccountRow {
                role: "一般".into(), user_id: id, name, kana, password,
                start: start() + chrono::Duration::days(days), end: None,
            };
            // Some generated kanji may lack a Shift-JIS form: that is a refusal, not a panic.
            if let Ok(bytes) = encode(layout, std::slice::from_ref(&row)) {
                let report = check(layout, &bytes);
                prop_assert!(report.is_valid(), "{:?}", report);
                prop_assert_eq!(report.rows, 1);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = check(Layout::builtin(), &bytes);
            let _ = read_result(Layout::builtin(), &bytes);
        }
    }
}
