//! A small hand-written SVG of the accuracy sweep (no plotting library, no network).

use crate::accuracy::Row;
use std::fmt::Write;

const W: f64 = 880.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 200.0;
const PANEL_H: f64 = 230.0;

struct Panel {
    top: f64,
    /// y value -> pixel
    y: Box<dyn Fn(f64) -> f64>,
}

fn x_px(n: f64) -> f64 {
    let (lo, hi) = (10.0, 28.0);
    LEFT + (n.log2() - lo) / (hi - lo) * (W - LEFT - RIGHT)
}

fn size_label(k: u32) -> String {
    match k {
        0..=19 => format!("{} KB", 1u64 << (k - 10)),
        _ => format!("{} MB", 1u64 << (k - 20)),
    }
}

fn x_axis(s: &mut String, p: &Panel) {
    let bottom = p.top + PANEL_H;
    for k in (10..=28).step_by(2) {
        let x = x_px((1u64 << k) as f64);
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{bottom:.1}" stroke="#e4e4e4"/><text x="{x:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text>"##,
            p.top,
            bottom + 15.0,
            size_label(k)
        );
    }
    let _ = write!(
        s,
        r##"<rect x="{LEFT}" y="{:.1}" width="{:.1}" height="{PANEL_H}" fill="none" stroke="#444"/>"##,
        p.top,
        W - LEFT - RIGHT
    );
}

fn series(
    s: &mut String,
    p: &Panel,
    pts: &[(f64, f64)],
    color: &str,
    hollow: &[bool],
    label: &str,
    ly: f64,
) {
    let path: Vec<String> = pts
        .iter()
        .map(|&(n, v)| format!("{:.1},{:.1}", x_px(n), (p.y)(v)))
        .collect();
    let _ = write!(
        s,
        r##"<polyline points="{}" fill="none" stroke="{color}" stroke-width="1.8"/>"##,
        path.join(" ")
    );
    for (i, &(n, v)) in pts.iter().enumerate() {
        let fill = if hollow.get(i).copied().unwrap_or(false) {
            "white"
        } else {
            color
        };
        let _ = write!(
            s,
            r##"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{fill}" stroke="{color}"/>"##,
            x_px(n),
            (p.y)(v)
        );
    }
    let lx = W - RIGHT + 14.0;
    let _ = write!(
        s,
        r##"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{color}" stroke-width="2"/><text x="{}" y="{}" font-size="12">{label}</text>"##,
        lx + 18.0,
        lx + 24.0,
        ly + 4.0
    );
}

