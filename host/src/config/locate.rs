//! Finds where keys and values sit in `flow.yaml`, so that errors found
//! after parsing (duplicates, wildcards, cycles) still point at a line.
//!
//! serde_norway gives a location only for syntax and type errors; this is a
//! line scanner for the block and flow styles `flow.yaml` is written in. It
//! answers `None` rather than guess when the layout is unusual.

use crate::diag::Span;

pub(crate) struct Locator<'a> {
    lines: Vec<&'a str>,
}

impl<'a> Locator<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Self {
            lines: text.lines().collect(),
        }
    }

    /// The span of a top-level key's value (or of the key when it has none).
    pub(crate) fn top_value(&self, key: &str) -> Option<Span> {
        let index = self
            .lines
            .iter()
            .position(|line| key_at(line, key).is_some_and(|col| col == 0))?;
        self.value_in_line(index, key)
    }

    /// The span of a top-level key itself.
    pub(crate) fn top_key(&self, key: &str) -> Option<Span> {
        let index = self
            .lines
            .iter()
            .position(|line| key_at(line, key).is_some_and(|col| col == 0))?;
        Some(span(index, 0, key))
    }

    /// Line indexes `[start, end)` of the lines below the top-level `block:`
    /// key, up to the next top-level key.
    fn top_block(&self, block: &str) -> Option<(usize, usize)> {
        let start = self
            .lines
            .iter()
            .position(|line| key_at(line, block).is_some_and(|col| col == 0))?;
        let end = (start + 1..self.lines.len())
            .find(|&i| {
                let line = self.lines[i];
                !line.is_empty() && !line.starts_with([' ', '\t', '#'])
            })
            .unwrap_or(self.lines.len());
        Some((start, end))
    }

    /// The span of `key`'s value inside the top-level mapping `block:`
    /// (block or flow style); of `block:`'s value when `key` is not there.
    pub(crate) fn block_value(&self, block: &str, key: &str) -> Option<Span> {
        let (start, end) = self.top_block(block)?;
        (start..end)
            .find(|&i| key_at(self.lines[i], key).is_some_and(|col| i > start || col > 0))
            .and_then(|i| self.value_in_line(i, key))
            .or_else(|| self.top_value(block))
    }

    /// The span of `key` itself inside the top-level mapping `block:`.
    pub(crate) fn block_key(&self, block: &str, key: &str) -> Option<Span> {
        let (start, end) = self.top_block(block)?;
        let index = (start..end)
            .find(|&i| key_at(self.lines[i], key).is_some_and(|col| i > start || col > 0))?;
        let col = key_at(self.lines[index], key)?;
        Some(span(index, col, key))
    }

    /// Line indexes `[start, end)` of the `n`th item of the `jobs:` list.
    fn job_block(&self, n: usize) -> Option<(usize, usize)> {
        let jobs = self
            .lines
            .iter()
            .position(|line| key_at(line, "jobs").is_some_and(|col| col == 0))?;
        let mut starts = Vec::new();
        let mut end = self.lines.len();
        let mut list_indent = None;
        for (index, line) in self.lines.iter().enumerate().skip(jobs + 1) {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let indent = line.len() - trimmed.len();
            if indent == 0 && !trimmed.starts_with('-') {
                end = index;
                break;
            }
            let is_item = trimmed == "-" || trimmed.starts_with("- ");
            if is_item && list_indent.is_none_or(|list| list == indent) {
                list_indent = Some(indent);
                starts.push(index);
            }
        }
        let start = *starts.get(n)?;
        let stop = starts.get(n + 1).copied().unwrap_or(end);
        Some((start, stop))
    }

    /// The line of the `n`th job's first line (its `- ` marker).
    pub(crate) fn job(&self, n: usize) -> Option<Span> {
        let (start, _) = self.job_block(n)?;
        let line = self.lines[start];
        let col = line.len() - line.trim_start().len();
        Some(Span {
            line: start + 1,
            col: col + 1,
            len: 1,
        })
    }

    /// The span of a job key's value, searching from `after` (a key of the
    /// same job, for nested mappings such as `inputs:`) when given.
    pub(crate) fn job_value(&self, n: usize, after: Option<&str>, key: &str) -> Option<Span> {
        let (start, end) = self.job_block(n)?;
        let from = match after {
            Some(parent) => (start..end).find(|&i| key_at(self.lines[i], parent).is_some())?,
            None => start,
        };
        let skip = usize::from(after.is_some());
        let index = (from..end).find(|&i| {
            let found = key_at(self.lines[i], key);
            // the parent's own line may hold the key in flow style
            found.is_some() && (i > from || skip == 0 || self.lines[i].contains('{'))
        })?;
        self.value_in_line(index, key)
    }

    /// The span of a job key itself.
    pub(crate) fn job_key(&self, n: usize, key: &str) -> Option<Span> {
        let (start, end) = self.job_block(n)?;
        let index = (start..end).find(|&i| key_at(self.lines[i], key).is_some())?;
        let col = key_at(self.lines[index], key)?;
        Some(span(index, col, key))
    }

    fn value_in_line(&self, index: usize, key: &str) -> Option<Span> {
        let line = self.lines[index];
        let col = key_at(line, key)?;
        let after = col + key.len() + 1;
        let rest = &line[after..];
        let value_start = after + (rest.len() - rest.trim_start().len());
        let value = &line[value_start..];
        let in_flow_mapping = line[..col].contains('{');
        let stop = value
            .find(" #")
            .or_else(|| in_flow_mapping.then(|| flow_value_end(value)).flatten())
            .unwrap_or(value.len());
        let text = value[..stop].trim_end();
        if text.is_empty() {
            return Some(span(index, col, key));
        }
        Some(span(index, value_start, text))
    }

    /// Narrows `within` to the first occurrence of `needle` on its line.
    pub(crate) fn narrow(&self, within: Span, needle: &str) -> Span {
        let line = self.lines.get(within.line - 1).copied().unwrap_or("");
        let from = byte_of_col(line, within.col);
        match line[from..].find(needle) {
            Some(offset) => span(within.line - 1, from + offset, needle),
            None => within,
        }
    }
}

