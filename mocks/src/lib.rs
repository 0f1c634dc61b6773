//! A stateful simulator of the two sites an オンライン資格確認 terminal's
//! succession work goes through: the certificate download site (site A) and
//! the オンライン資格確認等システム web system (site B).
//!
//! It is a real web application that a real browser drives. Its screens carry
//! the field manual's texts to the character, it enforces the portal's rules on
//! the server side, and a config switches between the readings of everything
//! the manual leaves open. Endpoints under `/__sim/` exist for tests only.

pub mod bulk;
pub mod clock;
pub mod config;
mod control;
mod html;
pub mod pdf;
pub mod pki;
pub mod policy;
pub mod scenario;
mod server;
mod site_a;
mod site_b;
pub mod state;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

pub use config::SimConfig;
pub use scenario::Scenario;
pub use server::{RunningSim, start};

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("simulator config: {0}")]
    Config(String),
    #[error("{0}")]
    Scenario(String),
    #[error("simulator certificates: {0}")]
    Pki(String),
    #[error("simulator PDF: {0}")]
    Pdf(String),
    #[error("simulator I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// Everything the handlers share.
pub(crate) struct App {
    pub scenario: Scenario,
    pub clock: clock::SimClock,
    config: RwLock<SimConfig>,
    state: Mutex<state::SimState>,
    pub pki: pki::Pki,
    fonts: Mutex<HashMap<PathBuf, Arc<Vec<u8>>>>,
}

impl App {
    pub fn new(scenario: Scenario, config: SimConfig) -> Result<Self, SimError> {
        let clock = clock::SimClock::new();
        let pki = pki::Pki::new(clock.today_jst())?;
        let state = state::SimState::from_scenario(&scenario, clock.now(), clock.today_jst());
        Ok(Self {
            scenario,
            clock,
            config: RwLock::new(config),
            state: Mutex::new(state),
            pki,
            fonts: Mutex::new(HashMap::new()),
        })
    }

    pub fn config(&self) -> SimConfig {
        self.config.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_config(&self, config: SimConfig) {
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = config;
    }

    /// The state, with every upload whose time has come already finished.
    pub fn state(&self) -> MutexGuard<'_, state::SimState> {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        guard.settle_uploads(self.clock.now(), &self.config(), self.clock.today_jst());
        guard
    }

    pub fn reset(&self) {
        self.clock.reset();
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
            institution_code: s.institution.code.clone(),
            user_id: s.master.user_id.clone(),
            user_name: s.master.name.clone(),
            password: shows.then(|| s.master.password.clone()),
            password_expires: shows.then(|| today + chrono::Duration::days(policy::EXPIRY_DAYS)),
            reset_user_id: Some(s.reset_user_id()),
            subtitle: Some("【マスタアカウント情報】".to_string()),
        })
    }
}
