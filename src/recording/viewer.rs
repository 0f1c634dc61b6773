//! A recording as one self-contained HTML page: header, a timeline of the
//! steps grouped by flow, each with its screenshot, page source and HTTP
//! responses, and the downloads and notes where they occurred.
//!
//! Everything recorded comes from an untrusted site, so every string is
//! escaped and the page forbids scripts through its Content-Security-Policy.
//! It needs no JavaScript: enlarging a screenshot and filtering the failed
//! steps are done with checkboxes and CSS.

use std::collections::HashMap;
use std::fmt::{self, Write as _};

use base64::Engine as _;
use chrono::{DateTime, FixedOffset};

use super::format::{DownloadEvent, DownloadSummary, End, Entry, FlowStart, Note, StepEvent};
use super::read::Recording;

/// The page for `recording`, titled `title`.
pub fn render(recording: &Recording, title: &str) -> String {
    let mut out = String::with_capacity(64 * 1024);
    // Writing into a String cannot fail.
    let _ = write_page(&mut out, recording, title);
    out
}

/// HTML-escapes a string as it is written, for text and attribute values alike.
struct Esc<'a>(&'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

/// The desk reads times in Japan time, which has no daylight saving.
fn jst() -> Option<FixedOffset> {
    FixedOffset::east_opt(9 * 3600)
}

fn clock_ms(ms: i64) -> String {
    match (DateTime::from_timestamp_millis(ms), jst()) {
        (Some(t), Some(tz)) => t
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M:%S%.3f JST")
            .to_string(),
        _ => ms.to_string(),
    }
}

fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} 秒", ms as f64 / 1000.0)
    } else {
        format!("{}分{:02}秒", ms / 60_000, (ms % 60_000) / 1000)
    }
}

