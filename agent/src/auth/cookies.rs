//! Bot session cookies: parsing exported cookie files (Netscape and browser-extension JSON),
//! checking them offline against a platform's required names and expiry, and live-probing them.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use botctl_proto::fsread::{self, ReadError};
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use serde_json::{Map, Value};

pub use crate::secret::Secret;

#[derive(Debug, Clone, PartialEq)]
pub struct Cookie {
    pub name: String,
    pub value: Secret,
    pub domain: String,
    pub path: String,
    /// Unix seconds; `None` is a session cookie.
    pub expires: Option<f64>,
    pub secure: bool,
    pub http_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Netscape,
    Json,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Jar {
    pub format: Format,
    pub cookies: Vec<Cookie>,
}

/// Why a cookie file could not be parsed. Messages are built only from our own text, line
/// numbers, JSON paths and field names, so they are safe to log and show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// "line 3", "[2].expirationDate", "cookies[0].value"; `None` for whole-file problems.
    pub location: Option<String>,
    pub message: String,
}

impl ParseError {
    fn at(location: impl Into<String>, message: impl Into<String>) -> Self {
        ParseError {
            location: Some(location.into()),
            message: message.into(),
        }
    }

    fn whole(message: impl Into<String>) -> Self {
        ParseError {
            location: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(loc) => write!(f, "{loc}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ParseError {}

/// Parses a cookie file, detecting the format from its first non-whitespace character.
pub fn parse(text: &str) -> Result<Jar, ParseError> {
    // Windows editors and some exporters prepend a BOM, which would otherwise defeat detection.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (format, cookies) = match text.trim_start().chars().next() {
        Some('[' | '{') => (Format::Json, parse_json(text)?),
        _ => (Format::Netscape, parse_netscape(text)?),
    };
    if cookies.is_empty() {
        return Err(ParseError::whole("no cookies in file"));
    }
    Ok(Jar { format, cookies })
}

fn parse_netscape(text: &str) -> Result<Vec<Cookie>, ParseError> {
    let mut cookies = Vec::new();
    for (index, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            continue;
        }
        // curl writes httpOnly cookies as comment-looking lines; they must not be skipped.
        let (line, http_only) = match line.strip_prefix("#HttpOnly_") {
            Some(rest) => (rest, true),
            None if line.trim_start().starts_with('#') => continue,
            None => (line, false),
        };
        let loc = || format!("line {}", index + 1);
        let fields: Vec<&str> = line.split('\t').collect();
        let [domain, subdomains, path, secure, expiry, name, value] = fields[..] else {
            return Err(ParseError::at(
                loc(),
                format!("expected 7 tab-separated fields, found {}", fields.len()),
            ));
        };
        // The flags are checked although only `secure` is kept: a file whose flag columns are
        // not TRUE/FALSE is not a cookie file, and accepting it would hide the mistake.
        if netscape_flag(subdomains).is_none() {
            return Err(ParseError::at(
                loc(),
                "include-subdomains flag must be TRUE or FALSE",
            ));
        }
        let Some(secure) = netscape_flag(secure) else {
            return Err(ParseError::at(loc(), "secure flag must be TRUE or FALSE"));
        };
        let Ok(expiry) = expiry.trim().parse::<i64>() else {
            return Err(ParseError::at(
                loc(),
                "expiry must be a whole number of seconds",
            ));
        };
        cookies.push(Cookie {
            name: name.to_string(),
            value: Secret::new(value.to_string()),
            domain: domain.to_string(),
            path: path.to_string(),
            expires: (expiry != 0).then_some(expiry as f64),
            secure,
            http_only,
        });
    }
    Ok(cookies)
}

fn netscape_flag(field: &str) -> Option<bool> {
    let field = field.trim();
    if field.eq_ignore_ascii_case("TRUE") {
        Some(true)
    } else if field.eq_ignore_ascii_case("FALSE") {
        Some(false)
    } else {
        None
    }
}

fn parse_json(text: &str) -> Result<Vec<Cookie>, ParseError> {
    // Parsing to `Value` first (rather than into a typed struct) keeps serde_json's
    // "invalid type: string \"...\"" messages, which quote input, out of the picture, and
    // lets errors name the JSON path of the offending field.
    let root: Value = serde_json::from_str(text).map_err(|e| {
        let what = if e.is_eof() {
            "JSON ends unexpectedly"
        } else {
            "not valid JSON"
        };
        ParseError::whole(format!("{what} at line {} column {}", e.line(), e.column()))
    })?;
    let (prefix, items) = match &root {
        Value::Array(items) => ("", items),
        Value::Object(obj) => match obj.get("cookies") {
            Some(Value::Array(items)) => ("cookies", items),
            Some(_) => {
                return Err(ParseError::at("cookies", "must be an array"));
            }
            None => {
                return Err(ParseError::whole(
                    "expected a JSON array of cookies or an object with a \"cookies\" array",
                ));
            }
        },
        _ => return Err(ParseError::whole("expected a JSON array of cookies")),
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let loc = format!("{prefix}[{i}]");
            match item {
                Value::Object(obj) => json_cookie(obj, &loc),
                _ => Err(ParseError::at(loc, "must be an object")),
            }
        })
        .collect()
}

fn json_cookie(obj: &Map<String, Value>, loc: &str) -> Result<Cookie, ParseError> {
    let field_err = |key: &str, msg: &str| ParseError::at(format!("{loc}.{key}"), msg);
    // `null` is treated like an absent field: exporters use both for "not set".
    let get = |key: &str| obj.get(key).filter(|v| !v.is_null());
    let string = |key: &str, required: bool| -> Result<Option<String>, ParseError> {
        match get(key) {
            None if required => Err(field_err(key, "missing")),
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(field_err(key, "must be a string")),
        }
    };
    let boolean = |key: &str| -> Result<Option<bool>, ParseError> {
        match get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(field_err(key, "must be a boolean")),
        }
    };
    let number = |key: &str| -> Result<Option<f64>, ParseError> {
        match get(key) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| field_err(key, "must be a number")),
        }
    };

    let name = string("name", true)?.unwrap_or_default();
    let value = string("value", true)?.unwrap_or_default();
    let domain = string("domain", false)?.unwrap_or_default();
    let path = string("path", false)?.unwrap_or_else(|| "/".to_string());
    // `expires` is what Puppeteer/Playwright exports use (-1 for session cookies); accepting
    // it costs nothing and covers the `{"cookies": [...]}` storage-state files.
    let expiration = match number("expirationDate")? {
        Some(e) => Some(e),
        None => number("expires")?,
    };
    let session = boolean("session")?.unwrap_or(false);
    let expires = match expiration {
        _ if session => None,
        Some(e) if e > 0.0 => Some(e),
        _ => None,
    };
    Ok(Cookie {
        name,
        value: Secret::new(value),
        domain,
        path,
        expires,
        secure: boolean("secure")?.unwrap_or(false),
        http_only: boolean("httpOnly")?.unwrap_or(false),
    })
}

/// Local copy of the platform list so this module has no dependency on the caller's types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Twitter,
    Messenger,
    Telegram,
    Generic,
}

