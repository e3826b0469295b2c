//! Per-recipient fingerprints: a binary Tardos code with the symmetric
//! (Škorić–Katzenbeisser–Celik) score, and a per-case bound on how likely an
//! innocent recipient is to reach a given score.
//!
//! * Each document has a secret key. Position biases `p_i` follow the
//!   arcsine law with a cutoff `t` (`p = sin² r`, `r` uniform in
//!   `[arcsin √t, π/2 − arcsin √t]`), drawn from the key; recipient `j`'s bit
//!   `i` is 1 with probability `p_i`, drawn from the key and `j`. Nothing per
//!   copy is stored besides which index a copy was issued under.
//! * A leak is read back as one symbol per position or an erasure. Each
//!   recipient's score is the symmetric Tardos score over the read positions.
//! * The accusation rule does not trust an asymptotic threshold. An
//!   innocent recipient's bits are independent of whatever the colluders
//!   produced (they never saw that codeword), so given the read symbols and
//!   the biases, an innocent's score is a sum of independent bounded terms
//!   of mean 0 and variance 1. [`Code::innocent_tail`] bounds
//!   `P(score ≥ s)` by the Chernoff bound computed exactly for this case
//!   (the moment generating function of each term is known). A recipient is
//!   accused only when that bound times the number of recipients is below ε,
//!   whatever the colluders did and however noisy the reading, as long as
//!   the noise does not depend on an innocent's codeword.

pub mod text;

use hmac::{Hmac, Mac};
use rand::{Rng, SeedableRng};
use rand_chacha::{ChaCha20Rng, ChaCha8Rng};
use sha2::Sha256;

/// What a code is sized for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CodeParams {
    /// Recipients the document may ever have (n).
    pub recipients: u64,
    /// Colluders the code must resist (c).
    pub colluders: u32,
    /// The false-accusation probability allowed for the whole case (ε).
    pub epsilon: f64,
}

/// The length factor: `m = K · c² · ln(n/ε)` with `K = 1.5 · π²/2`. π²/2 is
/// the symmetric code's asymptotic constant (the colluders' mean score
/// `2m/(πc)` each against an innocent's standard deviation `√m`); the 1.5
/// margin pays for the cutoff and for finite lengths, so that the exact
/// per-case bound still accuses at the sizes Custodian issues.
pub const LENGTH_FACTOR: f64 = 1.5 * std::f64::consts::PI * std::f64::consts::PI / 2.0;

impl CodeParams {
    /// The code length `m`.
    pub fn length(&self) -> usize {
        let c = f64::from(self.colluders.max(1));
        let n = self.recipients.max(2) as f64;
        (LENGTH_FACTOR * c * c * (n / self.epsilon).ln()).ceil() as usize
    }

    /// The bias cutoff `t = 1/(300 c)` (Tardos's choice).
    pub fn cutoff(&self) -> f64 {
        1.0 / (300.0 * f64::from(self.colluders.max(1)))
    }
}

/// A document's code: its biases and the key its codewords come from.
#[derive(Clone)]
pub struct Code {
    key: [u8; 32],
    biases: Vec<f64>,
    /// `biases` as 32-bit thresholds: bit = draw < threshold.
    thresholds: Vec<u32>,
}

impl std::fmt::Debug for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("Code")
            .field("length", &self.biases.len())
            .finish()
    }
}

fn derive(key: &[u8; 32], label: &[u8], index: u64) -> [u8; 32] {
    // HMAC-SHA256 takes keys of any length, so this never falls back; the
    // fallback (SHA-256 over key, label and index) only avoids a panic path.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(label);
            mac.update(&index.to_be_bytes());
            mac.finalize().into_bytes().into()
        }
        Err(_) => {
            use sha2::Digest;
            let mut h = Sha256::new();
            h.update(key);
            h.update(label);
            h.update(index.to_be_bytes());
            h.finalize().into()
        }
    }
}

const P_SCALE: f64 = 4_294_967_296.0;

/// A read-back symbol per position: `Some(bit)` or an erasure.
pub type Read = [Option<bool>];

/// A recipient's score against a leak.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub recipient: u64,
    pub score: f64,
}

/// An accusation with its evidence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Accusation {
    pub recipient: u64,
    pub score: f64,
    /// Bound on an innocent reaching this score in this case.
    pub innocent_tail: f64,
    /// `innocent_tail` times the number of recipients: below ε.
    pub case_bound: f64,
}

