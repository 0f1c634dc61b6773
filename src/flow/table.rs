//! Whole tables read from the page source in one WebDriver call, not one call per cell.

use std::collections::BTreeMap;

use scraper::{ElementRef, Html, Selector};

use crate::portal::text::normalize;

fn text(e: ElementRef) -> String {
    e.text()
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn selector(s: &str) -> Selector {
    // Only fixed, valid selectors are passed here.
    Selector::parse(s).unwrap_or_else(|_| panic!("bad selector {s}"))
}

/// The rows of the table named `name` (its aria-label or caption, or one of its
/// column headers), each as header → cell text.
pub fn read(html: &str, name: &str) -> Option<Vec<BTreeMap<String, String>>> {
    let doc = Html::parse_document(html);
    let tables = selector("table");
    let caption = selector("caption");
    let rows = selector("tr");
    let cells = selector("th,td");
    let want = normalize(name);
    let mut chosen = None;
    for t in doc.select(&tables) {
        let label = t.value().attr("aria-label").map(normalize).unwrap_or_default();
        let cap = t
            .select(&caption)
            .next()
            .map(|c| normalize(&text(c)))
            .unwrap_or_default();
        if label == want || cap == want {
            chosen = Some(t);
            break;
        }
        let header_has = t
            .select(&rows)
            .next()
            .is_some_and(|r| r.select(&cells).any(|c| normalize(&text(c)) == want));
        if chosen.is_none() && header_has {
            chosen = Some(t);
        }
    }
    let table = chosen?;
    let mut all = table.select(&rows);
    let header: Vec<String> = all.next()?.select(&cells).map(text).collect();
    Some(
        all.map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.select(&cells).map(text))
                .collect::<BTreeMap<String, String>>()
        })
        .filter(|m| !m.is_empty())
        .collect(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_by_label_or_header() {
        let html = "<table aria-label=\"検索結果\"><thead><tr><th>ユーザID</th><th>権限区分</th></tr></thead>\
                    <tbody><tr><td>FOFACE01</td><td>顔認証付きカードリーダー用</td></tr><tr><td> R0RENK01 </td><td>連携アプリケーション用</td></tr></tbody></table>";
        let rows = super::read(html, "検索結果").expect("by label");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1]["ユーザID"], "R0RENK01");
        assert_eq!(super::read(html, "権限区分").expect("by header").len(), 2);
        assert!(super::read(html, "受付番号").is_none());
    }
}
