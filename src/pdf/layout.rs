//! From placed text to credentials: lines, words, labels and their values.
//!
//! Nothing here knows which program made the PDF. Runs on one baseline (within
//! a tolerance relative to the font size) form a line; touching runs form a
//! word, so text drawn glyph by glyph, in pieces or out of order reads the
//! same. A label is one or more words whose text is a known label: in one
//! piece, letter-spaced (a word per character), or wrapped onto a second line
//! of its cell. Its value is, first found:
//! - the words to its right on its line, up to the next label there;
//! - the nearest line above and below it within a line's height (a label
//!   centred beside a value of two lines);
//! - the line below it, unless a label starts that line (a `<dl>`);
//!
//! and then grows over the lines it wrapped onto, the nearest line first.

use chrono::NaiveDate;

use super::budget::{Work, WorkBudget};
use super::content::Run;
use super::{Credentials, PdfError, parse_japanese_date};
use crate::portal::text::normalize;

/// Baselines closer than this (× font size) are one line.
const SAME_LINE: f32 = 0.4;
/// Runs closer than this (× font size) touch: one word.
const TOUCHING: f32 = 0.15;
/// Words of a letter-spaced label may be this far apart (× font size).
const LABEL_SPACING: f32 = 3.0;
/// The most words (one per character when letter-spaced) a label may take.
const MAX_LABEL_WORDS: usize = 12;
/// How far below its label a value on a line of its own may start (× font size).
const BELOW_REACH: f32 = 3.0;
/// How far above and below a label with nothing beside it a value's lines
/// may be (× font size).
const AROUND: f32 = 1.2;
/// How far apart the lines of one wrapped value may be (× font size).
const WRAP_REACH: f32 = 1.5;
/// Labels read at most: a notice has about ten.
const MAX_LABELS: usize = 200;
/// How much a label's right edge may overlap its value (× font size): widths
/// of fonts without metrics are estimates.
const EDGE_SLACK: f32 = 0.5;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Field {
    Environment,
    Code,
    Name,
    UserId,
    UserName,
    Password,
    Expires,
    ResetId,
}

/// A label's text with what a generator may add or vary removed.
fn label_key(text: &str) -> String {
    normalize(text)
        .chars()
        .filter(|c| !matches!(c, ':' | '*'))
        .collect()
}

/// Every label a notice prints, as [`label_key`] gives it.
const LABELS: &[(&str, Field)] = &[
    ("利用環境", Field::Environment),
    ("利用種別", Field::Environment),
    ("医療機関コード", Field::Code),
    ("医療機関等コード", Field::Code),
    ("機関コード", Field::Code),
    ("医療機関等名", Field::Name),
    ("医療機関名", Field::Name),
    ("ユーザID", Field::UserId),
    ("ユーザ名", Field::UserName),
    ("パスワード", Field::Password),
    ("初期パスワード", Field::Password),
    ("初期後のパスワード", Field::Password),
    ("パスワード有効期限", Field::Expires),
    ("リセット用ユーザID", Field::ResetId),
];

fn field_for(label: &str) -> Option<Field> {
    let key = label_key(label);
    LABELS.iter().find(|(k, _)| *k == key).map(|(_, f)| *f)
}

/// Whether `key` is the start of a label but not a whole one.
fn starts_label(key: &str) -> bool {
    !key.is_empty()
        && LABELS
            .iter()
            .any(|(k, _)| k.len() > key.len() && k.starts_with(key))
}

/// Touching runs on one line.
#[derive(Debug, Clone)]
struct Word {
    page: u32,
    line: usize,
    x0: f32,
    x1: f32,
    y: f32,
    size: f32,
    text: String,
}

#[derive(Debug, Clone)]
struct Line {
    page: u32,
    y: f32,
    /// Indices into the words, left to right.
    words: Vec<usize>,
}

#[derive(Debug, Clone)]
struct Label {
    field: Field,
    page: u32,
    /// Its first line, and its last (a label wrapped in its cell takes two).
    line: usize,
    last_line: usize,
    x0: f32,
    x1: f32,
    y: f32,
    size: f32,
}

