#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test suite: failing loudly is its job

//! The conformance story every backend must tell the same way. Each backend's
//! test file instantiates it with [`conformance_tests!`](crate::conformance_tests),
//! giving a function that makes a fresh, empty, migrated store.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone};
use custodian_core::interchange::{event_to_json, parse_contact, parse_event, parse_hr};
use custodian_core::{Action, Document, Event, Level, Medium, Person, Projects};

use crate::{LedgerContext, NewContact, NewEvent, RegisterChange, Reject, Store};

/// The ledger key the suite signs with.
pub fn ctx() -> LedgerContext {
    LedgerContext {
        signer: custodian_ledger::NoteSigner::from_seed("conformance.example/ledger", [3; 32])
            .unwrap(),
        origin: "conformance.example/ledger".into(),
    }
}

fn t0() -> DateTime<FixedOffset> {
    FixedOffset::east_opt(9 * 3600)
        .and_then(|o| o.with_ymd_and_hms(2024, 4, 1, 9, 0, 0).single())
        .unwrap_or_else(|| DateTime::<FixedOffset>::MIN_UTC.fixed_offset())
}

pub fn person(id: &str, clearance: Level, projects: &[&str]) -> Person {
    Person {
        user_id: id.into(),
        name: format!("Name {id} 佐藤"),
        email: format!("{id}@example.jp"),
        org_unit: "R&D Optics".into(),
        site: "Tokyo".into(),
        role: "engineer".into(),
        manager_id: Some("E0".into()),
        clearance,
        projects: projects.iter().map(|s| s.to_string()).collect(),
        hire_date: NaiveDate::from_ymd_opt(2019, 4, 1).unwrap_or_default(),
        leave_date: None,
    }
}

pub fn document(id: &str, level: Level) -> Document {
    Document {
        doc_id: id.into(),
        title: format!("Title of {id}, \"quoted\""),
        classification: level,
        owner_id: "E0".into(),
        projects: Projects::Groups(BTreeSet::from(["LENS".to_string()])),
        kind: "design".into(),
        created: NaiveDate::from_ymd_opt(2023, 1, 1).unwrap_or_default(),
        medium: Medium::File,
    }
}

pub fn event(id: &str, user: &str, minutes: i64) -> NewEvent {
    let event = Event {
        id: id.into(),
        ts: t0() + Duration::minutes(minutes),
        user: user.into(),
        host: Some("pc-1".into()),
        action: Action::DocPrint {
            doc: "D1".into(),
            pages: 3,
        },
        extra: Default::default(),
    };
    NewEvent::new(event)
}

pub async fn people_round_trip_and_replace(s: &dyn Store) {
    let mut a = person("E1", Level::Confidential, &["LENS", "AX-9"]);
    let b = person("E2", Level::Public, &[]);
    s.put_people(&[b.clone(), a.clone()]).await.unwrap();
    assert_eq!(s.person("E1").await.unwrap(), Some(a.clone()));
    assert_eq!(s.person("nobody").await.unwrap(), None);
    a.clearance = Level::Secret;
    a.leave_date = NaiveDate::from_ymd_opt(2025, 3, 31);
    a.manager_id = None;
    s.put_people(std::slice::from_ref(&a)).await.unwrap();
    let all = s.people().await.unwrap();
    assert_eq!(
        all,
        vec![a, b],
        "people come back sorted by id, replaced in place"
    );
    assert_eq!(s.counts().await.unwrap().people, 2);
}

pub async fn documents_with_history(s: &dyn Store) {
    let d1 = document("D1", Level::Confidential);
    let mut d2 = document("D2", Level::Public);
    d2.projects = Projects::Everyone;
    d2.medium = Medium::Knowledge;
    let designated = |d: &Document| RegisterChange {
        doc_id: d.doc_id.clone(),
        at: t0(),
        actor: "import:/data".into(),
        field: "designated".into(),
        old: None,
        new: d.classification.to_string(),
    };
    s.put_documents(
        &[d1.clone(), d2.clone()],
        &[designated(&d1), designated(&d2)],
        &ctx(),
    )
    .await
    .unwrap();
    assert_eq!(s.document("D2").await.unwrap(), Some(d2.clone()));
    let mut d1b = d1.clone();
    d1b.classification = Level::Secret;
    let change = RegisterChange {
        doc_id: "D1".into(),
        at: t0() + Duration::hours(1),
        actor: "E0".into(),
        field: "level".into(),
        old: Some("confidential".into()),
        new: "secret".into(),
    };
    s.put_documents(
        std::slice::from_ref(&d1b),
        std::slice::from_ref(&change),
        &ctx(),
    )
    .await
    .unwrap();
    assert_eq!(s.documents().await.unwrap(), vec![d1b, d2]);
    let h = s.register_history("D1").await.unwrap();
    assert_eq!(h, vec![designated(&d1), change]);
    let c = s.counts().await.unwrap();
    assert_eq!((c.documents, c.register_changes), (2, 3));
}

