//! Traceable PDF copies: three carriers of a recipient's identity in a PDF.
//!
//! * **Geometry**: word gaps are widened or narrowed by a fraction of a
//!   point ([`SHIFT`] thousandths of the font size, 0.3 pt at 10 pt): each
//!   gap carries one code position as +d or −d, and the last gap of each
//!   text operation takes back the sum, so a line ends where it ended. Reading
//!   interprets the leak's content streams ([`text`]) wherever the text came
//!   from (the original's own operators, or whatever qpdf, Ghostscript or
//!   cairo wrote), matches each leaked page to the original page it shows,
//!   and measures every gap against the original.
//! * **Metadata**: a per-copy token in the document information dictionary,
//!   for an exact match when the file leaks unmodified.
//! * **A visible mark** on every page: the level banner, recipient, copy id,
//!   date, a legal notice and a QR code of the copy id and its MAC.
//!
//! Input PDFs are untrusted (a leak handed in for tracing): [`Limits`] bound
//! the file size, pages, operations per page and the time spent.

pub mod bounded;
pub mod markfont;
pub mod scan;
pub mod text;
pub mod typeset;

#[allow(clippy::all)]
mod std_widths;

use std::time::{Duration, Instant};

use lopdf::content::{Content, Operation};
use lopdf::{dictionary, Dictionary, Document, Object, ObjectId, Stream, StringFormat};

pub use text::{Glyph, Line, PageText, Site, SiteAt};

/// The gap change of one site, in thousandths of text space (0.03 em).
pub const SHIFT: f32 = 30.0;

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("not a PDF that can be read: {0}")]
    Parse(String),
    #[error("limit reached: {0}")]
    Limit(String),
    #[error("cannot write the copy: {0}")]
    Write(String),
    #[error("OCR: {0}")]
    Ocr(String),
}

/// Bounds on the work an untrusted PDF may cause.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_pages: usize,
    pub max_ops_per_page: usize,
    pub max_time: Duration,
    /// Decoded bytes of one stream (a page's content, an object stream).
    pub max_stream_bytes: usize,
    /// Decoded bytes of all the streams decoded while loading.
    pub max_decoded_bytes: usize,
}

impl Default for Limits {
    /// 256 MiB files, 5,000 pages, 400,000 operations a page, 60 s;
    /// 32 MiB a decoded stream, 192 MiB decoded in all (see [`bounded`]).
    fn default() -> Self {
        Limits {
            max_bytes: 256 << 20,
            max_pages: 5_000,
            max_ops_per_page: 400_000,
            max_time: Duration::from_secs(60),
            max_stream_bytes: 32 << 20,
            max_decoded_bytes: 192 << 20,
        }
    }
}

/// A PDF loaded for marking or reading.
pub struct Pdf {
    pub doc: Document,
    /// Page object ids in page order.
    pub pages: Vec<ObjectId>,
}

impl Pdf {
    pub fn load(bytes: &[u8], limits: &Limits) -> Result<Pdf, PdfError> {
        if bytes.len() > limits.max_bytes {
            return Err(PdfError::Limit(format!(
                "the file has {} bytes, more than the {} allowed",
                bytes.len(),
                limits.max_bytes
            )));
        }
        if !bytes.starts_with(b"%PDF-") {
            return Err(PdfError::Parse("it does not start with %PDF-".into()));
        }
        // Compressed streams are checked against the budgets before lopdf
        // inflates any of them.
        bounded::prescan(bytes, limits)?;
        let doc = Document::load_mem(bytes).map_err(|e| PdfError::Parse(e.to_string()))?;
        if doc.is_encrypted() {
            return Err(PdfError::Parse("it is encrypted".into()));
        }
        let pages: Vec<ObjectId> = doc.get_pages().into_values().collect();
        if pages.len() > limits.max_pages {
            return Err(PdfError::Limit(format!(
                "it has {} pages, more than the {} allowed",
                pages.len(),
                limits.max_pages
            )));
        }
        Ok(Pdf { doc, pages })
    }

    fn ops(&self, page: ObjectId, limits: &Limits) -> Result<Vec<Operation>, PdfError> {
        let bytes = bounded::page_content(&self.doc, page, limits.max_stream_bytes)?;
        // Refused before it is parsed into as many objects.
        let rough = bounded::rough_operators(&bytes);
        if rough > limits.max_ops_per_page {
            return Err(PdfError::Limit(format!(
                "a page has about {rough} operations, more than the {} allowed",
                limits.max_ops_per_page
            )));
        }
        Content::decode(&bytes)
            .map(|c| c.operations)
            .map_err(|e| PdfError::Parse(format!("page content: {e}")))
    }

    /// Every page's glyphs and sites.
    pub fn read_pages(&self, limits: &Limits) -> Result<Vec<PageText>, PdfError> {
        let start = Instant::now();
        let mut out = Vec::with_capacity(self.pages.len());
        for (n, &p) in self.pages.iter().enumerate() {
            if start.elapsed() > limits.max_time {
                return Err(PdfError::Limit(format!(
                    "reading took longer than {:?} (stopped at page {})",
                    limits.max_time,
                    n + 1
                )));
            }
            let ops = self.ops(p, limits)?;
            out.push(text::interpret(
                &self.doc,
                p,
                &ops,
                limits.max_ops_per_page,
            )?);
        }
        Ok(out)
    }

