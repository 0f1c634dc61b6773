//! What the portal answered a flow with, as the flow file names it. The run
//! decides on these, never on the words of an error message.

use super::journal::JournalError;
use super::store::StoreError;
use crate::flow::{FailureKind, FlowError};

/// oqsbot's exit codes, as the README lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything asked for is done.
    Done = 0,
    /// A check found a problem, or a job of a batch did not finish.
    Failed = 1,
    /// Bad input: the job file, a secret, an option. Nothing was started.
    Input = 2,
    /// The portal refused.
    Refused = 3,
    /// The portal did not answer in time.
    TimedOut = 4,
    /// A person must look before the same job runs again.
    NeedsPerson = 5,
    /// The browser, its driver or the output folder failed.
    Broken = 6,
    /// The portal could not go on for now.
    Unavailable = 7,
    /// Ctrl-C.
    Interrupted = 130,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Refused(String),
    /// A flow ended in an outcome it named; the run decides on `answer`.
    #[error("{message}")]
    Answered { answer: PortalAnswer, message: String },
    #[error("{0}")]
    TimedOut(String),
    #[error("{0}")]
    NeedsPerson(String),
    /// The portal could not go on (a server error, maintenance, an ended
    /// session); the same job, run again, continues. `in_doubt`: the failing
    /// flow had already clicked a step that must not be repeated.
    #[error("{message}")]
    Unavailable { message: String, in_doubt: bool },
    /// The browser's driver stopped answering. A fresh browser continues from
    /// the journal, as a rerun does; `in_doubt` as for `Unavailable`.
    #[error("{message}")]
    BrowserLost { message: String, in_doubt: bool },
    #[error("{0}")]
    Browser(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// Another oqsbot works in the output folder.
    #[error(transparent)]
    Lock(#[from] super::lock::LockError),
}

impl RunError {
    /// The exit code the README lists for this outcome.
    pub fn exit(&self) -> Exit {
        match self {
            RunError::Input(_) => Exit::Input,
            RunError::Refused(_) => Exit::Refused,
            RunError::Answered { answer, .. } => match answer {
                PortalAnswer::Locked => Exit::NeedsPerson,
                PortalAnswer::Refused | PortalAnswer::Other(_) => Exit::Refused,
            },
            RunError::TimedOut(_) => Exit::TimedOut,
            RunError::NeedsPerson(_) => Exit::NeedsPerson,
            RunError::Unavailable { .. } => Exit::Unavailable,
            RunError::BrowserLost { .. }
            | RunError::Browser(_)
            | RunError::Store(_)
            | RunError::Journal(_)
            | RunError::Lock(_) => Exit::Broken,
        }
    }

    pub fn exit_code(&self) -> u8 {
        self.exit().code()
    }

    /// What the technician does next, in Japanese, for the run's last lines.
    pub fn next_step_ja(&self) -> &'static str {
        match self.exit() {
            Exit::Input => {
                "入力に誤りがあります。上のメッセージのとおりジョブファイルや秘密情報を直してから、同じジョブをもう一度実行してください (ブラウザは起動していません)。"
            }
            Exit::Refused => "ポータルが拒否しました。上のメッセージとレポートを確認してください。",
            Exit::TimedOut => {
                "ポータルの応答待ちで時間切れになりました。時間をおいて同じジョブをもう一度実行すると、続きから再開します。"
            }
            Exit::NeedsPerson => {
                "担当者の確認が必要です。上のメッセージのとおり対応してから、同じジョブをもう一度実行すると続きから再開します。"
            }
            Exit::Unavailable => {
                "ポータルが一時的に使えません。時間をおいて同じジョブをもう一度実行すると、続きから再開します。"
            }
            _ => {
                "ブラウザ・ドライバ・出力フォルダのいずれかで問題が起きました。上のメッセージを確認し、同じジョブをもう一度実行すると続きから再開します。"
            }
        }
    }

    pub fn from_flow(e: Box<FlowError>) -> Self {
        let text = e.to_string();
        let in_doubt = e.acted_irreversibly;
        if let Some(outcome) = &e.outcome {
            return RunError::Answered {
                answer: PortalAnswer::parse(outcome),
                message: text,
            };
        }
        match e.kind {
            FailureKind::Refused => RunError::Refused(text),
            FailureKind::Timeout => RunError::TimedOut(text),
            FailureKind::NotFound => RunError::NeedsPerson(format!(
                "the screen is not what the flow expects; look at the screenshot, and fix the flow file if the portal changed: {text}"
            )),
            FailureKind::Browser => RunError::Browser(text),
            FailureKind::Input => RunError::Input(text),
            FailureKind::Unavailable | FailureKind::SessionEnded => RunError::Unavailable {
                message: text,
                in_doubt,
            },
            FailureKind::BrowserLost => RunError::BrowserLost {
                message: text,
                in_doubt,
            },
        }
    }
}

/// A flow's named outcome (`outcome = "…"` on its `fail` step).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortalAnswer {
    /// The portal said no: a login, a password, a registration, an upload.
    Refused,
    /// The account is locked.
    Locked,
    /// An outcome a flow file names that the run has no rule for.
    Other(String),
}

impl PortalAnswer {
    pub fn parse(name: &str) -> Self {
        match name.trim() {
            "refused" => PortalAnswer::Refused,
            "locked" => PortalAnswer::Locked,
            other => PortalAnswer::Other(other.to_string()),
        }
    }
}

/// Login attempts the portal says are left, when its refusal says so
/// (「あと2回」, 「残り2回」). A hint: the wording is not known, so a refusal
/// without such a number says nothing.
pub fn attempts_left(answer: &str) -> Option<u32> {
    let folded = crate::portal::text::normalize(answer);
    for marker in ["あと", "残り"] {
        let mut rest = folded.as_str();
        while let Some(i) = rest.find(marker) {
            let after = &rest[i + marker.len()..];
            let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
            if !digits.is_empty() && after[digits.len()..].starts_with('回') {
                return digits.parse().ok();
            }
            rest = after;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_by_name() {
        assert_eq!(PortalAnswer::parse("refused"), PortalAnswer::Refused);
        assert_eq!(PortalAnswer::parse("locked"), PortalAnswer::Locked);
        assert_eq!(
            PortalAnswer::parse("exists"),
            PortalAnswer::Other("exists".into())
        );
    }

    #[test]
    fn attempts_left_from_the_portal_wording() {
        assert_eq!(
            attempts_left("パスワードが違います。あと２回失敗するとロックされます。"),
            Some(2)
        );
        assert_eq!(attempts_left("ログインできません（残り 1 回）"), Some(1));
        assert_eq!(attempts_left("ユーザIDまたはパスワードが正しくありません"), None);
        assert_eq!(attempts_left("あとで再度お試しください。3回"), None);
    }
}
