//! The bulk registration CSV as the simulator reads it, and the result file it
//! writes. The layout is the spec's assumption; the bot keeps its own copy.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::config::TextVariant;
use crate::model::{Account, Role};
use crate::wording;

pub const HEADER: [&str; 7] = [
    "権限区分",
    "ユーザID",
    "ユーザ名",
    "ユーザ名(カナ)",
    "パスワード",
    "利用開始年月日",
    "利用終了年月日",
];

/// Roles the bulk file may register.
const BULK_ROLES: [Role; 5] = [
    Role::FaceReader,
    Role::Renkei,
    Role::General,
    Role::MedicalView,
    Role::Admin,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum BulkStatus {
    Waiting,
    Processing,
    Completed,
    CompletedWithDuplicates,
    InputCheckError,
    FileStructureError,
    SystemError,
}

impl BulkStatus {
    pub fn text(self, variant: TextVariant) -> &'static str {
        let full = variant == TextVariant::FullWidth;
        match self {
            BulkStatus::Waiting => "登録待ち",
            BulkStatus::Processing => "登録中",
            BulkStatus::Completed => "登録完了",
            BulkStatus::CompletedWithDuplicates if full => "登録完了（一部ID重複あり）",
            BulkStatus::CompletedWithDuplicates => "登録完了(一部 ID 重複あり)",
            BulkStatus::InputCheckError if full => "登録失敗（入力チェックエラー）",
            BulkStatus::InputCheckError => "登録失敗(入力チェックエラー)",
            BulkStatus::FileStructureError if variant == TextVariant::ManualSample => {
                "登録失敗 (CSV形式エラー)"
            }
            BulkStatus::FileStructureError if full => "登録失敗（ファイル構造エラー）",
            BulkStatus::FileStructureError => "登録失敗(ファイル構造エラー)",
            BulkStatus::SystemError if full => "登録失敗（システムエラー）",
            BulkStatus::SystemError => "登録失敗(システムエラー)",
        }
    }

    pub fn is_final(self) -> bool {
        !matches!(self, BulkStatus::Waiting | BulkStatus::Processing)
    }

    /// Whether the 結果 column offers a result file.
    pub fn has_result_file(self) -> bool {
        matches!(
            self,
            BulkStatus::Completed | BulkStatus::CompletedWithDuplicates | BulkStatus::InputCheckError
        )
    }
}

#[derive(Debug, Clone)]
pub struct CheckedRow {
    pub fields: Vec<String>,
    pub errors: Vec<String>,
}

impl CheckedRow {
    pub fn user_id(&self) -> String {
        self.fields[1].clone()
    }

