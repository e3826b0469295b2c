//! The OpenAPI document, built from the role table so it covers every
//! route.

use axum::Json;
use serde_json::{json, Value};

use crate::{Access, COOKIE, ROUTES};

/// The OpenAPI document, from the route table.
pub fn openapi_document() -> Value {
    let mut paths = serde_json::Map::new();
    for r in ROUTES {
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        let security = match r.access {
            Access::Public => json!([]),
            Access::Roles(_) => json!([{"session": []}, {"token": []}]),
            Access::Console(_) => json!([{"session": []}]),
        };
        let roles: Vec<&str> = match r.access {
            Access::Public => vec![],
            Access::Roles(rs) | Access::Console(rs) => rs.iter().map(|x| x.as_str()).collect(),
        };
        let mut op = json!({
            "summary": r.summary,
            "security": security,
            "x-roles": roles,
            "responses": {
                "200": {"description": "OK"},
                "401": {"description": "not logged in"},
                "403": {"description": "role not allowed, or missing CSRF token"},
                "429": {"description": "too many failed logins"},
            },
        });
        if r.path == "/api/login" {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {
                "type": "object", "required": ["username", "password"],
                "properties": {"username": {"type": "string"}, "password": {"type": "string"}}}}}});
        }
        let params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        match (r.method, r.path) {
            ("POST", "/api/cases") => {
                op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["alert"], "properties": {"alert": {"type": "string"}}}}}});
            }
            ("POST", "/api/cases/{case}/actions") => {
                op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["action"],
                    "properties": {"action": {"type": "string", "enum": ["note", "assign", "status"]},
                                   "text": {"type": "string"}, "to": {"type": "string"},
                                   "status": {"type": "string", "enum": ["open", "closed"]},
                                   "reason": {"type": "string"}}}}}});
            }
            ("POST", "/api/alerts/{alert}/ack") => {
                op["requestBody"] = json!({"required": false, "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"note": {"type": "string"}}}}}});
            }
            ("POST", "/api/events") => {
                op["requestBody"] = json!({"required": true, "content": {"text/plain": {"schema": {
                    "type": "string", "description": "events.jsonl lines (the interchange format)"}}}});
            }
            _ => {}
        }
        if r.path == "/api/contact-reports" {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {
                "type": "object", "description": "a contact report in the interchange format (contacts.jsonl); reporter and reported_at are set by the server"}}}});
        }
        entry[r.method.to_lowercase()] = op;
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Custodian", "version": env!("CARGO_PKG_VERSION")},
        "components": {"securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": COOKIE},
            "token": {"type": "http", "scheme": "bearer"},
        }},
        "paths": paths,
    })
}

pub(crate) async fn openapi() -> Json<Value> {
    Json(openapi_document())
}