/// Time since the run began, as `+m:ss.s`.
fn offset(ms: i64, base: Option<i64>) -> String {
    match base {
        Some(b) => {
            let d = (ms - b).max(0);
            format!("+{}:{:02}.{}", d / 60_000, (d % 60_000) / 1000, (d % 1000) / 100)
        }
        None => String::new(),
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The outcome as the `data-outcome` value and its label.
fn outcome(word: &str) -> (&'static str, &'static str) {
    match word {
        "ok" => ("ok", "成功"),
        "skipped" => ("skipped", "スキップ"),
        "failed" => ("failed", "失敗"),
        _ => ("other", "不明"),
    }
}

const STYLE: &str = r#"
:root { --ok: #1a7f37; --skip: #8a6d00; --fail: #c62828; --line: #d8dbe0; --muted: #667; }
* { box-sizing: border-box; }
body { font-family: system-ui, "Hiragino Sans", "Yu Gothic UI", Meiryo, sans-serif; margin: 0 auto;
  padding: 1em 1.5em 4em; max-width: 1200px; color: #1b1f24; background: #f6f7f9; font-size: 14px; line-height: 1.45; }
h1 { font-size: 1.4em; margin: .2em 0 .6em; }
h2 { font-size: 1.1em; margin: 0 0 .4em; }
code, pre, .mono { font-family: ui-monospace, Consolas, "Noto Sans Mono CJK JP", monospace; font-size: 12.5px; }
table.kv { border-collapse: collapse; margin: .3em 0; }
table.kv th { text-align: left; font-weight: normal; color: var(--muted); padding: 1px 1em 1px 0; vertical-align: top; white-space: nowrap; }
table.kv td { padding: 1px 0; overflow-wrap: anywhere; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .7em 1em; margin: 0 0 .8em; }
.banner { border-left: 4px solid var(--skip); background: #fff8e1; padding: .5em 1em; margin: 0 0 .8em; }
.banner.fail { border-color: var(--fail); background: #fdecea; }
.badge { display: inline-block; padding: 0 .55em; border-radius: 9px; font-size: 12px; color: #fff; background: var(--muted); white-space: nowrap; }
.badge.ok, .badge.completed { background: var(--ok); }
.badge.skipped { background: var(--skip); }
.badge.failed { background: var(--fail); }
.counts span { margin-right: 1em; }
.filter { margin: 0 0 .8em; display: inline-block; }
#only-failed:checked ~ main .step:not([data-outcome=failed]) { display: none; }
section.flow { margin: 0 0 1em calc(var(--depth, 0) * 2em); border-left: 3px solid #9aa4b2; padding-left: .8em; }
section.flow > h2 .depth { color: var(--muted); font-weight: normal; font-size: .85em; }
.step { background: #fff; border: 1px solid var(--line); border-left: 4px solid var(--muted); border-radius: 4px;
  margin: 0 0 .5em; padding: .45em .7em; }
.step[data-outcome=ok] { border-left-color: var(--ok); }
.step[data-outcome=skipped] { border-left-color: var(--skip); background: #fffdf5; }
.step[data-outcome=failed] { border-left-color: var(--fail); background: #fff7f7; }
.row { display: grid; grid-template-columns: 5.5em 9em 2.5em 7em minmax(8em, 1fr) 5.5em 5.5em 120px; gap: .6em; align-items: center; }
.row .flowname { color: var(--muted); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.row .at { color: var(--muted); font-size: 12px; }
.row .num { font-weight: bold; text-align: right; }
.row .name { overflow-wrap: anywhere; }
.row .dur { text-align: right; white-space: nowrap; }
.bar { display: block; height: 8px; background: #eceef1; border-radius: 4px; overflow: hidden; }
.bar > span { display: block; height: 100%; min-width: 1px; background: #6b8fd6; }
.step[data-outcome=failed] .bar > span { background: var(--fail); }
.body { display: flex; gap: 1em; align-items: flex-start; margin-top: .35em; }
.facts { flex: 1; min-width: 0; }
.error { color: var(--fail); white-space: pre-wrap; overflow-wrap: anywhere; margin: .2em 0; }
ol.tried { margin: 0; padding-left: 1.5em; }
.shot { flex: none; cursor: zoom-in; }
.shot input { display: none; }
.shot img { display: block; width: 200px; border: 1px solid var(--line); border-radius: 3px; background: #fff; }
.shot input:checked + img { position: fixed; inset: 0; width: 100vw; height: 100vh; object-fit: contain;
  background: rgba(20, 22, 26, .88); border: 0; z-index: 10; cursor: zoom-out; }
.noshot { flex: none; width: 200px; color: var(--muted); font-size: 12px; border: 1px dashed var(--line); padding: .4em; border-radius: 3px; }
details { margin: .3em 0 0; }
summary { cursor: pointer; color: #2b4f9e; }
details pre { background: #f3f4f6; border: 1px solid var(--line); padding: .6em; max-height: 30em; overflow: auto;
  white-space: pre-wrap; overflow-wrap: anywhere; margin: .3em 0; }
table.resp { border-collapse: collapse; width: 100%; margin-top: .3em; font-size: 12.5px; }
table.resp td, table.resp th { border-bottom: 1px solid #eceef1; padding: 1px .5em 1px 0; text-align: left; vertical-align: top; }
table.resp th { color: var(--muted); font-weight: normal; }
table.resp .url { overflow-wrap: anywhere; }
.st2 { color: var(--ok); } .st3 { color: var(--muted); } .st4, .st5 { color: var(--fail); font-weight: bold; }
.dl { background: #eef5ff; border: 1px solid #b9cff5; border-radius: 4px; padding: .45em .7em; margin: 0 0 .5em; }
dl.summary { display: grid; grid-template-columns: repeat(2, max-content minmax(12em, 1fr)); gap: 1px 1em; margin: .3em 0 0; }
dl.summary dt { color: var(--muted); }
dl.summary dd { margin: 0; overflow-wrap: anywhere; }
.note { background: #fffbe6; border: 1px solid #eadfa5; border-radius: 4px; padding: .35em .7em; margin: 0 0 .5em; overflow-wrap: anywhere; }
.end { margin-top: 1em; }
.muted { color: var(--muted); }
"#;

fn write_page(out: &mut String, rec: &Recording, title: &str) -> fmt::Result {
    let h = &rec.header;
    let started = DateTime::parse_from_rfc3339(&h.started).ok();
    let steps: Vec<&StepEvent> = rec.steps().collect();
    // Offsets count from the header's start, else from the first step.
    let base = started
        .map(|t| t.timestamp_millis())
        .or_else(|| steps.first().map(|s| s.started_ms));
    let longest = steps
        .iter()
        .map(|s| s.ended_ms - s.started_ms)
        .max()
        .unwrap_or(0)
        .max(1);
    let end = rec.entries.iter().rev().find_map(|e| match e {
        Entry::End(end) => Some(end),
        _ => None,
    });

    writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"ja\">\n<head>\n<meta charset=\"utf-8\">"
    )?;
    // Defence in depth: no script runs even if something slipped through unescaped.
    writeln!(
        out,
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">"
    )?;
    writeln!(
        out,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    )?;
    writeln!(
        out,
        "<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>",
        Esc(title)
    )?;
    writeln!(out, "<h1>{}</h1>", Esc(title))?;

    // Header and end.
    writeln!(out, "<div class=\"card\"><table class=\"kv\">")?;
    writeln!(out, "<tr><th>oqsbot</th><td>{}</td></tr>", Esc(&h.oqsbot))?;
    writeln!(
        out,
        "<tr><th>コマンド</th><td><code>{}</code></td></tr>",
        Esc(&h.command)
    )?;
    let started_text = match (started, jst()) {
        (Some(t), Some(tz)) => t
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M:%S%.3f JST")
            .to_string(),
        _ => h.started.clone(),
    };
    writeln!(
        out,
        "<tr><th>開始</th><td>{} <span class=\"muted\">({})</span></td></tr>",
        Esc(&started_text),
        Esc(&h.started)
    )?;
    if let Some(end) = end {
        writeln!(
            out,
            "<tr><th>終了</th><td>{}{}</td></tr>",
            Esc(&clock_ms(end.ms)),
            match base {
                Some(b) => format!(
                    " <span class=\"muted\">(所要 {})</span>",
                    Esc(&duration(end.ms - b))
                ),
                None => String::new(),
            }
        )?;
        writeln!(
            out,
            "<tr><th>結果</th><td><span class=\"badge {}\">{}</span></td></tr>",
            end_class(&end.outcome),
            Esc(&end.outcome)
        )?;
        if let Some(err) = &end.error {
            writeln!(
                out,
                "<tr><th>エラー</th><td><div class=\"error\">{}</div></td></tr>",
                Esc(err)
            )?;
        }
    }
    writeln!(out, "</table>")?;
    let count = |w: &str| steps.iter().filter(|s| s.outcome == w).count();
    write!(
        out,
        "<div class=\"counts\"><span>ステップ {} 件</span><span class=\"badge ok\">成功 {}</span> \
         <span class=\"badge skipped\">スキップ {}</span> <span class=\"badge failed\">失敗 {}</span>",
        steps.len(),
        count("ok"),
        count("skipped"),
        count("failed")
    )?;
    if let Some(i) = steps.iter().position(|s| s.outcome == "failed") {
        write!(out, " <a href=\"#step-{}\">最初の失敗へ</a>", i + 1)?;
    }
    writeln!(out, "</div></div>")?;

    if end.is_none() {
        writeln!(
            out,
            "<div class=\"banner fail\">終了の記録がありません。実行が途中で止まった可能性があります。</div>"
        )?;
    }
    if rec.torn_tail {
        writeln!(
            out,
            "<div class=\"banner\">記録の最後の行が途中で切れていました（書き込み中に実行が終了しました）。その行は表示していません。</div>"
        )?;
    }

    // A sibling of <main>, so CSS alone can hide the other steps.
    writeln!(
        out,
        "<input type=\"checkbox\" id=\"only-failed\"> <label class=\"filter\" for=\"only-failed\">失敗したステップだけ表示</label>"
    )?;
    writeln!(out, "<main>")?;
    Timeline {
        out,
        rec,
        base,
        longest,
        flow: None,
        depths: HashMap::new(),
        step_index: 0,
    }
    .write()?;
    writeln!(out, "</main>\n</body>\n</html>")
}

fn end_class(outcome: &str) -> &'static str {
    match outcome {
        "completed" | "ok" => "completed",
        "failed" => "failed",
        _ => "",
    }
}

/// Walks the entries, opening a flow section whenever the flow changes.
struct Timeline<'a> {
    out: &'a mut String,
    rec: &'a Recording,
    base: Option<i64>,
    longest: i64,
    /// The flow whose section is open.
    flow: Option<String>,
    /// Each flow's depth as last started, for sections that resume a caller.
    depths: HashMap<String, usize>,
    step_index: usize,
}

impl Timeline<'_> {
    fn write(mut self) -> fmt::Result {
        let rec = self.rec;
        for entry in &rec.entries {
            match entry {
                Entry::Flow(f) => {
                    self.close()?;
                    self.depths.insert(f.flow.clone(), f.depth);
                    self.open(&f.flow, f.depth, Some(f))?;
                }
                Entry::Step(s) => {
                    if self.flow.as_deref() != Some(s.flow.as_str()) {
                        // The caller goes on after a called flow: a new section, marked as resumed.
                        self.close()?;
                        let depth = self.depths.get(&s.flow).copied().unwrap_or(0);
                        self.open(&s.flow, depth, None)?;
                    }
                    self.step(s)?;
                }
                Entry::Download(d) => self.download(d)?,
                Entry::Note(n) => self.note(n)?,
                Entry::End(e) => {
                    self.close()?;
                    self.end(e)?;
                }
                Entry::Header(_) | Entry::Resource(_) => {}
            }
        }
        self.close()
    }

    fn open(&mut self, name: &str, depth: usize, start: Option<&FlowStart>) -> fmt::Result {
        let out = &mut *self.out;
        writeln!(out, "<section class=\"flow\" style=\"--depth:{}\">", depth.min(8))?;
        write!(out, "<h2>フロー <code>{}</code>", Esc(name))?;
        if start.is_none() {
            write!(out, " <span class=\"depth\">（続き）</span>")?;
        }
        if depth > 0 {
            write!(out, " <span class=\"depth\">呼び出し 深さ {depth}</span>")?;
        }
        writeln!(out, "</h2>")?;
        if let Some(f) = start
            && (!f.vars.is_empty() || !f.secrets.is_empty() || !f.files.is_empty())
        {
            writeln!(out, "<details><summary>変数</summary><table class=\"kv\">")?;
            for (k, v) in &f.vars {
                writeln!(
                    out,
                    "<tr><th>{}</th><td><code>{}</code></td></tr>",
                    Esc(k),
                    Esc(v)
                )?;
            }
            for k in &f.secrets {
                writeln!(
                    out,
                    "<tr><th>{}</th><td class=\"muted\">秘密（値は記録されません）</td></tr>",
                    Esc(k)
                )?;
            }
            for (k, v) in &f.files {
                writeln!(out, "<tr><th>{}</th><td>ファイル {}</td></tr>", Esc(k), Esc(v))?;
            }
            writeln!(out, "</table></details>")?;
        }
        self.flow = Some(name.to_string());
        Ok(())
    }

    fn close(&mut self) -> fmt::Result {
        if self.flow.take().is_some() {
            writeln!(self.out, "</section>")?;
        }
        Ok(())
    }

    fn step(&mut self, s: &StepEvent) -> fmt::Result {
        self.step_index += 1;
        let rec = self.rec;
        let out = &mut *self.out;
        let (data, label) = outcome(&s.outcome);
        let took = (s.ended_ms - s.started_ms).max(0);
        let share = took as f64 * 100.0 / self.longest as f64;
        writeln!(
            out,
            "<article class=\"step\" id=\"step-{}\" data-outcome=\"{data}\">",
            self.step_index
        )?;
        writeln!(
            out,
            "<div class=\"row\"><span class=\"at mono\">{}</span><span class=\"flowname\" title=\"{f}\">{f}</span>\
             <span class=\"num\">#{}</span><code>{}</code><span class=\"name\">{}</span>\
             <span><span class=\"badge {data}\" title=\"{}\">{label}</span></span><span class=\"dur\">{}</span>\
             <span class=\"bar\"><span style=\"width:{share:.1}%\"></span></span></div>",
            offset(s.started_ms, self.base),
            s.step,
            Esc(&s.action),
            Esc(s.name.as_deref().unwrap_or("")),
            Esc(&s.outcome),
            duration(took),
            f = Esc(&s.flow),
        )?;

        writeln!(
            out,
            "<div class=\"body\"><div class=\"facts\"><table class=\"kv\">"
        )?;
        if let Some(m) = &s.matched {
            writeln!(out, "<tr><th>一致</th><td><code>{}</code></td></tr>", Esc(m))?;
        }
        if s.outcome != "ok" && !s.tried.is_empty() {
            writeln!(out, "<tr><th>試した指定</th><td><ol class=\"tried\">")?;
            for t in &s.tried {
                writeln!(out, "<li><code>{}</code></li>", Esc(t))?;
            }
            writeln!(out, "</ol></td></tr>")?;
        }
        match (&s.url_before, &s.url_after) {
            (Some(b), Some(a)) if a == b => {
                writeln!(out, "<tr><th>URL</th><td class=\"mono\">{}</td></tr>", Esc(a))?;
            }
            (b, a) => {
                if let Some(b) = b {
                    writeln!(
                        out,
                        "<tr><th>URL（前）</th><td class=\"mono\">{}</td></tr>",
                        Esc(b)
                    )?;
                }
                if let Some(a) = a {
                    writeln!(
                        out,
                        "<tr><th>URL（後）</th><td class=\"mono\">{}</td></tr>",
                        Esc(a)
                    )?;
                }
            }
        }
        writeln!(out, "</table>")?;
        if let Some(err) = &s.error {
            writeln!(out, "<div class=\"error\">{}</div>", Esc(err))?;
        }
        if let Some(hash) = &s.page {
            match rec.resource_text(hash) {
                Some(text) => writeln!(
                    out,
                    "<details><summary>ページのソース</summary><pre>{}</pre></details>",
                    Esc(&text)
                )?,
                None => writeln!(
                    out,
                    "<div class=\"muted\">ページのソースは記録にありません。</div>"
                )?,
            }
        }
        responses(out, s)?;
        writeln!(out, "</div>")?;
        screenshot(out, rec, s)?;
        writeln!(out, "</div>\n</article>")
    }

    fn download(&mut self, d: &DownloadEvent) -> fmt::Result {
        let out = &mut *self.out;
        let prefix: String = d.sha256.chars().take(16).collect();
        writeln!(
            out,
            "<div class=\"dl\"><strong>ダウンロード</strong> <code>{}</code> \
             <span class=\"muted\">{} バイト · SHA-256 <span class=\"mono\" title=\"{}\">{}…</span> · \
             {} #{} → 変数 <code>{}</code></span>",
            Esc(&d.file_name),
            thousands(d.bytes),
            Esc(&d.sha256),
            Esc(&prefix),
            Esc(&d.flow),
            d.step,
            Esc(&d.into)
        )?;
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let rows: Vec<(&str, String)> = match &d.summary {
            DownloadSummary::CredentialPdf {
                environment,
                institution_code,
                institution_name,
                user_id,
                user_name,
                password_chars,
                password_expires,
                reset_user_id,
                issued,
            } => vec![
                ("種類", "ユーザ設定情報 PDF".into()),
                ("環境", opt(environment)),
                ("医療機関コード", opt(institution_code)),
                ("医療機関名", opt(institution_name)),
                ("ユーザID", opt(user_id)),
                ("ユーザ名", opt(user_name)),
                (
                    "パスワード",
                    password_chars
                        .map(|n| format!("{n} 文字（値は記録されません）"))
                        .unwrap_or_default(),
                ),
                ("パスワード有効期限", opt(password_expires)),
                ("リセット用ユーザID", opt(reset_user_id)),
                ("発行日", opt(issued)),
            ],
            DownloadSummary::Pkcs12 {
                subject,
                institution_code,
                not_after,
            } => vec![
                ("種類", "クライアント証明書".into()),
                ("サブジェクト", opt(subject)),
                ("医療機関コード", opt(institution_code)),
                ("有効期限", opt(not_after)),
            ],
            DownloadSummary::Csv { rows, header } => vec![
                ("種類", "CSV".into()),
                ("行数", rows.to_string()),
                ("見出し", header.join(", ")),
            ],
            DownloadSummary::Other { content_type } => {
                vec![("種類", "その他".into()), ("Content-Type", opt(content_type))]
            }
        };
        writeln!(out, "<dl class=\"summary\">")?;
        for (k, v) in rows.iter().filter(|(_, v)| !v.is_empty()) {
            writeln!(out, "<dt>{k}</dt><dd>{}</dd>", Esc(v))?;
        }
        writeln!(out, "</dl></div>")
    }

    fn note(&mut self, n: &Note) -> fmt::Result {
        writeln!(
            self.out,
            "<div class=\"note\"><span class=\"mono muted\">{}</span> <strong>メモ</strong> {}</div>",
            offset(n.ms, self.base),
            Esc(&n.message)
        )
    }

    fn end(&mut self, e: &End) -> fmt::Result {
        write!(
            self.out,
            "<div class=\"end card\"><span class=\"mono muted\">{}</span> <strong>終了</strong> \
             <span class=\"badge {}\">{}</span>",
            offset(e.ms, self.base),
            end_class(&e.outcome),
            Esc(&e.outcome)
        )?;
        if let Some(err) = &e.error {
            write!(self.out, "<div class=\"error\">{}</div>", Esc(err))?;
        }
        writeln!(self.out, "</div>")
    }
}

fn screenshot(out: &mut String, rec: &Recording, s: &StepEvent) -> fmt::Result {
    if let Some(why) = &s.screenshot_skipped {
        return writeln!(
            out,
            "<div class=\"noshot\">スクリーンショットは保存されていません: {}</div>",
            Esc(why)
        );
    }
    let Some(hash) = &s.screenshot else {
        return Ok(());
    };
    let Some(bytes) = rec.resource(hash) else {
        return writeln!(
            out,
            "<div class=\"noshot\">スクリーンショットは記録にありません。</div>"
        );
    };
    // Written as JPEG; sniffed so a PNG would still show.
    let mime = if bytes.starts_with(b"\x89PNG") {
        "image/png"
    } else {
        "image/jpeg"
    };
    let data = base64::engine::general_purpose::STANDARD.encode(&bytes);
    // A hidden checkbox makes a click enlarge the image, with no script.
    writeln!(
        out,
        "<label class=\"shot\" title=\"クリックで拡大\"><input type=\"checkbox\">\
         <img alt=\"ステップ {} のスクリーンショット\" src=\"data:{mime};base64,{data}\"></label>",
        s.step
    )
}

fn responses(out: &mut String, s: &StepEvent) -> fmt::Result {
    if s.responses.is_empty() {
        return Ok(());
    }
    let downloads = s.responses.iter().filter(|r| r.download).count();
    write!(out, "<details><summary>HTTP 応答 {} 件", s.responses.len())?;
    if downloads > 0 {
        write!(out, "（ダウンロード {downloads}）")?;
    }
    writeln!(
        out,
        "</summary><table class=\"resp\"><tr><th>メソッド</th><th>状態</th><th>URL</th><th>Content-Type</th><th></th></tr>"
    )?;
    for r in &s.responses {
        write!(
            out,
            "<tr><td>{}</td><td class=\"st{}\">{}</td><td class=\"url mono\">{}",
            Esc(&r.method),
            (r.status / 100).min(9),
            r.status,
            Esc(&r.url)
        )?;
        if let Some(loc) = &r.location {
            write!(out, "<br><span class=\"muted\">→ {}</span>", Esc(loc))?;
        }
        writeln!(
            out,
            "</td><td>{}</td><td>{}</td></tr>",
            Esc(r.content_type.as_deref().unwrap_or("")),
            if r.download {
                "<span class=\"badge\">ダウンロード</span>"
            } else {
                ""
            }
        )?;
    }
    writeln!(out, "</table></details>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::encode;
    use serde_json::json;

    const HEADER: &str = r#"{"t":"header","format":"oqsrec","version":1,"oqsbot":"0.1.0","command":"run","started":"2026-12-02T00:00:00.000Z"}"#;
    const T0: i64 = 1_796_169_600_000; // 2026-12-02T00:00:00Z

    fn resource(hash: &str, kind: &str, bytes: &[u8]) -> String {
        json!({"t": "resource", "hash": hash, "kind": kind, "bytes": bytes.len(),
            "encoding": "deflate-base64", "data": encode(bytes)})
        .to_string()
    }

    fn flow(name: &str, depth: usize) -> String {
        json!({"t": "flow", "flow": name, "depth": depth, "vars": {"code": "1234567"},
            "secrets": ["password"], "files": {}})
        .to_string()
    }

    fn step(flow: &str, n: usize, outcome: &str, extra: serde_json::Value) -> String {
        let mut v = json!({"t": "step", "flow": flow, "step": n, "action": "click", "name": null,
            "tried": ["#login"], "matched": null, "url_before": "https://portal.example/a",
            "url_after": "https://portal.example/b", "started_ms": T0 + n as i64 * 1000,
            "ended_ms": T0 + n as i64 * 1000 + 250 * n as i64, "outcome": outcome, "error": null,
            "page": null, "screenshot": null, "screenshot_skipped": null, "responses": []});
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        v.to_string()
    }

    const JPEG: &[u8] = &[0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9];

    fn sample() -> Recording {
        let lines = [
            HEADER.to_string(),
            resource(
                "p1",
                "page",
                b"<html><body><script>alert(1)</script>'x' & \"y\"</body></html>",
            ),
            resource("s1", "screenshot", JPEG),
            flow("login", 0),
            step(
                "login",
                1,
                "ok",
                json!({"name": "ログイン", "matched": "#login", "page": "p1", "screenshot": "s1",
                    "responses": [{"method": "GET", "url": "https://portal.example/b?x=<1>", "status": 200,
                        "content_type": "text/html", "location": null, "content_disposition": null,
                        "body": null, "download": false}]}),
            ),
            flow("issue", 1),
            step(
                "issue",
                1,
                "skipped",
                json!({"screenshot_skipped": "a secret was <readable>"}),
            ),
            json!({"t": "download", "flow": "issue", "step": 1, "into": "pdf", "file_name": "user.pdf",
                "sha256": "ab".repeat(32), "bytes": 12345,
                "summary": {"type": "credential_pdf", "environment": null, "institution_code": "1234567",
                    "institution_name": null, "user_id": "U1", "user_name": null, "password_chars": 12,
                    "password_expires": null, "reset_user_id": null, "issued": null}})
            .to_string(),
            json!({"t": "note", "ms": T0 + 5000, "message": "pages not kept: <why>"}).to_string(),
            step(
                "login",
                2,
                "failed",
                json!({"error": "\"><img src=x onerror=alert(2)>", "tried": ["#a", "#b"]}),
            ),
            json!({"t": "end", "ms": T0 + 9000, "outcome": "failed", "error": "step 2 failed"}).to_string(),
        ];
        Recording::parse(format!("{}\n", lines.join("\n")).as_bytes()).unwrap()
    }

    #[test]
    fn one_step_row_per_step() {
        let rec = sample();
        let html = render(&rec, "test");
        assert_eq!(html.matches("class=\"step\"").count(), rec.steps().count());
        assert_eq!(html.matches("data-outcome=\"ok\"").count(), 1);
        assert_eq!(html.matches("data-outcome=\"skipped\"").count(), 1);
        assert_eq!(html.matches("data-outcome=\"failed\"").count(), 1);
        // The caller's step after the called flow gets a resumed section.
        assert_eq!(html.matches("<section class=\"flow\"").count(), 3);
        assert!(html.contains("<html lang=\"ja\">"));
        assert!(html.contains("<meta charset=\"utf-8\">"));
    }

    #[test]
    fn recorded_html_appears_only_escaped() {
        let html = render(&sample(), "<b>title</b>");
        assert!(html.contains("<summary>ページのソース</summary>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&#39;x&#39; &amp; &quot;y&quot;"));
        assert!(!html.contains("<script"), "no script of any kind is in the page");
        assert!(!html.contains("<img src=x"));
        assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"));
        assert!(html.contains("https://portal.example/b?x=&lt;1&gt;"));
        assert!(html.contains("&lt;b&gt;title&lt;/b&gt;"));
        assert!(html.contains("pages not kept: &lt;why&gt;"));
    }

    #[test]
    fn the_screenshot_is_a_data_uri() {
        let html = render(&sample(), "t");
        let b64 = base64::engine::general_purpose::STANDARD.encode(JPEG);
        assert!(html.contains(&format!("src=\"data:image/jpeg;base64,{b64}\"")));
    }

    #[test]
    fn a_skipped_screenshot_shows_its_reason() {
        let html = render(&sample(), "t");
        assert!(html.contains("a secret was &lt;readable&gt;"));
        assert_eq!(html.matches("data:image/").count(), 1);
    }

    #[test]
    fn end_download_and_torn_tail_are_shown() {
        let rec = sample();
        let html = render(&rec, "t");
        assert!(html.contains("step 2 failed"));
        assert!(html.contains("user.pdf") && html.contains("12,345 バイト"));
        assert!(html.contains("12 文字"));
        assert!(html.contains(&format!("{}…", "ab".repeat(8))));
        assert!(!html.contains("途中で切れて"));

        let torn = format!(
            "{HEADER}\n{}\n{{\"t\":\"step\",\"fl",
            step("f", 1, "ok", json!({}))
        );
        let rec = Recording::parse(torn.as_bytes()).unwrap();
        let html = render(&rec, "t");
        assert!(html.contains("途中で切れて"));
        assert!(html.contains("終了の記録がありません"));
        assert_eq!(html.matches("class=\"step\"").count(), 1);
    }

    #[test]
    fn escaping_covers_all_five_characters() {
        assert_eq!(Esc("a&b<c>d\"e'f").to_string(), "a&amp;b&lt;c&gt;d&quot;e&#39;f");
        assert_eq!(Esc("日本語").to_string(), "日本語");
    }
}
