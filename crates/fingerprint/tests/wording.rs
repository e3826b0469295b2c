//! The wording carrier end to end: a 20-page manual issued to 1,000
//! recipients, leaked as pasted text (reflowed), as an excerpt, or mixed by
//! colluders; traced with the exact bound.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use custodian_fingerprint::text::{issue, read_code, sites};
use custodian_fingerprint::CodeParams;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const N: u64 = 1000;
const EPS: f64 = 1e-6;

/// A 20-page operator manual in English with some Japanese notes.
fn manual() -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let sentences = [
        "Initialize the controller before you customize the feed rate",
        "The spindle is centered on the table toward the operator",
        "Check the color of the indicator while the axis moves",
        "Operators can reuse the preset tool table among shifts",
        "Send the log by email to the service center when the alarm is labeled E-12",
        "Optimize the path to minimize vibration and maximize surface quality",
        "The gray cover is made of aluminum and must be organized on the rack",
        "Canceled jobs are listed in the catalog with their behavior",
        "Authorized staff analyze the nonzero offsets online",
        "Realign the fixture and cooperate with the quality team",
        "取り付けの前に電源を切ってください。",
        "詳しくはサービス窓口にお問い合わせください。",
        "設定はすべて自動で行います。",
        "部品の取り扱いに注意してください。",
    ];
    let mut text = String::new();
    for page in 0..20 {
        text.push_str(&format!(
            "## Page {}: section {}\n\n",
            page + 1,
            page * 7 + 3
        ));
        for para in 0..6 {
            let n = rng.gen_range(4..7);
            for s in 0..n {
                let t = sentences[rng.gen_range(0..sentences.len())];
                text.push_str(t);
                if !t.ends_with('。') {
                    text.push_str(&format!(" (step {}.{}.{}). ", page + 1, para + 1, s + 1));
                }
            }
            text.push_str("\n\n");
        }
    }
    text
}

/// What pdftotext does to a typeset page: lines rewrapped, spacing changed.
fn paste(text: &str, rng: &mut ChaCha8Rng) -> String {
    let mut out = String::new();
    for word in text.split(' ') {
        out.push_str(word);
        out.push(if rng.gen_bool(0.08) { '\n' } else { ' ' });
    }
    out.replace("\n\n", "\n")
}

fn params(c: u32) -> CodeParams {
    CodeParams {
        recipients: N,
        colluders: c,
        epsilon: EPS,
    }
}

#[test]
fn pasted_text_names_its_recipient_and_nobody_else() {
    let src = manual();
    let n_sites = sites(&src).len();
    assert!(n_sites > 600, "{n_sites} sites");
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for trial in 0..30u64 {
        let code = custodian_fingerprint::text::code_for(&src, [trial as u8; 32], &params(2));
        let who = rng.gen_range(0..N);
        let leak = paste(&issue(&src, &code, who), &mut rng);
        let accused = code.trace(&read_code(&src, &leak, &code), N, EPS);
        assert_eq!(
            accused.iter().map(|a| a.recipient).collect::<Vec<_>>(),
            vec![who],
            "trial {trial}"
        );
    }
}

#[test]
fn three_pages_pasted_out_still_name_the_recipient() {
    let src = manual();
    let code = custodian_fingerprint::text::code_for(&src, [3; 32], &params(1));
    let copy = issue(&src, &code, 123);
    let pages: Vec<&str> = copy.split("## Page").collect();
    let excerpt = format!("## Page{}## Page{}## Page{}", pages[5], pages[9], pages[14]);
    let accused = code.trace(&read_code(&src, &excerpt, &code), N, EPS);
    assert_eq!(
        accused.iter().map(|a| a.recipient).collect::<Vec<_>>(),
        vec![123]
    );
}

#[test]
fn colluders_mixing_pages_are_accused_never_an_innocent() {
    let src = manual();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut innocent = 0;
    for trial in 0..24u64 {
        let c = 2 + (trial % 2) as usize; // 2 and 3 colluders
        let code =
            custodian_fingerprint::text::code_for(&src, [100 + trial as u8; 32], &params(c as u32));
        let mut all: Vec<u64> = (0..N).collect();
        all.shuffle(&mut rng);
        let gang = &all[..c];
        let copies: Vec<String> = gang.iter().map(|&j| issue(&src, &code, j)).collect();
        // Each page taken from one colluder's copy, at random.
        let split: Vec<Vec<&str>> = copies
            .iter()
            .map(|t| t.split("## Page").collect())
            .collect();
        let mixed: String = (0..split[0].len())
            .map(|p| split[rng.gen_range(0..c)][p])
            .collect::<Vec<_>>()
            .join("## Page");
        let accused = code.trace(&read_code(&src, &mixed, &code), N, EPS);
        assert!(
            accused.iter().any(|a| gang.contains(&a.recipient)),
            "trial {trial}: nobody of {gang:?} accused"
        );
        innocent += accused
            .iter()
            .filter(|a| !gang.contains(&a.recipient))
            .count();
    }
    assert_eq!(innocent, 0);
}

#[test]
fn unrelated_text_accuses_nobody() {
    let src = manual();
    let code = custodian_fingerprint::text::code_for(&src, [77; 32], &params(2));
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    for _ in 0..50 {
        // Every site written at random: a text no recipient was given.
        let bits: Vec<bool> = (0..sites(&src).len()).map(|_| rng.gen()).collect();
        let fake = custodian_fingerprint::text::render(&src, |k| bits[k]);
        assert!(code
            .trace(&read_code(&src, &fake, &code), N, EPS)
            .is_empty());
    }
}
