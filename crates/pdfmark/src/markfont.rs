//! The mark's Japanese glyphs as a small Type 3 font drawn from the
//! outlines of a CJK font on this machine, so the mark prints through every
//! common path.
//!
//! Rules:
//! * A non-embedded CID font (what the mark used before) is drawn by PDF
//!   viewers from their own Japanese fonts, but pdftops-based print filters
//!   (CUPS) substitute it into PostScript that Ghostscript refuses
//!   (`/rangecheck in --xyshow--`). A Type 3 font whose glyphs are the
//!   outlines themselves is plain PostScript on every path.
//! * Only the characters of this copy's mark are drawn (banner, recipient,
//!   notice: a few dozen), one byte each, at most 255; characters the font
//!   lacks, or past 255, fall back to the CID font.
//! * The outlines come from `CUSTODIAN_MARK_FONT` (a path, optionally
//!   `,INDEX` in a collection) or the first of the usual Japanese fonts
//!   found (Noto Sans CJK, IPAex, Takao, the Windows and macOS Gothic
//!   fonts). With none, the mark keeps the CID font (and says so).
//! * Each glyph paints in the current colour (`d1`); a ToUnicode map keeps
//!   the text extractable.

use std::collections::BTreeMap;
use std::sync::OnceLock;

/// One drawn glyph: its code in the Type 3 font, advance (1/1000 em) and
/// glyph program.
#[derive(Debug, Clone)]
pub struct Glyph {
    pub ch: char,
    pub code: u8,
    pub advance: f32,
    pub program: Vec<u8>,
}

/// The glyphs of one mark.
#[derive(Debug, Clone, Default)]
pub struct Glyphs {
    pub by_char: BTreeMap<char, Glyph>,
    /// Where the outlines came from (for the docs and notes).
    pub source: String,
}

const CANDIDATES: &[&str] = &[
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKjp-Regular.otf",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/truetype/takao-gothic/TakaoPGothic.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
    "/System/Library/Fonts/ヒラギノ角ゴシック W3.ttc",
    "C:\\Windows\\Fonts\\msgothic.ttc",
];

/// A font file read once per process.
struct Source {
    data: Vec<u8>,
    index: u32,
    path: String,
}

fn source() -> Option<&'static Source> {
    static SOURCE: OnceLock<Option<Source>> = OnceLock::new();
    SOURCE
        .get_or_init(|| {
            let wanted = std::env::var("CUSTODIAN_MARK_FONT").ok();
            let list: Vec<String> = match &wanted {
                Some(w) if !w.trim().is_empty() => vec![w.clone()],
                _ => CANDIDATES.iter().map(|s| s.to_string()).collect(),
            };
            for item in list {
                let (path, index) = match item.rsplit_once(',') {
                    Some((p, i)) if i.parse::<u32>().is_ok() => {
                        (p.to_string(), i.parse().unwrap_or(0))
                    }
                    _ => (item.clone(), 0),
                };
                // A font file of more than 64 MiB is no font we read.
                let Ok(meta) = std::fs::metadata(&path) else {
                    continue;
                };
                if meta.len() > 64 << 20 {
                    continue;
                }
                let Ok(data) = std::fs::read(&path) else {
                    continue;
                };
                let ok = ttf_parser::Face::parse(&data, index)
                    .is_ok_and(|f| f.glyph_index('秘').is_some());
                if ok {
                    return Some(Source { data, index, path });
                }
            }
            None
        })
        .as_ref()
}

struct Path {
    out: Vec<u8>,
    at: (f32, f32),
}

impl ttf_parser::OutlineBuilder for Path {
    fn move_to(&mut self, x: f32, y: f32) {
        self.out.extend(format!("{x:.0} {y:.0} m\n").bytes());
        self.at = (x, y);
    }
    fn line_to(&mut self, x: f32, y: f32) {
        self.out.extend(format!("{x:.0} {y:.0} l\n").bytes());
        self.at = (x, y);
    }
    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        // The quadratic as the cubic it equals.
        let (x0, y0) = self.at;
        let c1 = (x0 + 2.0 / 3.0 * (x1 - x0), y0 + 2.0 / 3.0 * (y1 - y0));
        let c2 = (x + 2.0 / 3.0 * (x1 - x), y + 2.0 / 3.0 * (y1 - y));
        self.out.extend(
            format!(
                "{:.1} {:.1} {:.1} {:.1} {x:.0} {y:.0} c\n",
                c1.0, c1.1, c2.0, c2.1
            )
            .bytes(),
        );
        self.at = (x, y);
    }
    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        self.out
            .extend(format!("{x1:.0} {y1:.0} {x2:.0} {y2:.0} {x:.0} {y:.0} c\n").bytes());
        self.at = (x, y);
    }
    fn close(&mut self) {
        self.out.extend(b"h\n");
    }
}