    pub fn to_account(&self, now: DateTime<Utc>, must_change: bool) -> Account {
        Account {
            user_id: self.fields[1].clone(),
            role: Role::parse(&self.fields[0]).unwrap_or(Role::General),
            name: self.fields[2].clone(),
            kana: self.fields[3].clone(),
            password: self.fields[4].clone(),
            previous: Vec::new(),
            must_change,
            locked: false,
            failed_logins: 0,
            enabled: true,
            start: parse_date(&self.fields[5]).unwrap_or_else(|| now.date_naive()),
            end: parse_date(&self.fields[6]),
            password_set_at: now,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Parsed {
    /// The file itself is malformed; the reason is for the event log.
    Structure(String),
    Rows(Vec<CheckedRow>),
}

#[derive(Debug, Clone)]
pub struct ResultRow {
    pub fields: Vec<String>,
    pub result: String,
    pub detail: String,
}

impl ResultRow {
    pub fn input_check(row: &CheckedRow) -> Self {
        if row.errors.is_empty() {
            Self::of(row, "未登録", "【入力チェックエラーなし:未登録】".to_string())
        } else {
            Self::of(
                row,
                "登録失敗",
                format!("【入力チェックエラー】{}", row.errors.join(" ")),
            )
        }
    }

    pub fn duplicate(row: &CheckedRow) -> Self {
        Self::of(
            row,
            "登録失敗",
            "【ID重複】このユーザIDは既に登録されています。".to_string(),
        )
    }

    pub fn registered(row: &CheckedRow) -> Self {
        Self::of(row, "登録成功", String::new())
    }

    fn of(row: &CheckedRow, result: &str, detail: String) -> Self {
        // The result file never repeats a password.
        let mut fields = row.fields.clone();
        fields[4] = String::new();
        Self {
            fields,
            result: result.to_string(),
            detail,
        }
    }
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    let t = text.trim();
    if t.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(t, "%Y/%m/%d").ok()
}

fn is_katakana(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| matches!(c, '\u{30A1}'..='\u{30F6}' | 'ー' | '・' | '　'))
}

/// Reads an uploaded file as the portal does: Shift-JIS only.
pub fn parse(bytes: &[u8]) -> Parsed {
    if bytes.is_empty() {
        return Parsed::Structure("empty file".into());
    }
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Parsed::Structure("UTF-8 byte order mark".into());
    }
    if !bytes.is_ascii() && std::str::from_utf8(bytes).is_ok() {
        return Parsed::Structure("UTF-8 text, not Shift-JIS".into());
    }
    let (text, _, had_errors) = encoding_rs::SHIFT_JIS.decode(bytes);
    if had_errors {
        return Parsed::Structure("bytes that are not Shift-JIS".into());
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\r' | '\n' | '\t'))
    {
        return Parsed::Structure("control characters: not a text file".into());
    }
    let records = match split_csv(&text) {
        Ok(r) => r,
        Err(e) => return Parsed::Structure(e),
    };
    let mut records = records.into_iter();
    match records.next() {
        Some(header) if header.iter().map(|s| s.trim()).eq(HEADER.iter().copied()) => {}
        _ => return Parsed::Structure("header does not match".into()),
    }
    let mut rows: Vec<CheckedRow> = Vec::new();
    for record in records {
        if record.len() != HEADER.len() {
            return Parsed::Structure(format!(
                "a row has {} columns, not {}",
                record.len(),
                HEADER.len()
            ));
        }
        let fields: Vec<String> = record.into_iter().map(|f| f.trim().to_string()).collect();
        let mut errors = check_row(&fields);
        if rows.iter().any(|r| r.fields[1] == fields[1]) {
            errors.push("ユーザID:ファイル内で重複しています。".to_string());
        }
        rows.push(CheckedRow { fields, errors });
    }
    if rows.is_empty() {
        return Parsed::Structure("no data rows".into());
    }
    Parsed::Rows(rows)
}

fn check_row(f: &[String]) -> Vec<String> {
    let mut errors = Vec::new();
    if !Role::parse(&f[0]).is_some_and(|r| BULK_ROLES.contains(&r)) {
        errors.push("権限区分:指定できない値です。".to_string());
    }
    let id_ok = (4..=20).contains(&f[1].len()) && f[1].bytes().all(|b| b.is_ascii_alphanumeric());
    if !id_ok {
        errors.push("ユーザID:半角英数字4文字以上20文字以下で入力してください。".to_string());
    }
    let name_len = f[2].chars().count();
    if name_len == 0 || name_len > 30 {
        errors.push("ユーザ名:1文字以上30文字以下で入力してください。".to_string());
    }
    if !is_katakana(&f[3]) {
        errors.push("ユーザ名(カナ):全角カタカナで入力してください。".to_string());
    }
    for reason in wording::violations(&f[4], &[]) {
        errors.push(format!("パスワード:{reason}"));
    }
    let start = parse_date(&f[5]);
    if start.is_none() {
        errors.push("利用開始年月日:yyyy/MM/dd形式の日付で入力してください。".to_string());
    }
    if !f[6].is_empty() {
        match parse_date(&f[6]) {
            None => errors.push("利用終了年月日:yyyy/MM/dd形式の日付で入力してください。".to_string()),
            Some(end) if start.is_some_and(|s| end < s) => {
                errors.push("利用終了年月日:利用開始年月日より前の日付は指定できません。".to_string())
            }
            Some(_) => {}
        }
    }
    errors
}

/// RFC 4180 records: quoted fields, doubled quotes, CRLF or LF line ends.
fn split_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut in_quotes = false;
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                other => field.push(other),
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                in_quotes = true;
                at_field_start = false;
            }
            '"' => return Err("a quote inside an unquoted field".into()),
            ',' => {
                record.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                at_field_start = true;
            }
            other => {
                field.push(other);
                at_field_start = false;
            }
        }
    }
    if in_quotes {
        return Err("an unterminated quoted field".into());
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records.retain(|r| !(r.len() == 1 && r[0].is_empty()));
    Ok(records)
}

