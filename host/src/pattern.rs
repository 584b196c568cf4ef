//! Path patterns with `{wildcards}`: parsing, matching a file name, rendering
//! a binding back into a path.
//!
//! Wildcards live only in the file-name part; the folder part is literal, so
//! one pattern always scans exactly one folder. Knows nothing of YAML or state.

use std::collections::BTreeMap;

/// Values bound to a pattern's wildcards for one item.
pub(crate) type Bindings = BTreeMap<String, String>;

/// The wildcard a folder source binds: the whole file name.
pub(crate) const FILE_WILDCARD: &str = "file";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Wildcard(String),
}

/// A file-name template such as `{name}_A.{ext}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pieces: Vec<Piece>,
}

/// A folder (relative to the flow folder) and a template for the names in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    pub(crate) folder: String,
    pub(crate) file: Template,
}

/// Why a pattern could not be parsed; `offset` is a byte offset in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PatternError {
    pub(crate) offset: usize,
    pub(crate) len: usize,
    pub(crate) message: String,
    pub(crate) hint: String,
}

impl Template {
    pub(crate) fn parse(text: &str) -> Result<Self, PatternError> {
        let mut pieces = Vec::new();
        let mut rest = text;
        let mut offset = 0;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                pieces.push(Piece::Literal(rest[..open].to_owned()));
            }
            let Some(close) = rest[open..].find('}') else {
                return Err(PatternError {
                    offset: offset + open,
                    len: rest.len() - open,
                    message: "unclosed `{` in a pattern".into(),
                    hint: "close the wildcard with `}`, as in `{name}`".into(),
                });
            };
            let name = &rest[open + 1..open + close];
            if !is_identifier(name) {
                return Err(PatternError {
                    offset: offset + open,
                    len: close + 1,
                    message: format!("`{{{name}}}` is not a valid wildcard"),
                    hint: "a wildcard is a name of letters, digits and `_`, as in `{name}`".into(),
                });
            }
            if matches!(pieces.last(), Some(Piece::Wildcard(_))) {
                return Err(PatternError {
                    offset: offset + open,
                    len: close + 1,
                    message: "two wildcards in a row cannot be told apart".into(),
                    hint: "put literal text between them, as in `{name}.{ext}`".into(),
                });
            }
            pieces.push(Piece::Wildcard(name.to_owned()));
            offset += open + close + 1;
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Literal(rest.to_owned()));
        }
        Ok(Self { pieces })
    }

    fn whole_file() -> Self {
        Self {
            pieces: vec![Piece::Wildcard(FILE_WILDCARD.to_owned())],
        }
    }

    pub(crate) fn wildcards(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|piece| match piece {
            Piece::Wildcard(name) => Some(name.as_str()),
            Piece::Literal(_) => None,
        })
    }

    /// [`matches_borrowed`](Self::matches_borrowed) with owned bindings.
    #[cfg(test)]
    pub(crate) fn matches(&self, name: &str) -> Option<Bindings> {
        let mut bound = Vec::new();
        self.matches_borrowed(name, &mut bound)
            .then(|| to_bindings(&bound))
    }

    /// Binds the wildcards to `name` into `bound`, as (wildcard, value)
    /// slices of the pattern and the name; false when it does not fit.
    /// Earlier wildcards take as much as they can, so `{name}.{ext}` splits
    /// `a.b.csv` at the last dot, which is what an extension means. Nothing
    /// is allocated once `bound` has room: a plan tries every file of a
    /// folder, and most tries of some patterns fail.
    pub(crate) fn matches_borrowed<'p, 'n>(
        &'p self,
        name: &'n str,
        bound: &mut Bound<'p, 'n>,
    ) -> bool {
        bound.clear();
        match_from(&self.pieces, name, bound)
    }

    /// Renders with the values `value` gives at the end of `out`; a
    /// wildcard without a value stays as written.
    fn render_into<'v>(&self, value: impl Fn(&str) -> Option<&'v str>, out: &mut String) {
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => out.push_str(text),
                Piece::Wildcard(name) => match value(name) {
                    Some(value) => out.push_str(value),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                },
            }
        }
    }
}

/// Wildcards bound by a match, as (wildcard, value) slices.
pub(crate) type Bound<'p, 'n> = Vec<(&'p str, &'n str)>;

#[cfg(test)]
fn to_bindings(bound: &[(&str, &str)]) -> Bindings {
    bound
        .iter()
        .map(|(wildcard, value)| ((*wildcard).to_owned(), (*value).to_owned()))
        .collect()
}

fn match_from<'p, 'n>(pieces: &'p [Piece], name: &'n str, bound: &mut Bound<'p, 'n>) -> bool {
    match pieces.split_first() {
        None => name.is_empty(),
        Some((Piece::Literal(text), rest)) => name
            .strip_prefix(text.as_str())
            .is_some_and(|tail| match_from(rest, tail, bound)),
        Some((Piece::Wildcard(wildcard), rest)) => {
            if let Some(&(_, value)) = bound.iter().find(|(seen, _)| *seen == wildcard) {
                return name
                    .strip_prefix(value)
                    .is_some_and(|tail| match_from(rest, tail, bound));
            }
            for (start, c) in name.char_indices().rev() {
                let end = start + c.len_utf8();
                bound.push((wildcard.as_str(), &name[..end]));
                if match_from(rest, &name[end..], bound) {
                    return true;
                }
                bound.pop();
            }
            false
        }
    }
}

