//! The menu, by role: an item shows only where the role has it.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use super::{require_user, screen};
use crate::App;
use crate::config::MenuItemStyle;
use crate::html::{Ui, esc, js};
use crate::state::Role;

type Section = (Option<&'static str>, Vec<(&'static str, &'static str)>);

const NOTICES: (&str, &str) = ("お知らせ一覧", "/oqs/feature?name=お知らせ一覧");
const SEARCH: &str = "/oqs/account/search";
const REGISTER: &str = "/oqs/account/register";
const PASSWORD: &str = "/oqs/password/change";

fn sections(role: Role) -> Vec<Section> {
    match role {
        Role::MasterReset => vec![
            (None, vec![NOTICES]),
            (
                Some("アカウント情報管理"),
                vec![("アカウント管理(更新)", SEARCH), ("パスワード変更", PASSWORD)],
            ),
        ],
        Role::Master => vec![
            (None, vec![NOTICES]),
            (
                Some("アカウント情報管理"),
                vec![
                    ("アカウント管理（登録）", REGISTER),
                    ("アカウント管理（更新）", SEARCH),
                    ("パスワード変更", PASSWORD),
                ],
            ),
        ],
        Role::Admin => vec![
            (
                None,
                vec![
                    NOTICES,
                    (
                        "マイナンバーカードで確認",
                        "/oqs/feature?name=マイナンバーカードで確認",
                    ),
                    ("保険証/処方箋で確認", "/oqs/feature?name=保険証/処方箋で確認"),
                ],
            ),
            (
                Some("一括照会"),
                vec![
                    ("資格情報一括照会", "/oqs/feature?name=資格情報一括照会"),
                    ("資格情報一括照会結果", "/oqs/feature?name=資格情報一括照会結果"),
                ],
            ),
            (
                Some("問い合わせ管理"),
                vec![("資格確認履歴照会", "/oqs/feature?name=資格確認履歴照会")],
            ),
            (
                Some("アカウント一括登録"),
                vec![
                    ("アカウント一括登録", "/oqs/bulk/upload"),
                    ("アカウント一括登録結果", "/oqs/bulk/results"),
                ],
            ),
            (
                Some("一括登録"),
                vec![
                    ("照会番号一括登録", "/oqs/feature?name=照会番号一括登録"),
                    ("照会番号一括登録結果", "/oqs/feature?name=照会番号一括登録結果"),
                ],
            ),
            (
                Some("環境設定情報管理"),
                vec![("環境設定情報更新", "/oqs/feature?name=環境設定情報更新")],
            ),
            (
                Some("アカウント情報管理"),
                vec![
                    ("アカウント管理(登録)", REGISTER),
                    ("アカウント管理(更新)", SEARCH),
                    ("パスワード変更", PASSWORD),
                ],
            ),
            (
                Some("顔認証付きカードリーダー管理"),
                vec![(
                    "顔認証付きカードリーダー操作",
                    "/oqs/feature?name=顔認証付きカードリーダー操作",
                )],
            ),
        ],
        _ => vec![
            (None, vec![NOTICES]),
            (Some("アカウント情報管理"), vec![("パスワード変更", PASSWORD)]),
        ],
    }
}

pub async fn menu(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let (ctx, user) = match require_user(&app, &headers) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let config = app.config();
    let ui = Ui { v: &config.ui };
    let mut body = String::from("<div class=\"menu\">");
    for (heading, items) in sections(user.role) {
        body.push_str("<section>");
        if let Some(h) = heading {
            body.push_str(&format!("<h2>{}</h2>", esc(h)));
        }
        body.push_str("<ul>");
        for (label, href) in items {
            let label = ui.t(label);
            let item = match config.ui.menu_items {
                MenuItemStyle::Link => format!("<a href=\"{}\">{}</a>", esc(href), esc(&label)),
                MenuItemStyle::Input => format!(
                    "<input type=\"button\" class=\"menu-item\" value=\"{}\" onclick=\"{}\">",
                    esc(&label),
                    esc(&format!("location.href={}", js(href)))
                ),
            };
            body.push_str(&format!("<li>{item}</li>"));
        }
        body.push_str("</ul></section>");
    }
    body.push_str("</div>");
    screen(&app, &ctx, &config, "メインメニュー", body)
}

#[derive(Deserialize)]
pub struct FeatureQuery {
    #[serde(default)]
    name: String,
}

/// Menu items the succession work never uses.
pub async fn feature(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<FeatureQuery>,
) -> Response {
    let (ctx, _) = match require_user(&app, &headers) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let config = app.config();
    let ui = Ui { v: &config.ui };
    let body = format!(
        "<h1>{}</h1><p>この画面はシミュレータでは提供していません。</p><p>{}</p>",
        esc(&q.name),
        ui.go("戻る", "/oqs/menu")
    );
    screen(&app, &ctx, &config, &q.name, body)
}
