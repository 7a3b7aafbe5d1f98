//! The API's route tree under `/api`, one line per area; each area's module owns its routes.

use axum::Router;

use crate::state::AppState;

pub fn api() -> Router<AppState> {
    Router::new()
        .merge(super::auth::routes())
        .merge(super::exam::area_routes())
        .merge(super::admin_monitoring::routes())
        .merge(super::admin_notifications::routes())
}