pub async fn events_are_idempotent_by_id(s: &dyn Store) {
    let batch = vec![
        event("a", "E1", 0),
        event("b", "E1", 5),
        event("a", "E1", 0),
    ];
    assert_eq!(
        s.insert_events(batch.clone(), &ctx()).await.unwrap().0,
        2,
        "a repeated id inside a batch counts once"
    );
    assert_eq!(
        s.insert_events(batch.clone(), &ctx()).await.unwrap().0,
        0,
        "a re-delivered batch adds nothing"
    );
    let more = vec![event("b", "E1", 5), event("c", "E2", 1)];
    assert_eq!(s.insert_events(more, &ctx()).await.unwrap().0, 1);
    assert_eq!(s.insert_events(vec![], &ctx()).await.unwrap().0, 0);
    assert_eq!(s.counts().await.unwrap().events, 3);
    let recent = s.recent_events_for("E1", 10).await.unwrap();
    assert_eq!(
        recent.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["b", "a"]
    );
    assert_eq!(recent[0].action, "doc.print");
    assert_eq!(recent[0].doc.as_deref(), Some("D1"));
    assert_eq!(recent[0].ts, batch[1].event.ts, "the offset survives");
    assert_eq!(recent[0].canonical, event_to_json(&batch[1].event));
}

pub async fn unknown_actions_and_extension_fields_lose_nothing(s: &dyn Store) {
    let line = "{\"id\":\"u1\",\"ts\":\"2024-04-01T09:00:00.250+09:00\",\"user\":\"E1\",\"action\":\"badge.swipe\",\"door\":\"東館\\t2F\",\"n\":1000,\"tags\":[\"a\",null],\"host\":\"gate-3\"}";
    let e = parse_event(line.as_bytes()).unwrap();
    let mut known = event("u2", "E1", -5);
    known
        .event
        .extra
        .insert("source".into(), "dms-export".into());
    known = NewEvent::new(known.event);
    s.insert_events(vec![NewEvent::new(e.clone()), known.clone()], &ctx())
        .await
        .unwrap();
    let got = s.recent_events_for("E1", 2).await.unwrap();
    assert_eq!(got[0].action, "badge.swipe");
    assert_eq!(got[0].doc, None);
    assert_eq!(
        parse_event(got[0].canonical.as_bytes()).unwrap(),
        e,
        "every field survives"
    );
    assert_eq!(
        parse_event(got[1].canonical.as_bytes()).unwrap(),
        known.event
    );
}

pub async fn large_batches_are_complete(s: &dyn Store) {
    let batch: Vec<_> = (0..25_000)
        .map(|i| event(&format!("ev-{i:06}"), &format!("E{}", i % 7), i))
        .collect();
    s.begin_bulk_load().await.unwrap();
    assert_eq!(
        s.insert_events(batch[..20_000].to_vec(), &ctx())
            .await
            .unwrap()
            .0,
        20_000
    );
    assert_eq!(
        s.insert_events(batch[19_000..20_000].to_vec(), &ctx())
            .await
            .unwrap()
            .0,
        0,
        "ids stay unique during a bulk load"
    );
    s.end_bulk_load().await.unwrap();
    s.end_bulk_load().await.unwrap();
    assert_eq!(
        s.insert_events(batch.clone(), &ctx()).await.unwrap().0,
        5_000
    );
    let recent = s.recent_events_for("E3", 2).await.unwrap();
    assert_eq!(recent[0].id, "ev-024993");
    assert_eq!(
        s.insert_events(batch[10_000..12_000].to_vec(), &ctx())
            .await
            .unwrap()
            .0,
        0
    );
    assert_eq!(s.counts().await.unwrap().events, 25_000);
    // A run of 20,000: a bulk reader splits it between threads.
    leaves_agree_with_records(s).await;
}

