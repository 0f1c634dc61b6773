//! Simulator configuration: timings, the readings of the spec's 'Unknowns',
//! PDF fonts, mutual TLS and faults. Every field has a default, so a config
//! file names only what it changes.
//!
//! `[ui] vary = SEED` plays an unfamiliar portal: every `[ui]` switch the
//! file does not name is drawn from the seed (see `crate::vary`), and
//! `SimConfig::resolved` gives the config with those draws applied.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::SimError;
use crate::message::Message;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    pub site: SiteRules,
    pub delays: Delays,
    pub ui: UiVariants,
    pub pdf: PdfOptions,
    pub tls: TlsOptions,
    pub faults: Faults,
    /// The `[ui]` keys the file (or a patch) named: a seed leaves them alone.
    #[serde(skip)]
    pub pinned: Pinned,
}

/// Which `[ui]` keys were given explicitly. Bookkeeping for the seeded draw,
/// not part of what the config is: two configs with the same values are equal.
#[derive(Debug, Clone, Default)]
pub struct Pinned(pub BTreeSet<String>);

impl PartialEq for Pinned {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Pinned {
    pub fn contains(&self, key: &str) -> bool {
        self.0.contains(key)
    }
}

impl SimConfig {
    pub fn from_toml(text: &str) -> Result<Self, SimError> {
        let mut config: SimConfig = toml::from_str(text).map_err(|e| SimError::Config(e.to_string()))?;
        let table: toml::Table = toml::from_str(text).map_err(|e| SimError::Config(e.to_string()))?;
        config.pinned = ui_keys(table.get("ui").and_then(|v| v.as_table()).map(|t| t.keys()));
        Ok(config)
    }

    pub fn load(path: &std::path::Path) -> Result<Self, SimError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SimError::Config(format!("cannot read {}: {e}", path.display())))?;
        Self::from_toml(&text)
    }

    /// Applies a partial JSON object on top of this config (for `POST /__sim/config`).
    pub fn merged(&self, patch: &serde_json::Value) -> Result<Self, SimError> {
        let mut base = serde_json::to_value(self).map_err(|e| SimError::Config(e.to_string()))?;
        merge_json(&mut base, patch);
        let mut merged: SimConfig =
            serde_json::from_value(base).map_err(|e| SimError::Config(e.to_string()))?;
        let mut pinned = self.pinned.clone();
        pinned
            .0
            .extend(ui_keys(patch.get("ui").and_then(|v| v.as_object()).map(|o| o.keys())).0);
        merged.pinned = pinned;
        Ok(merged)
    }
}

fn ui_keys<'a>(keys: Option<impl Iterator<Item = &'a String>>) -> Pinned {
    Pinned(keys.map(|k| k.cloned().collect()).unwrap_or_default())
}

