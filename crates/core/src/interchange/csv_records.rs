//! `directory.csv` and `documents.csv`: RFC 4180 records, read so that one
//! row with broken quoting costs only that row.
//!
//! A plain CSV reader that meets an unterminated quote swallows every line up
//! to the next quote character, so one bad row can eat thousands of good
//! ones. Here each physical line is one record unless its quotes are
//! unbalanced; then the following lines are joined only while that yields a
//! record with the header's number of fields (a legitimate quoted newline).
//! Otherwise the first line alone is rejected and reading resumes with the
//! next one.

use std::collections::{HashMap, VecDeque};
use std::io::{self, BufRead};

use super::lines::{Line, LineReader};
use super::RecordError;

/// How many physical lines one quoted record may span.
const MAX_RECORD_LINES: usize = 8;

/// One logical CSV record and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvRecord {
    pub line: u64,
    pub fields: Vec<String>,
}

/// What [`CsvRecords`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsvItem {
    Record(CsvRecord),
    Bad {
        line: u64,
        error: RecordError,
        raw: Vec<u8>,
    },
}

/// The file cannot be read as a table: no header, or a required column is
/// missing.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    #[error("the file is empty (a header row is required)")]
    Empty,
    #[error("the header lacks the required column `{0}`")]
    MissingColumn(String),
    #[error("the header row cannot be read: {0}")]
    Unreadable(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Column positions by name.
#[derive(Debug, Clone)]
pub struct Columns {
    names: Vec<String>,
    index: HashMap<String, usize>,
}

impl Columns {
    fn new(names: Vec<String>) -> Self {
        let index = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.trim().to_string(), i))
            .collect();
        Columns { names, index }
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// The header's names, as written.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn require(&self, names: &[&str]) -> Result<(), HeaderError> {
        for n in names {
            if !self.index.contains_key(*n) {
                return Err(HeaderError::MissingColumn((*n).to_string()));
            }
        }
        Ok(())
    }

    /// The field named `name` of `rec`, trimmed; empty when the column is
    /// absent.
    pub fn get<'r>(&self, rec: &'r CsvRecord, name: &str) -> &'r str {
        self.index
            .get(name)
            .and_then(|&i| rec.fields.get(i))
            .map(|s| s.trim())
            .unwrap_or("")
    }
}

/// Streams the records of a CSV file.
pub struct CsvRecords<R> {
    lines: LineReader<R>,
    pending: VecDeque<Line>,
    columns: Columns,
}

fn quotes_balanced(bytes: &[u8]) -> bool {
    bytes.iter().filter(|&&b| b == b'"').count() % 2 == 0
}

fn parse_record(bytes: &[u8]) -> Result<Vec<String>, RecordError> {
    // Without quotes a row is its fields joined by commas: split it without
    // building a CSV reader (which costs more than the row).
    if !bytes.contains(&b'"') {
        let row = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        if let Ok(text) = std::str::from_utf8(row) {
            if text.is_empty() {
                return Err(RecordError::line("empty record"));
            }
            return Ok(text.split(',').map(str::to_string).collect());
        }
    }
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut rec = csv::StringRecord::new();
    match rdr.read_record(&mut rec) {
        Ok(true) => {}
        Ok(false) => return Err(RecordError::line("empty record")),
        Err(e) => return Err(RecordError::line(format!("unreadable CSV row ({e})"))),
    }
    let mut extra = csv::StringRecord::new();
    if let Ok(true) = rdr.read_record(&mut extra) {
        return Err(RecordError::line(
            "broken CSV quoting (one line holds more than one row)",
        ));
    }
    Ok(rec.iter().map(str::to_string).collect())
}

impl<R: BufRead> CsvRecords<R> {
    /// Reads the header row. `keep_limit` bounds one physical line.
    pub fn new(reader: R, keep_limit: usize) -> Result<Self, HeaderError> {
        let mut lines = LineReader::new(reader, keep_limit);
        let header = loop {
            let Some(l) = lines.next_line()? else {
                return Err(HeaderError::Empty);
            };
            if l.bytes.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            break l;
        };
        let names =
            parse_record(&header.bytes).map_err(|e| HeaderError::Unreadable(e.to_string()))?;
        Ok(CsvRecords {
            lines,
            pending: VecDeque::new(),
            columns: Columns::new(names),
        })
    }

    pub fn columns(&self) -> &Columns {
        &self.columns
    }

