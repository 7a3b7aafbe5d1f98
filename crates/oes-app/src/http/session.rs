//! Authentication extractors: [`CurrentUser`] (a live session of a verified user) and
//! [`AdminUser`]; plus the session cookie and the client address.
//!
//! The session token travels in the HttpOnly cookie `accessToken` for browsers, and may also be
//! sent as `Authorization: Bearer <token>` by non-browser clients, which is why login also
//! returns it in its JSON. This is deliberate: the token is an opaque server-side session
//! (revocable, stored only hashed), not a self-contained JWT, so returning it once to the
//! client that just proved its password gives away nothing the cookie does not. Browsers should
//! ignore the JSON copy and rely on the cookie.
//!
//! CSRF: a cookie is sent by the browser on its own, so a cookie-authenticated POST, PUT, PATCH or
//! DELETE must come from an allowed origin (Origin, or else Referer, exactly equal to one of
//! `allowed_origins`: APP_BASE_URL's, API_BASE_URL's or one in ALLOWED_ORIGINS — the list CORS
//! answers too, see `http::cors`). A request with neither header is not from a
//! browser form or script (browsers send Origin on every cross-site write) and is let through.
//! Bearer-authenticated requests are exempt: a browser never adds that header by itself.
//!
//! Cookies carry the deployment's `CookiePolicy`: `Domain=` with COOKIE_DOMAIN, and
//! `SameSite=None; Secure` when an allowed origin is on another site than the API.
//!
//! A successful login also sets the `oesDevice` cookie, sent back only to the login route: it
//! marks the browser as one that signed in to that account before, which the login limits let
//! through while the account is locked for everyone else (`service::accounts`'s lockout).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};

use crate::domain::accounts::Role;
use crate::domain::ids::{SessionId, UserId};
use crate::http::ApiError;
use crate::service::accounts::{self, AccountsConfig};
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "accessToken";

/// A signed-in user with a verified email, from a live session.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: UserId,
    pub email: String,
    pub full_name: String,
    pub role: Role,
    pub email_verified: bool,
    pub session_id: SessionId,
}

/// A [`CurrentUser`] whose role is ADMIN.
#[derive(Debug, Clone)]
pub struct AdminUser(pub CurrentUser);

/// A signed-in user whose email may not be verified yet (routes that must work before
/// verification).
#[derive(Debug, Clone)]
pub struct SignedIn(pub CurrentUser);

/// Where the token came from; only cookies are subject to the CSRF check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    Cookie,
    Bearer,
}

/// The session token of a request: the Bearer header first (an explicit choice of the client),
/// then the cookie.
pub fn session_token(headers: &HeaderMap) -> Option<(String, TokenSource)> {
    if let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        return Some((token.to_owned(), TokenSource::Bearer));
    }
    cookie(headers, SESSION_COOKIE).map(|t| (t, TokenSource::Cookie))
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Refuses a state-changing request from a foreign origin (see the module doc).
pub fn check_origin(
    method: &Method,
    headers: &HeaderMap,
    config: &AccountsConfig,
) -> Result<(), ApiError> {
    if !matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) {
        return Ok(());
    }
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            headers
                .get(header::REFERER)
                .and_then(|v| v.to_str().ok())
                .and_then(|r| url::Url::parse(r).ok())
                .map(|u| u.origin().ascii_serialization())
        });
    match origin {
        None => Ok(()),
        Some(o) if config.allowed_origins.contains(&o) => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf_rejected",
            "this request came from an origin that may not act for this session",
        )),
    }
}

/// The client's address: the TCP peer, or with TRUST_PROXY_HEADERS the address the trusted
/// proxies in front of it received the request from.
pub fn client_ip(parts: &Parts, config: &AccountsConfig) -> Option<IpAddr> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())?;
    if !config.trust_proxy_headers {
        return Some(peer);
    }
    let forwarded = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        // An unreadable value must not let the entries around it join up: it reads as an
        // entry that is not an address, where the walk stops.
        .map(|v| v.to_str().unwrap_or("-"));
    Some(accounts::forwarded_client(
        peer,
        forwarded,
        &config.trusted_proxies,
    ))
}

/// The `Set-Cookie` value that stores a session token. Lax by default: sent on the app's own
/// pages and on top-level navigation to it, not on other sites' requests.
pub fn session_cookie(token: &str, config: &AccountsConfig) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; Max-Age={}{}",
        config.session_ttl.as_secs(),
        config.cookies.attributes("Lax")
    )
}

/// The device token the client holds (see `service::accounts`'s lockout), if any.
pub fn device_token(headers: &HeaderMap) -> Option<String> {
    cookie(headers, accounts::DEVICE_COOKIE).filter(|t| t.len() <= 256)
}

/// The `Set-Cookie` value that stores a device token: sent back only to the login route, where
/// it lets this client sign in to its account while the account is locked for others. Strict
/// by default, since only the app's own login form needs it.
pub fn device_cookie(token: &str, config: &AccountsConfig) -> String {
    format!(
        "{}={token}; Path={}; HttpOnly; Max-Age={}{}",
        accounts::DEVICE_COOKIE,
        accounts::DEVICE_COOKIE_PATH,
        accounts::DEVICE_COOKIE_MAX_AGE.as_secs(),
        config.cookies.attributes("Strict")
    )
}

/// The `Set-Cookie` value that removes the session cookie. It repeats the attributes the cookie
/// was set with: a browser removes only the cookie of the same name, domain and path, and
/// refuses a Secure or SameSite=None one from a value without `Secure`.
pub fn clear_session_cookie(config: &AccountsConfig) -> String {
    format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; Max-Age=0{}",
        config.cookies.attributes("Lax")
    )
}

fn unauthorized() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "sign in to use this route",
    )
}

async fn signed_in(parts: &Parts, state: &AppState) -> Result<CurrentUser, ApiError> {
    let (token, source) = session_token(&parts.headers).ok_or_else(unauthorized)?;
    if source == TokenSource::Cookie {
        check_origin(&parts.method, &parts.headers, &state.config.accounts)?;
    }
    let user = accounts::authenticate(state, &token)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(unauthorized)?;
    Ok(CurrentUser {
        id: user.user_id,
        email: user.email,
        full_name: user.full_name,
        role: user.role,
        email_verified: user.email_verified,
        session_id: user.session_id,
    })
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        signed_in(parts, state).await.map(SignedIn)
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let user = signed_in(parts, state).await?;
        if !user.email_verified {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "email_not_verified",
                "verify your email address first",
            ));
        }
        Ok(user)
    }
}

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        if user.role != Role::Admin {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this route is for administrators",
            ));
        }
        Ok(AdminUser(user))
    }
}

/// The client's address and user agent, for rate limits and security notices.
#[derive(Debug, Clone)]
pub struct ClientMeta(pub accounts::Client);

impl FromRequestParts<AppState> for ClientMeta {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(ClientMeta(accounts::Client {
            ip: client_ip(parts, &state.config.accounts),
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(256).collect()),
        }))
    }
}
