//! Decoding untrusted PDF streams within byte budgets.
//!
//! Rules:
//! * Before lopdf sees a file, [`prescan`] walks every `stream … endstream`
//!   in the raw bytes and inflates each one lopdf would decode while
//!   loading (everything but images: object streams, cross-reference
//!   streams, contents, fonts) into a counter, never a buffer, with a cap per
//!   stream ([`crate::Limits::max_stream_bytes`]) and per document
//!   ([`crate::Limits::max_decoded_bytes`]). A Flate bomb is refused, naming
//!   the limit, before anything is allocated for it.
//! * Page contents and the few streams the reader needs (ToUnicode maps)
//!   are decoded here, not by lopdf: Flate with the cap, no filter as is;
//!   any other filter chain through lopdf only when the stream is small
//!   enough that no filter could blow it past the cap (LZW, the worst,
//!   expands at most about 2,730 times).
//! * A stream whose compressed data is corrupt yields what did decode
//!   (as readers do); only exceeding a limit is an error.

use std::io::Read;

use lopdf::{Document, Object, Stream};

use crate::{Limits, PdfError};

/// The most any PDF filter expands one byte (LZW's 12-bit codes).
const WORST_RATIO: usize = 2_730;

/// Inflates zlib `data` up to `cap` bytes into `out` (or only counts them
/// when `out` is None); Err(()) when there is more than `cap`.
fn inflate_into(data: &[u8], cap: usize, mut out: Option<&mut Vec<u8>>) -> Result<usize, ()> {
    let mut z = flate2::read::ZlibDecoder::new(data);
    let mut buf = [0u8; 64 << 10];
    let mut n = 0usize;
    loop {
        match z.read(&mut buf) {
            Ok(0) => return Ok(n),
            Ok(k) => {
                n += k;
                if n > cap {
                    return Err(());
                }
                if let Some(o) = out.as_deref_mut() {
                    o.extend_from_slice(&buf[..k]);
                }
            }
            // Corrupt or cut data: what decoded so far.
            Err(_) => return Ok(n),
        }
    }
}

/// Inflates zlib `data`, at most `cap` bytes.
pub fn inflate(data: &[u8], cap: usize) -> Result<Vec<u8>, PdfError> {
    let mut out = Vec::new();
    inflate_into(data, cap, Some(&mut out)).map_err(|()| {
        PdfError::Limit(format!(
            "a compressed stream inflates to more than {cap} bytes"
        ))
    })?;
    Ok(out)
}

/// Checks the raw file's compressed streams against the budgets (see the
/// module's rules).
pub fn prescan(bytes: &[u8], limits: &Limits) -> Result<(), PdfError> {
    let finder = memchr::memmem::Finder::new(b"stream");
    let end_finder = memchr::memmem::Finder::new(b"endstream");
    let mut total = 0usize;
    let mut at = 0usize;
    while let Some(i) = finder.find(&bytes[at..]).map(|i| at + i) {
        at = i + 6;
        // `endstream` itself, or a word that merely ends in "stream".
        if i >= 3 && &bytes[i - 3..i] == b"end" {
            continue;
        }
        let data_start = match bytes.get(at..at + 2) {
            Some([b'\r', b'\n']) => at + 2,
            Some([b'\n', _]) | Some([b'\r', _]) => at + 1,
            _ => continue,
        };
        // The stream's dictionary: back to its `obj` (at most 64 KiB).
        let from = i.saturating_sub(64 << 10);
        let head = &bytes[from..i];
        let dict_start = memchr::memmem::rfind(head, b"obj").map_or(0, |k| k + 3);
        let dict = &head[dict_start..];
        if !dict.ends_with(b">>") && !dict.trim_ascii_end().ends_with(b">>") {
            continue;
        }
        let has = |w: &[u8]| memchr::memmem::find(dict, w).is_some();
        let end = end_finder
            .find(&bytes[data_start..])
            .map_or(bytes.len(), |k| data_start + k);
        at = end.max(at);
        let loaded = has(b"/ObjStm") || has(b"/XRef");
        if has(b"/Image") && !loaded {
            // Images are not decoded while loading or reading.
            continue;
        }
        if !has(b"/FlateDecode") && !has(b"/Fl ") && !has(b"/Fl/") && !has(b"/Fl]") {
            continue;
        }
        let cap = limits
            .max_stream_bytes
            .min(limits.max_decoded_bytes.saturating_sub(total));
        match inflate_into(&bytes[data_start..end], cap, None) {
            Ok(n) => total += n,
            Err(()) if cap < limits.max_stream_bytes => {
                return Err(PdfError::Limit(format!(
                    "its compressed streams inflate to more than {} bytes in all",
                    limits.max_decoded_bytes
                )))
            }
            Err(()) => {
                return Err(PdfError::Limit(format!(
                    "a compressed stream at byte {i} inflates to more than {} bytes",
                    limits.max_stream_bytes
                )))
            }
        }
    }
    Ok(())
}

fn filters(doc: &Document, st: &Stream) -> Vec<Vec<u8>> {
    let Ok(f) = st.dict.get(b"Filter") else {
        return Vec::new();
    };
    let f = doc.dereference(f).map(|(_, o)| o).unwrap_or(f);
    match f {
        Object::Name(n) => vec![n.clone()],
        Object::Array(a) => a
            .iter()
            .filter_map(|o| o.as_name().ok().map(<[u8]>::to_vec))
            .collect(),
        _ => vec![b"?".to_vec()],
    }
}