pub fn accuracy(rows: &[Row]) -> String {
    let h = 2.0 * PANEL_H + 170.0;
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" viewBox="0 0 {W} {h}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>"##
    );
    let _ = write!(
        s,
        r##"<text x="{LEFT}" y="24" font-size="16" font-weight="bold">rmkit accounting accuracy: Δ INFO used_memory around MEMTEST.GROW n</text>"##
    );

    // Panel 1: share of the module's memory that Redis sees.
    let top1 = 50.0;
    let p1 = Panel {
        top: top1,
        y: Box::new(move |v: f64| top1 + PANEL_H - v.clamp(0.0, 120.0) / 120.0 * PANEL_H),
    };
    for v in [0.0, 25.0, 50.0, 75.0, 100.0] {
        let y = (p1.y)(v);
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{}" {}/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{v:.0}%</text>"##,
            W - RIGHT,
            if v == 100.0 { "#999" } else { "#e4e4e4" },
            if v == 100.0 {
                r#"stroke-dasharray="4 3""#
            } else {
                ""
            },
            LEFT - 6.0,
            y + 4.0
        );
    }
    x_axis(&mut s, &p1);
    let _ = write!(
        s,
        r##"<text x="16" y="{:.1}" font-size="12" transform="rotate(-90 16 {:.1})" text-anchor="middle">Δused_memory / n</text>"##,
        top1 + PANEL_H / 2.0,
        top1 + PANEL_H / 2.0
    );
    let pts = |f: &dyn Fn(&Row) -> f64| rows.iter().map(|r| (r.n as f64, f(r))).collect::<Vec<_>>();
    series(
        &mut s,
        &p1,
        &pts(&|r| r.delta as f64 / r.n as f64 * 100.0),
        "#1f77b4",
        &[],
        "rmkit allocator",
        top1 + 20.0,
    );
    series(
        &mut s,
        &p1,
        &pts(&|r| r.sys_delta as f64 / r.n as f64 * 100.0),
        "#d62728",
        &[],
        "System allocator",
        top1 + 40.0,
    );

    // Panel 2: errors on a log scale.
    let top2 = top1 + PANEL_H + 70.0;
    let (lo, hi) = (-4.0f64, 2.0f64); // 0.0001 % .. 100 %
    let p2 = Panel {
        top: top2,
        y: Box::new(move |v: f64| {
            let l = v.max(10f64.powf(lo)).log10().min(hi);
            top2 + PANEL_H - (l - lo) / (hi - lo) * PANEL_H
        }),
    };
    for e in -4..=2 {
        let v = 10f64.powi(e);
        let y = (p2.y)(v);
        let label = if e == -4 {
            "≤0.0001%".to_string()
        } else {
            format!("{}%", v)
        };
        let target = e == 0;
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{}" {}/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{label}</text>"##,
            W - RIGHT,
            if target { "#2ca02c" } else { "#e4e4e4" },
            if target {
                r#"stroke-dasharray="6 3""#
            } else {
                ""
            },
            LEFT - 6.0,
            y + 4.0
        );
    }
    let mb = x_px((1u64 << 20) as f64);
    let _ = write!(
        s,
        r##"<line x1="{mb:.1}" y1="{top2}" x2="{mb:.1}" y2="{:.1}" stroke="#999" stroke-dasharray="2 3"/><text x="{:.1}" y="{:.1}" font-size="11" fill="#2ca02c">1 % target (from 1 MB up)</text>"##,
        top2 + PANEL_H,
        mb + 6.0,
        (p2.y)(1.0) - 5.0
    );
    x_axis(&mut s, &p2);
    let _ = write!(
        s,
        r##"<text x="16" y="{:.1}" font-size="12" transform="rotate(-90 16 {:.1})" text-anchor="middle">error, % of n (log)</text><text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle">working set n (bytes held by the module)</text>"##,
        top2 + PANEL_H / 2.0,
        top2 + PANEL_H / 2.0,
        LEFT + (W - LEFT - RIGHT) / 2.0,
        top2 + PANEL_H + 34.0
    );
    let err_n = pts(&|r| (r.delta - r.n as i64).unsigned_abs() as f64 / r.n as f64 * 100.0);
    let err_c = pts(&|r| (r.delta - r.counted).unsigned_abs() as f64 / r.n as f64 * 100.0);
    let exact: Vec<bool> = rows.iter().map(|r| r.delta == r.counted).collect();
    series(
        &mut s,
        &p2,
        &err_n,
        "#1f77b4",
        &[],
        "rmkit |Δ − n| / n",
        top2 + 20.0,
    );
    series(
        &mut s,
        &p2,
        &err_c,
        "#9467bd",
        &exact,
        "rmkit |Δ − counted| / n",
        top2 + 40.0,
    );
    let _ = write!(
        s,
        r##"<text x="{:.1}" y="{:.1}" font-size="10" fill="#555">hollow = exactly 0</text><text x="{:.1}" y="{:.1}" font-size="10" fill="#555">System: |Δ − n| / n ≈ 100 %</text><text x="{:.1}" y="{:.1}" font-size="10" fill="#555">(off this scale's top)</text>"##,
        W - RIGHT + 14.0,
        top2 + 60.0,
        W - RIGHT + 14.0,
        top2 + 80.0,
        W - RIGHT + 14.0,
        top2 + 93.0
    );
    s += "</svg>\n";
    s
}
