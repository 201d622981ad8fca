//! The reverse proxy: `/tensorboard/<TensorboardId>/…` → the TensorBoard's own tensorboard
//! process on 127.0.0.1 (started with `--path_prefix /tensorboard/<TensorboardId>`, so paths
//! pass through unchanged).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use opendlc_core::tensorboard::TensorboardStatus;
use opendlc_core::time::now_millis;

use super::access::{authorize_tensorboard_access, Access, COOKIE};
use super::Tensorboards;
use crate::proxy::{database_error, error, forward, keep_token, query_param, refused};

/// `/tensorboard/<id>`: the path prefix of a TensorBoard.
pub fn prefix(id: &str) -> String {
    format!("/tensorboard/{id}")
}

pub fn router(tbs: Arc<Tensorboards>) -> axum::Router {
    axum::Router::new()
        .route("/tensorboard/{*rest}", axum::routing::any(proxy))
        .with_state(tbs)
}

async fn proxy(State(tbs): State<Arc<Tensorboards>>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let id = path
        .strip_prefix("/tensorboard/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
        .to_string();
    let query = request.uri().query().unwrap_or_default().to_string();
    let query_token = query_param(&query, "token");
    let tb = match tbs.store.get_tensorboard(&id) {
        Ok(Some(tb)) => tb,
        Ok(None) => {
            return error(
                StatusCode::NOT_FOUND,
                "EntityNotFound.Tensorboard",
                &format!("The TensorBoard {id} does not exist."),
            )
        }
        Err(e) => {
            tracing::error!("failed to read a TensorBoard: {e}");
            return database_error();
        }
    };
    let access =
        match authorize_tensorboard_access(
            &tbs,
            &tb,
            request.headers(),
            crate::net::client_ip(request.extensions()),
            query_token.as_deref(),
            now_millis() / 1000,
        ) {
            Ok(access) => access,
            Err(denied) => return refused(
                denied,
                "Opening a TensorBoard needs the server's credentials (HTTP Basic: an access key \
                 id and secret) or a shared link (GetTensorboardSharedUrl).",
            ),
        };
    let (Some(port), TensorboardStatus::Running) = (tb.port, tb.status) else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            &format!("The TensorBoard {id} is {}, not Running.", tb.status),
        );
    };
    let mut response = match forward(&tbs.http, request, ("127.0.0.1", port), &path, &query).await {
        Ok(response) => response,
        Err(e) => {
            tracing::warn!(tensorboard.id = %id, "proxy: {e}");
            return error(
                StatusCode::BAD_GATEWAY,
                "ServiceUnavailable",
                &format!("The TensorBoard {id} did not answer: {e}"),
            );
        }
    };
    if let Access::Shared {
        token,
        claims,
        from_query: true,
    } = access
    {
        keep_token(&mut response, COOKIE, &token, claims.exp, &prefix(&id));
    }
    response
}
