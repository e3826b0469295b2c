//! Custodian typesets copies of documents registered from Markdown or plain
//! text itself, so each copy's wording can differ (the wording carrier of
//! `custodian_fingerprint::text`) and survive the text being copied out of
//! the PDF, OCR'd or retyped.
//!
//! The Markdown handled is what manuals use: `#` headings, paragraphs,
//! `-`/`*`/`+`/`1.` list items, fenced code blocks; inline `**`, `__` and
//! backticks are dropped and `[text](url)` becomes `text (url)`. The
//! document's *plain form* ([`plain`]) is the text the reader sees, block by
//! block; the wording carrier works on it, and tracing reads leaks against
//! it. Latin text is set in Helvetica (Bold for headings, Courier for code),
//! Japanese in the Adobe-Japan1 font every Japanese viewer supplies, with a
//! ToUnicode map so that the text copies out exactly.

use lopdf::{dictionary, Dictionary, Document, Object, ObjectId, Stream};

use crate::{add_mark_fonts, mark_ops, set_token, std_widths, Mark, PdfError};

/// A block of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Heading(u8, String),
    Paragraph(String),
    /// A list item: its marker ("•" or "3.") and text.
    Item(String, String),
    Code(String),
}

impl Block {
    fn text(&self) -> &str {
        match self {
            Block::Heading(_, t) | Block::Paragraph(t) | Block::Item(_, t) | Block::Code(t) => t,
        }
    }

    fn with_text(&self, t: String) -> Block {
        match self {
            Block::Heading(l, _) => Block::Heading(*l, t),
            Block::Paragraph(_) => Block::Paragraph(t),
            Block::Item(m, _) => Block::Item(m.clone(), t),
            Block::Code(_) => Block::Code(t),
        }
    }
}

fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("**") || rest.starts_with("__") {
            rest = &rest[2..];
            continue;
        }
        if c == '`' {
            rest = &rest[1..];
            continue;
        }
        if c == '[' {
            if let Some(close) = rest.find("](") {
                if let Some(end) = rest[close..].find(')') {
                    let label = &rest[1..close];
                    let url = &rest[close + 2..close + end];
                    if !label.contains('\n') && !url.contains(' ') {
                        out.push_str(label);
                        out.push_str(" (");
                        out.push_str(url);
                        out.push(')');
                        rest = &rest[close + end + 1..];
                        continue;
                    }
                }
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn list_marker(line: &str) -> Option<(String, &str)> {
    let t = line.trim_start();
    for m in ["- ", "* ", "+ "] {
        if let Some(rest) = t.strip_prefix(m) {
            return Some(("•".into(), rest));
        }
    }
    let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
    if !digits.is_empty() && digits.len() <= 4 {
        if let Some(rest) = t[digits.len()..].strip_prefix(". ") {
            return Some((format!("{digits}."), rest));
        }
    }
    None
}

/// The blocks of a Markdown (or plain text) source.
pub fn parse(source: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut para: Vec<&str> = Vec::new();
    let mut item: Option<(String, Vec<&str>)> = None;
    let mut code: Option<Vec<&str>> = None;
    let flush =
        |out: &mut Vec<Block>, para: &mut Vec<&str>, item: &mut Option<(String, Vec<&str>)>| {
            if !para.is_empty() {
                out.push(Block::Paragraph(inline(&para.join(" "))));
                para.clear();
            }
            if let Some((m, lines)) = item.take() {
                out.push(Block::Item(m, inline(&lines.join(" "))));
            }
        };
    for line in source.lines() {
        if let Some(lines) = code.as_mut() {
            if line.trim_start().starts_with("```") {
                // Blank lines inside code become a space so blocks stay
                // separated by blank lines only.
                let text: Vec<String> = lines
                    .iter()
                    .map(|l| {
                        if l.trim().is_empty() {
                            " ".to_string()
                        } else {
                            l.trim_end().to_string()
                        }
                    })
                    .collect();
                out.push(Block::Code(text.join("\n")));
                code = None;
            } else {
                lines.push(line);
            }
            continue;
        }
        let t = line.trim();
        if t.starts_with("```") {
            flush(&mut out, &mut para, &mut item);
            code = Some(Vec::new());
            continue;
        }
        if t.is_empty() {
            flush(&mut out, &mut para, &mut item);
            continue;
        }
        let hashes = t.chars().take_while(|c| *c == '#').count();
        if (1..=6).contains(&hashes) && t[hashes..].starts_with(' ') {
            flush(&mut out, &mut para, &mut item);
            out.push(Block::Heading(hashes as u8, inline(t[hashes..].trim())));
            continue;
        }
        if let Some((m, rest)) = list_marker(line) {
            flush(&mut out, &mut para, &mut item);
            item = Some((m, vec![rest.trim()]));
            continue;
        }
        if let Some((_, lines)) = item.as_mut() {
            lines.push(t);
        } else {
            para.push(t);
        }
    }
    if let Some(lines) = code {
        out.push(Block::Code(lines.join("\n")));
    }
    flush(&mut out, &mut para, &mut item);
    out.retain(|b| !b.text().trim().is_empty());
    out
}

/// The plain form: each block's text, separated by blank lines.
pub fn plain(blocks: &[Block]) -> String {
    blocks
        .iter()
        .map(Block::text)
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The blocks again with the texts of a (re-worded) plain form.
pub fn with_plain(blocks: &[Block], plain: &str) -> Vec<Block> {
    let texts: Vec<&str> = plain.split("\n\n").collect();
    if texts.len() != blocks.len() {
        // Never happens for a wording of `plain(blocks)` (variants hold no
        // blank line); fall back to paragraphs rather than lose text.
        return texts
            .iter()
            .map(|t| Block::Paragraph((*t).to_string()))
            .collect();
    }
    blocks
        .iter()
        .zip(texts)
        .map(|(b, t)| b.with_text(t.to_string()))
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Face {
    Regular,
    Bold,
    Mono,
}

impl Face {
    fn resource(self) -> &'static str {
        match self {
            Face::Regular => "CustodianBodyR",
            Face::Bold => "CustodianBodyB",
            Face::Mono => "CustodianBodyM",
        }
    }
}

/// The WinAnsi code of a character, if it has one.
fn winansi(c: char) -> Option<u8> {
    let u = u32::from(c);
    match u {
        0x20..=0x7E | 0xA0..=0xFF => Some(u as u8),
        _ => Some(match c {
            '€' => 0x80,
            '‚' => 0x82,
            '„' => 0x84,
            '…' => 0x85,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '™' => 0x99,
            _ => return None,
        }),
    }
}

/// Width of a character in the face at size 1, and whether it is set in
/// the Japanese font.
fn width(c: char, face: Face) -> (f32, bool) {
    match winansi(c) {
        Some(b) => {
            let w = match face {
                Face::Regular => std_widths::HELVETICA[usize::from(b)],
                Face::Bold => std_widths::HELVETICA_BOLD[usize::from(b)],
                Face::Mono => 600,
            };
            (f32::from(if w == 0 { 556 } else { w }) / 1000.0, false)
        }
        None => (1.0, true),
    }
}

fn text_width(s: &str, face: Face) -> f32 {
    s.chars().map(|c| width(c, face).0).sum()
}

/// Breaks text into lines of at most `max` points at `size`: at spaces, and
/// between any two characters set in the Japanese font.
fn lines(text: &str, face: Face, size: f32, max: f32) -> Vec<String> {
    let mut out = Vec::new();
    // Tokens: words with their following space, and single CJK characters.
    let mut tokens: Vec<String> = Vec::new();
    let mut cur = String::new();
    // Japanese line breaking (kinsoku): closing punctuation and small kana
    // never start a line, opening brackets never end one.
    const NO_START: &str =
        "、。，．・：；？！ー）」』】〕〉》’”ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ々";
    const NO_END: &str = "（「『【〔〈《‘“";
    for c in text.chars() {
        let cjk = width(c, face).1;
        if cjk {
            if !cur.is_empty() {
                tokens.push(std::mem::take(&mut cur));
            }
            match tokens.last_mut() {
                Some(last)
                    if NO_START.contains(c)
                        || last.chars().last().is_some_and(|l| NO_END.contains(l)) =>
                {
                    last.push(c)
                }
                _ => tokens.push(c.to_string()),
            }
        } else if c == ' ' {
            cur.push(c);
            tokens.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        tokens.push(cur);
    }
    let mut line = String::new();
    for t in tokens {
        let trial = format!("{line}{t}");
        if !line.is_empty() && text_width(trial.trim_end(), face) * size > max {
            out.push(line.trim_end().to_string());
            line = t.trim_start().to_string();
        } else {
            line = trial;
        }
    }
    if !line.trim().is_empty() {
        out.push(line.trim_end().to_string());
    }
    out
}

const PAGE_W: f32 = 595.276;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 72.0;

struct Pager {
    pages: Vec<Vec<u8>>,
    cur: Vec<u8>,
    y: f32,
}

impl Pager {
    fn new() -> Pager {
        Pager {
            pages: Vec::new(),
            cur: Vec::new(),
            y: PAGE_H - MARGIN,
        }
    }

    fn need(&mut self, h: f32) {
        if self.y - h < MARGIN {
            self.pages.push(std::mem::take(&mut self.cur));
            self.y = PAGE_H - MARGIN;
        }
    }

    fn line(&mut self, x: f32, text: &str, face: Face, size: f32, leading: f32) {
        use std::io::Write as _;
        self.need(leading);
        self.y -= leading;
        let _ = writeln!(self.cur, "BT 1 0 0 1 {x:.2} {:.2} Tm", self.y);
        let mut run: Vec<u8> = Vec::new();
        let mut run_cjk = false;
        let flush = |out: &mut Vec<u8>, run: &mut Vec<u8>, cjk: bool| {
            if run.is_empty() {
                return;
            }
            let font = if cjk {
                "CustodianBodyJ"
            } else {
                face.resource()
            };
            let _ = write!(out, "/{font} {size:.2} Tf <");
            for b in run.iter() {
                let _ = write!(out, "{b:02X}");
            }
            let _ = writeln!(out, "> Tj");
            run.clear();
        };
        for c in text.chars() {
            let cjk = width(c, face).1;
            if cjk != run_cjk {
                flush(&mut self.cur, &mut run, run_cjk);
                run_cjk = cjk;
            }
            if cjk {
                let u = u32::from(c);
                let u = if u > 0xFFFF { 0x3013 } else { u }; // 〓 for what UCS-2 lacks
                run.extend([(u >> 8) as u8, u as u8]);
            } else if let Some(b) = winansi(c) {
                run.push(b);
            }
        }
        flush(&mut self.cur, &mut run, run_cjk);
        let _ = writeln!(self.cur, "ET");
    }

    fn space(&mut self, h: f32) {
        self.y -= h;
    }

    fn finish(mut self) -> Vec<Vec<u8>> {
        if !self.cur.is_empty() || self.pages.is_empty() {
            self.pages.push(self.cur);
        }
        self.pages
    }
}

/// A ToUnicode map for two-byte UCS-2 codes: each code is its character.
pub(crate) fn ucs2_to_unicode() -> Vec<u8> {
    let mut s = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Custodian-UCS2 def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    for chunk in (0u32..256).collect::<Vec<_>>().chunks(100) {
        s.push_str(&format!("{} beginbfrange\n", chunk.len()));
        for hi in chunk {
            // Surrogates are not characters; map them to U+FFFD.
            if (0xD8..=0xDF).contains(hi) {
                s.push_str(&format!("<{hi:02X}00> <{hi:02X}FF> <FFFD>\n"));
            } else {
                s.push_str(&format!("<{hi:02X}00> <{hi:02X}FF> <{hi:02X}00>\n"));
            }
        }
        s.push_str("endbfrange\n");
    }
    s.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    s.into_bytes()
}

/// Typesets blocks as an A4 PDF with the mark on every page and the token
/// in its information dictionary.
pub fn typeset(blocks: &[Block], title: &str, mark: &Mark) -> Result<Vec<u8>, PdfError> {
    let mut pager = Pager::new();
    let body = PAGE_W - 2.0 * MARGIN;
    for b in blocks {
        match b {
            Block::Heading(level, t) => {
                let size = match level {
                    1 => 17.0,
                    2 => 14.0,
                    _ => 11.5,
                };
                let ls = lines(t, Face::Bold, size, body);
                pager.need(size * 1.3 * ls.len().min(3) as f32 + 40.0);
                pager.space(size * 0.6);
                for l in ls {
                    pager.line(MARGIN, &l, Face::Bold, size, size * 1.3);
                }
                pager.space(4.0);
            }
            Block::Paragraph(t) => {
                for l in lines(t, Face::Regular, 10.5, body) {
                    pager.line(MARGIN, &l, Face::Regular, 10.5, 14.0);
                }
                pager.space(6.0);
            }
            Block::Item(m, t) => {
                let indent = 18.0;
                for (i, l) in lines(t, Face::Regular, 10.5, body - indent)
                    .iter()
                    .enumerate()
                {
                    if i == 0 {
                        // The marker and the first line share a baseline.
                        pager.line(MARGIN, &format!("{m} "), Face::Regular, 10.5, 14.0);
                        pager.y += 14.0;
                    }
                    pager.line(MARGIN + indent, l, Face::Regular, 10.5, 14.0);
                }
                pager.space(2.0);
            }
            Block::Code(t) => {
                for raw in t.lines() {
                    for l in lines(raw, Face::Mono, 9.0, body) {
                        pager.line(MARGIN + 8.0, &l, Face::Mono, 9.0, 11.5);
                    }
                }
                pager.space(6.0);
            }
        }
    }
    let contents = pager.finish();
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let font = |doc: &mut Document, base: &str| {
        doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => base.to_string(), "Encoding" => "WinAnsiEncoding",
        })
    };
    let regular = font(&mut doc, "Helvetica");
    let bold = font(&mut doc, "Helvetica-Bold");
    let mono = font(&mut doc, "Courier");
    // The body's Japanese font is the mark's.
    let drawn = crate::mark_glyphs(mark);
    let mark_fonts = add_mark_fonts(&mut doc, drawn.as_ref());
    let mut fonts = dictionary! {
        "CustodianBodyR" => Object::Reference(regular),
        "CustodianBodyB" => Object::Reference(bold),
        "CustodianBodyM" => Object::Reference(mono),
        "CustodianBodyJ" => Object::Reference(mark_fonts.cjk),
        crate::FONT_LATIN => Object::Reference(mark_fonts.latin),
        crate::FONT_CJK => Object::Reference(mark_fonts.cjk),
    };
    if let Some(d) = mark_fonts.drawn {
        fonts.set(crate::FONT_DRAWN, Object::Reference(d));
    }
    let resources = doc.add_object(dictionary! { "Font" => fonts });
    let total = contents.len();
    let mut kids: Vec<Object> = Vec::with_capacity(total);
    for (n, mut content) in contents.into_iter().enumerate() {
        content.extend(mark_ops(
            mark,
            (0.0, 0.0, PAGE_W, PAGE_H),
            n + 1,
            total,
            drawn.as_ref(),
        ));
        let mut stream = Stream::new(Dictionary::new(), content);
        let _ = stream.compress();
        let c = doc.add_object(stream);
        let page: ObjectId = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => Object::Reference(pages_id),
            "MediaBox" => vec![0.into(), 0.into(), Object::Real(PAGE_W), Object::Real(PAGE_H)],
            "Resources" => Object::Reference(resources),
            "Contents" => Object::Reference(c),
        });
        kids.push(Object::Reference(page));
    }
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => kids,
            "Count" => total as i64,
        }),
    );
    let catalog =
        doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => Object::Reference(pages_id) });
    doc.trailer.set("Root", Object::Reference(catalog));
    let info = doc.add_object(dictionary! {
        "Title" => Object::String(utf16_text(title), lopdf::StringFormat::Hexadecimal),
        "Producer" => Object::string_literal("Custodian"),
    });
    doc.trailer.set("Info", Object::Reference(info));
    set_token(&mut doc, &mark.token);
    let mut out = Vec::new();
    doc.save_to(&mut out)
        .map_err(|e| PdfError::Write(e.to_string()))?;
    Ok(out)
}

