//! `custodian serve`: the JSON API (first slice of issue 6).
//!
//! * Every route is in [`ROUTES`] with the roles allowed on it; one layer
//!   enforces the table on every request (after routing, by the matched
//!   path), so a route cannot be added without saying who may call it, and
//!   the table test checks every role against every route.
//! * People log in with local accounts (Argon2id; attempts throttled by
//!   [`throttle`]: counted before the check, per account and client, per
//!   client, an account ceiling that slows strangers, a global budget,
//!   bounded checks in flight; unknown names cost the same as wrong
//!   passwords) and get a session cookie: HttpOnly, Secure, SameSite=Strict,
//!   HMAC-signed, 8 hours; requests that change state with it must carry the
//!   session's CSRF token in `X-CSRF-Token` (compared in constant time).
//!   Machines use API tokens (`Authorization: Bearer cst_…`; only the
//!   token's SHA-256 is stored), scoped to one role.
//! * The clock is a parameter ([`Clock`]): tests control time.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use custodian_store::{LedgerContext, Store};

pub mod console;
pub mod listen;
pub mod pseudonyms;
pub mod throttle;

use custodian_app::{cases, exposure, tokens};

/// The roles of DESIGN.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Employee,
    Owner,
    Analyst,
    Auditor,
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Employee,
        Role::Owner,
        Role::Analyst,
        Role::Auditor,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Employee => "employee",
            Role::Owner => "owner",
            Role::Analyst => "analyst",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

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
const EVERYONE: &[Role] = &[
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
        summary: "open a case from an alert (ledgered)",
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

/// Seconds since the Unix epoch, from the caller (tests control time).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

const SESSION_SECS: i64 = 8 * 3600;
const COOKIE: &str = "custodian_session";

#[derive(Default)]
struct Metrics {
    /// Responses by status class (1 to 5): never by route, since the count
    /// of contact reports or reveals would tell who is watching whom.
    responses: [AtomicU64; 6],
    logins_ok: AtomicU64,
    logins_failed: AtomicU64,
    logins_limited: AtomicU64,
}

pub struct AppState {
    pub store: Arc<dyn Store>,
    pub ledger: LedgerContext,
    session_key: [u8; 32],
    clock: Clock,
    throttle: throttle::Throttle,
    /// Who analysts' responses mask (see [`pseudonyms`]).
    directory: pseudonyms::Directory,
    /// The directory's ids the ingest route checks users against.
    known_people: custodian_app::ingest::KnownPeople,
    metrics: Metrics,
    dummy_hash: String,
    /// One full verification at a time (it reads the whole store).
    verifying: tokio::sync::Mutex<()>,
    /// Sessions logged out before they expire (by their CSRF token, which
    /// is unique per session), with when they would have expired. Kept in
    /// memory: a restart forgets them (disabling the account does not
    /// depend on it: every request checks the account).
    revoked: Mutex<HashMap<String, i64>>,
}

impl AppState {
    /// The pseudonym analysts see for a person.
    pub fn pseudonym(&self, user: &str) -> String {
        console::pseudonym(&self.pseudonym_key(), user)
    }

    /// The key analysts' pseudonyms are derived from (stable while the
    /// session key is).
    pub(crate) fn pseudonym_key(&self) -> [u8; 32] {
        let mut k = [0u8; 32];
        k.copy_from_slice(&sign(&self.session_key, b"pseudonyms")[..32]);
        k
    }

    /// `session_key`: the HMAC key of session cookies (keep it secret and
    /// stable across restarts, or everyone logs in again).
    pub fn new(
        store: Arc<dyn Store>,
        ledger: LedgerContext,
        session_key: [u8; 32],
        clock: Clock,
    ) -> AppState {
        AppState {
            store,
            ledger,
            session_key,
            clock,
            // Password checks at once: one per core, 2 to 8 (each about
            // 19 MiB for Argon2id's defaults).
            throttle: throttle::Throttle::new(
                std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8)),
            ),
            directory: pseudonyms::Directory::default(),
            known_people: Default::default(),
            metrics: Metrics::default(),
            // Verified against when the account does not exist, so an
            // unknown name costs what a wrong password costs.
            dummy_hash: hash_password("not a password", &[7u8; 16]).unwrap_or_default(),
            verifying: tokio::sync::Mutex::new(()),
            revoked: Mutex::new(HashMap::new()),
        }
    }
}