fn same_line(a: f32, b: f32, size: f32) -> bool {
    (a - b).abs() <= SAME_LINE * size.max(1.0)
}

/// Groups runs into lines, top to bottom, and each line's runs into words.
fn lines_and_words(mut runs: Vec<Run>) -> (Vec<Line>, Vec<Word>) {
    runs.retain(|r| !r.text.is_empty());
    runs.sort_by(|a, b| {
        a.page
            .cmp(&b.page)
            .then(b.y.total_cmp(&a.y))
            .then(a.x0.total_cmp(&b.x0))
    });
    let mut groups: Vec<Vec<Run>> = Vec::new();
    for run in runs {
        match groups.last_mut() {
            Some(g) if g[0].page == run.page && same_line(g[0].y, run.y, g[0].size.max(run.size)) => {
                g.push(run)
            }
            _ => groups.push(vec![run]),
        }
    }
    let mut lines = Vec::new();
    let mut words: Vec<Word> = Vec::new();
    for mut group in groups {
        group.sort_by(|a, b| a.x0.total_cmp(&b.x0));
        let line = lines.len();
        let first = words.len();
        let mut kept: Vec<Run> = Vec::new();
        for run in group {
            // Fake bold draws the same text twice, a hair apart: keep one.
            let twice = kept.iter().rev().take(4).any(|k| {
                k.text == run.text && {
                    let overlap = k.x1.min(run.x1) - k.x0.max(run.x0);
                    overlap > 0.5 * (run.x1 - run.x0)
                }
            });
            if !twice {
                kept.push(run);
            }
        }
        for run in kept {
            match words[first..].last_mut() {
                Some(w) if run.x0 - w.x1 < TOUCHING * w.size.max(run.size) => {
                    w.text.push_str(&run.text);
                    w.x1 = w.x1.max(run.x1);
                    w.size = w.size.max(run.size);
                }
                _ => words.push(Word {
                    page: run.page,
                    line,
                    x0: run.x0,
                    x1: run.x1,
                    y: run.y,
                    size: run.size,
                    text: run.text,
                }),
            }
        }
        let page = words[first].page;
        let y = words[first].y;
        lines.push(Line {
            page,
            y,
            words: (first..words.len()).collect(),
        });
    }
    split_inline_labels(&mut lines, &mut words);
    (lines, words)
}

/// "ユーザID：H0123456" in one word: the label and the value become two words.
fn split_inline_labels(lines: &mut [Line], words: &mut Vec<Word>) {
    for line in lines.iter_mut() {
        let mut ids = Vec::with_capacity(line.words.len());
        for &i in &line.words {
            let w = &words[i];
            let split = w
                .text
                .char_indices()
                .find(|(_, c)| matches!(c, ':' | '：'))
                .map(|(at, c)| (at, at + c.len_utf8()))
                .filter(|(at, rest)| field_for(&w.text[..*at]).is_some() && *rest < w.text.len());
            let Some((at, rest)) = split else {
                ids.push(i);
                continue;
            };
            let total = w.text.chars().count().max(1) as f32;
            let cut = w.text[..rest].chars().count() as f32;
            let edge = w.x0 + (w.x1 - w.x0) * cut / total;
            let value = Word {
                x0: edge,
                text: w.text[rest..].to_string(),
                ..w.clone()
            };
            words[i].text.truncate(at);
            words[i].x1 = edge;
            ids.push(i);
            ids.push(words.len());
            words.push(value);
        }
        line.words = ids;
    }
}

