//! The seeded portal (`[ui] vary = SEED`): the same seed draws the same
//! portal, `/__sim/config` shows the draws, a login reaches the menu under
//! any seed; and scenarios that seed account states.

use crate::common;

use common::*;
use oqs_sim::SimConfig;
use oqs_sim::config::{Charset, Frames, MenuItemStyle, MenuOpensIn};
use oqs_sim::model::Role;
use serde_json::{Value, json};

fn seeded(seed: u64) -> SimConfig {
    config(&format!("[ui]\nvary = {seed}\n"))
}

#[test]
fn the_same_seed_draws_the_same_portal_and_seeds_differ() {
    assert_eq!(seeded(42).resolved(), seeded(42).resolved());
    assert_ne!(seeded(1).resolved(), seeded(2).resolved());
    let drawn = seeded(42).resolved();
    assert_eq!(drawn.ui.vary, Some(42));
    assert_eq!(drawn.ui.wordings.len(), oqs_sim::message::Message::ALL.len());
    // Rules are never drawn.
    assert_eq!(drawn.site, SimConfig::default().site);
    assert_eq!(drawn.delays, SimConfig::default().delays);
    // No seed: exactly today's portal.
    assert_eq!(SimConfig::default().resolved(), SimConfig::default());
}

#[test]
fn a_switch_the_file_names_is_not_drawn() {
    for seed in 0..30 {
        let c = config(&format!(
            "[ui]\nvary = {seed}\nframes = \"none\"\ncharset = \"utf-8\"\n"
        ))
        .resolved();
        assert_eq!((c.ui.frames, c.ui.charset), (Frames::None, Charset::Utf8));
    }
}

#[tokio::test]
async fn sim_config_shows_what_the_seed_drew() {
    let sim = sim_with("carried-over", seeded(7)).await;
    let shown: Value = reqwest::get(format!("{}/__sim/config", sim.base_url))
        .await
        .expect("config")
        .json()
        .await
        .expect("json");
    assert_eq!(shown, serde_json::to_value(seeded(7).resolved()).expect("json"));
    assert_eq!(sim.config(), seeded(7).resolved());
    // A patch applies to the config as given: a new seed draws anew, a named switch stays.
    patch_config(&sim, json!({"ui": {"vary": 8, "labels": "th"}})).await;
    let shown: Value = reqwest::get(format!("{}/__sim/config", sim.base_url))
        .await
        .expect("config")
        .json()
        .await
        .expect("json");
    let mut expected = seeded(8);
    expected.ui.labels = oqs_sim::config::LabelStyle::Th;
    expected.pinned.0.insert("labels".into());
    assert_eq!(shown, serde_json::to_value(expected.resolved()).expect("json"));
    assert_eq!(shown["ui"]["labels"], "th");
}

/// A client that gets through whatever the seed drew: Shift_JIS, frames,
/// the popup sending its opener on, post-redirect-get (redirects followed).
struct Visitor {
    b: Browser,
}

