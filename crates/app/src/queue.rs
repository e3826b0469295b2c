//! The analysts' queue: alerts grouped by person, sorted and paged.
//!
//! Rules:
//! - One row per person: their latest alert (what to act on), its score
//!   and severity, their highest score, how many alerts they have and how
//!   many nobody acknowledged, and the trend of the latest score against
//!   the one before it.
//! - Filters apply to alerts before grouping (a person appears when one of
//!   their alerts passes): severity, not yet acknowledged, triage status
//!   (`new` for none), an indicator by name, the person's unit, raised on
//!   or after a date.
//! - Withdrawn alerts (continuous detection took a late event and no
//!   longer raises them) are left out unless that status is asked for.
//! - Alerts a suppression covers ([`crate::triage::Suppressions`]) are held
//!   out unless asked for, and counted.
//! - Sorted by the latest score (default), the highest score, the number of
//!   alerts or the latest date, each highest first, ties by person id; then
//!   paged. The page says how many people and alerts passed in all.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use custodian_store::StoredAlert;

/// How the latest alert compares with the person's one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trend {
    /// Their only alert.
    New,
    Rising,
    Falling,
    Steady,
}

/// One person's row.
#[derive(Debug, Clone)]
pub struct Row {
    pub user: String,
    pub latest: StoredAlert,
    pub top_score: f64,
    pub alerts: usize,
    pub unacknowledged: usize,
    pub trend: Trend,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    #[default]
    Latest,
    Top,
    Count,
    Recent,
}

impl Sort {
    pub fn parse(s: &str) -> Option<Sort> {
        Some(match s {
            "latest" => Sort::Latest,
            "top" => Sort::Top,
            "count" => Sort::Count,
            "recent" => Sort::Recent,
            _ => return None,
        })
    }
}

/// What the queue shows.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub severity: Option<String>,
    pub unacknowledged: bool,
    /// A triage status ([`crate::triage::STATUSES`]).
    pub status: Option<String>,
    /// An indicator's name (`need_to_know_violation`, …).
    pub indicator: Option<String>,
    /// An organisational unit: alerts on its members.
    pub unit: Option<String>,
    pub since: Option<NaiveDate>,
    /// Show the alerts suppressions hold out too.
    pub suppressed: bool,
    pub sort: Sort,
    /// From 1.
    pub page: usize,
    pub per_page: usize,
}

/// One page of the queue.
#[derive(Debug, Clone)]
pub struct QueuePage {
    pub rows: Vec<Row>,
    /// People and alerts that passed the filters, on every page.
    pub people: usize,
    pub alerts: usize,
    pub page: usize,
    pub pages: usize,
    /// Alerts held out by suppressions (that passed the other filters).
    pub held_out: usize,
}

/// What triage knows of the alerts.
#[derive(Debug, Clone, Default)]
pub struct Triage {
    /// Alert ids someone acknowledged.
    pub acknowledged: BTreeSet<String>,
    /// Each alert's latest triage status.
    pub statuses: BTreeMap<String, crate::triage::Status>,
    pub suppressions: crate::triage::Suppressions,
    /// Each person's unit (for the unit filter).
    pub units: BTreeMap<String, String>,
}

