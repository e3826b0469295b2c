//! A text-placement interpreter for PDF content streams: where each glyph's
//! origin lands on the page, and where the word gaps (sites) are.
//!
//! It follows the text state of ISO 32000-1 §9 (Tc, Tw, Tz, TL, Tf, Ts,
//! Td/TD/Tm/T*, Tj/TJ/'/") and the CTM (q/Q/cm), with advance widths from
//! the fonts' /Widths (simple fonts), /W and /DW (Type0, two-byte codes),
//! Type3 font matrices, and the metrics of the standard 14 fonts when a PDF
//! uses them without embedding. Form XObjects and rotated text are ignored:
//! they carry no sites and are never needed to find one.

use std::collections::HashMap;

use lopdf::content::Operation;
use lopdf::{Dictionary, Document, Object, ObjectId};

use crate::std_widths;
use crate::PdfError;

/// A glyph origin in page space (points, relative to the media box's lower
/// left corner), with the effective font size there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Glyph {
    pub x: f32,
    pub y: f32,
    pub size: f32,
}

/// Where a site sits in the content stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteAt {
    /// A kern number of a TJ array: operation, element.
    Kern { op: usize, elem: usize },
    /// After a space byte inside a string: operation, element (0 for
    /// Tj/'/"), byte offset of the space.
    Space { op: usize, elem: usize, byte: usize },
}

/// A word gap: the glyph before it and the glyph after it (indices into the
/// page's glyphs), and how many page points one thousandth of text space
/// is there (to turn a kern adjustment into a shift).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Site {
    pub at: SiteAt,
    pub prev: usize,
    pub next: usize,
    pub unit: f32,
}

/// A text line: the operation that moved to its baseline, the glyphs shown
/// on it (`first..end`), how many page points one unit of that operation's
/// vertical operand is, whether the operation moves relative to the previous
/// line (Td, TD, T*, ', ") or sets the position (Tm), the leading (TL) in
/// force, and which BT…ET block it is in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line {
    pub op: usize,
    pub first: usize,
    pub end: usize,
    pub unit: f32,
    pub relative: bool,
    pub leading: f32,
    pub block: u32,
}

/// A page as the interpreter saw it.
#[derive(Debug, Clone, Default)]
pub struct PageText {
    pub glyphs: Vec<Glyph>,
    pub sites: Vec<Site>,
    pub lines: Vec<Line>,
    /// The page's text in content order, as far as the fonts say which
    /// characters they show (ToUnicode maps; WinAnsi for simple fonts
    /// without one), with spaces at word gaps and newlines between lines.
    pub text: String,
}

/// Kerns at least this wide (thousandths of text space, as a negative TJ
/// number) are word gaps.
const WORD_KERN: f32 = 180.0;

/// A ToUnicode map: single codes and ranges.
#[derive(Clone, Default)]
struct ToUnicode {
    chars: HashMap<u32, String>,
    ranges: Vec<(u32, u32, Vec<u16>)>,
}

impl ToUnicode {
    fn get(&self, code: u32) -> Option<String> {
        if let Some(s) = self.chars.get(&code) {
            return Some(s.clone());
        }
        for (lo, hi, base) in &self.ranges {
            if (*lo..=*hi).contains(&code) {
                let mut u = base.clone();
                if let Some(last) = u.last_mut() {
                    *last = last.wrapping_add((code - lo) as u16);
                }
                return Some(String::from_utf16_lossy(&u));
            }
        }
        None
    }

