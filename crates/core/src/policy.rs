//! The access policy: a pure function of (person as of a time, document,
//! request context) to allow, deny with a reason, or needs-approval.
//!
//! Rules, in the order they are checked:
//! 1. the person must be employed at the time (hired, not past their leave
//!    date, not terminated);
//! 2. their clearance must be at least the document's level;
//! 3. for `confidential` and `secret`, they must share one of the document's
//!    projects as of the time (need to know follows `transfer` events), unless
//!    they own the entry;
//! 4. for `secret`, someone other than the owner needs the owner's recorded
//!    approval for this person and document;
//! 5. releasing `confidential` or `secret` contents (a copy) needs the
//!    person's acknowledgement of the secrecy policy on record before the
//!    request, the owner's too. The question "may this person open it"
//!    (who may, `custodian check`) does not ask for it: its context says
//!    so by giving no acknowledgements at all (`None`).
//!
//! An allow hands back a [`Grant`], a typed capability that only this module
//! can make: code that releases contents takes a `Grant`, not a boolean.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;

use crate::level::Level;
use crate::model::{Document, HrEvent, HrKind, Person};

/// A person as of a moment: their projects after replaying transfers, and
/// whether they were employed then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonAt<'a> {
    #[serde(skip)]
    pub person: &'a Person,
    pub at: DateTime<Utc>,
    pub projects: BTreeSet<String>,
    pub employment: Employment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Employment {
    Employed,
    NotYetHired,
    Left,
    Terminated,
}

impl<'a> PersonAt<'a> {
    /// Reconstructs `person` as of `at` from the directory (which shows the
    /// end of the dataset) and their HR events, in any order.
    ///
    /// Need to know: the directory's projects hold from the last transfer
    /// on; before a transfer at `ts`, the person's projects were its
    /// `from_projects`. So walking transfers from the newest backwards, every
    /// transfer later than `at` rolls the projects back.
    pub fn reconstruct(person: &'a Person, hr: &[HrEvent], at: DateTime<Utc>) -> PersonAt<'a> {
        let mut transfers: Vec<&HrEvent> = hr
            .iter()
            .filter(|e| e.user == person.user_id && matches!(e.kind, HrKind::Transfer { .. }))
            .collect();
        transfers.sort_by_key(|e| std::cmp::Reverse(e.ts));
        let mut projects = person.projects.clone();
        for t in transfers {
            if t.ts.with_timezone(&Utc) > at {
                if let HrKind::Transfer { from_projects, .. } = &t.kind {
                    projects = from_projects.clone();
                }
            } else {
                break;
            }
        }
        let day = at.date_naive();
        let terminated = hr.iter().any(|e| {
            e.user == person.user_id
                && matches!(e.kind, HrKind::Termination)
                && e.ts.with_timezone(&Utc) <= at
        });
        let employment = if day < person.hire_date {
            Employment::NotYetHired
        } else if terminated {
            Employment::Terminated
        } else if person.leave_date.is_some_and(|leave| day > leave) {
            Employment::Left
        } else {
            Employment::Employed
        };
        PersonAt {
            person,
            at,
            projects,
            employment,
        }
    }
}

/// An owner's recorded approval for one person to receive one `secret` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Approval {
    pub doc_id: String,
    pub for_user: String,
    pub by_owner: String,
    pub at: DateTime<FixedOffset>,
}

/// What the request brings besides the person and the document.
#[derive(Debug, Clone, Default)]
pub struct RequestContext<'a> {
    /// Approvals on record for this document; the policy picks the one that
    /// matches the requester and was given by the current owner before the
    /// request.
    pub approvals: &'a [Approval],
    /// When the requester acknowledged the secrecy policy, for a release of
    /// contents; `None` when only access is asked about (rule 5 is then not
    /// applied).
    pub acknowledged: Option<&'a [DateTime<FixedOffset>]>,
}

/// Why access was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum DenyReason {
    NotEmployed {
        employment: Employment,
    },
    ClearanceTooLow {
        clearance: Level,
        level: Level,
    },
    NoNeedToKnow {
        document_projects: String,
        person_projects: String,
    },
    NotAcknowledged {
        user: String,
    },
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DenyReason::NotEmployed { employment } => {
                let what = match employment {
                    Employment::NotYetHired => "not yet hired",
                    Employment::Left => "past their leave date",
                    Employment::Terminated => "terminated",
                    Employment::Employed => "employed",
                };
                write!(f, "the person was {what} at the time")
            }
            DenyReason::ClearanceTooLow { clearance, level } => {
                write!(
                    f,
                    "clearance {clearance} is below the document's level {level}"
                )
            }
            DenyReason::NoNeedToKnow {
                document_projects,
                person_projects,
            } => {
                let pp = if person_projects.is_empty() {
                    "none"
                } else {
                    person_projects
                };
                write!(
                    f,
                    "no need to know: the document belongs to {document_projects}, the person to {pp}"
                )
            }
            DenyReason::NotAcknowledged { user } => {
                write!(f, "{user} has not acknowledged the secrecy policy")
            }
        }
    }
}