pub fn preset_required(p: Platform) -> &'static [&'static str] {
    match p {
        Platform::Twitter => &["auth_token", "ct0"],
        Platform::Messenger => &["c_user", "xs"],
        Platform::Telegram | Platform::Generic => &[],
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// Earliest expiry among the required cookies; `None` if all are session cookies.
    Valid { earliest_expiry: Option<i64> },
    /// Within `warn_before` of the earliest expiry.
    Expiring { expires: i64, left_secs: i64 },
    /// Which required cookies expired, and the earliest of their expiries.
    Expired { names: Vec<String>, at: i64 },
    /// Required cookies absent, or present with an empty value.
    Missing { names: Vec<String> },
    Malformed {
        location: Option<String>,
        message: String,
    },
    /// The probe got 401/403 or another unexpected non-5xx status.
    Rejected { status: u16 },
    /// The answer is not known: the probe could not be made or the platform is unwell.
    Unknown { reason: String },
    /// The cookie file is missing or unreadable.
    NoFile { path: String },
}

impl Outcome {
    /// Whether the bot should be treated as logged out. `Expiring` and `Unknown` are not:
    /// the first still works, the second says nothing about the cookies.
    pub fn is_invalid(&self) -> bool {
        matches!(
            self,
            Outcome::Expired { .. }
                | Outcome::Missing { .. }
                | Outcome::Malformed { .. }
                | Outcome::Rejected { .. }
                | Outcome::NoFile { .. }
        )
    }

    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Valid { .. } => "valid",
            Outcome::Expiring { .. } => "expiring",
            Outcome::Expired { .. } => "expired",
            Outcome::Missing { .. } => "missing",
            Outcome::Malformed { .. } => "malformed",
            Outcome::Rejected { .. } => "rejected",
            Outcome::Unknown { .. } => "unknown",
            Outcome::NoFile { .. } => "no-file",
        }
    }
}

impl From<ParseError> for Outcome {
    fn from(e: ParseError) -> Self {
        Outcome::Malformed {
            location: e.location,
            message: e.message,
        }
    }
}

/// Reads and parses a cookie file, mapping failures to the outcome the caller reports.
///
/// Blocking I/O: call it from `spawn_blocking` on the async side.
pub fn load(path: &Path) -> Result<Jar, Outcome> {
    let no_file = || Outcome::NoFile {
        path: path.display().to_string(),
    };
    // Cookie files are a few KiB: anything far larger, a FIFO or a device is the wrong file,
    // and reading it would be a cheap way to hang or exhaust the supervisor.
    let text = match fsread::read_regular_string(path, fsread::COOKIE_FILE_CAP) {
        Ok(text) => text,
        Err(ReadError::Io(_)) => return Err(no_file()),
        Err(ReadError::NotUtf8) => {
            return Err(Outcome::Malformed {
                location: None,
                message: "file is not valid UTF-8".to_string(),
            });
        }
        Err(e) => {
            return Err(Outcome::Malformed {
                location: None,
                message: format!("file {e}"),
            });
        }
    };
    parse(&text).map_err(Outcome::from)
}

/// `load` followed by `evaluate`.
pub fn check_file(path: &Path, required: &[String], now: i64, warn_before_secs: i64) -> Outcome {
    match load(path) {
        Ok(jar) => evaluate(&jar, required, now, warn_before_secs),
        Err(outcome) => outcome,
    }
}

/// Seconds since the Unix epoch, for `evaluate`'s `now`.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Offline evaluation: required names present with non-empty values, then expiry vs `now`
/// and `warn_before_secs`.
///
/// With no required names (Telegram, Generic) there is nothing specific to check, so the jar
/// is `Valid` unless every cookie in it has expired: browser exports routinely contain
/// short-lived analytics cookies, and warning about those would be noise.
pub fn evaluate(jar: &Jar, required: &[String], now: i64, warn_before_secs: i64) -> Outcome {
    let required = dedup(required);
    if required.is_empty() {
        return evaluate_unspecified(jar, now);
    }

    let mut chosen = Vec::with_capacity(required.len());
    let mut missing = Vec::new();
    for name in &required {
        match find(jar, name, None) {
            Some(c) if !c.value.is_empty() => chosen.push(c),
            _ => missing.push(name.to_string()),
        }
    }
    if !missing.is_empty() {
        return Outcome::Missing { names: missing };
    }

    let expiries = chosen
        .iter()
        .filter_map(|c| c.expires.map(|e| (c.name.as_str(), whole_secs(e))));
    let expired: Vec<(&str, i64)> = expiries.clone().filter(|&(_, e)| e <= now).collect();
    if let Some(at) = expired.iter().map(|&(_, e)| e).min() {
        return Outcome::Expired {
            names: expired.iter().map(|&(n, _)| n.to_string()).collect(),
            at,
        };
    }
    match expiries.map(|(_, e)| e).min() {
        Some(expires) if expires.saturating_sub(now) <= warn_before_secs.max(0) => {
            Outcome::Expiring {
                expires,
                left_secs: expires.saturating_sub(now),
            }
        }
        earliest_expiry => Outcome::Valid { earliest_expiry },
    }
}

fn evaluate_unspecified(jar: &Jar, now: i64) -> Outcome {
    let mut names = Vec::new();
    let mut at = i64::MAX;
    for c in &jar.cookies {
        match c.expires.map(whole_secs) {
            Some(e) if e <= now => {
                at = at.min(e);
                if !names.contains(&c.name) {
                    names.push(c.name.clone());
                }
            }
            _ => {
                return Outcome::Valid {
                    earliest_expiry: None,
                };
            }
        }
    }
    Outcome::Expired { names, at }
}

/// Browsers compare expiry at whole-second granularity; flooring keeps a cookie that expires
/// at `now + 0.5` from being reported as valid for a second that does not exist.
fn whole_secs(e: f64) -> i64 {
    e.floor() as i64
}

fn dedup(names: &[String]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::with_capacity(names.len());
    for n in names {
        if !out.contains(&n.as_str()) {
            out.push(n);
        }
    }
    out
}

/// When several cookies share a name (different domains), prefer the one whose domain
/// matches `domain_hint` (e.g. "x.com" / ".twitter.com"), else the latest-expiring.
///
/// Ranking, in order: a non-empty value (an empty one is useless for logging in), a domain
/// matching the hint (equal, or a parent domain the browser would send to the hint host),
/// then latest expiry with session cookies ranking above any dated one. Ties keep file order.
pub fn find<'a>(jar: &'a Jar, name: &str, domain_hint: Option<&str>) -> Option<&'a Cookie> {
    best(jar.cookies.iter().filter(|c| c.name == name), domain_hint)
}

fn best<'a>(
    candidates: impl Iterator<Item = &'a Cookie>,
    domain_hint: Option<&str>,
) -> Option<&'a Cookie> {
    let rank = |c: &Cookie| {
        let hinted = domain_hint.is_some_and(|h| domain_matches(&c.domain, &normalize_host(h)));
        (
            !c.value.is_empty(),
            hinted,
            c.expires.unwrap_or(f64::INFINITY),
        )
    };
    let mut winner: Option<(&Cookie, (bool, bool, f64))> = None;
    for c in candidates {
        let r = rank(c);
        let better = match &winner {
            None => true,
            Some((_, w)) => (r.0, r.1)
                .cmp(&(w.0, w.1))
                .then(r.2.total_cmp(&w.2))
                .is_gt(),
        };
        if better {
            winner = Some((c, r));
        }
    }
    winner.map(|(c, _)| c)
}

fn normalize_host(h: &str) -> String {
    h.trim().trim_start_matches('.').to_ascii_lowercase()
}

/// RFC 6265 domain-match, lenient about host-only cookies (the `Cookie` type does not keep
/// that flag): the cookie applies to its own host and to subdomains of it.
fn domain_matches(cookie_domain: &str, host: &str) -> bool {
    let d = normalize_host(cookie_domain);
    !d.is_empty()
        && (host == d
            || host
                .strip_suffix(d.as_str())
                .is_some_and(|rest| rest.ends_with('.')))
}