/// The glyphs for the non-ASCII characters of `texts`, if a font is found.
pub fn glyphs(texts: &[&str]) -> Option<Glyphs> {
    let src = source()?;
    let face = ttf_parser::Face::parse(&src.data, src.index).ok()?;
    let upem = f32::from(face.units_per_em().max(1));
    let scale = 1000.0 / upem;
    let mut out = Glyphs {
        source: src.path.clone(),
        ..Glyphs::default()
    };
    let mut next: u16 = 1;
    for ch in texts.iter().flat_map(|t| t.chars()) {
        if (' '..='~').contains(&ch) || out.by_char.contains_key(&ch) || next > 255 {
            continue;
        }
        let Some(gid) = face.glyph_index(ch) else {
            continue;
        };
        let advance = f32::from(face.glyph_hor_advance(gid).unwrap_or(face.units_per_em())) * scale;
        let mut path = Path {
            out: Vec::new(),
            at: (0.0, 0.0),
        };
        let bbox = face.outline_glyph(gid, &mut path);
        let (x0, y0, x1, y1) = bbox.map_or((0, 0, 0, 0), |b| (b.x_min, b.y_min, b.x_max, b.y_max));
        // Glyph space is 1/1000 em: the outline is scaled by its matrix.
        let mut program = format!(
            "{advance:.0} 0 {:.0} {:.0} {:.0} {:.0} d1\n{scale:.6} 0 0 {scale:.6} 0 0 cm\n",
            f32::from(x0) * scale,
            f32::from(y0) * scale,
            f32::from(x1) * scale,
            f32::from(y1) * scale,
        )
        .into_bytes();
        program.extend(path.out);
        program.extend(b"f\n");
        out.by_char.insert(
            ch,
            Glyph {
                ch,
                code: next as u8,
                advance,
                program,
            },
        );
        next += 1;
    }
    Some(out)
}

/// A ToUnicode CMap for the glyphs' one-byte codes.
pub fn to_unicode(g: &Glyphs) -> Vec<u8> {
    let mut s = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Custodian-Mark-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<00> <FF>\nendcodespacerange\n",
    );
    let items: Vec<&Glyph> = g.by_char.values().collect();
    for chunk in items.chunks(100) {
        s.push_str(&format!("{} beginbfchar\n", chunk.len()));
        for gl in chunk {
            let mut utf16 = [0u16; 2];
            let hex: String = gl
                .ch
                .encode_utf16(&mut utf16)
                .iter()
                .map(|u| format!("{u:04X}"))
                .collect();
            s.push_str(&format!("<{:02X}> <{hex}>\n", gl.code));
        }
        s.push_str("endbfchar\n");
    }
    s.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn marks_get_their_own_glyphs_when_a_font_is_here() {
        let Some(g) = glyphs(&["極秘 SECRET", "秘密保持 極"]) else {
            eprintln!("SKIPPED: no Japanese font on this machine (fonts-noto-cjk)");
            return;
        };
        let chars: Vec<char> = g.by_char.keys().copied().collect();
        assert_eq!(chars.len(), 5, "{chars:?}");
        let codes: Vec<u8> = g.by_char.values().map(|x| x.code).collect();
        assert!(codes.iter().all(|&c| c >= 1));
        for gl in g.by_char.values() {
            let p = String::from_utf8_lossy(&gl.program);
            assert!(p.contains(" d1\n") && p.trim_end().ends_with('f'), "{p}");
            assert!(gl.advance > 500.0 && gl.advance < 1200.0);
        }
        let cmap = String::from_utf8(to_unicode(&g)).unwrap();
        assert!(cmap.contains("<6975>"), "極 maps back: {cmap}");
    }
}