/// Finds labels, one or more words each, longest first. Returns the labels and
/// which words belong to a label.
fn find_labels(
    lines: &[Line],
    words: &[Word],
    budget: &mut WorkBudget,
) -> Result<(Vec<Label>, Vec<bool>), PdfError> {
    let mut labels = Vec::new();
    let mut is_label = vec![false; words.len()];
    for (n, line) in lines.iter().enumerate() {
        let ids = &line.words;
        let mut i = 0;
        while i < ids.len() && labels.len() < MAX_LABELS {
            let mut found = None;
            let mut key = String::new();
            for j in i..ids.len().min(i + MAX_LABEL_WORDS) {
                let w = &words[ids[j]];
                if j > i && w.x0 - words[ids[j - 1]].x1 > LABEL_SPACING * w.size {
                    break;
                }
                key.push_str(&label_key(&w.text));
                if key.chars().count() > MAX_LABEL_WORDS {
                    break;
                }
                if let Some(field) = field_for(&key) {
                    found = Some((j, field));
                }
            }
            let Some((mut last, field)) = found else {
                i += 1;
                continue;
            };
            // A colon standing alone after the label belongs to it.
            if let Some(&next) = ids.get(last + 1)
                && matches!(words[next].text.as_str(), ":" | "：")
            {
                last += 1;
            }
            let members = &ids[i..=last];
            for &k in members {
                is_label[k] = true;
            }
            labels.push(label_of(field, n, n, members, words));
            i = last + 1;
        }
    }
    // A label wrapped in its cell: a line in a column ends with its start, and
    // a line just below starts with the rest, under it.
    for (n, line) in lines.iter().enumerate() {
        for &i in &line.words {
            let w = &words[i];
            let mut key = label_key(&w.text);
            if is_label[i] || labels.len() >= MAX_LABELS || !starts_label(&key) {
                continue;
            }
            let reach = WRAP_REACH * w.size.max(1.0);
            let mut members = vec![i];
            let mut prev_y = w.y;
            let mut found = None;
            for (m, below) in lines.iter().enumerate().skip(n + 1) {
                if below.page != w.page || prev_y - below.y > reach {
                    break;
                }
                budget.spend(Work::PairingSteps, below.words.len())?;
                let under = below
                    .words
                    .iter()
                    .copied()
                    .find(|&v| !is_label[v] && words[v].x0 >= w.x0 - w.size && words[v].x0 < w.x1);
                // A line between (a value centred beside the label) is passed over.
                let Some(v) = under else { continue };
                key.push_str(&label_key(&words[v].text));
                members.push(v);
                prev_y = below.y;
                if let Some(field) = field_for(&key) {
                    found = Some((field, m));
                    break;
                }
                if !starts_label(&key) {
                    break;
                }
            }
            if let Some((field, last_line)) = found {
                for &k in &members {
                    is_label[k] = true;
                }
                labels.push(label_of(field, n, last_line, &members, words));
            }
        }
    }
    labels.sort_by(|a, b| a.line.cmp(&b.line).then(a.x0.total_cmp(&b.x0)));
    Ok((labels, is_label))
}

fn label_of(field: Field, line: usize, last_line: usize, members: &[usize], words: &[Word]) -> Label {
    let ys = members.iter().map(|&k| words[k].y);
    let (top, bottom) = (
        ys.clone().fold(f32::NEG_INFINITY, f32::max),
        ys.fold(f32::INFINITY, f32::min),
    );
    Label {
        field,
        page: words[members[0]].page,
        line,
        last_line,
        x0: members.iter().map(|&k| words[k].x0).fold(f32::INFINITY, f32::min),
        x1: members
            .iter()
            .map(|&k| words[k].x1)
            .fold(f32::NEG_INFINITY, f32::max),
        // A wrapped label's middle: where a value centred beside it sits.
        y: (top + bottom) / 2.0,
        size: members.iter().map(|&k| words[k].size).fold(0.0, f32::max),
    }
}

/// Where a label's value may lie across: up to the next label on its line.
fn right_limit(l: &Label, labels: &[Label]) -> f32 {
    labels
        .iter()
        .filter(|m| m.line == l.line && m.x0 > l.x1)
        .map(|m| m.x0)
        .fold(f32::INFINITY, f32::min)
}

