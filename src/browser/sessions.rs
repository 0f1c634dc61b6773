//! The sessions this process holds on a remote WebDriver (a Selenium Grid),
//! so an interrupted run can end them. A Grid keeps a session nobody ended
//! until its own time-out, and the node's browser slot with it: the next job
//! would wait for a slot, or find none.

use std::sync::Mutex;
use std::time::Duration;

use thirtyfour::{SessionId, WebDriver};

static OPEN: Mutex<Vec<WebDriver>> = Mutex::new(Vec::new());

fn open() -> std::sync::MutexGuard<'static, Vec<WebDriver>> {
    // A panic elsewhere while the list was held leaves it as it was: still usable.
    OPEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A session began on a remote WebDriver.
pub(super) fn began(driver: &WebDriver) {
    open().push(driver.clone());
}

/// The session was ended the usual way.
pub(super) fn ended(id: &SessionId) {
    open().retain(|d| d.handle().session_id() != id);
}

/// How many remote sessions are open now.
pub fn open_count() -> usize {
    open().len()
}

/// Ends every remote session still open, each within `limit`; returns how
/// many the remote WebDriver confirmed ended.
pub async fn end_remote_sessions(limit: Duration) -> usize {
    let drivers: Vec<WebDriver> = std::mem::take(&mut *open());
    let mut ended = 0;
    for driver in drivers {
        let id = driver.handle().session_id().to_string();
        match tokio::time::timeout(limit, driver.quit()).await {
            Ok(Ok(())) => ended += 1,
            Ok(Err(e)) => {
                tracing::warn!(session = %id, error = %e, "the remote WebDriver did not end the session")
            }
            Err(_) => {
                tracing::warn!(session = %id, "the remote WebDriver did not answer the end of the session in time")
            }
        }
    }
    ended
}
