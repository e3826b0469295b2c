//! The wording carrier: a text's variant sites (spellings, hyphenation,
//! Japanese kana/kanji and okurigana choices, full- and half-width digits)
//! each carry one code bit. It is the only carrier that survives copying the
//! text out of a PDF, OCR and retyping.
//!
//! A leak is read by finding the variant sites in it (both spellings of each
//! site are recognised), keying each by its class and the text that follows
//! it with all variants written one way, and aligning those keys with the
//! original's (longest common subsequence). Matched sites give the symbols;
//! the rest are erasures. Excerpts, reordering of paragraphs within limits
//! and edits elsewhere cost only the sites they touch.

/// A pair of interchangeable writings. Option 0 is the canonical one.
#[derive(Debug, Clone, Copy)]
pub struct Pair {
    pub a: &'static str,
    pub b: &'static str,
    /// Latin words match whole words, case-insensitively; Japanese pairs
    /// match anywhere.
    pub latin: bool,
}

const fn l(a: &'static str, b: &'static str) -> Pair {
    Pair { a, b, latin: true }
}
const fn j(a: &'static str, b: &'static str) -> Pair {
    Pair { a, b, latin: false }
}

/// The variant classes. Only pairs that mean the same in technical writing
/// (no UI labels or terms of art change meaning with them).
pub const PAIRS: &[Pair] = &[
    l("organize", "organise"),
    l("organized", "organised"),
    l("organization", "organisation"),
    l("minimize", "minimise"),
    l("maximize", "maximise"),
    l("optimize", "optimise"),
    l("optimized", "optimised"),
    l("recognize", "recognise"),
    l("initialize", "initialise"),
    l("initialized", "initialised"),
    l("analyze", "analyse"),
    l("customize", "customise"),
    l("authorized", "authorised"),
    l("color", "colour"),
    l("colors", "colours"),
    l("center", "centre"),
    l("centered", "centred"),
    l("gray", "grey"),
    l("toward", "towards"),
    l("among", "amongst"),
    l("while", "whilst"),
    l("labeled", "labelled"),
    l("labeling", "labelling"),
    l("canceled", "cancelled"),
    l("modeling", "modelling"),
    l("behavior", "behaviour"),
    l("catalog", "catalogue"),
    l("aluminum", "aluminium"),
    l("fulfill", "fulfil"),
    l("email", "e-mail"),
    l("online", "on-line"),
    l("reuse", "re-use"),
    l("preset", "pre-set"),
    l("cooperate", "co-operate"),
    l("nonzero", "non-zero"),
    l("realign", "re-align"),
    j("ください", "下さい"),
    j("できます", "出来ます"),
    j("できる", "出来る"),
    j("わかります", "分かります"),
    j("行います", "行ないます"),
    j("表します", "表わします"),
    j("すべて", "全て"),
    j("ほとんど", "殆ど"),
    j("および", "及び"),
    j("または", "又は"),
    j("ならびに", "並びに"),
    j("したがって", "従って"),
    j("ただし", "但し"),
    j("あらかじめ", "予め"),
    j("お問い合わせ", "お問合せ"),
    j("取り付け", "取付け"),
    j("取り扱い", "取扱い"),
    j("取り外し", "取外し"),
    j("読み込み", "読込み"),
    j("書き込み", "書込み"),
    j("組み立て", "組立て"),
    j("受け付け", "受付け"),
    j("0", "０"),
    j("1", "１"),
    j("2", "２"),
    j("3", "３"),
    j("4", "４"),
    j("5", "５"),
    j("6", "６"),
    j("7", "７"),
    j("8", "８"),
    j("9", "９"),
];

/// Full-width digits are sites only next to Japanese text (a digit in an
/// English sentence stays as written).
fn is_digit_pair(p: &Pair) -> bool {
    p.a.len() == 1 && p.a.as_bytes()[0].is_ascii_digit()
}

/// One place in a text that can be written two ways.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// Byte range in the text.
    pub start: usize,
    pub end: usize,
    /// Index into [`PAIRS`].
    pub class: usize,
    /// Which writing the text has there (0 = `a`, 1 = `b`).
    pub written: bool,
    /// The class and the following text with every variant written the
    /// canonical way: what aligns a leak's sites with the original's.
    pub key: String,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '-' || c == '\''
}