    /// The per-copy token in the information dictionary, if any.
    pub fn token(&self) -> Option<String> {
        let info = self.doc.trailer.get(b"Info").ok()?;
        let info = self.doc.dereference(info).ok()?.1.as_dict().ok()?;
        let t = info.get(TOKEN_KEY).ok()?.as_str().ok()?;
        String::from_utf8(t.to_vec()).ok()
    }
}

const TOKEN_KEY: &[u8] = b"CustodianCopy";

/// One code position: a word gap whose width is changed by ±d, or a text
/// line moved up or down by d.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    pub page: usize,
    pub carrier: Carrier,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Carrier {
    Gap(Site),
    Line(Line),
}

/// Lines with at least this many glyphs carry a position.
const LINE_GLYPHS: usize = 3;

fn line_carries(page: &PageText, l: &Line) -> bool {
    l.end > l.first + LINE_GLYPHS - 1 && l.end <= page.glyphs.len() && l.unit > 0.0
}

fn op_of(at: SiteAt) -> usize {
    match at {
        SiteAt::Kern { op, .. } | SiteAt::Space { op, .. } => op,
    }
}

/// The original's code positions in page order (position `k` carries code
/// position `k`): per page its carrying word gaps, then its lines. In every
/// text operation with two or more gaps, the last gap takes back what the
/// others moved, so a line ends where it ended.
pub fn positions(pages: &[PageText]) -> Vec<Position> {
    let mut out = Vec::new();
    for (p, page) in pages.iter().enumerate() {
        for (site, carries, _) in carriers(&page.sites) {
            if carries {
                out.push(Position {
                    page: p,
                    carrier: Carrier::Gap(*site),
                });
            }
        }
        for l in &page.lines {
            if line_carries(page, l) {
                out.push(Position {
                    page: p,
                    carrier: Carrier::Line(*l),
                });
            }
        }
    }
    out
}

/// What the visible mark says.
#[derive(Debug, Clone, Default)]
pub struct Mark {
    /// The level banner, e.g. "極秘 SECRET".
    pub banner: String,
    /// Lines under the banner: recipient, copy id, date.
    pub lines: Vec<String>,
    /// The legal notice at the foot of the page.
    pub notice: String,
    /// What the QR code holds (copy id and MAC).
    pub qr: String,
    /// The metadata token.
    pub token: String,
}

/// Writes a copy: the original with position `k` carrying `bit(k)`
/// (positions with `None` are left as they are), the mark on every page and the token.
pub fn issue(
    original: &[u8],
    bit: impl Fn(usize) -> Option<bool> + Sync,
    mark: &Mark,
    limits: &Limits,
) -> Result<Vec<u8>, PdfError> {
    let mut pdf = Pdf::load(original, limits)?;
    let start = Instant::now();
    let pages = pdf.pages.clone();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    // Pages are independent: read them on every core, number the
    // positions in page order, then write them on every core.
    let read = parallel(pages.clone(), threads, |page| {
        let ops = pdf.ops(page, limits)?;
        let seen = text::interpret(&pdf.doc, page, &ops, limits.max_ops_per_page)?;
        Ok((ops, seen))
    })?;
    if start.elapsed() > limits.max_time {
        return Err(PdfError::Limit(format!(
            "issuing took longer than {:?}",
            limits.max_time
        )));
    }
    // Each page's first code position.
    let mut first = Vec::with_capacity(read.len());
    let mut k = 0usize;
    for (_, seen) in &read {
        first.push(k);
        k += positions(std::slice::from_ref(seen)).len();
    }
    let total = pages.len();
    let drawn = mark_glyphs(mark);
    let doc = &pdf.doc;
    let work: Vec<(usize, ObjectId, (Vec<Operation>, PageText))> = read
        .into_iter()
        .enumerate()
        .map(|(n, r)| (n, pages[n], r))
        .collect();
    let contents = parallel(work, threads, |(n, page, (ops, seen))| {
        let mut edits: Vec<(SiteAt, f32)> = Vec::new();
        let mut k = first[n];
        let mut sum = 0.0f32;
        for (site, carries, starts_op) in carriers(&seen.sites) {
            if starts_op {
                sum = 0.0;
            }
            if carries {
                if let Some(b) = bit(k) {
                    let d = if b ^ (k % 2 == 1) { SHIFT } else { -SHIFT };
                    edits.push((site.at, d));
                    sum += d;
                }
                k += 1;
            } else if sum != 0.0 {
                edits.push((site.at, -sum));
            }
        }
        // Lines: each carrying line moves by ±d; a relative move takes back
        // the shift the line before carried, so every line is independent.
        let mut moves: Vec<(usize, f32, f32)> = Vec::new();
        let (mut carried, mut block) = (0.0f32, u32::MAX);
        for l in &seen.lines {
            if l.block != block {
                carried = 0.0;
                block = l.block;
            }
            let mut shift = 0.0;
            if line_carries(&seen, l) {
                if let Some(b) = bit(k) {
                    let size = seen.glyphs[l.first].size;
                    let d = SHIFT / 1000.0 * size;
                    shift = if b ^ (k % 2 == 1) { d } else { -d };
                }
                k += 1;
            }
            let delta = if l.relative { shift - carried } else { shift };
            if delta != 0.0 && l.unit > 0.0 {
                moves.push((l.op, delta / l.unit, l.leading));
            }
            carried = shift;
        }
        let ops = apply_edits(ops, &edits, &moves);
        let mut content = b"q\n".to_vec();
        content.extend(
            Content { operations: ops }
                .encode()
                .map_err(|e| PdfError::Write(e.to_string()))?,
        );
        content.extend(b"\nQ\n");
        content.extend(mark_ops(
            mark,
            media_box(doc, page),
            n + 1,
            total,
            drawn.as_ref(),
        ));
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut z, &content).map_err(|e| PdfError::Write(e.to_string()))?;
        z.finish().map_err(|e| PdfError::Write(e.to_string()))
    })?;
    let fonts = add_mark_fonts(&mut pdf.doc, drawn.as_ref());
    for (&page, content) in pages.iter().zip(contents) {
        let stream = Stream::new(dictionary! { "Filter" => "FlateDecode" }, content);
        let id = pdf.doc.add_object(stream);
        set_page_fonts(&mut pdf.doc, page, &fonts);
        let page_dict = pdf
            .doc
            .get_dictionary_mut(page)
            .map_err(|e| PdfError::Write(e.to_string()))?;
        page_dict.set("Contents", Object::Reference(id));
    }
    set_token(&mut pdf.doc, &mark.token);
    let mut out = Vec::with_capacity(original.len() + original.len() / 8);
    pdf.doc
        .save_to(&mut out)
        .map_err(|e| PdfError::Write(e.to_string()))?;
    Ok(out)
}

