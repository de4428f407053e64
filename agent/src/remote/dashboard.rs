//! The dashboard's files: one page, its script and its style, compiled into the binary (no
//! CDN, no build step); the page only talks to `/session` and `/api/v1`.

use hyper::StatusCode;
use hyper::header::{self, HeaderValue};

use super::http::{Answer, text};

/// One file of the dashboard.
pub struct Asset {
    body: &'static str,
    content_type: &'static str,
}

const PAGE: Asset = Asset {
    body: include_str!("dashboard/index.html"),
    content_type: "text/html; charset=utf-8",
};
const SCRIPT: Asset = Asset {
    body: include_str!("dashboard/app.js"),
    content_type: "text/javascript; charset=utf-8",
};
const STYLE: Asset = Asset {
    body: include_str!("dashboard/app.css"),
    content_type: "text/css; charset=utf-8",
};

/// Nothing but our own files, no inline script, no framing by another site.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

pub fn asset(path: &str) -> Option<&'static Asset> {
    match path {
        "/" | "/index.html" => Some(&PAGE),
        "/app.js" => Some(&SCRIPT),
        "/app.css" => Some(&STYLE),
        _ => None,
    }
}

pub fn answer(asset: &Asset) -> Answer {
    let mut answer = text(StatusCode::OK, asset.body);
    let headers = answer.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The files change only with the binary; a day of caching spares the phone the download.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    answer
}

/// The bytes of the first page load (page, script, style): what the bench reports.
pub fn first_load_bytes() -> usize {
    PAGE.body.len() + SCRIPT.body.len() + STYLE.body.len()
}
