//! The entries a zip file really lists, read from its central directory
//! ourselves, so that a bundle with two entries of one name is refused.
//!
//! Rules:
//! * The zip crate indexes entries by name: of two entries called
//!   `report.html` it shows one, and a verifier built on it checks that one
//!   while other tools show the other. So the central directory is walked
//!   here, entry by entry, and every name is listed as often as it occurs.
//! * Bounded: the end record is looked for in the last 64 KiB + 22 bytes,
//!   the directory may hold at most `max_entries` entries and 64 MiB.
//! * Zip64 (more than 65,535 entries or 4 GiB) is refused: no bundle is
//!   that large, and its extra records are more places to hide.
//! * Each entry's local header (what a tool reading the file from the front
//!   sees) must name the same file as the directory.
//! * A directory that does not parse, or whose entry count disagrees with
//!   the end record, is an error that says so.

use std::io::{Read, Seek, SeekFrom};

const EOCD_SIG: u32 = 0x0605_4b50;
const CDH_SIG: u32 = 0x0201_4b50;
const LFH_SIG: u32 = 0x0403_4b50;
const MAX_DIRECTORY: u64 = 64 << 20;

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes([
        *b.get(i)?,
        *b.get(i + 1)?,
        *b.get(i + 2)?,
        *b.get(i + 3)?,
    ]))
}

/// Every entry name of the zip's central directory, in order, duplicates
/// included.
pub fn names<R: Read + Seek>(r: &mut R, max_entries: usize) -> Result<Vec<String>, String> {
    let io = |e: std::io::Error| format!("cannot read the zip: {e}");
    let size = r.seek(SeekFrom::End(0)).map_err(io)?;
    let tail_len = size.min(65_535 + 22);
    r.seek(SeekFrom::Start(size - tail_len)).map_err(io)?;
    let mut tail = vec![0u8; tail_len as usize];
    r.read_exact(&mut tail).map_err(io)?;
    let at = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| u32_at(&tail, i) == Some(EOCD_SIG))
        .ok_or("not a zip file (no end of central directory)")?;
    let field = |off: usize| u16_at(&tail, at + off).ok_or("a cut end record");
    let entries = field(10)?;
    let dir_size = u32_at(&tail, at + 12).ok_or("a cut end record")?;
    let dir_offset = u32_at(&tail, at + 16).ok_or("a cut end record")?;
    if entries == 0xFFFF || dir_size == 0xFFFF_FFFF || dir_offset == 0xFFFF_FFFF {
        return Err("zip64 bundles are not accepted".into());
    }
    if usize::from(entries) > max_entries {
        return Err(format!(
            "the zip lists {entries} entries, more than {max_entries}"
        ));
    }
    if u64::from(dir_size) > MAX_DIRECTORY || u64::from(dir_offset) + u64::from(dir_size) > size {
        return Err("the zip's central directory lies outside the file".into());
    }
    r.seek(SeekFrom::Start(u64::from(dir_offset))).map_err(io)?;
    let mut dir = vec![0u8; dir_size as usize];
    r.read_exact(&mut dir).map_err(io)?;
    let mut out = Vec::new();
    let mut i = 0usize;
    while i < dir.len() {
        if u32_at(&dir, i) != Some(CDH_SIG) {
            return Err(format!(
                "the zip's central directory is broken at entry {}",
                out.len() + 1
            ));
        }
        let cut = || {
            format!(
                "the zip's central directory is cut at entry {}",
                out.len() + 1
            )
        };
        let name_len = usize::from(u16_at(&dir, i + 28).ok_or_else(cut)?);
        let extra_len = usize::from(u16_at(&dir, i + 30).ok_or_else(cut)?);
        let comment_len = usize::from(u16_at(&dir, i + 32).ok_or_else(cut)?);
        let name = dir.get(i + 46..i + 46 + name_len).ok_or_else(cut)?;
        let local = u32_at(&dir, i + 42).ok_or_else(cut)?;
        local_name_is(r, u64::from(local), name)?;
        out.push(String::from_utf8_lossy(name).into_owned());
        if out.len() > max_entries {
            return Err(format!("the zip lists more than {max_entries} entries"));
        }
        i += 46 + name_len + extra_len + comment_len;
    }
    if out.len() != usize::from(entries) {
        return Err(format!(
            "the zip's end record counts {entries} entries but its directory lists {}",
            out.len()
        ));
    }
    Ok(out)
}

