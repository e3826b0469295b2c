//! Inclusion and consistency proofs: verification exactly as RFC 9162
//! §2.1.3.2 and §2.1.4.2 (plus the checks the RFC text leaves out: a proof
//! from size 0 is refused), subtree proofs as the Merkle Tree Certificates
//! draft defines them, and generation over any [`NodeSource`].

use crate::hash::{node_hash, split_point, Hash};

/// Why a proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf index {index} is not below the tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("[{start}, {end}) is not a valid subtree")]
    InvalidSubtree { start: u64, end: u64 },
    #[error("a consistency proof from an empty tree proves nothing")]
    FromEmptyTree,
    #[error("the first size {first} is larger than the second {second}")]
    SizesReversed { first: u64, second: u64 },
    #[error("the proof has too many hashes")]
    TooLong,
    #[error("the proof has too few hashes")]
    TooShort,
    #[error("the computed root does not match")]
    RootMismatch,
    #[error("a tree node could not be read: {0}")]
    MissingNode(String),
}

/// Whether `[start, end)` is a subtree: non-empty and `start` a multiple of
/// the smallest power of two at least `end - start`.
pub fn is_valid_subtree(start: u64, end: u64) -> bool {
    if start >= end {
        return false;
    }
    let width = end - start;
    let ceil = width.checked_next_power_of_two().unwrap_or(0);
    ceil != 0 && start.is_multiple_of(ceil)
}

/// The subtree hash that `proof` yields for the leaf `leaf` at `index`
/// within the subtree `[start, end)`.
pub fn subtree_root_from_inclusion(
    index: u64,
    start: u64,
    end: u64,
    leaf: &Hash,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    if !is_valid_subtree(start, end) {
        return Err(ProofError::InvalidSubtree { start, end });
    }
    if index < start || index >= end {
        return Err(ProofError::IndexOutOfRange { index, size: end });
    }
    let mut f = index - start;
    let mut s = end - start - 1;
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(ProofError::TooLong);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::TooShort);
    }
    Ok(r)
}

/// RFC 9162 §2.1.3.2: verifies that `leaf` is at `index` in the tree of
/// `size` leaves with root `root`.
///
/// Roots are compared as bytes (a root that is not 32 bytes never matches);
/// leaf and proof hashes are 32 bytes by type.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &[u8],
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let r = subtree_root_from_inclusion(index, 0, size, leaf, proof)?;
    if r.as_slice() == root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// Verifies a subtree inclusion proof against the subtree's hash.