/// An Argon2id PHC string for `password` with `salt` (16 random bytes).
pub fn hash_password(password: &str, salt: &[u8]) -> Result<String, String> {
    let salt = SaltString::encode_b64(salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// The SHA-256 (hex) an API token is stored under.
pub fn token_sha256(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Who is calling.
#[derive(Debug, Clone)]
pub struct Principal {
    pub name: String,
    pub role: Role,
    pub user_id: Option<String>,
    /// The session's CSRF token (None for API tokens).
    pub(crate) csrf: Option<String>,
}

fn sign(key: &[u8; 32], payload: &[u8]) -> Vec<u8> {
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(payload);
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

fn session_cookie(state: &AppState, p: &Principal, csrf: &str) -> String {
    let payload = json!({"u": p.name, "r": p.role.as_str(), "p": p.user_id, "e": (state.clock)() + SESSION_SECS, "c": csrf})
        .to_string();
    let mac = sign(&state.session_key, payload.as_bytes());
    format!(
        "{COOKIE}=v1.{}.{}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age={SESSION_SECS}",
        B64.encode(payload.as_bytes()),
        B64.encode(mac)
    )
}

fn from_cookie(state: &AppState, headers: &HeaderMap) -> Option<Principal> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    let value = cookies
        .split(';')
        .filter_map(|c| c.trim().strip_prefix(&format!("{COOKIE}=")))
        .next()?;
    let mut parts = value.strip_prefix("v1.")?.split('.');
    let payload = B64.decode(parts.next()?).ok()?;
    let mac = B64.decode(parts.next()?).ok()?;
    if !bool::from(sign(&state.session_key, &payload).ct_eq(&mac)) {
        return None;
    }
    let v: Value = serde_json::from_slice(&payload).ok()?;
    if v["e"].as_i64()? < (state.clock)() {
        return None;
    }
    Some(Principal {
        name: v["u"].as_str()?.to_string(),
        role: Role::parse(v["r"].as_str()?)?,
        user_id: v["p"].as_str().map(str::to_string),
        csrf: Some(v["c"].as_str()?.to_string()),
    })
}

/// The session of a request, if it has a valid one: signed, not expired,
/// not logged out, and its account still enabled with the same role (so
/// disabling an account or changing its role ends its sessions at once).
pub(crate) async fn session(state: &AppState, headers: &HeaderMap) -> Option<Principal> {
    let who = from_cookie(state, headers)?;
    let csrf = who.csrf.as_deref().unwrap_or_default();
    if state
        .revoked
        .lock()
        .map(|r| r.contains_key(csrf))
        .unwrap_or(true)
    {
        return None;
    }
    match state.store.account(&who.name).await {
        Ok(Some(a)) if !a.disabled && Role::parse(&a.role) == Some(who.role) => Some(who),
        Ok(_) => None,
        Err(e) => {
            tracing::error!(error = %e, "account lookup failed");
            None
        }
    }
}

/// Ends the request's session, if it has one, before it expires.
pub(crate) fn revoke(state: &AppState, headers: &HeaderMap) {
    let Some(who) = from_cookie(state, headers) else {
        return;
    };
    let now = (state.clock)();
    if let (Ok(mut r), Some(csrf)) = (state.revoked.lock(), who.csrf) {
        r.retain(|_, until| *until >= now);
        r.insert(csrf, now + SESSION_SECS);
    }
}

async fn from_token(
    state: &AppState,
    headers: &HeaderMap,
) -> Option<Result<Principal, StatusCode>> {
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = auth.strip_prefix("Bearer ")?.trim();
    Some(match state.store.api_token(&token_sha256(token)).await {
        // Revoked: refused from that moment on.
        Ok(Some(t)) if t.revoked_at.is_some() => Err(StatusCode::UNAUTHORIZED),
        Ok(Some(t)) => match Role::parse(&t.role) {
            Some(role) => Ok(Principal {
                name: format!("token:{}", t.name),
                role,
                user_id: None,
                csrf: None,
            }),
            None => Err(StatusCode::UNAUTHORIZED),
        },
        Ok(None) => Err(StatusCode::UNAUTHORIZED),
        Err(_) => Err(StatusCode::SERVICE_UNAVAILABLE),
    })
}

fn problem(status: StatusCode, detail: &str) -> Response {
    (
        status,
        Json(json!({"status": status.as_u16(), "error": detail})),
    )
        .into_response()
}

/// The table, enforced: runs after routing, on every route.
async fn enforce(State(state): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    let method = req.method().clone();
    let Some(route) = ROUTES
        .iter()
        .find(|r| r.path == path && r.method == method.as_str())
    else {
        return problem(StatusCode::NOT_FOUND, "no such route");
    };
    let resp = match route.access {
        Access::Public => next.run(req).await,
        Access::Console(roles) => {
            let Some(who) = session(&state, req.headers()).await else {
                return count(
                    &state,
                    &path,
                    axum::response::Redirect::to(&format!("/ui/login?next={path}")).into_response(),
                );
            };
            if !roles.contains(&who.role) {
                return count(
                    &state,
                    &path,
                    problem(StatusCode::FORBIDDEN, "your role may not do this"),
                );
            }
            let analyst = who.role == Role::Analyst;
            req.extensions_mut().insert(who);
            let resp = next.run(req).await;
            if analyst {
                masked(&state, resp).await
            } else {
                resp
            }
        }
        Access::Roles(roles) => {
            let who = match from_token(&state, req.headers()).await {
                Some(Ok(p)) => Some(p),
                Some(Err(s)) => return count(&state, &path, problem(s, "invalid API token")),
                None => session(&state, req.headers()).await,
            };
            let Some(who) = who else {
                return count(
                    &state,
                    &path,
                    problem(StatusCode::UNAUTHORIZED, "log in first"),
                );
            };
            if !roles.contains(&who.role) {
                return count(
                    &state,
                    &path,
                    problem(StatusCode::FORBIDDEN, "your role may not do this"),
                );
            }
            if method != Method::GET && method != Method::HEAD {
                if let Some(csrf) = &who.csrf {
                    let sent = req
                        .headers()
                        .get("x-csrf-token")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    if !bool::from(sent.as_bytes().ct_eq(csrf.as_bytes())) {
                        return count(
                            &state,
                            &path,
                            problem(StatusCode::FORBIDDEN, "missing or wrong X-CSRF-Token"),
                        );
                    }
                }
            }
            let analyst = who.role == Role::Analyst;
            req.extensions_mut().insert(who);
            let resp = next.run(req).await;
            if analyst {
                masked(&state, resp).await
            } else {
                resp
            }
        }
    };
    count(&state, &path, resp)
}

/// An analyst's response with every person pseudonymised (see
/// [`pseudonyms`]).
async fn masked(state: &AppState, resp: Response) -> Response {
    state
        .directory
        .mask_response(
            state.store.as_ref(),
            &state.pseudonym_key(),
            (state.clock)(),
            resp,
        )
        .await
}

fn count(state: &AppState, _path: &str, resp: Response) -> Response {
    let class = usize::from(resp.status().as_u16() / 100).min(5);
    state.metrics.responses[class].fetch_add(1, Ordering::Relaxed);
    resp
}

/// Every error in one shape, `{"status", "error"}`: the rejections axum
/// writes itself (a body over its limit, a path that is not UTF-8, a form
/// that does not parse) and the console's plain-text refusals are rewritten
/// here, keeping their status and their text (at most 300 characters).
async fn error_shape(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let plain = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|t| t.starts_with("text/plain"));
    if !plain {
        return resp;
    }
    let retry = resp.headers().get(header::RETRY_AFTER).cloned();
    let text = match axum::body::to_bytes(resp.into_body(), 64 << 10).await {
        Ok(b) => String::from_utf8_lossy(&b)
            .chars()
            .take(300)
            .collect::<String>(),
        Err(_) => String::new(),
    };
    let text = if text.trim().is_empty() {
        status.canonical_reason().unwrap_or("error").to_lowercase()
    } else {
        text.trim().to_string()
    };
    let mut out = problem(status, &text);
    if let Some(r) = retry {
        out.headers_mut().insert(header::RETRY_AFTER, r);
    }
    out
}

/// The router with every route of [`ROUTES`].
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/openapi.json", get(openapi))
        .route("/api/login", post(login))
        .route("/api/logout", post(logout))
        .route("/api/me", get(me))
        .route("/api/alerts", get(alerts))
        .route("/api/alerts/{alert}/ack", post(ack_alert))
        .route("/api/contacts/groups", get(contact_groups))
        .route("/api/contact-reports", post(file_contact_report))
        .route(
            "/api/events",
            post(ingest_events).layer(axum::extract::DefaultBodyLimit::max(
                custodian_app::ingest::MAX_BATCH_BYTES,
            )),
        )
        .route("/api/ledger/status", get(ledger_status))
        .route("/api/ledger/checkpoint", get(ledger_checkpoint))
        .route("/api/ledger/proofs/{kind}/{record}", get(ledger_proof))
        .route("/api/ledger/verify", post(ledger_verify))
        .route("/api/people", get(people))
        .route("/api/tokens", get(list_tokens))
        .route("/api/tokens/{token}/revoke", post(revoke_token))
        .route("/api/register", get(register))
        .route("/api/register/exposure", get(register_exposure))
        .route("/api/cases", get(list_cases).post(open_case))
        .route("/api/cases/{case}", get(show_case))
        .route("/api/cases/{case}/actions", post(case_action))
        .route("/api/cases/{case}/bundle", get(case_bundle))
        .route(
            "/ui/login",
            get(console::login_page).post(console::login_submit),
        )
        .route(
            "/ui/report",
            get(console::report_form).post(console::report_submit),
        )
        .route("/ui/logout", post(console::logout))
        .route("/ui/alerts", get(console::alert_queue))
        .route("/ui/alerts/{alert}/ack", post(console::ack_alert))
        .route("/ui/people/{person}", get(console::person_page))
        .route("/ui/people/{person}/reveal", post(console::reveal_name))
        .route("/ui/contacts", get(console::contacts_page))
        .route(
            "/ui/cases",
            get(console::cases_page).post(console::open_case),
        )
        .route("/ui/ledger", get(console::ledger_page))
        .route("/ui/ledger/verify", post(console::ledger_verify))
        .route("/ui/cases/{case}", get(console::case_page))
        .route("/ui/cases/{case}/notes", post(console::add_note))
        .route("/ui/cases/{case}/bundle", get(case_bundle))
        .route("/ui/register/exposure", get(console::exposure_page))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), enforce))
        .fallback(|| async { problem(StatusCode::NOT_FOUND, "no such route") })
        .layer(axum::middleware::from_fn(error_shape))
        .with_state(state)
}

