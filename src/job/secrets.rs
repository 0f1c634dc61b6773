//! Where a job's secrets come from: an environment variable the job names, a
//! file only its owner can read, or the terminal. Never the job file itself.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::secret::Secret;

/// Where the job says one secret is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretRef {
    pub env: Option<String>,
    pub file: Option<PathBuf>,
}

impl SecretRef {
    pub fn new(env: &Option<String>, file: &Option<PathBuf>) -> Self {
        Self {
            env: env.clone(),
            file: file.clone(),
        }
    }

    pub fn is_given(&self) -> bool {
        self.env.is_some() || self.file.is_some()
    }
}

/// Resolves secrets: values a caller gives (the demo), then the environment and
/// files, then, when a person is at the terminal, a prompt.
#[derive(Default, Clone)]
pub struct SecretSource {
    pub given: HashMap<String, Secret>,
    /// Ask at the terminal for a secret that is not given.
    pub prompt: bool,
    /// What was answered at the terminal: asked once per process, so a run
    /// that starts again by itself never waits on the prompt a second time.
    answered: std::sync::Arc<std::sync::Mutex<HashMap<String, Secret>>>,
}

impl SecretSource {
    /// Prompts only if standard input is a terminal: an unattended run never waits on one.
    pub fn from_terminal() -> Self {
        Self {
            prompt: std::io::stdin().is_terminal(),
            ..Self::default()
        }
    }

    pub fn with_given(given: HashMap<String, Secret>) -> Self {
        Self {
            given,
            ..Self::default()
        }
    }

    /// The secret `r` names; `Ok(None)` when the job names no source and no prompt is possible.
    /// `key` is the job's name for it, like `[certificate] password`.
    pub fn resolve(&self, r: &SecretRef, key: &str, what: &str) -> Result<Option<Secret>, String> {
        if let Some(path) = &r.file {
            return read_owner_only(path)
                .map(Some)
                .map_err(|e| format!("{key}_file: {e}"));
        }
        if let Some(var) = &r.env {
            if let Some(s) = self
                .given
                .get(var)
                .cloned()
                .or_else(|| std::env::var(var).ok().filter(|v| !v.is_empty()).map(Secret::new))
            {
                return Ok(Some(s));
            }
            if self.prompt {
                return self.ask(what).map(Some);
            }
            return Err(format!(
                "{key}_env: the environment variable {var} is not set; export it before the run, or name a file with {key}_file"
            ));
        }
        if self.prompt {
            return self.ask(what).map(Some);
        }
        Ok(None)
    }

    /// Asks at the terminal, without echo; once per process for each `what`.
    pub fn ask(&self, what: &str) -> Result<Secret, String> {
        let mut answered = self.answered.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(known) = answered.get(what) {
            return Ok(known.clone());
        }
        let value = rpassword::prompt_password(format!("{what}: "))
            .map_err(|e| format!("cannot read {what} from the terminal: {e}"))?;
        if value.is_empty() {
            return Err(format!("{what}: nothing was entered"));
        }
        let secret = Secret::new(value);
        answered.insert(what.to_string(), secret.clone());
        Ok(secret)
    }
}

/// A secret kept in a file: refused unless only its owner may read it, so it
/// cannot have been seen by another user of the machine.
pub fn read_owner_only(path: &Path) -> Result<Secret, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{} is not a file", path.display()));
    }
    if let Some(exposed) =
        crate::owner_only::exposure(path).map_err(|e| format!("{}: {e}", path.display()))?
    {
        return Err(format!(
            "{} can be read by other users ({}): run `{}` and check who has seen it",
            path.display(),
            exposed.detail,
            exposed.fix
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: {e} (the file must be UTF-8 text)", path.display()))?;
    let value = text.trim_end_matches(['\r', '\n']);
    if value.is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    if value.contains(['\r', '\n']) {
        return Err(format!("{} must hold one line: the secret alone", path.display()));
    }
    Ok(Secret::new(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &Path, text: &str, mode: u32) -> PathBuf {
        let p = dir.join("secret");
        std::fs::write(&p, text).expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
        }
        #[cfg(not(unix))]
        if mode & 0o077 == 0 {
            crate::owner_only::restrict(&p).expect("owner only");
        } else {
            crate::owner_only::expose_for_test(&p).expect("expose");
        }
        p
    }

    #[test]
    fn an_owner_only_file_gives_its_one_line() {
        let dir = tempfile::tempdir().expect("dir");
        let p = file(dir.path(), "1357\n", 0o600);
        assert_eq!(read_owner_only(&p).expect("read").expose(), "1357");
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_can_read_is_refused_without_showing_it() {
        let dir = tempfile::tempdir().expect("dir");
        let p = file(dir.path(), "Secret#Value2026\n", 0o644);
        let err = read_owner_only(&p).expect_err("refused");
        assert!(err.contains("chmod 600") && err.contains("644"), "{err}");
        assert!(!err.contains("Secret#Value2026"));
    }

    #[cfg(windows)]
    #[test]
    fn a_file_others_can_read_is_refused_with_the_icacls_fix() {
        let dir = tempfile::tempdir().expect("dir");
        let p = file(dir.path(), "Secret#Value2026\n", 0o644);
        let err = read_owner_only(&p).expect_err("refused");
        assert!(err.contains("icacls") && err.contains("may read it"), "{err}");
        assert!(!err.contains("Secret#Value2026"));
    }

    #[test]
    fn empty_or_several_lines_are_refused() {
        let dir = tempfile::tempdir().expect("dir");
        assert!(read_owner_only(&file(dir.path(), "\n", 0o600)).is_err());
        assert!(read_owner_only(&file(dir.path(), "a\nb\n", 0o600)).is_err());
    }

    #[test]
    fn env_then_file_then_nothing() {
        let dir = tempfile::tempdir().expect("dir");
        let mut given = HashMap::new();
        given.insert("T_GIVEN".to_string(), Secret::new("from-env"));
        let source = SecretSource::with_given(given);
        let by_env = SecretRef::new(&Some("T_GIVEN".into()), &None);
        let got = source.resolve(&by_env, "[admin] password", "x").expect("ok");
        assert_eq!(got.map(|s| s.expose().to_string()).as_deref(), Some("from-env"));
        let by_file = SecretRef::new(&None, &Some(file(dir.path(), "from-file", 0o600)));
        let got = source.resolve(&by_file, "[admin] password", "x").expect("ok");
        assert_eq!(got.map(|s| s.expose().to_string()).as_deref(), Some("from-file"));
        let missing = SecretRef::new(&Some("OQSBOT_TEST_NEVER_SET".into()), &None);
        let err = source
            .resolve(&missing, "[admin] password", "x")
            .expect_err("unset");
        assert!(
            err.contains("OQSBOT_TEST_NEVER_SET") && err.contains("password_file"),
            "{err}"
        );
        assert!(
            source
                .resolve(&SecretRef::default(), "k", "x")
                .expect("ok")
                .is_none()
        );
    }
}