/// RFC 6265 path-match.
fn path_matches(cookie_path: &str, request_path: &str) -> bool {
    let cp = if cookie_path.is_empty() {
        "/"
    } else {
        cookie_path
    };
    request_path == cp
        || request_path
            .strip_prefix(cp)
            .is_some_and(|rest| cp.ends_with('/') || rest.starts_with('/'))
}

/// A live check of the cookies against the platform.
///
/// The `reqwest::Client` passed to `probe` is expected to have redirects disabled
/// (`redirect::Policy::none()`): platforms answer dead sessions with a redirect to a login
/// page that itself returns 200, and following it would turn "logged out" into "valid".
#[derive(Debug, Clone)]
pub struct Probe {
    pub url: String,
    /// GET when empty.
    pub method: String,
    /// Statuses meaning "logged in"; `[200]` when empty.
    pub expect: Vec<u16>,
    /// Extra headers (e.g. a bearer token); they replace computed ones of the same name,
    /// including `cookie` and `x-csrf-token`.
    pub headers: Vec<(String, Secret)>,
    /// Per-request timeout; zero leaves the client's own timeout in charge.
    pub timeout: Duration,
}

impl Probe {
    pub fn new(url: impl Into<String>) -> Self {
        Probe {
            url: url.into(),
            method: "GET".to_string(),
            expect: vec![200],
            headers: Vec::new(),
            timeout: Duration::from_secs(10),
        }
    }
}

fn unknown(reason: impl Into<String>) -> Outcome {
    Outcome::Unknown {
        reason: reason.into(),
    }
}

/// Sends the request with a Cookie header built from the required cookies (or all cookies
/// for the URL's host when `required` is empty); for `Platform::Twitter` also sends ct0 as
/// `x-csrf-token`. A status in `expect` gives `Ok(())`; 401/403 or another 2xx/3xx/4xx not
/// in `expect` gives `Rejected`; 5xx, connect/DNS errors and timeouts give `Unknown`, whose
/// reason never holds a header or cookie value.
///
/// Cookies are only sent where a browser would send them (domain, path, and `secure` only
/// over https): a typo in the probe URL must not hand a session token to another host or
/// to the network in clear text. A required cookie that exists but does not apply to the
/// URL gives `Unknown` (a configuration problem, not a cookie problem); one that is absent
/// or empty gives `Missing`. 408 and 429 give `Unknown`: they say the platform is busy, not
/// that the session is dead.
pub async fn probe(
    client: &reqwest::Client,
    probe: &Probe,
    jar: &Jar,
    required: &[String],
    platform: Platform,
) -> Result<(), Outcome> {
    let url = reqwest::Url::parse(&probe.url).map_err(|_| unknown("probe URL is not valid"))?;
    let https = match url.scheme() {
        "https" => true,
        "http" => false,
        _ => return Err(unknown("probe URL must be http or https")),
    };
    let host = url
        .host_str()
        .map(normalize_host)
        .ok_or_else(|| unknown("probe URL has no host"))?;
    let applies = |c: &&Cookie| {
        domain_matches(&c.domain, &host)
            && path_matches(&c.path, url.path())
            && (https || !c.secure)
    };

    let mut sent: Vec<&Cookie> = Vec::new();
    let required = dedup(required);
    if required.is_empty() {
        let mut names: Vec<&str> = Vec::new();
        for c in jar.cookies.iter().filter(applies) {
            if !names.contains(&c.name.as_str()) {
                names.push(&c.name);
            }
        }
        for name in names {
            sent.extend(best(
                jar.cookies
                    .iter()
                    .filter(applies)
                    .filter(|c| c.name == name),
                Some(&host),
            ));
        }
        if sent.is_empty() {
            return Err(unknown("no cookie in the file applies to the probe URL"));
        }
    } else {
        let mut missing = Vec::new();
        let mut not_applicable = Vec::new();
        for name in required {
            let usable = |c: &&Cookie| c.name == name && !c.value.is_empty();
            match best(
                jar.cookies.iter().filter(usable).filter(applies),
                Some(&host),
            ) {
                Some(c) => sent.push(c),
                None if jar.cookies.iter().any(|c| usable(&c)) => not_applicable.push(name),
                None => missing.push(name.to_string()),
            }
        }
        if !missing.is_empty() {
            return Err(Outcome::Missing { names: missing });
        }
        if !not_applicable.is_empty() {
            return Err(unknown(format!(
                "cookies {} do not apply to the probe URL (domain, path or secure flag)",
                not_applicable.join(", ")
            )));
        }
    }

    let mut secrets: Vec<&str> = Vec::new();
    let mut headers = HeaderMap::new();
    let mut pairs = Vec::with_capacity(sent.len());
    for c in &sent {
        if HeaderValue::from_str(&c.name).is_err()
            || HeaderValue::from_str(c.value.expose()).is_err()
        {
            return Err(Outcome::Malformed {
                location: None,
                message: format!(
                    "cookie {:?} has characters that cannot be sent in an HTTP header",
                    c.name
                ),
            });
        }
        secrets.push(c.value.expose());
        pairs.push(format!("{}={}", c.name, c.value.expose()));
    }
    headers.insert(header::COOKIE, sensitive(&pairs.join("; "))?);

    if platform == Platform::Twitter {
        // X rejects authenticated API calls whose CSRF header does not echo the ct0 cookie.
        let ct0 = best(
            jar.cookies
                .iter()
                .filter(|c| c.name == "ct0" && !c.value.is_empty())
                .filter(applies),
            Some(&host),
        );
        if let Some(ct0) = ct0 {
            secrets.push(ct0.value.expose());
            headers.insert(
                HeaderName::from_static("x-csrf-token"),
                sensitive(ct0.value.expose())?,
            );
        }
    }

    for (i, (name, value)) in probe.headers.iter().enumerate() {
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| unknown(format!("probe header #{} has an invalid name", i + 1)))?;
        let header_value = HeaderValue::from_str(value.expose()).map_err(|_| {
            unknown(format!(
                "probe header {name} has characters not allowed in HTTP headers"
            ))
        })?;
        secrets.push(value.expose());
        headers.insert(name, mark_sensitive(header_value));
    }

    let method = match probe.method.trim() {
        "" => reqwest::Method::GET,
        m => reqwest::Method::from_bytes(m.to_ascii_uppercase().as_bytes())
            .map_err(|_| unknown("probe method is not a valid HTTP method"))?,
    };
    let mut request = client.request(method, url).headers(headers);
    if !probe.timeout.is_zero() {
        request = request.timeout(probe.timeout);
    }

    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => return Err(unknown(describe_error(e, probe.timeout, &secrets))),
    };
    let status = response.status().as_u16();
    let expect: &[u16] = if probe.expect.is_empty() {
        &[200]
    } else {
        &probe.expect
    };
    match status {
        s if expect.contains(&s) => Ok(()),
        408 | 429 => Err(unknown(format!("platform is throttling (HTTP {status})"))),
        500..=599 => Err(unknown(format!("server error (HTTP {status})"))),
        _ => Err(Outcome::Rejected { status }),
    }
}

fn sensitive(value: &str) -> Result<HeaderValue, Outcome> {
    HeaderValue::from_str(value)
        .map(mark_sensitive)
        .map_err(|_| unknown("computed header has characters not allowed in HTTP headers"))
}

/// Sensitive values are kept out of hyper's debug logging and HTTP/2 header compression
/// tables.
fn mark_sensitive(mut value: HeaderValue) -> HeaderValue {
    value.set_sensitive(true);
    value
}

