//! Printing: aligned tables for people, one JSON document for machines.

use std::io::{self, Write};

use serde::Serialize;

/// Prints `value` as pretty JSON on stdout.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Prints rows as a table with a header, columns padded to their widest
/// cell (by characters).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> anyhow::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let mut out = io::stdout().lock();
    let line = |out: &mut io::StdoutLock<'_>, cells: Vec<&str>| -> io::Result<()> {
        let last = cells.len().saturating_sub(1);
        for (i, c) in cells.iter().enumerate() {
            if i == last {
                write!(out, "{c}")?;
            } else {
                let pad = widths[i].saturating_sub(c.chars().count());
                write!(out, "{c}{}  ", " ".repeat(pad))?;
            }
        }
        writeln!(out)
    };
    line(&mut out, header.to_vec())?;
    for r in rows {
        line(&mut out, r.iter().map(String::as_str).collect())?;
    }
    Ok(())
}
