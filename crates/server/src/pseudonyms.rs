//! Pseudonyms as a rule of the analyst role, applied to every response.
//!
//! Rules:
//! * Every response to an analyst (API, console, any route, now or added
//!   later) passes through [`Directory::mask_response`] in the layer that
//!   enforces the route table: each person's directory id, e-mail address
//!   and name in the body becomes their pseudonym (`P-…`). Pages do not
//!   opt in, so none can forget to.
//! * The only exception is a ledgered reveal: the handler that records one
//!   marks its response with [`Revealed`], and only that subject is shown,
//!   in that one response. Everyone else on it stays masked.
//! * Ids are replaced only as whole words (`E1000` is not masked inside
//!   `E10001`), names and e-mail addresses wherever they appear; longer
//!   matches win (an e-mail before the id it contains).
//! * JSON bodies are masked string by string (keys too) and re-serialised;
//!   HTML and text bodies as text. Other bodies (the evidence bundle) are
//!   not the layer's: the bundle route records a reveal of its subject
//!   before it is built.
//! * The directory is re-read from the store at most every
//!   [`REFRESH_SECS`]; a person imported since is masked from then on.

use std::sync::Mutex;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use axum::body::Body;
use axum::http::header;
use axum::response::Response;
use serde_json::Value;

/// How long a read of the directory is used.
pub const REFRESH_SECS: i64 = 5;
/// Bodies larger than this are refused rather than shown unmasked.
const MAX_BODY: usize = 256 << 20;

/// Set on a response by the handler that recorded a reveal of this person
/// (their directory id): the one subject the mask lets through.
#[derive(Clone, Debug)]
pub struct Revealed(pub String);

pub(crate) struct Built {
    at: i64,
    matcher: Option<AhoCorasick>,
    /// Per pattern: its pseudonym, and whether it must match as a word.
    replace: Vec<(String, bool, usize)>,
    /// Per person: their id (index into the patterns' owners).
    owners: Vec<String>,
}

/// The people to mask, read from the store.
pub struct Directory {
    built: Mutex<Option<std::sync::Arc<Built>>>,
}

impl Default for Directory {
    fn default() -> Self {
        Directory {
            built: Mutex::new(None),
        }
    }
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

impl Built {
    fn new(people: &[custodian_core::model::Person], key: &[u8; 32], at: i64) -> Built {
        let mut patterns: Vec<String> = Vec::new();
        let mut replace = Vec::new();
        let mut owners = Vec::new();
        for (i, p) in people.iter().enumerate() {
            owners.push(p.user_id.clone());
            let pseudonym = crate::console::pseudonym(key, &p.user_id);
            for (text, word) in [
                (p.user_id.as_str(), true),
                (p.email.as_str(), true),
                (p.name.as_str(), false),
            ] {
                // A name of one or two characters would mask ordinary text.
                if text.trim().chars().count() < 3 {
                    continue;
                }
                patterns.push(text.trim().to_string());
                replace.push((pseudonym.clone(), word, i));
            }
        }
        let matcher = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
            .ok();
        Built {
            at,
            matcher,
            replace,
            owners,
        }
    }