/// Builds a reason from the error's kind and its source chain. reqwest's own Display carries
/// the URL (which may hold a token in its query), so only the sources are used, and the
/// detail is dropped outright if it happens to contain any value that was sent.
fn describe_error(err: reqwest::Error, timeout: Duration, secrets: &[&str]) -> String {
    let err = err.without_url();
    let kind = if err.is_timeout() {
        if timeout.is_zero() {
            "timed out".to_string()
        } else {
            format!("timed out after {}", botctl_proto::human::duration(timeout))
        }
    } else if err.is_connect() {
        "could not connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut detail = Vec::new();
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        let text = s.to_string();
        if !text.is_empty() && !detail.contains(&text) {
            detail.push(text);
        }
        source = s.source();
    }
    let detail = detail.join(": ");
    let leaks = secrets.iter().any(|s| !s.is_empty() && detail.contains(s));
    if detail.is_empty() || leaks {
        kind
    } else {
        format!("{kind}: {detail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::thread::JoinHandle;

    const NOW: i64 = 1_750_000_000;
    const DAY: i64 = 86_400;

    // Every cookie value in every fixture contains "SECRET", so the no-leak test can look for
    // that one marker instead of keeping a parallel list of values.
    const NETSCAPE_VALID: &str = "# Netscape HTTP Cookie File\n\
# https://curl.se/docs/http-cookies.html\n\
\n\
#HttpOnly_.x.com\tTRUE\t/\tTRUE\t1900000000\tauth_token\tSECRETauth123\r\n\
.x.com\tTRUE\t/\tTRUE\t1800000000\tct0\tSECRETct0abc\r\n\
.x.com\tTRUE\t/\tFALSE\t0\tlang\tSECRETsession7\n\
.x.com\tTRUE\t/\tFALSE\t1700000000\tguest_id\tSECRETguest8\n";

    const JSON_VALID: &str = r#"[
  {"domain": ".facebook.com", "expirationDate": 1900000000.5, "hostOnly": false,
   "httpOnly": false, "name": "c_user", "path": "/", "sameSite": "no_restriction",
   "secure": true, "session": false, "storeId": "0", "value": "SECRETcuser42", "id": 1},
  {"domain": ".facebook.com", "expirationDate": 1800000000.75, "hostOnly": false,
   "httpOnly": true, "name": "xs", "path": "/", "sameSite": "no_restriction",
   "secure": true, "session": false, "storeId": "0", "value": "SECRETxs99", "id": 2,
   "partitionKey": {"topLevelSite": "https://facebook.com"}},
  {"domain": "www.messenger.com", "hostOnly": true, "httpOnly": false, "name": "presence",
   "path": "/", "sameSite": null, "secure": true, "session": true, "storeId": "0",
   "value": "SECRETpresence5", "id": 3}
]"#;

    const JSON_WRAPPED: &str = r#"{"cookies": [
  {"name": "c_user", "value": "SECRETwrapcuser", "domain": ".facebook.com", "path": "/",
   "expires": 1900000000, "httpOnly": false, "secure": true, "sameSite": "None"},
  {"name": "xs", "value": "SECRETwrapxs", "domain": ".facebook.com", "path": "/",
   "expires": -1, "httpOnly": true, "secure": true, "sameSite": "None"}
], "origins": []}"#;

    // ct0 runs out an hour after NOW.
    const NETSCAPE_EXPIRING: &str = ".x.com\tTRUE\t/\tTRUE\t1900000000\tauth_token\tSECRETexpA\n\
.x.com\tTRUE\t/\tTRUE\t1750003600\tct0\tSECRETexpB\n";

    const NETSCAPE_EXPIRED: &str = ".x.com\tTRUE\t/\tTRUE\t1740000000\tauth_token\tSECRETdeadA\n\
.x.com\tTRUE\t/\tTRUE\t1700000000\tct0\tSECRETdeadB\n";

    // auth_token is present but empty, ct0 is absent.
    const NETSCAPE_MISSING: &str = ".x.com\tTRUE\t/\tTRUE\t1900000000\tauth_token\t\n\
.x.com\tTRUE\t/\tFALSE\t1900000000\tlang\tSECRETmissingLang\n";

    const NETSCAPE_SIX_FIELDS: &str = "# comment\n\
.x.com\tTRUE\t/\tTRUE\t1900000000\tauth_token\tSECRETok1\n\
.x.com\tTRUE\t/\tTRUE\tct0\tSECRETsix2\n";

    const NETSCAPE_BAD_EXPIRY: &str = ".x.com\tTRUE\t/\tTRUE\tSECRETexpiry3\tct0\tSECRETbadexp4\n";

    const NETSCAPE_BAD_FLAG: &str = ".x.com\tSECRETflag5\t/\tTRUE\t0\tct0\tSECRETflag6\n";

    const JSON_MISSING_NAME: &str = r#"[
  {"name": "c_user", "value": "SECRETmn1", "domain": ".facebook.com"},
  {"name": "xs", "value": "SECRETmn2", "domain": ".facebook.com"},
  {"value": "SECRETmn3", "domain": ".facebook.com"}
]"#;

    const JSON_BAD_EXPIRY: &str = r#"[
  {"name": "c_user", "value": "SECRETbe1", "expirationDate": "SECRETbe2"}
]"#;

    const JSON_BAD_VALUE_TYPE: &str = r#"[{"name": "xs", "value": ["SECRETbv1"]}]"#;

    const JSON_SYNTAX: &str =
        "[\n  {\"name\": \"xs\",\n    \"value\": \"SECRETsyn1\" \"domain\": \".facebook.com\"}\n]";

    const JSON_BAD_ESCAPE: &str = r#"[{"name": "xs", "value": "SECRETesc\q1"}]"#;

    const JSON_TRUNCATED: &str = r#"[{"name": "xs", "value": "SECRETtrunc1"#;

    const JSON_NOT_ARRAY: &str = r#"{"name": "xs", "value": "SECRETobj1"}"#;

    const JSON_NOT_OBJECT_ITEM: &str = r#"["SECRETstr1"]"#;

    const FIXTURES: &[&str] = &[
        NETSCAPE_VALID,
        JSON_VALID,
        JSON_WRAPPED,
        NETSCAPE_EXPIRING,
        NETSCAPE_EXPIRED,
        NETSCAPE_MISSING,
        NETSCAPE_SIX_FIELDS,
        NETSCAPE_BAD_EXPIRY,
        NETSCAPE_BAD_FLAG,
        JSON_MISSING_NAME,
        JSON_BAD_EXPIRY,
        JSON_BAD_VALUE_TYPE,
        JSON_SYNTAX,
        JSON_BAD_ESCAPE,
        JSON_TRUNCATED,
        JSON_NOT_ARRAY,
        JSON_NOT_OBJECT_ITEM,
        "",
        "  \n\t\n",
        "# Netscape HTTP Cookie File\n# nothing here\n",
        "[]",
        r#"{"cookies": []}"#,
    ];

    fn names(p: Platform) -> Vec<String> {
        preset_required(p).iter().map(|s| s.to_string()).collect()
    }

    fn err(text: &str) -> String {
        parse(text)
            .expect_err("fixture should not parse")
            .to_string()
    }

    #[test]
    fn netscape_valid_parses_httponly_comments_and_session() {
        let jar = parse(NETSCAPE_VALID).unwrap();
        assert_eq!(jar.format, Format::Netscape);
        assert_eq!(jar.cookies.len(), 4);
        let auth = &jar.cookies[0];
        assert_eq!(auth.name, "auth_token");
        assert_eq!(auth.domain, ".x.com");
        assert_eq!(auth.value.expose(), "SECRETauth123");
        assert_eq!(auth.expires, Some(1_900_000_000.0));
        assert!(auth.http_only && auth.secure);
        let ct0 = &jar.cookies[1];
        assert_eq!(
            ct0.value.expose(),
            "SECRETct0abc",
            "trailing \\r is stripped"
        );
        assert!(!ct0.http_only);
        let lang = &jar.cookies[2];
        assert_eq!(lang.expires, None, "expiry 0 is a session cookie");
        assert!(!lang.secure);
    }

    #[test]
    fn netscape_empty_value_is_kept() {
        let jar = parse(".x.com\tTRUE\t/\tFALSE\t0\tflag\t\n").unwrap();
        assert_eq!(jar.cookies[0].name, "flag");
        assert!(jar.cookies[0].value.is_empty());
    }

    #[test]
    fn json_valid_parses_fractional_session_and_extra_fields() {
        let jar = parse(JSON_VALID).unwrap();
        assert_eq!(jar.format, Format::Json);
        assert_eq!(jar.cookies.len(), 3);
        assert_eq!(jar.cookies[0].expires, Some(1_900_000_000.5));
        assert!(jar.cookies[0].secure && !jar.cookies[0].http_only);
        assert!(jar.cookies[1].http_only);
        assert_eq!(jar.cookies[2].expires, None);
        assert_eq!(jar.cookies[2].value.expose(), "SECRETpresence5");
    }

    #[test]
    fn json_wrapper_and_expires_alias() {
        let jar = parse(JSON_WRAPPED).unwrap();
        assert_eq!(jar.format, Format::Json);
        assert_eq!(jar.cookies[0].expires, Some(1_900_000_000.0));
        assert_eq!(jar.cookies[1].expires, None, "-1 marks a session cookie");
        assert_eq!(
            err(r#"{"cookies": [{"value": "SECRETw1"}]}"#),
            "cookies[0].name: missing"
        );
    }

    #[test]
    fn bom_is_ignored_for_detection() {
        let text = format!("\u{feff}{JSON_VALID}");
        assert_eq!(parse(&text).unwrap().format, Format::Json);
    }

    #[test]
    fn netscape_errors_name_the_line_only() {
        assert_eq!(
            err(NETSCAPE_SIX_FIELDS),
            "line 3: expected 7 tab-separated fields, found 6"
        );
        assert_eq!(
            err(NETSCAPE_BAD_EXPIRY),
            "line 1: expiry must be a whole number of seconds"
        );
        assert_eq!(
            err(".x.com\tTRUE\t/\tTRUE\t1.5\tct0\tSECRETfrac\n"),
            "line 1: expiry must be a whole number of seconds"
        );
        assert_eq!(
            err(NETSCAPE_BAD_FLAG),
            "line 1: include-subdomains flag must be TRUE or FALSE"
        );
        let e = parse("not a cookie file").unwrap_err();
        assert_eq!(e.location.as_deref(), Some("line 1"));
        assert_eq!(e.message, "expected 7 tab-separated fields, found 1");
    }

    #[test]
    fn json_errors_name_the_path() {
        assert_eq!(err(JSON_MISSING_NAME), "[2].name: missing");
        assert_eq!(err(JSON_BAD_EXPIRY), "[0].expirationDate: must be a number");
        assert_eq!(err(JSON_BAD_VALUE_TYPE), "[0].value: must be a string");
        assert_eq!(err(JSON_NOT_OBJECT_ITEM), "[0]: must be an object");
        assert_eq!(
            err(r#"[{"name": "xs", "value": "SECRETb1", "secure": "yes"}]"#),
            "[0].secure: must be a boolean"
        );
        assert_eq!(
            err(r#"{"cookies": "SECRETc1"}"#),
            "cookies: must be an array"
        );
    }

    #[test]
    fn json_syntax_errors_give_line_and_column_only() {
        let e = parse(JSON_SYNTAX).unwrap_err();
        assert_eq!(e.location, None);
        assert!(
            e.message.starts_with("not valid JSON at line 3 column "),
            "{e}"
        );
        assert!(err(JSON_BAD_ESCAPE).starts_with("not valid JSON at line 1 column "));
        assert!(err(JSON_TRUNCATED).starts_with("JSON ends unexpectedly at line 1"));
        assert!(err(JSON_NOT_ARRAY).starts_with("expected a JSON array of cookies"));
    }

    #[test]
    fn empty_files_have_no_cookies() {
        for text in [
            "",
            "  \n\t\n",
            "# only\n# comments\n",
            "[]",
            r#"{"cookies": []}"#,
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e, ParseError::whole("no cookies in file"), "{text:?}");
        }
    }

    #[test]
    fn presets() {
        assert_eq!(preset_required(Platform::Twitter), ["auth_token", "ct0"]);
        assert_eq!(preset_required(Platform::Messenger), ["c_user", "xs"]);
        assert!(preset_required(Platform::Telegram).is_empty());
        assert!(preset_required(Platform::Generic).is_empty());
    }

    #[test]
    fn evaluate_valid_twitter_and_messenger() {
        let jar = parse(NETSCAPE_VALID).unwrap();
        assert_eq!(
            evaluate(&jar, &names(Platform::Twitter), NOW, 7 * DAY),
            Outcome::Valid {
                earliest_expiry: Some(1_800_000_000)
            }
        );
        let jar = parse(JSON_VALID).unwrap();
        assert_eq!(
            evaluate(&jar, &names(Platform::Messenger), NOW, 7 * DAY),
            Outcome::Valid {
                earliest_expiry: Some(1_800_000_000)
            }
        );
        let jar = parse(JSON_WRAPPED).unwrap();
        assert_eq!(
            evaluate(&jar, &names(Platform::Messenger), NOW, 7 * DAY),
            Outcome::Valid {
                earliest_expiry: Some(1_900_000_000)
            }
        );
    }

    #[test]
    fn evaluate_all_session_cookies_has_no_expiry() {
        let jar = parse(JSON_VALID).unwrap();
        assert_eq!(
            evaluate(&jar, &["presence".to_string()], NOW, DAY),
            Outcome::Valid {
                earliest_expiry: None
            }
        );
    }

    #[test]
    fn evaluate_expiring() {
        let jar = parse(NETSCAPE_EXPIRING).unwrap();
        let required = names(Platform::Twitter);
        assert_eq!(
            evaluate(&jar, &required, NOW, DAY),
            Outcome::Expiring {
                expires: 1_750_003_600,
                left_secs: 3600
            }
        );
        assert_eq!(
            evaluate(&jar, &required, NOW, 60),
            Outcome::Valid {
                earliest_expiry: Some(1_750_003_600)
            }
        );
    }

    #[test]
    fn evaluate_expired_lists_names_and_earliest() {
        let jar = parse(NETSCAPE_EXPIRED).unwrap();
        assert_eq!(
            evaluate(&jar, &names(Platform::Twitter), NOW, DAY),
            Outcome::Expired {
                names: vec!["auth_token".into(), "ct0".into()],
                at: 1_700_000_000
            }
        );
        let jar = parse(NETSCAPE_EXPIRING).unwrap();
        assert_eq!(
            evaluate(&jar, &names(Platform::Twitter), 1_750_003_600, DAY),
            Outcome::Expired {
                names: vec!["ct0".into()],
                at: 1_750_003_600
            },
            "a cookie is dead at its expiry second"
        );
    }

    #[test]
    fn evaluate_missing_counts_empty_values() {
        let jar = parse(NETSCAPE_MISSING).unwrap();
        assert_eq!(
            evaluate(&jar, &names(Platform::Twitter), NOW, DAY),
            Outcome::Missing {
                names: vec!["auth_token".into(), "ct0".into()]
            }
        );
        let jar = parse(NETSCAPE_VALID).unwrap();
        assert_eq!(
            evaluate(&jar, &names(Platform::Messenger), NOW, DAY),
            Outcome::Missing {
                names: vec!["c_user".into(), "xs".into()]
            }
        );
    }

    #[test]
    fn evaluate_without_required_names() {
        let jar = parse(NETSCAPE_VALID).unwrap();
        assert_eq!(
            evaluate(&jar, &[], NOW, DAY),
            Outcome::Valid {
                earliest_expiry: None
            }
        );
        let jar = parse(NETSCAPE_EXPIRED).unwrap();
        assert_eq!(
            evaluate(&jar, &names(Platform::Telegram), NOW, DAY),
            Outcome::Expired {
                names: vec!["auth_token".into(), "ct0".into()],
                at: 1_700_000_000
            }
        );
    }

    const DUPLICATES: &str = ".twitter.com\tTRUE\t/\tTRUE\t1950000000\tauth_token\tSECRETdupTw\n\
.x.com\tTRUE\t/\tTRUE\t1900000000\tauth_token\tSECRETdupX\n\
.example.com\tTRUE\t/\tTRUE\t1990000000\tauth_token\t\n";

    #[test]
    fn find_prefers_hinted_domain_then_latest_expiry() {
        let jar = parse(DUPLICATES).unwrap();
        let pick = |hint| find(&jar, "auth_token", hint).unwrap().domain.as_str();
        assert_eq!(pick(Some("x.com")), ".x.com");
        assert_eq!(pick(Some(".x.com")), ".x.com");
        assert_eq!(pick(Some("api.x.com")), ".x.com");
        assert_eq!(pick(Some(".twitter.com")), ".twitter.com");
        assert_eq!(
            pick(None),
            ".twitter.com",
            "latest non-empty; the empty .example.com one never wins"
        );
        assert_eq!(pick(Some("example.com")), ".twitter.com");
        assert_eq!(pick(Some("nowhere.org")), ".twitter.com");
        assert!(find(&jar, "ct0", None).is_none());
    }

    #[test]
    fn find_ranks_session_cookies_as_latest() {
        let jar = parse(
            "a.com\tFALSE\t/\tFALSE\t1900000000\tsid\tSECRETs1\n\
b.com\tFALSE\t/\tFALSE\t0\tsid\tSECRETs2\n",
        )
        .unwrap();
        assert_eq!(find(&jar, "sid", None).unwrap().domain, "b.com");
        assert_eq!(find(&jar, "sid", Some("a.com")).unwrap().domain, "a.com");
    }

    #[test]
    fn domain_and_path_matching() {
        assert!(domain_matches(".x.com", "x.com"));
        assert!(domain_matches("x.com", "api.x.com"));
        assert!(!domain_matches("x.com", "notx.com"));
        assert!(!domain_matches("api.x.com", "x.com"));
        assert!(!domain_matches("", "x.com"));
        assert!(path_matches("/", "/i/api"));
        assert!(path_matches("/i", "/i/api"));
        assert!(path_matches("/i/", "/i/api"));
        assert!(!path_matches("/i", "/index"));
        assert!(path_matches("", "/anything"));
    }

    #[test]
    fn outcome_labels_and_validity() {
        let all = [
            (
                Outcome::Valid {
                    earliest_expiry: None,
                },
                "valid",
                false,
            ),
            (
                Outcome::Expiring {
                    expires: 1,
                    left_secs: 1,
                },
                "expiring",
                false,
            ),
            (
                Outcome::Expired {
                    names: vec![],
                    at: 1,
                },
                "expired",
                true,
            ),
            (Outcome::Missing { names: vec![] }, "missing", true),
            (
                Outcome::Malformed {
                    location: None,
                    message: String::new(),
                },
                "malformed",
                true,
            ),
            (Outcome::Rejected { status: 401 }, "rejected", true),
            (
                Outcome::Unknown {
                    reason: String::new(),
                },
                "unknown",
                false,
            ),
            (
                Outcome::NoFile {
                    path: String::new(),
                },
                "no-file",
                true,
            ),
        ];
        for (outcome, label, invalid) in all {
            assert_eq!(outcome.label(), label);
            assert_eq!(outcome.is_invalid(), invalid, "{label}");
            let json = serde_json::to_value(&outcome).unwrap();
            assert_eq!(json["outcome"], label, "serde tag matches label");
        }
        let json = serde_json::to_string(&Outcome::Expiring {
            expires: 5,
            left_secs: 2,
        })
        .unwrap();
        assert_eq!(json, r#"{"outcome":"expiring","expires":5,"left_secs":2}"#);
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("SECRETdebug");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(format!("{:#?}", Some(&s)), "Some(\n    <redacted>,\n)");
    }

    fn temp_path(tag: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("botctl-cookies-{}-{tag}", std::process::id()))
    }

    #[test]
    fn load_and_check_file() {
        let missing = temp_path("absent");
        assert_eq!(
            check_file(&missing, &[], NOW, DAY),
            Outcome::NoFile {
                path: missing.display().to_string()
            }
        );
        assert_eq!(
            load(&std::env::temp_dir()).unwrap_err(),
            Outcome::Malformed {
                location: None,
                message: "file is a directory, not a regular file".into()
            }
        );
        let zero = temp_path("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let outcome = load(&zero).unwrap_err();
        std::fs::remove_file(&zero).unwrap();
        assert_eq!(
            outcome,
            Outcome::Malformed {
                location: None,
                message: "file is a character device, not a regular file".into()
            }
        );

        let good = temp_path("good");
        std::fs::write(&good, NETSCAPE_EXPIRING).unwrap();
        let outcome = check_file(&good, &names(Platform::Twitter), NOW, DAY);
        std::fs::remove_file(&good).unwrap();
        assert_eq!(outcome.label(), "expiring");

        let bad = temp_path("bad");
        std::fs::write(&bad, b"\xff\xfeSECRETutf\n").unwrap();
        let outcome = check_file(&bad, &[], NOW, DAY);
        std::fs::remove_file(&bad).unwrap();
        assert_eq!(
            outcome,
            Outcome::Malformed {
                location: None,
                message: "file is not valid UTF-8".into()
            }
        );

        let malformed = temp_path("malformed");
        std::fs::write(&malformed, JSON_MISSING_NAME).unwrap();
        let outcome = check_file(&malformed, &[], NOW, DAY);
        std::fs::remove_file(&malformed).unwrap();
        assert_eq!(
            outcome,
            Outcome::Malformed {
                location: Some("[2].name".into()),
                message: "missing".into()
            }
        );
    }

    // ---- probe ----

    /// Cookies scoped so a browser would send them to the test server, plus decoys it must not
    /// receive: a secure cookie (the server is plain http) and one for another domain.
    const PROBE_JAR: &str = "127.0.0.1\tFALSE\t/\tFALSE\t1900000000\tauth_token\tSECRETauth123\n\
127.0.0.1\tFALSE\t/\tFALSE\t1900000000\tct0\tSECRETct0abc\n\
127.0.0.1\tFALSE\t/\tTRUE\t1900000000\tsecure_only\tSECRETsecureonly\n\
.x.com\tTRUE\t/\tFALSE\t1900000000\tauth_token\tSECRETotherhost\n\
127.0.0.1\tFALSE\t/other\tFALSE\t1900000000\telsewhere\tSECRETotherpath\n";

    fn client() -> reqwest::Client {
        crate::http_client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap()
    }

    fn read_request(stream: &mut TcpStream) -> String {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// One-shot HTTP server answering `status`; the handle yields the raw request.
    fn serve(status: u16) -> (String, JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/i/api/account", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let request = read_request(&mut stream);
            let response = format!(
                "HTTP/1.1 {status} Status\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.write_all(response.as_bytes());
            request
        });
        (url, handle)
    }

    /// Accepts, reads the request and never answers. The thread is left detached: the client's
    /// connection task lives on the test's single-threaded runtime, so joining here could
    /// block the very task that would close the socket.
    fn serve_silently() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let _ = read_request(&mut stream);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(3)));
            let mut sink = [0u8; 64];
            while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
        });
        url
    }

    fn refused_url() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        format!("http://{addr}/?token=SECRETquerytoken")
    }

    fn header<'a>(request: &'a str, name: &str) -> Option<&'a str> {
        request.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn probe_for(url: String) -> Probe {
        let mut p = Probe::new(url);
        p.timeout = Duration::from_millis(300);
        p
    }

    async fn run(p: &Probe, jar_text: &str, platform: Platform) -> Result<(), Outcome> {
        let jar = parse(jar_text).unwrap();
        probe(&client(), p, &jar, &names(platform), platform).await
    }

    #[tokio::test]
    async fn probe_200_sends_cookie_and_csrf_headers() {
        let (url, server) = serve(200);
        let mut p = probe_for(url);
        p.headers
            .push(("Authorization".into(), Secret::new("Bearer SECRETbearer")));
        assert_eq!(run(&p, PROBE_JAR, Platform::Twitter).await, Ok(()));
        let request = server.join().unwrap();
        assert!(
            request.starts_with("GET /i/api/account HTTP/1.1\r\n"),
            "{request}"
        );
        assert_eq!(
            header(&request, "cookie"),
            Some("auth_token=SECRETauth123; ct0=SECRETct0abc")
        );
        assert_eq!(header(&request, "x-csrf-token"), Some("SECRETct0abc"));
        assert_eq!(
            header(&request, "authorization"),
            Some("Bearer SECRETbearer")
        );
    }

    #[tokio::test]
    async fn probe_without_required_sends_cookies_for_the_host_only() {
        let (url, server) = serve(204);
        let mut p = probe_for(url);
        p.method = "head".into();
        p.expect = vec![200, 204];
        assert_eq!(run(&p, PROBE_JAR, Platform::Generic).await, Ok(()));
        let request = server.join().unwrap();
        assert!(request.starts_with("HEAD "), "{request}");
        assert_eq!(
            header(&request, "cookie"),
            Some("auth_token=SECRETauth123; ct0=SECRETct0abc")
        );
        assert_eq!(header(&request, "x-csrf-token"), None);
    }

    #[tokio::test]
    async fn probe_401_is_rejected() {
        let (url, server) = serve(401);
        let result = run(&probe_for(url), PROBE_JAR, Platform::Twitter).await;
        assert_eq!(result, Err(Outcome::Rejected { status: 401 }));
        server.join().unwrap();
    }

    #[tokio::test]
    async fn probe_redirect_is_rejected_not_followed() {
        let (url, server) = serve(302);
        let result = run(&probe_for(url), PROBE_JAR, Platform::Twitter).await;
        assert_eq!(result, Err(Outcome::Rejected { status: 302 }));
        server.join().unwrap();
    }

    #[tokio::test]
    async fn probe_500_and_429_are_unknown() {
        for status in [500, 503, 429] {
            let (url, server) = serve(status);
            let result = run(&probe_for(url), PROBE_JAR, Platform::Twitter).await;
            let Err(Outcome::Unknown { reason }) = result else {
                panic!("{status}: {result:?}");
            };
            assert!(reason.contains(&status.to_string()), "{reason}");
            server.join().unwrap();
        }
    }

    #[tokio::test]
    async fn probe_timeout_is_unknown() {
        let started = std::time::Instant::now();
        let result = run(&probe_for(serve_silently()), PROBE_JAR, Platform::Twitter).await;
        let Err(Outcome::Unknown { reason }) = result else {
            panic!("{result:?}");
        };
        assert!(reason.starts_with("timed out after 300ms"), "{reason}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[tokio::test]
    async fn probe_connection_refused_is_unknown_without_url() {
        let result = run(&probe_for(refused_url()), PROBE_JAR, Platform::Twitter).await;
        let Err(Outcome::Unknown { reason }) = result else {
            panic!("{result:?}");
        };
        assert!(reason.starts_with("could not connect"), "{reason}");
        assert!(
            !reason.contains("127.0.0.1") && !reason.contains("token"),
            "{reason}"
        );
    }

    #[tokio::test]
    async fn probe_refuses_to_send_cookies_where_a_browser_would_not() {
        // No server: each case must fail before any connection is attempted.
        let url = refused_url();
        let jar = parse(PROBE_JAR).unwrap();
        let c = client();
        let p = probe_for(url);
        let outcome = |r: Result<(), Outcome>| r.unwrap_err();

        let secure = vec!["secure_only".to_string()];
        let r = outcome(probe(&c, &p, &jar, &secure, Platform::Generic).await);
        assert_eq!(r.label(), "unknown", "{r:?}");
        let other_path = vec!["elsewhere".to_string()];
        let r = outcome(probe(&c, &p, &jar, &other_path, Platform::Generic).await);
        assert_eq!(r.label(), "unknown", "{r:?}");

        let other_host = probe_for("http://127.0.0.2:9/".into());
        let r = outcome(probe(&c, &other_host, &jar, &[], Platform::Generic).await);
        assert_eq!(
            r,
            unknown("no cookie in the file applies to the probe URL"),
            "nothing is sent to a host no cookie belongs to"
        );

        let r = outcome(
            probe(
                &c,
                &p,
                &jar,
                &names(Platform::Messenger),
                Platform::Messenger,
            )
            .await,
        );
        assert_eq!(
            r,
            Outcome::Missing {
                names: vec!["c_user".into(), "xs".into()]
            }
        );

        let bad_url = probe_for("not a url".into());
        let r = outcome(probe(&c, &bad_url, &jar, &[], Platform::Generic).await);
        assert_eq!(r, unknown("probe URL is not valid"));
    }

    #[tokio::test]
    async fn probe_rejects_values_that_cannot_be_headers() {
        let jar =
            parse(r#"[{"name": "sid", "value": "SECRETline\nbreak", "domain": "127.0.0.1"}]"#)
                .unwrap();
        let r = probe(
            &client(),
            &probe_for(refused_url()),
            &jar,
            &[],
            Platform::Generic,
        )
        .await;
        assert_eq!(r.unwrap_err().label(), "malformed");

        let jar = parse(PROBE_JAR).unwrap();
        let mut p = probe_for(refused_url());
        p.headers
            .push(("bad header".into(), Secret::new("SECRETh1")));
        let r = probe(&client(), &p, &jar, &[], Platform::Generic).await;
        assert_eq!(r, Err(unknown("probe header #1 has an invalid name")));
    }

    // ---- secrets never leak ----

    fn assert_no_secret(what: &str, text: &str) {
        assert!(
            !text.contains("SECRET"),
            "{what} leaks a cookie value: {text}"
        );
    }

    fn outcome_texts(o: &Outcome) -> Vec<String> {
        vec![
            format!("{o:?}"),
            format!("{o:#?}"),
            serde_json::to_string(o).unwrap(),
            o.label().to_string(),
        ]
    }

    #[tokio::test]
    async fn no_output_contains_a_cookie_value() {
        let mut texts: Vec<(String, String)> = Vec::new();
        let mut values_seen = 0;
        for (i, fixture) in FIXTURES.iter().chain([&DUPLICATES, &PROBE_JAR]).enumerate() {
            let what = |kind: &str| format!("fixture {i} {kind}");
            match parse(fixture) {
                Ok(jar) => {
                    for c in &jar.cookies {
                        // Guards the test itself: a fixture value without the marker would be
                        // invisible to this check.
                        assert!(
                            c.value.is_empty() || c.value.expose().contains("SECRET"),
                            "fixture {i} has an unmarked value"
                        );
                        values_seen += usize::from(!c.value.is_empty());
                        texts.push((what("cookie debug"), format!("{c:?}")));
                    }
                    texts.push((what("jar debug"), format!("{jar:?}")));
                    texts.push((what("jar pretty debug"), format!("{jar:#?}")));
                    for platform in [Platform::Twitter, Platform::Messenger, Platform::Generic] {
                        for now in [0, NOW, 1_760_000_000, i64::MAX] {
                            let o = evaluate(&jar, &names(platform), now, DAY);
                            for t in outcome_texts(&o) {
                                texts.push((what("outcome"), t));
                            }
                        }
                    }
                }
                Err(e) => {
                    texts.push((what("error display"), e.to_string()));
                    texts.push((what("error debug"), format!("{e:?}")));
                    for t in outcome_texts(&Outcome::from(e)) {
                        texts.push((what("malformed outcome"), t));
                    }
                }
            }
        }
        assert!(values_seen >= 20, "fixtures exercise many values");

        // Probe outcomes, including ones carrying transport error text.
        let mut probe_outcomes = Vec::new();
        for status in [401, 500, 302] {
            let (url, server) = serve(status);
            probe_outcomes.push(run(&probe_for(url), PROBE_JAR, Platform::Twitter).await);
            server.join().unwrap();
        }
        let mut p = probe_for(serve_silently());
        p.headers
            .push(("authorization".into(), Secret::new("Bearer SECRETbearer")));
        texts.push(("probe debug".into(), format!("{p:?}")));
        probe_outcomes.push(run(&p, PROBE_JAR, Platform::Twitter).await);
        probe_outcomes.push(run(&probe_for(refused_url()), PROBE_JAR, Platform::Twitter).await);
        probe_outcomes.push(run(&probe_for(refused_url()), PROBE_JAR, Platform::Generic).await);
        let newline_jar = r#"[{"name": "sid", "value": "SECRETnl\r\nx", "domain": "127.0.0.1"}]"#;
        probe_outcomes.push(run(&probe_for(refused_url()), newline_jar, Platform::Generic).await);
        for o in probe_outcomes {
            let o = o.expect_err("every probe above fails");
            for t in outcome_texts(&o) {
                texts.push(("probe outcome".into(), t));
            }
        }

        let load_outcome = check_file(&temp_path("absent-probe"), &[], NOW, DAY);
        texts.extend(
            outcome_texts(&load_outcome)
                .into_iter()
                .map(|t| ("load".into(), t)),
        );

        for (what, text) in &texts {
            assert_no_secret(what, text);
        }
    }
}

/// Cookie files come from browser extensions, curl and hand edits: whatever they hold, parsing
/// and checking them must not panic, and no error may quote a cookie value.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    /// Values carry a marker so a leak into an error or outcome is easy to spot.
    const MARK: &str = "SECRETzz";

    fn field() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("TRUE".to_string()),
            Just("false".to_string()),
            Just(".x.com".to_string()),
            Just("/".to_string()),
            Just("0".to_string()),
            Just("-1".to_string()),
            Just("9223372036854775807".to_string()),
            Just("99999999999999999999".to_string()),
            Just("auth_token".to_string()),
            "[ -~]{0,12}",
            any::<String>(),
        ]
    }

    fn netscape() -> impl Strategy<Value = String> {
        let line = (
            prop::collection::vec(field(), 0..9),
            any::<bool>(),
            prop_oneof![Just(""), Just("#HttpOnly_"), Just("# "), Just("\u{feff}")],
            prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
        )
            .prop_map(|(mut fields, secret, prefix, end)| {
                // The secret goes where a cookie's value is, the seventh field: a shorter line
                // has no value, and its last field (a name, say) is shown by design. A line
                // ended by a lone "\r" runs on into the next one; the field counts then keep
                // the mark in the value or make the line one that is refused.
                if secret && fields.len() == 7 {
                    fields[6] = format!("{MARK}{}", fields[6]);
                }
                format!("{prefix}{}{end}", fields.join("\t"))
            });
        prop::collection::vec(line, 0..6).prop_map(|lines| lines.concat())
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::{Value, json};
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|f| json!(f)),
            Just(json!(1e300)),
            Just(json!(-1.5)),
            Just(json!(u64::MAX)),
            "[ -~]{0,10}".prop_map(Value::String),
            Just(Value::String(format!("{MARK}v"))),
        ];
        leaf.prop_recursive(2, 12, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::btree_map("[a-z]{1,4}", inner, 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn json_cookie_object() -> impl Strategy<Value = serde_json::Value> {
        const KEYS: &[&str] = &[
            "name",
            "value",
            "domain",
            "path",
            "expirationDate",
            "expires",
            "session",
            "secure",
            "httpOnly",
            "hostOnly",
        ];
        prop::collection::vec((prop::sample::select(KEYS), json_value()), 0..10).prop_map(|kv| {
            let mut obj = serde_json::Map::new();
            for (k, v) in kv {
                obj.insert(k.to_string(), v);
            }
            serde_json::Value::Object(obj)
        })
    }

    fn json_file() -> impl Strategy<Value = String> {
        let cookies = prop::collection::vec(
            prop_oneof![3 => json_cookie_object(), 1 => json_value()],
            0..4,
        );
        (cookies, any::<bool>(), 0..4usize).prop_map(|(items, wrapped, cut)| {
            let array = serde_json::Value::Array(items);
            let root = if wrapped {
                serde_json::json!({ "cookies": array })
            } else {
                array
            };
            let text = serde_json::to_string_pretty(&root).unwrap_or_default();
            // Sometimes cut short, as a half-written export would be.
            let keep = text.len() - text.len() * cut / 8;
            String::from_utf8_lossy(&text.as_bytes()[..keep]).into_owned()
        })
    }

    fn cookie_text() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..256)
                .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
            any::<String>(),
            netscape(),
            json_file(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn parse_never_panics_nor_quotes_a_value(
            text in cookie_text(),
            now in prop_oneof![Just(0i64), Just(i64::MAX), Just(i64::MIN), any::<i64>(), Just(1_700_000_000i64)],
            warn in prop_oneof![Just(0i64), Just(i64::MAX), Just(-1i64), any::<i64>()],
        ) {
            match parse(&text) {
                Err(e) => {
                    prop_assert!(!e.to_string().contains(MARK), "{}", e);
                    prop_assert!(!format!("{e:?}").contains(MARK), "{:?}", e);
                }
                Ok(jar) => {
                    prop_assert!(!format!("{jar:?}").contains(MARK), "{:?}", jar);
                    for required in [&[][..], &["auth_token".to_string(), "ct0".to_string()][..]] {
                        let outcome = evaluate(&jar, required, now, warn);
                        let shown = format!("{outcome:?} {}", outcome.label());
                        prop_assert!(!shown.contains(MARK), "{}", shown);
                    }
                    let _ = find(&jar, "auth_token", Some("x.com"));
                }
            }
        }
    }
}
