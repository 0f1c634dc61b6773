//! The run's report: `report.json`, and `report.html` in Japanese for the
//! technician at the customer's site, ending with the Windows steps that remain.
//! Passwords are masked; they are only in the credential store.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::JobFile;
use super::outcome::RunError;
use super::store::{CredentialStore, Origin};
use crate::bulk_csv::{FACE_ROLE, LINK_ROLE, Layout, TerminalKind};
use crate::secret::Redactor;

#[derive(Debug, Clone, Serialize)]
pub struct ReportStep {
    pub at: DateTime<Utc>,
    pub what: String,
    pub result: String,
    pub millis: u128,
    /// The WebDriver commands a flow step sent, and the time their answers took.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webdriver: Option<WebDriverUse>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct WebDriverUse {
    pub commands: u64,
    pub millis: u128,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReportAccount {
    pub user_id: String,
    pub role: String,
    pub password: String,
    pub origin: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReportCertificate {
    pub file: String,
    pub backup: String,
    pub not_after: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReportBulk {
    pub receipt: String,
    pub status: String,
    pub processed: Option<String>,
    pub rows: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub institution_code: String,
    pub institution_name: String,
    pub kind: String,
    pub started: DateTime<Utc>,
    pub finished: Option<DateTime<Utc>>,
    /// 完了, or what stopped the run.
    pub outcome: String,
    pub exit_code: u8,
    pub steps: Vec<ReportStep>,
    pub accounts: Vec<ReportAccount>,
    /// The 10-digit 機関コード read from アカウント管理(登録), for OQS_MEDICAL_INSTITUTION_CODE.
    pub institution_code_read: Option<String>,
    pub certificate: Option<ReportCertificate>,
    pub bulk: Option<ReportBulk>,
    pub credential_store: String,
    pub recording: Option<String>,
    /// The replayable recording and its size in bytes: the file to send the desk.
    pub recording_file: Option<(String, u64)>,
    pub windows_steps: Vec<String>,
}

fn layout() -> &'static Layout {
    Layout::builtin()
}

/// The face account's ID, from the bulk layout's data.
fn face_account_id(job: &JobFile) -> Option<&'static str> {
    layout().account_id(FACE_ROLE, TerminalKind::from(job.kind()))
}

pub(crate) fn role_of(job: &JobFile, id: &str) -> &'static str {
    if id == job.master.user_id {
        "マスタアカウント"
    } else if id == job.reset_user_id() {
        "リセット用アカウント (パスワードは秘密の番号)"
    } else if id == job.admin.user_id {
        "管理アカウント (管理者)"
    } else if Some(id) == face_account_id(job) {
        "顔認証アカウント"
    } else if [TerminalKind::MedicalDental, TerminalKind::Pharmacy]
        .into_iter()
        .any(|kind| layout().account_id(LINK_ROLE, kind) == Some(id))
    {
        "連携アカウント"
    } else {
        "その他"
    }
}

pub(crate) fn origin_ja(o: Origin) -> &'static str {
    match o {
        Origin::Job => "ジョブで指定",
        Origin::Generated => "oqsbot が生成",
        Origin::Portal => "ポータルが発行 (初期パスワード)",
        Origin::Changed => "oqsbot が変更・設定",
    }
}

impl Report {
    pub fn new(job: &JobFile, started: DateTime<Utc>) -> Self {
        Self {
            institution_code: job.institution.code.clone(),
            institution_name: job.institution.name.clone(),
            kind: job.kind().label().to_string(),
            started,
            finished: None,
            outcome: String::new(),
            exit_code: 0,
            steps: Vec::new(),
            accounts: Vec::new(),
            institution_code_read: None,
            certificate: None,
            bulk: None,
            credential_store: job.output.dir.join(super::store::FILE_NAME).display().to_string(),
            recording: None,
            recording_file: None,
            windows_steps: Vec::new(),
        }
    }

    pub fn finish(&mut self, outcome: &Result<(), RunError>, store: &CredentialStore, job: &JobFile) {
        self.finished = Some(Utc::now());
        (self.outcome, self.exit_code) = match outcome {
            Ok(()) => ("完了".to_string(), 0),
            Err(e) => (e.to_string(), e.exit_code()),
        };
        self.accounts = store
            .accounts()
            .into_iter()
            .map(|(id, origin)| ReportAccount {
                role: role_of(job, &id).to_string(),
                user_id: id,
                password: "●●●●●●".into(),
                origin: origin_ja(origin).into(),
            })
            .collect();
        self.windows_steps = windows_steps(job, self);
    }
}