/// Pairs each word with the label whose value it is, if any.
fn assign(
    lines: &[Line],
    words: &[Word],
    labels: &[Label],
    is_label: &[bool],
    budget: &mut WorkBudget,
) -> Result<Vec<Option<usize>>, PdfError> {
    let mut owner: Vec<Option<usize>> = vec![None; words.len()];
    let mut on_line: Vec<Vec<usize>> = vec![Vec::new(); lines.len()];
    for (k, l) in labels.iter().enumerate() {
        on_line[l.line].push(k);
    }
    // Beside: a word on a label's line belongs to the nearest label to its left.
    for (i, w) in words.iter().enumerate() {
        if is_label[i] {
            continue;
        }
        budget.spend(Work::PairingSteps, on_line[w.line].len())?;
        owner[i] = on_line[w.line]
            .iter()
            .copied()
            .filter(|&k| w.x0 >= labels[k].x1 - EDGE_SLACK * labels[k].size)
            .max_by(|&a, &b| labels[a].x1.total_cmp(&labels[b].x1));
    }
    let rights: Vec<f32> = labels.iter().map(|l| right_limit(l, labels)).collect();
    let mut has_value = vec![false; labels.len()];
    for k in owner.iter().flatten() {
        has_value[*k] = true;
    }

    // Around: a label centred beside a value of two or four lines sits between
    // them; take the nearest line above and below, within a line's height.
    for (k, l) in labels.iter().enumerate() {
        if has_value[k] {
            continue;
        }
        let size = l.size.max(1.0);
        let beside = |i: usize| {
            !is_label[i]
                && owner[i].is_none()
                && words[i].x0 >= l.x1 - EDGE_SLACK * size
                && words[i].x0 < rights[k]
        };
        let above = lines[..l.line].iter().rev();
        let below = lines[l.line + 1..].iter();
        let mut seeds: Vec<usize> = Vec::new();
        for side in [
            Box::new(above) as Box<dyn Iterator<Item = &Line>>,
            Box::new(below),
        ] {
            for line in side.take_while(|line| line.page == l.page && (line.y - l.y).abs() <= AROUND * size) {
                budget.spend(Work::PairingSteps, line.words.len())?;
                // Text under or over the label itself (a <dl>'s value) is not beside it.
                let under =
                    |i: usize| !is_label[i] && words[i].x0 < l.x1 - EDGE_SLACK * size && words[i].x1 > l.x0;
                if line.words.iter().any(|&i| under(i)) {
                    continue;
                }
                let ids: Vec<usize> = line.words.iter().copied().filter(|&i| beside(i)).collect();
                if !ids.is_empty() {
                    seeds.extend(ids);
                    break;
                }
            }
        }
        has_value[k] = !seeds.is_empty();
        for i in seeds {
            owner[i] = Some(k);
        }
    }

    // Below: a label with nothing beside it takes the line under it (a <dl>,
    // or labels over their values), unless a label starts that line.
    for (k, l) in labels.iter().enumerate() {
        if has_value[k] {
            continue;
        }
        let size = l.size.max(1.0);
        let in_column = |i: usize| words[i].x0 >= l.x0 - EDGE_SLACK * size && words[i].x0 < rights[k];
        let mut found = None;
        for line in lines[l.last_line + 1..]
            .iter()
            .take_while(|line| line.page == l.page && l.y - line.y <= BELOW_REACH * size)
        {
            budget.spend(Work::PairingSteps, line.words.len())?;
            if line.words.iter().any(|&i| in_column(i)) {
                found = Some(line);
                break;
            }
        }
        let Some(line) = found else { continue };
        let ids: Vec<usize> = line.words.iter().copied().filter(|&i| in_column(i)).collect();
        let x = words[ids[0]].x0;
        // A label at or left of the value's start owns that line.
        if line.words.iter().any(|&i| is_label[i] && words[i].x0 <= x) {
            continue;
        }
        let value: Vec<usize> = ids.into_iter().take_while(|&i| !is_label[i]).collect();
        if value.iter().any(|&i| owner[i].is_some()) {
            continue;
        }
        for i in value {
            owner[i] = Some(k);
        }
        has_value[k] = true;
    }

    extend_wrapped(lines, words, labels, is_label, &rights, &mut owner, budget)?;
    Ok(owner)
}

