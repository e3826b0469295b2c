//! Traceable PDF copies of two real manuals (pdfTeX's asymptote.pdf and
//! ReportLab's user guide, 20 pages each; `scripts/fetch-test-pdfs`), 1,000
//! recipients, a code for 4 colluders and ε = 10⁻⁶:
//!
//! * an unmodified leak gives the exact copy (token) and names its recipient;
//! * copies re-saved by qpdf, Ghostscript pdfwrite and pdftocairo name theirs;
//! * 3 pages extracted with qpdf name their recipient;
//! * 2, 3 and 4 colluders combining pages (qpdf) accuse at least one of them;
//! * randomised trials (`CUSTODIAN_PDF_TRIALS`, default 24) of excerpts and
//!   collusions: never an innocent, and random documents
//!   (`CUSTODIAN_RANDOM_DOC_TRIALS`, default 300) accuse nobody.
//!
//! `scripts/pdf-trials` runs the trials at 1,000 and 10,000.
//! Without `CUSTODIAN_TEST_PDFS` (or without qpdf, gs, pdftocairo) the tests
//! say SKIPPED.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use custodian_fingerprint::{Accusation, Code, CodeParams};
use custodian_pdfmark::{code_for, issue_copy, read_code, Limits, Mark, PageText, Pdf};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const N: u64 = 1000;
const PARAMS: CodeParams = CodeParams {
    recipients: N,
    colluders: 4,
    epsilon: 1e-6,
};

fn fixtures() -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("CUSTODIAN_TEST_PDFS") else {
        eprintln!(
            "SKIPPED: CUSTODIAN_TEST_PDFS is unset (scripts/fetch-test-pdfs fetches the manuals)"
        );
        return None;
    };
    for t in ["qpdf", "gs", "pdftocairo"] {
        if Command::new(t).arg("--version").output().is_err() {
            eprintln!("SKIPPED: {t} is not installed (scripts/install-test-tools)");
            return None;
        }
    }
    Some(PathBuf::from(dir))
}

struct Doc {
    bytes: Vec<u8>,
    pages: Vec<PageText>,
    code: Code,
    limits: Limits,
}

impl Doc {
    fn load(dir: &Path, name: &str, key: u8) -> Doc {
        let limits = Limits::default();
        let bytes = std::fs::read(dir.join(name)).expect("fixture");
        let pages = Pdf::load(&bytes, &limits)
            .and_then(|p| p.read_pages(&limits))
            .expect("reads");
        let code = code_for(&pages, [key; 32], &PARAMS);
        Doc {
            bytes,
            pages,
            code,
            limits,
        }
    }

    fn copy(&self, r: u64) -> Vec<u8> {
        let mark = Mark {
            banner: "秘 CONFIDENTIAL".into(),
            lines: vec![
                format!("E{r:05}"),
                format!("CP-{r:016x}"),
                "2026-11-26".into(),
            ],
            notice: "Trade secret managed as secret; disclosure prohibited.".into(),
            qr: format!("custodian:CP-{r:016x}:tag"),
            token: format!("CP-{r:016x}.tag"),
        };
        issue_copy(&self.bytes, &self.code, r, &mark, &self.limits).expect("issues")
    }

    fn leak_pages(&self, bytes: &[u8]) -> Vec<PageText> {
        Pdf::load(bytes, &self.limits)
            .and_then(|p| p.read_pages(&self.limits))
            .expect("the leak reads")
    }

    fn trace_pages(&self, leak: &[PageText]) -> Vec<Accusation> {
        let r = read_code(&self.pages, leak, &self.code);
        self.code.trace(&r.symbols, N, PARAMS.epsilon)
    }

