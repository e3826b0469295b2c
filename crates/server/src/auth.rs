//! Who is calling: local accounts (Argon2id), session cookies (HMAC-signed,
//! HttpOnly, Secure, SameSite=Strict, 8 hours, a CSRF token each), API
//! tokens (only their SHA-256 stored), and logging in and out (attempts
//! throttled by [`crate::throttle`]).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::{json_body, problem, throttle, AppState, ClientAddr, Role, COOKIE, SESSION_SECS};

pub use custodian_app::accounts::{hash_password, token_sha256, verify_password};

/// Who is calling.
#[derive(Debug, Clone)]
pub struct Principal {
    pub name: String,
    pub role: Role,
    pub user_id: Option<String>,
    /// The session's CSRF token (None for API tokens).
    pub(crate) csrf: Option<String>,
}

pub(crate) fn sign(key: &[u8; 32], payload: &[u8]) -> Vec<u8> {
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(payload);
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

pub(crate) fn session_cookie(state: &AppState, p: &Principal, csrf: &str) -> String {
    let payload = json!({"u": p.name, "r": p.role.as_str(), "p": p.user_id, "e": (state.clock)() + SESSION_SECS, "c": csrf})
        .to_string();
    let mac = sign(&state.session_key, payload.as_bytes());
    format!(
        "{COOKIE}=v1.{}.{}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age={SESSION_SECS}",
        B64.encode(payload.as_bytes()),
        B64.encode(mac)
    )
}

pub(crate) fn from_cookie(state: &AppState, headers: &HeaderMap) -> Option<Principal> {
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

pub(crate) async fn from_token(
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

#[derive(serde::Deserialize)]
pub(crate) struct Login {
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
pub(crate) const MAX_NAME_BYTES: usize = 256;

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

pub(crate) async fn login(
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

pub(crate) async fn logout(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
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

pub(crate) async fn me(axum::Extension(p): axum::Extension<Principal>) -> Json<Value> {
    Json(json!({"name": p.name, "role": p.role.as_str(), "user_id": p.user_id}))
}
