//! `cargo run -p custodian-pdfmark --example typeset -- SOURCE.md OUT.pdf`:
//! typesets a Markdown source the way Custodian issues copies of it (here
//! with the canonical wording and a sample mark).
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use custodian_pdfmark::typeset::{parse, typeset};
use custodian_pdfmark::Mark;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let md = std::fs::read_to_string(&args[1])?;
    let mark = Mark {
        banner: "社外秘 INTERNAL".into(),
        lines: vec![
            "Sample Recipient (E10003)".into(),
            "CP-0000000000000001".into(),
            "2026-11-26".into(),
        ],
        notice: "Trade secret managed as secret; disclosure prohibited. 本書は営業秘密です。"
            .into(),
        qr: "custodian:CP-0000000000000001:00112233".into(),
        token: "CP-0000000000000001.00112233".into(),
    };
    std::fs::write(&args[2], typeset(&parse(&md), "Sample", &mark)?)?;
    Ok(())
}
