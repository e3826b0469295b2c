//! `/api/ledger/*`: status, the latest checkpoint, proofs, full verification.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::{internal, problem, AppState};

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

pub(crate) async fn ledger_status(State(state): State<Arc<AppState>>) -> Response {
    match ledger_status_json(&state).await {
        Ok(v) => Json(v).into_response(),
        Err(r) => r,
    }
}

pub(crate) async fn ledger_checkpoint(State(state): State<Arc<AppState>>) -> Response {
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

pub(crate) async fn ledger_proof(
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

pub(crate) async fn ledger_verify(State(state): State<Arc<AppState>>) -> Response {
    match verify_ledger(&state).await {
        Ok(v) => Json(v).into_response(),
        Err((s, why)) => problem(s, &why),
    }
}
