//! Alerts out: what is sent where, in which form, and the record that it
//! was.
//!
//! Rules:
//! - A destination takes the alerts at or above its severity (medium
//!   unless configured), oldest first; withdrawn alerts are not sent (one
//!   already sent stays sent: its withdrawal is in the console and ledger).
//! - Every payload names the person by their pseudonym, never their id,
//!   name or e-mail: the alert's own texts are masked by the same rule as
//!   the analysts' responses (the caller's `mask`). It carries the alert's
//!   id, its place in the ledger (sequence, leaf index and leaf hash), so
//!   a recipient can check it against a signed checkpoint, and the
//!   console's address of the alert.
//! - Forms: `json` (Custodian's own, for webhooks), `ocsf` (OCSF 1.x
//!   Detection Finding, class 2004, type 200401), `cef` (ArcSight CEF with
//!   the mapping of `reference/sources-and-formats.md` §2.2), and plain
//!   text for e-mail ([`mail_text`]).
//! - A delivery is a ledgered custody record (`alert_delivery`: the
//!   destination, the alert, `delivered` or `undeliverable`, attempts), so
//!   what was sent survives a restart and is never sent again. The sender
//!   retries with backoff and gives up after `MAX_ATTEMPTS` (the alert is
//!   then recorded `undeliverable`, counted, and not tried again).
//! - What can repeat is the one moment between a sent request and its
//!   record (a crash there): every payload carries the alert's id, and
//!   webhooks also the `X-Custodian-Delivery` header, by which a
//!   recipient drops the repeat.

use std::collections::BTreeSet;

use chrono::{DateTime, FixedOffset, SecondsFormat};
use serde_json::{json, Value};

use custodian_ledger::entry::kinds;
use custodian_store::{leaf_of, LedgerContext, Store, StoredAlert};

use crate::error::{AppError, Result};
use crate::records::Record;

/// Attempts before an alert is recorded undeliverable to a destination.
pub const MAX_ATTEMPTS: u32 = 8;

/// A payload's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Json,
    Ocsf,
    Cef,
}

impl Form {
    pub fn parse(s: &str) -> Option<Form> {
        match s {
            "json" => Some(Form::Json),
            "ocsf" => Some(Form::Ocsf),
            "cef" => Some(Form::Cef),
            _ => None,
        }
    }
}

/// Where an alert is in the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub seq: i64,
    pub leaf_index: Option<u64>,
    pub leaf_hash: String,
}

/// The ledger place of a stored alert.
pub async fn place(store: &dyn Store, alert: &str) -> Result<Option<Place>> {
    let Some(seq) = store.record_seq(kinds::ALERT, alert).await? else {
        return Ok(None);
    };
    let Some(r) = store
        .ledger_records(kinds::ALERT, seq, 1)
        .await?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let canonical = r
        .canonical
        .map_err(|e| AppError::Failed(format!("alert {alert} cannot be read back: {e}")))?;
    let hash = custodian_ledger::entry::entry_hash(kinds::ALERT, alert, &canonical);
    let runs = store.ledger_runs().await?;
    Ok(Some(Place {
        seq,
        leaf_index: leaf_of(&runs, kinds::ALERT, seq),
        leaf_hash: hex::encode(hash),
    }))
}

/// An alert as a destination receives it.
pub struct Notice<'a> {
    pub alert: &'a StoredAlert,
    pub pseudonym: String,
    pub place: Option<Place>,
    /// The console's address of the alert (absolute when the base is known).
    pub link: String,
}

fn severity_rank(s: &str) -> u8 {
    match s {
        "high" => 3,
        "medium" => 2,
        "low" => 1,
        _ => 0,
    }
}

/// Whether `alert` is at or above `min`.
pub fn at_least(alert: &StoredAlert, min: &str) -> bool {
    severity_rank(&alert.severity) >= severity_rank(min)
}

fn body_of(a: &StoredAlert) -> Value {
    serde_json::from_str(&a.body).unwrap_or(Value::Null)
}

