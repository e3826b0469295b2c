//! Where rejected lines go: listed in the summary, written to the rejects
//! file (JSONL, created on the first reject, mode 0600), and kept in the
//! store; a line longer than [`KEPT_BYTES`] is kept as its beginning, with
//! its full length.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use serde::Serialize;
use serde_json::json;

use custodian_store::{Reject, Store};

use crate::{ImportError, SourceFile};

/// How much of a rejected line is kept (in the rejects file and the store).
pub const KEPT_BYTES: usize = 64 << 10;

/// A rejected line as the summary lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectedLine {
    pub file: String,
    pub line: u64,
    pub reason: String,
}

pub struct RejectSink {
    path: PathBuf,
    out: Option<BufWriter<File>>,
    pending: Vec<Reject>,
    listed: Vec<RejectedLine>,
    list_max: usize,
    total: u64,
    per_file: std::collections::HashMap<String, u64>,
}

impl RejectSink {
    pub fn new(path: PathBuf, list_max: usize) -> Self {
        RejectSink {
            path,
            out: None,
            pending: Vec::new(),
            listed: Vec::new(),
            list_max,
            total: 0,
            per_file: Default::default(),
        }
    }

    fn writer(&mut self) -> Result<&mut BufWriter<File>, ImportError> {
        if self.out.is_none() {
            let err = |source| ImportError::RejectsFile {
                path: self.path.clone(),
                source,
            };
            // Rejected lines hold people's records: readable by the owner
            // only (0600; a new folder 0700).
            use custodian_store::private;
            if let Some(parent) = self
                .path
                .parent()
                .filter(|p| !p.as_os_str().is_empty() && !p.exists())
            {
                private::create_dir(parent).map_err(err)?;
            }
            let f = private::open(&self.path, private::Open::Truncate).map_err(err)?;
            // Report where it is from anywhere, not relative to our folder.
            if let Ok(abs) = std::fs::canonicalize(&self.path) {
                self.path = abs;
            }
            self.out = Some(BufWriter::new(f));
        }
        self.out.as_mut().ok_or_else(|| ImportError::RejectsFile {
            path: self.path.clone(),
            source: std::io::Error::other("rejects file not open"),
        })
    }

    /// Sets one line aside.
    pub fn reject(
        &mut self,
        src: &SourceFile,
        line: u64,
        reason: String,
        raw: Vec<u8>,
        truncated_from: Option<u64>,
    ) -> Result<(), ImportError> {
        tracing::debug!(file = %src.name, line, "rejected");
        // An over-long line is kept as its first KEPT_BYTES (whatever it
        // was cut from by the reader): the reason and the length say the
        // rest, and a flood of huge lines does not fill the disk twice.
        let mut raw = raw;
        let mut truncated_from = truncated_from;
        if raw.len() > KEPT_BYTES {
            truncated_from.get_or_insert(raw.len() as u64);
            let mut cut = KEPT_BYTES;
            // On a character boundary when the line is text.
            if std::str::from_utf8(&raw).is_ok() {
                while cut > 0 && (raw[cut] & 0xC0) == 0x80 {
                    cut -= 1;
                }
            }
            raw.truncate(cut);
            raw.shrink_to_fit();
        }
        let mut rec = json!({
            "file": src.name,
            "path": src.path.display().to_string(),
            "line": line,
            "reason": reason,
        });
        match std::str::from_utf8(&raw) {
            Ok(text) => rec["text"] = json!(text),
            Err(_) => rec["base64"] = json!(base64::engine::general_purpose::STANDARD.encode(&raw)),
        }
        if let Some(n) = truncated_from {
            rec["truncated_from_bytes"] = json!(n);
        }
        let path = self.path.clone();
        let w = self.writer()?;
        serde_json::to_writer(&mut *w, &rec)
            .map_err(std::io::Error::other)
            .and_then(|_| w.write_all(b"\n"))
            .map_err(|source| ImportError::RejectsFile { path, source })?;
        self.total += 1;
        *self.per_file.entry(src.name.clone()).or_default() += 1;
        if self.listed.len() < self.list_max {
            self.listed.push(RejectedLine {
                file: src.name.clone(),
                line,
                reason: reason.clone(),
            });
        }
        self.pending.push(Reject {
            file: src.path.display().to_string(),
            line,
            reason,
            raw,
        });
        Ok(())
    }

    /// Rejects so far from the file named `name`.
    pub fn count_for(&self, name: &str) -> u64 {
        self.per_file.get(name).copied().unwrap_or(0)
    }

    /// Writes pending rejects to the store and flushes the file.
    pub async fn flush_to(&mut self, store: &dyn Store) -> Result<(), ImportError> {
        if let Some(w) = self.out.as_mut() {
            w.flush().map_err(|source| ImportError::RejectsFile {
                path: self.path.clone(),
                source,
            })?;
        }
        if !self.pending.is_empty() {
            store.insert_rejects(&self.pending).await?;
            self.pending.clear();
        }
        Ok(())
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn path_if_written(&self) -> Option<&Path> {
        self.out.as_ref().map(|_| self.path.as_path())
    }

    pub fn into_listed(self) -> Vec<RejectedLine> {
        self.listed
    }
}