fn is_japanese(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30ff | 0x4e00..=0x9fff | 0x3000..=0x303f | 0xff00..=0xffef)
}

/// Finds the variant sites of `text`, in order.
pub fn sites(text: &str) -> Vec<Site> {
    let mut found: Vec<(usize, usize, usize, bool)> = Vec::new();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut k = 0;
    while k < chars.len() {
        let (at, c) = chars[k];
        let prev = k.checked_sub(1).map(|i| chars[i].1);
        let mut matched = None;
        if c.is_alphabetic() && c.is_ascii() && !prev.is_some_and(is_word_char) {
            // A whole Latin word (with hyphens).
            let mut e = k;
            while e < chars.len() && is_word_char(chars[e].1) {
                e += 1;
            }
            let end = chars.get(e).map_or(text.len(), |x| x.0);
            let word = text[at..end].to_ascii_lowercase();
            for (ci, p) in PAIRS.iter().enumerate().filter(|(_, p)| p.latin) {
                if word == p.a || word == p.b {
                    matched = Some((at, end, ci, word == p.b, e));
                    break;
                }
            }
            if matched.is_none() {
                k = e.max(k + 1);
                continue;
            }
        } else if !c.is_ascii_alphabetic() {
            // Japanese pairs, longest first; digits only beside Japanese.
            let mut best: Option<(usize, usize, bool)> = None;
            for (ci, p) in PAIRS.iter().enumerate().filter(|(_, p)| !p.latin) {
                for (which, w) in [(false, p.a), (true, p.b)] {
                    if text[at..].starts_with(w) && best.is_none_or(|b| w.len() > b.1) {
                        if is_digit_pair(p) {
                            let next = text[at + w.len()..].chars().next();
                            let near =
                                prev.is_some_and(is_japanese) || next.is_some_and(is_japanese);
                            if !near {
                                continue;
                            }
                        }
                        best = Some((ci, w.len(), which));
                    }
                }
            }
            if let Some((ci, len, which)) = best {
                let end = at + len;
                let e = chars.partition_point(|x| x.0 < end);
                matched = Some((at, end, ci, which, e));
            }
        }
        match matched {
            Some((s, e, ci, which, next)) => {
                found.push((s, e, ci, which));
                k = next;
            }
            None => k += 1,
        }
    }
    // Keys: the class and up to 24 characters of canonical text after it.
    let canonical = canonicalize(text, &found);
    found
        .iter()
        .enumerate()
        .map(|(i, &(start, end, class, written))| {
            let from = canonical.1[i];
            let follow: String = canonical.0[from..]
                .chars()
                .filter(|c| !c.is_whitespace())
                .take(24)
                .collect();
            // A site too close to the end has a cut key, which could equal
            // a cut key elsewhere (an excerpt's last line): it matches
            // nothing and reads as an erasure.
            let key = if follow.chars().count() < 24 {
                String::new()
            } else {
                format!("{class}:{}", follow.to_lowercase())
            };
            Site {
                start,
                end,
                class,
                written,
                key,
            }
        })
        .collect()
}

/// The text with every site written the canonical way, and where each
/// site ends in it.
fn canonicalize(text: &str, found: &[(usize, usize, usize, bool)]) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(text.len());
    let mut ends = Vec::with_capacity(found.len());
    let mut at = 0;
    for &(s, e, class, _) in found {
        out.push_str(&text[at..s]);
        out.push_str(PAIRS[class].a);
        ends.push(out.len());
        at = e;
    }
    out.push_str(&text[at..]);
    (out, ends)
}

fn with_case(original: &str, word: &str) -> String {
    let mut cs = original.chars();
    match cs.next() {
        Some(f) if f.is_uppercase() => {
            if original
                .chars()
                .filter(|c| c.is_alphabetic())
                .all(char::is_uppercase)
                && original.len() > 1
            {
                word.to_uppercase()
            } else {
                let mut w = word.chars();
                w.next()
                    .map(|x| x.to_uppercase().collect::<String>() + w.as_str())
                    .unwrap_or_default()
            }
        }
        _ => word.to_string(),
    }
}

