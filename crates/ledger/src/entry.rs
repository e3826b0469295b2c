//! What a leaf holds: an entry's kind, its record id, and the record's
//! canonical encoding (see `docs/ledger.md`).
//!
//! ```text
//! custodian-ledger/v1 <kind> <record id>\n<canonical record>
//! ```

use serde::{Deserialize, Serialize};

use crate::hash::{leaf_hash, Hash};

pub const ENTRY_PREFIX: &str = "custodian-ledger/v1";

/// The kinds of record the ledger holds.
pub mod kinds {
    pub const EVENT: &str = "event";
    pub const HR_EVENT: &str = "hr-event";
    pub const CONTACT_REPORT: &str = "contact-report";
    pub const REGISTER_CHANGE: &str = "register-change";
    pub const ALERT: &str = "alert";
    pub const CUSTODY: &str = "custody";
    /// Every kind.
    pub const ALL: [&str; 6] = [
        EVENT,
        HR_EVENT,
        CONTACT_REPORT,
        REGISTER_CHANGE,
        ALERT,
        CUSTODY,
    ];
}

/// Encodes an entry's leaf data.
pub fn encode_entry(kind: &str, record_id: &str, canonical: &str) -> Vec<u8> {
    let mut v =
        Vec::with_capacity(ENTRY_PREFIX.len() + kind.len() + record_id.len() + canonical.len() + 3);
    write_entry_head(&mut v, kind, record_id);
    v.extend_from_slice(canonical.as_bytes());
    v
}

/// Writes what precedes the canonical record in an entry's leaf data:
/// `custodian-ledger/v1 KIND RECORD_ID\n`.
pub fn write_entry_head(out: &mut Vec<u8>, kind: &str, record_id: &str) {
    out.extend_from_slice(ENTRY_PREFIX.as_bytes());
    out.push(b' ');
    out.extend_from_slice(kind.as_bytes());
    out.push(b' ');
    out.extend_from_slice(record_id.as_bytes());
    out.push(b'\n');
}

/// Writes entries into one reused buffer after the leaf prefix (`0x00`),
/// so each is hashed in one pass with no copy: for verification, which
/// re-encodes every stored record.
#[derive(Debug, Default)]
pub struct LeafBuf {
    buf: Vec<u8>,
}

impl LeafBuf {
    pub fn new() -> Self {
        LeafBuf {
            buf: Vec::with_capacity(1024),
        }
    }

    /// Starts an entry with its head; the caller writes the canonical
    /// record into the returned buffer, then calls [`LeafBuf::finish`].
    pub fn start(&mut self, kind: &str, record_id: &str) -> &mut Vec<u8> {
        self.buf.clear();
        self.buf.push(0);
        write_entry_head(&mut self.buf, kind, record_id);
        &mut self.buf
    }

    /// The entry's leaf hash and its length in bytes.
    pub fn finish(&self) -> (Hash, u64) {
        use sha2::{Digest, Sha256};
        (
            Sha256::digest(&self.buf).into(),
            self.buf.len().saturating_sub(1) as u64,
        )
    }
}

/// The leaf hash of an entry.
pub fn entry_hash(kind: &str, record_id: &str, canonical: &str) -> Hash {
    leaf_hash(&encode_entry(kind, record_id, canonical))
}

/// Splits leaf data into (kind, record id, canonical record).
pub fn decode_entry(data: &[u8]) -> Option<(&str, &str, &str)> {
    let text = std::str::from_utf8(data).ok()?;
    let (head, body) = text.split_once('\n')?;
    let mut parts = head.splitn(3, ' ');
    if parts.next()? != ENTRY_PREFIX {
        return None;
    }
    Some((parts.next()?, parts.next()?, body))
}

/// A proof file: one record, its inclusion proof, and the signed checkpoint
/// it is proven against. Verifiable offline with the log's public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofBundle {
    /// Always `custodian-ledger-proof/v1`.
    pub format: String,
    pub leaf_index: u64,
    /// The entry as stored in the leaf (UTF-8 text).
    pub entry: String,
    /// Inclusion proof hashes, base64, lowest first (RFC 9162 order).
    pub inclusion_proof: Vec<String>,
    /// The signed checkpoint note.
    pub checkpoint: String,
}

pub const PROOF_FORMAT: &str = "custodian-ledger-proof/v1";

/// What a verified proof file established.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Proven {
    pub origin: String,
    pub tree_size: u64,
    pub root: String,
    pub leaf_index: u64,
    pub kind: String,
    pub record_id: String,
    pub record: String,
    pub key_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("not a Custodian proof file ({0})")]
    Format(String),
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] crate::note::NoteError),
    #[error("inclusion proof: {0}")]
    Proof(#[from] crate::proof::ProofError),
}

impl ProofBundle {
    /// Verifies the bundle with the log's verifier key, with no store.
    pub fn verify(&self, key: &crate::note::NoteVerifier) -> Result<Proven, BundleError> {
        use base64::engine::general_purpose::STANDARD as B64;
        use base64::Engine;
        if self.format != PROOF_FORMAT {
            return Err(BundleError::Format(format!("format is '{}'", self.format)));
        }
        let cp = crate::note::Checkpoint::open(&self.checkpoint, key)?;
        let (kind, record_id, record) = decode_entry(self.entry.as_bytes())
            .ok_or_else(|| BundleError::Format("the entry is not a ledger entry".into()))?;
        let mut proof = Vec::with_capacity(self.inclusion_proof.len());
        for p in &self.inclusion_proof {
            let raw = B64
                .decode(p)
                .map_err(|_| BundleError::Format("a proof hash is not base64".into()))?;
            let h: Hash = raw
                .try_into()
                .map_err(|_| BundleError::Format("a proof hash is not 32 bytes".into()))?;
            proof.push(h);
        }
        let leaf = leaf_hash(self.entry.as_bytes());
        crate::proof::verify_inclusion(self.leaf_index, cp.size, &leaf, &proof, &cp.root)?;
        Ok(Proven {
            origin: cp.origin,
            tree_size: cp.size,
            root: B64.encode(cp.root),
            leaf_index: self.leaf_index,
            kind: kind.to_string(),
            record_id: record_id.to_string(),
            record: record.to_string(),
            key_name: key.name().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pass_leaf_hash_is_the_leaf_hash() {
        let mut b = LeafBuf::new();
        for canonical in ["", "a", &"x".repeat(63), &"y".repeat(64), &"z".repeat(205)] {
            b.start(kinds::EVENT, "ev-1")
                .extend_from_slice(canonical.as_bytes());
            let data = encode_entry(kinds::EVENT, "ev-1", canonical);
            assert_eq!(b.finish(), (leaf_hash(&data), data.len() as u64));
        }
    }
}