/// A PDF text string in UTF-16BE with its byte-order mark.
fn utf16_text(s: &str) -> Vec<u8> {
    let mut v = vec![0xFE, 0xFF];
    for u in s.encode_utf16() {
        v.extend(u.to_be_bytes());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_blocks_and_plain_form() {
        let md = "# Title\n\nA **bold** `code` line\nwrapped.\n\n- one\n  more\n2. two\n\n```\nx = 1\n\ny = 2\n```\n設定を行います。";
        let b = parse(md);
        assert_eq!(
            b,
            [
                Block::Heading(1, "Title".into()),
                Block::Paragraph("A bold code line wrapped.".into()),
                Block::Item("•".into(), "one more".into()),
                Block::Item("2.".into(), "two".into()),
                Block::Code("x = 1\n \ny = 2".into()),
                Block::Paragraph("設定を行います。".into()),
            ]
        );
        let p = plain(&b);
        assert_eq!(with_plain(&b, &p), b);
    }

    #[test]
    fn japanese_lines_never_start_with_closing_punctuation() {
        let t = "設定値の読み込みおよび書き込みは、管理者のみ行います。「取り扱い説明書」に従って、取り外しまたは交換を行います。".repeat(6);
        let ls = lines(&t, Face::Regular, 10.5, 120.0);
        assert!(ls.len() > 5);
        for l in &ls {
            let first = l.chars().next().unwrap();
            assert!(!"、。」）".contains(first), "{l}");
            assert!(!l.ends_with('「'), "{l}");
        }
    }

    #[test]
    fn lines_fit_and_break_between_japanese_characters() {
        let t = "The spindle is centered toward the operator before the axis moves. 設定はすべて自動で行います。";
        for l in lines(t, Face::Regular, 10.5, 200.0) {
            assert!(text_width(&l, Face::Regular) * 10.5 <= 200.0 + 1e-3, "{l}");
        }
        let joined: String = lines(t, Face::Regular, 10.5, 200.0).join("");
        assert_eq!(joined.replace(' ', ""), t.replace(' ', ""));
    }
}