/// Groups `alerts` (any order) by person, filtered, sorted and paged.
pub fn page(alerts: &[StoredAlert], triage: &Triage, q: &Query) -> QueuePage {
    let (acknowledged, statuses) = (&triage.acknowledged, &triage.statuses);
    let status_of = |a: &StoredAlert| statuses.get(&a.id).map_or("new", |s| s.status.as_str());
    let admits = |a: &StoredAlert| {
        q.severity.as_ref().is_none_or(|s| *s == a.severity)
            && q.status.as_ref().is_none_or(|s| s == status_of(a))
            // Withdrawn alerts only when asked for by that status.
            && (status_of(a) != crate::triage::WITHDRAWN || q.status.is_some())
            && !(q.unacknowledged && acknowledged.contains(&a.id))
            && q.since.is_none_or(|d| a.raised_at.date_naive() >= d)
            && q.unit
                .as_ref()
                .is_none_or(|u| triage.units.get(&a.user) == Some(u))
            && q.indicator
                .as_ref()
                .is_none_or(|i| crate::triage::indicator_names(a).contains(i))
    };
    let mut by_user: BTreeMap<&str, Vec<&StoredAlert>> = BTreeMap::new();
    let (mut passed, mut held_out) = (0, 0);
    for a in alerts.iter().filter(|a| admits(a)) {
        if !q.suppressed && triage.suppressions.covers(a) {
            held_out += 1;
            continue;
        }
        passed += 1;
        by_user.entry(&a.user).or_default().push(a);
    }
    let mut rows: Vec<Row> = by_user
        .into_iter()
        .map(|(user, mut list)| {
            list.sort_by_key(|a| (a.raised_at, a.seq));
            let latest = list[list.len() - 1];
            let trend = match list.len().checked_sub(2).map(|i| list[i].score) {
                None => Trend::New,
                Some(p) if latest.score > p + 0.5 => Trend::Rising,
                Some(p) if latest.score < p - 0.5 => Trend::Falling,
                Some(_) => Trend::Steady,
            };
            Row {
                user: user.to_string(),
                latest: latest.clone(),
                top_score: list.iter().map(|a| a.score).fold(f64::MIN, f64::max),
                alerts: list.len(),
                unacknowledged: list
                    .iter()
                    .filter(|a| !acknowledged.contains(&a.id))
                    .count(),
                trend,
            }
        })
        .collect();
    // Highest first, ties by person id.
    rows.sort_by(|a, b| {
        match q.sort {
            Sort::Latest => b.latest.score.total_cmp(&a.latest.score),
            Sort::Top => b.top_score.total_cmp(&a.top_score),
            Sort::Count => b.alerts.cmp(&a.alerts),
            Sort::Recent => b.latest.raised_at.cmp(&a.latest.raised_at),
        }
        .then_with(|| a.user.cmp(&b.user))
    });
    let per = q.per_page.max(1);
    let people = rows.len();
    let pages = people.div_ceil(per).max(1);
    let page = q.page.clamp(1, pages);
    let rows = rows.into_iter().skip((page - 1) * per).take(per).collect();
    QueuePage {
        rows,
        people,
        alerts: passed,
        page,
        pages,
        held_out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(id: &str, user: &str, day: u32, score: f64, severity: &str, ind: &str) -> StoredAlert {
        StoredAlert {
            seq: i64::from(day),
            id: id.into(),
            user: user.into(),
            raised_at: chrono::DateTime::parse_from_rfc3339(&format!(
                "2026-11-{day:02}T10:00:00+09:00"
            ))
            .unwrap(),
            severity: severity.into(),
            score,
            body: serde_json::json!({"indicators": [{"name": ind}]}).to_string(),
        }
    }

    fn with_acks(acked: &BTreeSet<String>) -> Triage {
        Triage {
            acknowledged: acked.clone(),
            ..Triage::default()
        }
    }

    fn sample() -> Vec<StoredAlert> {
        vec![
            alert("A1", "E1", 1, 30.0, "medium", "need_to_know_violation"),
            alert("A2", "E1", 5, 40.0, "high", "escalation_outside_scope"),
            alert("A3", "E2", 2, 50.0, "high", "exfiltration_channel"),
            alert("A4", "E2", 6, 20.0, "medium", "exfiltration_channel"),
            alert("A5", "E3", 3, 25.0, "medium", "need_to_know_violation"),
        ]
    }

    #[test]
    fn one_row_a_person_with_the_latest_the_top_and_the_trend() {
        let acked = BTreeSet::from(["A1".to_string()]);
        let q = Query {
            per_page: 10,
            ..Query::default()
        };
        let p = page(&sample(), &with_acks(&acked), &q);
        assert_eq!((p.people, p.alerts, p.pages), (3, 5, 1));
        let users: Vec<&str> = p.rows.iter().map(|r| r.user.as_str()).collect();
        // By the latest score: E1 40, E3 25, E2 20.
        assert_eq!(users, ["E1", "E3", "E2"]);
        let e1 = &p.rows[0];
        assert_eq!(
            (e1.latest.id.as_str(), e1.alerts, e1.unacknowledged),
            ("A2", 2, 1)
        );
        assert_eq!(e1.trend, Trend::Rising);
        assert_eq!(p.rows[2].trend, Trend::Falling);
        assert_eq!(p.rows[2].top_score, 50.0);
        assert_eq!(p.rows[1].trend, Trend::New);
        let top = page(
            &sample(),
            &with_acks(&acked),
            &Query {
                sort: Sort::Top,
                ..q.clone()
            },
        );
        assert_eq!(top.rows[0].user, "E2");
    }

    #[test]
    fn the_unit_filter_keeps_its_members_alerts() {
        let mut triage = Triage::default();
        triage.units.insert("E1".into(), "R&D".into());
        triage.units.insert("E2".into(), "Sales".into());
        let q = Query {
            per_page: 10,
            unit: Some("R&D".into()),
            ..Query::default()
        };
        let p = page(&sample(), &triage, &q);
        assert_eq!((p.people, p.alerts), (1, 2));
        assert_eq!(p.rows[0].user, "E1");
    }

    #[test]
    fn withdrawn_alerts_only_when_asked_for() {
        let mut triage = Triage::default();
        triage.statuses.insert(
            "A5".into(),
            crate::triage::Status {
                status: crate::triage::WITHDRAWN.into(),
                reason: Some("superseded".into()),
                by: "detection".into(),
                at: chrono::DateTime::parse_from_rfc3339("2026-11-04T10:00:00+09:00").unwrap(),
            },
        );
        let q = Query {
            per_page: 10,
            ..Query::default()
        };
        let p = page(&sample(), &triage, &q);
        assert_eq!((p.people, p.alerts), (2, 4));
        let asked = Query {
            status: Some(crate::triage::WITHDRAWN.into()),
            ..q
        };
        let p = page(&sample(), &triage, &asked);
        assert_eq!((p.people, p.alerts), (1, 1));
        assert_eq!(p.rows[0].latest.id, "A5");
    }

    #[test]
    fn filters_apply_to_alerts_and_pages_cover_everyone_once() {
        let q = Query {
            indicator: Some("need_to_know_violation".into()),
            per_page: 10,
            ..Query::default()
        };
        let p = page(&sample(), &Triage::default(), &q);
        assert_eq!((p.people, p.alerts), (2, 2));
        // E1's row is its latest alert that passed (A1), not A2.
        let e1 = p.rows.iter().find(|r| r.user == "E1").unwrap();
        assert_eq!(e1.latest.id, "A1");
        let acked = BTreeSet::from(["A3".to_string(), "A4".to_string()]);
        let q = Query {
            unacknowledged: true,
            per_page: 10,
            ..Query::default()
        };
        assert!(page(&sample(), &with_acks(&acked), &q)
            .rows
            .iter()
            .all(|r| r.user != "E2"));
        // The triage status: A2 escalated; `new` is every alert without one.
        let st = crate::triage::Status {
            status: "escalated".into(),
            reason: None,
            by: "ana".into(),
            at: sample()[1].raised_at,
        };
        let statuses = BTreeMap::from([("A2".to_string(), st)]);
        let q = Query {
            status: Some("escalated".into()),
            per_page: 10,
            ..Query::default()
        };
        let p = page(
            &sample(),
            &Triage {
                statuses: statuses.clone(),
                ..Triage::default()
            },
            &q,
        );
        assert_eq!((p.alerts, p.rows[0].latest.id.as_str()), (1, "A2"));
        let q = Query {
            status: Some("new".into()),
            per_page: 10,
            ..Query::default()
        };
        assert_eq!(
            page(
                &sample(),
                &Triage {
                    statuses: statuses.clone(),
                    ..Triage::default()
                },
                &q
            )
            .alerts,
            4
        );
        let since = NaiveDate::from_ymd_opt(2026, 11, 5);
        let q = Query {
            since,
            per_page: 10,
            ..Query::default()
        };
        assert_eq!(page(&sample(), &Triage::default(), &q).alerts, 2);
        // A suppression of E3's only indicator holds A5 out, counted; asked
        // for, it is shown.
        let mut triage = Triage::default();
        let (from, until) = (sample()[0].raised_at, sample()[3].raised_at);
        triage
            .suppressions
            .insert("E3", "need_to_know_violation", from, until);
        let q = Query {
            per_page: 10,
            ..Query::default()
        };
        let p = page(&sample(), &triage, &q);
        assert_eq!((p.people, p.alerts, p.held_out), (2, 4, 1));
        let q = Query {
            suppressed: true,
            ..q
        };
        assert_eq!(page(&sample(), &triage, &q).people, 3);
        // Paging: one a page, every person once, the last page clamped.
        let mut seen = Vec::new();
        for n in 1..=4 {
            let q = Query {
                page: n,
                per_page: 1,
                ..Query::default()
            };
            let p = page(&sample(), &Triage::default(), &q);
            assert_eq!((p.pages, p.page), (3, n.min(3)));
            if n <= 3 {
                seen.push(p.rows[0].user.clone());
            }
        }
        seen.sort();
        assert_eq!(seen, ["E1", "E2", "E3"]);
    }
}
