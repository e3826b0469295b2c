//! Hostile leaks handed to `custodian trace`: Flate bombs in an object
//! stream and in page content, a page of millions of operators, a huge
//! image. Each is refused with the limit named, and the real binary's peak
//! memory stays under 512 MiB (measured with /usr/bin/time when present).

use std::io::Write;
use std::path::Path;
use std::process::Command;

use crate::support::bin;

/// A PDF of the given objects (numbered from 1; object 1 the catalog),
/// with a correct cross-reference table.
fn pdf(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.5\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn stream(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut s = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
    s.extend_from_slice(data);
    s.extend_from_slice(b"\nendstream");
    s
}

/// `n` MiB of one byte, deflated.
fn bomb(n: usize, byte: u8) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let chunk = vec![byte; 1 << 20];
    for _ in 0..n {
        z.write_all(&chunk).unwrap();
    }
    z.finish().unwrap()
}

fn page_with(content: Vec<u8>) -> Vec<u8> {
    pdf(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>".to_vec(),
        content,
    ])
}

/// Runs `custodian trace FILE`: (exit ok, stderr, peak RSS in KiB if
/// measured).
fn trace(dir: &Path, file: &Path) -> (bool, String, Option<u64>) {
    let store = format!("sqlite://{}", dir.join("s.db").display());
    let timer = Path::new("/usr/bin/time");
    let rss_file = dir.join("rss.txt");
    let mut c = if timer.exists() {
        let mut c = Command::new(timer);
        c.arg("-f").arg("%M").arg("-o").arg(&rss_file).arg(bin());
        c
    } else {
        Command::new(bin())
    };
    let out = c
        .current_dir(dir)
        .env_remove("CUSTODIAN_STORE")
        .env_remove("RUST_LOG")
        .args(["--store", &store, "trace"])
        .arg(file)
        .output()
        .unwrap();
    let rss = std::fs::read_to_string(&rss_file)
        .ok()
        .and_then(|t| t.lines().last()?.trim().parse().ok());
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        rss,
    )
}

#[test]
fn hostile_leaks_are_refused_within_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let one_gib = bomb(1024, 0);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "objstm-bomb.pdf",
            pdf(&[
                b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
                b"<< /Type /Pages /Kids [] /Count 0 >>".to_vec(),
                stream("/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode", &one_gib),
            ]),
            "inflates to more than",
        ),
        (
            "content-bomb.pdf",
            page_with(stream("/Filter /FlateDecode", &bomb(1024, b' '))),
            "inflates to more than",
        ),
        (
            "nested-q.pdf",
            page_with(stream("", &b"q ".repeat(2 << 20))),
            "operations",
        ),
    ];
    for (name, bytes, why) in cases {
        let f = tmp.path().join(name);
        std::fs::write(&f, &bytes).unwrap();
        let (ok, err, rss) = trace(tmp.path(), &f);
        assert!(!ok, "{name} was traced");
        assert!(
            err.contains("limit reached") && err.contains(why),
            "{name}: {err}"
        );
        match rss {
            Some(kib) => {
                eprintln!("{name}: {} bytes, peak RSS {} MiB", bytes.len(), kib / 1024);
                assert!(kib < 512 * 1024, "{name}: peak RSS {} MiB", kib / 1024);
            }
            None => eprintln!("SKIPPED: peak memory of {name} (no /usr/bin/time)"),
        }
    }
    // A 12,000 x 12,000 PNG: refused from its header.
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&12_000u32.to_be_bytes());
    ihdr.extend_from_slice(&12_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    for (kind, data) in [(&b"IDAT"[..], bomb(1, 0)), (&b"IEND"[..], Vec::new())] {
        let mut chunk = kind.to_vec();
        chunk.extend_from_slice(&data);
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        png.extend_from_slice(&chunk);
        png.extend_from_slice(&crc32(&chunk).to_be_bytes());
    }
    let f = tmp.path().join("huge.png");
    std::fs::write(&f, &png).unwrap();
    let (ok, err, _) = trace(tmp.path(), &f);
    assert!(!ok);
    assert!(err.contains("pixels"), "{err}");
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}