/// Serves until the task is dropped, under the default [`listen::Limits`].
pub async fn serve(state: Arc<AppState>, addr: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    listen::serve(listener, app(state), listen::Limits::default()).await
}

pub(crate) fn internal(e: impl std::fmt::Display) -> Response {
    // The detail goes to the log, not to the caller.
    tracing::error!(error = %e, "request failed");
    problem(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
}

async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    match state.store.ledger_checkpoints().await {
        Ok(_) => Json(json!({"status": "ok"})).into_response(),
        Err(_) => problem(StatusCode::SERVICE_UNAVAILABLE, "the store does not answer"),
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut out = String::from(
        "# HELP custodian_http_responses_total Responses by status class.\n# TYPE custodian_http_responses_total counter\n",
    );
    for class in 1..=5 {
        out.push_str(&format!(
            "custodian_http_responses_total{{class=\"{class}xx\"}} {}\n",
            state.metrics.responses[class].load(Ordering::Relaxed)
        ));
    }
    out.push_str("# HELP custodian_logins_total Login attempts by result.\n# TYPE custodian_logins_total counter\n");
    for (k, v) in [
        ("ok", &state.metrics.logins_ok),
        ("failed", &state.metrics.logins_failed),
        ("rate_limited", &state.metrics.logins_limited),
    ] {
        out.push_str(&format!(
            "custodian_logins_total{{result=\"{k}\"}} {}\n",
            v.load(Ordering::Relaxed)
        ));
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        out,
    )
        .into_response()
}

/// The OpenAPI document, from the route table.
pub fn openapi_document() -> Value {
    let mut paths = serde_json::Map::new();
    for r in ROUTES {
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        let security = match r.access {
            Access::Public => json!([]),
            Access::Roles(_) => json!([{"session": []}, {"token": []}]),
            Access::Console(_) => json!([{"session": []}]),
        };
        let roles: Vec<&str> = match r.access {
            Access::Public => vec![],
            Access::Roles(rs) | Access::Console(rs) => rs.iter().map(|x| x.as_str()).collect(),
        };
        let mut op = json!({
            "summary": r.summary,
            "security": security,
            "x-roles": roles,
            "responses": {
                "200": {"description": "OK"},
                "401": {"description": "not logged in"},
                "403": {"description": "role not allowed, or missing CSRF token"},
                "429": {"description": "too many failed logins"},
            },
        });
        if r.path == "/api/login" {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {
                "type": "object", "required": ["username", "password"],
                "properties": {"username": {"type": "string"}, "password": {"type": "string"}}}}}});
        }
        let params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        match (r.method, r.path) {
            ("POST", "/api/cases") => {
                op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["alert"], "properties": {"alert": {"type": "string"}}}}}});
            }
            ("POST", "/api/cases/{case}/actions") => {
                op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["action"],
                    "properties": {"action": {"type": "string", "enum": ["note", "assign", "status"]},
                                   "text": {"type": "string"}, "to": {"type": "string"},
                                   "status": {"type": "string", "enum": ["open", "closed"]},
                                   "reason": {"type": "string"}}}}}});
            }
            ("POST", "/api/alerts/{alert}/ack") => {
                op["requestBody"] = json!({"required": false, "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"note": {"type": "string"}}}}}});
            }
            ("POST", "/api/events") => {
                op["requestBody"] = json!({"required": true, "content": {"text/plain": {"schema": {
                    "type": "string", "description": "events.jsonl lines (the interchange format)"}}}});
            }
            _ => {}
        }
        if r.path == "/api/contact-reports" {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {
                "type": "object", "description": "a contact report in the interchange format (contacts.jsonl); reporter and reported_at are set by the server"}}}});
        }
        entry[r.method.to_lowercase()] = op;
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Custodian", "version": env!("CARGO_PKG_VERSION")},
        "components": {"securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": COOKIE},
            "token": {"type": "http", "scheme": "bearer"},
        }},
        "paths": paths,
    })
}

