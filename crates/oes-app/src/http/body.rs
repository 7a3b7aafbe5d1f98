//! Response bodies several areas answer with.

use axum::Json;
use serde::Serialize;

/// `{message}`: the answer of most account routes.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct MessageBody {
    message: &'static str,
}

impl MessageBody {
    pub(crate) fn json(message: &'static str) -> Json<Self> {
        Json(MessageBody { message })
    }
}

/// `{success: true, message}`: the answer of routes that change something and return nothing.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SuccessMessage {
    /// Always true (failures use the error shape).
    success: bool,
    message: &'static str,
}

impl SuccessMessage {
    pub(crate) fn json(message: &'static str) -> Json<Self> {
        Json(SuccessMessage {
            success: true,
            message,
        })
    }
}