/// The result file: the rows again with 登録結果 and エラー詳細, Shift-JIS, CRLF.
pub fn result_csv(rows: &[ResultRow]) -> Vec<u8> {
    let quote = |s: &str| {
        if s.contains([',', '"', '\r', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut text = HEADER.join(",");
    text.push_str(",登録結果,エラー詳細\r\n");
    for row in rows {
        let mut cells: Vec<String> = row.fields.iter().map(|f| quote(f)).collect();
        cells.push(quote(&row.result));
        cells.push(quote(&row.detail));
        text.push_str(&cells.join(","));
        text.push_str("\r\n");
    }
    // Every character here came from a Shift-JIS file or from this module.
    encoding_rs::SHIFT_JIS.encode(&text).0.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sjis(text: &str) -> Vec<u8> {
        encoding_rs::SHIFT_JIS.encode(text).0.into_owned()
    }

    const GOOD: &str = "権限区分,ユーザID,ユーザ名,ユーザ名(カナ),パスワード,利用開始年月日,利用終了年月日\r\n\
顔認証付きカードリーダー用,FOFACE01,顔認証アカウント,カオニンショウアカウント,OnsAdmin@00369,2026/11/25,\r\n\
連携アプリケーション用,R0RENK01,連携アカウント,レンケイアカウント,OnsAdmin@00369,2026/11/25,\r\n";

    #[test]
    fn a_good_file_parses() {
        let Parsed::Rows(rows) = parse(&sjis(GOOD)) else {
            panic!("structure error")
        };
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|r| r.errors.is_empty()), "{rows:?}");
    }

    #[test]
    fn utf8_with_japanese_is_a_structure_error() {
        assert!(matches!(parse(GOOD.as_bytes()), Parsed::Structure(_)));
    }

    #[test]
    fn wrong_header_or_binary_is_a_structure_error() {
        assert!(matches!(parse(&sjis("a,b,c\r\n1,2,3\r\n")), Parsed::Structure(_)));
        assert!(matches!(parse(b"\x89PNG\r\n\x1a\n\0\0\0"), Parsed::Structure(_)));
        assert!(matches!(
            parse(&sjis(&GOOD.replace(",2026/11/25,\r\n", ",2026/11/25\r\n"))),
            Parsed::Structure(_)
        ));
    }

    #[test]
    fn bad_rows_are_named() {
        let bad = GOOD
            .replace("カオニンショウアカウント", "かおにんしょう")
            .replace("2026/11/25,\r\n連携", "2026-11-25,\r\n連携");
        let Parsed::Rows(rows) = parse(&sjis(&bad)) else {
            panic!("structure error")
        };
        assert!(rows[0].errors.iter().any(|e| e.contains("カナ")));
        assert!(rows[0].errors.iter().any(|e| e.contains("利用開始年月日")));
        assert!(rows[1].errors.is_empty());
        let result = ResultRow::input_check(&rows[1]);
        assert_eq!(result.detail, "【入力チェックエラーなし:未登録】");
    }

    #[test]
    fn duplicate_ids_in_one_file_are_an_input_error() {
        let dup = GOOD.replace("R0RENK01", "FOFACE01");
        let Parsed::Rows(rows) = parse(&sjis(&dup)) else {
            panic!("structure error")
        };
        assert!(rows[1].errors.iter().any(|e| e.contains("重複")));
    }

    #[test]
    fn result_file_is_shift_jis_without_passwords() {
        let Parsed::Rows(rows) = parse(&sjis(GOOD)) else {
            panic!("structure error")
        };
        let out = result_csv(&rows.iter().map(ResultRow::registered).collect::<Vec<_>>());
        let (text, _, errors) = encoding_rs::SHIFT_JIS.decode(&out);
        assert!(!errors);
        assert!(text.starts_with("権限区分,ユーザID"));
        assert!(text.contains("登録結果,エラー詳細\r\n"));
        assert!(!text.contains("OnsAdmin@00369"));
    }

    #[test]
    fn quoted_fields() {
        let recs = split_csv("a,\"b,c\",\"d\"\"e\"\r\n").expect("valid csv");
        assert_eq!(
            recs,
            vec![vec!["a".to_string(), "b,c".to_string(), "d\"e".to_string()]]
        );
    }
}