/// Grows each value over the lines it wrapped onto: a free line just above or
/// below it, in its column, no further than a line and a half away. The
/// nearest such line of all goes first, so of two values that could take a
/// line, the one it is closest to does.
fn extend_wrapped(
    lines: &[Line],
    words: &[Word],
    labels: &[Label],
    is_label: &[bool],
    rights: &[f32],
    owner: &mut [Option<usize>],
    budget: &mut WorkBudget,
) -> Result<(), PdfError> {
    // Each value's extent: first and last line index, and its left edge.
    let mut blocks: Vec<Option<(usize, usize, f32)>> = vec![None; labels.len()];
    for (i, o) in owner.iter().enumerate() {
        if let Some(k) = *o {
            let w = &words[i];
            blocks[k] = Some(match blocks[k] {
                None => (w.line, w.line, w.x0),
                Some((a, b, x)) => (a.min(w.line), b.max(w.line), x.min(w.x0)),
            });
        }
    }
    loop {
        let mut best: Option<(f32, usize, usize, Vec<usize>)> = None;
        for (k, block) in blocks.iter().enumerate() {
            let Some((first, last, x0)) = *block else { continue };
            let size = labels[k].size.max(1.0);
            let reach = WRAP_REACH * size;
            let column = |i: usize| {
                !is_label[i] && owner[i].is_none() && words[i].x0 >= x0 - size && words[i].x0 < rights[k]
            };
            let up = (0..first).rev().map(|n| (n, lines[first].y));
            let down = (last + 1..lines.len()).map(|n| (n, lines[last].y));
            for side in [
                Box::new(up) as Box<dyn Iterator<Item = (usize, f32)>>,
                Box::new(down),
            ] {
                for (n, edge) in side {
                    let gap = (lines[n].y - edge).abs();
                    if lines[n].page != labels[k].page || gap > reach {
                        break;
                    }
                    budget.spend(Work::PairingSteps, 1 + lines[n].words.len())?;
                    // A line holding a label ends the value.
                    if lines[n]
                        .words
                        .iter()
                        .any(|&i| is_label[i] && words[i].x0 < rights[k])
                    {
                        break;
                    }
                    let ids: Vec<usize> = lines[n].words.iter().copied().filter(|&i| column(i)).collect();
                    if ids.is_empty() {
                        continue;
                    }
                    if best.as_ref().is_none_or(|(g, ..)| gap < *g) {
                        best = Some((gap, k, n, ids));
                    }
                    break;
                }
            }
        }
        let Some((_, k, n, ids)) = best else { break };
        for &i in &ids {
            owner[i] = Some(k);
        }
        if let Some((first, last, x0)) = blocks[k].as_mut() {
            *first = (*first).min(n);
            *last = (*last).max(n);
            *x0 = ids.iter().map(|&i| words[i].x0).fold(*x0, f32::min);
        }
    }
    Ok(())
}

/// The value text of each label: its words line by line, left to right.
fn values(words: &[Word], owner: &[Option<usize>], count: usize) -> Vec<String> {
    let mut out = vec![String::new(); count];
    let mut order: Vec<usize> = (0..words.len()).filter(|&i| owner[i].is_some()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&words[a], &words[b]);
        a.line.cmp(&b.line).then(a.x0.total_cmp(&b.x0))
    });
    let mut last_line: Vec<Option<usize>> = vec![None; count];
    for i in order {
        let (Some(k), w) = (owner[i], &words[i]) else {
            continue;
        };
        let text = &mut out[k];
        match last_line[k] {
            None => {}
            Some(line) if line == w.line => text.push(' '),
            // A wrapped line: Japanese wraps between characters, Latin at a space.
            Some(_) => {
                let ascii_end = text.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
                let ascii_start = w.text.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
                if ascii_end && ascii_start {
                    text.push(' ');
                }
            }
        }
        text.push_str(&w.text);
        last_line[k] = Some(w.line);
    }
    out
}

