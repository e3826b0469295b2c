//! Property tests: proofs for every leaf of random trees verify; a flipped
//! bit, a wrong index or a wrong size is always rejected.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use proptest::prelude::*;

use custodian_ledger::hash::{leaf_hash, root_of};
use custodian_ledger::proof::{
    consistency_proof, inclusion_proof, verify_consistency, verify_inclusion, MemoryTree,
};
use custodian_ledger::tiles::{Appender, TileSet};

fn tree(n: u64, salt: u64) -> (MemoryTree, Vec<[u8; 32]>) {
    let mut t = MemoryTree::new();
    let mut leaves = Vec::new();
    for i in 0..n {
        let l = leaf_hash(&(i ^ salt).to_le_bytes());
        t.push(l);
        leaves.push(l);
    }
    (t, leaves)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_leaf_proves_and_every_alteration_fails(n in 1u64..300, salt in any::<u64>(), bit in 0usize..256) {
        // A longer log, so that every claimed size has its true root.
        let (_, longer) = tree(2 * n + 1, salt);
        let leaves = longer[..n as usize].to_vec();
        let root_at = |m: u64| root_of(&longer[..m as usize]);
        let (t, _) = tree(n, salt);
        let root = t.root();
        prop_assert_eq!(root, root_of(&leaves));
        for i in 0..n {
            let p = inclusion_proof(&t, i, n).unwrap();
            prop_assert!(verify_inclusion(i, n, &leaves[i as usize], &p, &root).is_ok());
            // A flipped bit anywhere in the proof.
            for k in 0..p.len() {
                let mut q = p.clone();
                q[k][bit / 8] ^= 1 << (bit % 8);
                prop_assert!(verify_inclusion(i, n, &leaves[i as usize], &q, &root).is_err());
            }
            // In the leaf.
            let mut leaf = leaves[i as usize];
            leaf[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(verify_inclusion(i, n, &leaf, &p, &root).is_err());
            // A wrong index or size.
            for j in [i.wrapping_sub(1), i + 1, i ^ 2] {
                if j != i && j < n + 4 {
                    prop_assert!(verify_inclusion(j, n, &leaves[i as usize], &p, &root).is_err(), "index {} for {}", j, i);
                }
            }
            for m in [n - 1, n + 1, 2 * n] {
                if m != n && m > i {
                    prop_assert!(verify_inclusion(i, m, &leaves[i as usize], &p, &root_at(m)).is_err(), "size {} for {}", m, n);
                }
            }
        }
    }

    #[test]
    fn consistency_between_any_two_sizes(n in 2u64..300, m_frac in 0.0f64..1.0, salt in any::<u64>(), bit in 0usize..256) {
        let (t, leaves) = tree(n, salt);
        let m = ((n as f64 * m_frac) as u64).clamp(1, n);
        let r1 = root_of(&leaves[..m as usize]);
        let r2 = t.root();
        let p = consistency_proof(&t, m, n).unwrap();
        prop_assert!(verify_consistency(m, n, &p, &r1, &r2).is_ok());
        for k in 0..p.len() {
            let mut q = p.clone();
            q[k][bit / 8] ^= 1 << (bit % 8);
            prop_assert!(verify_consistency(m, n, &q, &r1, &r2).is_err());
        }
        // Claiming other sizes, each with its true root.
        if m > 1 {
            let r = root_of(&leaves[..(m - 1) as usize]);
            prop_assert!(verify_consistency(m - 1, n, &p, &r, &r2).is_err());
        }
        if m < n - 1 {
            let r = root_of(&leaves[..(n - 1) as usize]);
            prop_assert!(verify_consistency(m, n - 1, &p, &r1, &r).is_err());
        }
    }

    #[test]
    fn tiles_give_the_same_proofs_as_the_whole_tree(n in 1u64..2000, batch in 1usize..700, salt in any::<u64>()) {
        let (t, leaves) = tree(n, salt);
        let mut a = Appender::new(0, vec![]).unwrap();
        let mut set = TileSet::new();
        for chunk in leaves.chunks(batch) {
            for tile in a.append(chunk) {
                set.insert(tile);
            }
        }
        prop_assert_eq!(a.root(), t.root());
        for i in [0, n / 3, n / 2, n - 1] {
            prop_assert_eq!(inclusion_proof(&set, i, n).unwrap(), inclusion_proof(&t, i, n).unwrap());
        }
        let m = (n / 2).max(1);
        prop_assert_eq!(consistency_proof(&set, m, n).unwrap(), consistency_proof(&t, m, n).unwrap());
    }
}
