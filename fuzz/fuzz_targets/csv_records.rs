//! Any bytes as `directory.csv` / `documents.csv`: the record splitter and
//! row parsers never panic, never loop, and account for every line.
#![no_main]

use custodian_core::interchange::{parse_document, parse_person, CsvItem, CsvRecords};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut rows) = CsvRecords::new(data, 4096) else { return };
    let cols = rows.columns().clone();
    let mut last_line = 0;
    while let Ok(Some(item)) = rows.next_item() {
        let line = match item {
            CsvItem::Record(r) => {
                let _ = parse_person(&cols, &r);
                let _ = parse_document(&cols, &r);
                r.line
            }
            CsvItem::Bad { line, .. } => line,
        };
        assert!(line > last_line, "records come in line order, each once");
        last_line = line;
    }
});