    fn trace(&self, bytes: &[u8]) -> Vec<Accusation> {
        self.trace_pages(&self.leak_pages(bytes))
    }
}

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().expect("runs");
    assert!(
        out.status.success() || (cmd == "qpdf" && out.status.code() == Some(3)),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Re-saves `input` through Ghostscript's pdfwrite.
fn ghostscript(input: &str, output: &str) {
    run(
        "gs",
        &[
            "-q",
            "-dNOPAUSE",
            "-dBATCH",
            "-dSAFER",
            "-sDEVICE=pdfwrite",
            &format!("-sOutputFile={output}"),
            input,
        ],
    );
}

fn accused(a: &[Accusation]) -> Vec<u64> {
    a.iter().map(|a| a.recipient).collect()
}

fn resavers_name_the_recipient(name: &str, key: u8, recipient: u64) {
    let Some(dir) = fixtures() else { return };
    let doc = Doc::load(&dir, name, key);
    let tmp = tempfile::tempdir().expect("tmp");
    let copy = doc.copy(recipient);
    let leak = Pdf::load(&copy, &doc.limits).expect("loads");
    assert_eq!(
        leak.token().as_deref(),
        Some(format!("CP-{recipient:016x}.tag").as_str())
    );
    assert_eq!(accused(&doc.trace(&copy)), [recipient], "{name} unmodified");
    let src = tmp.path().join("copy.pdf");
    std::fs::write(&src, &copy).expect("write");
    let s = src.to_str().expect("utf8");
    let out = |n: &str| tmp.path().join(n).to_str().expect("utf8").to_string();
    let (q, g, c) = (out("qpdf.pdf"), out("gs.pdf"), out("cairo.pdf"));
    run("qpdf", &[s, &q]);
    ghostscript(s, &g);
    run("pdftocairo", &["-pdf", s, &c]);
    for (tool, path) in [("qpdf", &q), ("ghostscript", &g), ("pdftocairo", &c)] {
        let bytes = std::fs::read(path).expect("re-saved");
        let a = doc.trace(&bytes);
        assert_eq!(accused(&a), [recipient], "{name} re-saved by {tool}: {a:?}");
        assert!(a[0].case_bound < 1e-6);
    }
    // Any 3 pages extracted with qpdf.
    let mut rng = ChaCha8Rng::seed_from_u64(recipient);
    for _ in 0..3 {
        let mut p: Vec<usize> = (1..=doc.pages.len()).collect();
        p.shuffle(&mut rng);
        let list = format!("{},{},{}", p[0], p[1], p[2]);
        let x = out("three.pdf");
        run("qpdf", &[s, "--pages", ".", &list, "--", &x]);
        let a = doc.trace(&std::fs::read(&x).expect("extract"));
        assert_eq!(accused(&a), [recipient], "{name} pages {list}: {a:?}");
    }
}

#[test]
fn asymptote_copies_survive_resaving_and_excerpts() {
    resavers_name_the_recipient("asymptote-20.pdf", 1, 417);
}

#[test]
fn reportlab_copies_survive_resaving_and_excerpts() {
    resavers_name_the_recipient("reportlab-20.pdf", 2, 58);
}

/// Colluders combine pages of their copies with qpdf (and the result is
/// re-saved by Ghostscript once for each size).
#[test]
fn colluders_combining_pages_are_accused_and_nobody_else() {
    let Some(dir) = fixtures() else { return };
    let doc = Doc::load(&dir, "asymptote-20.pdf", 3);
    let tmp = tempfile::tempdir().expect("tmp");
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    for c in 2..=4usize {
        let mut who: Vec<u64> = (0..N).collect();
        who.shuffle(&mut rng);
        who.truncate(c);
        let mut args: Vec<String> = vec!["--empty".into(), "--pages".into()];
        for (i, r) in who.iter().enumerate() {
            let p = tmp.path().join(format!("c{i}.pdf"));
            std::fs::write(&p, doc.copy(*r)).expect("write");
        }
        for page in 1..=doc.pages.len() {
            let i = rng.gen_range(0..c);
            args.push(tmp.path().join(format!("c{i}.pdf")).display().to_string());
            args.push(page.to_string());
        }
        args.push("--".into());
        let mixed = tmp.path().join("mixed.pdf").display().to_string();
        args.push(mixed.clone());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        run("qpdf", &refs);
        let gs_out = tmp.path().join("mixed-gs.pdf").display().to_string();
        ghostscript(&mixed, &gs_out);
        for f in [&mixed, &gs_out] {
            let a = accused(&doc.trace(&std::fs::read(f).expect("mixed")));
            assert!(!a.is_empty(), "{c} colluders {who:?}: nobody accused ({f})");
            assert!(
                a.iter().all(|x| who.contains(x)),
                "{c} colluders {who:?}: accused {a:?}"
            );
        }
    }
}

fn trials_from_env(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Randomised excerpts and page-mixing collusions of 1 to 4 recipients, on
/// copies issued and read in process (qpdf's page extraction keeps content
/// streams as they are, so mixing the read pages is the same attack).
#[test]
fn randomised_trials_never_accuse_an_innocent() {
    let Some(dir) = fixtures() else { return };
    let trials = trials_from_env("CUSTODIAN_PDF_TRIALS", 24);
    let docs = [
        Doc::load(&dir, "asymptote-20.pdf", 11),
        Doc::load(&dir, "reportlab-20.pdf", 12),
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let (mut caught, mut innocents, mut by_c) = (0usize, 0usize, [[0usize; 2]; 5]);
    for t in 0..trials {
        let doc = &docs[t % 2];
        let c = rng.gen_range(1..=4usize);
        let mut who: Vec<u64> = (0..N).collect();
        who.shuffle(&mut rng);
        who.truncate(c);
        let copies: Vec<Vec<PageText>> =
            who.iter().map(|r| doc.leak_pages(&doc.copy(*r))).collect();
        // One colluder: any 3 pages; more: every page from one of them.
        let pages: Vec<PageText> = if c == 1 {
            let mut p: Vec<usize> = (0..doc.pages.len()).collect();
            p.shuffle(&mut rng);
            p[..3].iter().map(|&i| copies[0][i].clone()).collect()
        } else {
            (0..doc.pages.len())
                .map(|i| copies[rng.gen_range(0..c)][i].clone())
                .collect()
        };
        let a = accused(&doc.trace_pages(&pages));
        by_c[c][1] += 1;
        if !a.is_empty() && a.iter().any(|x| who.contains(x)) {
            caught += 1;
            by_c[c][0] += 1;
        }
        innocents += a.iter().filter(|x| !who.contains(x)).count();
    }
    eprintln!(
        "{trials} trials: at least one colluder accused in {caught}; by colluders 1..4 (3-page excerpt for 1): {:?}; innocents accused: {innocents}",
        &by_c[1..]
    );
    assert_eq!(innocents, 0);
    assert_eq!(
        caught,
        trials,
        "every trial accuses a colluder: {:?}",
        &by_c[1..]
    );
}

/// A document no recipient of this set ever had (a copy issued under
/// another index, read perfectly at the positions a real leak reads): the
/// strongest unrelated signal. Nobody is accused.
#[test]
fn random_documents_accuse_nobody() {
    let Some(dir) = fixtures() else { return };
    let trials = trials_from_env("CUSTODIAN_RANDOM_DOC_TRIALS", 300);
    let doc = Doc::load(&dir, "asymptote-20.pdf", 21);
    let mask: Vec<bool> = {
        let leak = doc.leak_pages(&doc.copy(5));
        read_code(&doc.pages, &leak, &doc.code)
            .symbols
            .iter()
            .map(Option::is_some)
            .collect()
    };
    let mut accused_any = 0;
    for t in 0..trials as u64 {
        let word = doc.code.codeword(N + 1 + t);
        let symbols: Vec<Option<bool>> = mask
            .iter()
            .enumerate()
            .map(|(i, m)| m.then(|| Code::bit(&word, i)))
            .collect();
        accused_any += usize::from(!doc.code.trace(&symbols, N, PARAMS.epsilon).is_empty());
    }
    eprintln!("{trials} random documents: {accused_any} accused anyone");
    assert_eq!(accused_any, 0);
}