/// A page's sites with whether each carries a code position and whether it
/// is the first of its text operation. The last site of an operation with
/// two or more sites compensates; every other site carries.
fn carriers(sites: &[Site]) -> impl Iterator<Item = (&Site, bool, bool)> {
    sites.iter().enumerate().filter_map(move |(i, site)| {
        let last_of_op = sites
            .get(i + 1)
            .is_none_or(|n| op_of(n.at) != op_of(site.at));
        let alone = i == 0 || op_of(sites[i - 1].at) != op_of(site.at);
        (site.unit > 0.0).then_some((site, !last_of_op || alone, alone))
    })
}

/// Runs `f` over `items` on `threads` threads, results in order.
fn parallel<T: Send, R: Send>(
    items: Vec<T>,
    threads: usize,
    f: impl Fn(T) -> Result<R, PdfError> + Sync,
) -> Result<Vec<R>, PdfError> {
    let chunk = items.len().div_ceil(threads.max(1)).max(1);
    let mut parts: Vec<Vec<T>> = Vec::new();
    let mut rest = items.into_iter();
    loop {
        let part: Vec<T> = rest.by_ref().take(chunk).collect();
        if part.is_empty() {
            break;
        }
        parts.push(part);
    }
    let done: Vec<Result<Vec<R>, PdfError>> = std::thread::scope(|s| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| {
                let f = &f;
                s.spawn(move || {
                    part.into_iter()
                        .map(f)
                        .collect::<Result<Vec<R>, PdfError>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(PdfError::Write("a worker panicked".into())))
            })
            .collect()
    });
    let mut out = Vec::new();
    for d in done {
        out.extend(d?);
    }
    Ok(out)
}

