//! Site A: 電子証明書のダウンロードサイト, one page, 証明書の取得画面.

use std::sync::Arc;

use axum::Form;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Duration;
use serde::Deserialize;

use crate::app::App;
use crate::html::{NotesFor, Ui, esc};
use crate::message::Message;
use crate::state::IssuedCertificate;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/cert/", get(form_page))
        .route("/cert/download", post(download))
}

/// How long a certificate is valid: about three years, as on the paper notice.
const VALID_DAYS: i64 = 365 * 3 + 92;

#[derive(Deserialize, Default)]
struct CertForm {
    #[serde(default)]
    request_id: String,
    #[serde(default)]
    reference_id: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

fn render(app: &App, form: &CertForm, error: Option<Message>) -> String {
    let config = app.config();
    let ui = Ui { v: &config.ui };
    let error = error.map(|e| ui.refusal(ui.say(e))).unwrap_or_default();
    let fields = [
        ui.field(
            "リクエスト ID",
            "f-request",
            &format!(
                r#"<input type="text" id="f-request" name="request_id" value="{}" autocomplete="off">"#,
                esc(&form.request_id)
            ),
            false,
        ),
        ui.field(
            "リファレンス ID",
            "f-reference",
            &format!(
                r#"<input type="text" id="f-reference" name="reference_id" value="{}" autocomplete="off">"#,
                esc(&form.reference_id)
            ),
            false,
        ),
        ui.field(
            "証明書パスワード",
            "f-password",
            r#"<input type="password" id="f-password" name="password" autocomplete="off">"#,
            false,
        ),
        ui.field(
            "証明書パスワード (確認用)",
            "f-password2",
            r#"<input type="password" id="f-password2" name="password_confirm" autocomplete="off">"#,
            false,
        ),
    ]
    .concat();
    format!(
        r#"<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8"><title>証明書の取得画面 | 電子証明書のダウンロードサイト</title>
<style>body{{margin:0;font-family:"IPAGothic","Noto Sans CJK JP",sans-serif;background:#f5f5f0;font-size:14px}}
.bar{{background:#2d5f3f;color:#fff;padding:10px 18px;font-size:18px;font-weight:bold}}
main{{max-width:760px;margin:20px auto;background:#fff;border:1px solid #ccd;padding:18px 28px}}
h1{{font-size:18px;border-bottom:2px solid #2d5f3f;padding-bottom:4px}}
.field{{margin:10px 0;display:flex;align-items:center}} .field label{{min-width:13em;font-weight:bold}}
table.form th{{text-align:left;padding:6px 10px;background:#eef3ee;border:1px solid #ccd;min-width:12em}} table.form td{{padding:6px 10px;border:1px solid #ccd}}
input{{padding:4px;font-size:14px;min-width:16em}} .btn{{background:#2d5f3f;color:#fff;border:0;padding:6px 24px;font-size:14px;border-radius:3px;cursor:pointer;text-decoration:none;display:inline-block}}
.error{{color:#b00;background:#fdecec;border:1px solid #e3a0a0;padding:8px 12px}} .note{{color:#444;font-size:13px}}
.grid .row{{margin:10px 0;display:flex;align-items:center}} .grid .cell-l{{min-width:13em;font-weight:bold}} .lines .line{{margin:10px 0}}</style>
<script>function submitForm(el){{el.closest('form').submit();}}</script></head>
<body><div class="bar">電子証明書のダウンロードサイト</div><main><h1>証明書の取得画面</h1>
<p>「電子証明書発行通知書」に記載のリクエストIDとリファレンスIDを入力してください。<br>証明書パスワードは、任意の4桁の半角数字を入力してください。</p>
{error}<form method="post" action="/cert/download">{fields}
<p class="note">証明書パスワードは端末等へ証明書をインストールする際に必要となりますので<br>忘れないようにしてください。</p>
<p class="note">(証明書パスワードを忘れてしまった場合は、もう一度証明書発行申請が必要と<br>なりますのでご注意ください。)</p>
<p>{button}</p></form>{notes}</main></body></html>"#,
        fields = ui.fields(&fields),
        button = ui.submit("ダウンロード", ""),
        notes = ui.notes(NotesFor::Certificate, config.site.lockout_after),
    )
}

async fn form_page(State(app): State<Arc<App>>) -> Html<String> {
    Html(render(&app, &CertForm::default(), None))
}

async fn download(State(app): State<Arc<App>>, Form(form): Form<CertForm>) -> Response {
    let refuse = |msg: Message| (StatusCode::OK, Html(render(&app, &form, Some(msg)))).into_response();
    let request_id = form.request_id.trim();
    let reference_id = form.reference_id.trim();
    if request_id.is_empty() || reference_id.is_empty() {
        return refuse(Message::CertMissingIds);
    }
    if form.password.len() != 4 || !form.password.bytes().all(|b| b.is_ascii_digit()) {
        return refuse(Message::CertPasswordFormat);
    }
    if form.password != form.password_confirm {
        return refuse(Message::CertPasswordMismatch);
    }
    let Some(seed) = app
        .scenario
        .certificates
        .iter()
        .find(|c| c.request_id == request_id && c.reference_id == reference_id)
    else {
        return refuse(Message::CertUnknown);
    };
    let today = app.clock.today_jst();
    let issued = app.state().epoch - Duration::days(seed.issued_days_ago);
    if today > issued + Duration::days(seed.download_days) {
        return refuse(Message::CertExpired);
    }

    // One key per certificate; each download wraps it with the password given this time.
    let existing = app
        .state()
        .certificates
        .iter()
        .find(|c| c.request_id == seed.request_id)
        .cloned();
    let cert = match existing {
        Some(c) => c,
        None => {
            let issued_cert = match app.pki.issue_client(
                &seed.institution_code,
                &seed.terminal_name,
                issued,
                issued + Duration::days(VALID_DAYS),
            ) {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!("{e}");
                    return refuse(Message::SystemError);
                }
            };
            let record = IssuedCertificate {
                request_id: seed.request_id.clone(),
                serial: issued_cert.serial,
                key_der: issued_cert.key_der,
                cert_der: issued_cert.cert_der,
                downloads: 0,
            };
            app.state().certificates.push(record.clone());
            record
        }
    };
    let bytes = match app.pki.pkcs12(&cert.key_der, &cert.cert_der, &form.password) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("{e}");
            return refuse(Message::SystemError);
        }
    };
    {
        let now = app.clock.now();
        let mut state = app.state();
        if let Some(c) = state
            .certificates
            .iter_mut()
            .find(|c| c.request_id == seed.request_id)
        {
            c.downloads += 1;
        }
        state.log(
            now,
            "certificate_downloaded",
            &seed.institution_code,
            format!("{}.p12", cert.serial),
        );
    }
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{}.p12\"", cert.serial))
        .unwrap_or(HeaderValue::from_static("attachment"));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-pkcs12"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response()
}