fn merge_json(base: &mut serde_json::Value, patch: &serde_json::Value) {
    match (base, patch) {
        (serde_json::Value::Object(b), serde_json::Value::Object(p)) => {
            for (k, v) in p {
                merge_json(b.entry(k.clone()).or_insert(serde_json::Value::Null), v);
            }
        }
        (b, p) => *b = p.clone(),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SiteRules {
    /// A session unused for this long is gone (by the simulator's clock).
    pub idle_timeout_secs: i64,
    pub upload_interval_secs: i64,
    /// Consecutive failed logins that lock an account.
    pub lockout_after: u32,
    /// Rows per page in アカウント管理(更新).
    pub page_size: usize,
    /// アカウント一括登録結果 reloads itself this often (its meta refresh).
    pub results_refresh_secs: u32,
}

impl Default for SiteRules {
    fn default() -> Self {
        Self {
            idle_timeout_secs: 1800,
            upload_interval_secs: 60,
            lockout_after: 5,
            page_size: 10,
            results_refresh_secs: 60,
        }
    }
}

/// The bulk registration lifecycle: 登録待ち for `queued_secs`, then 登録中
/// for `processing_secs`, then the final status.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Delays {
    pub queued_secs: i64,
    pub processing_secs: i64,
}

impl Default for Delays {
    fn default() -> Self {
        Self {
            queued_secs: 3,
            processing_secs: 5,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum MenuOpensIn {
    /// The login popup itself goes on to the menu.
    #[default]
    Popup,
    /// The popup sends its opener to the menu and closes itself.
    Opener,
}

/// How a one-button notice such as 「初期パスワードを変更してください。」 appears.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum NoticeStyle {
    #[default]
    Page,
    Modal,
    Alert,
}

/// How an OK / キャンセル confirmation appears.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ConfirmStyle {
    /// JavaScript `confirm()`.
    #[default]
    Confirm,
    /// An in-page modal dialog.
    Modal,
    /// No confirmation at all.
    None,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ButtonStyle {
    #[default]
    Button,
    /// `<input type=submit|button value=…>`
    Input,
    /// An `<a>` styled as a button.
    Link,
    /// `<a href="javascript:void(0)" onclick=…>`: a submit button submits its
    /// form by script (`form.submit()`, no submit event), as older systems do.
    Script,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum MenuItemStyle {
    #[default]
    Link,
    /// `<input type=button value=…>`: the text is in an attribute.
    Input,
    /// `<a href="javascript:void(0)" onclick=…>`: no address to follow.
    Script,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum LabelStyle {
    /// `<label for=…>` beside the input.
    #[default]
    Label,
    /// A `<th>` beside the `<td>` that holds the input.
    Th,
    /// A `<div>` with the label beside a `<div>` that holds the input or value:
    /// nothing links the two but their place.
    Div,
    /// Plain text: 「ラベル：値」, the label a text node before the input or value,
    /// read-only pairs on one line (`<p>機関コード：…　医療機関名：…</p>`).
    Text,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TextVariant {
    /// Brackets and spacing as the spec writes them: 登録完了(一部 ID 重複あり).
    #[default]
    Spec,
    /// Full-width brackets, no inner spaces: 登録完了（一部ID重複あり）, アカウント管理（更新）.
    FullWidth,
    /// As `spec`, but a file structure error reads 「登録失敗 (CSV形式エラー)」, as in
    /// the manual's own sample: a status the spec does not list.
    ManualSample,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum PasswordDisplay {
    /// The password is in the page, hidden behind ●●●●●● until 「パスワード表示」.
    #[default]
    Masked,
    /// The password is not in the page at all until 「パスワード表示」 fetches it.
    Absent,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum HeaderShows {
    /// The account's own name (管理アカウント).
    #[default]
    Name,
    /// The account's role (管理者, マスタアカウントユーザ).
    Role,
}

/// How a refusal (login refused, a policy breach, an upload or a registration
/// refused, a certificate not found) is told.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RefusalStyle {
    /// In the page, in an error box.
    #[default]
    Inline,
    /// A JavaScript `alert()` when the page loads, and nothing in the page.
    Alert,
}

/// The button on アカウント一括登録結果 that reloads the list.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ResultsButton {
    /// 「更新」, as the manual's text says.
    #[default]
    Update,
    /// 「確認」, as the manual's screenshot shows.
    Confirm,
}

/// The menu's labels for registration and search, from the manual's variants.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum MenuLabels {
    /// The master's menu with full-width brackets 「アカウント管理（登録）」, the
    /// others with half-width 「アカウント管理(登録)」, as the spec lists them.
    #[default]
    Spec,
    /// Half-width brackets on every menu.
    HalfWidth,
    /// Full-width brackets on every menu.
    FullWidth,
    /// Registration is 「アカウント管理更新 (登録)」 (工事手順⑦ ⑥).
    Koushin,
    /// Registration is 「アカウント管理」 and search 「アカウント管理(新)」, as the
    /// manual's listing of the 管理者's menu has them.
    New,
}

impl MenuLabels {
    /// The labels of アカウント管理's registration and search items on `role`'s menu.
    pub fn for_role(self, role: crate::model::Role) -> (&'static str, &'static str) {
        let spec = match role {
            crate::model::Role::Master => ("アカウント管理（登録）", "アカウント管理（更新）"),
            _ => ("アカウント管理(登録)", "アカウント管理(更新)"),
        };
        match self {
            MenuLabels::Spec => spec,
            MenuLabels::HalfWidth => ("アカウント管理(登録)", "アカウント管理(更新)"),
            MenuLabels::FullWidth => ("アカウント管理（登録）", "アカウント管理（更新）"),
            MenuLabels::Koushin => ("アカウント管理更新 (登録)", spec.1),
            MenuLabels::New => ("アカウント管理", "アカウント管理(新)"),
        }
    }
}

/// What follows the `_` in a 受付番号.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ReceiptSuffix {
    /// The uploader's ユーザID, as the spec reads the manual's sample.
    #[default]
    Uploader,
    /// The master's ユーザID, whoever uploaded (the manual's sample would fit).
    Master,
    /// A 13-digit number that names nobody.
    Opaque,
}

/// Whether the logged-in system is one page or frames.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Frames {
    #[default]
    None,
    /// `<frameset>`: a menu frame (the header with ログアウト on top of the
    /// menu) beside a content frame named `main`.
    Frameset,
    /// One page with the header and ログアウト, the menu and the content in two
    /// `<iframe>`s side by side.
    Iframes,
}

/// The pages' character encoding, and so the encoding of what forms post.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Charset {
    #[default]
    #[serde(rename = "utf-8")]
    Utf8,
    /// `text/html; charset=Shift_JIS`, the bytes in Shift-JIS; form posts and
    /// query strings are read as Shift-JIS too.
    #[serde(rename = "shift-jis")]
    ShiftJis,
}

/// The readings of the spec's 'Unknowns'. The defaults mix both kinds of
/// confirmation on purpose: logout uses `confirm()`, registration a modal.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct UiVariants {
    pub menu_opens_in: MenuOpensIn,
    pub initial_change_notice: NoticeStyle,
    pub change_done_notice: NoticeStyle,
    pub logout_confirm: ConfirmStyle,
    pub register_confirm: ConfirmStyle,
    pub bulk_confirm: ConfirmStyle,
    pub reset_confirm: ConfirmStyle,
    /// How 「登録完了」「受付番号は…」 after an upload appears.
    pub receipt_notice: NoticeStyle,
    pub buttons: ButtonStyle,
    pub menu_items: MenuItemStyle,
    pub labels: LabelStyle,
    pub texts: TextVariant,
    pub password_display: PasswordDisplay,
    pub header_shows: HeaderShows,
    /// Whether accounts from the bulk CSV must change their password at first login.
    pub bulk_accounts_must_change: bool,
    /// Whether a 管理者 sees the master account in アカウント管理(更新).
    pub admin_sees_master: bool,
    /// Screen texts shown differently (a label or a button renamed), for
    /// testing what a bot does when the portal changes a text.
    pub renames: BTreeMap<String, String>,
    /// Draw every switch this config does not name from this seed.
    pub vary: Option<u64>,
    /// Which wording of its pool each message the manual does not show takes
    /// (0, the first, when absent).
    pub wordings: BTreeMap<Message, usize>,
    pub refusals: RefusalStyle,
    /// Standing notes on form pages that use the words an outcome check
    /// looks for (ロック, 誤り, 完了, エラー, 失敗, 正しくありません).
    pub notes: bool,
    /// Forms answer with a 303 to a GET page that shows the result.
    pub post_redirect_get: bool,
    /// Each request waits a random 0..=this many milliseconds (seeded).
    pub jitter_ms: u64,
    /// アカウント管理(更新) shows the last search's table before 「検索」.
    pub search_shows_last: bool,
    pub results_button: ResultsButton,
    /// A 「アカウント管理」 dialog with its own OK after 「登録」 → OK, before the
    /// completion message.
    pub register_dialog: bool,
    pub menu_labels: MenuLabels,
    pub receipt_suffix: ReceiptSuffix,
    pub frames: Frames,
    pub charset: Charset,
    /// What a request of an expired session gets.
    pub session_end: SessionEnd,
    /// A slow page: busy for 400 ms at each press of the mouse, and what a
    /// click sets off (a form sent, a row opened, a dialog's OK) happens from
    /// a 300 ms timer, so the page stays as it was for a while after the click.
    pub slow_clicks: bool,
}

/// What the manual leaves open about a session that timed out.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SessionEnd {
    /// An error page with a link back to the top.
    #[default]
    ErrorPage,
    /// The login form again, with the time-out message above it.
    LoginForm,
}

