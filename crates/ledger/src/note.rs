//! Checkpoints (C2SP tlog-checkpoint) signed as notes (C2SP signed-note)
//! with Ed25519, and the key encodings of the signed-note ecosystem.
//!
//! Checkpoint body:
//! ```text
//! <origin>
//! <tree size, decimal>
//! <root hash, base64>
//! [extension lines]
//! ```
//! Note: the body, a blank line, then one line per signature:
//! `— <key name> <base64(4-byte key id || 64-byte signature)>`.
//! Key id: the first 4 bytes of SHA-256(name || "\n" || 0x01 || public key).
//! Verifier key: `<name>+<hex key id>+<base64(0x01 || public key)>`.
//! Private key: `PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || seed)>`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::hash::Hash;

const ALG_ED25519: u8 = 0x01;
const SIG_PREFIX: &str = "\u{2014} ";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("malformed key: {0}")]
    BadKey(String),
    #[error("malformed checkpoint: {0}")]
    BadCheckpoint(String),
    #[error("malformed note: {0}")]
    BadNote(String),
    #[error("the note carries no signature by key '{0}' (with that key id)")]
    NoSignatureByKey(String),
    #[error("the signature by '{0}' does not verify")]
    BadSignature(String),
}

fn key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ALG_ED25519]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.contains('+')
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn hex4(id: &[u8; 4]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// A note signer: the key's name and an Ed25519 key.
pub struct NoteSigner {
    name: String,
    key: SigningKey,
    id: [u8; 4],
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        write!(f, "NoteSigner({}+{})", self.name, hex4(&self.id))
    }
}

impl NoteSigner {
    /// A new key from 32 random bytes (the caller supplies randomness).
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<NoteSigner, NoteError> {
        if !valid_name(name) {
            return Err(NoteError::BadKey(format!("invalid key name '{name}'")));
        }
        let key = SigningKey::from_bytes(&seed);
        let id = key_id(name, key.verifying_key().as_bytes());
        Ok(NoteSigner {
            name: name.to_string(),
            key,
            id,
        })
    }

    /// Generates a key with the operating system's randomness.
    pub fn generate(name: &str) -> Result<NoteSigner, NoteError> {
        let key = SigningKey::generate(&mut rand_core::OsRng);
        NoteSigner::from_seed(name, key.to_bytes())
    }

    /// Parses `PRIVATE+KEY+name+id+base64`.
    pub fn parse(text: &str) -> Result<NoteSigner, NoteError> {
        let bad = |why: &str| NoteError::BadKey(why.to_string());
        let rest = text
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| bad("a private key starts with PRIVATE+KEY+"))?;
        // The key's base64 may itself contain '+': split at most twice.
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected PRIVATE+KEY+<name>+<id>+<key>"));
        };
        let raw = B64.decode(key).map_err(|_| bad("key is not base64"))?;
        if raw.len() != 33 || raw[0] != ALG_ED25519 {
            return Err(bad("not an Ed25519 key"));
        }
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&raw[1..]);
        let s = NoteSigner::from_seed(name, seed)?;
        if hex4(&s.id) != id {
            return Err(bad("key id does not match the key"));
        }
        Ok(s)
    }

    /// The private key's text form. Handle with care.
    pub fn to_private_text(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(&self.key.to_bytes());
        format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            hex4(&self.id),
            B64.encode(raw)
        )
    }

    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Signs `text` (which must end in a newline) as a note.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        if !text.ends_with('\n') {
            return Err(NoteError::BadNote(
                "note text must end with a newline".into(),
            ));
        }
        let sig: Signature = self.key.sign(text.as_bytes());
        let mut raw = self.id.to_vec();
        raw.extend_from_slice(&sig.to_bytes());
        Ok(format!(
            "{text}\n{SIG_PREFIX}{} {}\n",
            self.name,
            B64.encode(raw)
        ))
    }
}

/// A verifier key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: [u8; 4],
    key: VerifyingKey,
}

impl NoteVerifier {
    /// Parses `name+id+base64(0x01 || key)`.
    pub fn parse(text: &str) -> Result<NoteVerifier, NoteError> {
        let bad = |why: &str| NoteError::BadKey(why.to_string());
        let mut parts = text.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected <name>+<id>+<key>"));
        };
        if !valid_name(name) {
            return Err(bad("invalid key name"));
        }
        let raw = B64.decode(key).map_err(|_| bad("key is not base64"))?;
        if raw.len() != 33 || raw[0] != ALG_ED25519 {
            return Err(bad("not an Ed25519 verifier key"));
        }
        let mut pk = [0u8; 32];
        pk.copy_from_slice(&raw[1..]);
        let key = VerifyingKey::from_bytes(&pk).map_err(|_| bad("not a valid Ed25519 point"))?;
        let want = key_id(name, &pk);
        if hex4(&want) != id {
            return Err(bad("key id does not match the key"));
        }
        Ok(NoteVerifier {
            name: name.to_string(),
            id: want,
            key,
        })
    }

    pub fn to_text(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{}+{}", self.name, hex4(&self.id), B64.encode(raw))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Checks `note` carries a valid signature by this key (`verify_strict`)
    /// and returns the signed text.
    pub fn open<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
        let split = note
            .rfind("\n\n")
            .ok_or_else(|| NoteError::BadNote("no blank line before the signatures".into()))?;
        let text = &note[..split + 1];
        let sigs = &note[split + 2..];
        if !sigs.ends_with('\n') {
            return Err(NoteError::BadNote(
                "signature block must end with a newline".into(),
            ));
        }
        let mut found = false;
        for line in sigs.lines() {
            let Some(rest) = line.strip_prefix(SIG_PREFIX) else {
                return Err(NoteError::BadNote(format!(
                    "not a signature line: '{line}'"
                )));
            };
            let Some((name, b64)) = rest.split_once(' ') else {
                return Err(NoteError::BadNote(
                    "signature line lacks a signature".into(),
                ));
            };
            if name != self.name {
                continue;
            }
            let raw = B64
                .decode(b64)
                .map_err(|_| NoteError::BadNote("signature is not base64".into()))?;
            if raw.len() != 68 || raw[..4] != self.id {
                continue;
            }
            found = true;
            let sig = Signature::from_slice(&raw[4..])
                .map_err(|_| NoteError::BadSignature(name.into()))?;
            self.key
                .verify_strict(text.as_bytes(), &sig)
                .map_err(|_| NoteError::BadSignature(name.into()))?;
        }
        if found {
            Ok(text)
        } else {
            Err(NoteError::NoSignatureByKey(self.name.clone()))
        }
    }
}