/// Applies kern changes to sites (thousandths of text space; positive
/// widens the gap) and vertical moves to line operations (in the
/// operation's own units, with the leading in force). An operation with
/// sites becomes a TJ; a `T*`, `'` or `"` that moves becomes the `Td` it
/// stands for; a `TD` keeps its leading with an explicit `TL`.
fn apply_edits(
    ops: Vec<Operation>,
    edits: &[(SiteAt, f32)],
    moves: &[(usize, f32, f32)],
) -> Vec<Operation> {
    use std::collections::HashMap;
    let mut by_op: HashMap<usize, Vec<(SiteAt, f32)>> = HashMap::new();
    for &(at, d) in edits {
        by_op.entry(op_of(at)).or_default().push((at, d));
    }
    let moved: HashMap<usize, (f32, f32)> =
        moves.iter().map(|&(op, dy, tl)| (op, (dy, tl))).collect();
    let real = |o: &Object| match o {
        Object::Integer(v) => Some(*v as f32),
        Object::Real(v) => Some(*v),
        _ => None,
    };
    let mut out = Vec::with_capacity(ops.len() + by_op.len() * 2);
    for (i, op) in ops.into_iter().enumerate() {
        let gaps = by_op.get(&i);
        let mv = moved.get(&i).copied();
        if gaps.is_none() && mv.is_none() {
            out.push(op);
            continue;
        }
        match (op.operator.as_str(), mv) {
            ("Td", Some((dy, _))) if op.operands.len() == 2 => {
                let ty = real(&op.operands[1]).unwrap_or(0.0);
                out.push(Operation::new(
                    "Td",
                    vec![op.operands[0].clone(), Object::Real(ty + dy)],
                ));
                continue;
            }
            ("TD", Some((dy, _))) if op.operands.len() == 2 => {
                let ty = real(&op.operands[1]).unwrap_or(0.0);
                out.push(Operation::new("TL", vec![Object::Real(-ty)]));
                out.push(Operation::new(
                    "Td",
                    vec![op.operands[0].clone(), Object::Real(ty + dy)],
                ));
                continue;
            }
            ("T*", Some((dy, tl))) => {
                out.push(Operation::new(
                    "Td",
                    vec![Object::Integer(0), Object::Real(-tl + dy)],
                ));
                continue;
            }
            ("Tm", Some((dy, _))) if op.operands.len() == 6 => {
                let mut o = op.operands.clone();
                o[5] = Object::Real(real(&o[5]).unwrap_or(0.0) + dy);
                out.push(Operation::new("Tm", o));
                continue;
            }
            ("TJ" | "Tj" | "'" | "\"", _) => {}
            _ => {
                out.push(op);
                continue;
            }
        }
        let string = op
            .operands
            .iter()
            .find(|o| matches!(o, Object::String(..)))
            .cloned();
        let mut array: Vec<Object> = match op.operator.as_str() {
            "TJ" => match op.operands.first() {
                Some(Object::Array(a)) => a.clone(),
                _ => {
                    out.push(op);
                    continue;
                }
            },
            _ => match &string {
                Some(s) => vec![s.clone()],
                None => {
                    out.push(op);
                    continue;
                }
            },
        };
        // Kern edits do not move elements; splits go from the last element
        // and byte backwards so the offsets stay valid.
        let mut splits: Vec<(usize, usize, f32)> = Vec::new();
        for &(at, d) in gaps.map(Vec::as_slice).unwrap_or_default() {
            match at {
                SiteAt::Kern { elem, .. } => {
                    if let Some(el) = array.get_mut(elem) {
                        if let Some(n) = real(el) {
                            *el = Object::Real(n - d);
                        }
                    }
                }
                SiteAt::Space { elem, byte, .. } => splits.push((elem, byte, d)),
            }
        }
        splits.sort_by_key(|s| std::cmp::Reverse((s.0, s.1)));
        for (elem, byte, d) in splits {
            let Some(Object::String(bytes, fmt)) = array.get(elem).cloned() else {
                continue;
            };
            if byte + 1 >= bytes.len() {
                continue;
            }
            let (head, tail) = bytes.split_at(byte + 1);
            array.splice(
                elem..=elem,
                [
                    Object::String(head.to_vec(), fmt),
                    Object::Real(-d),
                    Object::String(tail.to_vec(), fmt),
                ],
            );
        }
        if op.operator == "\"" {
            let n: Vec<Object> = op
                .operands
                .iter()
                .filter(|o| !matches!(o, Object::String(..)))
                .cloned()
                .collect();
            if n.len() == 2 {
                out.push(Operation::new("Tw", vec![n[0].clone()]));
                out.push(Operation::new("Tc", vec![n[1].clone()]));
            }
        }
        if op.operator == "'" || op.operator == "\"" {
            match mv {
                Some((dy, tl)) => out.push(Operation::new(
                    "Td",
                    vec![Object::Integer(0), Object::Real(-tl + dy)],
                )),
                None => out.push(Operation::new("T*", vec![])),
            }
        }
        out.push(Operation::new("TJ", vec![Object::Array(array)]));
    }
    out
}

/// The page's media box as (x0, y0, width, height).
pub fn media_box(doc: &Document, page: ObjectId) -> (f32, f32, f32, f32) {
    let mut id = page;
    for _ in 0..32 {
        let Ok(d) = doc.get_dictionary(id) else {
            break;
        };
        if let Some(b) = d
            .get(b"MediaBox")
            .ok()
            .and_then(|o| doc.dereference(o).ok())
            .and_then(|(_, o)| o.as_array().ok())
        {
            let v: Vec<f32> = b
                .iter()
                .filter_map(|o| match doc.dereference(o).ok()?.1 {
                    Object::Integer(i) => Some(*i as f32),
                    Object::Real(r) => Some(*r),
                    _ => None,
                })
                .collect();
            if v.len() == 4 {
                let (x0, x1) = (v[0].min(v[2]), v[0].max(v[2]));
                let (y0, y1) = (v[1].min(v[3]), v[1].max(v[3]));
                return (x0, y0, x1 - x0, y1 - y0);
            }
        }
        match d.get(b"Parent").and_then(Object::as_reference) {
            Ok(p) => id = p,
            Err(_) => break,
        }
    }
    (0.0, 0.0, 612.0, 792.0)
}

const FONT_LATIN: &str = "CustodianMarkL";
const FONT_CJK: &str = "CustodianMarkJ";
const FONT_DRAWN: &str = "CustodianMarkG";

/// Adds the mark's two fonts: Helvetica, and a Japanese Type0 font the
/// reader's viewer supplies (Adobe-Japan1, UCS-2 encoded; every Japanese
/// PDF viewer carries it, so nothing is embedded).
/// The mark's own glyphs for its Japanese characters, if this machine has
/// a Japanese font to draw them from (see [`markfont`]).
pub(crate) fn mark_glyphs(mark: &Mark) -> Option<markfont::Glyphs> {
    let mut texts: Vec<&str> = vec![&mark.banner, &mark.notice];
    texts.extend(mark.lines.iter().map(String::as_str));
    markfont::glyphs(&texts).filter(|g| !g.by_char.is_empty())
}

