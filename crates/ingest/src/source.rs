//! Opening a dataset's files: plain or gzip, with a byte counter for
//! progress that counts what was read from disk.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use flate2::read::MultiGzDecoder;

/// Counts bytes read through it.
pub struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A dataset file found on disk.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    /// The file's name as found (`events.jsonl` or `events.jsonl.gz`).
    pub name: String,
    pub gzip: bool,
    pub size: u64,
}

impl SourceFile {
    /// Finds `name` or `name.gz` in `dir`. Plain wins when both exist.
    pub fn find(dir: &Path, name: &str) -> io::Result<Option<SourceFile>> {
        for (candidate, gzip) in [(name.to_string(), false), (format!("{name}.gz"), true)] {
            let path = dir.join(&candidate);
            match std::fs::metadata(&path) {
                Ok(m) if m.is_file() => {
                    return Ok(Some(SourceFile {
                        path,
                        name: candidate,
                        gzip,
                        size: m.len(),
                    }))
                }
                Ok(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("{} is not a regular file", path.display()),
                    ))
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Opens the file for buffered reading, decompressing if needed.
    /// `count` receives the bytes read from disk.
    pub fn open(&self, count: Arc<AtomicU64>) -> io::Result<Box<dyn BufRead + Send>> {
        let file = File::open(&self.path)?;
        let counted = Counting { inner: file, count };
        Ok(if self.gzip {
            Box::new(BufReader::with_capacity(
                1 << 16,
                MultiGzDecoder::new(BufReader::with_capacity(1 << 16, counted)),
            ))
        } else {
            Box::new(BufReader::with_capacity(1 << 16, counted))
        })
    }
}
