//! `/api/alerts`: the queue (filtered, ranked) and acknowledging an alert.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use custodian_app::cases;

use crate::{app_error, internal, json_body, now_of, problem, AppState, Principal};

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

pub(crate) async fn alerts(
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
pub(crate) struct Ack {
    note: Option<String>,
}

pub(crate) async fn ack_alert(
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
