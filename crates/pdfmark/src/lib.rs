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

mod mark;
mod read;
#[allow(clippy::all)]
mod std_widths;

use mark::*;
pub use read::{read, read_code, Reading};

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

pub(crate) const TOKEN_KEY: &[u8] = b"CustodianCopy";

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
pub(crate) const LINE_GLYPHS: usize = 3;

pub(crate) fn line_carries(page: &PageText, l: &Line) -> bool {
    l.end > l.first + LINE_GLYPHS - 1 && l.end <= page.glyphs.len() && l.unit > 0.0
}

pub(crate) fn op_of(at: SiteAt) -> usize {
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
pub(crate) fn carriers(sites: &[Site]) -> impl Iterator<Item = (&Site, bool, bool)> {
    sites.iter().enumerate().filter_map(move |(i, site)| {
        let last_of_op = sites
            .get(i + 1)
            .is_none_or(|n| op_of(n.at) != op_of(site.at));
        let alone = i == 0 || op_of(sites[i - 1].at) != op_of(site.at);
        (site.unit > 0.0).then_some((site, !last_of_op || alone, alone))
    })
}

/// Runs `f` over `items` on `threads` threads, results in order.
pub(crate) fn parallel<T: Send, R: Send>(
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
pub(crate) fn apply_edits(
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
