//! Browser origins and cookies: `ALLOWED_ORIGINS`, `API_BASE_URL` and `COOKIE_DOMAIN`.
//!
//! One list of origins answers two questions: which pages may call the API across origins
//! (CORS, with credentials) and which may make cookie-authenticated writes (the CSRF check).
//! It is APP_BASE_URL's origin, API_BASE_URL's when that is set, and ALLOWED_ORIGINS, each
//! compared exactly. Keeping one list means a page that CORS lets in is never refused by the
//! CSRF check, and an origin CORS keeps out cannot write with the cookie either.
//!
//! The cookies follow from where the API is: API_BASE_URL (default APP_BASE_URL) is the URL
//! browsers reach `/api` at. When a listed origin is on another site than the API (another
//! registrable domain, or another scheme), its pages' requests are cross-site, browsers send
//! only `SameSite=None` cookies on them, and those must be `Secure`. COOKIE_DOMAIN widens the
//! cookies to a parent domain, so that a frontend on a sibling host (whose middleware looks for
//! the session cookie) sees them too.

use std::net::IpAddr;

use url::{Host, Url};

use super::{AppEnv, ConfigError};

/// Where browsers may call from, and how the API's cookies are set.
#[derive(Debug, Clone)]
pub struct Origins {
    /// Exact origins (`https://exams.example.org`), deduplicated, APP_BASE_URL's first.
    pub allowed: Vec<String>,
    pub cookies: CookiePolicy,
    /// Why cookies cannot reach a listed origin (development only; production refuses).
    pub warning: Option<String>,
}

/// The attributes every cookie the server sets (and clears) carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookiePolicy {
    /// `Domain=`: COOKIE_DOMAIN, without a leading dot; none makes host-only cookies.
    pub domain: Option<String>,
    /// Some allowed origin is cross-site to the API: cookies are `SameSite=None`, or browsers
    /// would leave them off that origin's requests.
    pub same_site_none: bool,
    /// `Secure`: in production, wherever the API is served over https (a staging deployment on
    /// https must not leak the session over plain http), and always with `SameSite=None`
    /// (browsers refuse that without it).
    pub secure: bool,
}

impl CookiePolicy {
    /// The attributes after the name, value and path: `; Domain=…; SameSite=…; Secure`, with
    /// `same_site` used unless the deployment is cross-site.
    pub fn attributes(&self, same_site: &str) -> String {
        let mut out = String::new();
        if let Some(domain) = &self.domain {
            out.push_str("; Domain=");
            out.push_str(domain);
        }
        out.push_str("; SameSite=");
        out.push_str(if self.same_site_none {
            "None"
        } else {
            same_site
        });
        if self.secure {
            out.push_str("; Secure");
        }
        out
    }
}

fn problem(var: &'static str, problem: String) -> ConfigError {
    ConfigError { var, problem }
}

/// An http(s) URL with a host, as an origin must be.
fn web_url(raw: &str) -> Option<Url> {
    Url::parse(raw)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

/// The site of a URL as browsers compare sites for SameSite: its scheme and registrable domain
/// (public suffix plus one label, from the Public Suffix List browsers ship), or the whole
/// host where there is none (`localhost`, an IP address).
fn site(url: &Url) -> (String, String) {
    let host = match url.host() {
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.');
            psl::domain_str(name).unwrap_or(name).to_owned()
        }
        Some(other) => other.to_string(),
        None => String::new(),
    };
    (url.scheme().to_owned(), host)
}

