//! The one HTTP client of the tests: JSON in, [`Answer`] out, authenticated by a Bearer token or
//! by the session cookie (with or without an Origin, for the CSRF checks).

use reqwest::header::HeaderMap;
use serde_json::Value;

/// Sent with every request, so tests can find their own requests in what the app records.
pub const USER_AGENT: &str = "oes-test-client/1.0";

/// An answer: status, headers and JSON body (`Null` when the body is not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    /// The error code of the one error shape (`""` when the body has none).
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// The `accessToken` value the server set as a cookie.
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.strip_prefix("accessToken="))
            .map(|c| c.split(';').next().unwrap_or_default().to_owned())
    }
}

/// How a request is authenticated.
#[derive(Clone, Copy, Debug)]
pub enum Auth<'a> {
    None,
    Bearer(&'a str),
    /// The session cookie, with an Origin header (or none).
    Cookie(&'a str, Option<&'a str>),
}

/// A client of one running server.
#[derive(Clone, Debug)]
pub struct Client {
    pub http: reqwest::Client,
    /// `http://host:port` of the server, without a trailing slash.
    pub base: String,
}

impl Client {
    pub fn new(base: impl Into<String>) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: base.into(),
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        auth: Auth<'_>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("user-agent", USER_AGENT);
        match auth {
            Auth::None => {}
            Auth::Bearer(token) => req = req.bearer_auth(token),
            Auth::Cookie(token, origin) => {
                req = req.header("cookie", format!("accessToken={token}"));
                if let Some(origin) = origin {
                    req = req.header("origin", origin);
                }
            }
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("the server answers");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        Answer {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    /// A POST without credentials (signup, login, the account flows).
    pub async fn post_anonymously(&self, path: &str, body: Value) -> Answer {
        self.call("POST", path, Some(body), Auth::None).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call("GET", path, None, Auth::Bearer(token)).await
    }

    pub async fn post(&self, path: &str, body: Value, token: &str) -> Answer {
        self.call("POST", path, Some(body), Auth::Bearer(token))
            .await
    }

    pub async fn put(&self, path: &str, body: Value, token: &str) -> Answer {
        self.call("PUT", path, Some(body), Auth::Bearer(token))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Answer {
        self.call("DELETE", path, None, Auth::Bearer(token)).await
    }

    /// Signs in with the password and returns the session token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let answer = self
            .post_anonymously(
                "/api/auth/login",
                serde_json::json!({ "email": email, "password": password }),
            )
            .await;
        assert_eq!(answer.status, 200, "login of {email}: {}", answer.body);
        answer.body["accessToken"]
            .as_str()
            .expect("login returns a token")
            .to_owned()
    }
}
