//! `cargo run --release -p custodian-pdfmark --example roundtrip -- ORIGINAL OUT [LEAK]`:
//! issues a copy with alternating bits to OUT; with LEAK, reads it and
//! prints how many pairs were read and how many were wrong.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use custodian_pdfmark::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let limits = Limits::default();
    let orig = std::fs::read(&args[1])?;
    let bit = |k: usize| (k * 2654435761) % 7 < 3;
    if args.len() == 3 {
        let t = std::time::Instant::now();
        let mark = Mark {
            banner: "極秘 SECRET".into(),
            lines: vec!["E10003 Taro Yamada".into(), "copy C-42".into(), "2026-11-26".into()],
            notice: "Trade secret of Example Precision K.K.; unauthorised disclosure is an offence under the Unfair Competition Prevention Act.".into(),
            qr: "custodian:C-42:0123456789abcdef".into(),
            token: "C-42.0123456789abcdef".into(),
        };
        let out = issue(&orig, |k| Some(bit(k)), &mark, &limits)?;
        eprintln!("issued in {:?}", t.elapsed());
        std::fs::write(&args[2], out)?;
        return Ok(());
    }
    let o = Pdf::load(&orig, &limits)?.read_pages(&limits)?;
    let l = Pdf::load(&std::fs::read(&args[3])?, &limits)?;
    println!("token: {:?}", l.token());
    let lp = l.read_pages(&limits)?;
    let r = read(&o, &lp);
    let (mut ok, mut bad) = (0, 0);
    for (k, s) in r.symbols.iter().enumerate() {
        match s {
            Some(b) if *b == bit(k) => ok += 1,
            Some(_) => bad += 1,
            None => {}
        }
    }
    let sites: usize = o.iter().map(|p| p.sites.len()).sum();
    println!(
        "pages {:?}\nsites {sites} positions {} measured {} read ok {ok} wrong {bad}",
        r.pages,
        r.symbols.len(),
        r.measured
    );
    Ok(())
}
