//! Medians and plain-text tables.

pub fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

pub fn min(xs: &[f64]) -> f64 {
    xs.iter().copied().fold(f64::INFINITY, f64::min)
}

/// A table with right-aligned columns (the first column left-aligned), as Markdown.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::from("|");
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i] - c.chars().count();
            if i == 0 {
                s += &format!(" {c}{} |", " ".repeat(pad));
            } else {
                s += &format!(" {}{c} |", " ".repeat(pad));
            }
        }
        s + "\n"
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    out += "|";
    for (i, w) in widths.iter().enumerate() {
        out += &if i == 0 {
            format!(":{}|", "-".repeat(w + 1))
        } else {
            format!("{}:|", "-".repeat(w + 1))
        };
    }
    out += "\n";
    for r in rows {
        out += &line(r.clone());
    }
    out
}

/// 1234567.8 -> "1,234,568".
pub fn thousands(x: f64) -> String {
    let n = x.round() as i64;
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if n < 0 { format!("-{out}") } else { out }
}
