//! `POST /api/events`: a batch of events, through the import's path.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::{app_error, now_of, AppState, Principal};

/// A batch of events.jsonl lines, through the import's own path
/// (`custodian_app::ingest`): bad lines are refused with their line number
/// and reason and kept as rejects, the rest stored; a repeated event id is
/// stored once.
pub(crate) async fn ingest_events(
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
        Ok(b) => {
            if b.new > 0 {
                state.detecting.ring();
            }
            Json(json!({
            "accepted": b.accepted, "new": b.new, "already_stored": b.already_stored,
            "rejected": b.rejected.iter().map(|(line, reason)| json!({"line": line, "reason": reason})).collect::<Vec<_>>(),
        }))
        .into_response()
        }
        Err(e) => app_error(e),
    }
}
