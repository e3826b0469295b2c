//! `/api/cases`: listing, opening, showing and acting on cases, and the
//! evidence bundle (whose download records a reveal of its subject).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use custodian_app::cases;

use crate::{app_error, json_body, now_of, problem, AppState, Principal};

pub(crate) async fn list_cases(State(state): State<Arc<AppState>>) -> Response {
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
pub(crate) struct OpenCase {
    alert: String,
}

pub(crate) async fn open_case(
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
        // An alert has one case: opening it again answers with that one.
        Ok(o) => (
            if o.new {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            },
            Json(json!({"case": o.case, "record": o.record.id, "existing": !o.new})),
        )
            .into_response(),
        Err(e) => app_error(e),
    }
}

pub(crate) async fn show_case(
    State(state): State<Arc<AppState>>,
    axum::Extension(p): axum::Extension<Principal>,
    axum::extract::Path(case): axum::extract::Path<String>,
) -> Response {
    match cases::existing(state.store.as_ref(), &case).await {
        Ok((a, st)) => {
            let subject = st["subject"].as_str().unwrap_or("");
            if let Err(r) = case_viewed(&state, &p, &case, subject).await {
                return r;
            }
            Json(json!({"case": case, "state": st,
                "actions": a.iter().map(|(r, v)| json!({"record": r.id, "body": v})).collect::<Vec<_>>()}))
            .into_response()
        }
        Err(e) => app_error(e),
    }
}

/// Puts `p`'s view of a case on the record (see `custodian_app::access`).
pub(crate) async fn case_viewed(
    state: &AppState,
    p: &Principal,
    case: &str,
    subject: &str,
) -> Result<(), Response> {
    let viewed = custodian_app::access::Viewed::Case;
    let at = now_of(state);
    custodian_app::access::record(
        state.store.as_ref(),
        &state.ledger,
        at,
        &p.name,
        viewed,
        case,
        subject,
    )
    .await
    .map(|_| ())
    .map_err(app_error)
}

pub(crate) async fn case_action(
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

pub(crate) async fn case_bundle(
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
