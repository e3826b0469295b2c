//! Physical lines of a text file, read with a bound on what one line may
//! hold in memory.

use std::io::{self, BufRead};

/// One physical line: its 1-based number and its bytes without the line end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub number: u64,
    pub bytes: Vec<u8>,
    /// The line's real length when it was longer than the reader keeps; then
    /// `bytes` holds only its beginning.
    pub truncated_from: Option<u64>,
}

/// Reads lines one at a time, never holding more than `keep_limit` bytes of
/// one line. Strips `\n`, `\r\n` and a UTF-8 byte-order mark on line 1.
pub struct LineReader<R> {
    inner: R,
    number: u64,
    keep_limit: usize,
    bytes_read: u64,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(inner: R, keep_limit: usize) -> Self {
        LineReader {
            inner,
            number: 0,
            keep_limit,
            bytes_read: 0,
        }
    }

    /// Bytes consumed from the underlying reader so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// Reads the next line into `buf` (cleared first). Returns `None` at the
    /// end of input.
    pub fn next_into(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<(u64, Option<u64>)>> {
        buf.clear();
        let mut total: u64 = 0;
        let mut saw_any = false;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                if !saw_any {
                    return Ok(None);
                }
                break;
            }
            saw_any = true;
            let (piece, used, done) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (&chunk[..i], i + 1, true),
                None => (chunk, chunk.len(), false),
            };
            total += piece.len() as u64;
            let room = self.keep_limit.saturating_sub(buf.len());
            buf.extend_from_slice(&piece[..piece.len().min(room)]);
            self.inner.consume(used);
            self.bytes_read += used as u64;
            if done {
                break;
            }
        }
        self.number += 1;
        if buf.last() == Some(&b'\r') && total <= self.keep_limit as u64 {
            buf.pop();
            total -= 1;
        }
        if self.number == 1 && buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
            buf.drain(..3);
            total -= 3;
        }
        let truncated = (total > buf.len() as u64).then_some(total);
        Ok(Some((self.number, truncated)))
    }

    /// Convenience form of [`LineReader::next_into`] that allocates.
    pub fn next_line(&mut self) -> io::Result<Option<Line>> {
        let mut buf = Vec::new();
        Ok(self
            .next_into(&mut buf)?
            .map(|(number, truncated_from)| Line {
                number,
                bytes: buf,
                truncated_from,
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8], limit: usize) -> Vec<Line> {
        let mut r = LineReader::new(io::BufReader::with_capacity(4, input), limit);
        let mut out = vec![];
        while let Some(l) = r.next_line().unwrap() {
            out.push(l);
        }
        out
    }

    #[test]
    fn splits_and_numbers_lines() {
        let ls = all(b"\xEF\xBB\xBFa\r\nbb\n\nccc", 100);
        let texts: Vec<_> = ls.iter().map(|l| l.bytes.as_slice()).collect();
        assert_eq!(texts, vec![&b"a"[..], b"bb", b"", b"ccc"]);
        assert_eq!(
            ls.iter().map(|l| l.number).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
    }

    #[test]
    fn long_lines_are_bounded_and_measured() {
        let mut input = vec![b'x'; 1000];
        input.extend_from_slice(b"\nok\n");
        let ls = all(&input, 10);
        assert_eq!(ls[0].bytes.len(), 10);
        assert_eq!(ls[0].truncated_from, Some(1000));
        assert_eq!(ls[1].bytes, b"ok");
        assert_eq!(ls[1].number, 2);
        assert_eq!(ls.len(), 2);
    }
}