/// A checkpoint: the log's origin, size and root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    pub extensions: Vec<String>,
}

impl Checkpoint {
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    pub fn parse(text: &str) -> Result<Checkpoint, NoteError> {
        let bad = |why: &str| NoteError::BadCheckpoint(why.to_string());
        if !text.ends_with('\n') {
            return Err(bad("must end with a newline"));
        }
        let mut lines = text[..text.len() - 1].split('\n');
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or_else(|| bad("no origin"))?;
        let size = lines
            .next()
            .ok_or_else(|| bad("no size"))?
            .parse::<u64>()
            .map_err(|_| bad("size is not a decimal number"))?;
        let root_b64 = lines.next().ok_or_else(|| bad("no root hash"))?;
        let raw = B64
            .decode(root_b64)
            .map_err(|_| bad("root hash is not base64"))?;
        let root: Hash = raw
            .try_into()
            .map_err(|_| bad("root hash is not 32 bytes"))?;
        let extensions: Vec<String> = lines.map(str::to_string).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(bad("empty extension line"));
        }
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
            extensions,
        })
    }

    /// Signs this checkpoint as a note.
    pub fn sign(&self, signer: &NoteSigner) -> Result<String, NoteError> {
        signer.sign(&self.to_text())
    }

    /// Verifies a signed checkpoint note and parses it.
    pub fn open(note: &str, verifier: &NoteVerifier) -> Result<Checkpoint, NoteError> {
        Checkpoint::parse(verifier.open(note)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_open() {
        let s = NoteSigner::from_seed("custodian.example/ledger", [7; 32]).unwrap();
        let v = s.verifier();
        let cp = Checkpoint {
            origin: "custodian.example/ledger".into(),
            size: 12,
            root: [9; 32],
            extensions: vec![],
        };
        let note = cp.sign(&s).unwrap();
        assert!(note.starts_with("custodian.example/ledger\n12\n"));
        assert_eq!(Checkpoint::open(&note, &v).unwrap(), cp);
        // Keys round-trip through their text forms.
        assert_eq!(NoteVerifier::parse(&v.to_text()).unwrap(), v);
        let s2 = NoteSigner::parse(&s.to_private_text()).unwrap();
        assert_eq!(s2.verifier(), v);
        // Another key, a changed byte, a changed size: refused.
        let other = NoteSigner::from_seed("custodian.example/ledger", [8; 32])
            .unwrap()
            .verifier();
        assert!(matches!(
            Checkpoint::open(&note, &other),
            Err(NoteError::NoSignatureByKey(_))
        ));
        let forged = note.replacen("\n12\n", "\n13\n", 1);
        assert!(matches!(
            Checkpoint::open(&forged, &v),
            Err(NoteError::BadSignature(_))
        ));
        assert!(format!("{s:?}").contains("NoteSigner(custodian.example/ledger+"));
        assert!(!format!("{s:?}").contains(&s.to_private_text()[20..]));
    }

    #[test]
    fn keys_whose_base64_holds_a_plus_round_trip() {
        // Regression: splitting on every '+' broke about half of all keys.
        for seed in 0u8..64 {
            let s = NoteSigner::from_seed("custodian.local/ledger", [seed; 32]).unwrap();
            let s2 = NoteSigner::parse(&s.to_private_text()).unwrap();
            assert_eq!(s2.verifier(), s.verifier());
            assert_eq!(
                NoteVerifier::parse(&s.verifier().to_text()).unwrap(),
                s.verifier()
            );
        }
    }

    #[test]
    fn malformed_inputs() {
        assert!(Checkpoint::parse("o\n1\n").is_err());
        assert!(Checkpoint::parse("o\nx\nAAAA\n").is_err());
        assert!(NoteVerifier::parse("a+b+c").is_err());
        assert!(NoteSigner::parse("PRIVATE+KEY+x").is_err());
        let v = NoteSigner::from_seed("k", [1; 32]).unwrap().verifier();
        assert!(v.open("text only\n").is_err());
    }
}
