//! The HTML `flow serve` renders itself: the status page shell (template
//! `host/assets/index.html` with the flow graph filled in; the script fills
//! the rest from the API) and the page of one item with its log.
//!
//! Pure: every value is escaped here, at the one place it becomes markup.

use std::fmt::Write as _;

use crate::serve::text::escape_html;
use crate::status::{ItemReport, RunView};

const INDEX: &str = include_str!("../../assets/index.html");

/// The status page for the flow shown as `flow`, with its graph (markup
/// from `graph.rs`, already escaped).
pub(crate) fn index(flow: &str, graph: &str) -> String {
    fill(INDEX, &[("flow", &escape_html(flow)), ("graph", graph)])
}

/// Replaces each `{{key}}` once, left to right, without rescanning what it
/// inserted: a value that looks like a placeholder stays as it is.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let found = after.find("}}").and_then(|close| {
            let key = &after[..close];
            values
                .iter()
                .find(|(name, _)| *name == key)
                .map(|(_, value)| (*value, close))
        });
        match found {
            Some((value, close)) => {
                out.push_str(value);
                rest = &after[close + 2..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// What the item page shows.
pub(crate) struct ItemPage<'a> {
    pub(crate) flow: &'a str,
    pub(crate) job: &'a str,
    pub(crate) item: &'a ItemReport,
    /// The item's runs, newest first.
    pub(crate) runs: &'a [RunView],
    /// The last lines of the last run's log.
    pub(crate) log: &'a [String],
}

pub(crate) fn item(page: &ItemPage<'_>) -> String {
    let item = page.item;
    let (job, name) = (escape_html(page.job), escape_html(&item.item));
    let link = format!(
        "/jobs/{}/items/{}/log",
        escape_html(&url_segment(page.job)),
        escape_html(&url_segment(&item.item))
    );
    let mut body = format!(
        "<nav class=\"crumbs\"><a href=\"/\">← {}</a> / {job}</nav>\
         <h1>{name} <span class=\"badge {status}\">{status}</span></h1>\
         <section><h2>Status</h2><p class=\"detail\">{}</p>{}</section>",
        escape_html(page.flow),
        escape_html(&item.detail),
        props(item),
        status = item.status.as_str(),
    );
    if let Some(run) = &item.last_run {
        let _ = write!(
            body,
            "<section><h2>Log of run #{} <span class=\"muted\">(last {} lines)</span></h2>\
             <pre class=\"log\" tabindex=\"0\">{}</pre><p><a href=\"{link}\">Whole log as text</a></p></section>",
            run.id,
            page.log.len(),
            page.log
                .iter()
                .map(|line| escape_html(line))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    body.push_str(&runs_table(page.runs));
    shell(&format!("{} · {}", item.item, page.job), &body)
}

fn props(item: &ItemReport) -> String {
    let mut rows = vec![
        ("inputs", item.inputs.join(", ")),
        ("target", item.target.clone()),
        ("attempts", format!("{} of {}", item.attempts, item.retries)),
    ];
    if let Some(run) = &item.last_run {
        let ended = match (run.exit_code, run.signal) {
            (Some(code), _) => format!("{} (exit code {code})", run.outcome),
            (None, Some(signal)) => format!("{} (signal {signal})", run.outcome),
            (None, None) => run.outcome.clone(),
        };
        rows.push((
            "last run",
            format!("#{}, attempt {}: {ended}", run.id, run.attempt),
        ));
        if let Some(job_id) = &run.executor.job_id {
            let state = run.executor.state.as_deref().unwrap_or("");
            rows.push(("slurm job", format!("{job_id} {state}")));
        }
        rows.push(("started", run.started_at.clone()));
        rows.push((
            "duration",
            run.duration_ms
                .map_or_else(|| "…".to_owned(), |ms| format!("{ms} ms")),
        ));
    }
    let mut out = String::from("<dl class=\"props\">");
    for (key, value) in rows {
        let _ = write!(out, "<dt>{key}</dt><dd>{}</dd>", escape_html(&value));
    }
    out.push_str("</dl>");
    out
}

fn runs_table(runs: &[RunView]) -> String {
    let mut out = String::from(
        "<section><h2>Runs</h2><div class=\"scroll\"><table><thead><tr><th scope=\"col\">run</th>\
         <th scope=\"col\">attempt</th><th scope=\"col\">started</th><th scope=\"col\" class=\"num\">duration</th>\
         <th scope=\"col\">outcome</th><th scope=\"col\" class=\"num\">exit</th></tr></thead><tbody>",
    );
    for run in runs {
        let _ = write!(
            out,
            "<tr><td>#{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
            run.id,
            run.attempt,
            escape_html(&run.started_at),
            run.duration_ms
                .map_or_else(String::new, |ms| format!("{ms} ms")),
            escape_html(&run.outcome),
            run.exit_code
                .map_or_else(String::new, |code| code.to_string()),
        );
    }
    if runs.is_empty() {
        out.push_str("<tr><td colspan=\"6\" class=\"muted\">not run yet</td></tr>");
    }
    out.push_str("</tbody></table></div></section>");
    out
}

/// A page around `body` (markup), titled `title` (text).
pub(crate) fn shell(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\">\
         <title>{} · flow</title><link rel=\"stylesheet\" href=\"/assets/style.css\"></head>\
         <body><main id=\"main\">{body}</main></body></html>",
        escape_html(title)
    )
}

/// A path segment with everything but unreserved characters percent-encoded.
pub(crate) fn url_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_does_not_rescan_inserted_values() {
        assert_eq!(
            fill("a {{x}} {{y}} {{z}}", &[("x", "{{y}}"), ("y", "2")]),
            "a {{y}} 2 {{z}}"
        );
    }

    #[test]
    fn index_escapes_the_flow_name() {
        let page = index("<b>f</b>", "<svg></svg>");
        assert!(page.contains("&lt;b&gt;f&lt;/b&gt; · flow status"));
        assert!(page.contains("<svg></svg>"));
    }

    #[test]
    fn url_segments_encode_reserved_bytes() {
        assert_eq!(url_segment("a b/<é>.csv"), "a%20b%2F%3C%C3%A9%3E.csv");
    }
}
