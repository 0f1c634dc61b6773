//! The simulator's one clock. Tests move it forward instead of waiting, so a
//! one-minute upload interval or a 60-day password expiry costs nothing.

use std::sync::Mutex;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::{Asia::Tokyo, Tz};

#[derive(Debug, Default)]
pub struct SimClock {
    offset: Mutex<Duration>,
}

impl SimClock {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + *self.lock()
    }

    /// Japan time: the portal's "today" is Tokyo's, whatever the host's zone.
    pub fn now_jst(&self) -> DateTime<Tz> {
        self.now().with_timezone(&Tokyo)
    }

    pub fn today_jst(&self) -> NaiveDate {
        self.now_jst().date_naive()
    }

    pub fn advance(&self, by: Duration) {
        *self.lock() += by;
    }

    /// Makes `now()` return `at` from this moment on (time keeps running).
    pub fn set(&self, at: DateTime<Utc>) {
        *self.lock() = at - Utc::now();
    }

    pub fn reset(&self) {
        *self.lock() = Duration::zero();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Duration> {
        // A poisoned offset is still a valid offset.
        self.offset.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_now_forward() {
        let clock = SimClock::new();
        let before = clock.now();
        clock.advance(Duration::days(61));
        assert!(clock.now() - before >= Duration::days(61));
    }

    #[test]
    fn set_then_reset() {
        let clock = SimClock::new();
        let target = DateTime::parse_from_rfc3339("2021-08-20T05:43:56Z")
            .expect("valid timestamp")
            .with_timezone(&Utc);
        clock.set(target);
        assert!((clock.now() - target).num_seconds().abs() < 5);
        assert_eq!(clock.today_jst().to_string(), "2021-08-20");
        clock.reset();
        assert!((clock.now() - Utc::now()).num_seconds().abs() < 5);
    }
}
