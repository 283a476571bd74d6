//! CORS for browser applications on other origins (`QIANCHUAN_CORS_ORIGINS`), by tower-http's
//! `CorsLayer`: a preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered from
//! its headers alone, before routing and authentication; other responses carry the
//! `Access-Control-Allow-Origin` of an allowed origin. An origin not listed gets no CORS
//! headers, so the browser withholds the answer from its page.

use axum::http::{header, HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// An origin as browsers send it: `scheme://host[:port]`, nothing after.
pub fn check_origin(origin: &str) -> Result<HeaderValue, String> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(|| format!("CORS origin {origin:?} must start with http:// or https://"))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ']) {
        return Err(format!(
            "CORS origin {origin:?} must be scheme://host[:port], without a path"
        ));
    }
    HeaderValue::from_str(origin).map_err(|_| format!("CORS origin {origin:?} is not a valid header value"))
}

/// The layer for the configured origins; `None` when there are none (no CORS headers at all).
pub fn layer(origins: Option<&[String]>) -> Result<Option<CorsLayer>, String> {
    let Some(origins) = origins.filter(|o| !o.is_empty()) else {
        return Ok(None);
    };
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().map(|o| check_origin(o)).collect::<Result<Vec<_>, _>>()?)
    };
    Ok(Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT,
                HeaderName::from_static("x-file-name"),
            ])
            .expose_headers([header::RETRY_AFTER])
            .max_age(std::time::Duration::from_secs(600)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port() {
        assert!(check_origin("https://screen.example.gov.cn").is_ok());
        assert!(check_origin("http://127.0.0.1:5173").is_ok());
        for bad in [
            "screen.example.gov.cn",
            "https://a.example/path",
            "ftp://a",
            "https://",
            "https://a b",
        ] {
            assert!(check_origin(bad).is_err(), "{bad}");
        }
        assert!(layer(None).unwrap().is_none());
        assert!(layer(Some(&["https://a.example/".to_string()])).is_err());
    }
}
