//! `cargo run -p custodian-pdfmark --example dump -- FILE [PAGE]`: the
//! glyph origins and sites the interpreter sees on one page.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use custodian_pdfmark::{Limits, Pdf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let limits = Limits::default();
    let pdf = Pdf::load(&std::fs::read(&args[1])?, &limits)?;
    let n: usize = args.get(2).map_or(Ok(1), |s| s.parse())?;
    let pages = pdf.read_pages(&limits)?;
    let p = &pages[n - 1];
    for (i, g) in p.glyphs.iter().enumerate() {
        println!("glyph {i}: x {:.3} y {:.3} size {:.2}", g.x, g.y, g.size);
    }
    for s in &p.sites {
        println!(
            "site {:?} prev {} next {} unit {:.4}",
            s.at, s.prev, s.next, s.unit
        );
    }
    Ok(())
}