/// Browsers accept `Secure` cookies from plain http only for the local machine.
fn is_local(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(name)) => name == "localhost" || name.ends_with(".localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

fn within(host: &str, domain: &str) -> bool {
    host == domain
        || host
            .strip_suffix(domain)
            .is_some_and(|rest| rest.ends_with('.'))
}

/// COOKIE_DOMAIN, checked against what browsers accept: a DNS name (not an address, not a public
/// suffix such as `com` or `github.io`) that the API's host is within, or the browser drops
/// the cookie, and that APP_BASE_URL's host is within, or the setting shares the cookie with
/// nothing the app serves.
fn cookie_domain(raw: &str, api: &Url, app: &Url) -> Result<String, ConfigError> {
    const VAR: &str = "COOKIE_DOMAIN";
    let domain = raw.trim().trim_start_matches('.').to_ascii_lowercase();
    let is_name = !domain.is_empty()
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !is_name || domain.parse::<IpAddr>().is_ok() {
        return Err(problem(
            VAR,
            format!("`{raw}` is not a domain name like example.org (an address cannot be one)"),
        ));
    }
    if psl::suffix_str(&domain) == Some(domain.as_str()) {
        return Err(problem(
            VAR,
            format!(
                "`{domain}` is a public suffix, for which browsers refuse cookies; name the \
                 deployment's own domain, like example.org"
            ),
        ));
    }
    for (what, url) in [("the API (API_BASE_URL)", api), ("APP_BASE_URL", app)] {
        let host = url.host_str().unwrap_or_default();
        if !within(host, &domain) {
            return Err(problem(
                VAR,
                format!(
                    "`{domain}` does not contain {what}'s host `{host}`; browsers would drop \
                     or never share the cookie"
                ),
            ));
        }
    }
    Ok(domain)
}

impl Origins {
    pub fn from_lookup(
        get: &dyn Fn(&str) -> Option<String>,
        app_base_url: &Url,
        env: AppEnv,
    ) -> Result<Self, ConfigError> {
        let api = match get("API_BASE_URL") {
            None => app_base_url.clone(),
            Some(raw) => web_url(&raw).ok_or_else(|| {
                problem(
                    "API_BASE_URL",
                    format!("`{raw}` is not an http(s) URL like https://api.example.org"),
                )
            })?,
        };
        let mut urls = vec![app_base_url.clone(), api.clone()];
        for raw in get("ALLOWED_ORIGINS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            urls.push(web_url(raw).ok_or_else(|| {
                problem(
                    "ALLOWED_ORIGINS",
                    format!("`{raw}` is not an http(s) origin like https://app.example.org"),
                )
            })?);
        }
        let mut allowed: Vec<String> = Vec::new();
        for url in &urls {
            let origin = url.origin().ascii_serialization();
            if !allowed.contains(&origin) {
                allowed.push(origin);
            }
        }

        let api_site = site(&api);
        let cross = urls.iter().find(|u| site(u) != api_site);
        let mut warning = None;
        let mut same_site_none = cross.is_some();
        if let Some(other) = cross
            && api.scheme() != "https"
            && !is_local(&api)
        {
            let var = if get("API_BASE_URL").is_some() {
                "API_BASE_URL"
            } else {
                "ALLOWED_ORIGINS"
            };
            let why = format!(
                "`{}` is on another site than the API at `{}`: its requests carry only \
                 SameSite=None cookies, which browsers accept only as Secure, over https",
                other.origin().ascii_serialization(),
                api.origin().ascii_serialization()
            );
            if env == AppEnv::Production {
                return Err(problem(
                    var,
                    format!(
                        "{why}; serve the API over https or list only origins of the API's site"
                    ),
                ));
            }
            // A development set-up (a dev server's page calling a plain-http API with a Bearer
            // token) keeps working: the cookie stays as it was for the API's own site, and
            // the other site's pages sign in with the token instead.
            warning = Some(format!(
                "{var}: {why}; so cookies stay for the API's own site (Lax, Strict) and pages \
                 there must send the token as a Bearer header (APP_ENV=production refuses this)"
            ));
            same_site_none = false;
        }
        let domain = get("COOKIE_DOMAIN")
            .map(|raw| cookie_domain(&raw, &api, app_base_url))
            .transpose()?;
        // The API's scheme, not the app's: a browser drops a Secure cookie that came over http.
        let secure = env == AppEnv::Production || api.scheme() == "https" || same_site_none;
        Ok(Origins {
            allowed,
            cookies: CookiePolicy {
                domain,
                same_site_none,
                secure,
            },
            warning,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn origins_in(env: AppEnv, app: &str, vars: &[(&str, &str)]) -> Result<Origins, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let app = Url::parse(app).expect("url");
        Origins::from_lookup(&|k| map.get(k).cloned(), &app, env)
    }

    fn origins(app: &str, vars: &[(&str, &str)]) -> Result<Origins, ConfigError> {
        origins_in(AppEnv::Development, app, vars)
    }

    #[test]
    fn one_site_keeps_lax_host_only_cookies() {
        let o = origins(
            "https://exams.example.org",
            &[
                ("API_BASE_URL", "https://api.example.org/"),
                ("ALLOWED_ORIGINS", "https://admin.example.org"),
            ],
        )
        .expect("valid");
        assert_eq!(
            o.allowed,
            [
                "https://exams.example.org",
                "https://api.example.org",
                "https://admin.example.org"
            ]
        );
        assert_eq!(
            o.cookies,
            CookiePolicy {
                domain: None,
                same_site_none: false,
                secure: true
            }
        );
        assert_eq!(o.cookies.attributes("Lax"), "; SameSite=Lax; Secure");
    }

    #[test]
    fn ports_of_localhost_are_one_site_over_plain_http() {
        let o = origins(
            "http://localhost:3000",
            &[("API_BASE_URL", "http://localhost:8000")],
        )
        .expect("valid");
        assert_eq!(
            o.allowed,
            ["http://localhost:3000", "http://localhost:8000"]
        );
        assert!(!o.cookies.same_site_none && !o.cookies.secure);
        assert!(o.warning.is_none());
        assert_eq!(o.cookies.attributes("Strict"), "; SameSite=Strict");
    }

    #[test]
    fn an_origin_on_another_site_makes_cookies_same_site_none_and_secure() {
        for (app, api, other) in [
            (
                "https://exams.example.org",
                "https://api.example.org",
                "https://exams.example.com",
            ),
            // A shared hosting suffix: two projects there are two sites.
            (
                "https://a.github.io",
                "https://a.github.io",
                "https://b.github.io",
            ),
            // Another scheme is another site.
            (
                "https://exams.example.org",
                "https://exams.example.org",
                "http://exams.example.org",
            ),
            // The local machine: browsers take Secure cookies from http://localhost.
            (
                "http://127.0.0.1:3000",
                "http://localhost:8000",
                "http://127.0.0.1:3000",
            ),
        ] {
            let o = origins(app, &[("API_BASE_URL", api), ("ALLOWED_ORIGINS", other)])
                .unwrap_or_else(|e| panic!("{app} {api} {other}: {e}"));
            assert!(o.cookies.same_site_none, "{app} {api} {other}");
            assert!(o.warning.is_none());
            assert_eq!(
                o.cookies.attributes("Lax"),
                "; SameSite=None; Secure",
                "{other}"
            );
        }
    }

    #[test]
    fn a_cross_site_origin_over_plain_http_is_refused_in_production_and_explained_otherwise() {
        let cross = [("ALLOWED_ORIGINS", "https://exams.example.com")];
        let prod = [("API_BASE_URL", "http://api.example.org")];
        for (app, vars, var) in [
            ("http://exams.example.org", &cross[..], "ALLOWED_ORIGINS"),
            ("https://exams.example.com", &prod[..], "API_BASE_URL"),
        ] {
            let e = origins_in(AppEnv::Production, app, vars).expect_err("None over http");
            assert_eq!(e.var, var);
            assert!(e.problem.contains("https"), "{e}");
            let o = origins(app, vars).expect("development starts");
            assert!(
                !o.cookies.same_site_none,
                "None without Secure would be dropped"
            );
            assert_eq!(o.cookies.attributes("Lax"), "; SameSite=Lax");
            let warning = o.warning.expect("explained");
            assert!(
                warning.starts_with(var) && warning.contains("Bearer"),
                "{warning}"
            );
        }
    }

    #[test]
    fn the_cookie_domain_must_contain_the_api_and_the_app() {
        let vars = |domain| {
            [
                ("API_BASE_URL", "https://api.example.org"),
                ("COOKIE_DOMAIN", domain),
            ]
        };
        let o = origins("https://exams.example.org", &vars(".Example.org")).expect("valid");
        assert_eq!(o.cookies.domain.as_deref(), Some("example.org"));
        assert_eq!(
            o.cookies.attributes("Lax"),
            "; Domain=example.org; SameSite=Lax; Secure"
        );
        for bad in [
            "exams.example.org",
            "other.org",
            "ample.org",
            "org",
            "co.uk",
            "127.0.0.1",
            "exam ple.org",
            "example..org",
            ".",
        ] {
            let e = origins("https://exams.example.org", &vars(bad)).expect_err(bad);
            assert_eq!(e.var, "COOKIE_DOMAIN", "{bad}");
        }
        let e = origins("https://x.github.io", &[("COOKIE_DOMAIN", "github.io")])
            .expect_err("a private public suffix");
        assert!(e.problem.contains("public suffix"), "{e}");
    }

    #[test]
    fn bad_urls_name_their_variable() {
        for (var, value) in [
            ("API_BASE_URL", "api.example.org"),
            ("API_BASE_URL", "ftp://api.example.org"),
            ("ALLOWED_ORIGINS", "https://"),
        ] {
            let e = origins("https://exams.example.org", &[(var, value)]).expect_err(value);
            assert_eq!(e.var, var, "{value}");
        }
    }
}
