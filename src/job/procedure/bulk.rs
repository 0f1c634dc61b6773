//! The bulk registration: upload the Shift-JIS file once, wait for its 登録状況,
//! and find an upload a killed run made on アカウント一括登録結果.

use chrono::{DateTime, Utc};

use super::portal::Portal;
use super::{Prepared, Procedure};
use crate::bulk_csv::{self, Layout};
use crate::job::journal::{Action, Progress};
use crate::job::outcome::RunError;

/// What the bulk registration did.
#[derive(Default)]
pub(super) struct BulkOutcome {
    /// This run or an earlier one uploaded the file, and the portal registered it.
    pub(super) uploaded: bool,
    /// Accounts that existed before the upload: the portal left them as they were.
    pub(super) duplicates: Vec<String>,
}

/// When a 受付番号 (`yyyyMMddHHmmssSSS_<uploader>`, Japan time) was received.
fn receipt_time(receipt: &str) -> Option<DateTime<Utc>> {
    let stamp = receipt.split('_').next()?;
    let naive = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%d%H%M%S%3f").ok()?;
    naive
        .and_local_timezone(chrono_tz::Asia::Tokyo)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

impl<P: Portal> Procedure<'_, P> {
    /// Uploads the bulk file unless its accounts exist, and waits for its 登録状況.
    pub(super) async fn bulk(&mut self, p: &Prepared) -> Result<BulkOutcome, RunError> {
        self.read_accounts("アカウント一覧の確認 (管理アカウント)")
            .await?;
        let earlier = match self.journal.progress(&Action::Upload) {
            Progress::Done {
                detail: Some(receipt),
                ..
            } => Some(receipt),
            Progress::Unknown { since } => self.adopt_interrupted_upload(since).await?,
            _ => None,
        };
        // Accounts listed before this run uploads keep their own passwords: the portal skips them.
        let mut existing = Vec::new();
        let receipt = match earlier {
            Some(receipt) => receipt,
            None if p.bulk_ids.iter().all(|id| self.listed(id)) => {
                self.note(
                    "顔認証アカウント・連携アカウント",
                    "登録済み。一括登録は行いません",
                );
                return Ok(BulkOutcome::default());
            }
            None => {
                existing.extend(p.bulk_ids.iter().filter(|id| self.listed(id)).cloned());
                self.upload(p).await?
            }
        };
        let read = self
            .task("アカウント一括登録結果の確認", async |portal| {
                portal.bulk_status(&receipt).await
            })
            .await?;
        let status = read.status;
        let mut bulk = crate::job::report::ReportBulk {
            receipt: receipt.clone(),
            status: status.clone(),
            processed: read.processed,
            rows: Vec::new(),
        };
        let mut duplicates = existing;
        if let Some(path) = &read.result_file
            && let Ok(bytes) = std::fs::read(path)
            && let Ok(rows) = bulk_csv::read_result(Layout::builtin(), &bytes)
        {
            bulk.rows = rows
                .iter()
                .map(|r| format!("{} {}: {} {}", r.user_id, r.name, r.result, r.detail))
                .collect();
            for r in &rows {
                if r.detail.contains("重複") && !duplicates.contains(&r.user_id) {
                    duplicates.push(r.user_id.clone());
                }
            }
        }
        self.report.bulk = Some(bulk.clone());
        let normalized = crate::portal::text::normalize(&status);
        if normalized == "登録完了" {
            self.note("アカウント一括登録結果", &status);
            return Ok(BulkOutcome {
                uploaded: true,
                duplicates: Vec::new(),
            });
        }
        if normalized == "登録完了(一部ID重複あり)" {
            self.note(
                "アカウント一括登録結果",
                &format!(
                    "{status}: {} は登録済みだったため、以前のパスワードのままです",
                    duplicates.join("、")
                ),
            );
            return Ok(BulkOutcome {
                uploaded: true,
                duplicates,
            });
        }
        if !normalized.starts_with("登録失敗") {
            // Not a failure the manual lists: some rows may be registered. The
            // upload stays done, so a rerun reads this status again instead of uploading.
            return Err(RunError::NeedsPerson(format!(
                "アカウント一括登録 ended in 「{status}」, a status oqsbot does not know. Look at アカウント一括登録結果 and its result file, and at アカウント管理(更新), before running the same job again (it does not upload again). {}",
                bulk.rows.join("; ")
            )));
        }
        // A failed upload may be made again once the cause is fixed.
        self.journal
            .failed(&Action::Upload, Some(&format!("{receipt} {status}")))?;
        let what = if normalized.contains("システムエラー") {
            "the portal failed on its side; run the job again later (nothing was registered)"
        } else if normalized.contains("入力チェックエラー") {
            "the portal refused a row, so no row was registered; fix the row named below (the layout is in data/bulk_csv.toml, `--layout` takes a corrected copy) and run the job again"
        } else {
            "nothing was registered; look at the result file"
        };
        Err(RunError::Refused(format!(
            "アカウント一括登録 ended in 「{status}」: {what}. {}",
            bulk.rows.join("; ")
        )))
    }

    /// An upload a killed run began: its 受付番号 if the portal got it, journaled either way.
    async fn adopt_interrupted_upload(&mut self, since: DateTime<Utc>) -> Result<Option<String>, RunError> {
        let found = self.find_upload(since).await?;
        match &found {
            Some(receipt) => {
                self.journal.done(&Action::Upload, Some(receipt))?;
                self.note(
                    "アカウント一括登録",
                    &format!("前回の実行が中断したアップロードを確認しました (受付番号 {receipt})"),
                );
            }
            None => {
                self.journal
                    .failed(&Action::Upload, Some("not on アカウント一括登録結果"))?;
                self.note(
                    "アカウント一括登録",
                    "前回の実行が中断したアップロードはポータルに届いていません",
                );
            }
        }
        Ok(found)
    }

    /// Uploads the bulk file, a minute after the last upload; returns the 受付番号.
    async fn upload(&mut self, p: &Prepared) -> Result<String, RunError> {
        if let Some(next) = self.journal.next_upload_allowed(chrono::Duration::seconds(60)) {
            let wait = (next - Utc::now()).to_std().unwrap_or_default();
            if !wait.is_zero() {
                self.note(
                    "アカウント一括登録",
                    &format!(
                        "前回のアップロードから1分空けるため {} 秒待ちます",
                        wait.as_secs()
                    ),
                );
                // The portal's own rule: one minute between uploads.
                tokio::time::sleep(wait).await;
            }
        }
        self.journal.intend(&Action::Upload, None)?;
        let receipt = self
            .task("アカウント一括登録 (補足① 3-②)", async |portal| {
                portal.upload(&p.csv).await
            })
            .await?;
        self.journal.done(&Action::Upload, Some(&receipt))?;
        Ok(receipt)
    }

    /// The 受付番号 of an upload this admin made since `since`, as アカウント一括登録結果 lists it.
    async fn find_upload(&mut self, since: DateTime<Utc>) -> Result<Option<String>, RunError> {
        let receipts = self
            .task(
                "中断したアップロードの確認 (アカウント一括登録結果)",
                async |portal| portal.uploads().await,
            )
            .await?;
        let suffix = format!("_{}", self.job.admin.user_id);
        // The portal's clock is not ours: allow it to be a little behind.
        let earliest = since - chrono::Duration::seconds(30);
        Ok(receipts
            .into_iter()
            .filter(|receipt| receipt.ends_with(&suffix))
            .filter(|receipt| receipt_time(receipt).is_some_and(|t| t >= earliest))
            .max_by_key(|receipt| receipt_time(receipt)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receipt_carries_its_time_in_japan_time() {
        let t = receipt_time("20210820144356683_H0000364").expect("the manual's receipt");
        assert_eq!(t.to_rfc3339(), "2021-08-20T05:43:56.683+00:00");
        assert_eq!(receipt_time("受付番号"), None);
        assert_eq!(receipt_time("2021082014_OnsKANRI"), None);
    }
}