/// The mark's fonts: Helvetica, the viewer's Japanese font, and (when
/// there are outlines) the mark's own Type 3 glyphs.
pub(crate) struct MarkFonts {
    pub latin: ObjectId,
    pub cjk: ObjectId,
    pub drawn: Option<ObjectId>,
}

fn add_mark_fonts(doc: &mut Document, drawn: Option<&markfont::Glyphs>) -> MarkFonts {
    let (latin, cjk) = add_base_fonts(doc);
    let drawn = drawn.map(|g| add_drawn_font(doc, g));
    MarkFonts { latin, cjk, drawn }
}

/// The Type 3 font of the mark's glyphs: one-byte codes, glyph space of
/// 1/1000 em, a ToUnicode map.
fn add_drawn_font(doc: &mut Document, g: &markfont::Glyphs) -> ObjectId {
    let mut procs = Dictionary::new();
    let mut differences: Vec<Object> = Vec::new();
    let last = g.by_char.values().map(|x| x.code).max().unwrap_or(1);
    let mut widths = vec![Object::Integer(0); usize::from(last)];
    let mut by_code: Vec<&markfont::Glyph> = g.by_char.values().collect();
    by_code.sort_by_key(|x| x.code);
    for gl in by_code {
        let name = format!("g{}", gl.code);
        let id = doc.add_object(Stream::new(Dictionary::new(), gl.program.clone()));
        procs.set(name.as_bytes().to_vec(), Object::Reference(id));
        differences.push(Object::Integer(i64::from(gl.code)));
        differences.push(Object::Name(name.into_bytes()));
        widths[usize::from(gl.code) - 1] = Object::Real(gl.advance);
    }
    let to_unicode = doc.add_object(Stream::new(Dictionary::new(), markfont::to_unicode(g)));
    doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type3",
        "FontBBox" => vec![Object::Integer(-100), Object::Integer(-300), Object::Integer(1100), Object::Integer(1000)],
        "FontMatrix" => vec![Object::Real(0.001), 0.into(), 0.into(), Object::Real(0.001), 0.into(), 0.into()],
        "CharProcs" => Object::Dictionary(procs),
        "Encoding" => dictionary! { "Type" => "Encoding", "Differences" => differences },
        "FirstChar" => 1,
        "LastChar" => i64::from(last),
        "Widths" => widths,
        "Resources" => Dictionary::new(),
        "ToUnicode" => Object::Reference(to_unicode),
    })
}

fn add_base_fonts(doc: &mut Document) -> (ObjectId, ObjectId) {
    let latin = doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => "Helvetica",
        "Encoding" => "WinAnsiEncoding",
    });
    let descriptor = doc.add_object(dictionary! {
        "Type" => "FontDescriptor",
        "FontName" => "HeiseiKakuGo-W5",
        "Flags" => 4,
        "FontBBox" => vec![Object::Integer(-92), Object::Integer(-250), Object::Integer(1010), Object::Integer(922)],
        "ItalicAngle" => 0,
        "Ascent" => 752,
        "Descent" => -271,
        "CapHeight" => 737,
        "StemV" => 114,
    });
    let cid = doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "CIDFontType0",
        "BaseFont" => "HeiseiKakuGo-W5",
        "CIDSystemInfo" => dictionary! {
            "Registry" => Object::string_literal("Adobe"),
            "Ordering" => Object::string_literal("Japan1"),
            "Supplement" => 2,
        },
        "FontDescriptor" => Object::Reference(descriptor),
        "DW" => 1000,
    });
    let to_unicode = doc.add_object(Stream::new(Dictionary::new(), typeset::ucs2_to_unicode()));
    let cjk = doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type0",
        "BaseFont" => "HeiseiKakuGo-W5-UniJIS-UCS2-H",
        "Encoding" => "UniJIS-UCS2-H",
        "DescendantFonts" => vec![Object::Reference(cid)],
        "ToUnicode" => Object::Reference(to_unicode),
    });
    (latin, cjk)
}

/// Gives the page its own resources holding the mark's fonts (inherited
/// and shared resources are copied, never changed in place).
fn set_page_fonts(doc: &mut Document, page: ObjectId, fonts: &MarkFonts) {
    let mut resources = Dictionary::new();
    let mut id = page;
    for _ in 0..32 {
        let Ok(d) = doc.get_dictionary(id) else {
            break;
        };
        if let Ok(r) = d.get(b"Resources") {
            if let Ok((_, Object::Dictionary(r))) = doc.dereference(r) {
                resources = r.clone();
            }
            break;
        }
        match d.get(b"Parent").and_then(Object::as_reference) {
            Ok(p) => id = p,
            Err(_) => break,
        }
    }
    let mut font_dict = match resources.get(b"Font") {
        Ok(f) => match doc.dereference(f) {
            Ok((_, Object::Dictionary(f))) => f.clone(),
            _ => Dictionary::new(),
        },
        Err(_) => Dictionary::new(),
    };
    font_dict.set(FONT_LATIN, Object::Reference(fonts.latin));
    font_dict.set(FONT_CJK, Object::Reference(fonts.cjk));
    if let Some(d) = fonts.drawn {
        font_dict.set(FONT_DRAWN, Object::Reference(d));
    }
    resources.set("Font", Object::Dictionary(font_dict));
    if let Ok(d) = doc.get_dictionary_mut(page) {
        d.set("Resources", Object::Dictionary(resources));
    }
}