/// The credentials a page's text gives.
pub(super) fn credentials(runs: Vec<Run>, budget: &mut WorkBudget) -> Result<Credentials, PdfError> {
    let (lines, words) = lines_and_words(runs);
    let (labels, is_label) = find_labels(&lines, &words, budget)?;
    let owner = assign(&lines, &words, &labels, &is_label, budget)?;
    let values = values(&words, &owner, labels.len());

    let mut c = Credentials::default();
    let slot = |s: &mut Option<String>, v: String| {
        if s.is_none() && !v.is_empty() {
            *s = Some(v);
        }
    };
    // Labels are in reading order: the first readable value of a field wins.
    for (label, value) in labels.iter().zip(&values) {
        let value = value.trim();
        match label.field {
            Field::Environment => slot(&mut c.environment, value.to_string()),
            Field::Code => slot(&mut c.institution_code, normalize(value)),
            Field::Name => slot(&mut c.institution_name, value.to_string()),
            Field::UserId => slot(&mut c.user_id, normalize(value)),
            Field::UserName => slot(&mut c.user_name, value.to_string()),
            Field::Password => slot(&mut c.password, normalize(value)),
            Field::Expires => {
                if c.password_expires.is_none() {
                    c.password_expires = parse_japanese_date(value);
                }
            }
            Field::ResetId => slot(&mut c.reset_user_id, normalize(value)),
        }
    }
    c.issued = issued(&lines, &words, &owner, &is_label);
    Ok(c)
}