    /// Parses the bfchar and bfrange sections of a CMap (at most 100,000
    /// entries; the rest is ignored).
    fn parse(data: &[u8]) -> ToUnicode {
        let text = String::from_utf8_lossy(data);
        let mut tokens: Vec<&str> = Vec::new();
        let mut rest: &str = &text;
        while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
            rest = &rest[start..];
            let end = if rest.starts_with('<') {
                rest.find('>').map_or(rest.len(), |e| e + 1)
            } else if rest.starts_with('[') || rest.starts_with(']') {
                1
            } else {
                rest.find(|c: char| c.is_whitespace() || c == '<' || c == '[' || c == ']')
                    .unwrap_or(rest.len())
                    .max(1)
            };
            tokens.push(&rest[..end]);
            rest = &rest[end..];
            if tokens.len() > 400_000 {
                break;
            }
        }
        let hex = |t: &str| -> Option<Vec<u8>> {
            let h: String = t
                .strip_prefix('<')?
                .strip_suffix('>')?
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            (0..h.len() / 2)
                .map(|i| u8::from_str_radix(h.get(2 * i..2 * i + 2)?, 16).ok())
                .collect()
        };
        let code = |t: &str| hex(t).map(|b| b.iter().fold(0u32, |a, x| a << 8 | u32::from(*x)));
        let utf16 = |t: &str| {
            hex(t).map(|b| {
                b.chunks(2)
                    .map(|c| u16::from(c[0]) << 8 | u16::from(*c.get(1).unwrap_or(&0)))
                    .collect::<Vec<u16>>()
            })
        };
        let mut out = ToUnicode::default();
        let mut i = 0;
        let mut mode = "";
        while i < tokens.len() && out.chars.len() + out.ranges.len() < 100_000 {
            match tokens[i] {
                "beginbfchar" | "beginbfrange" => mode = tokens[i],
                "endbfchar" | "endbfrange" => mode = "",
                t if mode == "beginbfchar" => {
                    if let (Some(c), Some(u)) = (code(t), tokens.get(i + 1).and_then(|t| utf16(t)))
                    {
                        out.chars.insert(c, String::from_utf16_lossy(&u));
                        i += 1;
                    }
                }
                t if mode == "beginbfrange" => {
                    if let (Some(lo), Some(hi)) = (code(t), tokens.get(i + 1).and_then(|t| code(t)))
                    {
                        if tokens.get(i + 2) == Some(&"[") {
                            let mut k = i + 3;
                            let mut c = lo;
                            while k < tokens.len() && tokens[k] != "]" {
                                if let Some(u) = utf16(tokens[k]) {
                                    out.chars.insert(c, String::from_utf16_lossy(&u));
                                }
                                c += 1;
                                k += 1;
                            }
                            i = k;
                        } else if let Some(u) = tokens.get(i + 2).and_then(|t| utf16(t)) {
                            out.ranges.push((lo, hi, u));
                            i += 2;
                        }
                    }
                }
                _ => {}
            }
            i += 1;
        }
        out
    }
}

/// The character a WinAnsi code stands for.
fn winansi_char(code: u32) -> Option<char> {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    match code {
        0x20..=0x7E | 0xA0..=0xFF => char::from_u32(code),
        0x80..=0x9F => Some(HIGH[(code - 0x80) as usize]),
        _ => None,
    }
}

#[derive(Clone)]
struct Font {
    unicode: Option<ToUnicode>,
    two_byte: bool,
    widths: HashMap<u32, f32>,
    default: f32,
    /// Glyph space to text space (1/1000 for all but Type3).
    scale: f32,
}

impl Font {
    fn width(&self, code: u32) -> f32 {
        self.widths.get(&code).copied().unwrap_or(self.default) * self.scale
    }
}

fn num(o: &Object) -> Option<f32> {
    match o {
        Object::Integer(i) => Some(*i as f32),
        Object::Real(r) => Some(*r),
        _ => None,
    }
}

fn resolve<'a>(doc: &'a Document, o: &'a Object) -> &'a Object {
    doc.dereference(o).map(|(_, o)| o).unwrap_or(o)
}

fn dict<'a>(doc: &'a Document, o: &'a Object) -> Option<&'a Dictionary> {
    resolve(doc, o).as_dict().ok()
}

fn array<'a>(doc: &'a Document, o: &'a Object) -> Option<&'a Vec<Object>> {
    resolve(doc, o).as_array().ok()
}

