//! Breaks a simulated dataset in every way an import must survive:
//! `cargo run -p custodian-sim --example inject-faults -- DIR`.

fn main() -> std::io::Result<()> {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: inject-faults DIR");
        std::process::exit(2);
    };
    let r = custodian_sim::faults::inject(std::path::Path::new(&dir), 1)?;
    println!(
        "injected {} bad lines and {} re-delivered events; {} good events",
        r.bad.len(),
        r.redelivered,
        r.good_events
    );
    for b in &r.bad {
        println!("  {}:{} {}", b.file, b.line, b.kind);
    }
    Ok(())
}