fn set_token(doc: &mut Document, token: &str) {
    let value = Object::String(token.as_bytes().to_vec(), StringFormat::Literal);
    if let Ok(Object::Reference(id)) = doc.trailer.get(b"Info").cloned() {
        if let Ok(d) = doc.get_dictionary_mut(id) {
            d.set(TOKEN_KEY, value);
            return;
        }
    }
    if let Ok(Object::Dictionary(mut d)) = doc.trailer.get(b"Info").cloned() {
        d.set(TOKEN_KEY, value);
        doc.trailer.set("Info", Object::Dictionary(d));
        return;
    }
    let id = doc.add_object(dictionary! { "CustodianCopy" => value });
    doc.trailer.set("Info", Object::Reference(id));
}

/// Which of the mark's fonts a run is set in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Face {
    Latin,
    /// The mark's own Type 3 glyphs (see [`markfont`]).
    Drawn,
    /// The viewer's Japanese font (no outlines on this machine).
    Cid,
}

/// Splits text into runs for the mark fonts.
fn runs(text: &str, drawn: Option<&markfont::Glyphs>) -> Vec<(Face, Vec<u8>)> {
    let mut out: Vec<(Face, Vec<u8>)> = Vec::new();
    for ch in text.chars() {
        let (face, bytes) = if (' '..='~').contains(&ch) {
            (Face::Latin, vec![ch as u8])
        } else if let Some(g) = drawn.and_then(|d| d.by_char.get(&ch)) {
            (Face::Drawn, vec![g.code])
        } else {
            let u = u32::from(ch);
            let u = if u > 0xFFFF { u32::from('?') } else { u };
            (Face::Cid, vec![(u >> 8) as u8, u as u8])
        };
        match out.last_mut() {
            Some((f, b)) if *f == face => b.extend(bytes),
            _ => out.push((face, bytes)),
        }
    }
    out
}

/// The width of text in the mark's fonts at size 1.
fn text_width(text: &str, drawn: Option<&markfont::Glyphs>) -> f32 {
    text.chars()
        .map(|ch| {
            if (' '..='~').contains(&ch) {
                f32::from(std_widths::HELVETICA[ch as usize]) / 1000.0
            } else {
                // The mark's own glyph, else the viewer's font (1 em).
                drawn
                    .and_then(|d| d.by_char.get(&ch))
                    .map_or(1.0, |g| g.advance / 1000.0)
            }
        })
        .sum()
}

fn show(
    out: &mut Vec<u8>,
    text: &str,
    size: f32,
    x: f32,
    y: f32,
    drawn: Option<&markfont::Glyphs>,
) {
    use std::io::Write as _;
    let _ = writeln!(out, "BT 1 0 0 1 {x:.2} {y:.2} Tm");
    for (face, bytes) in runs(text, drawn) {
        let font = match face {
            Face::Latin => FONT_LATIN,
            Face::Drawn => FONT_DRAWN,
            Face::Cid => FONT_CJK,
        };
        let _ = write!(out, "/{font} {size:.2} Tf <");
        for b in bytes {
            let _ = write!(out, "{b:02X}");
        }
        let _ = writeln!(out, "> Tj");
    }
    let _ = writeln!(out, "ET");
}

/// The mark's drawing operations for one page.
fn mark_ops(
    mark: &Mark,
    (x0, y0, w, h): (f32, f32, f32, f32),
    page: usize,
    pages: usize,
    drawn: Option<&markfont::Glyphs>,
) -> Vec<u8> {
    use std::io::Write as _;
    let mut out = Vec::new();
    let _ = writeln!(out, "q");
    // The banner and lines across the top margin, in red.
    let mut top = mark.banner.clone();
    for l in &mark.lines {
        top.push_str("  |  ");
        top.push_str(l);
    }
    top.push_str(&format!("  |  {page}/{pages}"));
    let fit = |t: &str, max: f32, want: f32| {
        let tw = text_width(t, drawn).max(1e-3);
        (max / tw).min(want).max(3.0)
    };
    let size = fit(&top, w - 48.0, 8.0);
    let tx = x0 + (w - text_width(&top, drawn) * size) / 2.0;
    let _ = writeln!(out, "0.75 0 0 rg");
    show(
        &mut out,
        &top,
        size,
        tx.max(x0 + 4.0),
        y0 + h - 4.0 - size,
        drawn,
    );
    // The notice across the foot, left of the QR code.
    // Large enough to decode from a phone photo of the page (a module is
    // about 1.3 pt), with a 2-module quiet zone inside its white square.
    let qr_size = 48.0f32;
    let nsize = fit(&mark.notice, w - 24.0 - qr_size - 12.0, 6.0);
    show(&mut out, &mark.notice, nsize, x0 + 12.0, y0 + 6.0, drawn);
    // The QR code, bottom right, on white.
    if let Ok(code) = qrcode::QrCode::new(mark.qr.as_bytes()) {
        let n = code.width();
        let cells = n as f32 + 4.0;
        let cell = qr_size / cells;
        let (qx, qy) = (x0 + w - qr_size - 4.0, y0 + 4.0);
        let _ = writeln!(
            out,
            "1 1 1 rg {qx:.3} {qy:.3} {qr_size:.3} {qr_size:.3} re f 0 0 0 rg"
        );
        for (i, c) in code.to_colors().iter().enumerate() {
            if *c == qrcode::Color::Dark {
                let (col, row) = ((i % n) as f32, (i / n) as f32);
                let _ = writeln!(
                    out,
                    "{:.3} {:.3} {cell:.3} {cell:.3} re",
                    qx + (col + 2.0) * cell,
                    qy + qr_size - (row + 3.0) * cell
                );
            }
        }
        let _ = writeln!(out, "f");
    }
    let _ = writeln!(out, "Q");
    out
}