/// Proof that the policy allowed `user` to open `doc_id` at `at`. Only this
/// module constructs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    user: String,
    doc_id: String,
    level: Level,
    at: DateTime<Utc>,
    basis: String,
}

impl Grant {
    pub fn user(&self) -> &str {
        &self.user
    }
    pub fn doc_id(&self) -> &str {
        &self.doc_id
    }
    pub fn level(&self) -> Level {
        self.level
    }
    pub fn at(&self) -> DateTime<Utc> {
        self.at
    }
    /// Why it was allowed, in a sentence.
    pub fn basis(&self) -> &str {
        &self.basis
    }
}

/// The policy's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    Allow { grant: Grant },
    Deny { reason: DenyReason },
    NeedsApproval { approver: String },
}

impl Decision {
    pub fn is_allow(&self) -> bool {
        matches!(self, Decision::Allow { .. })
    }

    /// `allow`, `deny` or `needs_approval`.
    pub fn label(&self) -> &'static str {
        match self {
            Decision::Allow { .. } => "allow",
            Decision::Deny { .. } => "deny",
            Decision::NeedsApproval { .. } => "needs_approval",
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Allow { grant } => write!(f, "allow: {}", grant.basis),
            Decision::Deny { reason } => write!(f, "deny: {reason}"),
            Decision::NeedsApproval { approver } => write!(
                f,
                "needs approval: secret entries need the owner's recorded approval ({approver})"
            ),
        }
    }
}

/// Decides whether `who` may open `doc`.
pub fn decide(who: &PersonAt<'_>, doc: &Document, ctx: &RequestContext<'_>) -> Decision {
    let decision = decide_access(who, doc, ctx);
    let Some(acks) = ctx.acknowledged else {
        return decision;
    };
    let acknowledged = acks.iter().any(|a| a.with_timezone(&Utc) <= who.at);
    if decision.is_allow() && doc.classification >= Level::Confidential && !acknowledged {
        return Decision::Deny {
            reason: DenyReason::NotAcknowledged {
                user: who.person.user_id.clone(),
            },
        };
    }
    decision
}

