//! Why a step found a screen it did not expect, when the portal rather than the
//! flow is the cause: an HTTP error, maintenance, or a session that ended.
//!
//! This only refines a failure that already happened; no step's success is ever
//! decided here. The evidence is what changed or what the protocol says: the
//! HTTP status of the screen's documents, the page's own title and top
//! headings (not its notes), and a login form that was not on the screen
//! before the last action.

use crate::browser::PageDiagnosis;

/// The portal could not go on; running the same job again later can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortalFault {
    /// The portal answered with a server error instead of the next screen.
    ServerError { status: u16, title: Option<String> },
    /// The portal shows a maintenance page.
    Maintenance { title: String },
    /// The login form came back where the flow expected another screen.
    SessionEnded,
}

impl PortalFault {
    /// What the engineer reads, and what to do.
    pub fn explain(&self) -> String {
        match self {
            PortalFault::ServerError { status, title } => {
                let shown = title.as_deref().map(|t| format!(" 「{t}」")).unwrap_or_default();
                format!(
                    "the portal answered with a server error (HTTP {status}{shown}) instead of the next screen. Run the same job again later: it continues where it stopped"
                )
            }
            PortalFault::Maintenance { title } => format!(
                "the portal is under maintenance (「{title}」). Run the same job again once the maintenance is over: it continues where it stopped"
            ),
            PortalFault::SessionEnded => "the portal showed its login form instead of the next screen: the session ended (it timed out, or the same user logged in elsewhere). Run the same job again: it logs in again and continues where it stopped".into(),
        }
    }
}

/// The manual's word for a maintenance page.
const MAINTENANCE: &str = "メンテナンス";

/// The screen before the last action, as far as the diagnosis needs it.
#[derive(Debug, Clone, Default)]
pub struct ScreenBefore {
    pub login_form: bool,
    pub titles: Vec<String>,
}

/// The portal's fault behind an unexpected screen, if the evidence shows one.
/// `before` is the screen before the last action; `None` when that is not
/// known (right after a page was opened). A maintenance heading counts only
/// if it is new: 「メンテナンスのお知らせ」 standing on a page is news, not an answer.
pub fn portal_fault(page: &PageDiagnosis, before: Option<&ScreenBefore>) -> Option<PortalFault> {
    if let Some(title) = page
        .titles
        .iter()
        .find(|t| t.contains(MAINTENANCE) && !before.is_some_and(|b| b.titles.contains(t)))
    {
        return Some(PortalFault::Maintenance { title: title.clone() });
    }
    if page.status >= 500 {
        return Some(PortalFault::ServerError {
            status: page.status,
            title: page.titles.first().cloned(),
        });
    }
    if page.login && before.is_some_and(|b| !b.login_form) {
        return Some(PortalFault::SessionEnded);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn before(login_form: bool, titles: &[&str]) -> Option<ScreenBefore> {
        Some(ScreenBefore {
            login_form,
            titles: titles.iter().map(|t| t.to_string()).collect(),
        })
    }

    fn page(status: u16, titles: &[&str], login: bool) -> PageDiagnosis {
        PageDiagnosis {
            status,
            titles: titles.iter().map(|t| t.to_string()).collect(),
            login,
        }
    }

    #[test]
    fn a_server_error_is_the_portals_fault_whatever_the_page_says() {
        assert_eq!(
            portal_fault(
                &page(500, &["システムエラー"], false),
                before(false, &[]).as_ref()
            ),
            Some(PortalFault::ServerError {
                status: 500,
                title: Some("システムエラー".into())
            })
        );
        assert_eq!(
            portal_fault(&page(502, &[], false), None),
            Some(PortalFault::ServerError {
                status: 502,
                title: None
            })
        );
    }

    #[test]
    fn a_maintenance_heading_is_maintenance_even_with_status_200() {
        let fault = portal_fault(
            &page(200, &["オンライン資格確認", "メンテナンス中"], false),
            before(false, &["オンライン資格確認", "メニュー"]).as_ref(),
        );
        assert_eq!(
            fault,
            Some(PortalFault::Maintenance {
                title: "メンテナンス中".into()
            })
        );
        assert!(
            fault
                .map(|f| f.explain())
                .unwrap_or_default()
                .contains("メンテナンス中")
        );
    }

    #[test]
    fn the_login_form_is_an_ended_session_only_if_it_is_new() {
        assert_eq!(
            portal_fault(
                &page(200, &["ログイン"], true),
                before(false, &["メニュー"]).as_ref()
            ),
            Some(PortalFault::SessionEnded)
        );
        // A refused login leaves the form where it was: that is the flow's to judge.
        assert_eq!(
            portal_fault(
                &page(200, &["ログイン"], true),
                before(true, &["ログイン"]).as_ref()
            ),
            None
        );
        assert_eq!(portal_fault(&page(200, &["ログイン"], true), None), None);
    }

    #[test]
    fn an_ordinary_screen_is_nobodys_fault_here() {
        let menu = before(false, &["メニュー"]);
        assert_eq!(
            portal_fault(&page(200, &["アカウント管理"], false), menu.as_ref()),
            None
        );
        assert_eq!(portal_fault(&page(0, &[], false), menu.as_ref()), None);
        assert_eq!(
            portal_fault(&page(404, &["Not Found"], false), menu.as_ref()),
            None
        );
    }
}