/// The metrics of a standard 14 font a PDF names without embedding it.
enum Standard {
    /// Every glyph this wide (Courier).
    Fixed(f32),
    /// By WinAnsi code.
    Table(&'static [u16; 256]),
}

fn standard_widths(base: &[u8]) -> Option<Standard> {
    let name = String::from_utf8_lossy(base);
    let name = name.rsplit('+').next().unwrap_or(&name).to_string();
    let has = |s: &str| name.contains(s);
    let bold = has("Bold");
    let italic = has("Italic") || has("Oblique");
    if has("Courier") {
        Some(Standard::Fixed(600.0))
    } else if has("Helvetica") || has("Arial") {
        Some(Standard::Table(if bold {
            &std_widths::HELVETICA_BOLD
        } else {
            &std_widths::HELVETICA
        }))
    } else if has("Times") {
        Some(Standard::Table(match (bold, italic) {
            (false, false) => &std_widths::TIMES_ROMAN,
            (true, false) => &std_widths::TIMES_BOLD,
            (false, true) => &std_widths::TIMES_ITALIC,
            (true, true) => &std_widths::TIMES_BOLD_ITALIC,
        }))
    } else {
        None
    }
}

fn load_font(doc: &Document, d: &Dictionary) -> Font {
    let mut font = load_widths(doc, d);
    font.unicode = d
        .get(b"ToUnicode")
        .ok()
        .and_then(|o| doc.dereference(o).ok())
        .and_then(|(_, o)| o.as_stream().ok())
        // Decoded within 4 MiB (a bomb here is no map, not an allocation).
        .and_then(|st| crate::bounded::decode(doc, st, 4 << 20).ok())
        .map(|b| ToUnicode::parse(&b));
    font
}

fn load_widths(doc: &Document, d: &Dictionary) -> Font {
    let subtype = d.get(b"Subtype").ok().and_then(|o| o.as_name().ok());
    if subtype == Some(b"Type0".as_slice()) {
        let mut widths = HashMap::new();
        let mut default = 1000.0;
        let desc = d
            .get(b"DescendantFonts")
            .ok()
            .and_then(|o| array(doc, o))
            .and_then(|a| a.first())
            .and_then(|o| dict(doc, o));
        if let Some(desc) = desc {
            if let Some(dw) = desc.get(b"DW").ok().map(|o| resolve(doc, o)).and_then(num) {
                default = dw;
            }
            if let Some(w) = desc.get(b"W").ok().and_then(|o| array(doc, o)) {
                let mut i = 0;
                while i + 1 < w.len() {
                    let Some(first) = num(resolve(doc, &w[i])) else {
                        break;
                    };
                    let first = first as u32;
                    match resolve(doc, &w[i + 1]) {
                        Object::Array(list) => {
                            for (k, v) in list.iter().enumerate() {
                                if let Some(v) = num(resolve(doc, v)) {
                                    widths.insert(first + k as u32, v);
                                }
                            }
                            i += 2;
                        }
                        other => {
                            let (Some(last), Some(v)) = (
                                num(other),
                                w.get(i + 2).map(|o| resolve(doc, o)).and_then(num),
                            ) else {
                                break;
                            };
                            for c in first..=(last as u32).min(first + 65_535) {
                                widths.insert(c, v);
                            }
                            i += 3;
                        }
                    }
                }
            }
        }
        return Font {
            unicode: None,
            two_byte: true,
            widths,
            default,
            scale: 0.001,
        };
    }
    let mut widths = HashMap::new();
    let mut default = 0.0;
    let first = d
        .get(b"FirstChar")
        .ok()
        .map(|o| resolve(doc, o))
        .and_then(num)
        .unwrap_or(0.0) as u32;
    let listed = d.get(b"Widths").ok().and_then(|o| array(doc, o));
    if let Some(list) = listed {
        for (k, v) in list.iter().enumerate() {
            if let Some(v) = num(resolve(doc, v)) {
                widths.insert(first + k as u32, v);
            }
        }
        if let Some(mw) = d
            .get(b"FontDescriptor")
            .ok()
            .and_then(|o| dict(doc, o))
            .and_then(|fd| fd.get(b"MissingWidth").ok())
            .map(|o| resolve(doc, o))
            .and_then(num)
        {
            default = mw;
        }
    } else if let Some(base) = d.get(b"BaseFont").ok().and_then(|o| o.as_name().ok()) {
        match standard_widths(base) {
            Some(Standard::Fixed(w)) => default = w,
            Some(Standard::Table(table)) => {
                for (c, w) in table.iter().enumerate() {
                    if *w > 0 {
                        widths.insert(c as u32, f32::from(*w));
                    }
                }
                default = 500.0;
            }
            None => default = 500.0,
        }
    }
    let mut scale = 0.001;
    if subtype == Some(b"Type3".as_slice()) {
        if let Some(a) = d
            .get(b"FontMatrix")
            .ok()
            .and_then(|o| array(doc, o))
            .and_then(|m| m.first())
            .and_then(|o| num(resolve(doc, o)))
        {
            scale = a;
        }
    }
    Font {
        unicode: None,
        two_byte: false,
        widths,
        default,
        scale,
    }
}

/// The fonts a page can use, by resource name.
fn page_fonts(doc: &Document, page: ObjectId) -> HashMap<Vec<u8>, Font> {
    let mut out = HashMap::new();
    if let Ok(fonts) = doc.get_page_fonts(page) {
        for (name, d) in fonts {
            out.insert(name, load_font(doc, d));
        }
    }
    out
}

#[derive(Clone, Copy)]
struct M([f32; 6]);

impl M {
    const ID: M = M([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
    /// self × other (apply self, then other).
    fn then(self, o: M) -> M {
        let a = self.0;
        let b = o.0;
        M([
            a[0] * b[0] + a[1] * b[2],
            a[0] * b[1] + a[1] * b[3],
            a[2] * b[0] + a[3] * b[2],
            a[2] * b[1] + a[3] * b[3],
            a[4] * b[0] + a[5] * b[2] + b[4],
            a[4] * b[1] + a[5] * b[3] + b[5],
        ])
    }
    fn translate(x: f32, y: f32) -> M {
        M([1.0, 0.0, 0.0, 1.0, x, y])
    }
}

#[derive(Clone)]
struct TextState {
    tc: f32,
    tw: f32,
    th: f32,
    tl: f32,
    rise: f32,
    size: f32,
    font: Option<Vec<u8>>,
}

/// Interprets one page's operations. `max_ops` bounds the work.
pub fn interpret(
    doc: &Document,
    page: ObjectId,
    ops: &[Operation],
    max_ops: usize,
) -> Result<PageText, PdfError> {
    if ops.len() > max_ops {
        return Err(PdfError::Limit(format!(
            "a page has {} operations, more than the {max_ops} allowed",
            ops.len()
        )));
    }
    let fonts = page_fonts(doc, page);
    let (ox, oy, _, _) = crate::media_box(doc, page);
    let mut out = PageText::default();
    // Where the last glyph ended (x, y, size), for spaces and newlines.
    let mut last_end: Option<(f32, f32, f32)> = None;
    let mut block = 0u32;
    // Opens a line at operation `i` (closing the one before).
    fn open_line(
        out: &mut PageText,
        i: usize,
        unit: f32,
        relative: bool,
        leading: f32,
        block: u32,
    ) {
        close_line(out);
        out.lines.push(Line {
            op: i,
            first: out.glyphs.len(),
            end: usize::MAX,
            unit,
            relative,
            leading,
            block,
        });
    }
    fn close_line(out: &mut PageText) {
        let n = out.glyphs.len();
        if let Some(l) = out.lines.last_mut() {
            if l.end == usize::MAX {
                l.end = n;
            }
        }
    }
    let mut ctm = M::ID;
    let mut stack: Vec<(M, TextState)> = Vec::new();
    let mut ts = TextState {
        tc: 0.0,
        tw: 0.0,
        th: 1.0,
        tl: 0.0,
        rise: 0.0,
        size: 0.0,
        font: None,
    };
    let mut tm = M::ID;
    let mut tlm = M::ID;
    let nums = |op: &Operation| -> Vec<f32> { op.operands.iter().filter_map(num).collect() };
    for (i, op) in ops.iter().enumerate() {
        match op.operator.as_str() {
            "q" if stack.len() < 256 => stack.push((ctm, ts.clone())),
            "Q" => {
                if let Some((c, t)) = stack.pop() {
                    ctm = c;
                    ts = t;
                }
            }
            "cm" => {
                let n = nums(op);
                if n.len() == 6 {
                    ctm = M([n[0], n[1], n[2], n[3], n[4], n[5]]).then(ctm);
                }
            }
            "BT" => {
                tm = M::ID;
                tlm = M::ID;
                block += 1;
                close_line(&mut out);
            }
            "Tc" => ts.tc = nums(op).first().copied().unwrap_or(0.0),
            "Tw" => ts.tw = nums(op).first().copied().unwrap_or(0.0),
            "Tz" => ts.th = nums(op).first().copied().unwrap_or(100.0) / 100.0,
            "TL" => ts.tl = nums(op).first().copied().unwrap_or(0.0),
            "Ts" => ts.rise = nums(op).first().copied().unwrap_or(0.0),
            "Tf" => {
                ts.font = op
                    .operands
                    .first()
                    .and_then(|o| o.as_name().ok())
                    .map(<[u8]>::to_vec);
                ts.size = op.operands.get(1).and_then(num).unwrap_or(0.0);
            }
            "Td" | "TD" => {
                let n = nums(op);
                if n.len() == 2 {
                    let leading = ts.tl;
                    if op.operator == "TD" {
                        ts.tl = -n[1];
                    }
                    if n[1] != 0.0 {
                        let unit = (tlm.0[3] * ctm.0[3]).abs();
                        open_line(&mut out, i, unit, true, leading, block);
                    }
                    tlm = M::translate(n[0], n[1]).then(tlm);
                    tm = tlm;
                }
            }
            "Tm" => {
                let n = nums(op);
                if n.len() == 6 {
                    let unit = ctm.0[3].abs();
                    open_line(&mut out, i, unit, false, ts.tl, block);
                    tlm = M([n[0], n[1], n[2], n[3], n[4], n[5]]);
                    tm = tlm;
                }
            }
            "T*" => {
                let unit = (tlm.0[3] * ctm.0[3]).abs();
                open_line(&mut out, i, unit, true, ts.tl, block);
                tlm = M::translate(0.0, -ts.tl).then(tlm);
                tm = tlm;
            }
            "Tj" | "'" | "\"" | "TJ" => {
                if op.operator == "\"" {
                    let n = nums(op);
                    if n.len() >= 2 {
                        ts.tw = n[0];
                        ts.tc = n[1];
                    }
                }
                if op.operator == "'" || op.operator == "\"" {
                    let unit = (tlm.0[3] * ctm.0[3]).abs();
                    open_line(&mut out, i, unit, true, ts.tl, block);
                    tlm = M::translate(0.0, -ts.tl).then(tlm);
                    tm = tlm;
                }
                let Some(font) = ts.font.as_ref().and_then(|f| fonts.get(f)) else {
                    continue;
                };
                let elems: Vec<&Object> = if op.operator == "TJ" {
                    match op.operands.first() {
                        Some(Object::Array(a)) => a.iter().collect(),
                        _ => continue,
                    }
                } else {
                    op.operands
                        .iter()
                        .filter(|o| matches!(o, Object::String(..)))
                        .take(1)
                        .collect()
                };
                let mut last_glyph: Option<usize> = None;
                let mut pending: Option<SiteAt> = None;
                for (e, el) in elems.iter().enumerate() {
                    let trm_base = |tm: M| {
                        M([ts.size * ts.th, 0.0, 0.0, ts.size, 0.0, ts.rise])
                            .then(tm)
                            .then(ctm)
                    };
                    match el {
                        Object::String(bytes, _) => {
                            let step = if font.two_byte { 2 } else { 1 };
                            let mut k = 0;
                            while k + step <= bytes.len() {
                                let code = if font.two_byte {
                                    u32::from(bytes[k]) << 8 | u32::from(bytes[k + 1])
                                } else {
                                    u32::from(bytes[k])
                                };
                                let is_space = !font.two_byte && code == 32;
                                let trm = trm_base(tm);
                                let ch: Option<String> = match &font.unicode {
                                    Some(map) => map.get(code),
                                    None if !font.two_byte => winansi_char(code).map(String::from),
                                    None => None,
                                };
                                if let Some(ch) = &ch {
                                    let (x, y) = (trm.0[4] - ox, trm.0[5] - oy);
                                    let size = trm.0[3].abs().max(0.1);
                                    if let Some((ex, ey, es)) = last_end {
                                        let ends_blank = out.text.ends_with(char::is_whitespace);
                                        if (y - ey).abs() > 0.5 * es.max(size) {
                                            if !out.text.ends_with('\n') {
                                                out.text.push('\n');
                                            }
                                        } else if x - ex > 0.15 * size && !ends_blank && ch != " " {
                                            out.text.push(' ');
                                        }
                                    }
                                    if out.text.len() < 16 << 20 {
                                        out.text.push_str(ch);
                                    }
                                }
                                let upright = trm.0[1].abs() < 1e-3 * trm.0[0].abs()
                                    && trm.0[2].abs() < 1e-3 * trm.0[3].abs()
                                    && trm.0[0] > 0.0;
                                if !is_space && upright {
                                    let g = Glyph {
                                        x: trm.0[4] - ox,
                                        y: trm.0[5] - oy,
                                        size: trm.0[3].abs(),
                                    };
                                    let gi = out.glyphs.len();
                                    out.glyphs.push(g);
                                    if let (Some(at), Some(prev)) = (pending.take(), last_glyph) {
                                        // One thousandth of text space, in page points.
                                        let unit =
                                            ts.size * ts.th * (ctm_scale(tm.then(ctm))) / 1000.0;
                                        out.sites.push(Site {
                                            at,
                                            prev,
                                            next: gi,
                                            unit,
                                        });
                                    }
                                    last_glyph = Some(gi);
                                } else if !upright {
                                    pending = None;
                                    last_glyph = None;
                                }
                                if is_space && last_glyph.is_some() {
                                    // A site after the last space of a run.
                                    let next_is_space = bytes.get(k + 1) == Some(&32);
                                    pending = if next_is_space || k + 1 >= bytes.len() {
                                        None
                                    } else {
                                        Some(SiteAt::Space {
                                            op: i,
                                            elem: e,
                                            byte: k,
                                        })
                                    };
                                }
                                let w = font.width(code);
                                let tx = (w * ts.size + ts.tc + if is_space { ts.tw } else { 0.0 })
                                    * ts.th;
                                tm = M::translate(tx, 0.0).then(tm);
                                if ch.is_some() {
                                    let e = trm_base(tm);
                                    last_end =
                                        Some((e.0[4] - ox, e.0[5] - oy, e.0[3].abs().max(0.1)));
                                }
                                k += step;
                            }
                        }
                        other => {
                            if let Some(n) = num(other) {
                                tm = M::translate(-n / 1000.0 * ts.size * ts.th, 0.0).then(tm);
                                pending = if -n >= WORD_KERN && last_glyph.is_some() {
                                    Some(SiteAt::Kern { op: i, elem: e })
                                } else {
                                    // A kern inside a word keeps a pending
                                    // space site only if it is small.
                                    if n.abs() < WORD_KERN {
                                        pending
                                    } else {
                                        None
                                    }
                                };
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    close_line(&mut out);
    Ok(out)
}

fn ctm_scale(m: M) -> f32 {
    (m.0[0] * m.0[0] + m.0[1] * m.0[1]).sqrt()
}
