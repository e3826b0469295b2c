//! The interpreter and the carriers on a small hand-made PDF (in the
//! repository, so this runs everywhere): every kind of text operator,
//! sites where the word gaps are, a copy that reads back exactly, and a
//! clear error for what is not a PDF or is over the limits.

use custodian_pdfmark::{issue, read, Limits, Mark, Pdf, PdfError, SiteAt};

const SEED: &[u8] = include_bytes!("../testdata/seed.pdf");

#[test]
fn sites_are_the_word_gaps_of_every_text_operator() {
    let limits = Limits::default();
    let pdf = Pdf::load(SEED, &limits).unwrap();
    assert_eq!(pdf.token().as_deref(), Some("CP-1.tag"));
    let pages = pdf.read_pages(&limits).unwrap();
    let p = &pages[0];
    let kerns = p
        .sites
        .iter()
        .filter(|s| matches!(s.at, SiteAt::Kern { .. }))
        .count();
    let spaces = p
        .sites
        .iter()
        .filter(|s| matches!(s.at, SiteAt::Space { .. }))
        .count();
    // 5 kerns in the TJ; 5 + 1 + 3 gaps in the Tj, ' and " strings.
    assert_eq!((kerns, spaces), (5, 9), "{:?}", p.sites);
    // "Custodian" starts at 72, 700 in an 11 pt font.
    let g = p.glyphs[0];
    assert!(
        (g.x - 72.0).abs() < 1e-3 && (g.y - 700.0).abs() < 1e-3 && (g.size - 11.0).abs() < 1e-3
    );
    // Helvetica's widths place the second glyph: 'C' is 722/1000 em.
    assert!(
        (p.glyphs[1].x - (72.0 + 0.722 * 11.0)).abs() < 1e-3,
        "{:?}",
        p.glyphs[1]
    );
    // The two-byte font's widths come from /W: code 0x41 is 500.
    let last = p.glyphs[p.glyphs.len() - 1];
    // (plus the 0.5 character spacing the " operator set, which outlives ET).
    assert!(
        (last.x - (72.0 + 0.5 * 10.0 + 0.5)).abs() < 1e-3 && (last.y - 600.0).abs() < 1e-3,
        "{last:?}"
    );
}

#[test]
fn a_copy_reads_back_and_the_original_reads_nothing() {
    let limits = Limits::default();
    let orig = Pdf::load(SEED, &limits)
        .unwrap()
        .read_pages(&limits)
        .unwrap();
    let n = custodian_pdfmark::positions(&orig).len();
    assert!(n >= 10, "{n}");
    for pattern in [0u32, 0b1010_1100_1110, u32::MAX] {
        let bit = |k: usize| pattern >> (k % 32) & 1 == 1;
        let mark = Mark {
            banner: "社外秘 INTERNAL".into(),
            lines: vec!["E1".into()],
            notice: "notice".into(),
            qr: "custodian:CP-2:tag".into(),
            token: "CP-2.tag".into(),
        };
        let copy = issue(SEED, |k| Some(bit(k)), &mark, &limits).unwrap();
        let leak = Pdf::load(&copy, &limits).unwrap();
        assert_eq!(leak.token().as_deref(), Some("CP-2.tag"));
        let r = read(&orig, &leak.read_pages(&limits).unwrap());
        assert_eq!(r.pages, [Some(0)]);
        for (k, s) in r.symbols.iter().enumerate() {
            assert_eq!(*s, Some(bit(k)), "position {k}");
        }
        // Lines end where they ended: the last glyph of each text
        // operation with two or more gaps (the lines at 700 and 687) did
        // not move sideways (lines move up or down by a third of a point).
        let marked = leak.read_pages(&limits).unwrap();
        let end = |p: &custodian_pdfmark::PageText, y: f32| {
            p.glyphs
                .iter()
                .filter(|g| (g.y - y).abs() < 1.0)
                .map(|g| g.x)
                .fold(0.0f32, f32::max)
        };
        for y in [700.0, 687.0] {
            assert!(
                (end(&orig[0], y) - end(&marked[0], y)).abs() < 1e-2,
                "line at {y}"
            );
        }
    }
    let r = read(&orig, &orig);
    assert!(
        r.symbols.iter().all(Option::is_none),
        "the original carries nothing"
    );
}

#[test]
fn bad_input_gets_a_clear_error() {
    let limits = Limits::default();
    assert!(matches!(
        Pdf::load(b"hello", &limits),
        Err(PdfError::Parse(_))
    ));
    let small = Limits {
        max_bytes: 100,
        ..Limits::default()
    };
    let e = Pdf::load(SEED, &small).err().unwrap();
    assert!(e.to_string().contains("more than the 100 allowed"), "{e}");
    let few = Limits {
        max_ops_per_page: 3,
        ..Limits::default()
    };
    let e = Pdf::load(SEED, &few)
        .unwrap()
        .read_pages(&few)
        .err()
        .unwrap();
    assert!(e.to_string().contains("operations"), "{e}");
    let mut cut = SEED.to_vec();
    cut.truncate(SEED.len() / 2);
    assert!(
        Pdf::load(&cut, &limits).is_err()
            || Pdf::load(&cut, &limits)
                .unwrap()
                .read_pages(&limits)
                .is_ok()
    );
}
