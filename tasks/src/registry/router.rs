//! `handle`: maps a request to a response; the stub's whole API.
//!
//! | route                   | answer |
//! |-------------------------|--------|
//! | `GET /health`           | 200 `{"status":"healthy","mode":"dev-stub"}` |
//! | `POST /checkpoints`     | 201 the stored record (`{"id", "created_at", "checkpoint"}`), 400 on bad JSON |
//! | `GET /checkpoints`      | 200 `{"ids": [...], "count": N}` |
//! | `GET /checkpoints/{id}` | 200 the record, or 404 |
//! | known path, other verb  | 405 with `Allow` |
//! | anything else           | 404 |

use serde_json::{Value, json};

use super::{CheckpointStore, Request, Response};

/// Answers one request.
#[must_use]
pub fn handle(request: &Request, store: &CheckpointStore) -> Response {
    let method = request.method.as_str();
    let path = request.path.trim_end_matches('/');
    match path {
        "/health" => match method {
            "GET" => Response::json(200, json!({"status": "healthy", "mode": "dev-stub"})),
            _ => not_allowed(request, "GET"),
        },
        "/checkpoints" => match method {
            "POST" => create(request, store),
            "GET" => {
                let ids = store.ids();
                Response::json(200, json!({"count": ids.len(), "ids": ids}))
            }
            _ => not_allowed(request, "GET, POST"),
        },
        _ => match path.strip_prefix("/checkpoints/") {
            Some(id) if !id.is_empty() && !id.contains('/') => match method {
                "GET" => store.get(id).map_or_else(
                    || Response::error(404, "not_found", &format!("no checkpoint with id `{id}`")),
                    |record| Response::json(200, record),
                ),
                _ => not_allowed(request, "GET"),
            },
            _ => Response::error(
                404,
                "not_found",
                &format!("no route for {} {}", request.method, request.path),
            ),
        },
    }
}

fn create(request: &Request, store: &CheckpointStore) -> Response {
    if request.body.is_empty() {
        return Response::error(400, "bad_request", "a checkpoint needs a JSON body");
    }
    match serde_json::from_slice::<Value>(&request.body) {
        Ok(checkpoint) => {
            let record = store.insert(checkpoint);
            let location = format!("/checkpoints/{}", record["id"].as_str().unwrap_or_default());
            Response::json(201, record).with_header("Location", location)
        }
        Err(err) => Response::error(400, "bad_request", &format!("malformed JSON body: {err}")),
    }
}

fn not_allowed(request: &Request, allow: &'static str) -> Response {
    Response::error(
        405,
        "method_not_allowed",
        &format!(
            "{} is not allowed on {} (allowed: {allow})",
            request.method, request.path
        ),
    )
    .with_header("Allow", allow.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, path: &str, body: &str) -> Request {
        Request {
            method: method.into(),
            path: path.into(),
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn routes_table() {
        let store = CheckpointStore::new();
        let table = [
            ("GET", "/health", "", 200),
            ("GET", "/health/", "", 200),
            ("POST", "/health", "", 405),
            ("POST", "/checkpoints", "{\"step\": 3}", 201),
            ("POST", "/checkpoints", "{not json", 400),
            ("POST", "/checkpoints", "", 400),
            ("GET", "/checkpoints", "", 200),
            ("GET", "/checkpoints/ckpt-000001", "", 200),
            ("GET", "/checkpoints/ckpt-999999", "", 404),
            ("DELETE", "/checkpoints/ckpt-000001", "", 405),
            ("PUT", "/checkpoints", "", 405),
            ("GET", "/checkpoints/a/b", "", 404),
            ("GET", "/", "", 404),
            ("GET", "/nope", "", 404),
        ];
        for (method, path, body, status) in table {
            let response = handle(&request(method, path, body), &store);
            assert_eq!(
                response.status, status,
                "{method} {path} {body:?}: {}",
                response.body
            );
        }
    }

    #[test]
    fn health_body_is_exact() {
        let response = handle(&request("GET", "/health", ""), &CheckpointStore::new());
        assert_eq!(
            response.body,
            json!({"status": "healthy", "mode": "dev-stub"})
        );
    }

    #[test]
    fn created_checkpoint_can_be_read_back() {
        let store = CheckpointStore::new();
        let created = handle(
            &request("POST", "/checkpoints", "{\"node\":\"ranker\"}"),
            &store,
        );
        let id = created.body["id"].as_str().unwrap().to_owned();
        assert!(
            created
                .headers
                .contains(&("Location", format!("/checkpoints/{id}")))
        );
        let fetched = handle(&request("GET", &format!("/checkpoints/{id}"), ""), &store);
        assert_eq!(fetched.body, created.body);
        assert_eq!(fetched.body["checkpoint"]["node"], "ranker");
    }

    #[test]
    fn errors_are_json_with_a_message() {
        let response = handle(&request("GET", "/nope", ""), &CheckpointStore::new());
        assert_eq!(response.body["error"], "not_found");
        assert_eq!(response.body["message"], "no route for GET /nope");
        let response = handle(&request("POST", "/health", ""), &CheckpointStore::new());
        assert!(response.headers.contains(&("Allow", "GET".to_owned())));
    }
}