impl Code {
    /// The code of length `m` with bias cutoff `t` for the document whose
    /// secret key is `key`.
    pub fn new(key: [u8; 32], m: usize, cutoff: f64) -> Code {
        let mut rng = ChaCha20Rng::from_seed(derive(&key, b"custodian-tardos/biases", m as u64));
        let t = cutoff.clamp(1e-9, 0.49);
        let lo = t.sqrt().asin();
        let hi = std::f64::consts::FRAC_PI_2 - lo;
        let biases = (0..m)
            .map(|_| {
                let r: f64 = rng.gen_range(lo..hi);
                // Kept on the 2⁻³² grid the codeword draws compare against,
                // so the bias the bound uses is exactly the one drawn.
                (r.sin().powi(2) * P_SCALE).floor() / P_SCALE
            })
            .collect::<Vec<f64>>();
        let thresholds = biases.iter().map(|p| (p * P_SCALE) as u32).collect();
        Code {
            key,
            biases,
            thresholds,
        }
    }

    /// The 32-bit draws of recipient `index`'s codeword, one per position.
    fn draws(&self, index: u64, buf: &mut Vec<u8>) {
        let mut rng = ChaCha8Rng::from_seed(derive(&self.key, b"custodian-tardos/codeword", index));
        buf.resize(self.thresholds.len() * 4, 0);
        rand::RngCore::fill_bytes(&mut rng, buf);
    }

    /// Recipient `index`'s score against precomputed weights, without
    /// materialising the codeword.
    fn score_index(&self, index: u64, w: &[(f64, f64)], read: &Read, buf: &mut Vec<u8>) -> f64 {
        self.draws(index, buf);
        let mut s = 0.0;
        for (((chunk, &thr), y), &(agree, disagree)) in
            buf.chunks_exact(4).zip(&self.thresholds).zip(read).zip(w)
        {
            if let Some(y) = y {
                let u = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
                s += if (u < thr) == *y { agree } else { disagree };
            }
        }
        s
    }

    /// The code sized by `params`.
    pub fn for_params(key: [u8; 32], params: &CodeParams) -> Code {
        Code::new(key, params.length(), params.cutoff())
    }

    pub fn len(&self) -> usize {
        self.biases.len()
    }

    pub fn is_empty(&self) -> bool {
        self.biases.is_empty()
    }

    pub fn biases(&self) -> &[f64] {
        &self.biases
    }

    /// Recipient `index`'s codeword, packed 64 positions a word.
    pub fn codeword(&self, index: u64) -> Vec<u64> {
        let mut buf = Vec::new();
        self.draws(index, &mut buf);
        let mut words = vec![0u64; self.thresholds.len().div_ceil(64)];
        for (i, (chunk, &thr)) in buf.chunks_exact(4).zip(&self.thresholds).enumerate() {
            // 32-bit draws against a bias on the 2⁻³² grid: P(1) is p exactly.
            let u = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            if u < thr {
                words[i / 64] |= 1 << (i % 64);
            }
        }
        words
    }

