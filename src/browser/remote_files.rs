//! Files and a browser on another machine (a Selenium Grid node): a download
//! lands on the node, and is fetched back through Grid's managed downloads
//! (`se:downloadsEnabled`, `/se/files`); a file to upload is sent to the node
//! first (`/se/file`), and the node's path is typed into the file input.
//! thirtyfour has no call for these: they are plain WebDriver extension commands.

use std::io::{Cursor, Read, Write};

use serde_json::{Value, json};
use thirtyfour::common::command::FormatRequestData;
use thirtyfour::{RequestData, SessionId};

/// The largest file taken back from a node: the portal's PDFs and .p12 are a
/// few hundred KB.
pub const FILE_LIMIT: u64 = 32 << 20;

#[derive(Debug, thiserror::Error)]
pub enum RemoteFileError {
    #[error("the Grid node sent {what} that is not a readable zip: {reason}")]
    Zip { what: String, reason: String },
    #[error("the Grid node's {what} is larger than {} MB", FILE_LIMIT >> 20)]
    TooLarge { what: String },
    #[error("the Grid node answered {what} with {answer}")]
    Answer { what: &'static str, answer: String },
}

/// Whether the session's browser keeps its downloads for us to fetch.
pub fn managed_downloads(returned: &Value) -> bool {
    returned["se:downloadsEnabled"].as_bool() == Some(true)
}

/// Whether the server is a Selenium one, which takes `/se/file` uploads.
pub fn selenium_server(returned: &Value) -> bool {
    returned
        .as_object()
        .is_some_and(|caps| caps.keys().any(|k| k.starts_with("se:")))
}

/// `GET /session/{id}/se/files`: the names of the files the node downloaded.
#[derive(Debug)]
pub struct ListDownloads;

impl FormatRequestData for ListDownloads {
    fn format_request(&self, session_id: &SessionId) -> RequestData {
        RequestData::new(reqwest::Method::GET, format!("/session/{session_id}/se/files"))
    }
}

/// `POST /session/{id}/se/files`: one downloaded file, as a base64 zip.
#[derive(Debug)]
pub struct FetchDownload<'a>(pub &'a str);

impl FormatRequestData for FetchDownload<'_> {
    fn format_request(&self, session_id: &SessionId) -> RequestData {
        RequestData::new(reqwest::Method::POST, format!("/session/{session_id}/se/files"))
            .add_body(json!({ "name": self.0 }))
    }
}

/// `DELETE /session/{id}/se/files`: forget every download on the node.
#[derive(Debug)]
pub struct ClearDownloads;

impl FormatRequestData for ClearDownloads {
    fn format_request(&self, session_id: &SessionId) -> RequestData {
        RequestData::new(reqwest::Method::DELETE, format!("/session/{session_id}/se/files"))
    }
}

/// `POST /session/{id}/se/file`: a file for the node to keep; it answers its path there.
pub struct SendFile(pub String);

// The file may hold passwords (the bulk CSV does): its size only.
impl std::fmt::Debug for SendFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SendFile({} base64 bytes)", self.0.len())
    }
}

impl FormatRequestData for SendFile {
    fn format_request(&self, session_id: &SessionId) -> RequestData {
        RequestData::new(reqwest::Method::POST, format!("/session/{session_id}/se/file"))
            .add_body(json!({ "file": self.0 }))
    }
}

/// The names in `/se/files`' answer.
pub fn names(value: &Value) -> Result<Vec<String>, RemoteFileError> {
    value["names"]
        .as_array()
        .map(|names| {
            names
                .iter()
                .filter_map(|n| n.as_str().map(String::from))
                .collect()
        })
        .ok_or_else(|| RemoteFileError::Answer {
            what: "the list of downloads",
            answer: short(value),
        })
}

/// Chromium saves under a temporary name (a dot-file, or `.crdownload`) and
/// renames the file once it is complete.
pub fn still_downloading(name: &str) -> bool {
    name.starts_with('.') || name.ends_with(".crdownload")
}

/// The file in a `/se/files` answer: its name and bytes.
pub fn downloaded_file(value: &Value, name: &str) -> Result<Vec<u8>, RemoteFileError> {
    use base64::Engine;
    let contents = value["contents"]
        .as_str()
        .ok_or_else(|| RemoteFileError::Answer {
            what: "a download",
            answer: short(value),
        })?;
    let zip = base64::engine::general_purpose::STANDARD
        .decode(contents)
        .map_err(|e| RemoteFileError::Zip {
            what: name.to_string(),
            reason: e.to_string(),
        })?;
    unzip_one(&zip, name)
}

