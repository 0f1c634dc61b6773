use std::path::PathBuf;
use std::process::ExitCode;

use crate::job::outcome::Exit;

use super::{BrowserArgs, apply_browser};

/// `oqsbot replay`: the viewer, or the recording's flows run again against its responses.
pub(super) async fn replay(
    file: PathBuf,
    flows: Option<PathBuf>,
    html: Option<PathBuf>,
    out_dir: Option<PathBuf>,
    browser: BrowserArgs,
) -> ExitCode {
    use crate::replay::{ReplayOptions, Verdict};
    let recording = match crate::recording::Recording::open(&file) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("oqsbot: {e}");
            return Exit::Input.into();
        }
    };
    if let Some(html) = html {
        let title = file.display().to_string();
        let page = crate::recording::viewer::render(&recording, &title);
        return match std::fs::write(&html, page) {
            Ok(()) => {
                println!("viewer: {}", html.display());
                Exit::Done.into()
            }
            Err(e) => {
                eprintln!("oqsbot: cannot write {}: {e}", html.display());
                Exit::Input.into()
            }
        };
    }
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let work_dir = out_dir.unwrap_or_else(|| PathBuf::from(format!("runs/replay-{stamp}")));
    let mut browser_options = crate::browser::BrowserOptions::new(work_dir.join("downloads"));
    if let Err(code) = apply_browser(&mut browser_options, &browser) {
        return code;
    }
    println!(
        "replaying {} (oqsbot {}, {} of {}): {} steps{}",
        file.display(),
        recording.header.oqsbot,
        recording.header.command,
        recording.header.started,
        recording.steps().count(),
        if recording.torn_tail {
            "; its last line was cut short and is left out"
        } else {
            ""
        }
    );
    let options = ReplayOptions {
        flows_dir: flows,
        browser: browser_options,
        work_dir,
        changes: Vec::new(),
    };
    let replayed = crate::replay::replay(&recording, options).await;
    crate::progress::finish();
    let outcome = match replayed {
        Ok(o) => o,
        Err(e) => {
            eprintln!("oqsbot: {e}");
            return Exit::Input.into();
        }
    };
    for c in &outcome.comparisons {
        let step = c.replayed.as_ref().or(c.recorded.as_ref());
        let what = step
            .map(|s| format!("{} {} {}", s.flow, s.step, s.action))
            .unwrap_or_default();
        let matched = step.and_then(|s| s.matched.clone()).unwrap_or_default();
        if c.differences.is_empty() {
            println!("  same     {what} {matched}");
        } else {
            println!("  DIFFERS  {what}: {}", c.differences.join("; "));
        }
        for note in &c.notes {
            println!("           ({note})");
        }
    }
    if !outcome.unmatched.is_empty() {
        println!(
            "requests the recording has no answer for (answered 404): {}",
            outcome.unmatched.join(", ")
        );
    }
    println!("the replay's own recording: {}", outcome.recording.display());
    match outcome.verdict {
        Verdict::Same => {
            println!("every step did what it did in the recording");
            Exit::Done.into()
        }
        Verdict::RecordingEnds => {
            println!(
                "every recorded step did the same; the recording stops there (its run was stopped before it ended)"
            );
            Exit::Done.into()
        }
        Verdict::FailurePassesNow => {
            println!("the step that failed in the recording passes now; the recording ends there");
            Exit::Done.into()
        }
        Verdict::Diverged(i) => {
            println!("the replay did something else at step {} of the recording", i + 1);
            if let Some(e) = outcome.failure {
                let run = crate::job::run::RunError::from_flow(e);
                println!(
                    "the replayed flow failed (a run would stop with exit code {}): {run}",
                    run.exit_code()
                );
            }
            Exit::Failed.into()
        }
    }
}
