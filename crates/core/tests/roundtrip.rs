//! Property tests of the interchange format: whatever an event holds, the
//! canonical encoding parses back to the same event, the stored split form
//! rebuilds it, and the fast and general encoders agree byte for byte.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use chrono::{DateTime, FixedOffset, TimeZone};
use proptest::prelude::*;

use custodian_core::interchange::{
    event_from_parts, event_rest, event_rest_json, event_to_json, parse_event,
};
use custodian_core::{Action, Event};

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_.-]{1,12}",
        "\\PC{1,16}".prop_filter("non-blank", |s| !s.trim().is_empty()),
        Just("東館 \"quoted\" \\ back\tslash".to_string()),
    ]
}

fn ts() -> impl Strategy<Value = DateTime<FixedOffset>> {
    (0i64..4_000_000_000, 0u32..1_000_000, -12i32..14).prop_map(|(s, us, h)| {
        FixedOffset::east_opt(h * 3600)
            .unwrap()
            .timestamp_opt(s, us * 1000)
            .unwrap()
    })
}

fn action() -> impl Strategy<Value = Action> {
    // Counts within the plausibility bounds (COUNT_LIMITS); sizes larger.
    let n = 0u64..10_000;
    let big = 0u64..10_000_000_000;
    prop_oneof![
        Just(Action::Logon),
        Just(Action::Logoff),
        text().prop_map(|query| Action::DocSearch { query }),
        (text(), proptest::option::of(big.clone()))
            .prop_map(|(doc, bytes)| Action::DocView { doc, bytes }),
        (text(), proptest::option::of(big.clone()))
            .prop_map(|(doc, bytes)| Action::DocDownload { doc, bytes }),
        (text(), n.clone()).prop_map(|(doc, pages)| Action::DocPrint { doc, pages }),
        text().prop_map(|doc| Action::DocDenied { doc }),
        (big.clone(), n.clone(), proptest::option::of(text()))
            .prop_map(|(bytes, files, doc)| Action::UsbWrite { bytes, files, doc }),
        (
            text(),
            any::<bool>(),
            big.clone(),
            n.clone(),
            proptest::option::of(text()),
            proptest::option::of(text()),
            proptest::option::of(n.clone()),
        )
            .prop_map(
                |(to_domain, external, bytes, attachments, doc, from_domain, recipients)| {
                    Action::EmailSend {
                        to_domain,
                        external,
                        bytes,
                        attachments,
                        doc,
                        from_domain,
                        recipients,
                    }
                }
            ),
        (text(), big.clone(), proptest::option::of(text()))
            .prop_map(|(domain, bytes, doc)| Action::WebUpload { domain, bytes, doc }),
        (text(), proptest::option::of(text()))
            .prop_map(|(domain, url)| Action::WebVisit { domain, url }),
        (n, proptest::option::of(text())).prop_map(|(pages, doc)| Action::PrintJob { pages, doc }),
        text().prop_map(|doc| Action::Briefing { doc }),
        "x\\.[a-z]{1,8}".prop_map(|name| Action::Other { name }),
    ]
}

fn event() -> impl Strategy<Value = Event> {
    (
        text(),
        ts(),
        text(),
        proptest::option::of(text()),
        action(),
        proptest::collection::btree_map("zz_[a-z]{1,6}", text(), 0..3),
    )
        .prop_map(|(id, ts, user, host, action, extra)| Event {
            id,
            ts,
            user,
            host,
            action,
            extra: extra.into_iter().map(|(k, v)| (k, v.into())).collect(),
        })
}

proptest! {
    #[test]
    fn canonical_encoding_round_trips(e in event()) {
        let line = event_to_json(&e);
        let back = parse_event(line.as_bytes()).unwrap();
        prop_assert_eq!(&back, &e);
        prop_assert_eq!(event_to_json(&back), line.clone(), "canonical: encoding is a fixed point");
        prop_assert_eq!(custodian_core::interchange::event_to_value(&e).to_string(), line, "fast and general canonical encoders agree");
    }

    #[test]
    fn stored_split_form_rebuilds_the_event(e in event()) {
        let rest = event_rest_json(&e);
        prop_assert_eq!(&rest, &serde_json::Value::Object(event_rest(&e)).to_string(), "fast and general encoders agree");
        let back = event_from_parts(&e.id, &e.ts.to_rfc3339(), &e.user, e.action.name(), &rest).unwrap();
        prop_assert_eq!(back, e);
    }

    #[test]
    fn any_bytes_give_an_event_or_an_error_never_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_event(&bytes);
        let _ = custodian_core::interchange::parse_hr(&bytes);
        let _ = custodian_core::interchange::parse_contact(&bytes);
    }
}