/// The byte column where `key:` starts on `line`, as a key (not inside a value).
fn key_at(line: &str, key: &str) -> Option<usize> {
    let code = line.split(" #").next().unwrap_or(line);
    let mut search = 0;
    while let Some(found) = code[search..].find(key) {
        let at = search + found;
        let before = code[..at].trim_end_matches(' ');
        let boundary = before.is_empty() || before.ends_with(['-', '{', ',']);
        let colon_ok = code[at + key.len()..]
            .strip_prefix(':')
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '));
        if boundary && colon_ok {
            return Some(at);
        }
        search = at + key.len();
    }
    None
}

/// Where a value inside `{ key: value, ... }` ends: at a `,` or `}` that is
/// not part of a `{wildcard}` in the value.
fn flow_value_end(value: &str) -> Option<usize> {
    let mut depth = 0_usize;
    for (index, c) in value.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth > 0 => depth -= 1,
            '}' | ',' if depth == 0 => return Some(index),
            _ => {}
        }
    }
    None
}

fn byte_of_col(line: &str, col: usize) -> usize {
    line.char_indices()
        .nth(col.saturating_sub(1))
        .map_or(line.len(), |(i, _)| i)
}

fn span(index: usize, byte: usize, text: &str) -> Span {
    Span {
        line: index + 1,
        col: byte + 1,
        len: text.chars().count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "settle: 2s   # comment
jobs:
  - name: a
    run: ./a.sh
    source: in
    target: mid
  - name: b
    run: ./b.sh
    source: mid/{name}.{ext}
    inputs: { right: in/{name}.{ext} }
    target: out/{nmae}.{ext}
";

    #[test]
    fn finds_top_level_and_job_values() {
        let locate = Locator::new(TEXT);
        assert_eq!(
            locate.top_value("settle"),
            Some(Span {
                line: 1,
                col: 9,
                len: 2
            })
        );
        let target = locate.job_value(1, None, "target").expect("found");
        assert_eq!((target.line, target.col), (11, 13));
        let narrowed = locate.narrow(target, "{nmae}");
        assert_eq!((narrowed.col, narrowed.len), (17, 6));
        let right = locate.job_value(1, Some("inputs"), "right").expect("found");
        assert_eq!((right.line, right.col, right.len), (10, 22, 15));
        assert_eq!(locate.job(1).map(|s| s.line), Some(7));
        assert_eq!(locate.job_key(0, "run").map(|s| s.col), Some(5));
    }

    #[test]
    fn finds_keys_inside_a_top_level_block() {
        let text = "slurm:\n  partition: batch\n  mem: 2X\nslurm_not: 1\njobs: []\n";
        let locate = Locator::new(text);
        let mem = locate.block_value("slurm", "mem").expect("found");
        assert_eq!((mem.line, mem.col, mem.len), (3, 8, 2));
        let key = locate.block_key("slurm", "partition").expect("found");
        assert_eq!((key.line, key.col), (2, 3));
        assert_eq!(locate.block_key("slurm", "jobs"), None);
        let inline = Locator::new("slurm: { mem: 2X }\n");
        let mem = inline.block_value("slurm", "mem").expect("found");
        assert_eq!((mem.line, mem.col), (1, 15));
    }
}