/// Rules 1 to 4.
fn decide_access(who: &PersonAt<'_>, doc: &Document, ctx: &RequestContext<'_>) -> Decision {
    let person = who.person;
    if who.employment != Employment::Employed {
        return Decision::Deny {
            reason: DenyReason::NotEmployed {
                employment: who.employment,
            },
        };
    }
    if person.clearance < doc.classification {
        return Decision::Deny {
            reason: DenyReason::ClearanceTooLow {
                clearance: person.clearance,
                level: doc.classification,
            },
        };
    }
    let is_owner = doc.owner_id == person.user_id;
    let grant = |basis: String| Decision::Allow {
        grant: Grant {
            user: person.user_id.clone(),
            doc_id: doc.doc_id.clone(),
            level: doc.classification,
            at: who.at,
            basis,
        },
    };
    if is_owner {
        return grant(format!("{} owns {}", person.user_id, doc.doc_id));
    }
    if doc.classification.needs_need_to_know() && !doc.projects.shares_with(&who.projects) {
        return Decision::Deny {
            reason: DenyReason::NoNeedToKnow {
                document_projects: doc.projects.to_field(),
                person_projects: crate::model::join_projects(&who.projects),
            },
        };
    }
    if doc.classification == Level::Secret {
        let approved = ctx.approvals.iter().find(|a| {
            a.doc_id == doc.doc_id
                && a.for_user == person.user_id
                && a.by_owner == doc.owner_id
                && a.at.with_timezone(&Utc) <= who.at
        });
        return match approved {
            Some(a) => grant(format!(
                "clearance {} and need to know; owner {} approved on {}",
                person.clearance,
                a.by_owner,
                a.at.to_rfc3339()
            )),
            None => Decision::NeedsApproval {
                approver: doc.owner_id.clone(),
            },
        };
    }
    let basis = if doc.classification.needs_need_to_know() {
        format!(
            "clearance {} covers {} and the person shares a project ({})",
            person.clearance,
            doc.classification,
            doc.projects.to_field()
        )
    } else {
        format!(
            "clearance {} covers {}",
            person.clearance, doc.classification
        )
    };
    grant(basis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Medium, Projects};
    use chrono::{NaiveDate, TimeZone};

    fn person(clearance: Level, projects: &[&str]) -> Person {
        Person {
            user_id: "E1".into(),
            name: "Taro".into(),
            email: "taro@example.jp".into(),
            org_unit: "R&D".into(),
            site: "Tokyo".into(),
            role: "engineer".into(),
            manager_id: None,
            clearance,
            projects: projects.iter().map(|s| s.to_string()).collect(),
            hire_date: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
            leave_date: Some(NaiveDate::from_ymd_opt(2025, 6, 30).unwrap()),
        }
    }

    fn doc(level: Level, projects: &str) -> Document {
        Document {
            doc_id: "D1".into(),
            title: "t".into(),
            classification: level,
            owner_id: "E9".into(),
            projects: Projects::parse(projects),
            kind: "design".into(),
            created: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
            medium: Medium::File,
        }
    }

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
    }

    fn transfer(user: &str, ts: DateTime<Utc>, from: &[&str], to: &[&str]) -> HrEvent {
        let kind = HrKind::Transfer {
            from_projects: from.iter().map(|s| s.to_string()).collect(),
            to_projects: to.iter().map(|s| s.to_string()).collect(),
        };
        let ts = ts.fixed_offset();
        HrEvent {
            id: HrEvent::derive_id(&ts, user, &kind),
            ts,
            user: user.into(),
            kind,
            detail: None,
        }
    }

    fn decide_at(p: &Person, hr: &[HrEvent], d: &Document, t: DateTime<Utc>) -> Decision {
        let who = PersonAt::reconstruct(p, hr, t);
        decide(&who, d, &RequestContext::default())
    }

    #[test]
    fn clearance_gates_every_level() {
        let p = person(Level::Internal, &["A"]);
        assert!(decide_at(&p, &[], &doc(Level::Public, "*"), at(2024, 1, 1)).is_allow());
        assert!(decide_at(&p, &[], &doc(Level::Internal, "*"), at(2024, 1, 1)).is_allow());
        let d = decide_at(&p, &[], &doc(Level::Confidential, "A"), at(2024, 1, 1));
        assert!(matches!(
            d,
            Decision::Deny {
                reason: DenyReason::ClearanceTooLow { .. }
            }
        ));
    }

    #[test]
    fn need_to_know_for_confidential() {
        let p = person(Level::Secret, &["A"]);
        assert!(decide_at(&p, &[], &doc(Level::Confidential, "A;B"), at(2024, 1, 1)).is_allow());
        assert!(decide_at(&p, &[], &doc(Level::Confidential, "*"), at(2024, 1, 1)).is_allow());
        let d = decide_at(&p, &[], &doc(Level::Confidential, "B"), at(2024, 1, 1));
        assert_eq!(d.label(), "deny");
        assert!(d.to_string().contains("no need to know"), "{d}");
        // internal needs no shared project
        assert!(decide_at(&p, &[], &doc(Level::Internal, "B"), at(2024, 1, 1)).is_allow());
    }

    #[test]
    fn need_to_know_follows_transfers_in_time() {
        // Directory says B (end state); a transfer on 2024-03-01 moved A -> B.
        let p = person(Level::Secret, &["B"]);
        let hr = vec![transfer("E1", at(2024, 3, 1), &["A"], &["B"])];
        let da = doc(Level::Confidential, "A");
        let db = doc(Level::Confidential, "B");
        assert!(decide_at(&p, &hr, &da, at(2024, 2, 1)).is_allow());
        assert!(!decide_at(&p, &hr, &db, at(2024, 2, 1)).is_allow());
        assert!(!decide_at(&p, &hr, &da, at(2024, 4, 1)).is_allow());
        assert!(decide_at(&p, &hr, &db, at(2024, 4, 1)).is_allow());
    }

    #[test]
    fn two_transfers_roll_back_in_order() {
        let p = person(Level::Secret, &["C"]);
        let hr = vec![
            transfer("E1", at(2024, 5, 1), &["B"], &["C"]),
            transfer("E1", at(2024, 3, 1), &["A"], &["B"]),
            transfer("E2", at(2024, 1, 1), &["Z"], &["Y"]),
        ];
        let proj = |t| PersonAt::reconstruct(&p, &hr, t).projects;
        assert_eq!(proj(at(2024, 2, 1)), ["A".to_string()].into());
        assert_eq!(proj(at(2024, 4, 1)), ["B".to_string()].into());
        assert_eq!(proj(at(2024, 6, 1)), ["C".to_string()].into());
    }

    #[test]
    fn secret_needs_owner_approval_unless_owner() {
        let p = person(Level::Secret, &["A"]);
        let d = doc(Level::Secret, "A");
        let t = at(2024, 1, 10);
        assert_eq!(
            decide_at(&p, &[], &d, t),
            Decision::NeedsApproval {
                approver: "E9".into()
            }
        );
        let who = PersonAt::reconstruct(&p, &[], t);
        let ok = Approval {
            doc_id: "D1".into(),
            for_user: "E1".into(),
            by_owner: "E9".into(),
            at: at(2024, 1, 9).fixed_offset(),
        };
        let wrong_owner = Approval {
            by_owner: "E8".into(),
            ..ok.clone()
        };
        let later = Approval {
            at: at(2024, 1, 11).fixed_offset(),
            ..ok.clone()
        };
        let ctx = |a: &[Approval]| {
            decide(
                &who,
                &d,
                &RequestContext {
                    approvals: a,
                    acknowledged: None,
                },
            )
        };
        assert!(ctx(std::slice::from_ref(&ok)).is_allow());
        assert_eq!(ctx(&[wrong_owner]).label(), "needs_approval");
        assert_eq!(ctx(&[later]).label(), "needs_approval");
        let mut owner = p.clone();
        owner.user_id = "E9".into();
        owner.projects.clear();
        assert!(decide_at(&owner, &[], &d, t).is_allow());
    }

    #[test]
    fn employment_window() {
        let p = person(Level::Secret, &["A"]);
        let d = doc(Level::Public, "*");
        assert_eq!(decide_at(&p, &[], &d, at(2019, 12, 31)).label(), "deny");
        assert!(decide_at(&p, &[], &d, at(2025, 6, 30)).is_allow());
        assert_eq!(decide_at(&p, &[], &d, at(2025, 7, 1)).label(), "deny");
        let ts = at(2024, 1, 1).fixed_offset();
        let term = HrEvent {
            id: HrEvent::derive_id(&ts, "E1", &HrKind::Termination),
            ts,
            user: "E1".into(),
            kind: HrKind::Termination,
            detail: None,
        };
        assert!(decide_at(&p, std::slice::from_ref(&term), &d, at(2023, 12, 31)).is_allow());
        assert_eq!(
            decide_at(&p, &[term], &d, at(2024, 1, 2)).to_string(),
            "deny: the person was terminated at the time"
        );
    }

    #[test]
    fn a_release_of_confidential_contents_needs_an_acknowledgement_first() {
        let p = person(Level::Secret, &["A"]);
        let d = doc(Level::Confidential, "A");
        let t = at(2024, 1, 10);
        let who = PersonAt::reconstruct(&p, &[], t);
        let with = |acks: Option<&[DateTime<FixedOffset>]>, d: &Document| {
            decide(
                &who,
                d,
                &RequestContext {
                    approvals: &[],
                    acknowledged: acks,
                },
            )
        };
        // Asking only who may open it does not ask for one.
        assert!(with(None, &d).is_allow());
        assert_eq!(
            with(Some(&[]), &d).to_string(),
            "deny: E1 has not acknowledged the secrecy policy"
        );
        let before = [at(2024, 1, 9).fixed_offset()];
        let after = [at(2024, 1, 11).fixed_offset()];
        assert!(with(Some(&before), &d).is_allow());
        assert_eq!(with(Some(&after), &d).label(), "deny");
        // Internal contents are released without one; a denial for another
        // reason stays that reason.
        assert!(with(Some(&[]), &doc(Level::Internal, "*")).is_allow());
        assert!(matches!(
            with(Some(&[]), &doc(Level::Confidential, "B")),
            Decision::Deny {
                reason: DenyReason::NoNeedToKnow { .. }
            }
        ));
        // The owner too.
        let mut owner = p.clone();
        owner.user_id = "E9".into();
        let who = PersonAt::reconstruct(&owner, &[], t);
        let ctx = RequestContext {
            approvals: &[],
            acknowledged: Some(&[]),
        };
        assert_eq!(decide(&who, &doc(Level::Secret, "A"), &ctx).label(), "deny");
    }
}
