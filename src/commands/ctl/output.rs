//! Human-readable output: aligned tables, and values of the API's JSON shown as text.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// Prints `rows` under `header`, each column as wide as its widest cell, two spaces apart.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    print!("{}", table(header, rows));
}

fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// A JSON value as a table cell: strings bare, `null` as `-`.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The elements of a JSON array; nothing for anything else.
pub fn items(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// Milliseconds as a short duration: `850ms`, `12.3s`, `4m05s`, `2h10m`.
pub fn duration_ms(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms}ms"),
        1_000..=59_999 => format!("{:.1}s", ms as f64 / 1000.0),
        60_000..=3_599_999 => format!("{}m{:02}s", ms / 60_000, ms / 1000 % 60),
        _ => format!("{}h{:02}m", ms / 3_600_000, ms / 60_000 % 60),
    }
}

/// A time in ms since the Unix epoch, as how long ago it was (`5m02s ago`).
pub fn ago(at_ms: &Value) -> String {
    let Some(at) = at_ms.as_u64() else {
        return "-".into();
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    format!("{} ago", duration_ms(now.saturating_sub(at)))
}

/// A task's revision, with the published one when the coordinator is behind: `3 (published 2)`.
pub fn revision(task: &Value) -> String {
    let revision = cell(&task["revision"]);
    match task["published_revision"].as_u64() {
        Some(p) if task["revision"].as_u64() != Some(p) => format!("{revision} (published {p})"),
        _ => revision,
    }
}

/// Prints `value` as indented JSON (`--json`, and configs in human output).
pub fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_aligned_to_the_widest_cell() {
        let rows = vec![
            vec!["orders".to_string(), "running".to_string()],
            vec!["a".to_string(), "-".to_string()],
        ];
        assert_eq!(
            table(&["NAME", "STATE"], &rows),
            "NAME    STATE\norders  running\na       -\n"
        );
    }

    #[test]
    fn durations_are_short() {
        assert_eq!(duration_ms(850), "850ms");
        assert_eq!(duration_ms(12_340), "12.3s");
        assert_eq!(duration_ms(245_000), "4m05s");
        assert_eq!(duration_ms(7_800_000), "2h10m");
    }
}
