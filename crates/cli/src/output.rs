//! Terminal output: aligned tables, colour on a TTY only, stable plain text when piped.

use std::io::{IsTerminal, Write};

use owo_colors::OwoColorize;

/// Whether standard output is a terminal (colour, progress bars).
pub(crate) fn stdout_is_tty() -> bool {
    std::io::stdout().is_terminal()
}

/// Prints rows as a table with a header, columns separated by two spaces.
pub(crate) fn print_table(header: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = std::io::stdout().lock();
    let tty = stdout_is_tty();
    let line = |cells: Vec<String>| -> String {
        let last = cells.len().saturating_sub(1);
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == last {
                    c.clone()
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let head = line(header.iter().map(|h| h.to_string()).collect());
    if tty {
        writeln!(out, "{}", head.bold())?;
    } else {
        writeln!(out, "{head}")?;
    }
    for row in rows {
        writeln!(out, "{}", line(row.clone()))?;
    }
    Ok(())
}

/// Colours the lines of a plan on a terminal: created green, deleted red, updated yellow.
pub(crate) fn colour_plan(text: &str) -> String {
    if !stdout_is_tty() {
        return text.to_string();
    }
    text.lines()
        .map(|l| {
            if l.starts_with("Created") {
                l.green().to_string()
            } else if l.starts_with("Deleted") {
                l.red().to_string()
            } else if l.starts_with("Updated") {
                l.yellow().to_string()
            } else if l.starts_with('\t') {
                l.dimmed().to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Sorts every object's keys recursively (Feast prints registry JSON with sorted keys).
pub(crate) fn sorted(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        J::Object(map) => {
            let mut entries: Vec<(String, J)> =
                map.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            J::Object(entries.into_iter().collect())
        }
        J::Array(items) => J::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// Writes `text` and a newline to standard output, returning errors (a closed pipe) instead of
/// panicking like `println!`.
pub(crate) fn line(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()
}