/// The steps a person does on the terminal, with this institution's values.
fn windows_steps(job: &JobFile, r: &Report) -> Vec<String> {
    let code = r
        .institution_code_read
        .clone()
        .unwrap_or_else(|| job.institution.code.clone());
    let renkei = layout().link_account_label(TerminalKind::from(job.kind()));
    let face = face_account_id(job).unwrap_or("?");
    let p12 = r
        .certificate
        .as_ref()
        .map(|c| c.backup.clone())
        .unwrap_or_else(|| "(電子証明書はこの実行でダウンロードしていません)".into());
    let face_password = if r.accounts.iter().any(|a| a.user_id == face) {
        format!("パスワードは資格情報ストア {} の {face}", r.credential_store)
    } else {
        "パスワードはこの実行では不明です (この実行より前に登録されたアカウント)。わからない場合は管理アカウントでパスワード初期化してください".to_string()
    };
    vec![
        "③ 旧医療機関等コードの電子証明書を削除: Edge「設定」→「プライバシー、検索、サービス」→「証明書の管理」→「個人」タブで、発行者「Online Billing NW Common Root CA」のうち旧コードの証明書を選び「削除」→「はい」。".to_string(),
        format!("⑤ 新しい電子証明書のインストール: {p12} を右クリック→「PFXのインストール」→ 保存場所「現在のユーザー」→ パスワードは証明書パスワード (4桁。資格情報ストア {} の cert_password) →「このキーをエクスポート可能にする」「すべての拡張プロパティを含める」にチェック →「自動的に証明書ストアを選択する」→「完了」。", r.credential_store),
        format!("⑥ Edge「証明書の管理」→「個人」タブに、発行者 Online Billing NW Common Root CA・発行先 {code} の証明書があることを確認。バックアップフォルダをお客様のUSBメモリ等に保管していただく。"),
        format!("⑧ 資格情報マネージャー →「Windows 資格情報」→「OQS_MEDICAL_INSTITUTION_CODE」→「編集」→ {code} を貼り付けて「保存」。あわせて「OQS_LOGIN_KEY」のユーザー名が {renkei} であることを確認。"),
        "⑨ C:\\Program Files\\OQS\\OQSComApp\\tools の「OQSComAppRestart」を右クリック→「管理者として実行」。その後、オン資端末と顔認証付きカードリーダーを再起動。".to_string(),
        format!("⑩ C:\\Work\\InitializeFace.bat を実行して「1」→ Enter (無い場合は C:\\ProgramData\\OQS-Auth\\ReaderInfo.ini を削除)。管理コンソール「カードリーダー管理」で削除→保存→再起動→「接続デバイスで初期化」デバイスID {face} →保存。「アカウント設定」でユーザID {face}、{face_password} →「初期設定」。"),
        "⑪ 「オンライン資格確認配信アプリケーション管理ツール」→「今すぐダウンロード」→ 通知が出たら再起動。通知が出なくなるまで繰り返す (最大3回)。「配信実績の確認」で Status を確認。".to_string(),
        "⑫ マイナンバーカードでの顔認証と、保険証での資格確認をお客様と試験する。".to_string(),
        format!("補足② 顔認証付きカードリーダーの管理コンソール →「動作環境設定」→「文言設定」→ メッセージを「{}」に変更 →「保存」→「再起動」。", job.institution.name),
    ]
}

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub(crate) fn jst(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono_tz::Asia::Tokyo)
        .format("%Y/%m/%d %H:%M:%S")
        .to_string()
}

