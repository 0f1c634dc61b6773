//! アカウント一括登録 (the Shift-JIS CSV upload) and アカウント一括登録結果.

use std::sync::Arc;

use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Asia::Tokyo;
use serde::Deserialize;

use super::{Ctx, forbidden_csrf, require_role, screen, screen_with_head};
use crate::app::App;
use crate::bulk::{self, BulkStatus};
use crate::config::{ReceiptSuffix, ResultsButton};
use crate::html::{NotesFor, Ui, esc};
use crate::message::Message;
use crate::model::Role;
use crate::state::Upload;

const MAX_UPLOAD_BYTES: usize = 1024 * 1024;

#[derive(Deserialize, Default)]
pub struct UploadQuery {
    #[serde(default)]
    receipt: Option<String>,
}

fn jst(at: DateTime<Utc>) -> chrono::DateTime<chrono_tz::Tz> {
    at.with_timezone(&Tokyo)
}

fn upload_screen(app: &App, ctx: &Ctx, errors: &[Message], receipt: Option<&Upload>) -> Response {
    let config = app.config();
    let ui = Ui { v: &config.ui };
    let (attrs, modal) = ui.confirm(
        config.ui.bulk_confirm,
        "modal-bulk",
        "登録確認",
        "登録します。よろしいですか？",
    );
    let notice = receipt
        .map(|u| {
            let t = jst(u.received_at);
            let line = format!(
                "受付番号は{}です。(受付時刻:{}月{}日{}時{}分)",
                u.receipt,
                t.format("%m"),
                t.format("%d"),
                t.format("%H"),
                t.format("%M")
            );
            match config.ui.receipt_notice {
                crate::config::NoticeStyle::Page => format!(
                    "<div class=\"info\" role=\"status\"><p><strong>登録完了</strong></p><p>{}</p><p>{}</p></div>",
                    esc(&line),
                    ui.go("OK", "/oqs/bulk/upload")
                ),
                style => ui.notice(style, "modal-receipt", "登録完了", &[&line], None),
            }
        })
        .unwrap_or_default();
    let field = ui.field(
        "アカウント一括登録用ファイル",
        "b-file",
        r#"<input type="file" id="b-file" name="file" accept=".csv,text/csv">"#,
        false,
    );
    let body = format!(
        "<h1>アカウント一括登録</h1>{errors}<form method=\"post\" action=\"/oqs/bulk/upload\" enctype=\"multipart/form-data\" {attrs}><input type=\"hidden\" name=\"_csrf\" value=\"{csrf}\">{fields}<p>{submit}</p></form>{modal}\
<p class=\"note\">※アップロードは1分以上間隔を空けてください。<br>※アップロードするCSVの文字コードは環境設定情報に関わらずShift-JISのみとなります。</p>{notes}<p>{back}</p>{notice}",
        errors = ui.refusals(&errors.iter().map(|m| ui.say(*m).to_string()).collect::<Vec<_>>()),
        notes = ui.notes(NotesFor::Upload, config.site.lockout_after),
        csrf = esc(&ctx.csrf),
        fields = ui.fields(&field),
        submit = ui.submit("登録", ""),
        back = ui.go("戻る", "/oqs/menu"),
    );
    screen(app, ctx, &config, "アカウント一括登録", body)
}

pub async fn upload_page(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<UploadQuery>,
) -> Response {
    let (ctx, _) = match require_role(&app, &headers, &[Role::Admin]) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let upload = q
        .receipt
        .and_then(|r| app.state().uploads.iter().find(|u| u.receipt == r).cloned());
    upload_screen(&app, &ctx, &[], upload.as_ref())
}