/// The one file of a zip, within `FILE_LIMIT`.
fn unzip_one(zip: &[u8], name: &str) -> Result<Vec<u8>, RemoteFileError> {
    let bad = |reason: String| RemoteFileError::Zip {
        what: name.to_string(),
        reason,
    };
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).map_err(|e| bad(e.to_string()))?;
    if archive.len() != 1 {
        return Err(bad(format!(
            "{} entries where one file was asked for",
            archive.len()
        )));
    }
    let entry = archive.by_index(0).map_err(|e| bad(e.to_string()))?;
    let mut bytes = Vec::new();
    // The declared size is the zip's word; the read is bounded whatever it says.
    entry
        .take(FILE_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| bad(e.to_string()))?;
    if bytes.len() as u64 > FILE_LIMIT {
        return Err(RemoteFileError::TooLarge {
            what: name.to_string(),
        });
    }
    Ok(bytes)
}

/// A file as `/se/file` takes it: a zip holding it, in base64.
pub fn zipped(name: &str, bytes: &[u8]) -> Result<String, RemoteFileError> {
    use base64::Engine;
    let bad = |e: zip::result::ZipError| RemoteFileError::Zip {
        what: name.to_string(),
        reason: e.to_string(),
    };
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    writer.start_file(name, options).map_err(bad)?;
    writer.write_all(bytes).map_err(|e| RemoteFileError::Zip {
        what: name.to_string(),
        reason: e.to_string(),
    })?;
    let cursor = writer.finish().map_err(bad)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(cursor.into_inner()))
}

/// The node's path in `/se/file`'s answer.
pub fn sent_path(value: &Value) -> Result<String, RemoteFileError> {
    value
        .as_str()
        .map(String::from)
        .ok_or_else(|| RemoteFileError::Answer {
            what: "the upload of a file",
            answer: short(value),
        })
}

/// A node's answer in an error message: its shape, not a file's bytes.
fn short(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn a_file_sent_is_the_file_fetched() {
        let csv: Vec<u8> = "ユーザID,氏名\r\n"
            .bytes()
            .chain((0..=255u8).cycle().take(70_000))
            .collect();
        let sent = zipped("accounts.csv", &csv).expect("zip");
        let answer = json!({ "filename": "accounts.csv", "contents": sent });
        assert_eq!(downloaded_file(&answer, "accounts.csv").expect("unzip"), csv);
    }

    #[test]
    fn a_node_answer_that_is_no_zip_is_refused_with_its_name() {
        let answer = json!({ "contents": base64::engine::general_purpose::STANDARD.encode(b"%PDF-1.7") });
        let err = downloaded_file(&answer, "H2713107.pdf").expect_err("not a zip");
        assert!(err.to_string().contains("H2713107.pdf"), "{err}");
        let err = downloaded_file(&json!({ "error": "no such file" }), "x.pdf").expect_err("no contents");
        assert!(err.to_string().contains("no such file"), "{err}");
    }

    #[test]
    fn a_file_over_the_limit_is_not_read_whole() {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options =
            zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        writer.start_file("big.pdf", options).expect("start");
        let block = vec![0u8; 1 << 20];
        for _ in 0..=(FILE_LIMIT >> 20) {
            writer.write_all(&block).expect("write");
        }
        let zip = writer.finish().expect("finish").into_inner();
        assert!(matches!(
            unzip_one(&zip, "big.pdf"),
            Err(RemoteFileError::TooLarge { .. })
        ));
    }

    #[test]
    fn temporary_names_are_not_taken_for_the_file() {
        assert!(still_downloading(".com.google.Chrome.x1Yz"));
        assert!(still_downloading("H2713107.pdf.crdownload"));
        assert!(!still_downloading("H2713107.pdf"));
        assert_eq!(
            names(&json!({ "names": ["a.pdf", ".tmp"] })).expect("names"),
            ["a.pdf", ".tmp"]
        );
    }

    #[test]
    fn a_selenium_server_is_known_by_its_capabilities() {
        let grid = json!({ "browserName": "chrome", "se:downloadsEnabled": true, "se:cdp": "ws://x" });
        assert!(managed_downloads(&grid) && selenium_server(&grid));
        let chromedriver = json!({ "browserName": "chrome", "goog:chromeOptions": {} });
        assert!(!managed_downloads(&chromedriver) && !selenium_server(&chromedriver));
    }
}