pub fn verify_subtree_inclusion(
    index: u64,
    start: u64,
    end: u64,
    leaf: &Hash,
    proof: &[Hash],
    subtree: &[u8],
) -> Result<(), ProofError> {
    if subtree_root_from_inclusion(index, start, end, leaf, proof)?.as_slice() == subtree {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// RFC 9162 §2.1.4.2: verifies that the tree of `second` leaves with root
/// `second_root` extends the tree of `first` leaves with root `first_root`.
pub fn verify_consistency(
    first: u64,
    second: u64,
    proof: &[Hash],
    first_root: &[u8],
    second_root: &[u8],
) -> Result<(), ProofError> {
    if first == 0 {
        return Err(ProofError::FromEmptyTree);
    }
    if first > second {
        return Err(ProofError::SizesReversed { first, second });
    }
    if first == second {
        if !proof.is_empty() {
            return Err(ProofError::TooLong);
        }
        return if first_root == second_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    if proof.is_empty() {
        return Err(ProofError::TooShort);
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(
            first_root
                .try_into()
                .map_err(|_| ProofError::RootMismatch)?,
        );
    }
    path.extend_from_slice(proof);
    let mut f = first - 1;
    let mut s = second - 1;
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let mut fr = path[0];
    let mut sr = path[0];
    for c in &path[1..] {
        if s == 0 {
            return Err(ProofError::TooLong);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::TooShort);
    }
    if fr.as_slice() == first_root && sr.as_slice() == second_root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// Verifies that the subtree `[start, end)` with hash `subtree` sits at
/// those positions in the tree of `size` leaves with root `root`.
pub fn verify_subtree_consistency(
    start: u64,
    end: u64,
    size: u64,
    proof: &[Hash],
    subtree: &[u8],
    root: &[u8],
) -> Result<(), ProofError> {
    if start == end && end <= size {
        // An empty subtree is in every tree: its hash must be the empty
        // tree's and nothing needs proving.
        return if !proof.is_empty() {
            Err(ProofError::TooLong)
        } else if subtree == crate::hash::empty_root().as_slice() {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    if !is_valid_subtree(start, end) {
        return Err(ProofError::InvalidSubtree { start, end });
    }
    if end > size {
        return Err(ProofError::SizesReversed {
            first: end,
            second: size,
        });
    }
    let (mut f, mut s, mut t) = (start, end - 1, size - 1);
    if s == t {
        while f != s {
            f >>= 1;
            s >>= 1;
            t >>= 1;
        }
    } else {
        while f != s && s & 1 == 1 {
            f >>= 1;
            s >>= 1;
            t >>= 1;
        }
    }
    if f == s && proof.is_empty() {
        // Nothing to hash: the subtree is the whole tree.
        return if t != 0 {
            Err(ProofError::TooShort)
        } else if subtree == root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    let (mut fr, mut sr, rest) = if f == s {
        let h: Hash = subtree.try_into().map_err(|_| ProofError::RootMismatch)?;
        (h, h, proof)
    } else {
        let Some((first, rest)) = proof.split_first() else {
            return Err(ProofError::TooShort);
        };
        (*first, *first, rest)
    };
    for c in rest {
        if t == 0 {
            return Err(ProofError::TooLong);
        }
        if s & 1 == 1 || s == t {
            if f < s {
                fr = node_hash(c, &fr);
            }
            sr = node_hash(c, &sr);
            while s & 1 == 0 && s != 0 {
                f >>= 1;
                s >>= 1;
                t >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
        t >>= 1;
    }
    if t != 0 {
        return Err(ProofError::TooShort);
    }
    if fr.as_slice() == subtree && sr.as_slice() == root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// Where proof generation reads the hashes of complete subtrees: the node
/// at `height` and `index` covers leaves `[index·2^height, (index+1)·2^height)`.
pub trait NodeSource {
    fn node(&self, height: u8, index: u64) -> Result<Hash, ProofError>;
}

/// The hash of the leaves `[lo, hi)`, where `lo` is a multiple of the
/// largest power of two not above `hi - lo` (as in every range the RFC's
/// recursion produces).
pub fn range_hash(src: &dyn NodeSource, lo: u64, hi: u64) -> Result<Hash, ProofError> {
    let n = hi - lo;
    if n.is_power_of_two() && lo.is_multiple_of(n) {
        return src.node(n.trailing_zeros() as u8, lo >> n.trailing_zeros());
    }
    let k = split_point(n);
    Ok(node_hash(
        &range_hash(src, lo, lo + k)?,
        &range_hash(src, lo + k, hi)?,
    ))
}

/// The root of the first `size` leaves.
pub fn root(src: &dyn NodeSource, size: u64) -> Result<Hash, ProofError> {
    if size == 0 {
        return Ok(crate::hash::empty_root());
    }
    range_hash(src, 0, size)
}

/// RFC 9162 §2.1.3.1 PATH(index, D[size]).
pub fn inclusion_proof(
    src: &dyn NodeSource,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    fn path(
        src: &dyn NodeSource,
        m: u64,
        lo: u64,
        hi: u64,
        out: &mut Vec<Hash>,
    ) -> Result<(), ProofError> {
        if hi - lo == 1 {
            return Ok(());
        }
        let k = split_point(hi - lo);
        if m < lo + k {
            path(src, m, lo, lo + k, out)?;
            out.push(range_hash(src, lo + k, hi)?);
        } else {
            path(src, m, lo + k, hi, out)?;
            out.push(range_hash(src, lo, lo + k)?);
        }
        Ok(())
    }
    let mut out = Vec::new();
    path(src, index, 0, size, &mut out)?;
    Ok(out)
}

/// RFC 9162 §2.1.4.1 PROOF(first, D[second]).
pub fn consistency_proof(
    src: &dyn NodeSource,
    first: u64,
    second: u64,
) -> Result<Vec<Hash>, ProofError> {
    if first == 0 {
        return Err(ProofError::FromEmptyTree);
    }
    if first > second {
        return Err(ProofError::SizesReversed { first, second });
    }
    fn sub(
        src: &dyn NodeSource,
        m: u64,
        lo: u64,
        hi: u64,
        whole: bool,
        out: &mut Vec<Hash>,
    ) -> Result<(), ProofError> {
        let n = hi - lo;
        if m == n {
            if !whole {
                out.push(range_hash(src, lo, hi)?);
            }
            return Ok(());
        }
        let k = split_point(n);
        if m <= k {
            sub(src, m, lo, lo + k, whole, out)?;
            out.push(range_hash(src, lo + k, hi)?);
        } else {
            sub(src, m - k, lo + k, hi, false, out)?;
            out.push(range_hash(src, lo, lo + k)?);
        }
        Ok(())
    }
    let mut out = Vec::new();
    sub(src, first, 0, second, true, &mut out)?;
    Ok(out)
}

/// Every node of a tree held in memory; for tests and small trees.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    /// `levels[h]` holds the complete nodes at height `h`.
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    pub fn new() -> Self {
        MemoryTree {
            levels: vec![Vec::new()],
        }
    }

    pub fn push(&mut self, leaf: Hash) {
        self.levels[0].push(leaf);
        let mut h = 0;
        while self.levels[h].len().is_multiple_of(2) {
            let n = self.levels[h].len();
            let parent = node_hash(&self.levels[h][n - 2], &self.levels[h][n - 1]);
            if self.levels.len() == h + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[h + 1].push(parent);
            h += 1;
        }
    }

    pub fn size(&self) -> u64 {
        self.levels[0].len() as u64
    }

    pub fn root(&self) -> Hash {
        root(self, self.size()).unwrap_or_else(|_| crate::hash::empty_root())
    }
}

impl NodeSource for MemoryTree {
    fn node(&self, height: u8, index: u64) -> Result<Hash, ProofError> {
        self.levels
            .get(usize::from(height))
            .and_then(|l| l.get(index as usize))
            .copied()
            .ok_or_else(|| ProofError::MissingNode(format!("height {height} index {index}")))
    }
}
