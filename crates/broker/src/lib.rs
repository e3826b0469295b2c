//! Custody of register entries' contents: sealed with XChaCha20-Poly1305
//! (RustCrypto) under a content key kept in a file, so the store holds only
//! ciphertext. The sealed form is bound to its document (the document id is
//! associated data): a ciphertext moved to another entry does not open.
//!
//! Key rotation: generate a new key file, then re-seal every content under
//! it ([`reseal`]); each content records the id of the key that sealed it,
//! so a store mid-rotation stays readable with both keys at hand.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

use custodian_store::SealedContent;

#[derive(Debug, thiserror::Error)]
pub enum CustodyError {
    #[error("the content key file is not a Custodian content key: {0}")]
    BadKey(String),
    #[error("the content of {doc} was sealed with key {sealed}, not with the key given ({given})")]
    WrongKey {
        doc: String,
        sealed: String,
        given: String,
    },
    #[error("the content of {0} does not open: it was altered, or belongs to another entry")]
    Tampered(String),
    #[error("the content of {0} opens but its SHA-256 differs from the one recorded")]
    Digest(String),
}

const KEY_PREFIX: &str = "custodian-content-key-v1:";

/// A content key. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct ContentKey {
    key: [u8; 32],
    id: String,
}

impl std::fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContentKey").field("id", &self.id).finish()
    }
}

impl ContentKey {
    pub fn from_bytes(key: [u8; 32]) -> ContentKey {
        let mut h = Sha256::new();
        h.update(b"custodian content key id\n");
        h.update(key);
        let id = hex::encode(&h.finalize()[..8]);
        ContentKey { key, id }
    }

    /// A new random key.
    pub fn generate() -> ContentKey {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        ContentKey::from_bytes(k)
    }

    /// The key file's text.
    pub fn to_text(&self) -> String {
        format!("{KEY_PREFIX}{}", B64.encode(self.key))
    }

    pub fn from_text(text: &str) -> Result<ContentKey, CustodyError> {
        let b64 = text.trim().strip_prefix(KEY_PREFIX).ok_or_else(|| {
            CustodyError::BadKey(format!("it does not start with '{KEY_PREFIX}'"))
        })?;
        let bytes = B64
            .decode(b64)
            .map_err(|e| CustodyError::BadKey(format!("not base64 ({e})")))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| CustodyError::BadKey("not 32 bytes".into()))?;
        Ok(ContentKey::from_bytes(key))
    }

    /// A short public name for the key (not secret).
    pub fn id(&self) -> &str {
        &self.id
    }

    fn aad(doc_id: &str) -> Vec<u8> {
        let mut a = b"custodian-content/v1\n".to_vec();
        a.extend_from_slice(doc_id.as_bytes());
        a
    }

    /// Seals `plaintext` as the content of `doc_id`.
    pub fn seal(&self, doc_id: &str, plaintext: &[u8], media_type: &str) -> SealedContent {
        let cipher = XChaCha20Poly1305::new((&self.key).into());
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = Self::aad(doc_id);
        // Encryption with a valid key and nonce cannot fail for inputs of
        // any length this process can hold.
        let ciphertext = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .unwrap_or_default();
        SealedContent {
            doc_id: doc_id.into(),
            key_id: self.id.clone(),
            nonce: nonce.to_vec(),
            ciphertext,
            sha256: hex::encode(Sha256::digest(plaintext)),
            media_type: media_type.into(),
            size: plaintext.len() as u64,
        }
    }

    /// HMAC-SHA256 under this key, for derived secrets and tags.
    pub fn mac(&self, label: &str, data: &[u8]) -> [u8; 32] {
        use hmac::{Hmac, Mac};
        match <Hmac<Sha256> as Mac>::new_from_slice(&self.key) {
            Ok(mut m) => {
                m.update(label.as_bytes());
                m.update(b"\n");
                m.update(data);
                m.finalize().into_bytes().into()
            }
            Err(_) => {
                let mut h = Sha256::new();
                h.update(self.key);
                h.update(label.as_bytes());
                h.update(data);
                h.finalize().into()
            }
        }
    }

    /// Opens a sealed content, checking key, integrity and digest.
    pub fn open(&self, sealed: &SealedContent) -> Result<Vec<u8>, CustodyError> {
        if sealed.key_id != self.id {
            return Err(CustodyError::WrongKey {
                doc: sealed.doc_id.clone(),
                sealed: sealed.key_id.clone(),
                given: self.id.clone(),
            });
        }
        if sealed.nonce.len() != 24 {
            return Err(CustodyError::Tampered(sealed.doc_id.clone()));
        }
        let cipher = XChaCha20Poly1305::new((&self.key).into());
        let aad = Self::aad(&sealed.doc_id);
        let plain = cipher
            .decrypt(
                XNonce::from_slice(&sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| CustodyError::Tampered(sealed.doc_id.clone()))?;
        if hex::encode(Sha256::digest(&plain)) != sealed.sha256 {
            return Err(CustodyError::Digest(sealed.doc_id.clone()));
        }
        Ok(plain)
    }
}

/// Re-seals a content from `old` under `new` (key rotation).
pub fn reseal(
    sealed: &SealedContent,
    old: &ContentKey,
    new: &ContentKey,
) -> Result<SealedContent, CustodyError> {
    let plain = old.open(sealed)?;
    Ok(new.seal(&sealed.doc_id, &plain, &sealed.media_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_refuse() {
        let k = ContentKey::generate();
        let text = "極秘: LX-300 design notes\nThe lens group is centred by the jig.";
        let s = k.seal("D-1", text.as_bytes(), "text/markdown");
        assert!(
            !s.ciphertext.windows(6).any(|w| w == b"design"),
            "no plaintext at rest"
        );
        assert_eq!(k.open(&s).unwrap(), text.as_bytes());
        // Another key, another document, a flipped byte: all refused.
        let other = ContentKey::generate();
        assert!(matches!(other.open(&s), Err(CustodyError::WrongKey { .. })));
        let mut moved = s.clone();
        moved.doc_id = "D-2".into();
        assert!(matches!(k.open(&moved), Err(CustodyError::Tampered(_))));
        let mut flipped = s.clone();
        flipped.ciphertext[3] ^= 1;
        assert!(matches!(k.open(&flipped), Err(CustodyError::Tampered(_))));
        // Rotation.
        let r = reseal(&s, &k, &other).unwrap();
        assert_eq!(r.key_id, other.id());
        assert_eq!(other.open(&r).unwrap(), text.as_bytes());
        assert_ne!(r.nonce, s.nonce);
        // Key files round-trip; Debug never shows the key.
        let back = ContentKey::from_text(&k.to_text()).unwrap();
        assert_eq!(back.id(), k.id());
        assert!(!format!("{k:?}").contains(&k.to_text()[KEY_PREFIX.len()..]));
        assert!(ContentKey::from_text("nonsense").is_err());
    }
}
