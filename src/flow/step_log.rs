//! `steps.jsonl`: each step as it ran, one JSON object a line, secrets scrubbed.

use std::path::Path;

use super::StepRecord;
use crate::secret::Redactor;

pub const FILE_NAME: &str = "steps.jsonl";

/// Writes the step log into `dir`; returns its path.
pub fn write(dir: &Path, records: &[StepRecord], redactor: &Redactor) -> std::io::Result<std::path::PathBuf> {
    let lines: Vec<String> = records
        .iter()
        .filter_map(|r| serde_json::to_value(r).ok())
        .filter_map(|v| serde_json::to_string(&redactor.redact_json(&v)).ok())
        .collect();
    let path = dir.join(FILE_NAME);
    std::fs::write(&path, lines.join("\n") + "\n")?;
    Ok(path)
}
