//! How both sites' pages travel, in front of the handlers: latency jitter,
//! Shift_JIS pages (and Shift-JIS form posts read back), and
//! post-redirect-get. The handlers build every page in UTF-8 and answer POSTs
//! with pages; this layer turns that into what the config asks for, so no
//! server-side rule depends on it.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use encoding_rs::SHIFT_JIS;

use crate::app::App;
use crate::config::Charset;
use crate::state::{HeldPage, random_token};

/// The most a request or a page may hold: an upload is at most 1 MB.
const BODY_LIMIT: usize = 4 * 1024 * 1024;

/// Says how long this request was held back, when jitter is on.
pub const JITTER_HEADER: &str = "x-sim-jitter-ms";

/// POST-only paths, and the page a stale post-redirect-get address falls back to.
const FALLBACKS: [(&str, &str); 3] = [
    ("/oqs/logout", "/oqs/"),
    ("/oqs/account/reset", "/oqs/account/search?search=1"),
    ("/cert/download", "/cert/"),
];

pub async fn present(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let config = app.config();
    let ui = &config.ui;
    let jitter = (ui.jitter_ms > 0).then(|| app.jitter_ms(ui.jitter_ms));
    if let Some(ms) = jitter {
        // The configured jitter itself; an async sleep holds no thread.
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let sjis = ui.charset == Charset::ShiftJis;
    let request = if sjis {
        match decode_request(request).await {
            Ok(r) => r,
            Err(r) => return r,
        }
    } else {
        request
    };
    let method = request.method().clone();
    let path = request.uri().path().to_string();

    let mut response = match held_page(&app, &method, &path, request.uri()) {
        Some(r) => r,
        None => {
            let response = next.run(request).await;
            if ui.post_redirect_get && method == Method::POST {
                hold(&app, response, &path).await
            } else {
                response
            }
        }
    };
    if sjis {
        response = encode_response(response).await;
    }
    if let Some(ms) = jitter
        && let Ok(v) = HeaderValue::from_str(&ms.to_string())
    {
        response.headers_mut().insert(JITTER_HEADER, v);
    }
    response
}

fn query_param(uri: &Uri, name: &str) -> Option<String> {
    uri.query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

/// The GET a post-redirect-get leads to: the page the POST produced, once.
fn held_page(app: &App, method: &Method, path: &str, uri: &Uri) -> Option<Response> {
    if method != Method::GET {
        return None;
    }
    let token = query_param(uri, "prg")?;
    let held = app.state().held_pages.remove(&token);
    match held {
        Some(page) => {
            let status = StatusCode::from_u16(page.status).unwrap_or(StatusCode::OK);
            Some(
                (
                    status,
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    page.body,
                )
                    .into_response(),
            )
        }
        // Shown already: a POST-only path falls back to its page; others show afresh.
        None => FALLBACKS
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(_, to)| axum::response::Redirect::to(to).into_response()),
    }
}

/// Post-redirect-get: a page a POST produced is kept, and the POST answers 303.
async fn hold(app: &App, response: Response, path: &str) -> Response {
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !is_page || response.status().is_redirection() {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, BODY_LIMIT).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let token = random_token(24);
    {
        let mut state = app.state();
        // Pages nobody came for are dropped now and then; a simulator keeps no more.
        if state.held_pages.len() > 1000 {
            state.held_pages.clear();
        }
        state.held_pages.insert(
            token.clone(),
            HeldPage {
                status: parts.status.as_u16(),
                body: bytes.to_vec(),
            },
        );
    }
    let mut redirect = axum::response::Redirect::to(&format!("{path}?prg={token}")).into_response();
    for cookie in parts.headers.get_all(header::SET_COOKIE) {
        redirect.headers_mut().append(header::SET_COOKIE, cookie.clone());
    }
    redirect
}

/// A Shift_JIS page: the bytes re-encoded, and the charset said in the
/// header and in the page.
async fn encode_response(response: Response) -> Response {
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !is_html {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, BODY_LIMIT).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let text = String::from_utf8_lossy(&bytes).replace(
        "<meta charset=\"utf-8\">",
        "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=Shift_JIS\">",
    );
    let (encoded, _, _) = SHIFT_JIS.encode(&text);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=Shift_JIS"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(encoded.into_owned()))
}

/// A request from a Shift_JIS page, read back into UTF-8: the query string,
/// a url-encoded form, and the part headers (field and file names) of a
/// multipart form. File contents stay as they are.
async fn decode_request(request: Request) -> Result<Request, Response> {
    let (mut parts, body) = request.into_parts();
    if let Some(query) = parts.uri.query() {
        let query = String::from_utf8_lossy(&transcode_urlencoded(query.as_bytes())).into_owned();
        let path_and_query = format!("{}?{query}", parts.uri.path());
        parts.uri = path_and_query
            .parse()
            .map_err(|_| StatusCode::BAD_REQUEST.into_response())?;
    }
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let form = content_type.starts_with("application/x-www-form-urlencoded");
    let boundary = content_type
        .starts_with("multipart/form-data")
        .then(|| multipart_boundary(&content_type))
        .flatten();
    if !form && boundary.is_none() {
        return Ok(Request::from_parts(parts, body));
    }
    let bytes = to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|_| StatusCode::PAYLOAD_TOO_LARGE.into_response())?;
    let decoded = match &boundary {
        Some(b) => transcode_multipart(&bytes, b),
        None => transcode_urlencoded(&bytes),
    };
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(decoded.len()));
    Ok(Request::from_parts(parts, Body::from(decoded)))
}

