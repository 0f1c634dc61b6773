//! The menu, by role: an item shows only where the role has it. In frames
//! mode `/oqs/menu` is the frame set, and the menu itself is a frame of it.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, Response};
use serde::Deserialize;

use super::{Ctx, require_user, screen};
use crate::app::App;
use crate::config::{Frames, HeaderShows, MenuItemStyle, MenuLabels, SimConfig};
use crate::html::{Header, Page, Placement, Ui, esc, js};
use crate::model::{Account, Role};

type Section = (Option<&'static str>, Vec<(&'static str, &'static str)>);

const NOTICES: (&str, &str) = ("お知らせ一覧", "/oqs/feature?name=お知らせ一覧");
/// Where the content frame starts.
const FIRST_CONTENT: &str = NOTICES.1;
const SEARCH: &str = "/oqs/account/search";
const REGISTER: &str = "/oqs/account/register";
const PASSWORD: &str = "/oqs/password/change";

pub fn sections(role: Role, labels: MenuLabels) -> Vec<Section> {
    let (register, search) = labels.for_role(role);
    match role {
        Role::MasterReset => vec![
            (None, vec![NOTICES]),
            (
                Some("アカウント情報管理"),
                vec![(search, SEARCH), ("パスワード変更", PASSWORD)],
            ),
        ],
        Role::Master => vec![
            (None, vec![NOTICES]),
            (
                Some("アカウント情報管理"),
                vec![
                    (register, REGISTER),
                    (search, SEARCH),
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
                    (register, REGISTER),
                    (search, SEARCH),
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

/// The menu's markup; in frames, each item opens in the content frame.
fn menu_list(config: &SimConfig, role: Role) -> String {
    let ui = Ui { v: &config.ui };
    let framed = config.ui.frames != Frames::None;
    let mut body = String::from("<div class=\"menu\">");
    for (heading, items) in sections(role, config.ui.menu_labels) {
        body.push_str("<section>");
        if let Some(h) = heading {
            body.push_str(&format!("<h2>{}</h2>", esc(h)));
        }
        body.push_str("<ul>");
        for (label, href) in items {
            let label = ui.t(label);
            let go = if framed {
                format!("parent.frames['main'].location.href={}", js(href))
            } else {
                format!("location.href={}", js(href))
            };
            let item = match config.ui.menu_items {
                MenuItemStyle::Link if framed => {
                    format!("<a href=\"{}\" target=\"main\">{}</a>", esc(href), esc(&label))
                }
                MenuItemStyle::Link => format!("<a href=\"{}\">{}</a>", esc(href), esc(&label)),
                MenuItemStyle::Input => format!(
                    "<input type=\"button\" class=\"menu-item\" value=\"{}\" onclick=\"{}\">",
                    esc(&label),
                    esc(&go)
                ),
                MenuItemStyle::Script => format!(
                    "<a href=\"javascript:void(0)\" class=\"menu-item\" onclick=\"{}\">{}</a>",
                    esc(&go),
                    esc(&label)
                ),
            };
            body.push_str(&format!("<li>{item}</li>"));
        }
        body.push_str("</ul></section>");
    }
    body.push_str("</div>");
    body
}

pub async fn menu(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let (ctx, user) = match require_user(&app, &headers) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let config = app.config();
    match config.ui.frames {
        Frames::None => {
            let body = menu_list(&config, user.role);
            screen(&app, &ctx, &config, "メインメニュー", body)
        }
        Frames::Frameset => ctx.finish(Html(format!(
            "<!DOCTYPE html><html lang=\"ja\"><head><meta charset=\"utf-8\"><title>メインメニュー | オンライン資格確認等システム</title></head>\
<frameset cols=\"380,*\"><frame name=\"menu\" src=\"/oqs/frame/menu\"><frame name=\"main\" src=\"{}\"></frameset></html>",
            esc(FIRST_CONTENT)
        ))),
        Frames::Iframes => {
            let body = format!(
                "<div class=\"frames\"><iframe name=\"menu\" title=\"メニュー\" src=\"/oqs/frame/menu\"></iframe><iframe name=\"main\" title=\"メイン\" src=\"{}\"></iframe></div>",
                esc(FIRST_CONTENT)
            );
            let ui = Ui { v: &config.ui };
            let who = who(&config, &user);
            let page = Page {
                title: "メインメニュー",
                header: Some(Header {
                    institution: &app.scenario.institution.name,
                    who: &who,
                }),
                csrf: &ctx.csrf,
                logout_confirm: config.ui.logout_confirm,
                body,
                head: "",
                placement: Placement::Window,
            };
            ctx.finish(Html(page.render(&ui)))
        }
    }
}

fn who(config: &SimConfig, user: &Account) -> String {
    match config.ui.header_shows {
        HeaderShows::Name => user.name.clone(),
        HeaderShows::Role => user.role.header_label().to_string(),
    }
}

/// The menu frame: in a frame set it carries the header and ログアウト too.
pub async fn menu_frame(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let (ctx, user) = match require_user(&app, &headers) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let config = app.config();
    if config.ui.frames == Frames::None {
        return ctx.redirect(crate::html::MENU);
    }
    frame_page(&app, &ctx, &config, &user)
}

fn frame_page(app: &App, ctx: &Ctx, config: &SimConfig, user: &Account) -> Response {
    let ui = Ui { v: &config.ui };
    let who = who(config, user);
    let (header, placement) = match config.ui.frames {
        Frames::Frameset => (
            Some(Header {
                institution: &app.scenario.institution.name,
                who: &who,
            }),
            Placement::MenuFrame,
        ),
        _ => (None, Placement::Content),
    };
    let page = Page {
        title: "メニュー",
        header,
        csrf: &ctx.csrf,
        logout_confirm: config.ui.logout_confirm,
        body: menu_list(config, user.role),
        head: "",
        placement,
    };
    ctx.finish(Html(page.render(&ui)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{TextVariant, UiVariants};

    fn normalised(s: &str) -> String {
        s.chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| match c {
                '（' => '(',
                '）' => ')',
                other => other,
            })
            .collect()
    }

    #[test]
    fn no_variant_gives_two_items_of_one_menu_the_same_text() {
        let labels = [
            MenuLabels::Spec,
            MenuLabels::HalfWidth,
            MenuLabels::FullWidth,
            MenuLabels::Koushin,
            MenuLabels::New,
        ];
        let texts = [
            TextVariant::Spec,
            TextVariant::FullWidth,
            TextVariant::ManualSample,
        ];
        for role in Role::ALL {
            for l in labels {
                for t in texts {
                    let v = UiVariants {
                        menu_labels: l,
                        texts: t,
                        ..Default::default()
                    };
                    let ui = Ui { v: &v };
                    // Items only: the manual's own menu has a heading and an item both
                    // named アカウント一括登録.
                    let shown: Vec<String> = sections(role, l)
                        .into_iter()
                        .flat_map(|(_, items)| items.into_iter().map(|(label, _)| label))
                        .map(|label| normalised(&ui.t(label)))
                        .collect();
                    let unique: std::collections::BTreeSet<&String> = shown.iter().collect();
                    assert_eq!(unique.len(), shown.len(), "{role:?} {l:?} {t:?}: {shown:?}");
                }
            }
        }
    }
}