    pub fn bytes_read(&self) -> u64 {
        self.lines.bytes_read()
    }

    fn next_physical(&mut self) -> io::Result<Option<Line>> {
        if let Some(p) = self.pending.pop_front() {
            return Ok(Some(p));
        }
        self.lines.next_line()
    }

    /// The next record or bad row; `None` at the end.
    pub fn next_item(&mut self) -> io::Result<Option<CsvItem>> {
        loop {
            let Some(Line {
                number: line,
                bytes,
                truncated_from: truncated,
            }) = self.next_physical()?
            else {
                return Ok(None);
            };
            if bytes.iter().all(|b| b.is_ascii_whitespace()) && truncated.is_none() {
                continue;
            }
            if let Some(len) = truncated {
                return Ok(Some(CsvItem::Bad {
                    line,
                    error: RecordError::line(format!("line of {len} bytes exceeds the limit")),
                    raw: bytes,
                }));
            }
            let want = self.columns.len();
            if quotes_balanced(&bytes) {
                return Ok(Some(match parse_record(&bytes) {
                    Ok(fields) if fields.len() == want => {
                        CsvItem::Record(CsvRecord { line, fields })
                    }
                    Ok(fields) => CsvItem::Bad {
                        line,
                        error: RecordError::line(format!(
                            "expected {want} fields, found {}",
                            fields.len()
                        )),
                        raw: bytes,
                    },
                    Err(error) => CsvItem::Bad {
                        line,
                        error,
                        raw: bytes,
                    },
                }));
            }
            // Unbalanced quotes: try a quoted newline spanning a few lines.
            let mut joined = bytes.clone();
            let mut taken = Vec::new();
            while taken.len() < MAX_RECORD_LINES {
                let Some(next) = self.next_physical()? else {
                    break;
                };
                joined.push(b'\n');
                joined.extend_from_slice(&next.bytes);
                taken.push(next);
                if quotes_balanced(&joined) {
                    break;
                }
            }
            if quotes_balanced(&joined) {
                if let Ok(fields) = parse_record(&joined) {
                    if fields.len() == want {
                        return Ok(Some(CsvItem::Record(CsvRecord { line, fields })));
                    }
                }
            }
            for t in taken.into_iter().rev() {
                self.pending.push_front(t);
            }
            return Ok(Some(CsvItem::Bad {
                line,
                error: RecordError::line("broken CSV quoting (unterminated quoted field)"),
                raw: bytes,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(text: &str) -> Vec<CsvItem> {
        let mut r = CsvRecords::new(text.as_bytes(), 1 << 20).unwrap();
        let mut out = vec![];
        while let Some(i) = r.next_item().unwrap() {
            out.push(i);
        }
        out
    }

    #[test]
    fn a_broken_quote_costs_one_row() {
        let out = items("a,b,c\n1,2,3\n4,\"5,6\n7,8,9\n10,11,12\n");
        let lines: Vec<_> = out
            .iter()
            .map(|i| match i {
                CsvItem::Record(r) => (r.line, true),
                CsvItem::Bad { line, .. } => (*line, false),
            })
            .collect();
        assert_eq!(lines, vec![(2, true), (3, false), (4, true), (5, true)]);
    }

    #[test]
    fn a_quoted_newline_is_one_record() {
        let out = items("a,b,c\n1,\"two\nlines\",3\n4,5,6\n");
        assert_eq!(
            out[0],
            CsvItem::Record(CsvRecord {
                line: 2,
                fields: vec!["1".into(), "two\nlines".into(), "3".into()]
            })
        );
        assert!(matches!(out[1], CsvItem::Record(CsvRecord { line: 4, .. })));
    }

    #[test]
    fn wrong_field_count_is_named() {
        let out = items("a,b,c\n1,2\n");
        match &out[0] {
            CsvItem::Bad { line, error, .. } => {
                assert_eq!(*line, 2);
                assert_eq!(error.to_string(), "expected 3 fields, found 2");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_column_is_a_header_error() {
        let r = CsvRecords::new("a,b\n".as_bytes(), 100).unwrap();
        assert!(matches!(
            r.columns().require(&["a", "c"]),
            Err(HeaderError::MissingColumn(c)) if c == "c"
        ));
        assert!(matches!(
            CsvRecords::new("".as_bytes(), 100),
            Err(HeaderError::Empty)
        ));
    }
}
