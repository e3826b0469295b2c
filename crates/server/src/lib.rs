//! `custodian serve`: the JSON API and the console, a thin frontend over
//! `custodian_app`: each handler authorises (the role table), parses, calls
//! a use case and renders. This file holds the state, the layers every
//! request passes (`enforce`, `masked`, `error_shape`), the router and the
//! one mapping of use-case errors to statuses ([`app_error`]); `routes`
//! holds the role table, `auth` accounts, sessions and tokens, `openapi` the
//! document, `api/*` the JSON handlers per resource, `console` the pages.
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

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use subtle::ConstantTimeEq;

use custodian_store::{LedgerContext, Store};

pub mod api;
pub mod auth;
pub mod console;
pub mod detecting;
pub mod dropdir;
pub mod listen;
pub mod openapi;
pub mod outbox;
pub mod pseudonyms;
pub mod routes;
pub mod throttle;

pub use api::alerts::AlertFilter;
pub use auth::{hash_password, token_sha256, Principal};
pub use openapi::openapi_document;
pub use routes::{Access, Role, Route, ROUTES};

use api::{
    access::*, alerts::*, cases::*, contacts::*, ingest::*, ledger::*, register::*, tokens::*,
};
use auth::*;
use openapi::*;

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
    /// Continuous detection's bell and status (see [`detecting`]).
    pub(crate) detecting: detecting::Detecting,
    /// The notification sender's bell and counts (see [`outbox`]).
    pub(crate) outbox: outbox::Outbox,
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
            detecting: Default::default(),
            outbox: Default::default(),
        }
    }
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
    let (who, roles) = match route.access {
        Access::Public => {
            let resp = next.run(req).await;
            return count(&state, &path, resp);
        }
        Access::Console(roles) => {
            let Some(who) = session(&state, req.headers()).await else {
                return count(
                    &state,
                    &path,
                    axum::response::Redirect::to(&format!("/ui/login?next={path}")).into_response(),
                );
            };
            (who, roles)
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
            (who, roles)
        }
    };
    if !roles.contains(&who.role) {
        return count(
            &state,
            &path,
            problem(StatusCode::FORBIDDEN, "your role may not do this"),
        );
    }
    // An API call in a session (not a console form, whose CSRF field the
    // page checks) carries the session's CSRF token as a header.
    if matches!(route.access, Access::Roles(_)) && method != Method::GET && method != Method::HEAD {
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
    let resp = if analyst {
        masked(&state, resp).await
    } else {
        resp
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
        .route("/api/access", get(access_log))
        .route("/api/tokens", get(list_tokens))
        .route("/api/tokens/{token}/revoke", post(revoke_token))
        .route("/api/register", get(register))
        .route("/api/register/exposure", get(register_exposure))
        .route("/api/cases", get(list_cases).post(open_case))
        .route("/api/cases/{case}", get(show_case))
        .route("/api/cases/{case}/actions", post(case_action))
        .route("/api/cases/{case}/bundle", get(case_bundle))
        .route("/", get(|| async { axum::response::Redirect::to("/ui/") }))
        .route("/ui/", get(console::home_page))
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
        .route("/ui/alerts/{alert}", get(console::alert_page))
        .route("/ui/alerts/{alert}/ack", post(console::ack_alert))
        .route("/ui/alerts/{alert}/status", post(console::set_alert_status))
        .route("/ui/people/{person}", get(console::person_page))
        .route("/ui/people/{person}/reveal", post(console::reveal_name))
        .route("/ui/contacts", get(console::contacts_page))
        .route(
            "/ui/cases",
            get(console::cases_page).post(console::open_case),
        )
        .route("/ui/ledger", get(console::ledger_page))
        .route("/ui/access", get(console::access_page))
        .route("/ui/ledger/verify", post(console::ledger_verify))
        .route("/ui/cases/{case}", get(console::case_page))
        .route("/ui/cases/{case}/notes", post(console::add_note))
        .route("/ui/cases/{case}/actions", post(console::case_action_form))
        .route("/ui/cases/{case}/bundle", get(case_bundle))
        .route("/ui/register/exposure", get(console::exposure_page))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), enforce))
        .fallback(|| async { problem(StatusCode::NOT_FOUND, "no such route") })
        .layer(axum::middleware::from_fn(error_shape))
        .with_state(state)
}

/// Serves on `listener` until the task is dropped, under the default
/// [`listen::Limits`]. The caller binds it first, so that a port already
/// taken is found before anything else is done.
pub async fn serve(
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> std::io::Result<()> {
    listen::serve(listener, app(state), listen::Limits::default(), tls).await
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
    detection_metrics(&state, &mut out);
    outbox_metrics(&state, &mut out);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        out,
    )
        .into_response()
}

/// The notification sender's figures (none when it does not run).
fn outbox_metrics(state: &AppState, out: &mut String) {
    if !state.outbox.running.load(Ordering::Relaxed) {
        return;
    }
    let c = &state.outbox.counts;
    out.push_str("# HELP custodian_notifications_total Notifications by result (failed: one attempt; undeliverable: given up).\n# TYPE custodian_notifications_total counter\n");
    for (k, v) in [
        ("sent", &c.sent),
        ("failed", &c.failed),
        ("undeliverable", &c.undeliverable),
    ] {
        out.push_str(&format!(
            "custodian_notifications_total{{result=\"{k}\"}} {}\n",
            v.load(Ordering::Relaxed)
        ));
    }
}

/// Continuous detection's figures (none when it does not run).
fn detection_metrics(state: &AppState, out: &mut String) {
    let status = state.detecting.status();
    let Some(step) = status.last.filter(|_| status.running) else {
        return;
    };
    let now = (state.clock)();
    let st = step.stats;
    let rows = [
        (
            "custodian_detect_events_total",
            "counter",
            "Stored events continuous detection has read.",
            st.events.to_string(),
        ),
        (
            "custodian_detect_late_events_total",
            "counter",
            "Events that arrived later than the window (judged where they arrived).",
            st.late.to_string(),
        ),
        (
            "custodian_detect_unknown_user_events_total",
            "counter",
            "Events of people not in the directory (not judged).",
            st.unknown_users.to_string(),
        ),
        (
            "custodian_alerts_raised_total",
            "counter",
            "Alerts continuous detection stored.",
            st.alerts.to_string(),
        ),
        (
            "custodian_alerts_withdrawn_total",
            "counter",
            "Alerts withdrawn because a late event changed the judgement.",
            st.withdrawn.to_string(),
        ),
        (
            "custodian_detect_held_events",
            "gauge",
            "Events held ahead of the watermark.",
            step.held.to_string(),
        ),
        (
            "custodian_detect_step_failures_total",
            "counter",
            "Detection steps that failed.",
            status.failures.to_string(),
        ),
        (
            "custodian_detect_step_seconds",
            "gauge",
            "How long the last detection step took.",
            format!("{:.3}", status.step_seconds),
        ),
        (
            "custodian_detect_lag_seconds",
            "gauge",
            "Seconds since the last detection step finished.",
            (now - status.finished_at).max(0).to_string(),
        ),
    ];
    let mut rows = rows.to_vec();
    if step.newest_us > i64::MIN {
        let behind = now - step.newest_us.div_euclid(1_000_000);
        rows.push((
            "custodian_detect_data_lag_seconds",
            "gauge",
            "Seconds between now and the newest event time detection has taken.",
            behind.to_string(),
        ));
    }
    for (name, kind, help, v) in rows {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
        ));
    }
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