impl Default for UiVariants {
    fn default() -> Self {
        Self {
            menu_opens_in: MenuOpensIn::Popup,
            initial_change_notice: NoticeStyle::Page,
            change_done_notice: NoticeStyle::Page,
            logout_confirm: ConfirmStyle::Confirm,
            register_confirm: ConfirmStyle::Modal,
            bulk_confirm: ConfirmStyle::Modal,
            reset_confirm: ConfirmStyle::None,
            receipt_notice: NoticeStyle::Modal,
            buttons: ButtonStyle::Button,
            menu_items: MenuItemStyle::Link,
            labels: LabelStyle::Label,
            texts: TextVariant::Spec,
            password_display: PasswordDisplay::Masked,
            header_shows: HeaderShows::Name,
            bulk_accounts_must_change: false,
            admin_sees_master: false,
            renames: Default::default(),
            vary: None,
            wordings: Default::default(),
            refusals: RefusalStyle::Inline,
            notes: false,
            post_redirect_get: false,
            jitter_ms: 0,
            search_shows_last: false,
            results_button: ResultsButton::Update,
            register_dialog: false,
            menu_labels: MenuLabels::Spec,
            receipt_suffix: ReceiptSuffix::Uploader,
            frames: Frames::None,
            charset: Charset::Utf8,
            session_end: SessionEnd::ErrorPage,
            slow_clicks: false,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum PdfFont {
    /// A subset of a TrueType font embedded as CIDFontType2, Identity-H, with a ToUnicode map.
    #[default]
    Embedded,
    /// Nothing embedded, no ToUnicode: the predefined CMap UniJIS-UCS2-H.
    UnijisUcs2,
    /// Nothing embedded, no ToUnicode: the predefined CMap UniJIS-UTF16-H.
    UnijisUtf16,
    /// Nothing embedded, no ToUnicode: Shift-JIS codes through 90ms-RKSJ-H.
    Rksj,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum DrawOrder {
    /// Label, then its value, row by row.
    #[default]
    Rows,
    /// Every label first, then every value: the drawing order says nothing of pairs.
    Columns,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PdfOptions {
    pub font: PdfFont,
    /// The TrueType font to embed; the first that exists of the usual Japanese fonts when unset.
    pub font_file: Option<std::path::PathBuf>,
    pub draw_order: DrawOrder,
    /// Draw each value in two text runs, as some generators do.
    pub split_values: bool,
    /// The label of the password row in a freshly issued PDF (パスワード, 初期パスワード, 初期後のパスワード).
    pub password_label: String,
    /// 利用環境 as printed.
    pub environment: String,
}

impl Default for PdfOptions {
    fn default() -> Self {
        Self {
            font: PdfFont::Embedded,
            font_file: None,
            draw_order: DrawOrder::Rows,
            split_values: false,
            password_label: "パスワード".to_string(),
            environment: "本番環境".to_string(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TlsOptions {
    /// Serve the オン資 web system over HTTPS on a second port and require a
    /// client certificate issued by the simulator's CA (the one site A issues from).
    pub mutual: bool,
    pub https_port: u16,
}

/// A trigger on the Nth request (1-based) to an exact path.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NthRequest {
    pub path: String,
    pub nth: u64,
}

/// A path the server answers slowly: to hold a client in a known place.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SlowPath {
    pub path: String,
    pub ms: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Added to every response of both sites.
    pub latency_ms: u64,
    pub http_500: Vec<NthRequest>,
    /// The session is dropped just before this request is handled.
    pub expire_session: Vec<NthRequest>,
    /// Every request to the path waits this long before it is handled (both sites' paths).
    pub slow: Vec<SlowPath>,
    /// Uploads never leave 登録中.
    pub stuck_processing: bool,
    /// Every upload ends in 登録失敗(システムエラー).
    pub system_error: bool,
    /// The first row of every upload is refused with this reason: a rule of the
    /// portal's input check that a client cannot know about beforehand.
    pub input_check_error: Option<String>,
    /// Both sites answer with a maintenance page.
    pub maintenance: bool,
    /// What the PDF of an issued password says of it.
    pub issued_pdf: IssuedPdf,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum IssuedPdf {
    /// The password the screen shows.
    #[default]
    AsShown,
    /// No password line at all.
    WithoutPassword,
    /// A password other than the one the screen shows (and the account has).
    Differs,
    /// The download fails with a server error.
    Withheld,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(
            SimConfig::from_toml("").expect("empty config"),
            SimConfig::default()
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = SimConfig::from_toml("[ui]\nmenu_opens = 'popup'\n").unwrap_err();
        assert!(err.to_string().contains("menu_opens"), "{err}");
    }

    #[test]
    fn merge_changes_only_what_is_named() {
        let base = SimConfig::default();
        let patch = serde_json::json!({"ui": {"buttons": "link"}, "faults": {"maintenance": true}});
        let merged = base.merged(&patch).expect("valid patch");
        assert_eq!(merged.ui.buttons, ButtonStyle::Link);
        assert!(merged.faults.maintenance);
        assert_eq!(merged.ui.labels, LabelStyle::Label);
    }
}