impl Visitor {
    fn form(page: &Page, fields: &[(&str, &str)]) -> (String, Vec<u8>) {
        let csrf = page.csrf();
        let mut all = vec![("_csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        let body = if page.content_type.contains("Shift_JIS") {
            sjis_form(&all)
        } else {
            all.iter()
                .map(|(k, v)| format!("{k}={}", utf8_percent(v)))
                .collect::<Vec<_>>()
                .join("&")
                .into_bytes()
        };
        ("application/x-www-form-urlencoded".to_string(), body)
    }

    async fn post_from(&self, page: &Page, path: &str, fields: &[(&str, &str)]) -> Page {
        let (ct, body) = Self::form(page, fields);
        self.b.post_raw(path, &ct, body).await
    }

    /// Logs in; returns the page that holds the menu (a frame of it, in frames).
    async fn login(&self, user: &str, password: &str) -> Page {
        let form = self.b.get("/oqs/login").await;
        let mut page = self
            .post_from(&form, "/oqs/login", &[("user_id", user), ("password", password)])
            .await;
        // The popup may send its opener on instead of going itself.
        if let Some(at) = page.body.find("window.opener.location.href='") {
            let rest = &page.body[at + "window.opener.location.href='".len()..];
            let to = rest[..rest.find('\'').expect("quote")].to_string();
            page = self.b.get(&to).await;
        }
        if page.has("<frameset") || page.has("<iframe name=\"menu\"") {
            let frame = self.b.get("/oqs/frame/menu").await;
            // With iframes the header (and ログアウト) is the outer page's.
            if page.has("<iframe") {
                return Page {
                    body: format!("{}{}", page.body, frame.body),
                    ..frame
                };
            }
            return frame;
        }
        page
    }
}

fn utf8_percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_login_reaches_the_menu_under_any_seed() {
    let mut structures = std::collections::BTreeSet::new();
    for seed in 1..=8 {
        let sim = sim_with("carried-over", seeded(seed)).await;
        let drawn = sim.config();
        structures.insert(format!("{:?}/{:?}", drawn.ui.frames, drawn.ui.charset));
        let v = Visitor {
            b: Browser::new(&sim),
        };
        let menu = v.login("OnsKANRI", "OnsAdmin@00369").await;
        let (register, _) = drawn.ui.menu_labels.for_role(Role::Admin);
        let register = match drawn.ui.texts {
            oqs_sim::config::TextVariant::FullWidth => register.replace('(', "（").replace(')', "）"),
            _ => register.to_string(),
        };
        let shown = match drawn.ui.menu_items {
            MenuItemStyle::Input => format!("value=\"{register}\""),
            _ => format!(">{register}</a>"),
        };
        assert!(
            menu.has("お知らせ一覧") && menu.has(&shown),
            "seed {seed} ({drawn:?}): no menu with {shown} in {}",
            menu.body
        );
        assert!(
            menu.has("ログアウト"),
            "seed {seed}: the header is on the menu's page"
        );
        // The same session reaches a screen and logs out.
        assert!(v.b.get("/oqs/bulk/results").await.has("受付番号"));
        let out = v.post_from(&menu, "/oqs/logout", &[]).await;
        assert!(out.has("ログアウト"), "seed {seed}: {}", out.body);
        assert!(
            v.b.get("/oqs/menu").await.has("role=\"alert\""),
            "seed {seed}: logged out"
        );
        if drawn.ui.menu_opens_in == MenuOpensIn::Opener {
            structures.insert("opener".into());
        }
    }
    assert!(
        structures.len() >= 3,
        "the seeds should vary the structure: {structures:?}"
    );
}

#[test]
fn menu_labels_never_repeat_on_one_menu_under_any_seed() {
    for seed in 0..100 {
        let c = seeded(seed).resolved();
        for role in [Role::Master, Role::Admin, Role::MasterReset] {
            let (register, search) = c.ui.menu_labels.for_role(role);
            assert_ne!(register, search, "seed {seed}");
        }
    }
}

#[tokio::test]
async fn an_account_can_start_locked() {
    let sim = sim("admin-locked").await;
    let b = Browser::new(&sim);
    let page = b.login("OnsKANRI", "OnsAdmin@00369").await;
    assert!(
        page.has("アカウントがロックされています"),
        "the right password too"
    );
    let s = state(&sim).await;
    let admin = account(&s, "OnsKANRI").expect("admin");
    assert_eq!(
        (admin["locked"].as_bool(), admin["failed_logins"].as_u64()),
        (Some(true), Some(5))
    );
    // The master resets it, and that unlocks it.
    let m = Browser::new(&sim);
    m.login("H1311301", "r8Np3#vKs7Qd").await;
    m.change_password("Mst#Chosen2026x").await;
    let detail = m.get("/oqs/account/detail?uid=OnsKANRI").await;
    assert!(detail.has("<td>あり</td>") || detail.has(">あり<"));
    m.submit(&detail, "/oqs/account/reset", &[("uid", "OnsKANRI")])
        .await;
    let s = state(&sim).await;
    assert_eq!(account(&s, "OnsKANRI").expect("admin")["locked"], false);
}

#[tokio::test]
async fn counted_failures_and_disabled_accounts() {
    let sim = sim("last-attempt").await;
    let b = Browser::new(&sim);
    let page = b.login("H0130301R", "0000").await;
    assert!(page.has("アカウントがロックされました"), "one attempt was left");
    assert!(
        b.login("H0130301R", "8642")
            .await
            .has("アカウントがロックされています")
    );
    assert!(
        b.login("OnsKANRI", "OnsAdmin@00369")
            .await
            .has("このアカウントは無効です。")
    );
    let s = state(&sim).await;
    assert_eq!(account(&s, "OnsKANRI").expect("admin")["enabled"], false);
    assert_eq!(account(&s, "FOFACE01").expect("face")["failed_logins"], 3);
    // The counted failures were the scenario's; a success clears them.
    assert!(
        b.login("FOFACE01", "OnsAdmin@00369")
            .await
            .url
            .ends_with("/oqs/menu")
    );
    assert_eq!(
        account(&state(&sim).await, "FOFACE01").expect("face")["failed_logins"],
        0
    );
}

#[tokio::test]
async fn a_master_pdf_may_name_the_old_code() {
    let sim = sim("old-code-pdf").await;
    let text = pdftotext(&sim.master_pdf().expect("pdf"));
    assert!(text.contains("2310102344"), "{text}");
    assert!(!text.contains("2310105677"), "{text}");
    assert!(text.contains("H2310105") && text.contains("t5Wq8#mZr2Lx"));
}
