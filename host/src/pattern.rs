//! Path patterns with `{wildcards}` in any segment: parsing, matching one
//! path segment or a whole path, rendering a binding back into a path.
//!
//! A pattern is a literal root (the leading folders without wildcards) and
//! the segments below it; a wildcard binds a non-empty part of one segment,
//! never a `/`. Knows nothing of YAML, folders on disk or state.
//!
//! A pattern in object storage, `s3://BUCKET/PREFIX/...`, has the same
//! shape: its root is `s3://BUCKET` and the literal part of the key; the
//! bucket itself must be a valid, literal bucket name.

use std::sync::Arc;

/// Values bound to a pattern's wildcards for one item, by wildcard name.
/// A pattern has a few wildcards, so a list kept in name order; the names
/// are shared with the pattern, so binding one allocates only its value,
/// and the values are shared too: the files of one folder share the
/// values its folders bound.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Bindings(Vec<(Arc<str>, Arc<str>)>);

impl Bindings {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn get(&self, wildcard: &str) -> Option<&str> {
        // a handful of names: a scan beats a search; and a job's patterns
        // share their names (`Pattern::sharing_names_of`), so most lookups
        // end at the name's own address before any text is compared
        let same = |name: &&(Arc<str>, Arc<str>)| std::ptr::eq(&*name.0, wildcard);
        let found = (self.0.iter().find(same))
            .or_else(|| self.0.iter().find(|(name, _)| **name == *wildcard));
        found.map(|(_, value)| &**value)
    }

    /// A copy with room for `more` names, for a binding about to grow.
    fn with_room(&self, more: usize) -> Self {
        let mut pairs = Vec::with_capacity(self.0.len() + more);
        pairs.extend(self.0.iter().cloned());
        Self(pairs)
    }

    /// Binds `wildcard`, or binds it anew.
    fn insert(&mut self, wildcard: &Arc<str>, value: &str) {
        match self.0.binary_search_by(|(name, _)| name.cmp(wildcard)) {
            Ok(index) => self.0[index].1 = value.into(),
            Err(index) => self.0.insert(index, (Arc::clone(wildcard), value.into())),
        }
    }
}

/// The wildcard a folder source binds: the whole file name.
pub(crate) const FILE_WILDCARD: &str = "file";

/// How a path in an S3-compatible bucket begins.
pub(crate) const S3_SCHEME: &str = "s3://";

/// Where the endpoint and keys come from, for the hints of bucket errors.
const S3_SETTINGS: &str = "the endpoint and keys come from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, \
     AWS_SECRET_ACCESS_KEY and AWS_REGION (or ~/.aws), never from flow.yaml";

/// The bucket and the key of a path in object storage (`s3://bucket/key`),
/// `None` for a local path.
pub(crate) fn s3_location(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix(S3_SCHEME)?;
    Some(rest.split_once('/').unwrap_or((rest, "")))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Wildcard(Arc<str>),
}

/// One path segment such as `{name}_A.{ext}`, `day={date}` or `2026`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segment {
    pieces: Vec<Piece>,
}

/// A literal root folder (relative to the flow folder, `""` for the flow
/// folder itself) and the segments below it, the last naming files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    pub(crate) root: String,
    segments: Vec<Segment>,
}

/// Why a pattern could not be parsed; `offset` is a byte offset in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PatternError {
    pub(crate) offset: usize,
    pub(crate) len: usize,
    pub(crate) message: String,
    pub(crate) hint: String,
}

/// What a pattern is for: a source or input is matched against names, a
/// target only rendered from bindings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    Matched,
    Rendered,
}

