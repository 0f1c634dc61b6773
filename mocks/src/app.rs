//! The state every handler shares: the scenario, the clock, the config in
//! effect, the accounts, and the certificate authority.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use crate::config::{self, SimConfig};
use crate::error::SimError;
use crate::scenario::Scenario;
use crate::{clock, pdf, pki, policy, state, vary};

/// Everything the handlers share.
pub(crate) struct App {
    pub scenario: Scenario,
    pub clock: clock::SimClock,
    /// The config as given, and as resolved (what the handlers follow).
    config: RwLock<(SimConfig, SimConfig)>,
    state: Mutex<state::SimState>,
    /// Per-request latency jitter, drawn from the seed.
    jitter: Mutex<vary::SplitMix64>,
    pub pki: pki::Pki,
    fonts: Mutex<HashMap<PathBuf, Arc<Vec<u8>>>>,
}

impl App {
    pub fn new(scenario: Scenario, config: SimConfig) -> Result<Self, SimError> {
        let clock = clock::SimClock::new();
        let pki = pki::Pki::new(clock.today_jst())?;
        let state = state::SimState::from_scenario(&scenario, clock.now(), clock.today_jst());
        let jitter = vary::SplitMix64::new(config.ui.vary.unwrap_or(0));
        let resolved = config.resolved();
        Ok(Self {
            scenario,
            clock,
            config: RwLock::new((config, resolved)),
            state: Mutex::new(state),
            jitter: Mutex::new(jitter),
            pki,
            fonts: Mutex::new(HashMap::new()),
        })
    }

    /// The config in effect: the seed's draws applied.
    pub fn config(&self) -> SimConfig {
        self.config.read().unwrap_or_else(|e| e.into_inner()).1.clone()
    }

    /// The config as given, for patches to apply to.
    pub fn given_config(&self) -> SimConfig {
        self.config.read().unwrap_or_else(|e| e.into_inner()).0.clone()
    }

    pub fn set_config(&self, config: SimConfig) {
        let resolved = config.resolved();
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = (config, resolved);
    }

    /// This request's latency jitter, in milliseconds.
    pub fn jitter_ms(&self, max: u64) -> u64 {
        self.jitter.lock().unwrap_or_else(|e| e.into_inner()).up_to(max)
    }

    /// The state, with every upload whose time has come already finished.
    pub fn state(&self) -> MutexGuard<'_, state::SimState> {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        guard.settle_uploads(self.clock.now(), &self.config(), self.clock.today_jst());
        guard
    }

    pub fn reset(&self) {
        self.clock.reset();
        let seed = self.given_config().ui.vary.unwrap_or(0);
        *self.jitter.lock().unwrap_or_else(|e| e.into_inner()) = vary::SplitMix64::new(seed);
        let fresh = state::SimState::from_scenario(&self.scenario, self.clock.now(), self.clock.today_jst());
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
    }

    /// A ユーザ設定情報 PDF in the configured font mode.
    pub fn render_pdf(&self, notice: &pdf::CredentialNotice) -> Result<Vec<u8>, SimError> {
        let config = self.config();
        let font = match config.pdf.font {
            config::PdfFont::Embedded => Some(self.font(config.pdf.font_file.as_deref())?),
            _ => None,
        };
        pdf::render(notice, &config.pdf, font.as_deref().map(|v| v.as_slice()))
    }

    fn font(&self, configured: Option<&std::path::Path>) -> Result<Arc<Vec<u8>>, SimError> {
        let path = pdf::find_font(configured)?;
        let mut fonts = self.fonts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(data) = fonts.get(&path) {
            return Ok(data.clone());
        }
        let data = Arc::new(
            std::fs::read(&path)
                .map_err(|e| SimError::Pdf(format!("cannot read font {}: {e}", path.display())))?,
        );
        fonts.insert(path, data.clone());
        Ok(data)
    }

    /// The master's ユーザ設定情報 PDF as the 医療機関等向けポータルサイト gives it.
    pub fn master_pdf(&self) -> Result<Vec<u8>, SimError> {
        let s = &self.scenario;
        let today = self.clock.today_jst();
        let shows = s.master.pdf_shows_password;
        self.render_pdf(&pdf::CredentialNotice {
            issued: today,
            postal_code: s.institution.postal_code.clone(),
            address: s.institution.address.clone(),
            institution_name: s.institution.name.clone(),
            institution_code: s
                .master
                .pdf_institution_code
                .clone()
                .unwrap_or_else(|| s.institution.code.clone()),
            user_id: s.master.user_id.clone(),
            user_name: s.master.name.clone(),
            password: shows.then(|| s.master.password.clone()),
            password_expires: shows.then(|| today + chrono::Duration::days(policy::EXPIRY_DAYS)),
            reset_user_id: Some(s.reset_user_id()),
            subtitle: Some("【マスタアカウント情報】".to_string()),
        })
    }
}