pub(crate) fn is_identifier(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Pattern {
    /// Parses `folder/template`. Text without wildcards is a folder: its
    /// items are the files in it, named by `{file}`.
    pub(crate) fn parse(text: &str) -> Result<Self, PatternError> {
        let trimmed = text.trim_end_matches('/');
        if !trimmed.contains('{') {
            return Ok(Self {
                folder: normalize_folder(trimmed),
                file: Template::whole_file(),
            });
        }
        let (folder, file) = match trimmed.rfind('/') {
            Some(slash) => (&trimmed[..slash], &trimmed[slash + 1..]),
            None => ("", trimmed),
        };
        if let Some(brace) = folder.find('{') {
            return Err(PatternError {
                offset: brace,
                len: folder.len() - brace,
                message: "wildcards are allowed only in the file name".into(),
                hint: "name one folder and put the wildcards after its last `/`".into(),
            });
        }
        let offset = text.len() - file.len() - (text.len() - trimmed.len());
        let file = Template::parse(file).map_err(|mut error| {
            error.offset += offset;
            error
        })?;
        Ok(Self {
            folder: normalize_folder(folder),
            file,
        })
    }

    /// A target written as a bare folder keeps the source's file name.
    pub(crate) fn parse_target(text: &str, source: &Pattern) -> Result<Self, PatternError> {
        let pattern = Self::parse(text)?;
        if text.contains('{') {
            Ok(pattern)
        } else {
            Ok(Self {
                folder: pattern.folder,
                file: source.file.clone(),
            })
        }
    }

    pub(crate) fn render(&self, bindings: &Bindings) -> String {
        let mut out = String::with_capacity(self.folder.len() + 32);
        self.render_to(bindings, &mut out);
        out
    }

    /// [`render`](Self::render) into `out`, replacing what it held: a plan
    /// renders every input of every item, mostly into reused buffers.
    pub(crate) fn render_to(&self, bindings: &Bindings, out: &mut String) {
        self.render_with(|name| bindings.get(name).map(String::as_str), out);
    }

    /// [`render_to`](Self::render_to) with the slices a
    /// [`Template::matches_borrowed`] bound.
    pub(crate) fn render_bound(&self, bound: &[(&str, &str)], out: &mut String) {
        let value = |name: &str| {
            bound
                .iter()
                .find(|(wildcard, _)| *wildcard == name)
                .map(|(_, value)| *value)
        };
        self.render_with(value, out);
    }

    fn render_with<'v>(&self, value: impl Fn(&str) -> Option<&'v str>, out: &mut String) {
        out.clear();
        if !self.folder.is_empty() {
            out.push_str(&self.folder);
            out.push('/');
        }
        self.file.render_into(value, out);
    }
}

fn normalize_folder(folder: &str) -> String {
    let trimmed = folder.trim_start_matches("./");
    if trimmed == "." {
        String::new()
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bind(pairs: &[(&str, &str)]) -> Bindings {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn matches_and_renders_wildcards() {
        let pattern = Pattern::parse("timestamped/{name}_A.{ext}").expect("valid");
        assert_eq!(pattern.folder, "timestamped");
        let bindings = pattern.file.matches("File_A.xlsx").expect("matches");
        assert_eq!(bindings, bind(&[("name", "File"), ("ext", "xlsx")]));
        assert_eq!(pattern.file.matches("File_B.xlsx"), None);
        let target = Pattern::parse("merged/{name}.{ext}").expect("valid");
        assert_eq!(target.render(&bindings), "merged/File.xlsx");
    }

    #[test]
    fn extension_is_split_at_the_last_dot() {
        let template = Template::parse("{name}.{ext}").expect("valid");
        let bindings = template.matches("a.b.csv").expect("matches");
        assert_eq!(bindings, bind(&[("name", "a.b"), ("ext", "csv")]));
    }

    #[test]
    fn repeated_wildcard_must_bind_the_same_value() {
        let template = Template::parse("{x}-{x}.txt").expect("valid");
        assert!(template.matches("ab-ab.txt").is_some());
        assert!(template.matches("ab-cd.txt").is_none());
    }

    #[test]
    fn folder_binds_the_whole_file_name_and_target_folder_keeps_it() {
        let source = Pattern::parse("source/").expect("valid");
        assert_eq!(source.folder, "source");
        let bindings = source.file.matches("File_A.xlsx").expect("matches");
        let target = Pattern::parse_target("timestamped", &source).expect("valid");
        assert_eq!(target.render(&bindings), "timestamped/File_A.xlsx");
    }

    #[test]
    fn rejects_bad_patterns_with_offsets() {
        let error = Pattern::parse("out/{name.csv").expect_err("unclosed");
        assert_eq!(error.offset, 4);
        let error = Pattern::parse("out/{na me}.csv").expect_err("bad name");
        assert_eq!((error.offset, error.len), (4, 7));
        let error = Pattern::parse("{day}/x.csv").expect_err("folder wildcard");
        assert_eq!(error.offset, 0);
        assert!(Pattern::parse("{a}{b}").is_err());
    }
}
