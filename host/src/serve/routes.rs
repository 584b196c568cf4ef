//! The URL space of `flow serve`: a request line becomes a [`Route`] or
//! nothing (404). Pure; the handlers live in `serve.rs`.
//!
//! Every path segment is percent-decoded once and must then be a plain name:
//! `.`/`..`, empty segments and segments holding `/`, `\` or NUL are refused
//! here, so no encoded form of `../` reaches a handler. Handlers still look
//! names up among the configured jobs and recorded items, never on disk.

use crate::serve::text::percent_decode;

/// Runs listed by `/api/runs` without `limit`, and the most it gives.
pub(crate) const DEFAULT_RUNS: u32 = 50;
pub(crate) const MAX_RUNS: u32 = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Page,
    Asset(Asset),
    Status,
    Runs { job: Option<String>, limit: u32 },
    Health,
    Metrics,
    Item { job: String, item: String },
    ItemLog { job: String, item: String },
}

/// Files embedded in the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Asset {
    Style,
    Script,
}

/// Why a request gets no route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    NotFound,
    /// The server only reads: anything but GET and HEAD.
    Method,
    /// A known route with a query it cannot use.
    BadQuery(String),
}

/// The route for a method and a raw request target (`/path?query`).
pub(crate) fn route(method: &str, target: &str) -> Result<Route, Refusal> {
    if method != "GET" && method != "HEAD" {
        return Err(Refusal::Method);
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let segments = segments(path).ok_or(Refusal::NotFound)?;
    let names: Vec<&str> = segments.iter().map(String::as_str).collect();
    match names.as_slice() {
        [] => Ok(Route::Page),
        ["assets", "style.css"] => Ok(Route::Asset(Asset::Style)),
        ["assets", "app.js"] => Ok(Route::Asset(Asset::Script)),
        ["api", "status"] => Ok(Route::Status),
        ["api", "runs"] => runs(query),
        ["healthz"] => Ok(Route::Health),
        ["metrics"] => Ok(Route::Metrics),
        ["jobs", job, "items", item] => Ok(Route::Item {
            job: (*job).to_owned(),
            item: (*item).to_owned(),
        }),
        ["jobs", job, "items", item, "log"] => Ok(Route::ItemLog {
            job: (*job).to_owned(),
            item: (*item).to_owned(),
        }),
        _ => Err(Refusal::NotFound),
    }
}

/// Decoded segments of an absolute path; `None` for anything that is not a
/// plain name. A trailing `/` is allowed on the page only.
fn segments(path: &str) -> Option<Vec<String>> {
    let rest = path.strip_prefix('/')?;
    if rest.is_empty() {
        return Some(Vec::new());
    }
    rest.split('/')
        .map(|raw| {
            let name = percent_decode(raw)?;
            let plain = !name.is_empty()
                && name != "."
                && name != ".."
                && !name.contains(['/', '\\', '\0']);
            plain.then_some(name)
        })
        .collect()
}

/// `/api/runs?job=NAME&limit=N`.
fn runs(query: &str) -> Result<Route, Refusal> {
    let mut job = None;
    let mut limit = DEFAULT_RUNS;
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let bad = || Refusal::BadQuery(format!("`{key}` has a malformed value"));
        let value = percent_decode(&value.replace('+', " ")).ok_or_else(bad)?;
        match key {
            "job" if !value.is_empty() => job = Some(value),
            "job" => {}
            "limit" => {
                limit = value
                    .parse::<u32>()
                    .ok()
                    .filter(|&limit| limit > 0)
                    .ok_or_else(|| Refusal::BadQuery(format!("`limit` must be 1 to {MAX_RUNS}")))?
                    .min(MAX_RUNS);
            }
            _ => {
                return Err(Refusal::BadQuery(format!(
                    "unknown parameter `{key}`; use `job` and `limit`"
                )));
            }
        }
    }
    Ok(Route::Runs { job, limit })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_the_known_paths() {
        assert_eq!(route("GET", "/"), Ok(Route::Page));
        assert_eq!(route("HEAD", "/api/status"), Ok(Route::Status));
        assert_eq!(
            route("GET", "/jobs/zscore/items/File%20A.xlsx"),
            Ok(Route::Item {
                job: "zscore".into(),
                item: "File A.xlsx".into()
            })
        );
        assert_eq!(
            route("GET", "/api/runs?job=a%2Bb&limit=5"),
            Ok(Route::Runs {
                job: Some("a+b".into()),
                limit: 5
            })
        );
        assert_eq!(
            route("GET", "/api/runs?limit=99999"),
            Ok(Route::Runs {
                job: None,
                limit: MAX_RUNS
            })
        );
        assert_eq!(route("POST", "/"), Err(Refusal::Method));
        assert!(matches!(
            route("GET", "/api/runs?limit=0"),
            Err(Refusal::BadQuery(_))
        ));
    }

    #[test]
    fn traversal_in_any_encoding_is_not_found() {
        for target in [
            "/jobs/../../etc/passwd",
            "/jobs/a/items/..",
            "/jobs/a/items/%2e%2e",
            "/jobs/a/items/%2E%2E%2Fetc%2Fpasswd",
            "/jobs/a/items/..%2f..%2fetc%2fpasswd",
            "/jobs/a/items/%252e%252e",
            "/jobs/a/items/x%00",
            "/jobs/a/items/..%5c..%5cetc",
            "/jobs//items/x",
            "/assets/../state.db",
            "/.flow/state.db",
            "//etc/passwd",
            "etc/passwd",
        ] {
            let found = route("GET", target);
            let decoded_once = matches!(&found, Ok(Route::Item { item, .. }) if item == "%2e%2e");
            assert!(
                found == Err(Refusal::NotFound) || decoded_once,
                "{target}: {found:?}"
            );
        }
    }
}
