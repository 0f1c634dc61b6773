//! Finding and ending the driver and browsers of a run on Windows, where
//! there is no process group to signal. The driver's whole tree is ended with
//! `taskkill /T`, and browsers are found by the profile on their command line.
//! What Windows' tools print is read by the pure functions here, which the
//! tests check on any platform.

/// The image name `tasklist /FI "PID eq N" /FO CSV /NH` printed for `pid`, if
/// that process still runs. A localized "no task" line gives `None`.
pub fn tasklist_image(output: &str, pid: u32) -> Option<String> {
    output.lines().find_map(|line| {
        let fields = csv_fields(line.trim());
        match fields.as_slice() {
            [image, listed, ..] if listed.trim() == pid.to_string() => Some(image.clone()),
            _ => None,
        }
    })
}

/// Whether an image name is the driver's (`msedgedriver` → `msedgedriver.exe`).
pub fn is_driver_image(image: &str, driver: &str) -> bool {
    image.eq_ignore_ascii_case(&format!("{driver}.exe")) || image.eq_ignore_ascii_case(driver)
}

/// The fields of one CSV line as tasklist quotes them.
fn csv_fields(line: &str) -> Vec<String> {
    if !line.starts_with('"') {
        return Vec::new();
    }
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// Splits a Windows command line into arguments as the C runtime does:
/// quotes group, `\"` is a quote, `""` inside quotes is a quote, and other
/// backslashes are literal.
pub fn split_command_line(line: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut arg = String::new();
    let mut in_arg = false;
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let mut slashes = 1;
                while chars.peek() == Some(&'\\') {
                    chars.next();
                    slashes += 1;
                }
                in_arg = true;
                if chars.peek() == Some(&'"') {
                    arg.extend(std::iter::repeat_n('\\', slashes / 2));
                    if slashes % 2 == 1 {
                        arg.push('"');
                        chars.next();
                    }
                } else {
                    arg.extend(std::iter::repeat_n('\\', slashes));
                }
            }
            '"' => {
                in_arg = true;
                if quoted && chars.peek() == Some(&'"') {
                    arg.push('"');
                    chars.next();
                } else {
                    quoted = !quoted;
                }
            }
            ' ' | '\t' if !quoted => {
                if in_arg {
                    args.push(std::mem::take(&mut arg));
                    in_arg = false;
                }
            }
            _ => {
                in_arg = true;
                arg.push(c);
            }
        }
    }
    if in_arg {
        args.push(arg);
    }
    args
}

/// The pids among `pid<TAB>command line` lines whose command line has
/// `--user-data-dir=<profile>` as one argument (Windows paths match in any case).
pub fn browser_pids(listing: &str, profile: &str) -> Vec<u32> {
    let needle = format!("--user-data-dir={profile}");
    listing
        .lines()
        .filter_map(|line| {
            let (pid, command_line) = line.split_once('\t')?;
            // Windows PowerShell may start its output with a byte-order mark.
            let pid = pid.trim_start_matches('\u{feff}').trim().parse::<u32>().ok()?;
            split_command_line(command_line)
                .iter()
                .any(|a| a.eq_ignore_ascii_case(&needle))
                .then_some(pid)
        })
        .collect()
}

/// The PowerShell that lists `pid<TAB>command line` of every process started with a profile.
pub const LIST_BROWSERS_PS: &str = "[Console]::OutputEncoding = [Text.Encoding]::UTF8; \
    Get-CimInstance Win32_Process -Filter \"CommandLine LIKE '%--user-data-dir=%'\" | \
    ForEach-Object { \"$($_.ProcessId)`t$($_.CommandLine)\" }";

#[cfg(windows)]
mod imp {
    use std::os::windows::process::CommandExt;
    use std::process::{Command, Stdio};

    /// No console window flashes up for these helpers.
    const CREATE_NO_WINDOW: u32 = 0x0800_0000;

