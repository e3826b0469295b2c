//! Reading a leak back: each leaked page matched to the original page it
//! shows, every word gap measured against the original, and the code
//! symbols read (a gap that cannot be read is an erasure).

use super::*;

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

pub(crate) struct Index<'a> {
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

pub(crate) fn tolerance(g: Glyph) -> f32 {
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