pub fn html(r: &Report) -> String {
    let ok = r.exit_code == 0;
    let duration = r.finished.map(|f| (f - r.started).num_seconds()).unwrap_or(0);
    let mut steps = String::new();
    for s in &r.steps {
        steps.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{:.1} 秒</td></tr>",
            jst(s.at),
            esc(&s.what),
            esc(&s.result),
            s.millis as f64 / 1000.0
        ));
    }
    let mut accounts = String::new();
    for a in &r.accounts {
        accounts.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&a.user_id),
            esc(&a.role),
            esc(&a.password),
            esc(&a.origin)
        ));
    }
    let windows: String = r
        .windows_steps
        .iter()
        .map(|w| format!("<li>{}</li>", esc(w)))
        .collect();
    let cert = r
        .certificate
        .as_ref()
        .map(|c| {
            format!(
                "<p>電子証明書: {}<br>バックアップ: <code>{}</code><br>有効期限: {}</p>",
                esc(&c.file),
                esc(&c.backup),
                esc(&c.not_after)
            )
        })
        .unwrap_or_default();
    let bulk = r
        .bulk
        .as_ref()
        .map(|b| {
            let rows: String = b.rows.iter().map(|x| format!("<li>{}</li>", esc(x))).collect();
            format!(
                "<p>受付番号: {} / 登録状況: <strong>{}</strong> / 処理件数: {}</p><ul>{rows}</ul>",
                esc(&b.receipt),
                esc(&b.status),
                esc(b.processed.as_deref().unwrap_or("-"))
            )
        })
        .unwrap_or_else(|| "<p>この実行では一括登録を行っていません。</p>".into());
    format!(
        r#"<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8"><title>承継工事 作業報告 {code}</title><style>
body{{font-family:"IPAGothic","Noto Sans CJK JP","Meiryo",sans-serif;margin:24px auto;max-width:980px;color:#222;font-size:14px}}
h1{{font-size:20px;border-bottom:3px solid #1f4e8c;padding-bottom:6px}} h2{{font-size:16px;color:#1f4e8c;margin-top:28px}}
.outcome{{padding:12px 16px;border-radius:4px;font-size:16px}} .ok{{background:#e6f4ea;border:1px solid #7cb98a}} .ng{{background:#fdecec;border:1px solid #e3a0a0}}
.code{{font-size:28px;font-weight:bold;letter-spacing:2px;background:#fffbe6;border:1px solid #e0c060;padding:6px 14px;display:inline-block}}
table{{border-collapse:collapse;width:100%}} th,td{{border:1px solid #c9d3e0;padding:5px 8px;text-align:left;vertical-align:top}} th{{background:#eef3f9}}
.num{{text-align:right;white-space:nowrap}} li{{margin:6px 0}} code{{background:#f3f3f3;padding:1px 4px}}
</style></head><body>
<h1>承継工事 作業報告 (オンライン資格確認 Web 作業)</h1>
<p>{name} (医療機関等コード {code}、{kind})<br>開始 {started} / 終了 {finished} (所要 {duration} 秒)</p>
<div class="outcome {cls}">{outcome}</div>
<h2>OQS_MEDICAL_INSTITUTION_CODE に設定する機関コード</h2>
<p><span class="code">{code_read}</span></p>
<h2>アカウント</h2>
<table><tr><th>ユーザID</th><th>種別</th><th>パスワード</th><th>パスワードの取得元</th></tr>{accounts}</table>
<p>パスワードは資格情報ストア <code>{store}</code> (所有者のみ読み取り可) に保存されています。この報告書には記載しません。</p>
<h2>電子証明書</h2>{cert}
<h2>アカウント一括登録</h2>{bulk}
<h2>実施した作業</h2>
<table><tr><th>時刻</th><th>作業</th><th>結果</th><th>所要</th></tr>{steps}</table>
<p>操作の記録: <code>{recording}</code></p>{replayable}
<h2>残りの Windows 作業 (担当者が実施)</h2><ol>{windows}</ol>
</body></html>"#,
        code = esc(&r.institution_code),
        name = esc(&r.institution_name),
        kind = esc(&r.kind),
        started = jst(r.started),
        finished = r.finished.map(jst).unwrap_or_default(),
        cls = if ok { "ok" } else { "ng" },
        outcome = if ok {
            "すべての Web 作業が完了しました。".to_string()
        } else {
            format!(
                "作業を中断しました ({}): {}",
                stop_reason_ja(r.exit_code),
                esc(&r.outcome)
            )
        },
        code_read = esc(r.institution_code_read.as_deref().unwrap_or("(未確認)")),
        store = esc(&r.credential_store),
        recording = esc(r.recording.as_deref().unwrap_or("")),
        replayable = match &r.recording_file {
            Some((path, bytes)) => format!(
                "<p>再現用の記録 (サポート窓口へ送付): <code>{}</code> ({} KB)</p>",
                esc(path),
                bytes.div_ceil(1024)
            ),
            None => String::new(),
        },
    )
}

/// Writes report.json and report.html, secrets scrubbed once more.
pub fn write_report(r: &Report, dir: &Path, redactor: &Redactor) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let value = serde_json::to_value(r).map_err(std::io::Error::other)?;
    let json = serde_json::to_string_pretty(&redactor.redact_json(&value)).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("report.json"), json)?;
    std::fs::write(dir.join("report.html"), redactor.redact(&html(r)))?;
    Ok(())
}

/// What an exit code asks of the technician, in the report's language.
fn stop_reason_ja(exit_code: u8) -> &'static str {
    match exit_code {
        2 => "入力の誤り。ジョブファイル・パスワード・PDF を直して、もう一度実行してください",
        3 => "ポータルが受け付けませんでした。下の内容を確認してください",
        4 => "ポータルの応答を待ちきれませんでした。しばらくしてからもう一度実行してください",
        5 => "担当者の対応が必要です。下の内容のとおり対応してください",
        7 => {
            "ポータルが処理を続けられませんでした（サーバエラー・メンテナンス中・セッション切れ）。しばらくしてからもう一度実行すると続きから再開します"
        }
        _ => "ブラウザまたは出力フォルダの問題。もう一度実行すると続きから再開します",
    }
}
