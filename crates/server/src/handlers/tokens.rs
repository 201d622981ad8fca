//! GetToken: a share token that opens one job or TensorBoard for reading, without a
//! signature, until it expires.

use axum::response::Response;
use opendlc_api::{ErrorCode, GetTokenRequest, GetTokenResponseBody};
use opendlc_core::time::now_millis;

use super::{access, query};
use crate::auth::token::{Claims, TargetType};
use crate::http::{ok, ApiError, ApiRequest};
use crate::state::AppState;

/// Lifetime when ExpireTime is absent or 0 (documented default), and the longest allowed.
pub const DEFAULT_EXPIRE_SECS: i64 = 604_800;

pub fn get(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let q = GetTokenRequest::from_query(&request.query)?;
    let target_type = match query::text(&q.target_type) {
        None => TargetType::Job,
        Some(text) => TargetType::parse(&text).ok_or_else(|| {
            ApiError::invalid(
                "TargetType",
                format!("must be job or tensorboard, got \"{text}\""),
            )
        })?,
    };
    let target_id = query::text(&q.target_id).ok_or_else(|| {
        ApiError::new(
            ErrorCode::MissingParameter,
            "TargetId is mandatory for this action.",
        )
    })?;
    let lifetime = match q.expire_time {
        None | Some(0) => DEFAULT_EXPIRE_SECS,
        Some(secs) if (1..=DEFAULT_EXPIRE_SECS).contains(&secs) => secs,
        Some(secs) => {
            return Err(ApiError::invalid(
                "ExpireTime",
                format!("must be between 0 and {DEFAULT_EXPIRE_SECS} seconds, got {secs}"),
            ))
        }
    };
    let caller = request.caller()?;
    if caller.scope.is_some() {
        return Err(ApiError::forbidden("A share token cannot issue tokens."));
    }
    match target_type {
        TargetType::Job => {
            access::readable_job(state, request, &target_id)?;
        }
        TargetType::Tensorboard => {
            access::readable_tensorboard(state, request, &target_id)?;
        }
        TargetType::WebTerminal => {
            return Err(ApiError::invalid(
                "TargetType",
                "must be job or tensorboard",
            ))
        }
    }
    let now = now_millis() / 1000;
    let token = state.auth.tokens().issue(&Claims {
        exp: now + lifetime,
        iat: now,
        user_id: caller.user_id().to_string(),
        target_id,
        target_type,
        jti: None,
    });
    ok(&GetTokenResponseBody {
        request_id: Some(request.request_id.clone()),
        token: Some(token),
    })
}
