//! Text hygiene for everything `flow serve` sends: HTML escaping, hiding
//! passwords in URLs, and percent-decoding of request paths.
//!
//! Pure functions over strings; knows nothing of HTTP or the state.

use std::borrow::Cow;

/// Escapes the five characters that could open markup or end an attribute.
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

/// What replaces a password.
const HIDDEN: &str = "***";

/// Hides the password of every `scheme://user:password@` in `text`.
///
/// Applied to whole response bodies, after escaping: a valid URL's user
/// information holds no whitespace, `/`, `@`, quote or angle bracket, so the
/// escaped forms (`&amp;` in HTML) match the same way and a match can never
/// run across a JSON string's quotes.
pub(crate) fn redact(text: &str) -> Cow<'_, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(found) = rest.find("://") {
        let start = found + 3;
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        if let Some((password_at, password_end)) = password_span(rest) {
            out.push_str(&rest[..password_at]);
            out.push_str(HIDDEN);
            rest = &rest[password_end..];
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// In `user:password@host...`, the byte range of `password`.
fn password_span(authority: &str) -> Option<(usize, usize)> {
    let stop = |ch: char| ch.is_whitespace() || matches!(ch, '/' | '@' | '"' | '<' | '>' | '\'');
    let end = authority
        .find(|ch: char| stop(ch) || ch == '@')
        .unwrap_or(authority.len());
    if !authority[end..].starts_with('@') {
        return None;
    }
    let colon = authority[..end].find(':')?;
    (colon + 1 < end).then_some((colon + 1, end))
}

/// Decodes `%XX` escapes; `None` for a malformed escape or bytes that are
/// not UTF-8, which the router answers with 404.
pub(crate) fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' => {
                let hex = text.get(index + 1..index + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                index += 3;
            }
            byte => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape_html(r#"<img src=x onerror="alert('1')">&"#),
            "&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;"
        );
    }

    #[test]
    fn hides_passwords_only() {
        assert_eq!(
            redact("db postgres://flow:s3cr%2Ft@db:5432/x and sqlite://flow.db"),
            "db postgres://flow:***@db:5432/x and sqlite://flow.db"
        );
        assert_eq!(redact("a://:p@h b://u@h"), "a://:***@h b://u@h");
        assert_eq!(redact("\"x://u:p\", \"c@d\""), "\"x://u:p\", \"c@d\"");
        assert_eq!(redact("https://a:b:c@h"), "https://a:***@h");
        assert_eq!(redact("no url"), "no url");
    }

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(percent_decode("%2e%2E%2Fx").as_deref(), Some("../x"));
        assert_eq!(percent_decode("a%"), None);
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%ff"), None);
    }
}