async fn openapi() -> Json<Value> {
    Json(openapi_document())
}

/// The client's address when served over TCP (absent in in-process tests).
pub(crate) struct ClientAddr(pub(crate) Option<SocketAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0),
        ))
    }
}

/// A JSON body of at most 64 KiB, or the status and reason to refuse it
/// with.
fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, (StatusCode, String)> {
    if body.len() > 64 << 10 {
        return Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            "the body is larger than 64 KiB".into(),
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        (
            StatusCode::BAD_REQUEST,
            format!("not the JSON expected: {e}"),
        )
    })
}

#[derive(serde::Deserialize)]
struct Login {
    username: String,
    password: String,
}

/// Why a login was refused: the status, the reason said, and for a 429
/// or 503 the seconds to wait.
pub(crate) struct Refused {
    pub status: StatusCode,
    pub why: &'static str,
    pub retry_after: Option<i64>,
}

impl Refused {
    fn new(status: StatusCode, why: &'static str) -> Refused {
        Refused {
            status,
            why,
            retry_after: None,
        }
    }

    pub(crate) fn into_response(self) -> Response {
        let mut r = problem(self.status, self.why);
        if let Some(s) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&s.max(1).to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        r
    }
}

/// Names longer than this are never an account (and are not looked up).
const MAX_NAME_BYTES: usize = 256;

