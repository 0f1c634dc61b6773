//! Inputs found by fuzzing (fuzz/, scripts/fuzz.sh), kept so the fixes stay fixed.

use std::sync::mpsc;
use std::time::Duration;

use oqsbot::bulk_csv::{self, BulkCsvError, Layout};

/// Runs `f` on its own thread and gives its result, or panics when it takes
/// longer than `limit` (a hang fails the test instead of stalling the suite).
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("still running after {limit:?}"))
}

/// bulk_csv: line numbers were counted from the start of the file for every
/// record, so a file of many short lines took quadratic time (100 KB of
/// "a\n" ran for a minute in the fuzzer; a few MB, for hours).
#[test]
fn bulk_csv_many_short_lines_are_read_in_linear_time() {
    const ROWS: usize = 100_000;
    let layout = Layout::builtin();
    let header: Vec<&str> = layout.columns.iter().map(|c| c.header.as_str()).collect();
    let mut text = header.join(",");
    text.push('\n');
    text.push_str(&"a\n".repeat(ROWS));
    let bytes = encoding_rs::SHIFT_JIS.encode(&text).0.into_owned();

    let checked = bytes.clone();
    let report = within(Duration::from_secs(20), move || {
        bulk_csv::check(Layout::builtin(), &checked)
    });
    assert_eq!(report.rows, ROWS);
    assert_eq!(report.problems.len(), ROWS, "each row has too few columns");
    // The lines stay right: the last row is on line ROWS + 1.
    assert_eq!(report.problems.last().map(|p| p.line), Some(ROWS + 1));

    let result = within(Duration::from_secs(20), move || {
        bulk_csv::read_result(Layout::builtin(), &bytes)
    });
    assert!(
        matches!(result, Err(BulkCsvError::ResultHeader { .. })),
        "{result:?}"
    );
}
