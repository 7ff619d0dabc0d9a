//! The web UI at `/`: the files `web/` builds into `web/dist` (`scripts/build-web.sh`),
//! embedded in the binary so that no separate web server is needed.
//!
//! Every path outside `/api/` that is not a file answers `index.html`, so that the UI's own
//! routes (`/tasks/orders`) survive a reload. Hashed files under `assets/` never change and are
//! cached for a year; `index.html` is revalidated on every load, so a new binary's UI shows at
//! once. A binary built before `web/dist` existed answers a page saying how to build the UI.

use axum::body::Body;
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use rust_embed::Embed;

#[derive(Embed)]
#[folder = "../web/dist"]
// `cargo build` and clippy must work before (or without) the web build.
#[allow_missing = true]
struct Assets;

const INDEX: &str = "index.html";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>Sluice: web UI not built</title>\
<body style=\"font-family:sans-serif;max-width:40em;margin:3em auto\"><h1>The web UI was not built</h1>\
<p>This <code>sluice</code> binary was compiled without the web UI's files. Build them with \
<code>scripts/build-web.sh</code> (Node.js 20 and npm; it runs <code>npm ci &amp;&amp; npm run build</code> \
in <code>web/</code>), then build <code>sluice</code> again.</p>\
<p>The REST API works meanwhile: <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>.</p>";

/// The UI's routes, to merge beside the API's (which keeps every `/api/v1` path).
pub fn router() -> Router {
    Router::new().fallback(serve)
}

async fn serve(method: Method, uri: Uri) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let path = uri.path().trim_start_matches('/');
    if path == "api" || path.starts_with("api/") {
        let body = serde_json::json!({ "error": format!("no such API route: {}", uri.path()) });
        return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
    }
    if !path.is_empty() {
        if let Some(file) = Assets::get(path) {
            let cache = if path.starts_with("assets/") {
                IMMUTABLE
            } else {
                REVALIDATE
            };
            return file_response(file, cache);
        }
        // A missing hashed file is an old page asking for an old build: not the index.
        if path.starts_with("assets/") {
            return StatusCode::NOT_FOUND.into_response();
        }
    }
    match Assets::get(INDEX) {
        Some(index) => file_response(index, REVALIDATE),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            NOT_BUILT,
        )
            .into_response(),
    }
}

fn file_response(file: rust_embed::EmbeddedFile, cache: &'static str) -> Response {
    let mime = file.metadata.mimetype().to_string();
    let content_type = if mime.starts_with("text/") || mime == "application/javascript" {
        format!("{mime}; charset=utf-8")
    } else {
        mime
    };
    Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, cache)
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .body(Body::from(file.data.into_owned()))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