/// The local header at `offset` names `name`.
fn local_name_is<R: Read + Seek>(r: &mut R, offset: u64, name: &[u8]) -> Result<(), String> {
    let shown = String::from_utf8_lossy(name);
    let bad = || format!("{shown}: its local header does not name it");
    r.seek(SeekFrom::Start(offset)).map_err(|_| bad())?;
    let mut head = [0u8; 30];
    r.read_exact(&mut head).map_err(|_| bad())?;
    if u32_at(&head, 0) != Some(LFH_SIG) || u16_at(&head, 26) != Some(name.len() as u16) {
        return Err(bad());
    }
    let mut local = vec![0u8; name.len()];
    r.read_exact(&mut local).map_err(|_| bad())?;
    if local != name {
        return Err(bad());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::{Cursor, Write};

    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, body) in files {
            z.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            z.write_all(body).unwrap();
        }
        z.finish().unwrap().into_inner()
    }

    /// Replaces the last `n` occurrences of `from` (same length as `to`).
    pub(crate) fn rename(z: &[u8], from: &[u8], to: &[u8], n: usize) -> Vec<u8> {
        let mut z = z.to_vec();
        let mut done = 0;
        let mut end = z.len();
        while done < n {
            let Some(at) = z[..end].windows(from.len()).rposition(|w| w == from) else {
                break;
            };
            z[at..at + to.len()].copy_from_slice(to);
            end = at;
            done += 1;
        }
        z
    }

    #[test]
    fn names_are_listed_as_often_as_they_occur() {
        let z = zip_of(&[("a.txt", b"1"), ("b/c.txt", b"2")]);
        assert_eq!(
            names(&mut Cursor::new(&z), 10).unwrap(),
            ["a.txt", "b/c.txt"]
        );
        // The same name twice (a forged entry in front of the genuine one):
        // written by renaming a same-length name in the directory.
        let z = zip_of(&[("forged.html", b"lies"), ("report.html", b"truth")]);
        let twice = rename(&z, b"forged.html", b"report.html", usize::MAX);
        assert_eq!(
            names(&mut Cursor::new(&twice), 10).unwrap(),
            ["report.html", "report.html"]
        );
        // Renamed in the directory only: the local header gives it away.
        let dir_only = rename(&z, b"forged.html", b"report.html", 1);
        assert!(names(&mut Cursor::new(&dir_only), 10)
            .unwrap_err()
            .contains("local header"));
    }

    proptest::proptest! {
        /// Any bytes, and any real zip with bytes changed: an answer, never
        /// a panic; a listing never longer than the limit.
        #[test]
        fn any_bytes_are_answered(noise in proptest::collection::vec(proptest::num::u8::ANY, 0..600),
                                  flips in proptest::collection::vec((0usize..400, proptest::num::u8::ANY), 0..8)) {
            if let Ok(n) = names(&mut Cursor::new(&noise), 4) {
                proptest::prop_assert!(n.len() <= 4);
            }
            let mut z = zip_of(&[("manifest.json", b"{}"), ("report.html", b"<p>x</p>")]);
            for (at, b) in flips {
                let i = at % z.len();
                z[i] = b;
            }
            if let Ok(n) = names(&mut Cursor::new(&z), 4) {
                proptest::prop_assert!(n.len() <= 4);
            }
            let _ = crate::cases::verify_bundle(Cursor::new(&z), None);
        }
    }

    #[test]
    fn broken_or_oversized_directories_are_refused() {
        let z = zip_of(&[("a.txt", b"1"), ("b.txt", b"2")]);
        assert!(names(&mut Cursor::new(&z), 1)
            .unwrap_err()
            .contains("more than 1"));
        assert!(names(&mut Cursor::new(b"not a zip".to_vec()), 10).is_err());
        let cut = &z[..z.len() - 30];
        assert!(names(&mut Cursor::new(cut.to_vec()), 10).is_err());
    }
}