/// The masked summary and indicators.
fn content(a: &StoredAlert, mask: &dyn Fn(&str) -> String) -> (String, Vec<Value>) {
    let body = body_of(a);
    let summary = mask(body["summary"].as_str().unwrap_or(""));
    let indicators = body["indicators"]
        .as_array()
        .map(|v| {
            v.iter()
                .map(|i| {
                    json!({
                        "name": i["name"],
                        "weight": i["weight"],
                        "detail": mask(i["detail"].as_str().unwrap_or("")),
                        "evidence": i["evidence"],
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    (summary, indicators)
}

fn ledger_json(p: &Option<Place>) -> Value {
    match p {
        Some(p) => {
            json!({"kind": kinds::ALERT, "seq": p.seq, "leaf_index": p.leaf_index, "leaf_hash": p.leaf_hash})
        }
        None => Value::Null,
    }
}

fn time(t: DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Custodian's own JSON.
pub fn json_payload(n: &Notice<'_>, mask: &dyn Fn(&str) -> String) -> Value {
    let a = n.alert;
    let (summary, indicators) = content(a, mask);
    json!({
        "type": "custodian.alert",
        "id": a.id,
        "person": n.pseudonym,
        "raised_at": time(a.raised_at),
        "severity": a.severity,
        "score": a.score,
        "summary": summary,
        "indicators": indicators,
        "ledger": ledger_json(&n.place),
        "link": n.link,
    })
}

/// OCSF Detection Finding (class 2004), activity Create.
pub fn ocsf_payload(n: &Notice<'_>, mask: &dyn Fn(&str) -> String) -> Value {
    let a = n.alert;
    let (summary, indicators) = content(a, mask);
    let severity_id = match a.severity.as_str() {
        "high" => 4,
        "medium" => 3,
        _ => 2,
    };
    let names: Vec<Value> = indicators.iter().map(|i| i["name"].clone()).collect();
    let ms = a.raised_at.timestamp_millis();
    json!({
        "activity_id": 1,
        "activity_name": "Create",
        "category_uid": 2,
        "category_name": "Findings",
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "type_uid": 200401,
        "severity_id": severity_id,
        "severity": a.severity,
        "time": ms,
        "timezone_offset": a.raised_at.offset().local_minus_utc() / 60,
        "is_alert": true,
        "status_id": 1,
        "risk_score": a.score.round() as i64,
        "message": summary,
        "metadata": {
            "version": "1.8.0",
            "uid": a.id,
            "product": {"name": "Custodian", "vendor_name": "Custodian"},
            "log_name": "custodian.alerts",
        },
        "finding_info": {
            "uid": a.id,
            "title": format!("Insider-risk alert on {}", n.pseudonym),
            "desc": summary,
            "created_time": ms,
            "types": names,
            "analytic": {"name": "custodian-detect", "type_id": 2, "type": "Behavioral"},
            "src_url": n.link,
        },
        "evidences": [{"user": {"uid": n.pseudonym, "name": n.pseudonym}}],
        "unmapped": {"indicators": indicators, "ledger": ledger_json(&n.place)},
    })
}

/// CEF's escaping: `|` and `\` in the header, `=` and `\` in extension
/// values; newlines never.
fn cef_header(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\r', '\n'], " ")
}

fn cef_value(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('=', "\\=")
        .replace('\r', "\\r")
        .replace('\n', "\\n")
}

/// One CEF line.
pub fn cef_payload(n: &Notice<'_>, mask: &dyn Fn(&str) -> String) -> String {
    let a = n.alert;
    let (summary, indicators) = content(a, mask);
    let severity = match a.severity.as_str() {
        "high" => 9,
        "medium" => 6,
        _ => 3,
    };
    let top = indicators
        .first()
        .and_then(|i| i["name"].as_str())
        .unwrap_or("alert");
    let names: Vec<&str> = indicators
        .iter()
        .filter_map(|i| i["name"].as_str())
        .collect();
    let mut ext = vec![
        ("rt", a.raised_at.timestamp_millis().to_string()),
        ("suser", n.pseudonym.clone()),
        ("externalId", a.id.clone()),
        ("cn1", format!("{:.0}", a.score)),
        ("cn1Label", "riskScore".into()),
        ("cs1", names.join(",")),
        ("cs1Label", "indicators".into()),
        ("msg", summary),
        ("request", n.link.clone()),
    ];
    if let Some(p) = &n.place {
        ext.push(("cs3", p.leaf_hash.clone()));
        ext.push(("cs3Label", "ledgerLeafHash".into()));
        if let Some(i) = p.leaf_index {
            ext.push(("cn2", i.to_string()));
            ext.push(("cn2Label", "ledgerLeafIndex".into()));
        }
    }
    let ext: Vec<String> = ext
        .into_iter()
        .map(|(k, v)| format!("{k}={}", cef_value(&v)))
        .collect();
    format!(
        "CEF:0|Custodian|Custodian|{}|{}|{}|{severity}|{}",
        cef_header(env!("CARGO_PKG_VERSION")),
        cef_header(top),
        cef_header(&format!("Insider-risk alert ({})", a.severity)),
        ext.join(" ")
    )
}

/// An e-mail's subject and plain-text body.
pub fn mail_text(n: &Notice<'_>, mask: &dyn Fn(&str) -> String) -> (String, String) {
    let a = n.alert;
    let (summary, indicators) = content(a, mask);
    let subject = format!(
        "[Custodian] {} alert on {} (score {:.0})",
        a.severity, n.pseudonym, a.score
    );
    let mut body = format!(
        "{summary}\n\nPerson: {}\nRaised: {}\nSeverity: {} (score {:.1})\nAlert: {}\n{}\n\nIndicators:\n",
        n.pseudonym,
        time(a.raised_at),
        a.severity,
        a.score,
        a.id,
        n.link
    );
    for i in &indicators {
        body.push_str(&format!(
            "- {} ({:.1}): {}\n",
            i["name"].as_str().unwrap_or(""),
            i["weight"].as_f64().unwrap_or(0.0),
            i["detail"].as_str().unwrap_or("")
        ));
    }
    if let Some(p) = &n.place {
        body.push_str(&format!(
            "\nLedger: alert record {} at leaf {}, leaf hash {}\n",
            p.seq,
            p.leaf_index.map_or("?".into(), |i| i.to_string()),
            p.leaf_hash
        ));
    }
    body.push_str("\nNames are pseudonymised; the console reveals one on the record.\n");
    (mask(&subject), body)
}

/// The payload of `n` in `form`, as bytes.
pub fn payload(form: Form, n: &Notice<'_>, mask: &dyn Fn(&str) -> String) -> Vec<u8> {
    match form {
        Form::Json => json_payload(n, mask).to_string().into_bytes(),
        Form::Ocsf => ocsf_payload(n, mask).to_string().into_bytes(),
        Form::Cef => cef_payload(n, mask).into_bytes(),
    }
}

/// Alert ids settled for `destination` (delivered, or given up on).
pub async fn settled(store: &dyn Store, destination: &str) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for r in store.custody_records("alert_delivery", None, None).await? {
        if let Record::AlertDelivery {
            alert,
            destination: d,
            ..
        } = Record::of(&r)?
        {
            if d == destination {
                out.insert(alert);
            }
        }
    }
    Ok(out)
}

/// The alerts `destination` still has to receive, oldest first.
pub async fn pending(store: &dyn Store, destination: &str, min: &str) -> Result<Vec<StoredAlert>> {
    let done = settled(store, destination).await?;
    let statuses = crate::triage::statuses(store).await?;
    let mut v: Vec<StoredAlert> = store
        .alerts(u32::MAX)
        .await?
        .into_iter()
        .filter(|a| at_least(a, min) && !done.contains(&a.id))
        .filter(|a| {
            statuses
                .get(&a.id)
                .is_none_or(|s| s.status != crate::triage::WITHDRAWN)
        })
        .collect();
    v.sort_by_key(|a| a.seq);
    Ok(v)
}

/// Records that `alert` went to `destination` (or, `delivered` false, was
/// given up on after `attempts`).
pub async fn record(
    store: &dyn Store,
    ledger: &LedgerContext,
    at: DateTime<FixedOffset>,
    alert: &StoredAlert,
    destination: &str,
    delivered: bool,
    attempts: u32,
) -> Result<()> {
    Record::AlertDelivery {
        alert: alert.id.clone(),
        destination: destination.into(),
        outcome: if delivered {
            "delivered"
        } else {
            "undeliverable"
        }
        .into(),
        attempts,
        at: at.to_rfc3339(),
    }
    .keep(store, ledger, None, &alert.user, at)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> StoredAlert {
        StoredAlert {
            seq: 4,
            id: "A-1".into(),
            user: "E10001".into(),
            raised_at: DateTime::parse_from_rfc3339("2026-11-20T21:00:00+09:00").unwrap(),
            severity: "high".into(),
            score: 41.6,
            body: json!({
                "summary": "E10001 printed 40 pages | of LX-300 = secret",
                "indicators": [{"name": "exfiltration_channel", "weight": 20.0,
                    "detail": "E10001 printed\nmore", "evidence": ["ev-1"]}],
            })
            .to_string(),
        }
    }

    fn notice(a: &StoredAlert) -> Notice<'_> {
        Notice {
            alert: a,
            pseudonym: "P-abc".into(),
            place: Some(Place {
                seq: 4,
                leaf_index: Some(99),
                leaf_hash: "ff".repeat(32),
            }),
            link: "https://custodian.example/ui/alerts/A-1".into(),
        }
    }

    fn mask(s: &str) -> String {
        s.replace("E10001", "P-abc")
    }

    #[test]
    fn every_form_names_the_pseudonym_and_the_ledger_leaf() {
        let a = alert();
        let n = notice(&a);
        for form in [Form::Json, Form::Ocsf, Form::Cef] {
            let p = String::from_utf8(payload(form, &n, &mask)).unwrap();
            assert!(!p.contains("E10001"), "{form:?}: {p}");
            assert!(
                p.contains("P-abc") && p.contains(&"ff".repeat(32)),
                "{form:?}: {p}"
            );
            assert!(p.contains("A-1"), "{form:?}: {p}");
        }
    }

    #[test]
    fn ocsf_is_a_detection_finding() {
        let a = alert();
        let v = ocsf_payload(&notice(&a), &mask);
        assert_eq!(
            (v["class_uid"].as_i64(), v["type_uid"].as_i64()),
            (Some(2004), Some(200401))
        );
        assert_eq!(
            (v["category_uid"].as_i64(), v["severity_id"].as_i64()),
            (Some(2), Some(4))
        );
        assert_eq!(v["finding_info"]["uid"], "A-1");
        assert_eq!(v["time"].as_i64(), Some(a.raised_at.timestamp_millis()));
        assert!(v["metadata"]["product"]["name"].is_string());
    }

    #[test]
    fn cef_escapes_its_separators_and_keeps_one_line() {
        let a = alert();
        let line = cef_payload(&notice(&a), &mask);
        assert!(line.starts_with("CEF:0|Custodian|Custodian|"), "{line}");
        assert!(!line.contains('\n'), "{line}");
        assert!(
            line.contains("|exfiltration_channel|Insider-risk alert (high)|9|"),
            "{line}"
        );
        assert!(
            line.contains("msg=P-abc printed 40 pages | of LX-300 \\= secret"),
            "{line}"
        );
        assert!(
            line.contains("suser=P-abc") && line.contains("externalId=A-1"),
            "{line}"
        );
        assert!(line.contains("cs3Label=ledgerLeafHash"), "{line}");
        // The header has seven bars before the extensions.
        let header = line.split("rt=").next().unwrap();
        assert_eq!(header.matches('|').count(), 7, "{header}");
    }

    #[test]
    fn mail_says_the_pseudonym_the_link_and_the_leaf() {
        let a = alert();
        let (subject, body) = mail_text(&notice(&a), &mask);
        assert_eq!(subject, "[Custodian] high alert on P-abc (score 42)");
        assert!(!body.contains("E10001"), "{body}");
        assert!(
            body.contains("https://custodian.example/ui/alerts/A-1"),
            "{body}"
        );
        assert!(
            body.contains(&"ff".repeat(32)) && body.contains("exfiltration_channel (20.0)"),
            "{body}"
        );
    }

    #[test]
    fn severity_filter() {
        let mut a = alert();
        assert!(at_least(&a, "medium") && at_least(&a, "high"));
        a.severity = "low".into();
        assert!(!at_least(&a, "medium") && at_least(&a, "low"));
    }
}