pub async fn upload(State(app): State<Arc<App>>, headers: HeaderMap, mut multipart: Multipart) -> Response {
    let (ctx, user) = match require_role(&app, &headers, &[Role::Admin]) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let mut csrf = String::new();
    let mut file: Option<(String, Vec<u8>)> = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_string();
                let file_name = field.file_name().map(str::to_string);
                let Ok(bytes) = field.bytes().await else {
                    return upload_screen(&app, &ctx, &[Message::UploadUnreadable], None);
                };
                match name.as_str() {
                    "_csrf" => csrf = String::from_utf8_lossy(&bytes).into_owned(),
                    "file" => file = Some((file_name.unwrap_or_default(), bytes.to_vec())),
                    _ => {}
                }
            }
            Ok(None) => break,
            Err(_) => {
                return upload_screen(&app, &ctx, &[Message::UploadUnreadable], None);
            }
        }
    }
    if !ctx.csrf_ok(&csrf) {
        return forbidden_csrf(&app, &ctx);
    }
    let Some((file_name, bytes)) = file.filter(|(n, _)| !n.is_empty()) else {
        return upload_screen(&app, &ctx, &[Message::UploadNoFile], None);
    };
    if bytes.len() > MAX_UPLOAD_BYTES {
        return upload_screen(&app, &ctx, &[Message::UploadTooBig], None);
    }
    let config = app.config();
    let now = app.clock.now();
    let interval = Duration::seconds(config.site.upload_interval_secs);
    let upload = {
        let mut state = app.state();
        if state.uploads.iter().any(|u| now - u.received_at < interval) {
            drop(state);
            return upload_screen(&app, &ctx, &[Message::UploadTooSoon], None);
        }
        let suffix = match config.ui.receipt_suffix {
            ReceiptSuffix::Uploader => user.user_id.clone(),
            ReceiptSuffix::Master => app.scenario.master.user_id.clone(),
            // 13 digits, as the manual's 「xxxxxxxxxxxxxxxxx_xxxxxxxxxxxxx」 has.
            ReceiptSuffix::Opaque => {
                let mut rng = crate::vary::SplitMix64::new(
                    config.ui.vary.unwrap_or(0) ^ (state.uploads.len() as u64 + 1),
                );
                format!("{:013}", rng.next_u64() % 10_000_000_000_000)
            }
        };
        let receipt = format!("{}_{suffix}", jst(now).format("%Y%m%d%H%M%S%3f"));
        let upload = Upload {
            receipt: receipt.clone(),
            uploader: user.user_id.clone(),
            received_at: now,
            parsed: refused_by_fault(bulk::parse(&bytes), &config.faults.input_check_error),
            forced_system_error: config.faults.system_error,
            outcome: None,
        };
        state.uploads.push(upload.clone());
        state.log(
            now,
            "upload_received",
            &user.user_id,
            format!("{receipt} {file_name} ({} bytes)", bytes.len()),
        );
        upload
    };
    ctx.redirect(&format!("/oqs/bulk/upload?receipt={}", upload.receipt))
}

pub async fn results(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let (ctx, _) = match require_role(&app, &headers, &[Role::Admin]) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let config = app.config();
    let ui = Ui { v: &config.ui };
    let now = app.clock.now();
    let rows: Vec<(Upload, BulkStatus)> = {
        let state = app.state();
        let mut rows: Vec<(Upload, BulkStatus)> = state
            .uploads
            .iter()
            .map(|u| (u.clone(), state.status_of(u, now, &config)))
            .collect();
        rows.reverse();
        rows
    };
    let mut table = String::from(
        "<table class=\"list\" aria-label=\"アカウント一括登録結果\"><thead><tr><th>受付番号</th><th>登録状況</th><th>受付日時</th><th>完了日時</th><th>処理件数</th><th>結果</th></tr></thead><tbody>",
    );
    for (u, status) in &rows {
        let outcome = u.outcome.as_ref();
        let done = outcome
            .map(|o| jst(o.completed_at).format("%Y/%m/%d %H:%M:%S").to_string())
            .unwrap_or_default();
        let count = outcome
            .and_then(|o| o.processed)
            .map(|n| n.to_string())
            .unwrap_or_default();
        let result = if status.is_final() && status.has_result_file() {
            ui.go("ダウンロード", &format!("/oqs/bulk/results/{}/file", u.receipt))
        } else {
            String::new()
        };
        table.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{done}</td><td>{count}</td><td>{result}</td></tr>",
            esc(&u.receipt),
            esc(status.text(config.ui.texts)),
            jst(u.received_at).format("%Y/%m/%d %H:%M:%S"),
        ));
    }
    table.push_str("</tbody></table>");
    let reload = match config.ui.results_button {
        ResultsButton::Update => "更新",
        ResultsButton::Confirm => "確認",
    };
    let body = format!(
        "<h1>アカウント一括登録結果</h1><p class=\"note\">※画面は1分毎に自動更新されます。</p>{table}{}<p>{}{}</p>",
        ui.notes(NotesFor::Results, config.site.lockout_after),
        ui.action(reload, "location.reload()", ""),
        ui.go("戻る", "/oqs/menu")
    );
    screen_with_head(
        &app,
        &ctx,
        &config,
        "アカウント一括登録結果",
        body,
        &format!(
            "<meta http-equiv=\"refresh\" content=\"{}\">",
            config.site.results_refresh_secs.max(1)
        ),
    )
}

pub async fn result_file(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(receipt): Path<String>,
) -> Response {
    let (ctx, _) = match require_role(&app, &headers, &[Role::Admin]) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let outcome = app
        .state()
        .uploads
        .iter()
        .find(|u| u.receipt == receipt)
        .and_then(|u| u.outcome.clone());
    let Some(outcome) = outcome.filter(|o| o.status.has_result_file()) else {
        return ctx.finish(StatusCode::NOT_FOUND);
    };
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{receipt}.csv\""))
        .unwrap_or(HeaderValue::from_static("attachment"));
    ctx.finish(
        (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/csv; charset=Shift_JIS"),
                ),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            bulk::result_csv(&outcome.rows),
        )
            .into_response(),
    )
}

/// `faults.input_check_error`: the first row fails the input check with the configured reason.
fn refused_by_fault(parsed: bulk::Parsed, reason: &Option<String>) -> bulk::Parsed {
    match (parsed, reason) {
        (bulk::Parsed::Rows(mut rows), Some(reason)) => {
            if let Some(first) = rows.first_mut() {
                first.errors.push(reason.clone());
            }
            bulk::Parsed::Rows(rows)
        }
        (parsed, _) => parsed,
    }
}
