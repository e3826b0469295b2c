//! Collusion experiments: colluders who combine their copies under the
//! marking assumption, with erasures and read errors, are accused; no
//! innocent ever is, and random reads accuse nobody.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use custodian_fingerprint::{Code, CodeParams};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const N: u64 = 1000;
const EPS: f64 = 1e-6;

#[derive(Debug, Clone, Copy)]
enum Attack {
    Majority,
    Minority,
    Random,
    AllOnes,
    Interleave,
}

fn collude(
    code: &Code,
    colluders: &[u64],
    attack: Attack,
    rng: &mut ChaCha8Rng,
) -> Vec<Option<bool>> {
    let words: Vec<Vec<u64>> = colluders.iter().map(|&j| code.codeword(j)).collect();
    (0..code.len())
        .map(|i| {
            let bits: Vec<bool> = words.iter().map(|w| Code::bit(w, i)).collect();
            let ones = bits.iter().filter(|b| **b).count();
            if ones == 0 || ones == bits.len() {
                return Some(bits[0]); // the marking assumption
            }
            Some(match attack {
                Attack::Majority => ones * 2 >= bits.len(),
                Attack::Minority => ones * 2 < bits.len(),
                Attack::Random => rng.gen(),
                Attack::AllOnes => true,
                Attack::Interleave => bits[i % bits.len()],
            })
        })
        .collect()
}

fn key(trial: u64) -> [u8; 32] {
    let mut k = [0u8; 32];
    k[..8].copy_from_slice(&trial.to_be_bytes());
    k[31] = 7;
    k
}

#[test]
fn colluders_are_accused_and_innocents_never() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let attacks = [
        Attack::Majority,
        Attack::Minority,
        Attack::Random,
        Attack::AllOnes,
        Attack::Interleave,
    ];
    let mut innocents_accused = 0;
    let mut caught = 0;
    let mut trials = 0;
    for c in 2..=4u32 {
        let params = CodeParams {
            recipients: N,
            colluders: c,
            epsilon: EPS,
        };
        for t in 0..12u64 {
            let code = Code::for_params(key(u64::from(c) * 100 + t), &params);
            let mut all: Vec<u64> = (0..N).collect();
            all.shuffle(&mut rng);
            let colluders = &all[..c as usize];
            let attack = attacks[(t as usize) % attacks.len()];
            let mut read = collude(&code, colluders, attack, &mut rng);
            // A noisy reading: 10 % erasures, 2 % flipped.
            for y in read.iter_mut() {
                let r: f64 = rng.gen();
                if r < 0.10 {
                    *y = None;
                } else if r < 0.12 {
                    *y = y.map(|b| !b);
                }
            }
            let accused = code.trace(&read, N, EPS);
            trials += 1;
            if accused.iter().any(|a| colluders.contains(&a.recipient)) {
                caught += 1;
            }
            innocents_accused += accused
                .iter()
                .filter(|a| !colluders.contains(&a.recipient))
                .count();
            for a in &accused {
                assert!(a.case_bound < EPS);
            }
        }
    }
    assert_eq!(innocents_accused, 0);
    assert_eq!(
        caught, trials,
        "every coalition has at least one member accused"
    );
}

#[test]
fn a_single_copy_names_its_recipient_and_random_reads_nobody() {
    let params = CodeParams {
        recipients: N,
        colluders: 4,
        epsilon: EPS,
    };
    let code = Code::for_params(key(9), &params);
    let j = 417;
    let w = code.codeword(j);
    let read: Vec<Option<bool>> = (0..code.len()).map(|i| Some(Code::bit(&w, i))).collect();
    let accused = code.trace(&read, N, EPS);
    assert_eq!(accused.len(), 1);
    assert_eq!(accused[0].recipient, j);
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for _ in 0..20 {
        let read: Vec<Option<bool>> = (0..code.len()).map(|_| Some(rng.gen())).collect();
        assert!(code.trace(&read, N, EPS).is_empty());
    }
}

#[test]
fn the_bound_holds_for_innocents_empirically() {
    // The tail bound must dominate the innocent score distribution: over
    // many innocents, the share reaching s is below the bound at s.
    let params = CodeParams {
        recipients: N,
        colluders: 2,
        epsilon: EPS,
    };
    let code = Code::for_params(key(11), &params);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let read = collude(&code, &[1, 2], Attack::Random, &mut rng);
    let scores: Vec<f64> = (10..5010)
        .map(|j| code.score(&read, &code.codeword(j)))
        .collect();
    for s in [5.0, 20.0, 40.0, 60.0, 80.0] {
        let share = scores.iter().filter(|&&x| x >= s).count() as f64 / scores.len() as f64;
        let bound = code.innocent_tail(&read, s);
        assert!(
            share <= bound + 2.0 / scores.len() as f64,
            "at {s}: share {share} > bound {bound}"
        );
    }
    // And it is not vacuous where accusations happen.
    let sd = (code.len() as f64).sqrt();
    assert!(code.innocent_tail(&read, 6.0 * sd) < 1e-6);
}

#[test]
fn lengths_as_documented() {
    let p = |c, n, e| {
        CodeParams {
            recipients: n,
            colluders: c,
            epsilon: e,
        }
        .length()
    };
    assert_eq!(p(1, 1000, 1e-6), 154);
    assert!(p(4, 1000, 1e-6) > p(3, 1000, 1e-6));
    assert!(p(2, 100_000, 1e-6) > p(2, 1000, 1e-6));
}
