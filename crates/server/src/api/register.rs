//! `/api/people` and `/api/register`: the directory, the register, and
//! register exposure (an owner sees their own).

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use custodian_app::exposure;

use crate::{internal, AppState, Principal, Role};

pub(crate) async fn people(State(state): State<Arc<AppState>>) -> Response {
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

pub(crate) async fn register(State(state): State<Arc<AppState>>) -> Response {
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

pub(crate) async fn register_exposure(
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
