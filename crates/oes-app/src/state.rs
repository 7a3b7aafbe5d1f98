//! What every request handler can reach.

use std::sync::Arc;

use crate::config::Config;
use crate::db::Db;
use crate::redis_link::RedisLink;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub redis: RedisLink,
}