/// What reading a leak recovered.
#[derive(Debug, Clone, Default)]
pub struct Reading {
    /// One symbol or erasure per position of the original.
    pub symbols: Vec<Option<bool>>,
    /// For each leaked page, the original page it shows (0-based), if any.
    pub pages: Vec<Option<usize>>,
    /// Positions whose gap was found and measured.
    pub measured: usize,
}

struct Index<'a> {
    glyphs: &'a [Glyph],
    by_x: Vec<u32>,
}

impl<'a> Index<'a> {
    fn new(glyphs: &'a [Glyph]) -> Index<'a> {
        let mut by_x: Vec<u32> = (0..glyphs.len() as u32).collect();
        by_x.sort_by(|a, b| glyphs[*a as usize].x.total_cmp(&glyphs[*b as usize].x));
        Index { glyphs, by_x }
    }

    /// The glyph nearest to `g`'s origin on its baseline, within `tol`.
    fn find(&self, g: Glyph, tol: f32) -> Option<Glyph> {
        let lo = self
            .by_x
            .partition_point(|i| self.glyphs[*i as usize].x < g.x - tol);
        let mut best: Option<(f32, Glyph)> = None;
        for i in &self.by_x[lo..] {
            let c = self.glyphs[*i as usize];
            if c.x > g.x + tol {
                break;
            }
            if (c.y - g.y).abs() > 0.05 * g.size + 0.3 {
                continue;
            }
            let d = (c.x - g.x).abs();
            if best.is_none_or(|(b, _)| d < b) {
                best = Some((d, c));
            }
        }
        best.map(|(_, c)| c)
    }
}

fn tolerance(g: Glyph) -> f32 {
    (0.1 * g.size).max(0.6)
}

/// Reads a leak against the original: which original page each leaked page
/// shows, and one symbol per position (erased where a gap was not found,
/// two readings disagree, or the change is too small or too large to be a
/// mark).
pub fn read(original: &[PageText], leak: &[PageText]) -> Reading {
    let all = positions(original);
    let mut reading = Reading {
        symbols: vec![None; all.len()],
        pages: Vec::with_capacity(leak.len()),
        measured: 0,
    };
    let mut first = vec![usize::MAX; original.len() + 1];
    for (k, p) in all.iter().enumerate().rev() {
        first[p.page] = k;
    }
    let mut votes: Vec<(u32, u32)> = vec![(0, 0); all.len()];
    for page in leak {
        let index = Index::new(&page.glyphs);
        // Which original page is this?
        let mut best: Option<(usize, f32)> = None;
        for (p, orig) in original.iter().enumerate() {
            if orig.sites.len() < 4 {
                continue;
            }
            let step = (orig.sites.len() / 48).max(1);
            let sample: Vec<&Site> = orig.sites.iter().step_by(step).collect();
            let found = sample
                .iter()
                .filter(|s| {
                    let g = orig.glyphs[s.next];
                    index.find(g, tolerance(g)).is_some()
                })
                .count();
            let share = found as f32 / sample.len() as f32;
            if share >= 0.6 && best.is_none_or(|(_, b)| share > b) {
                best = Some((p, share));
            }
        }
        let Some((p, _)) = best else {
            reading.pages.push(None);
            continue;
        };
        reading.pages.push(Some(p));
        let orig = &original[p];
        let mut k = first[p];
        let (mut drift, mut last_op) = (0.0f32, usize::MAX);
        // (position, baseline, vertical move, expected move, sign flip)
        let mut line_moves: Vec<(usize, f32, f32, f32, f32)> = Vec::new();
        while k < all.len() && all[k].page == p {
            // Odd positions are written with the sign flipped, so runs of
            // equal bits do not pile up into a drift along a line.
            let flip = if k % 2 == 1 { -1.0 } else { 1.0 };
            let z = match &all[k].carrier {
                Carrier::Gap(s) => {
                    let (a, b) = (orig.glyphs[s.prev], orig.glyphs[s.next]);
                    // Earlier gaps of the same operation moved these
                    // glyphs: look where the last one found was moved to.
                    if op_of(s.at) != last_op {
                        drift = 0.0;
                        last_op = op_of(s.at);
                    }
                    let moved = |g: Glyph, by: f32| Glyph { x: g.x + by, ..g };
                    let fa = index.find(moved(a, drift), tolerance(a));
                    let fb = fa.and_then(|fa| index.find(moved(b, fa.x - a.x), tolerance(b)));
                    match (fa, fb) {
                        (Some(fa), Some(fb)) => {
                            drift = fb.x - b.x;
                            Some(flip * ((fb.x - fa.x) - (b.x - a.x)) / (s.unit * SHIFT))
                        }
                        _ => None,
                    }
                }
                Carrier::Line(l) => {
                    // The median vertical move of up to 16 of its glyphs;
                    // read once the page's lines are all measured.
                    let glyphs = &orig.glyphs[l.first..l.end];
                    let step = (glyphs.len() / 16).max(1);
                    let mut dy: Vec<f32> = glyphs
                        .iter()
                        .step_by(step)
                        .filter_map(|g| index.find(*g, tolerance(*g)).map(|f| f.y - g.y))
                        .collect();
                    if dy.len() >= 3 {
                        dy.sort_by(f32::total_cmp);
                        let size = glyphs[0].size;
                        line_moves.push((
                            k,
                            glyphs[0].y,
                            dy[dy.len() / 2],
                            SHIFT / 1000.0 * size,
                            flip,
                        ));
                    }
                    None
                }
            };
            if let Some(z) = z {
                reading.measured += 1;
                if (0.5..=1.6).contains(&z.abs()) {
                    if z > 0.0 {
                        votes[k].0 += 1;
                    } else {
                        votes[k].1 += 1;
                    }
                }
            }
            k += 1;
        }
        // Re-saving may move a page's text vertically by a fraction of a
        // point that varies down the page (rounding, a page height
        // rounded): fit that offset as a + b·y. The lines' own moves are
        // +d or −d about evenly (odd positions are flipped), so a least
        // squares fit of the raw moves finds the offset; it is then refined
        // on the lines read with confidence, each less its ±d. An unmarked
        // page moves nothing and reads as erasures.
        // (Pages with fewer than 8 lines are read against no offset: too
        // few to tell an offset from the marks.)
        let fit = |pts: &[(f32, f32)]| -> Option<(f32, f32)> {
            if pts.len() < 8 {
                return None;
            }
            let n = pts.len() as f32;
            let my = pts.iter().map(|p| p.0).sum::<f32>() / n;
            let mr = pts.iter().map(|p| p.1).sum::<f32>() / n;
            let sxx: f32 = pts.iter().map(|p| (p.0 - my) * (p.0 - my)).sum();
            let sxy: f32 = pts.iter().map(|p| (p.0 - my) * (p.1 - mr)).sum();
            let b = if sxx > 1e-3 { sxy / sxx } else { 0.0 };
            Some((mr - b * my, b))
        };
        let raw: Vec<(f32, f32)> = line_moves.iter().map(|&(_, y, dy, _, _)| (y, dy)).collect();
        let (mut a, mut b) = fit(&raw).unwrap_or((0.0, 0.0));
        for _ in 0..3 {
            let sure: Vec<(f32, f32)> = line_moves
                .iter()
                .filter_map(|&(_, y, dy, d, _)| {
                    let r = dy - (a + b * y);
                    (r.abs() >= 0.5 * d).then(|| (y, dy - d.copysign(r)))
                })
                .collect();
            match fit(&sure) {
                Some(f) => (a, b) = f,
                None => break,
            }
        }
        for &(k, y, dy, d, flip) in &line_moves {
            reading.measured += 1;
            let z = flip * (dy - (a + b * y)) / d;
            if (0.5..=1.6).contains(&z.abs()) {
                if z > 0.0 {
                    votes[k].0 += 1;
                } else {
                    votes[k].1 += 1;
                }
            }
        }
    }
    for (k, (one, zero)) in votes.into_iter().enumerate() {
        reading.symbols[k] = match (one, zero) {
            (o, 0) if o > 0 => Some(true),
            (0, z) if z > 0 => Some(false),
            _ => None,
        };
    }
    reading
}

/// The code for a PDF: one position per carrying gap (so any excerpt carries
/// positions of its own), and at least as long as `params` ask.
pub fn code_for(
    original: &[PageText],
    key: [u8; 32],
    params: &custodian_fingerprint::CodeParams,
) -> custodian_fingerprint::Code {
    custodian_fingerprint::Code::new(
        key,
        positions(original).len().max(params.length()),
        params.cutoff(),
    )
}

/// Recipient `index`'s copy: position `k` carries code position `k`.
pub fn issue_copy(
    original: &[u8],
    code: &custodian_fingerprint::Code,
    index: u64,
    mark: &Mark,
    limits: &Limits,
) -> Result<Vec<u8>, PdfError> {
    let word = code.codeword(index);
    let m = code.len();
    issue(
        original,
        |k| (k < m).then(|| custodian_fingerprint::Code::bit(&word, k)),
        mark,
        limits,
    )
}

/// A leak read as code symbols (code positions beyond the gaps are erasures).
pub fn read_code(
    original: &[PageText],
    leak: &[PageText],
    code: &custodian_fingerprint::Code,
) -> Reading {
    let mut r = read(original, leak);
    r.symbols.resize(code.len(), None);
    r
}