    /// Bit `i` of a packed codeword.
    pub fn bit(word: &[u64], i: usize) -> bool {
        word.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 == 1)
    }

    /// Per position, the score added when the recipient's bit agrees with
    /// the read symbol and when it does not (0, 0 for erasures).
    fn weights(&self, read: &Read) -> Vec<(f64, f64)> {
        self.biases
            .iter()
            .zip(read.iter().chain(std::iter::repeat(&None)))
            .map(|(&p, y)| match y {
                None => (0.0, 0.0),
                Some(y) => {
                    // q: how likely an innocent's bit equals the symbol.
                    let q = if *y { p } else { 1.0 - p };
                    (((1.0 - q) / q).sqrt(), -(q / (1.0 - q)).sqrt())
                }
            })
            .collect()
    }

    /// The symmetric score of one codeword against a read leak.
    pub fn score(&self, read: &Read, codeword: &[u64]) -> f64 {
        let w = self.weights(read);
        score_with(&w, read, codeword)
    }

    /// Bound on `P(an innocent's score ≥ s)` for this read leak: the
    /// Chernoff bound `min over λ ≥ 0 of exp(−λs) · Π E[exp(λ T_i)]`, with
    /// each position's moment generating function computed exactly.
    pub fn innocent_tail(&self, read: &Read, s: f64) -> f64 {
        let terms: Vec<(f64, f64, f64)> = self
            .biases
            .iter()
            .zip(read.iter())
            .filter_map(|(&p, y)| {
                let y = (*y)?;
                let q = if y { p } else { 1.0 - p };
                Some((q, ((1.0 - q) / q).sqrt(), -(q / (1.0 - q)).sqrt()))
            })
            .collect();
        chernoff(&terms, s)
    }

    /// Scores recipients `0..issued` against a read leak and accuses those
    /// whose case bound (innocent tail × `issued`) is below `epsilon`, best
    /// first. The scores of the rest are not returned.
    pub fn trace(&self, read: &Read, issued: u64, epsilon: f64) -> Vec<Accusation> {
        let indices: Vec<u64> = (0..issued).collect();
        let scored = self.score_all(read, &indices);
        self.accuse(read, scored, issued, epsilon)
    }

    /// Scores the copies issued under `indices` against a read leak, on
    /// every core (regenerating codewords is most of the work).
    pub fn score_all(&self, read: &Read, indices: &[u64]) -> Vec<Scored> {
        let w = self.weights(read);
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 16);
        let chunk = indices.len().div_ceil(threads).max(1);
        let mut scored: Vec<Scored> = Vec::with_capacity(indices.len());
        std::thread::scope(|s| {
            let handles: Vec<_> = indices
                .chunks(chunk)
                .map(|part| {
                    let w = &w;
                    s.spawn(move || {
                        let mut buf = Vec::new();
                        part.iter()
                            .map(|&j| Scored {
                                recipient: j,
                                score: self.score_index(j, w, read, &mut buf),
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for h in handles {
                if let Ok(part) = h.join() {
                    scored.extend(part);
                }
            }
        });
        scored
    }

    /// The accusation rule over already computed scores.
    pub fn accuse(
        &self,
        read: &Read,
        mut scored: Vec<Scored>,
        issued: u64,
        epsilon: f64,
    ) -> Vec<Accusation> {
        scored.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(a.recipient.cmp(&b.recipient))
        });
        let mut out = Vec::new();
        for s in scored {
            if s.score <= 0.0 {
                break;
            }
            let tail = self.innocent_tail(read, s.score);
            let case = tail * issued.max(1) as f64;
            if case >= epsilon {
                // Lower scores have larger tails: nobody further down.
                break;
            }
            out.push(Accusation {
                recipient: s.recipient,
                score: s.score,
                innocent_tail: tail,
                case_bound: case,
            });
        }
        out
    }
}

fn score_with(w: &[(f64, f64)], read: &Read, codeword: &[u64]) -> f64 {
    let mut s = 0.0;
    for (i, ((agree, disagree), y)) in w.iter().zip(read.iter()).enumerate() {
        if let Some(y) = y {
            s += if Code::bit(codeword, i) == *y {
                *agree
            } else {
                *disagree
            };
        }
    }
    s
}

/// `ln(q e^{λa} + (1−q) e^{λb})`, without overflow.
fn log_mgf(q: f64, a: f64, b: f64, lambda: f64) -> f64 {
    let (x, y) = (q.ln() + lambda * a, (1.0 - q).ln() + lambda * b);
    let m = x.max(y);
    m + ((x - m).exp() + (y - m).exp()).ln()
}

fn chernoff(terms: &[(f64, f64, f64)], s: f64) -> f64 {
    if s <= 0.0 || terms.is_empty() {
        return 1.0;
    }
    // f(λ) = Σ ln E[e^{λT}] − λ s is convex with f(0) = 0; find its minimum
    // on λ ≥ 0 by ternary search on a bracket that doubles until f grows.
    let f = |l: f64| {
        terms
            .iter()
            .map(|&(q, a, b)| log_mgf(q, a, b, l))
            .sum::<f64>()
            - l * s
    };
    let mut hi = 1e-3;
    while hi < 1e3 && f(hi * 2.0) < f(hi) {
        hi *= 2.0;
    }
    hi *= 2.0;
    let (mut lo, mut up) = (0.0, hi);
    for _ in 0..100 {
        let m1 = lo + (up - lo) / 3.0;
        let m2 = up - (up - lo) / 3.0;
        if f(m1) <= f(m2) {
            up = m2;
        } else {
            lo = m1;
        }
    }
    f((lo + up) / 2.0).min(0.0).exp()
}
