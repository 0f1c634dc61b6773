//! The recordings in `recordings/`: simulator runs kept as regression
//! fixtures, each replayed offline as it was recorded.
//!
//! Recorded again with `cargo test --test integration run::fixtures::record_fixtures -- --ignored`
//! after a flow or the recording format changes on purpose.

use std::path::PathBuf;

use oqsbot::recording::{FILE_NAME, Recording};
use oqsbot::replay::Verdict;

use super::common::{differences, job, replay_in, sim_config_plain};

/// Name, scenario, simulator configuration, and whether the run ends 完了.
const FIXTURES: &[(&str, &str, &str, bool)] = &[
    ("reset-and-register", "needs-reset", "", true),
    (
        "bulk-upload-fails",
        "needs-reset",
        "[faults]\nsystem_error = true\n",
        false,
    ),
    // Seed 7's readings (Shift_JIS pages among them), but a login popup that stays open:
    // a popup that closes itself as its page loads leaves that page to no recording.
    (
        "unfamiliar-markup",
        "needs-reset",
        "[ui]\nvary = 7\nmenu_opens_in = \"popup\"\n",
        true,
    ),
];

fn folder() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("recordings")
}

#[tokio::test]
#[ignore = "writes recordings/; run on purpose after a flow changes"]
async fn record_fixtures() {
    std::fs::create_dir_all(folder()).expect("recordings/");
    for (name, scenario, config, completes) in FIXTURES {
        // Plain HTTP: a fixture must replay on any machine, with no browser policy.
        let sim = sim_config_plain(scenario, config).await;
        let dir = tempfile::tempdir().expect("dir");
        let path = job(dir.path(), &sim, false);
        let (result, job) = super::run_job_recorded(&path, &sim, None).await;
        assert_eq!(result.is_ok(), *completes, "{name}: {result:?}");
        std::fs::copy(
            job.output.dir.join(FILE_NAME),
            folder().join(format!("{name}.oqsrec")),
        )
        .expect("copy the recording");
    }
}

#[tokio::test]
async fn every_fixture_replays_as_recorded() {
    let mut names: Vec<PathBuf> = std::fs::read_dir(folder())
        .expect("recordings/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "oqsrec"))
        .collect();
    names.sort();
    assert_eq!(names.len(), FIXTURES.len(), "one file per fixture: {names:?}");
    for path in names {
        let recording = Recording::open(&path).expect("the fixture reads");
        let work = tempfile::tempdir().expect("dir");
        let outcome = replay_in(&recording, work.path()).await;
        let differing = differences(&outcome);
        assert_eq!(
            outcome.verdict,
            Verdict::Same,
            "{}: {differing:?}",
            path.display()
        );
        assert_eq!(outcome.comparisons.len(), recording.steps().count());
    }
}
