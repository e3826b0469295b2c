//! `/api/contacts`: contact-report groups, and filing one's own report.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use custodian_app::cases;

use crate::{app_error, json_body, now_of, problem, AppState, Principal};

/// `?all=1` includes reports linked to no other (groups of one).
pub(crate) async fn contact_groups(
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

pub(crate) async fn file_contact_report(
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