pub async fn hr_contacts_and_rejects_are_idempotent(s: &dyn Store) {
    let t = parse_hr(br#"{"ts":"2024-03-01T00:00:00+09:00","user":"E1","type":"transfer","from_projects":["A"],"to_projects":["B"]}"#).unwrap();
    let r = parse_hr(br#"{"ts":"2024-02-01T00:00:00+09:00","user":"E1","type":"resignation_notice","detail":"family"}"#).unwrap();
    assert_eq!(
        s.insert_hr_events(&[t.clone(), r.clone(), t.clone()], &ctx())
            .await
            .unwrap()
            .0,
        2
    );
    assert_eq!(
        s.insert_hr_events(std::slice::from_ref(&t), &ctx())
            .await
            .unwrap()
            .0,
        0
    );
    assert_eq!(s.hr_events_for("E1").await.unwrap(), vec![r, t]);
    assert!(s.hr_events_for("E2").await.unwrap().is_empty());

    let raw = r#"{"id":"C1","reported_at":"2024-05-01T10:00:00+09:00","reporter":"E1","met_on":"2024-04-20","place":"品川駅","approach":"asked_directions","counterpart":{"claimed_name":"Ivan"},"meetings":3,"gifts_jpy":30000,"requests":["brochure"],"narrative":"dinner"}"#;
    let c = NewContact {
        report: parse_contact(raw.as_bytes()).unwrap(),
        raw: raw.into(),
    };
    assert_eq!(
        s.insert_contacts(&[c.clone(), c.clone()], &ctx())
            .await
            .unwrap()
            .0,
        1
    );
    assert_eq!(
        s.insert_contacts(std::slice::from_ref(&c), &ctx())
            .await
            .unwrap()
            .0,
        0
    );
    assert_eq!(s.contact_reports().await.unwrap(), vec![c.report]);

    let rej = |line, raw: &[u8]| Reject {
        file: "/data/events.jsonl".into(),
        line,
        reason: "truncated JSON".into(),
        raw: raw.to_vec(),
    };
    let batch = [
        rej(3, b"{\"id\""),
        rej(9, &[0xff, 0x00, 0xfe]),
        rej(3, b"{\"id\""),
    ];
    assert_eq!(s.insert_rejects(&batch).await.unwrap().0, 2);
    assert_eq!(s.insert_rejects(&batch).await.unwrap().0, 0);
    let kept = s.rejects(10).await.unwrap();
    assert_eq!(kept.len(), 2);
    assert!(
        kept.iter().any(|r| r.raw == [0xff, 0x00, 0xfe]),
        "bytes kept as they were"
    );
    let c = s.counts().await.unwrap();
    assert_eq!(
        (c.hr_events, c.contact_reports, c.rejected_lines),
        (2, 1, 2)
    );
}

pub async fn empty_store_counts_zero(s: &dyn Store) {
    assert_eq!(s.counts().await.unwrap(), crate::Counts::default());
    assert!(s.people().await.unwrap().is_empty());
    assert!(s.register_history("D1").await.unwrap().is_empty());
}

/// A backend's own `ledger_leaves` (bulk, parallel) agrees leaf for leaf
/// with hashing its `ledger_records`.
async fn leaves_agree_with_records(s: &dyn Store) {
    for run in s.ledger_runs().await.unwrap() {
        let own = s
            .ledger_leaves(&run.kind, run.first_seq, run.count)
            .await
            .unwrap();
        let by_records = crate::default_ledger_leaves(s, &run.kind, run.first_seq, run.count)
            .await
            .unwrap();
        let flat = |chunks: Vec<crate::LeafChunk>| {
            let mut next = run.first_seq;
            let (mut hashes, mut bytes, mut stop) = (Vec::new(), 0, None);
            for c in chunks {
                assert_eq!(c.first_seq, next, "chunks of {run:?} continue each other");
                next += c.hashes.len() as i64;
                hashes.extend(c.hashes);
                bytes += c.bytes;
                stop = stop.or(c.stop);
            }
            (hashes, bytes, stop)
        };
        let (own, by_records) = (flat(own), flat(by_records));
        assert_eq!(own.0.len() as u64, run.count, "{run:?}");
        assert!(own == by_records, "the leaves of {run:?} differ");
    }
}

pub async fn the_ledger_covers_every_record_and_verifies(s: &dyn Store) {
    use crate::audit::{prove, verify};
    let key = ctx().signer.verifier();
    // Events in batches with re-deliveries inside and across batches.
    let a: Vec<_> = (0..700)
        .map(|i| event(&format!("l-{i:04}"), "E1", i))
        .collect();
    let mut b: Vec<_> = (650..1300)
        .map(|i| event(&format!("l-{i:04}"), "E2", i))
        .collect();
    b.push(event("l-0001", "E1", 1));
    b.insert(10, event("l-1200", "E2", 1200));
    assert_eq!(s.insert_events(a, &ctx()).await.unwrap().0, 700);
    assert_eq!(s.insert_events(b, &ctx()).await.unwrap().0, 600);
    let hr =
        parse_hr(br#"{"ts":"2024-02-01T00:00:00+09:00","user":"E1","type":"resignation_notice"}"#)
            .unwrap();
    s.insert_hr_events(std::slice::from_ref(&hr), &ctx())
        .await
        .unwrap();
    let raw = r#"{"id":"C9","reported_at":"2024-05-01T10:00:00+09:00","reporter":"E1","approach":"asked_directions"}"#;
    let c = NewContact {
        report: parse_contact(raw.as_bytes()).unwrap(),
        raw: raw.into(),
    };
    s.insert_contacts(&[c], &ctx()).await.unwrap();
    let d = document("D9", Level::Secret);
    // A time with nanoseconds: stores keep microseconds, the ledger must agree.
    let rc = RegisterChange {
        doc_id: "D9".into(),
        at: t0() + Duration::nanoseconds(123_456_789),
        actor: "E0".into(),
        field: "designated".into(),
        old: None,
        new: "secret".into(),
    };
    s.put_documents(&[d], &[rc], &ctx()).await.unwrap();
    let runs = s.ledger_runs().await.unwrap();
    assert_eq!(runs.iter().map(|r| r.count).sum::<u64>(), 1303);
    let cps = s.ledger_checkpoints().await.unwrap();
    assert_eq!(cps.len(), 5, "one checkpoint per batch");
    let report = verify(s, &key, None, &|_, _| {}).await.unwrap();
    assert_eq!(report.size, 1303);
    assert_eq!(report.records_by_kind["event"], 1300);
    // A proof file for a record verifies offline, against the latest checkpoint.
    for (kind, id) in [
        ("event", "l-0699"),
        ("event", "l-1299"),
        ("hr-event", hr.id.as_str()),
        ("contact-report", "C9"),
    ] {
        let bundle = prove(s, kind, id).await.unwrap();
        let proven = bundle.verify(&key).unwrap();
        assert_eq!(
            (
                proven.kind.as_str(),
                proven.record_id.as_str(),
                proven.tree_size
            ),
            (kind, id, 1303)
        );
    }
    // The latest checkpoint is what a trusted outsider kept: it verifies.
    let note = cps.last().unwrap().note.clone();
    verify(s, &key, Some(&note), &|_, _| {}).await.unwrap();
    // A checkpoint signed by another key is refused.
    let other = custodian_ledger::NoteSigner::from_seed("conformance.example/ledger", [4; 32])
        .unwrap()
        .verifier();
    assert!(verify(s, &other, None, &|_, _| {}).await.is_err());
    leaves_agree_with_records(s).await;
}

/// Verification reads runs ahead while it rebuilds the tree and reads
/// stored tiles: with many small runs (more than a pooled store has
/// connections) and one run larger than a backend's read chunk, it
/// verifies, and the backend's leaves agree with its records.
pub async fn verification_reads_ahead_over_many_runs(s: &dyn Store) {
    let key = ctx().signer.verifier();
    let big: Vec<_> = (0..9_000)
        .map(|i| event(&format!("v-{i:05}"), "E1", i))
        .collect();
    assert_eq!(s.insert_events(big, &ctx()).await.unwrap().0, 9_000);
    for b in 0..60 {
        let batch: Vec<_> = (0..10)
            .map(|i| event(&format!("w-{b:02}-{i}"), "E2", b * 10 + i))
            .collect();
        s.insert_events(batch, &ctx()).await.unwrap();
    }
    let report = crate::audit::verify(s, &key, None, &|_, _| {})
        .await
        .unwrap();
    assert_eq!(report.size, 9_600);
    assert_eq!(report.checkpoints_verified, 61);
    leaves_agree_with_records(s).await;
}

/// Verification of a store that is being written meanwhile (the console's
/// "verify now" while an import runs) verifies what it read: it never
/// reports a batch committed after it started as records outside the
/// ledger or a checkpoint beyond the log.
pub async fn verification_of_a_live_store_is_consistent(s: &dyn Store) {
    let key = ctx().signer.verifier();
    let first: Vec<_> = (0..300)
        .map(|i| event(&format!("live-0-{i}"), "E1", i))
        .collect();
    s.insert_events(first, &ctx()).await.unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    let writer = async {
        for b in 1..=40 {
            let batch: Vec<_> = (0..50)
                .map(|i| event(&format!("live-{b}-{i}"), "E2", b * 50 + i))
                .collect();
            s.insert_events(batch, &ctx()).await.unwrap();
            tokio::task::yield_now().await;
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
    };
    let checker = async {
        let mut rounds = 0;
        while !done.load(std::sync::atomic::Ordering::SeqCst) || rounds == 0 {
            if let Err(e) = crate::audit::verify(s, &key, None, &|_, _| {}).await {
                panic!("verification while writing, round {rounds}: {e}");
            }
            rounds += 1;
            tokio::task::yield_now().await;
        }
        rounds
    };
    let ((), rounds) = futures_util::future::join(writer, checker).await;
    assert!(rounds >= 1);
    let report = crate::audit::verify(s, &key, None, &|_, _| {})
        .await
        .unwrap();
    assert_eq!(report.size, 300 + 40 * 50);
}

pub async fn alerts_and_event_lines(s: &dyn Store) {
    use crate::audit::{prove, verify};
    use crate::NewAlert;
    let key = ctx().signer.verifier();
    let evs: Vec<_> = (0..50)
        .map(|i| event(&format!("a-{i:03}"), "E1", i))
        .collect();
    s.insert_events(evs, &ctx()).await.unwrap();
    // Event lines come back in store order, parse, and equal what went in.
    let mut lines = Vec::new();
    let mut after = 0;
    loop {
        let page = s.event_lines(after, 20).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.0;
        lines.extend(page);
    }
    assert_eq!(lines.len(), 50);
    for (i, (_, l)) in lines.iter().enumerate() {
        let e = custodian_core::interchange::parse_event(l.as_bytes()).unwrap();
        assert_eq!(e, event(&format!("a-{i:03}"), "E1", i as i64).event, "{l}");
    }
    let alert = |n: u32| NewAlert {
        id: format!("A-{n}"),
        user: "E1".into(),
        raised_at: t0() + Duration::minutes(i64::from(n)),
        severity: "medium".into(),
        score: 40.5 + f64::from(n),
        body: format!(r#"{{"score":{},"user":"E1"}}"#, 40.5 + f64::from(n)),
    };
    assert_eq!(
        s.insert_alerts(&[alert(1), alert(2)], &ctx())
            .await
            .unwrap()
            .0,
        2
    );
    // Detection run again over the same data: nothing new.
    assert_eq!(
        s.insert_alerts(&[alert(2), alert(1), alert(3)], &ctx())
            .await
            .unwrap()
            .0,
        1
    );
    let stored = s.alerts(10).await.unwrap();
    assert_eq!(
        stored.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["A-3", "A-2", "A-1"]
    );
    assert_eq!(stored[0].raised_at, t0() + Duration::minutes(3));
    let report = verify(s, &key, None, &|_, _| {}).await.unwrap();
    assert_eq!(report.records_by_kind["alert"], 3);
    let bundle = prove(s, "alert", "A-2").await.unwrap();
    assert_eq!(bundle.verify(&key).unwrap().record_id, "A-2");
}

pub async fn contents_in_custody(s: &dyn Store) {
    use crate::audit::verify;
    use crate::SealedContent;
    let key = ctx().signer.verifier();
    s.put_documents(&[document("D7", Level::Secret)], &[], &ctx())
        .await
        .unwrap();
    let sealed = |n: u8, key_id: &str| SealedContent {
        doc_id: "D7".into(),
        key_id: key_id.into(),
        nonce: vec![n; 24],
        ciphertext: vec![n, 0, 255, n],
        sha256: format!("{n:064x}"),
        media_type: "text/markdown".into(),
        size: 4,
    };
    let change = |new: &str| RegisterChange {
        doc_id: "D7".into(),
        at: t0(),
        actor: "E0".into(),
        field: "content".into(),
        old: None,
        new: new.into(),
    };
    s.put_content(&sealed(1, "k1"), &change("a"), &ctx())
        .await
        .unwrap();
    assert_eq!(s.content("D7").await.unwrap(), Some(sealed(1, "k1")));
    // Rotation replaces the row; both changes are in the register's history.
    s.put_content(&sealed(2, "k2"), &change("b"), &ctx())
        .await
        .unwrap();
    assert_eq!(s.content("D7").await.unwrap(), Some(sealed(2, "k2")));
    assert_eq!(
        s.content_keys().await.unwrap(),
        vec![("D7".to_string(), "k2".to_string())]
    );
    assert_eq!(s.register_history("D7").await.unwrap().len(), 2);
    assert_eq!(s.content("D8").await.unwrap(), None);
    let report = verify(s, &key, None, &|_, _| {}).await.unwrap();
    assert_eq!(report.records_by_kind["register-change"], 2);
}

pub async fn custody_records_are_ledgered_and_filtered(s: &dyn Store) {
    use crate::audit::{prove, verify};
    use crate::CustodyRecord;
    let key = ctx().signer.verifier();
    let rec = |id: &str, kind: &str, doc: Option<&str>, user: &str, m: i64| CustodyRecord {
        id: id.into(),
        kind: kind.into(),
        doc_id: doc.map(str::to_string),
        user_id: user.into(),
        at: t0() + Duration::minutes(m),
        body: format!(r#"{{"id":"{id}","type":"{kind}"}}"#),
    };
    let batch = [
        rec("K1", "acknowledgement", None, "E1", 1),
        rec("K2", "approval", Some("D1"), "E1", 2),
        rec("K3", "copy", Some("D1"), "E1", 3),
        rec("K4", "copy", Some("D2"), "E2", 4),
    ];
    assert_eq!(s.insert_custody(&batch, &ctx()).await.unwrap().0, 4);
    assert_eq!(s.insert_custody(&batch[2..], &ctx()).await.unwrap().0, 0);
    let ids = |v: Vec<CustodyRecord>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.custody_records("copy", None, None).await.unwrap()),
        ["K3", "K4"]
    );
    assert_eq!(
        ids(s.custody_records("copy", Some("D2"), None).await.unwrap()),
        ["K4"]
    );
    assert_eq!(
        ids(s
            .custody_records("approval", Some("D1"), Some("E1"))
            .await
            .unwrap()),
        ["K2"]
    );
    assert!(s
        .custody_records("approval", Some("D1"), Some("E2"))
        .await
        .unwrap()
        .is_empty());
    let got = s
        .custody_records("acknowledgement", None, Some("E1"))
        .await
        .unwrap();
    assert_eq!(got, vec![batch[0].clone()]);
    let report = verify(s, &key, None, &|_, _| {}).await.unwrap();
    assert_eq!(report.records_by_kind["custody"], 4);
    assert_eq!(
        prove(s, "custody", "K3")
            .await
            .unwrap()
            .verify(&key)
            .unwrap()
            .record_id,
        "K3"
    );
}

/// Expands to one `#[tokio::test]` per conformance case. `$make` is an async
/// expression giving `Option<Box<dyn Store>>` (`None` when the backend is
/// not available, e.g. no PostgreSQL URL: the case then says it was
/// skipped) for a case name, and `$done` an async function that cleans up
/// after that case.
/// Accounts are replaced by username; tokens are found by their hash only
/// and their names are unique.
pub async fn accounts_and_tokens(store: &dyn Store) {
    use crate::{Account, ApiToken};
    assert!(store.account("alice").await.unwrap().is_none());
    let mut a = Account {
        username: "alice".into(),
        role: "analyst".into(),
        user_id: Some("E10001".into()),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        disabled: false,
    };
    store.put_account(&a).await.unwrap();
    assert_eq!(store.account("alice").await.unwrap().as_ref(), Some(&a));
    a.role = "auditor".into();
    a.disabled = true;
    a.user_id = None;
    store.put_account(&a).await.unwrap();
    assert_eq!(store.account("alice").await.unwrap().as_ref(), Some(&a));
    assert_eq!(store.accounts().await.unwrap().len(), 1);
    let t = ApiToken {
        token_sha256: "ab".repeat(32),
        name: "siem".into(),
        role: "analyst".into(),
        created_at: "2026-11-26T00:00:00+09:00".into(),
        revoked_at: None,
    };
    store.put_api_token(&t).await.unwrap();
    assert_eq!(
        store.api_token(&"ab".repeat(32)).await.unwrap().as_ref(),
        Some(&t)
    );
    assert!(store.api_token(&"cd".repeat(32)).await.unwrap().is_none());
    let dup = ApiToken {
        token_sha256: "ef".repeat(32),
        ..t.clone()
    };
    assert!(
        store.put_api_token(&dup).await.is_err(),
        "token names are unique"
    );
    assert!(
        matches!(
            store.put_api_token(&dup).await,
            Err(crate::StoreError::Conflict { .. })
        ),
        "a name taken is a conflict, not a failure of the store"
    );
    // Revocation: once, kept in the list, seen by the next lookup.
    let at = "2026-11-27T09:00:00+09:00";
    assert!(store.revoke_api_token("siem", at).await.unwrap());
    assert!(!store.revoke_api_token("siem", at).await.unwrap());
    assert!(!store.revoke_api_token("nobody", at).await.unwrap());
    let got = store.api_token(&"ab".repeat(32)).await.unwrap().unwrap();
    assert_eq!(got.revoked_at.as_deref(), Some(at));
    let all = store.api_tokens().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].name, "siem");
}

/// An engine checkpoint is replaced as a whole by name, its bytes kept
/// exactly (every byte value, a megabyte of them).
pub async fn engine_checkpoints_replace_by_name(store: &dyn Store) {
    use crate::EngineCheckpoint;
    assert!(store.engine_checkpoint("live").await.unwrap().is_none());
    let mut c = EngineCheckpoint {
        name: "live".into(),
        meta: r#"{"read_seq":10}"#.into(),
        state: (0..1_048_576u32).map(|i| (i % 251) as u8).collect(),
        saved_at: "2026-12-01T10:00:00+09:00".into(),
    };
    store.put_engine_checkpoint(&c).await.unwrap();
    assert_eq!(
        store.engine_checkpoint("live").await.unwrap().as_ref(),
        Some(&c)
    );
    c.meta = r#"{"read_seq":20}"#.into();
    c.state = vec![0, 255, 0];
    store.put_engine_checkpoint(&c).await.unwrap();
    assert_eq!(
        store.engine_checkpoint("live").await.unwrap().as_ref(),
        Some(&c)
    );
    assert!(store.engine_checkpoint("other").await.unwrap().is_none());
}

#[macro_export]
macro_rules! conformance_tests {
    ($make:path, $done:path) => {
        $crate::conformance_tests!(@cases $make, $done,
            people_round_trip_and_replace,
            documents_with_history,
            events_are_idempotent_by_id,
            unknown_actions_and_extension_fields_lose_nothing,
            large_batches_are_complete,
            hr_contacts_and_rejects_are_idempotent,
            empty_store_counts_zero,
            the_ledger_covers_every_record_and_verifies,
            verification_reads_ahead_over_many_runs,
            verification_of_a_live_store_is_consistent,
            alerts_and_event_lines,
            contents_in_custody,
            custody_records_are_ledgered_and_filtered,
            accounts_and_tokens,
            engine_checkpoints_replace_by_name
        );
    };
    (@cases $make:path, $done:path, $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some(store) = $make(stringify!($case)).await else { return };
                $crate::conformance::$case(store.as_ref()).await;
                drop(store);
                $done(stringify!($case)).await;
            }
        )*
    };
}
