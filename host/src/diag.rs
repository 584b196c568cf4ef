//! Rendering of located diagnostics: `error:` line, `file:line:col`, the
//! source line, a caret under the span, and a `hint:` with the fix.
//!
//! Owns presentation only; what is wrong is decided by `config.rs`.

use std::fmt::Write as _;

/// A place in a source file: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) line: usize,
    pub(crate) col: usize,
    pub(crate) len: usize,
}

/// A file as the user named it, with its text, for quoting lines.
#[derive(Debug, Clone)]
pub(crate) struct SourceFile {
    pub(crate) display: String,
    pub(crate) text: String,
}

/// One problem with where it is and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Diagnostic {
    pub(crate) message: String,
    pub(crate) span: Option<Span>,
    pub(crate) hint: Option<String>,
}

impl Diagnostic {
    pub(crate) fn new(message: impl Into<String>, span: Option<Span>) -> Self {
        Self {
            message: message.into(),
            span,
            hint: None,
        }
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub(crate) fn render(&self, source: &SourceFile) -> String {
        let mut out = format!("error: {}\n", self.message);
        match self.span {
            Some(span) => {
                let number = span.line.to_string();
                let pad = " ".repeat(number.len());
                let line = source
                    .text
                    .lines()
                    .nth(span.line.saturating_sub(1))
                    .unwrap_or("");
                let _ = writeln!(
                    out,
                    "{pad}--> {}:{}:{}",
                    source.display, span.line, span.col
                );
                let _ = writeln!(out, "{pad} |");
                let _ = writeln!(out, "{number} | {line}");
                let _ = writeln!(
                    out,
                    "{pad} | {}{}",
                    " ".repeat(span.col.saturating_sub(1)),
                    "^".repeat(span.len.max(1))
                );
            }
            None => {
                let _ = writeln!(out, "  --> {}", source.display);
            }
        }
        if let Some(hint) = &self.hint {
            let _ = writeln!(out, "hint: {hint}");
        }
        out
    }
}

/// Everything wrong with one `flow.yaml`.
#[derive(Debug)]
pub(crate) struct ConfigError {
    pub(crate) file: SourceFile,
    pub(crate) diagnostics: Vec<Diagnostic>,
}

impl ConfigError {
    pub(crate) fn render(&self) -> String {
        let mut out: Vec<String> = self
            .diagnostics
            .iter()
            .map(|diagnostic| diagnostic.render(&self.file))
            .collect();
        if self.diagnostics.len() > 1 {
            out.push(format!(
                "error: {} has {} errors\n",
                self.file.display,
                self.diagnostics.len()
            ));
        }
        out.join("\n")
    }
}

/// The candidate closest to `word` within an edit distance of 2, if any.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::levenshtein(word, candidate), candidate))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_the_style_guide() {
        let mut text = "\n".repeat(22);
        text.push_str("    target: merged/{nmae}.{ext}\n");
        let source = SourceFile {
            display: "flow-config/flow.yaml".into(),
            text,
        };
        let diagnostic = Diagnostic::new(
            "job `merge` uses unknown wildcard `{nmae}`",
            Some(Span {
                line: 23,
                col: 20,
                len: 6,
            }),
        )
        .hint("`source` defines {name} and {ext}; did you mean {name}?");
        assert_eq!(
            diagnostic.render(&source),
            "error: job `merge` uses unknown wildcard `{nmae}`
  --> flow-config/flow.yaml:23:20
   |
23 |     target: merged/{nmae}.{ext}
   |                    ^^^^^^
hint: `source` defines {name} and {ext}; did you mean {name}?
"
        );
    }

    #[test]
    fn suggests_within_two_edits_only() {
        assert_eq!(did_you_mean("nmae", ["name", "ext"]), Some("name"));
        assert_eq!(did_you_mean("colour", ["timeout", "retries"]), None);
    }
}
