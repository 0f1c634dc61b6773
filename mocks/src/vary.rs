//! The seeded portal: `[ui] vary = SEED` draws every `[ui]` switch the config
//! does not name. Each switch is drawn from the seed and its own key alone, so
//! naming one switch never changes what the seed draws for another, and the
//! same seed gives the same portal in every build (the generator is written
//! out here, not taken from a crate that may change its stream).
//!
//! Rules (password policy, lockout, CSRF, the upload interval, Shift-JIS CSV,
//! the 登録状況 lifecycle), timings, PDFs and faults are never drawn.

use crate::config::{
    ButtonStyle, Charset, ConfirmStyle, Frames, HeaderShows, LabelStyle, MenuItemStyle, MenuLabels,
    MenuOpensIn, NoticeStyle, PasswordDisplay, ReceiptSuffix, RefusalStyle, ResultsButton, SessionEnd,
    SimConfig, TextVariant,
};
use crate::message::Message;
use crate::wording;

/// SplitMix64: small, fast, and fixed forever.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..=max`.
    pub fn up_to(&mut self, max: u64) -> u64 {
        match max.checked_add(1) {
            Some(n) => self.next_u64() % n,
            None => self.next_u64(),
        }
    }
}

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// One choice among `options` for `key` under `seed`.
fn pick<T: Copy>(seed: u64, key: &str, options: &[T]) -> T {
    let mut rng = SplitMix64::new(seed ^ fnv1a(key));
    options[(rng.next_u64() % options.len() as u64) as usize]
}

// Beside its resolver rather than in config.rs, so the config need not import this module.
impl SimConfig {
    /// The config with the seed's draws applied to every `[ui]` switch it does
    /// not pin; without `[ui] vary`, the config itself.
    pub fn resolved(&self) -> SimConfig {
        resolve(self)
    }
}

pub fn resolve(config: &SimConfig) -> SimConfig {
    let mut out = config.clone();
    let Some(seed) = config.ui.vary else {
        return out;
    };
    let free = |key: &str| !config.pinned.contains(key);
    let ui = &mut out.ui;

    macro_rules! draw {
        ($field:ident, $options:expr) => {
            if free(stringify!($field)) {
                ui.$field = pick(seed, stringify!($field), &$options);
            }
        };
    }
    use ConfirmStyle as C;
    use NoticeStyle as N;
    draw!(menu_opens_in, [MenuOpensIn::Popup, MenuOpensIn::Opener]);
    draw!(session_end, [SessionEnd::ErrorPage, SessionEnd::LoginForm]);
    draw!(initial_change_notice, [N::Page, N::Modal, N::Alert]);
    draw!(change_done_notice, [N::Page, N::Modal, N::Alert]);
    draw!(logout_confirm, [C::Confirm, C::Modal]);
    draw!(register_confirm, [C::Confirm, C::Modal]);
    draw!(bulk_confirm, [C::Confirm, C::Modal]);
    draw!(reset_confirm, [C::Confirm, C::Modal, C::None]);
    draw!(receipt_notice, [N::Page, N::Modal, N::Alert]);
    draw!(
        buttons,
        [
            ButtonStyle::Button,
            ButtonStyle::Input,
            ButtonStyle::Link,
            ButtonStyle::Script
        ]
    );
    draw!(
        menu_items,
        [MenuItemStyle::Link, MenuItemStyle::Input, MenuItemStyle::Script]
    );
    draw!(
        labels,
        [
            LabelStyle::Label,
            LabelStyle::Th,
            LabelStyle::Div,
            LabelStyle::Text
        ]
    );
    draw!(
        texts,
        [
            TextVariant::Spec,
            TextVariant::FullWidth,
            TextVariant::ManualSample
        ]
    );
    draw!(
        password_display,
        [PasswordDisplay::Masked, PasswordDisplay::Absent]
    );
    draw!(header_shows, [HeaderShows::Name, HeaderShows::Role]);
    draw!(bulk_accounts_must_change, [false, true]);
    draw!(admin_sees_master, [false, true]);
    draw!(refusals, [RefusalStyle::Inline, RefusalStyle::Alert]);
    draw!(notes, [false, true]);
    draw!(post_redirect_get, [false, true]);
    draw!(jitter_ms, [0, 300]);
    draw!(search_shows_last, [false, true]);
    draw!(results_button, [ResultsButton::Update, ResultsButton::Confirm]);
    draw!(register_dialog, [false, true]);
    draw!(slow_clicks, [false, true]);
    draw!(
        menu_labels,
        [
            MenuLabels::Spec,
            MenuLabels::HalfWidth,
            MenuLabels::FullWidth,
            MenuLabels::Koushin,
            MenuLabels::New
        ]
    );
    draw!(
        receipt_suffix,
        [
            ReceiptSuffix::Uploader,
            ReceiptSuffix::Master,
            ReceiptSuffix::Opaque
        ]
    );
    // The older system's structure, a little less often than not.
    draw!(
        frames,
        [Frames::None, Frames::None, Frames::Frameset, Frames::Iframes]
    );
    draw!(charset, [Charset::Utf8, Charset::Utf8, Charset::ShiftJis]);
    // Each message on its own; a wording the config names stays.
    for message in Message::ALL {
        let key = format!("wordings.{}", message.key());
        let len = wording::pool(message).len();
        ui.wordings
            .entry(message)
            .or_insert_with(|| pick(seed, &key, &(0..len).collect::<Vec<_>>()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_seed_changes_nothing() {
        let c = SimConfig::from_toml("[ui]\nbuttons = \"link\"\n").expect("config");
        assert_eq!(c.resolved(), c);
        assert_eq!(SimConfig::default().resolved(), SimConfig::default());
    }

    #[test]
    fn a_named_switch_stays_and_leaves_the_others_alone() {
        let free = SimConfig::from_toml("[ui]\nvary = 11\n")
            .expect("config")
            .resolved();
        let pinned =
            SimConfig::from_toml("[ui]\nvary = 11\nlabels = \"th\"\n[ui.wordings]\nlogin-refused = 3\n")
                .expect("config")
                .resolved();
        assert_eq!(pinned.ui.labels, LabelStyle::Th);
        assert_eq!(pinned.ui.wordings[&Message::LoginRefused], 3);
        assert_eq!(pinned.ui.buttons, free.ui.buttons);
        assert_eq!(pinned.ui.frames, free.ui.frames);
        assert_eq!(
            pinned.ui.wordings[&Message::LockedNow],
            free.ui.wordings[&Message::LockedNow]
        );
    }

    #[test]
    fn resolving_twice_changes_nothing() {
        let once = SimConfig::from_toml("[ui]\nvary = 5\n")
            .expect("config")
            .resolved();
        assert_eq!(once.resolved(), once);
    }

    #[test]
    fn every_value_of_every_switch_comes_up_over_many_seeds() {
        let mut frames = std::collections::BTreeSet::new();
        let mut labels = std::collections::BTreeSet::new();
        let mut charsets = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let mut c = SimConfig::default();
            c.ui.vary = Some(seed);
            let r = c.resolved();
            frames.insert(format!("{:?}", r.ui.frames));
            labels.insert(format!("{:?}", r.ui.labels));
            charsets.insert(format!("{:?}", r.ui.charset));
        }
        assert_eq!(frames.len(), 3);
        assert_eq!(labels.len(), 4);
        assert_eq!(charsets.len(), 2);
    }

    #[test]
    fn jitter_stays_in_range() {
        let mut rng = SplitMix64::new(3);
        assert!((0..1000).all(|_| rng.up_to(300) <= 300));
    }
}