fn multipart_boundary(content_type: &str) -> Option<String> {
    content_type.split(';').find_map(|p| {
        let v = p.trim().strip_prefix("boundary=")?;
        Some(v.trim_matches('"').to_string())
    })
}

/// `a=%83%41&b=c` read as Shift-JIS, written back as UTF-8.
pub fn transcode_urlencoded(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    for (i, pair) in input.split(|b| *b == b'&').enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        match pair.iter().position(|b| *b == b'=') {
            Some(eq) => {
                out.extend(reencode(&pair[..eq]));
                out.push(b'=');
                out.extend(reencode(&pair[eq + 1..]));
            }
            None => out.extend(reencode(pair)),
        }
    }
    out
}

fn reencode(part: &[u8]) -> Vec<u8> {
    let raw = percent_decode(part);
    let (text, _, _) = SHIFT_JIS.decode(&raw);
    percent_encode(text.as_bytes())
}

fn percent_decode(input: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < input.len() => match (hex(input[i + 1]), hex(input[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn percent_encode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    for &b in input {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'*' => out.push(b),
            b' ' => out.push(b'+'),
            _ => out.extend(format!("%{b:02X}").bytes()),
        }
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Each part's headers read as Shift-JIS and written back as UTF-8; the
/// contents are copied byte for byte.
fn transcode_multipart(body: &[u8], boundary: &str) -> Vec<u8> {
    let delimiter = format!("--{boundary}\r\n").into_bytes();
    let mut out = Vec::with_capacity(body.len() + 64);
    let mut rest = body;
    while let Some(at) = find(rest, &delimiter) {
        let headers_start = at + delimiter.len();
        out.extend_from_slice(&rest[..headers_start]);
        let after = &rest[headers_start..];
        let Some(end) = find(after, b"\r\n\r\n") else {
            out.extend_from_slice(after);
            return out;
        };
        let (text, _, _) = SHIFT_JIS.decode(&after[..end]);
        out.extend_from_slice(text.as_bytes());
        rest = &after[end..];
    }
    out.extend_from_slice(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sjis_percent(text: &str) -> String {
        SHIFT_JIS
            .encode(text)
            .0
            .iter()
            .map(|b| format!("%{b:02X}"))
            .collect()
    }

    #[test]
    fn a_shift_jis_form_reads_back_as_utf8() {
        let body = format!(
            "_csrf=abc&name={}&kana={}+x",
            sjis_percent("管理アカウント"),
            sjis_percent("カンリ")
        );
        let out = String::from_utf8(transcode_urlencoded(body.as_bytes())).expect("ascii");
        let pairs: Vec<(String, String)> = serde_urlencoded_like(&out);
        assert_eq!(pairs[0], ("_csrf".into(), "abc".into()));
        assert_eq!(pairs[1], ("name".into(), "管理アカウント".into()));
        assert_eq!(pairs[2], ("kana".into(), "カンリ x".into()));
    }

    /// Decodes what `transcode_urlencoded` wrote, as UTF-8.
    fn serde_urlencoded_like(s: &str) -> Vec<(String, String)> {
        s.split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                let d = |x: &str| String::from_utf8(percent_decode(x.as_bytes())).expect("utf-8");
                (d(k), d(v))
            })
            .collect()
    }

    #[test]
    fn a_stray_percent_survives() {
        assert_eq!(percent_decode(b"100%"), b"100%");
        assert_eq!(percent_decode(b"%4"), b"%4");
        assert_eq!(percent_decode(b"%41"), b"A");
    }

    #[test]
    fn multipart_headers_are_transcoded_and_contents_kept() {
        let name = SHIFT_JIS.encode("一括.csv").0.into_owned();
        let content = SHIFT_JIS.encode("権限区分\r\n").0.into_owned();
        let mut body = b"--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"".to_vec();
        body.extend(&name);
        body.extend(b"\"\r\n\r\n");
        body.extend(&content);
        body.extend(b"\r\n--XX--\r\n");
        let out = transcode_multipart(&body, "XX");
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("filename=\"一括.csv\""), "{text}");
        assert!(find(&out, &content).is_some(), "the file's bytes stay Shift-JIS");
    }
}
