//! The role table: every route with the roles allowed on it. One layer
//! (`enforce` in the crate root) applies it to every request, so a route
//! cannot be added without saying who may call it.

pub use custodian_app::accounts::Role;

/// Who may call a route: nobody needs to log in, or one of these roles.
#[derive(Debug, Clone, Copy)]
pub enum Access {
    Public,
    Roles(&'static [Role]),
    /// A console page: these roles, with a session; anyone else without one
    /// is sent to the login page. Forms carry the CSRF token as a field.
    Console(&'static [Role]),
}

#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
    pub summary: &'static str,
}

pub(crate) const PEOPLE: &[Role] = &[Role::Employee, Role::Owner, Role::Analyst];
pub(crate) const EVERYONE: &[Role] = &[
    Role::Employee,
    Role::Owner,
    Role::Analyst,
    Role::Auditor,
    Role::Admin,
];

/// Every route, with who may call it.
pub const ROUTES: &[Route] = &[
    Route {
        method: "GET",
        path: "/healthz",
        access: Access::Public,
        summary: "liveness: the store answers",
    },
    Route {
        method: "GET",
        path: "/metrics",
        access: Access::Roles(&[Role::Auditor, Role::Admin]),
        summary: "Prometheus metrics: responses by status class and logins by result (no routes, no names)",
    },
    Route {
        method: "GET",
        path: "/api/openapi.json",
        access: Access::Public,
        summary: "this API's OpenAPI document",
    },
    Route {
        method: "POST",
        path: "/api/login",
        access: Access::Public,
        summary: "log in with a local account; sets the session cookie",
    },
    Route {
        method: "POST",
        path: "/api/logout",
        access: Access::Public,
        summary: "clear the session cookie",
    },
    Route {
        method: "GET",
        path: "/api/me",
        access: Access::Roles(EVERYONE),
        summary: "the caller's account and role",
    },
    Route {
        method: "GET",
        path: "/api/alerts",
        access: Access::Roles(&[Role::Analyst]),
        summary: "alerts, highest score first, with explanations",
    },
    Route {
        method: "POST",
        path: "/api/alerts/{alert}/ack",
        access: Access::Roles(&[Role::Analyst]),
        summary: "acknowledge an alert, with an optional note (ledgered)",
    },
    Route {
        method: "GET",
        path: "/api/contacts/groups",
        access: Access::Roles(&[Role::Analyst]),
        summary: "contact reports grouped by approacher (?all=1: also those linked to no other)",
    },
    Route {
        method: "POST",
        path: "/api/contact-reports",
        access: Access::Roles(PEOPLE),
        summary: "file a contact report (ledgered)",
    },
    Route {
        method: "POST",
        path: "/api/events",
        access: Access::Roles(&[Role::Admin]),
        summary: "ingest a batch of events.jsonl lines (idempotent by id, the import's parsing, ledgered)",
    },
    Route {
        method: "GET",
        path: "/api/ledger/status",
        access: Access::Roles(&[Role::Auditor]),
        summary: "ledger size, root and latest signed checkpoint",
    },
    Route {
        method: "GET",
        path: "/api/ledger/checkpoint",
        access: Access::Roles(&[Role::Auditor]),
        summary: "the latest signed checkpoint (C2SP signed note, text/plain)",
    },
    Route {
        method: "GET",
        path: "/api/ledger/proofs/{kind}/{record}",
        access: Access::Roles(&[Role::Auditor]),
        summary: "a record's inclusion proof against the latest checkpoint (what custodian ledger prove writes)",
    },
    Route {
        method: "POST",
        path: "/api/ledger/verify",
        access: Access::Roles(&[Role::Auditor]),
        summary: "rebuild the tree from every stored record and check every checkpoint (one at a time)",
    },
    Route {
        method: "GET",
        path: "/api/access",
        access: Access::Roles(&[Role::Auditor]),
        summary: "analysts' reads of one person (`?person=ID`): each view of their page or their cases and each reveal of their name, with who, when and its ledger record",
    },
    Route {
        method: "GET",
        path: "/api/people",
        access: Access::Roles(&[Role::Admin]),
        summary: "the directory",
    },
    Route {
        method: "GET",
        path: "/api/tokens",
        access: Access::Roles(&[Role::Admin]),
        summary: "API tokens: name, role, created, revoked (never the token)",
    },
    Route {
        method: "POST",
        path: "/api/tokens/{token}/revoke",
        access: Access::Roles(&[Role::Admin]),
        summary: "revoke an API token by name, effective at once (ledgered)",
    },
    Route {
        method: "GET",
        path: "/api/register",
        access: Access::Roles(&[Role::Admin, Role::Owner]),
        summary: "the register of trade secrets (no contents)",
    },
    Route {
        method: "GET",
        path: "/api/register/exposure",
        access: Access::Roles(&[Role::Admin, Role::Owner]),
        summary: "documents opened without need to know (folder permissions wider than the register): who may, how many did, since when, from which units; an owner sees their own",
    },
    Route {
        method: "GET",
        path: "/api/cases",
        access: Access::Roles(&[Role::Analyst]),
        summary: "cases and their state",
    },
    Route {
        method: "POST",
        path: "/api/cases",
        access: Access::Roles(&[Role::Analyst]),
        summary: "open a case from an alert (201, ledgered), or answer with the case it has already (200, `existing`: one case per alert)",
    },
    Route {
        method: "GET",
        path: "/api/cases/{case}",
        access: Access::Roles(&[Role::Analyst]),
        summary: "a case: state and actions",
    },
    Route {
        method: "POST",
        path: "/api/cases/{case}/actions",
        access: Access::Roles(&[Role::Analyst]),
        summary: "add a note, assign, or change status (ledgered)",
    },
    Route {
        method: "GET",
        path: "/api/cases/{case}/bundle",
        access: Access::Roles(&[Role::Analyst]),
        summary: "the evidence bundle (zip) that verifies itself offline",
    },
    Route {
        method: "GET",
        path: "/",
        access: Access::Public,
        summary: "to the console (`/ui/`)",
    },
    Route {
        method: "GET",
        path: "/ui/",
        access: Access::Console(EVERYONE),
        summary: "console: to the caller's first page (the analyst's queue, the auditor's ledger, the register exposure for owners and administrators, the report form for employees)",
    },
    Route {
        method: "GET",
        path: "/ui/login",
        access: Access::Public,
        summary: "console: the login page",
    },
    Route {
        method: "POST",
        path: "/ui/login",
        access: Access::Public,
        summary: "console: log in (form), then back to the page asked for",
    },
    Route {
        method: "GET",
        path: "/ui/report",
        access: Access::Console(PEOPLE),
        summary: "console: the contact-report form, with the known pattern explained",
    },
    Route {
        method: "POST",
        path: "/ui/report",
        access: Access::Console(PEOPLE),
        summary: "console: file the contact report (form)",
    },
    Route {
        method: "GET",
        path: "/ui/alerts",
        access: Access::Console(&[Role::Analyst]),
        summary: "console: the alert queue, pseudonymised",
    },
    Route {
        method: "POST",
        path: "/ui/logout",
        access: Access::Public,
        summary: "console: log out (clears the session cookie)",
    },
    Route {
        method: "POST",
        path: "/ui/alerts/{alert}/status",
        access: Access::Console(&[Role::Analyst]),
        summary: "console: set an alert's triage status (in_review, escalated, dismissed with a reason code; form; ledgered)",
    },
    Route {
        method: "GET",
        path: "/ui/alerts/{alert}",
        access: Access::Console(&[Role::Analyst]),
        summary: "console: one alert, its indicators with weights and what each compared against, the events it cites as the ledger logged them, the person's chart (a read of the person, on the record)",
    },
    Route {
        method: "POST",
        path: "/ui/alerts/{alert}/ack",
        access: Access::Console(&[Role::Analyst]),
        summary: "console: acknowledge an alert (form)",
    },
    Route {
        method: "GET",
        path: "/ui/people/{person}",
        access: Access::Console(&[Role::Analyst]),
        summary: "console: a person (by pseudonym): timeline and the weekly outside-scope chart",
    },
    Route {
        method: "POST",
        path: "/ui/people/{person}/reveal",
        access: Access::Console(&[Role::Analyst]),
        summary: "console: reveal the name behind a pseudonym, with a reason (ledgered)",
    },
    Route {
        method: "GET",
        path: "/ui/contacts",
        access: Access::Console(&[Role::Analyst]),
        summary: "console: every contact report, grouped by approacher",
    },
    Route {
        method: "GET",
        path: "/ui/cases",
        access: Access::Console(&[Role::Analyst]),
        summary: "console: the cases",
    },
    Route {
        method: "GET",
        path: "/ui/access",
        access: Access::Console(&[Role::Auditor]),
        summary: "console: analysts' reads of one person (`?person=ID`)",
    },
    Route {
        method: "GET",
        path: "/ui/ledger",
        access: Access::Console(&[Role::Auditor]),
        summary: "console: the ledger's status and a verify action",
    },
    Route {
        method: "POST",
        path: "/ui/ledger/verify",
        access: Access::Console(&[Role::Auditor]),
        summary: "console: verify the whole ledger (form)",
    },
    Route {
        method: "POST",
        path: "/ui/cases",
        access: Access::Console(&[Role::Analyst]),
        summary: "console: open a case from an alert (form)",
    },
    Route {
        method: "GET",
        path: "/ui/cases/{case}",
        access: Access::Console(&[Role::Analyst]),
        summary: "console: a case, its actions, a note form and the bundle",
    },
    Route {
        method: "POST",
        path: "/ui/cases/{case}/actions",
        access: Access::Console(&[Role::Analyst]),
        summary: "console: assign, close or reopen a case (form; ledgered)",
    },
    Route {
        method: "POST",
        path: "/ui/cases/{case}/notes",
        access: Access::Console(&[Role::Analyst]),
        summary: "console: add a note to a case (form)",
    },
    Route {
        method: "GET",
        path: "/ui/cases/{case}/bundle",
        access: Access::Console(&[Role::Analyst]),
        summary: "console: download the evidence bundle",
    },
    Route {
        method: "GET",
        path: "/ui/register/exposure",
        access: Access::Console(&[Role::Admin, Role::Owner]),
        summary: "console: register exposure, documents opened without need to know (an owner sees their own)",
    },
];