/// Checks a name and password, throttled (see [`throttle`]): the attempt
/// is counted before the check, checks in flight are bounded; on success
/// the principal and its session cookie.
pub(crate) async fn authenticate(
    state: &AppState,
    peer: Option<SocketAddr>,
    username: &str,
    password: &str,
) -> Result<(Principal, String), Refused> {
    let now = (state.clock)();
    let source = peer.map_or("local".to_string(), |c| c.ip().to_string());
    let attempt = match state.throttle.begin(username, &source, now) {
        Ok(a) => a,
        Err(r) => {
            state.metrics.logins_limited.fetch_add(1, Ordering::Relaxed);
            return Err(match r {
                throttle::Refusal::Limited { retry_after } => Refused {
                    status: StatusCode::TOO_MANY_REQUESTS,
                    why: "too many failed logins; wait and try again",
                    retry_after: Some(retry_after),
                },
                throttle::Refusal::Busy => Refused {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    why: "too many logins at once; try again shortly",
                    retry_after: Some(1),
                },
            });
        }
    };
    let permit = match state.throttle.verifier(attempt.known).await {
        Ok(p) => p,
        Err(_) => {
            attempt.not_checked();
            state.metrics.logins_limited.fetch_add(1, Ordering::Relaxed);
            return Err(Refused {
                status: StatusCode::SERVICE_UNAVAILABLE,
                why: "too many logins at once; try again shortly",
                retry_after: Some(1),
            });
        }
    };
    let account = if username.len() > MAX_NAME_BYTES {
        None
    } else {
        match state.store.account(username).await {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(error = %e, "account lookup failed");
                attempt.not_checked();
                return Err(Refused::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error",
                ));
            }
        }
    };
    let hash = account
        .as_ref()
        .filter(|a| !a.disabled)
        .map_or(state.dummy_hash.clone(), |a| a.password_hash.clone());
    let password = password.to_string();
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    drop(permit);
    let Some(account) = account.filter(|a| ok && !a.disabled) else {
        attempt.failed();
        state.metrics.logins_failed.fetch_add(1, Ordering::Relaxed);
        tracing::info!(user = %throttle::log_name(username), "login failed");
        return Err(Refused::new(
            StatusCode::UNAUTHORIZED,
            "wrong name or password",
        ));
    };
    attempt.succeeded(now);
    let Some(role) = Role::parse(&account.role) else {
        return Err(Refused::new(
            StatusCode::FORBIDDEN,
            "the account has no valid role",
        ));
    };
    let csrf = {
        use rand::RngCore;
        let mut b = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut b);
        B64.encode(b)
    };
    let p = Principal {
        name: account.username.clone(),
        role,
        user_id: account.user_id.clone(),
        csrf: Some(csrf.clone()),
    };
    state.metrics.logins_ok.fetch_add(1, Ordering::Relaxed);
    let cookie = session_cookie(state, &p, &csrf);
    Ok((p, cookie))
}

async fn login(
    State(state): State<Arc<AppState>>,
    ClientAddr(peer): ClientAddr,
    body: axum::body::Bytes,
) -> Response {
    let body: Login = match json_body(&body) {
        Ok(b) => b,
        Err((s, why)) => return problem(s, &why),
    };
    match authenticate(&state, peer, &body.username, &body.password).await {
        Ok((p, cookie)) => {
            let mut resp =
                Json(json!({"username": p.name, "role": p.role.as_str(), "csrf_token": p.csrf}))
                    .into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                resp.headers_mut().insert(header::SET_COOKIE, v);
            }
            resp
        }
        Err(r) => r.into_response(),
    }
}

async fn logout(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    revoke(&state, &headers);
    let mut resp = Json(json!({"logged_out": true})).into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "custodian_session=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0",
        ),
    );
    resp
}

async fn me(axum::Extension(p): axum::Extension<Principal>) -> Json<Value> {
    Json(json!({"name": p.name, "role": p.role.as_str(), "user_id": p.user_id}))
}

/// Which alerts a list shows: `?severity=high|medium|low`, `?user=`,
/// `?min_score=`, `?unacknowledged=1`, `?limit=` (at most 5,000).
#[derive(Debug, Default)]
pub struct AlertFilter {
    pub severity: Option<String>,
    pub user: Option<String>,
    pub min_score: Option<f64>,
    pub unacknowledged: bool,
    pub limit: usize,
}

