//! `/api/tokens`: listing and revoking API tokens (administrators).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use custodian_app::tokens;

use crate::{app_error, internal, now_of, AppState, Principal};

pub(crate) async fn list_tokens(State(state): State<Arc<AppState>>) -> Response {
    match tokens::list(state.store.as_ref()).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => internal(e),
    }
}

pub(crate) async fn revoke_token(
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