/// Writes `text` with site `k` written as `bits(k)` (1 = the second
/// writing), keeping capitalisation.
pub fn render(text: &str, bits: impl Fn(usize) -> bool) -> String {
    let found = sites(text);
    let mut out = String::with_capacity(text.len() + text.len() / 20);
    let mut at = 0;
    for (k, s) in found.iter().enumerate() {
        out.push_str(&text[at..s.start]);
        let p = &PAIRS[s.class];
        let w = if bits(k) { p.b } else { p.a };
        out.push_str(&if p.latin {
            with_case(&text[s.start..s.end], w)
        } else {
            w.to_string()
        });
        at = s.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Reads a leak against the original source: for each of the source's
/// sites, the writing found in the leak, or `None` where the site could
/// not be matched.
pub fn read(source: &str, leak: &str) -> Vec<Option<bool>> {
    let src = sites(source);
    let got = sites(leak);
    let (n, m) = (src.len(), got.len());
    // Longest common subsequence of the keys.
    let mut dp = vec![0u32; (n + 1) * (m + 1)];
    let idx = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            dp[idx(i, j)] = if !src[i].key.is_empty() && src[i].key == got[j].key {
                dp[idx(i + 1, j + 1)] + 1
            } else {
                dp[idx(i + 1, j)].max(dp[idx(i, j + 1)])
            };
        }
    }
    let mut out = vec![None; n];
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if !src[i].key.is_empty() && src[i].key == got[j].key {
            out[i] = Some(got[j].written);
            i += 1;
            j += 1;
        } else if dp[idx(i + 1, j)] >= dp[idx(i, j + 1)] {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// Recipient `index`'s copy of `source`: site `k` carries code position `k`
/// (sites beyond the code's length are written the canonical way; a
/// position is never carried twice, which would correlate an innocent's
/// terms and void the bound).
pub fn issue(source: &str, code: &crate::Code, index: u64) -> String {
    let word = code.codeword(index);
    let m = code.len();
    render(source, |k| k < m && crate::Code::bit(&word, k))
}

/// A leaked text read as code symbols (positions without a site, or whose
/// site was not found, are erasures).
pub fn read_code(source: &str, leak: &str, code: &crate::Code) -> Vec<Option<bool>> {
    let mut r = read(source, leak);
    r.resize(code.len(), None);
    r
}

/// The code for a text: as long as the text has sites (so any excerpt
/// carries positions of its own), and at least as long as `params` ask.
pub fn code_for(source: &str, key: [u8; 32], params: &crate::CodeParams) -> crate::Code {
    crate::Code::new(
        key,
        sites(source).len().max(params.length()),
        params.cutoff(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_render_and_read_back() {
        let src = "Organize the colour settings, then re-use the preset.\n設定を行います。詳しくはお問い合わせください。温度は25度です。Use 25 mm.";
        let s = sites(src);
        let classes: Vec<&str> = s.iter().map(|x| PAIRS[x.class].a).collect();
        assert_eq!(
            classes,
            [
                "organize",
                "color",
                "reuse",
                "preset",
                "行います",
                "お問い合わせ",
                "ください",
                "2",
                "5"
            ]
        );
        let bits = |k: usize| k.is_multiple_of(2);
        let out = render(src, bits);
        assert!(
            out.starts_with("Organise the color settings, then re-use the preset."),
            "{out}"
        );
        assert!(out.contains("25 mm"), "digits in English text stay: {out}");
        let r = read(src, &out);
        // Sites within 24 characters of the end have no full key.
        for (k, v) in r.iter().enumerate() {
            if let Some(b) = v {
                assert_eq!(*b, bits(k));
            }
        }
        assert!(r.iter().filter(|v| v.is_some()).count() >= 5, "{r:?}");
    }

    #[test]
    fn an_excerpt_reads_its_sites_and_erases_the_rest() {
        let para = |i: usize| {
            format!("Paragraph {i}: organize the colour of item {i} while you re-use the email template.\n")
        };
        let src: String = (0..40).map(para).collect();
        let out = render(&src, |k| k % 3 == 0);
        let excerpt: String = out
            .lines()
            .skip(10)
            .take(5)
            .map(|l| format!("{l}\n"))
            .collect();
        let r = read(&src, &excerpt);
        let read_sites = r.iter().filter(|x| x.is_some()).count();
        assert!(read_sites >= 5 * 5 - 2, "{read_sites}");
        for (k, v) in r.iter().enumerate() {
            if let Some(b) = v {
                assert_eq!(*b, k % 3 == 0, "site {k}");
            }
        }
    }
}