    fn output(program: &str, args: &[&str]) -> Option<String> {
        let out = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .creation_flags(CREATE_NO_WINDOW)
            .output()
            .ok()?;
        Some(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Ends `pids` and every process they started.
    pub fn kill_trees(pids: &[u32]) {
        if pids.is_empty() {
            return;
        }
        let mut args: Vec<String> = Vec::new();
        for pid in pids {
            args.push("/PID".into());
            args.push(pid.to_string());
        }
        args.push("/T".into());
        args.push("/F".into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let _ = output("taskkill", &args);
    }

    /// Ends a killed run's driver and its tree, if `pid` is still that driver: pids are reused.
    pub fn kill_driver_if_still(pid: u32, driver: &str) -> bool {
        let filter = format!("PID eq {pid}");
        let Some(listing) = output("tasklist", &["/FI", &filter, "/FO", "CSV", "/NH"]) else {
            return false;
        };
        let still =
            super::tasklist_image(&listing, pid).is_some_and(|image| super::is_driver_image(&image, driver));
        if still {
            kill_trees(&[pid]);
        }
        still
    }

    /// Ends every browser started with `profile`.
    pub fn kill_browsers_of(profile: &str) {
        let Some(listing) = output(
            "powershell",
            &[
                "-NoProfile",
                "-NonInteractive",
                "-Command",
                super::LIST_BROWSERS_PS,
            ],
        ) else {
            return;
        };
        kill_trees(&super::browser_pids(&listing, profile));
    }
}

#[cfg(windows)]
pub use imp::{kill_browsers_of, kill_driver_if_still, kill_trees};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasklist_names_the_image_of_a_running_pid() {
        let out = "\r\n\"msedgedriver.exe\",\"4312\",\"Console\",\"1\",\"12,340 K\"\r\n";
        assert_eq!(tasklist_image(out, 4312).as_deref(), Some("msedgedriver.exe"));
        assert_eq!(tasklist_image(out, 4313), None, "another pid's line is not ours");
        assert!(is_driver_image("MSEdgeDriver.exe", "msedgedriver"));
        assert!(!is_driver_image("msedge.exe", "msedgedriver"));
        assert!(!is_driver_image("notepad.exe", "chromedriver"));
    }

    #[test]
    fn a_pid_that_is_gone_gives_nothing_in_any_language() {
        assert_eq!(
            tasklist_image(
                "INFO: No tasks are running which match the specified criteria.\r\n",
                4312
            ),
            None
        );
        assert_eq!(
            tasklist_image(
                "情報: 指定された条件に一致するタスクは実行されていません。\r\n",
                4312
            ),
            None
        );
        assert_eq!(tasklist_image("", 1), None);
    }

    #[test]
    fn command_lines_split_as_the_c_runtime_does() {
        assert_eq!(
            split_command_line(
                r#""C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe" --type=renderer "--user-data-dir=C:\oqs run\browser-profile" --lang=ja"#
            ),
            [
                r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe",
                "--type=renderer",
                r"--user-data-dir=C:\oqs run\browser-profile",
                "--lang=ja"
            ]
        );
        assert_eq!(split_command_line(r#"a\\\"b "c\\" d"#), [r#"a\"b"#, r"c\", "d"]);
        assert_eq!(split_command_line(r#""say ""hi""" x"#), [r#"say "hi""#, "x"]);
        assert_eq!(split_command_line(r#"  "" x  "#), ["", "x"]);
        assert_eq!(split_command_line(r"C:\a\b.exe"), [r"C:\a\b.exe"]);
    }

    #[test]
    fn browsers_are_found_by_their_exact_profile() {
        let listing = concat!(
            "5100\t\"C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe\" --user-data-dir=C:\\oqs\\run\\browser-profile --headless=new\r\n",
            "5104\t\"C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe\" --type=gpu-process \"--user-data-dir=c:\\OQS\\run\\browser-profile\"\r\n",
            "5200\tmsedge.exe --user-data-dir=C:\\oqs\\run\\browser-profile2\r\n",
            "5300\tmsedge.exe --user-data-dir=C:\\other\\browser-profile\r\n",
            "junk line\r\n",
        );
        assert_eq!(browser_pids(listing, r"C:\oqs\run\browser-profile"), [5100, 5104]);
        assert!(browser_pids("", r"C:\oqs").is_empty());
    }
}