impl Segment {
    fn parse(text: &str, at: usize, used: Use) -> Result<Self, PatternError> {
        let mut pieces = Vec::new();
        let mut rest = text;
        let mut offset = at;
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
            // `{yyyy}{mm}` renders fine, but a name cannot be split by it
            if used == Use::Matched && matches!(pieces.last(), Some(Piece::Wildcard(_))) {
                return Err(PatternError {
                    offset: offset + open,
                    len: close + 1,
                    message: "two wildcards in a row cannot be told apart".into(),
                    hint: "put literal text between them, as in `{name}.{ext}`".into(),
                });
            }
            pieces.push(Piece::Wildcard(name.into()));
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
            pieces: vec![Piece::Wildcard(FILE_WILDCARD.into())],
        }
    }

    /// The segment's text when it has no wildcard.
    pub(crate) fn literal(&self) -> Option<&str> {
        match self.pieces.as_slice() {
            [Piece::Literal(text)] => Some(text),
            _ => None,
        }
    }

    fn wildcards(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|piece| match piece {
            Piece::Wildcard(name) => Some(&**name),
            Piece::Literal(_) => None,
        })
    }

    /// Binds this segment's wildcards to `name`, adding them to `bindings`;
    /// a wildcard bound already (by an earlier segment) must repeat its
    /// value. Earlier wildcards take as much as they can, so `{name}.{ext}`
    /// splits `a.b.csv` at the last dot, which is what an extension means.
    /// On failure `bindings` is left as it was.
    pub(crate) fn bind(&self, name: &str, bindings: &mut Bindings) -> bool {
        let mut bound = Vec::new();
        if !match_from(&self.pieces, name, bindings, &mut bound) {
            return false;
        }
        for (wildcard, value) in bound {
            bindings.insert(wildcard, value);
        }
        true
    }

    /// `bindings` and what this segment binds in `name`, if it matches.
    pub(crate) fn bound(&self, name: &str, bindings: &Bindings) -> Option<Bindings> {
        let mut bound = bindings.with_room(self.wildcards().count());
        self.bind(name, &mut bound).then_some(bound)
    }

    /// Makes the wildcards that `source` names too the same allocation as
    /// `source`'s, for [`Bindings::get`].
    fn share_names(&mut self, source: &Pattern) {
        for piece in &mut self.pieces {
            if let Piece::Wildcard(name) = piece
                && let Some(shared) = source.wildcard_named(name)
            {
                *name = Arc::clone(shared);
            }
        }
    }

    fn render_into(&self, bindings: &Bindings, out: &mut String) {
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => out.push_str(text),
                Piece::Wildcard(name) => match bindings.get(name) {
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

fn match_from<'p, 'n>(
    pieces: &'p [Piece],
    name: &'n str,
    prior: &Bindings,
    bound: &mut Vec<(&'p Arc<str>, &'n str)>,
) -> bool {
    match pieces.split_first() {
        None => name.is_empty(),
        Some((Piece::Literal(text), rest)) => name
            .strip_prefix(text.as_str())
            .is_some_and(|tail| match_from(rest, tail, prior, bound)),
        Some((Piece::Wildcard(wildcard), rest)) => {
            let seen = bound
                .iter()
                .find(|(seen, _)| *seen == wildcard)
                .map(|(_, value)| *value)
                .or_else(|| prior.get(wildcard));
            if let Some(value) = seen {
                return name
                    .strip_prefix(value)
                    .is_some_and(|tail| match_from(rest, tail, prior, bound));
            }
            // a literal after the wildcard must start where the value ends:
            // a cheap test that spares the recursion at every other end
            let next_literal = match rest.first() {
                Some(Piece::Literal(text)) => text.as_str(),
                _ => "",
            };
            for (start, c) in name.char_indices().rev() {
                let end = start + c.len_utf8();
                if !name[end..].starts_with(next_literal) {
                    continue;
                }
                bound.push((wildcard, &name[..end]));
                if match_from(rest, &name[end..], prior, bound) {
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
    /// Parses `root/segment/...`. Text without wildcards is a folder: its
    /// items are the files directly in it, named by `{file}`.
    pub(crate) fn parse(text: &str) -> Result<Self, PatternError> {
        Self::parse_for(text, Use::Matched)
    }

    fn parse_for(text: &str, used: Use) -> Result<Self, PatternError> {
        if text.starts_with(S3_SCHEME) {
            check_s3(text)?;
        }
        let trimmed = text.trim_end_matches('/');
        if !trimmed.contains('{') {
            return Ok(Self {
                root: normalize_folder(trimmed),
                segments: vec![Segment::whole_file()],
            });
        }
        let mut root: Vec<&str> = Vec::new();
        let mut segments = Vec::new();
        let mut offset = 0;
        for part in trimmed.split('/') {
            if segments.is_empty() && !part.contains('{') {
                root.push(part);
            } else {
                check_segment(part, offset)?;
                segments.push(Segment::parse(part, offset, used)?);
            }
            offset += part.len() + 1;
        }
        Ok(Self {
            root: normalize_folder(&root.join("/")),
            segments,
        })
    }

    /// A target written as a bare folder keeps the source's path below its
    /// root: the same file names, in the same sub-folders. A target is only
    /// rendered, so its wildcards may follow each other (`{yyyy}{mm}{dd}`).
    pub(crate) fn parse_target(text: &str, source: &Pattern) -> Result<Self, PatternError> {
        let pattern = Self::parse_for(text, Use::Rendered)?;
        if text.contains('{') {
            Ok(pattern.sharing_names_of(source))
        } else {
            Ok(Self {
                root: pattern.root,
                segments: source.segments.clone(),
            })
        }
    }

    /// This pattern with the wildcard names it has in common with `source`
    /// shared: the bindings `source` makes are then found by address when
    /// this pattern renders, once per item of a pass.
    pub(crate) fn sharing_names_of(mut self, source: &Pattern) -> Self {
        for segment in &mut self.segments {
            segment.share_names(source);
        }
        self
    }

    fn wildcard_named(&self, wanted: &str) -> Option<&Arc<str>> {
        let pieces = self.segments.iter().flat_map(|segment| &segment.pieces);
        pieces
            .filter_map(|piece| match piece {
                Piece::Wildcard(name) => Some(name),
                Piece::Literal(_) => None,
            })
            .find(|name| ***name == *wanted)
    }

    /// The segments below the root; the last one names files.
    pub(crate) fn segments(&self) -> &[Segment] {
        &self.segments
    }

    pub(crate) fn wildcards(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().flat_map(Segment::wildcards)
    }

    /// The pattern as a path, wildcards written as `{name}`.
    pub(crate) fn display(&self) -> String {
        self.render(&Bindings::new())
    }

    pub(crate) fn render(&self, bindings: &Bindings) -> String {
        let mut out = String::new();
        self.render_into(bindings, &mut out);
        out
    }

    /// Renders into `out`, cleared first: a caller rendering many paths
    /// keeps one buffer and copies out each path at its exact size.
    pub(crate) fn render_into(&self, bindings: &Bindings, out: &mut String) {
        self.render_segments(&self.segments, bindings, out);
    }

    /// Renders the folder of the file [`Pattern::render_into`] names, for
    /// a pattern with folder segments.
    pub(crate) fn folder_into(&self, bindings: &Bindings, out: &mut String) {
        let folders = self
            .segments
            .split_last()
            .map_or(&[][..], |(_, folders)| folders);
        self.render_segments(folders, bindings, out);
    }

    fn render_segments(&self, segments: &[Segment], bindings: &Bindings, out: &mut String) {
        out.clear();
        if !self.root.is_empty() {
            out.push_str(&self.root);
            out.push('/');
        }
        for (index, segment) in segments.iter().enumerate() {
            if index > 0 {
                out.push('/');
            }
            segment.render_into(bindings, out);
        }
    }

    /// The bindings under which this pattern renders to `path`, if any.
    pub(crate) fn match_path(&self, path: &str) -> Option<Bindings> {
        let below = self.below_root(path)?;
        let parts: Vec<&str> = below.split('/').collect();
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut bindings = Bindings::new();
        for (segment, part) in self.segments.iter().zip(parts) {
            if part.starts_with('.') || !segment.bind(part, &mut bindings) {
                return None;
            }
        }
        Some(bindings)
    }

    /// `path` without this pattern's root: an item's id.
    pub(crate) fn below_root<'p>(&self, path: &'p str) -> Option<&'p str> {
        if self.root.is_empty() {
            return Some(path);
        }
        path.strip_prefix(self.root.as_str())?.strip_prefix('/')
    }
}

/// A segment after the root must name something: not empty, not `.` or `..`.
fn check_segment(part: &str, offset: usize) -> Result<(), PatternError> {
    if part.is_empty() || part == "." || part == ".." {
        return Err(PatternError {
            offset,
            len: part.len().max(1),
            message: format!("`{part}` cannot be a segment of a pattern"),
            hint: "write each folder once between single `/`, without `.` or `..`".into(),
        });
    }
    Ok(())
}

/// An `s3://` pattern names a literal, valid bucket, and its key has no
/// empty, `.` or `..` segment (a server would store `a//b` as `a/b`).
fn check_s3(text: &str) -> Result<(), PatternError> {
    let Some((bucket, key)) = s3_location(text) else {
        return Ok(());
    };
    let at = S3_SCHEME.len();
    if bucket.contains('{') {
        return Err(PatternError {
            offset: at,
            len: bucket.len(),
            message: "the bucket of an `s3://` pattern cannot hold a wildcard".into(),
            hint: format!(
                "name the bucket itself and put wildcards in the key, as in \
                 `s3://drops/landing/{{name}}.csv`; {S3_SETTINGS}"
            ),
        });
    }
    if let Some(why) = bucket_name_problem(bucket) {
        return Err(PatternError {
            offset: at,
            len: bucket.len().max(1),
            message: format!("`{bucket}` is not a valid bucket name: {why}"),
            hint: format!(
                "a bucket name is 3 to 63 lowercase letters, digits, `-` and `.`, \
                 beginning and ending with a letter or digit; {S3_SETTINGS}"
            ),
        });
    }
    let mut offset = at + bucket.len() + 1;
    let key = key.trim_end_matches('/');
    for part in key.split('/').filter(|_| !key.is_empty()) {
        check_segment(part, offset)?;
        offset += part.len() + 1;
    }
    Ok(())
}

/// What is wrong with a bucket name, by the rules S3 sets for new buckets.
fn bucket_name_problem(bucket: &str) -> Option<&'static str> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let looks_like_ip = bucket.split('.').count() == 4
        && bucket
            .split('.')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()));
    if !(3..=63).contains(&bucket.len()) {
        Some("it must be 3 to 63 characters long")
    } else if !bucket.chars().all(allowed) {
        Some("only lowercase letters, digits, `-` and `.` are allowed")
    } else if !edge(bucket.chars().next()) || !edge(bucket.chars().last()) {
        Some("it must begin and end with a letter or digit")
    } else if bucket.contains("..") {
        Some("two dots cannot follow each other")
    } else if looks_like_ip {
        Some("it cannot look like an IP address")
    } else {
        None
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
        let mut bindings = Bindings::new();
        for (wildcard, value) in pairs {
            bindings.insert(&Arc::from(*wildcard), value);
        }
        bindings
    }

    #[test]
    fn matches_and_renders_wildcards_in_the_file_name() {
        let pattern = Pattern::parse("timestamped/{name}_A.{ext}").expect("valid");
        assert_eq!(pattern.root, "timestamped");
        let bindings = pattern
            .match_path("timestamped/File_A.xlsx")
            .expect("matches");
        assert_eq!(bindings, bind(&[("name", "File"), ("ext", "xlsx")]));
        assert_eq!(pattern.match_path("timestamped/File_B.xlsx"), None);
        let target = Pattern::parse("merged/{name}.{ext}").expect("valid");
        assert_eq!(target.render(&bindings), "merged/File.xlsx");
    }

    #[test]
    fn a_target_sharing_the_sources_names_renders_any_binding_of_those_names() {
        let source = Pattern::parse("landing/{dd}/{HH}/{name}.csv").expect("valid");
        let target = Pattern::parse_target("clean/{HH}-{dd}/{name}.csv", &source).expect("valid");
        let shared = source
            .match_path("landing/30/23/part.csv")
            .expect("matches");
        assert_eq!(target.render(&shared), "clean/23-30/part.csv");
        let made_elsewhere = bind(&[("dd", "01"), ("HH", "00"), ("name", "x")]);
        assert_eq!(target.render(&made_elsewhere), "clean/00-01/x.csv");
    }

    #[test]
    fn the_folder_rendered_alone_is_the_folder_of_the_rendered_path() {
        let source = Pattern::parse("landing/{yyyy}/{mm}/{dd}/{name}.csv").expect("valid");
        let bindings = source
            .match_path("landing/2026/11/30/part.csv")
            .expect("matches");
        let (mut path, mut folder) = (String::new(), String::new());
        for target in [
            "clean/{yyyy}-{mm}/{dd}_{name}.csv",
            "{yyyy}/{mm}{dd}/{name}",
        ] {
            let target = Pattern::parse_target(target, &source).expect("valid");
            target.render_into(&bindings, &mut path);
            target.folder_into(&bindings, &mut folder);
            assert_eq!(folder, crate::scan::split(&path).0, "{path}");
        }
    }

    #[test]
    fn wildcards_stand_in_any_segment_and_mix_with_literals() {
        let source = Pattern::parse("landing/{yyyy}/{mm}/day={dd}/{HH}/{name}.csv").expect("valid");
        assert_eq!(source.root, "landing");
        assert_eq!(source.segments().len(), 5);
        let bindings = source
            .match_path("landing/2026/11/day=30/23/part-0001.csv")
            .expect("matches");
        assert_eq!(
            bindings,
            bind(&[
                ("yyyy", "2026"),
                ("mm", "11"),
                ("dd", "30"),
                ("HH", "23"),
                ("name", "part-0001")
            ])
        );
        let target = Pattern::parse("clean/{yyyy}-{mm}-{dd}/{HH}_{name}.parquet").expect("valid");
        assert_eq!(
            target.render(&bindings),
            "clean/2026-11-30/23_part-0001.parquet"
        );
        // a literal part that does not fit, a wrong depth, a hidden name
        assert_eq!(source.match_path("landing/2026/11/30/23/a.csv"), None);
        assert_eq!(source.match_path("landing/2026/11/day=30/a.csv"), None);
        assert_eq!(source.match_path("landing/2026/.11/day=30/23/a.csv"), None);
        assert_eq!(source.below_root("landing/2026/x"), Some("2026/x"));
    }

    #[test]
    fn a_wildcard_never_spans_a_slash_and_is_never_empty() {
        let pattern = Pattern::parse("in/{a}/{b}.csv").expect("valid");
        assert_eq!(pattern.match_path("in/x/y/z.csv"), None);
        assert_eq!(pattern.match_path("in//z.csv"), None);
        let segment = Segment::parse("{x}.csv", 0, Use::Matched).expect("valid");
        assert!(!segment.bind(".csv", &mut Bindings::new()));
    }

    #[test]
    fn extension_is_split_at_the_last_dot() {
        let segment = Segment::parse("{name}.{ext}", 0, Use::Matched).expect("valid");
        let mut bindings = Bindings::new();
        assert!(segment.bind("a.b.csv", &mut bindings));
        assert_eq!(bindings, bind(&[("name", "a.b"), ("ext", "csv")]));
    }

    #[test]
    fn repeated_wildcard_must_bind_the_same_value_across_segments() {
        let pattern = Pattern::parse("in/{x}/{x}-{y}.txt").expect("valid");
        assert!(pattern.match_path("in/ab/ab-1.txt").is_some());
        assert!(pattern.match_path("in/ab/cd-1.txt").is_none());
        let mut bindings = bind(&[("x", "ab")]);
        let segment = Segment::parse("{x}.txt", 0, Use::Matched).expect("valid");
        assert!(!segment.bind("cd.txt", &mut bindings));
        assert_eq!(
            bindings,
            bind(&[("x", "ab")]),
            "a failed bind changes nothing"
        );
    }

    #[test]
    fn wildcards_side_by_side_are_a_target_only() {
        let error = Pattern::parse("in/{yyyy}{mm}.csv").expect_err("cannot be matched");
        assert_eq!(
            (error.offset, error.message.as_str()),
            (9, "two wildcards in a row cannot be told apart")
        );
        let source = Pattern::parse("landing/{yyyy}/{mm}/{dd}/{HH}/{name}.csv").expect("valid");
        let target = Pattern::parse_target("stamped/{yyyy}{mm}{dd}{HH}_{name}.csv", &source)
            .expect("a target is only rendered");
        let bindings = source
            .match_path("landing/2026/11/30/23/part-1.csv")
            .expect("matches");
        assert_eq!(target.render(&bindings), "stamped/2026113023_part-1.csv");
    }

    #[test]
    fn folder_binds_the_whole_file_name_and_target_folder_keeps_the_tree() {
        let source = Pattern::parse("source/").expect("valid");
        assert_eq!(source.root, "source");
        let bindings = source.match_path("source/File_A.xlsx").expect("matches");
        let target = Pattern::parse_target("timestamped", &source).expect("valid");
        assert_eq!(target.render(&bindings), "timestamped/File_A.xlsx");
        let nested = Pattern::parse("in/{day}/{name}.csv").expect("valid");
        let bindings = nested.match_path("in/d1/a.csv").expect("matches");
        let target = Pattern::parse_target("out", &nested).expect("valid");
        assert_eq!(target.render(&bindings), "out/d1/a.csv");
    }

    #[test]
    fn rejects_bad_patterns_with_offsets() {
        let error = Pattern::parse("out/{name.csv").expect_err("unclosed");
        assert_eq!(error.offset, 4);
        let error = Pattern::parse("out/{na me}.csv").expect_err("bad name");
        assert_eq!((error.offset, error.len), (4, 7));
        let error = Pattern::parse("out/{day}/../x.csv").expect_err("dot-dot");
        assert_eq!(error.offset, 10);
        assert!(Pattern::parse("out/{day}//x.csv").is_err());
        assert!(Pattern::parse("{a}{b}").is_err());
        assert_eq!(Pattern::parse("{day}/x.csv").expect("valid").root, "");
    }

    #[test]
    fn s3_patterns_keep_the_bucket_and_literal_prefix_as_root() {
        let pattern =
            Pattern::parse("s3://drops/landing/{yyyy}/{mm}/{dd}/{HH}/{name}.csv").expect("valid");
        assert_eq!(pattern.root, "s3://drops/landing");
        let path = "s3://drops/landing/2026/11/30/23/part-1.csv";
        let bindings = pattern.match_path(path).expect("matches");
        assert_eq!(bindings.get("HH").expect("HH bound"), "23");
        assert_eq!(pattern.below_root(path), Some("2026/11/30/23/part-1.csv"));
        assert_eq!(
            s3_location(path),
            Some(("drops", "landing/2026/11/30/23/part-1.csv"))
        );
        assert_eq!(s3_location("landing/a.csv"), None);
        let folder = Pattern::parse("s3://drops").expect("a bucket is a folder");
        assert_eq!(folder.root, "s3://drops");
        assert!(folder.match_path("s3://drops/a.csv").is_some());
        let target = Pattern::parse_target("s3://out-1/x/", &pattern).expect("valid");
        assert_eq!(
            target.render(&bindings),
            "s3://out-1/x/2026/11/30/23/part-1.csv"
        );
    }

    #[test]
    fn s3_buckets_must_be_literal_and_well_named() {
        let error = Pattern::parse("s3://{bucket}/a/{name}.csv").expect_err("wildcard");
        assert_eq!((error.offset, error.len), (5, 8));
        assert!(error.message.contains("cannot hold a wildcard"));
        assert!(error.hint.contains("AWS_ENDPOINT_URL"));
        for bad in [
            "s3://Drops/a",
            "s3://ab/a",
            "s3://-ab/a",
            "s3://a..b/a",
            "s3://10.0.0.1/a",
            "s3:///a",
        ] {
            let error = Pattern::parse(bad).expect_err(bad);
            assert_eq!(error.offset, 5, "{bad}");
            assert!(error.message.contains("not a valid bucket name"), "{bad}");
        }
        let error = Pattern::parse("s3://drops/a//{name}.csv").expect_err("empty segment");
        assert_eq!(error.offset, 13);
        assert!(Pattern::parse("s3://my.drops-1/a").is_ok());
    }
}
