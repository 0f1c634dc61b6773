//! PDF extraction on a one-page ユーザ設定情報 notice, in the simulator's font
//! modes and with the table drawn column by column in split pieces.

use chrono::NaiveDate;
use criterion::{Criterion, criterion_group, criterion_main};
use oqs_sim::config::{DrawOrder, PdfFont, PdfOptions};
use oqs_sim::pdf::{CredentialNotice, find_font, render};

fn notice() -> CredentialNotice {
    CredentialNotice {
        issued: NaiveDate::from_ymd_opt(2026, 11, 25).unwrap_or_default(),
        postal_code: "〒530-0001".into(),
        address: "大阪府大阪市北区梅田1-2-3".into(),
        institution_name: "なにわ整形外科医院".into(),
        institution_code: "2713107890".into(),
        user_id: "H2713107".into(),
        user_name: "マスター病院".into(),
        password: Some("x7Kp2#qLm9Az".into()),
        password_expires: NaiveDate::from_ymd_opt(2027, 1, 24),
        reset_user_id: Some("H2713107R".into()),
        subtitle: None,
    }
}

fn bench(c: &mut Criterion) {
    let font = find_font(None).ok().and_then(|p| std::fs::read(p).ok());
    for (name, mode, order) in [
        ("embedded", PdfFont::Embedded, DrawOrder::Rows),
        ("unijis-ucs2", PdfFont::UnijisUcs2, DrawOrder::Rows),
        ("rksj", PdfFont::Rksj, DrawOrder::Rows),
        ("embedded-columns-split", PdfFont::Embedded, DrawOrder::Columns),
    ] {
        let opts = PdfOptions {
            font: mode,
            draw_order: order,
            split_values: order == DrawOrder::Columns,
            ..PdfOptions::default()
        };
        let Ok(bytes) = render(&notice(), &opts, font.as_deref()) else {
            eprintln!("skipping {name}: no font to embed");
            continue;
        };
        c.bench_function(&format!("read_credentials/{name}"), |b| {
            b.iter(|| oqsbot::pdf::read_credentials(std::hint::black_box(&bytes)))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