    fn mask(&self, text: &str, keep: Option<&str>) -> Option<String> {
        let m = self.matcher.as_ref()?;
        let bytes = text.as_bytes();
        let mut out = String::new();
        let mut last = 0;
        for found in m.find_iter(text) {
            let (pseudonym, word, owner) = &self.replace[found.pattern().as_usize()];
            if keep == Some(self.owners[*owner].as_str()) {
                continue;
            }
            if *word {
                let before = found.start().checked_sub(1).map(|i| bytes[i]);
                let after = bytes.get(found.end()).copied();
                if before.is_some_and(is_word) || after.is_some_and(is_word) {
                    continue;
                }
            }
            out.push_str(&text[last..found.start()]);
            out.push_str(pseudonym);
            last = found.end();
        }
        if last == 0 {
            return None;
        }
        out.push_str(&text[last..]);
        Some(out)
    }
}

fn mask_value(b: &Built, v: &mut Value, keep: Option<&str>) {
    match v {
        Value::String(s) => {
            if let Some(m) = b.mask(s, keep) {
                *s = m;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| mask_value(b, x, keep)),
        Value::Object(o) => {
            let old = std::mem::take(o);
            for (k, mut x) in old {
                mask_value(b, &mut x, keep);
                o.insert(b.mask(&k, keep).unwrap_or(k), x);
            }
        }
        _ => {}
    }
}

impl Built {
    /// `text` with everyone masked (for notifications, which are not
    /// responses: see `outbox`).
    pub(crate) fn mask_text(&self, text: &str) -> String {
        self.mask(text, None).unwrap_or_else(|| text.to_string())
    }

    /// A JSON value with everyone masked, string by string.
    pub(crate) fn mask_json(&self, v: &mut Value) {
        mask_value(self, v, None);
    }
}

impl Directory {
    /// The mask as the directory stands (re-read at most every
    /// [`REFRESH_SECS`]).
    pub(crate) async fn masker(
        &self,
        store: &dyn custodian_store::Store,
        key: &[u8; 32],
        now: i64,
    ) -> Result<std::sync::Arc<Built>, custodian_store::StoreError> {
        self.current(store, key, now).await
    }

    async fn current(
        &self,
        store: &dyn custodian_store::Store,
        key: &[u8; 32],
        now: i64,
    ) -> Result<std::sync::Arc<Built>, custodian_store::StoreError> {
        if let Some(b) = self.built.lock().ok().and_then(|g| g.clone()) {
            if (now - b.at).abs() < REFRESH_SECS {
                return Ok(b);
            }
        }
        let people = store.people().await?;
        let b = std::sync::Arc::new(Built::new(&people, key, now));
        if let Ok(mut g) = self.built.lock() {
            *g = Some(b.clone());
        }
        Ok(b)
    }

    /// Masks every person in a response to an analyst (see the module's
    /// rules). A body that cannot be masked is not sent.
    pub async fn mask_response(
        &self,
        store: &dyn custodian_store::Store,
        key: &[u8; 32],
        now: i64,
        resp: Response,
    ) -> Response {
        let kind = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let json = kind.starts_with("application/json");
        let text = kind.starts_with("text/");
        if !json && !text {
            return resp;
        }
        let keep = resp.extensions().get::<Revealed>().map(|r| r.0.clone());
        let built = match self.current(store, key, now).await {
            Ok(b) => b,
            Err(e) => return crate::internal(e),
        };
        let (mut parts, body) = resp.into_parts();
        let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
            Ok(b) => b,
            Err(e) => return crate::internal(e),
        };
        let masked: Vec<u8> = if json {
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(mut v) => {
                    mask_value(&built, &mut v, keep.as_deref());
                    v.to_string().into_bytes()
                }
                // Not JSON after all: masked as text.
                Err(_) => {
                    let t = String::from_utf8_lossy(&bytes);
                    built
                        .mask(&t, keep.as_deref())
                        .unwrap_or_else(|| t.into_owned())
                        .into_bytes()
                }
            }
        } else {
            let t = String::from_utf8_lossy(&bytes);
            built
                .mask(&t, keep.as_deref())
                .unwrap_or_else(|| t.into_owned())
                .into_bytes()
        };
        parts.headers.remove(header::CONTENT_LENGTH);
        Response::from_parts(parts, Body::from(masked))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn person(id: &str, name: &str) -> custodian_core::model::Person {
        custodian_core::model::Person {
            user_id: id.into(),
            name: name.into(),
            email: format!("{}@example.com", id.to_lowercase()),
            org_unit: "R&D".into(),
            site: "Tokyo".into(),
            role: "engineer".into(),
            manager_id: None,
            clearance: custodian_core::Level::Confidential,
            projects: Default::default(),
            hire_date: chrono::NaiveDate::from_ymd_opt(2020, 4, 1).unwrap(),
            leave_date: None,
        }
    }

    #[test]
    fn ids_names_and_mail_are_masked_as_whole_words() {
        let b = Built::new(
            &[person("E1000", "Ann Lee"), person("E10001", "Taro Yamada")],
            &[1; 32],
            0,
        );
        let p0 = crate::console::pseudonym(&[1; 32], "E1000");
        let p1 = crate::console::pseudonym(&[1; 32], "E10001");
        let m = b
            .mask(
                "E10001 (Taro Yamada, e10001@example.com) met E1000; E10001x and XE1000 are not ids",
                None,
            )
            .unwrap();
        assert_eq!(
            m,
            format!("{p1} ({p1}, {p1}) met {p0}; E10001x and XE1000 are not ids")
        );
        // A reveal lets through its subject only.
        let m = b.mask("E10001 met E1000", Some("E10001")).unwrap();
        assert_eq!(m, format!("E10001 met {p0}"));
        assert!(b.mask("nobody here", None).is_none());
    }

    #[test]
    fn json_is_masked_in_values_and_keys() {
        let b = Built::new(&[person("E10001", "Taro Yamada")], &[1; 32], 0);
        let p1 = crate::console::pseudonym(&[1; 32], "E10001");
        let mut v = serde_json::json!({"user": "E10001", "by_person": {"E10001": 3},
                                       "list": ["Taro Yamada printed"], "n": 1});
        mask_value(&b, &mut v, None);
        assert_eq!(v["user"], p1.as_str());
        assert_eq!(v["by_person"][p1.as_str()], 3);
        assert_eq!(v["list"][0], format!("{p1} printed"));
        assert!(!v.to_string().contains("E10001"));
    }
}
