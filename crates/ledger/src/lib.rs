//! Custodian's custody ledger, pure computation: no I/O, no async, no clock.
//!
//! - [`hash`]: RFC 9162 leaf and node hashing.
//! - [`proof`]: inclusion and consistency proofs (and the MTC draft's
//!   subtree proofs), generation and verification.
//! - [`tiles`]: C2SP tlog-tiles of height 8 with their internal nodes; the
//!   O(log n) [`tiles::Appender`].
//! - [`note`]: C2SP checkpoints signed as notes with Ed25519.
//! - [`entry`]: what a leaf holds, and the offline proof file.

pub mod entry;
pub mod hash;
pub mod note;
pub mod proof;
pub mod tiles;

pub use hash::{empty_root, leaf_hash, node_hash, Hash};
pub use note::{Checkpoint, NoteError, NoteSigner, NoteVerifier};
pub use proof::{
    consistency_proof, inclusion_proof, verify_consistency, verify_inclusion, NodeSource,
    ProofError,
};
pub use tiles::{Appender, Tile, TileId, TileSet};