impl AlertFilter {
    pub fn from_query(q: &HashMap<String, String>) -> AlertFilter {
        let some = |k: &str| {
            q.get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        AlertFilter {
            severity: some("severity"),
            user: some("user"),
            min_score: some("min_score").and_then(|v| v.parse().ok()),
            unacknowledged: matches!(
                q.get("unacknowledged").map(String::as_str),
                Some("1" | "true")
            ),
            limit: some("limit")
                .and_then(|v| v.parse().ok())
                .unwrap_or(500)
                .min(5_000),
        }
    }

    pub fn admits(&self, a: &custodian_store::StoredAlert, acknowledged: bool) -> bool {
        self.severity.as_ref().is_none_or(|s| *s == a.severity)
            && self.user.as_ref().is_none_or(|u| *u == a.user)
            && self.min_score.is_none_or(|m| a.score >= m)
            && !(self.unacknowledged && acknowledged)
    }
}

/// Every stored alert, highest score first, and who acknowledged which.
pub(crate) async fn alerts_and_acks(
    state: &AppState,
) -> Result<
    (
        Vec<custodian_store::StoredAlert>,
        std::collections::BTreeMap<String, Value>,
    ),
    Response,
> {
    let list = cases::ranked_alerts(state.store.as_ref(), usize::MAX)
        .await
        .map_err(internal)?;
    let acks = cases::acknowledgements(state.store.as_ref())
        .await
        .map_err(app_error)?;
    Ok((list, acks))
}

async fn alerts(
    State(state): State<Arc<AppState>>,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    let filter = AlertFilter::from_query(&q);
    let (list, acks) = match alerts_and_acks(&state).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let out: Vec<Value> = list
        .iter()
        .filter(|a| filter.admits(a, acks.contains_key(&a.id)))
        .take(filter.limit)
        .map(|a| {
            let mut v = cases::alert_json(a);
            v["acknowledged"] = acks.get(&a.id).cloned().unwrap_or(Value::Null);
            v
        })
        .collect();
    Json(out).into_response()
}

#[derive(serde::Deserialize, Default)]
struct Ack {
    note: Option<String>,
}

async fn ack_alert(
    State(state): State<Arc<AppState>>,
    axum::Extension(p): axum::Extension<Principal>,
    axum::extract::Path(alert): axum::extract::Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let ack: Ack = if body.iter().all(u8::is_ascii_whitespace) {
        Ack::default()
    } else {
        match json_body(&body) {
            Ok(b) => b,
            Err((s, why)) => return problem(s, &why),
        }
    };
    match cases::acknowledge(
        state.store.as_ref(),
        &state.ledger,
        now_of(&state),
        &alert,
        &p.name,
        ack.note.as_deref(),
    )
    .await
    {
        Ok(r) => (
            StatusCode::CREATED,
            Json(json!({"alert": alert, "record": r.id})),
        )
            .into_response(),
        Err(e) => app_error(e),
    }
}

/// `?all=1` includes reports linked to no other (groups of one).
async fn contact_groups(
    State(state): State<Arc<AppState>>,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    let all = matches!(q.get("all").map(String::as_str), Some("1" | "true"));
    let (reports, groups) = match cases::contact_groups(state.store.as_ref()).await {
        Ok(x) => x,
        Err(e) => return app_error(e),
    };
    let v: Vec<Value> = groups
        .iter()
        .filter(|g| all || g.members.len() >= 2)
        .map(|g| {
            json!({"name": g.name, "reporters": g.reporters,
                   "first_met": g.first_met.map(|d| d.to_string()),
                   "last_reported": g.last_reported.to_rfc3339(),
                   "reports": g.members.iter().map(|&i| json!({
                       "id": reports[i].id, "reported_at": reports[i].reported_at.to_rfc3339(),
                       "reporter": reports[i].reporter, "place": reports[i].place,
                       "approach": reports[i].approach.as_str(), "counterpart": reports[i].counterpart,
                   })).collect::<Vec<_>>()})
        })
        .collect();
    Json(v).into_response()
}

async fn file_contact_report(
    State(state): State<Arc<AppState>>,
    axum::Extension(p): axum::Extension<Principal>,
    body: axum::body::Bytes,
) -> Response {
    let v: Value = match json_body(&body) {
        Ok(v) => v,
        Err((s, why)) => return problem(s, &why),
    };
    match custodian_app::contacts::file_report(
        state.store.as_ref(),
        &state.ledger,
        p.user_id.as_deref(),
        now_of(&state),
        v,
    )
    .await
    {
        Ok(id) => (StatusCode::CREATED, Json(json!({"id": id}))).into_response(),
        Err(e) => app_error(e),
    }
}

/// A batch of events.jsonl lines, through the import's own path
/// (`custodian_app::ingest`): bad lines are refused with their line number
/// and reason and kept as rejects, the rest stored; a repeated event id is
/// stored once.
async fn ingest_events(
    State(state): State<Arc<AppState>>,
    axum::Extension(p): axum::Extension<Principal>,
    body: axum::body::Bytes,
) -> Response {
    match custodian_app::ingest::ingest_batch(
        state.store.as_ref(),
        &state.ledger,
        &state.known_people,
        &p.name,
        now_of(&state),
        &body,
    )
    .await
    {
        Ok(b) => Json(json!({
            "accepted": b.accepted, "new": b.new, "already_stored": b.already_stored,
            "rejected": b.rejected.iter().map(|(line, reason)| json!({"line": line, "reason": reason})).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(e) => app_error(e),
    }
}

/// Size, root, checkpoint count and the latest signed checkpoint.
pub(crate) async fn ledger_status_json(state: &AppState) -> Result<Value, Response> {
    let st = custodian_store::audit::status(state.store.as_ref())
        .await
        .map_err(internal)?;
    Ok(json!({"size": st.size, "checkpoints": st.checkpoints,
              "checkpoint_size": st.latest.as_ref().map(|c| c.size),
              "root": st.latest_parsed.map(|c| base64::engine::general_purpose::STANDARD.encode(c.root)),
              "latest_checkpoint": st.latest.map(|c| c.note)}))
}

async fn ledger_status(State(state): State<Arc<AppState>>) -> Response {
    match ledger_status_json(&state).await {
        Ok(v) => Json(v).into_response(),
        Err(r) => r,
    }
}

async fn ledger_checkpoint(State(state): State<Arc<AppState>>) -> Response {
    match state.store.ledger_checkpoints().await {
        Ok(cps) => match cps.last() {
            Some(c) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                )],
                c.note.clone(),
            )
                .into_response(),
            None => problem(StatusCode::NOT_FOUND, "the ledger has no checkpoint yet"),
        },
        Err(e) => internal(e),
    }
}

async fn ledger_proof(
    State(state): State<Arc<AppState>>,
    axum::extract::Path((kind, record)): axum::extract::Path<(String, String)>,
) -> Response {
    match custodian_store::audit::prove(state.store.as_ref(), &kind, &record).await {
        Ok(b) => Json(b).into_response(),
        Err(custodian_store::audit::AuditError::NotFound(why)) => {
            problem(StatusCode::NOT_FOUND, &why)
        }
        // A record that is stored but cannot be proven is the store's
        // fault (tampering or corruption): logged, not explained here.
        Err(e) => internal(e),
    }
}

/// Verifies the whole ledger with the server's own key (one verification
/// at a time); `{"verified": true, "report": …}` or `{"verified": false,
/// "failure": …}`.
pub(crate) async fn verify_ledger(state: &AppState) -> Result<Value, (StatusCode, String)> {
    let Ok(_guard) = state.verifying.try_lock() else {
        return Err((
            StatusCode::CONFLICT,
            "a verification is already running; try again when it ends".into(),
        ));
    };
    let started = std::time::Instant::now();
    let verifier = state.ledger.signer.verifier();
    match custodian_store::audit::verify(state.store.as_ref(), &verifier, None, &|_, _| {}).await {
        Ok(r) => {
            tracing::info!(size = r.size, "ledger verified");
            Ok(json!({"verified": true, "report": r, "seconds": started.elapsed().as_secs_f64()}))
        }
        Err(custodian_store::audit::AuditError::Failed(f)) => {
            tracing::warn!(what = %f.what, "ledger does not verify");
            Ok(json!({"verified": false, "failure": f}))
        }
        Err(e) => {
            tracing::error!(error = %e, "ledger verification failed to run");
            Err((StatusCode::INTERNAL_SERVER_ERROR, "internal error".into()))
        }
    }
}

async fn ledger_verify(State(state): State<Arc<AppState>>) -> Response {
    match verify_ledger(&state).await {
        Ok(v) => Json(v).into_response(),
        Err((s, why)) => problem(s, &why),
    }
}

async fn people(State(state): State<Arc<AppState>>) -> Response {
    match state.store.people().await {
        Ok(list) => Json(
            list.iter()
                .map(|p| {
                    json!({"user_id": p.user_id, "name": p.name, "org_unit": p.org_unit,
                                "role": p.role, "clearance": p.clearance.to_string()})
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => internal(e),
    }
}

async fn list_tokens(State(state): State<Arc<AppState>>) -> Response {
    match tokens::list(state.store.as_ref()).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => internal(e),
    }
}

async fn revoke_token(
    State(state): State<Arc<AppState>>,
    axum::Extension(p): axum::Extension<Principal>,
    axum::extract::Path(token): axum::extract::Path<String>,
) -> Response {
    match tokens::revoke(
        state.store.as_ref(),
        &state.ledger,
        now_of(&state),
        &token,
        &p.name,
    )
    .await
    {
        Ok(r) => (
            StatusCode::CREATED,
            Json(json!({"token": token, "revoked": true, "record": r.id})),
        )
            .into_response(),
        Err(e) => app_error(e),
    }
}

async fn register(State(state): State<Arc<AppState>>) -> Response {
    match state.store.documents().await {
        Ok(list) => Json(
            list.iter()
                .map(|d| json!({"doc_id": d.doc_id, "title": d.title, "level": d.classification.to_string(),
                                "owner": d.owner_id}))
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => internal(e),
    }
}

/// Whose documents a principal may see findings of: an owner their own
/// (none without a person), an administrator all.
pub(crate) fn exposure_scope(p: &Principal) -> Option<Option<String>> {
    match p.role {
        Role::Admin => Some(None),
        Role::Owner => p.user_id.clone().map(Some),
        _ => None,
    }
}

async fn register_exposure(
    State(state): State<Arc<AppState>>,
    axum::Extension(p): axum::Extension<Principal>,
) -> Response {
    let Some(owner) = exposure_scope(&p) else {
        return Json(Vec::<Value>::new()).into_response();
    };
    match exposure::current(state.store.as_ref(), owner.as_deref()).await {
        Ok(list) => Json(
            list.iter()
                .map(|(f, recorded)| {
                    json!({"doc_id": f.doc, "title": f.title, "level": f.level.to_string(), "owner": f.owner,
                           "may": f.may, "did": f.did, "opens": f.opens, "since": f.since, "last": f.last,
                           "units": f.units.iter().map(|(u, n)| json!({"unit": u, "people": n})).collect::<Vec<_>>(),
                           "exposed": f.exposed, "recorded": recorded})
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => internal(e),
    }
}

/// A use case's refusal as HTTP, in one place.
pub(crate) fn app_error(e: custodian_app::error::AppError) -> Response {
    use custodian_app::error::AppError;
    match e {
        AppError::NotFound(m) => problem(StatusCode::NOT_FOUND, &m),
        AppError::Invalid(m) => problem(StatusCode::UNPROCESSABLE_ENTITY, &m),
        AppError::TooLarge(m) => problem(StatusCode::PAYLOAD_TOO_LARGE, &m),
        AppError::Forbidden(m) => problem(StatusCode::FORBIDDEN, &m),
        AppError::Conflict(m) => problem(StatusCode::CONFLICT, &m),
        e @ (AppError::Store(_) | AppError::Import(_) | AppError::Io(_) | AppError::Failed(_)) => {
            internal(e)
        }
    }
}

pub(crate) fn now_of(state: &AppState) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::from_timestamp((state.clock)(), 0)
        .unwrap_or_default()
        .fixed_offset()
}

async fn list_cases(State(state): State<Arc<AppState>>) -> Response {
    match cases::list(state.store.as_ref()).await {
        Ok(list) => Json(
            list.into_iter()
                .map(|(id, st)| json!({"case": id, "state": st}))
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => app_error(e),
    }
}

#[derive(serde::Deserialize)]
struct OpenCase {
    alert: String,
}

async fn open_case(
    State(state): State<Arc<AppState>>,
    axum::Extension(p): axum::Extension<Principal>,
    body: axum::body::Bytes,
) -> Response {
    let body: OpenCase = match json_body(&body) {
        Ok(b) => b,
        Err((s, why)) => return problem(s, &why),
    };
    match cases::open(
        state.store.as_ref(),
        &state.ledger,
        now_of(&state),
        &body.alert,
        &p.name,
    )
    .await
    {
        Ok((case, r, _)) => (
            StatusCode::CREATED,
            Json(json!({"case": case, "record": r.id})),
        )
            .into_response(),
        Err(e) => app_error(e),
    }
}

async fn show_case(
    State(state): State<Arc<AppState>>,
    axum::extract::Path(case): axum::extract::Path<String>,
) -> Response {
    match cases::existing(state.store.as_ref(), &case).await {
        Ok((a, st)) => Json(json!({"case": case, "state": st,
            "actions": a.iter().map(|(r, v)| json!({"record": r.id, "body": v})).collect::<Vec<_>>()}))
        .into_response(),
        Err(e) => app_error(e),
    }
}

async fn case_action(
    State(state): State<Arc<AppState>>,
    axum::Extension(p): axum::Extension<Principal>,
    axum::extract::Path(case): axum::extract::Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let action: cases::CaseAction = match json_body(&body) {
        Ok(b) => b,
        Err((s, why)) => return problem(s, &why),
    };
    let now = now_of(&state);
    match cases::apply(
        state.store.as_ref(),
        &state.ledger,
        now,
        &case,
        action,
        &p.name,
    )
    .await
    {
        Ok(r) => (
            StatusCode::CREATED,
            Json(json!({"case": case, "record": r.id})),
        )
            .into_response(),
        Err(e) => app_error(e),
    }
}

async fn case_bundle(
    State(state): State<Arc<AppState>>,
    axum::Extension(p): axum::Extension<Principal>,
    axum::extract::Path(case): axum::extract::Path<String>,
) -> Response {
    // The bundle names its subject (it is for the police and the court):
    // exporting it is a ledgered reveal of that subject, by this caller.
    let subject = match cases::existing(state.store.as_ref(), &case).await {
        Ok((_, st)) => st["subject"].as_str().unwrap_or_default().to_string(),
        Err(e) => return app_error(e),
    };
    if let Err(e) = cases::reveal(
        state.store.as_ref(),
        &state.ledger,
        now_of(&state),
        &subject,
        &p.name,
        &format!("evidence bundle of {case}"),
    )
    .await
    {
        return app_error(e);
    }
    match cases::export(state.store.as_ref(), &state.ledger, now_of(&state), &case).await {
        Ok(e) => {
            let disposition = format!(
                "attachment; filename=\"{}.zip\"",
                case.replace(['"', '\\', '/'], "_")
            );
            let mut r = e.zip.into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/zip"),
            );
            if let Ok(v) = HeaderValue::from_str(&disposition) {
                r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            r
        }
        Err(e) => app_error(e),
    }
}
