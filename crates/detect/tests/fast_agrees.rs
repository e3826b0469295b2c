//! The fast line scanner accepts only what the ordinary parser accepts, and
//! reads it the same way.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use custodian_core::interchange::parse_event;
use custodian_core::{Document, Level, Person, Projects};
use custodian_detect::fast::{parse_line, Fallback};
use custodian_detect::{Config, Context, Engine};
use proptest::prelude::*;

fn engine() -> Engine {
    let person = |id: &str| Person {
        user_id: id.into(),
        name: id.into(),
        email: format!("{id}@x.example"),
        org_unit: "R&D".into(),
        site: "Tokyo".into(),
        role: "engineer".into(),
        manager_id: None,
        clearance: Level::Secret,
        projects: Default::default(),
        hire_date: chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
        leave_date: None,
    };
    let doc = |id: &str| Document {
        doc_id: id.into(),
        title: id.into(),
        classification: Level::Internal,
        owner_id: "E1".into(),
        projects: Projects::Everyone,
        kind: "manual".into(),
        created: chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
        medium: custodian_core::Medium::File,
    };
    Engine::new(
        &Context {
            people: vec![person("E1"), person("E2")],
            documents: vec![doc("D1"), doc("D2")],
            ..Default::default()
        },
        Config::default(),
    )
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\"E1\"".to_string()),
        Just("\"D1\"".to_string()),
        Just("\"\"".to_string()),
        Just("\"  \"".to_string()),
        Just("\"a\\\"b\"".to_string()),
        Just("\"caf\\u00e9\"".to_string()),
        Just("\"2025-04-01T09:00:00+09:00\"".to_string()),
        Just("\"2025-04-01T09:00:00.1234567Z\"".to_string()),
        Just("\"2025-04-01 09:00:00Z\"".to_string()),
        Just("\"2025-02-30T09:00:00Z\"".to_string()),
        Just("\"doc.print\"".to_string()),
        Just("\"email.send\"".to_string()),
        Just("\"usb.write\"".to_string()),
        Just("\"web.visit\"".to_string()),
        Just("\"logon\"".to_string()),
        Just("\"new.action\"".to_string()),
        Just("0".to_string()),
        Just("7".to_string()),
        Just("012".to_string()),
        Just("-3".to_string()),
        Just("2.5".to_string()),
        Just("1e3".to_string()),
        Just("18446744073709551616".to_string()),
        Just("true".to_string()),
        Just("false".to_string()),
        Just("null".to_string()),
        Just("[1,2]".to_string()),
        Just("{\"a\":1}".to_string()),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("id"),
        Just("ts"),
        Just("user"),
        Just("action"),
        Just("host"),
        Just("query"),
        Just("doc"),
        Just("bytes"),
        Just("pages"),
        Just("files"),
        Just("to_domain"),
        Just("external"),
        Just("attachments"),
        Just("domain"),
        Just("url"),
        Just("from_domain"),
        Just("recipients"),
        Just("x_ext"),
    ]
    .prop_map(str::to_string)
}

fn line() -> impl Strategy<Value = String> {
    let base = (
        prop_oneof![Just("\"ev-1\""), Just("\"ev-2\""), Just("\"\"")],
        prop_oneof![
            Just("\"2025-04-01T09:00:00+09:00\""),
            Just("\"2025-04-01T09:00:00.5-05:00\""),
            Just("\"bad\"")
        ],
        prop_oneof![Just("\"E1\""), Just("\"E2\""), Just("\"E9\"")],
        prop_oneof![
            Just("\"doc.print\""),
            Just("\"doc.view\""),
            Just("\"email.send\""),
            Just("\"usb.write\""),
            Just("\"web.upload\""),
            Just("\"web.visit\""),
            Just("\"doc.search\""),
            Just("\"logon\""),
            Just("\"device.connect\""),
            Just("\"print.job\""),
            Just("\"doc.denied\""),
            Just("\"briefing\"")
        ],
    );
    (
        base,
        prop::collection::vec((key(), value()), 0..7),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|((id, ts, user, action), extra, spaces, drop_first)| {
            let mut fields = vec![
                ("id".to_string(), id.to_string()),
                ("ts".to_string(), ts.to_string()),
                ("user".to_string(), user.to_string()),
                ("action".to_string(), action.to_string()),
            ];
            if drop_first {
                fields.remove(0);
            }
            fields.extend(extra);
            let sep = if spaces { " , " } else { "," };
            let colon = if spaces { " : " } else { ":" };
            let body: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("\"{k}\"{colon}{v}"))
                .collect();
            format!("{{{}}}", body.join(sep))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]
    #[test]
    fn fast_path_never_accepts_what_the_ordinary_parser_refuses(l in line()) {
        let e = engine();
        let names = e.names();
        let ordinary = parse_event(l.as_bytes());
        match parse_line(&l, &l, &names) {
            Ok(p) => {
                let ev = ordinary.unwrap_or_else(|err| panic!("fast accepted what the parser refuses ({err}): {l}"));
                let a = names.compact(&ev);
                let b = p.ev(&l);
                prop_assert_eq!((a.id, a.ts_us, a.offset_s, a.user, a.kind, a.doc), (b.id, b.ts_us, b.offset_s, b.user, b.kind, b.doc));
                prop_assert_eq!((a.bytes, a.pages, a.files, a.attachments, a.external, a.domain), (b.bytes, b.pages, b.files, b.attachments, b.external, b.domain));
                prop_assert_eq!((a.host, a.url, a.from_domain, a.recipients), (b.host, b.url, b.from_domain, b.recipients));
            }
            Err(Fallback::UnknownUser) => {
                let ev = ordinary.unwrap();
                prop_assert_eq!(names.user(&ev.user), custodian_detect::NONE);
            }
            Err(Fallback::Ordinary) => {}
        }
    }
}

#[test]
fn the_common_lines_take_the_fast_path() {
    let e = engine();
    let names = e.names();
    for l in [
        r#"{"id":"a","ts":"2025-04-01T09:00:00+09:00","user":"E1","action":"doc.print","doc":"D1","pages":3,"host":"pc-1"}"#,
        r#"{"action":"email.send","attachments":1,"bytes":20000,"external":true,"id":"b","to_domain":"gmail.com","ts":"2025-04-01T09:00:00Z","user":"E2"}"#,
        r#" { "id" : "c" , "ts" : "2025-04-01T09:00:00.25+09:00", "user" : "E1", "action" : "logon", "x_vendor": {"nested": true} } "#,
    ] {
        let r = parse_line(l, l, &names);
        if l.contains("nested") {
            assert_eq!(
                r.unwrap_err(),
                Fallback::Ordinary,
                "nested values go the ordinary way"
            );
        } else {
            r.unwrap();
        }
    }
}
