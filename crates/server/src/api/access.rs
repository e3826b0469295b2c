//! `/api/access`: the auditor's list of analysts' reads of one person
//! (`custodian_app::access`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::{app_error, problem, AppState};

/// `?person=ID`: every view and reveal of that person, oldest first.
pub(crate) async fn access_log(
    State(state): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(person) = q.get("person").filter(|p| !p.trim().is_empty()) else {
        return problem(StatusCode::BAD_REQUEST, "say whose reads: ?person=ID");
    };
    match custodian_app::access::reads_of(state.store.as_ref(), person).await {
        Ok(reads) => Json(json!({"person": person, "reads": reads})).into_response(),
        Err(e) => app_error(e),
    }
}