/// A stream's decoded bytes, at most `cap` (see the module's rules).
pub fn decode(doc: &Document, st: &Stream, cap: usize) -> Result<Vec<u8>, PdfError> {
    let f = filters(doc, st);
    match f.as_slice() {
        [] => Ok(st.content.clone()),
        [one]
            if (one == b"FlateDecode" || one == b"Fl") && st.dict.get(b"DecodeParms").is_err() =>
        {
            inflate(&st.content, cap)
        }
        // Flate with a predictor: its size is checked first, then lopdf
        // applies the predictor (which does not grow it).
        [one] if one == b"FlateDecode" || one == b"Fl" => {
            inflate_into(&st.content, cap, None).map_err(|()| {
                PdfError::Limit(format!(
                    "a compressed stream inflates to more than {cap} bytes"
                ))
            })?;
            st.decompressed_content()
                .map_err(|e| PdfError::Parse(format!("a stream does not decode: {e}")))
        }
        _ if st.content.len().saturating_mul(WORST_RATIO) <= cap => st
            .decompressed_content()
            .map_err(|e| PdfError::Parse(format!("a stream does not decode: {e}"))),
        _ => Err(PdfError::Limit(format!(
            "a stream of {} bytes with the filters {} could inflate past {cap} bytes",
            st.content.len(),
            f.iter()
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// A page's content, decoded within `cap` bytes in all.
pub fn page_content(
    doc: &Document,
    page: lopdf::ObjectId,
    cap: usize,
) -> Result<Vec<u8>, PdfError> {
    let mut out = Vec::new();
    for id in doc.get_page_contents(page) {
        let Ok(Object::Stream(st)) = doc.get_object(id) else {
            continue;
        };
        let left = cap.saturating_sub(out.len());
        let part = decode(doc, st, left).map_err(|e| match e {
            PdfError::Limit(_) => {
                PdfError::Limit(format!("a page's content is more than {cap} bytes"))
            }
            e => e,
        })?;
        out.extend_from_slice(&part);
        out.push(b'\n');
    }
    Ok(out)
}

/// An upper bound on the number of operators in content `bytes` (every
/// run of letters not after `/`), so a page of millions of operators is
/// refused before it is parsed into as many objects.
pub fn rough_operators(bytes: &[u8]) -> usize {
    let mut n = 0;
    let mut prev = b' ';
    let mut in_word = false;
    for &b in bytes {
        let letter = b.is_ascii_alphabetic() || b == b'\'' || b == b'"' || b == b'*';
        if letter && !in_word && prev != b'/' {
            n += 1;
        }
        in_word = letter || (in_word && b.is_ascii_digit());
        prev = b;
    }
    n
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Write;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(data).unwrap();
        z.finish().unwrap()
    }

    #[test]
    fn inflation_stops_at_the_cap() {
        let bomb = zlib(&vec![0u8; 8 << 20]);
        assert!(bomb.len() < 20_000);
        assert!(inflate(&bomb, 1 << 20).is_err());
        assert_eq!(inflate(&bomb, 8 << 20).unwrap().len(), 8 << 20);
        // Corrupt data: what decoded.
        let mut cut = zlib(b"hello world, hello world");
        cut.truncate(cut.len() - 6);
        assert!(inflate(&cut, 100).unwrap().len() <= 24);
    }

    #[test]
    fn a_bomb_in_an_object_stream_is_refused_before_loading() {
        let bomb = zlib(&vec![b' '; 40 << 20]);
        let mut pdf =
            b"%PDF-1.5\n1 0 obj\n<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length "
                .to_vec();
        pdf.extend_from_slice(format!("{} >>\nstream\n", bomb.len()).as_bytes());
        pdf.extend_from_slice(&bomb);
        pdf.extend_from_slice(b"\nendstream\nendobj\n%%EOF\n");
        let limits = Limits {
            max_stream_bytes: 16 << 20,
            ..Limits::default()
        };
        let e = prescan(&pdf, &limits).unwrap_err().to_string();
        assert!(e.contains("more than 16777216 bytes"), "{e}");
        // Labelled an image too, it is still an object stream: refused.
        let at = memchr::memmem::find(&pdf, b"/Type /ObjStm").unwrap() + 13;
        let mut img = pdf[..at].to_vec();
        img.extend_from_slice(b" /Subtype /Image");
        img.extend_from_slice(&pdf[at..]);
        assert!(prescan(&img, &limits).is_err());
        // Many small streams past the document's budget.
        let small = Limits {
            max_decoded_bytes: 30 << 20,
            ..Limits::default()
        };
        let mut two = pdf.clone();
        two.extend_from_slice(&pdf[9..]);
        let e = prescan(&two, &small).unwrap_err().to_string();
        assert!(e.contains("in all") || e.contains("inflates"), "{e}");
    }

    #[test]
    fn operators_are_bounded_from_above() {
        assert_eq!(
            rough_operators(b"q 1 0 0 1 0 0 cm BT /F1 12 Tf (Hi) Tj ET Q"),
            8
        );
        assert!(rough_operators(&b"q ".repeat(1000)) >= 1000);
        assert_eq!(rough_operators(b"/Name 12 0 R"), 1);
    }
}
