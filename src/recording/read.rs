//! Reading a recording back: every whole line, the resources by hash.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use base64::Engine as _;

use super::RecordingError;
use super::format::{Entry, FORMAT, Header, Resource, StepEvent, VERSION};

/// A recording as read from its file.
#[derive(Debug, Clone)]
pub struct Recording {
    pub header: Header,
    /// Every entry but the resources, in file order.
    pub entries: Vec<Entry>,
    resources: HashMap<String, Resource>,
    /// A last line cut short (the run was killed while writing it).
    pub torn_tail: bool,
}

impl Recording {
    pub fn open(path: &Path) -> Result<Recording, RecordingError> {
        let bytes = std::fs::read(path).map_err(|source| RecordingError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&bytes).map_err(|e| match e {
            RecordingError::Damaged { line, reason, .. } => RecordingError::Damaged {
                path: path.display().to_string(),
                line,
                reason,
            },
            other => other,
        })
    }

    pub fn parse(bytes: &[u8]) -> Result<Recording, RecordingError> {
        let text = String::from_utf8_lossy(bytes);
        let lines: Vec<&str> = text.split('\n').collect();
        let mut header = None;
        let mut entries = Vec::new();
        let mut resources = HashMap::new();
        let mut torn_tail = false;
        let last = lines.iter().rposition(|l| !l.trim().is_empty()).unwrap_or(0);
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let entry: Entry = match serde_json::from_str(line) {
                Ok(e) => e,
                // Only the last line may be cut short: a killed run was writing it.
                Err(_) if i == last && !text.ends_with('\n') => {
                    torn_tail = true;
                    continue;
                }
                Err(e) => {
                    return Err(RecordingError::Damaged {
                        path: String::new(),
                        line: i + 1,
                        reason: e.to_string(),
                    });
                }
            };
            match entry {
                Entry::Header(h) => {
                    if h.format != FORMAT || h.version > VERSION {
                        return Err(RecordingError::Version {
                            format: h.format,
                            version: h.version,
                        });
                    }
                    header.get_or_insert(h);
                }
                Entry::Resource(r) => {
                    resources.insert(r.hash.clone(), r);
                }
                other => entries.push(other),
            }
        }
        let header = header.ok_or(RecordingError::NoHeader)?;
        Ok(Recording {
            header,
            entries,
            resources,
            torn_tail,
        })
    }

    /// A resource's stored bytes, decompressed.
    pub fn resource(&self, hash: &str) -> Option<Vec<u8>> {
        let r = self.resources.get(hash)?;
        decode(&r.data).ok()
    }

    /// A text resource (a page source, an HTML body) as text.
    pub fn resource_text(&self, hash: &str) -> Option<String> {
        self.resource(hash)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    pub fn resource_count(&self) -> usize {
        self.resources.len()
    }

    /// Every stored resource, decompressed, for searching the whole recording.
    pub fn all_resources(&self) -> impl Iterator<Item = (&str, Vec<u8>)> {
        self.resources
            .iter()
            .filter_map(|(h, r)| decode(&r.data).ok().map(|b| (h.as_str(), b)))
    }

    pub fn steps(&self) -> impl Iterator<Item = &StepEvent> {
        self.entries.iter().filter_map(|e| match e {
            Entry::Step(s) => Some(s),
            _ => None,
        })
    }
}

/// `deflate-base64` to bytes.
pub fn decode(data: &str) -> Result<Vec<u8>, String> {
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(&compressed[..])
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    Ok(out)
}
