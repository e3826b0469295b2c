//! The visible mark on every page of a copy: the level banner, the
//! recipient, the copy id, the date, the legal notice and a QR code of the
//! copy id and its MAC; its fonts (Helvetica, the viewer's Japanese font,
//! and Type 3 glyphs drawn from a system font when there is one), and the
//! copy token in the document information dictionary.

use super::*;

pub(crate) const FONT_LATIN: &str = "CustodianMarkL";
pub(crate) const FONT_CJK: &str = "CustodianMarkJ";
pub(crate) const FONT_DRAWN: &str = "CustodianMarkG";

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

pub(crate) fn add_mark_fonts(doc: &mut Document, drawn: Option<&markfont::Glyphs>) -> MarkFonts {
    let (latin, cjk) = add_base_fonts(doc);
    let drawn = drawn.map(|g| add_drawn_font(doc, g));
    MarkFonts { latin, cjk, drawn }
}

/// The Type 3 font of the mark's glyphs: one-byte codes, glyph space of
/// 1/1000 em, a ToUnicode map.
pub(crate) fn add_drawn_font(doc: &mut Document, g: &markfont::Glyphs) -> ObjectId {
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

pub(crate) fn add_base_fonts(doc: &mut Document) -> (ObjectId, ObjectId) {
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
pub(crate) fn set_page_fonts(doc: &mut Document, page: ObjectId, fonts: &MarkFonts) {
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

pub(crate) fn set_token(doc: &mut Document, token: &str) {
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
pub(crate) enum Face {
    Latin,
    /// The mark's own Type 3 glyphs (see [`markfont`]).
    Drawn,
    /// The viewer's Japanese font (no outlines on this machine).
    Cid,
}

/// Splits text into runs for the mark fonts.
pub(crate) fn runs(text: &str, drawn: Option<&markfont::Glyphs>) -> Vec<(Face, Vec<u8>)> {
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
pub(crate) fn text_width(text: &str, drawn: Option<&markfont::Glyphs>) -> f32 {
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

pub(crate) fn show(
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
pub(crate) fn mark_ops(
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
