//! Any bytes as an events.jsonl line through detection's fast scanner: it
//! never panics, and never accepts a line the ordinary parser refuses (or
//! reads one differently).
#![no_main]

use std::sync::OnceLock;

use custodian_core::interchange::parse_event;
use custodian_detect::fast::parse_line;
use custodian_detect::{Context, Engine, Names};
use libfuzzer_sys::fuzz_target;

fn names() -> &'static Names {
    static N: OnceLock<std::sync::Arc<Names>> = OnceLock::new();
    N.get_or_init(|| {
        let dir = "E1,n,e,u,s,r,,secret,P1,2020-01-01,\nE2,n,e,u,s,r,,internal,,2020-01-01,\n";
        let header = "user_id,name,email,org_unit,site,role,manager_id,clearance,projects,hire_date,leave_date\n";
        let text = format!("{header}{dir}");
        let mut rows = custodian_core::interchange::CsvRecords::new(text.as_bytes(), 4096).unwrap();
        let cols = rows.columns().clone();
        let mut people = Vec::new();
        while let Ok(Some(custodian_core::interchange::CsvItem::Record(r))) = rows.next_item() {
            people.push(custodian_core::interchange::parse_person(&cols, &r).unwrap());
        }
        Engine::new(&Context { people, ..Default::default() }, Default::default()).names()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else { return };
    if let Ok(p) = parse_line(line, line, names()) {
        let e = parse_event(data).expect("the fast scanner accepted a line the parser refuses");
        let a = names().compact(&e);
        let b = p.ev(line);
        assert_eq!((a.id, a.ts_us, a.user, a.kind, a.doc, a.bytes, a.pages, a.files), (b.id, b.ts_us, b.user, b.kind, b.doc, b.bytes, b.pages, b.files));
    }
});