/// The date the notice was issued: the first date on a line of its own,
/// outside the table.
fn issued(lines: &[Line], words: &[Word], owner: &[Option<usize>], is_label: &[bool]) -> Option<NaiveDate> {
    lines.iter().find_map(|line| {
        let free: Vec<&str> = line
            .words
            .iter()
            .filter(|&&i| owner[i].is_none() && !is_label[i])
            .map(|&i| words[i].text.as_str())
            .collect();
        free.iter()
            .find_map(|t| parse_japanese_date(t))
            .or_else(|| parse_japanese_date(&free.concat()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run of `text` at (x, y) in a 10 pt font whose characters are all 10 pt wide.
    fn run(x: f32, y: f32, text: &str) -> Run {
        Run {
            page: 1,
            x0: x,
            x1: x + 10.0 * text.chars().count() as f32,
            y,
            size: 10.0,
            text: text.into(),
        }
    }

    #[test]
    fn rows_in_any_drawing_order_and_pieces() {
        let mut runs = vec![
            run(400.0, 800.0, "2021年06月24日"),
            run(100.0, 700.0, "医療機関コード"),
            run(100.0, 680.0, "ユーザID"),
            run(100.0, 660.0, "初期後のパスワード"),
            run(100.0, 640.0, "パスワード有効期限"),
            run(100.0, 620.0, "リセット用ユーザID"),
            run(100.0, 720.0, "利用環境"),
        ];
        // Values drawn before their labels, one of them back to front in two runs.
        runs.insert(0, run(240.0, 700.0, "１２３４５６７８９０"));
        runs.insert(0, run(280.0, 660.0, "xyz9"));
        runs.insert(0, run(240.0, 660.0, "Ab3#"));
        runs.push(run(240.0, 680.0, "H0123456"));
        runs.push(run(240.0, 640.0, "2021年08月23日"));
        runs.push(run(240.0, 620.0, "H0123456R"));
        runs.push(run(240.0, 720.1, "接続検証環境"));
        let c = credentials(runs, &mut WorkBudget::default()).expect("pairs");
        assert_eq!(c.issued, NaiveDate::from_ymd_opt(2021, 6, 24));
        assert_eq!(c.environment.as_deref(), Some("接続検証環境"));
        assert!(!c.is_production());
        assert_eq!(c.institution_code.as_deref(), Some("1234567890"));
        assert_eq!(c.user_id.as_deref(), Some("H0123456"));
        assert_eq!(c.password.as_deref(), Some("Ab3#xyz9"));
        assert_eq!(c.password_expires, NaiveDate::from_ymd_opt(2021, 8, 23));
        assert_eq!(c.reset_user_id.as_deref(), Some("H0123456R"));
        assert!(!format!("{c:?}").contains("Ab3#"), "Debug hides the password");
    }

    #[test]
    fn a_value_wrapped_beside_a_centred_label_stays_whole() {
        let runs = vec![
            run(100.0, 700.0, "利用環境"),
            run(240.0, 700.0, "本番環境"),
            // Two lines of value; the label sits half-way between them.
            run(240.0, 676.0, "医療法人社団富士山会"),
            run(100.0, 670.0, "医療機関等名"),
            run(240.0, 664.0, "富士山クリニック"),
            run(100.0, 640.0, "医療機関コード"),
            run(240.0, 640.0, "1312345678"),
            run(100.0, 620.0, "ユーザID"),
            run(240.0, 620.0, "H1312345"),
        ];
        let c = credentials(runs, &mut WorkBudget::default()).expect("pairs");
        assert_eq!(
            c.institution_name.as_deref(),
            Some("医療法人社団富士山会富士山クリニック")
        );
        assert_eq!(c.environment.as_deref(), Some("本番環境"));
        assert_eq!(c.institution_code.as_deref(), Some("1312345678"));
    }

    #[test]
    fn a_long_wrapped_value_keeps_its_last_line_even_nearer_the_next_label() {
        let runs = vec![
            run(100.0, 700.0, "利用環境"),
            run(240.0, 700.0, "本番環境"),
            run(240.0, 678.0, "医療法人社"),
            run(240.0, 667.0, "団富士山会"),
            run(100.0, 656.0, "医療機関等名"),
            run(240.0, 656.0, "富士山クリ"),
            run(240.0, 645.0, "ニック附属"),
            run(240.0, 634.0, "所"),
            run(100.0, 613.0, "ユーザID"),
            run(240.0, 613.0, "H1312345"),
        ];
        let c = credentials(runs, &mut WorkBudget::default()).expect("pairs");
        assert_eq!(
            c.institution_name.as_deref(),
            Some("医療法人社団富士山会富士山クリニック附属所")
        );
        assert_eq!(c.user_id.as_deref(), Some("H1312345"));
        assert_eq!(c.environment.as_deref(), Some("本番環境"));
    }

    #[test]
    fn a_definition_list_takes_the_line_below() {
        let runs = vec![
            // A value longer than its label, close under it.
            run(100.0, 740.0, "ユーザ名"),
            run(130.0, 729.0, "山本"),
            run(155.0, 729.0, "富士子"),
            run(100.0, 700.0, "医療機関コード"),
            run(130.0, 685.0, "1312345678"),
            run(100.0, 670.0, "ユーザID"),
            run(130.0, 655.0, "H1312345"),
            run(100.0, 640.0, "医療機関等名"),
            run(130.0, 625.0, "とても長い名前の"),
            run(130.0, 611.0, "クリニック"),
            run(100.0, 596.0, "パスワード"),
            run(130.0, 581.0, "p@ss"),
        ];
        let c = credentials(runs, &mut WorkBudget::default()).expect("pairs");
        assert_eq!(c.institution_code.as_deref(), Some("1312345678"));
        assert_eq!(c.user_id.as_deref(), Some("H1312345"));
        assert_eq!(c.institution_name.as_deref(), Some("とても長い名前のクリニック"));
        assert_eq!(c.password.as_deref(), Some("p@ss"));
        assert_eq!(c.user_name.as_deref(), Some("山本 富士子"));
    }

    #[test]
    fn pairs_side_by_side_in_two_columns() {
        let runs = vec![
            run(50.0, 700.0, "医療機関コード"),
            run(140.0, 700.0, "1312345678"),
            run(300.0, 700.0, "ユーザID"),
            run(380.0, 700.0, "H1312345"),
            run(50.0, 680.0, "ユーザ名"),
            run(140.0, 680.0, "マスター"),
            run(300.0, 680.0, "パスワード"),
            run(380.0, 680.0, "Zz9!"),
        ];
        let c = credentials(runs, &mut WorkBudget::default()).expect("pairs");
        assert_eq!(c.institution_code.as_deref(), Some("1312345678"));
        assert_eq!(c.user_id.as_deref(), Some("H1312345"));
        assert_eq!(c.user_name.as_deref(), Some("マスター"));
        assert_eq!(c.password.as_deref(), Some("Zz9!"));
    }

    #[test]
    fn a_label_split_across_runs_or_letter_spaced() {
        let mut runs: Vec<Run> = "利用環境"
            .chars()
            .enumerate()
            .map(|(i, c)| run(100.0 + 25.0 * i as f32, 700.0, &c.to_string()))
            .collect();
        runs.push(run(240.0, 700.0, "本番環境"));
        runs.push(run(100.0, 680.0, "医療機関"));
        runs.push(run(140.0, 680.0, "コード"));
        runs.push(run(240.0, 680.0, "1312345678"));
        runs.push(run(100.0, 660.0, "ユーザID："));
        runs.push(run(160.0, 660.0, "H1312345"));
        let c = credentials(runs, &mut WorkBudget::default()).expect("pairs");
        assert_eq!(c.environment.as_deref(), Some("本番環境"));
        assert_eq!(c.institution_code.as_deref(), Some("1312345678"));
        assert_eq!(c.user_id.as_deref(), Some("H1312345"));
    }

    #[test]
    fn labels_wrapped_in_their_cells() {
        let runs = vec![
            run(100.0, 720.0, "ユーザID"),
            run(240.0, 720.0, "H1312345"),
            // Two pairs a row, both labels wrapped, the values centred beside them.
            run(100.0, 700.0, "パスワード有効"),
            run(240.0, 694.5, "2021年08月23日"),
            run(100.0, 689.0, "期限"),
            run(400.0, 700.0, "リセット用ユー"),
            run(540.0, 694.5, "H1312345R"),
            run(400.0, 689.0, "ザID"),
        ];
        let c = credentials(runs, &mut WorkBudget::default()).expect("pairs");
        assert_eq!(c.user_id.as_deref(), Some("H1312345"));
        assert_eq!(c.password_expires, NaiveDate::from_ymd_opt(2021, 8, 23));
        assert_eq!(c.reset_user_id.as_deref(), Some("H1312345R"));
    }

    #[test]
    fn inline_labels_and_an_empty_cell() {
        let runs = vec![
            run(100.0, 700.0, "医療機関コード：1312345678"),
            run(100.0, 680.0, "ユーザID:H1312345"),
            // The password cell is empty: the next row's value is not taken.
            run(100.0, 660.0, "パスワード"),
            run(100.0, 640.0, "パスワード有効期限"),
            run(240.0, 640.0, "2021年08月23日"),
        ];
        let c = credentials(runs, &mut WorkBudget::default()).expect("pairs");
        assert_eq!(c.institution_code.as_deref(), Some("1312345678"));
        assert_eq!(c.user_id.as_deref(), Some("H1312345"));
        assert_eq!(c.password, None);
        assert_eq!(c.password_expires, NaiveDate::from_ymd_opt(2021, 8, 23));
        assert_eq!(c.issued, None, "the expiry date is not the issue date");
    }

    #[test]
    fn pairing_stops_when_out_of_steps() {
        // A long value wrapped over many lines beside many labels costs steps;
        // with too few the reader says so instead of going on.
        let mut runs = Vec::new();
        for row in 0..40 {
            let y = 800.0 - 60.0 * row as f32;
            runs.push(run(100.0, y, "ユーザID"));
            for line in 0..4 {
                runs.push(run(240.0, y - 11.0 * line as f32, "H1312345"));
            }
        }
        assert!(credentials(runs.clone(), &mut WorkBudget::default()).is_ok());
        let few = super::super::budget::Tally {
            pairing_steps: 200,
            ..super::super::budget::LIMITS
        };
        let err = credentials(runs, &mut WorkBudget::new(few)).err();
        assert!(
            matches!(
                &err,
                Some(PdfError::TooMuchWork {
                    work: Work::PairingSteps,
                    limit: 200
                })
            ),
            "{err:?}"
        );
    }

    #[test]
    fn fake_bold_is_read_once() {
        let runs = vec![
            run(100.0, 700.0, "ユーザID"),
            run(100.3, 700.0, "ユーザID"),
            run(240.0, 700.0, "H1312345"),
            run(240.3, 700.0, "H1312345"),
        ];
        assert_eq!(
            credentials(runs, &mut WorkBudget::default())
                .expect("pairs")
                .user_id
                .as_deref(),
            Some("H1312345")
        );
    }
}
