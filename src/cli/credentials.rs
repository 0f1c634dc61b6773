use std::io::Write;
use std::process::ExitCode;

use crate::job::outcome::Exit;

use super::CredentialsAction;

/// `oqsbot credentials`: the hand-over sheet, or one password at a terminal.
pub(super) fn credentials(action: CredentialsAction, out: &mut dyn Write) -> ExitCode {
    use crate::job::handover;
    use std::io::IsTerminal;
    let load = |path: &std::path::Path| crate::job::JobFile::load(path).map_err(|e| e.to_string());
    let result = match action {
        CredentialsAction::Sheet { job, output } => load(&job).and_then(|job| {
            let path = handover::write_sheet(&job, output.as_deref()).map_err(|e| e.to_string())?;
            let _ = writeln!(
                out,
                "機密: アカウントとパスワードの引き渡し票を書きました (本人のみ読み書き可): {}\n印刷してお客様にお渡ししたら、このファイルを削除してください。\nsecret: the hand-over sheet with every password: {}; print it, then delete it",
                path.display(),
                path.display()
            );
            Ok(())
        }),
        CredentialsAction::Show { job, user_id } => {
            // Never into a file, a pipe or a terminal log someone reads later.
            if !std::io::stdout().is_terminal() {
                Err("oqsbot credentials show prints a password only to a terminal, not into a file or a pipe; for paper, use oqsbot credentials sheet".to_string())
            } else {
                load(&job).and_then(|job| {
                    let password = handover::password_of(&job, &user_id).map_err(|e| e.to_string())?;
                    let _ = writeln!(out, "{user_id}: {}", password.expose());
                    Ok(())
                })
            }
        }
    };
    match result {
        Ok(()) => Exit::Done.into(),
        Err(e) => {
            eprintln!("oqsbot: {e}");
            Exit::Input.into()
        }
    }
}
