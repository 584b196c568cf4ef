//! The `on_error` and `on_success` hooks of `flow.yaml`: a list of words,
//! run without a shell, its first word found as `run` is; a job's own hook
//! replaces the top level's.
//!
//! Only reads and checks; running a hook is `hooks.rs`'s business.

use std::path::PathBuf;

use serde_yaml::Value;

use super::{Checker, Finder, FlowDir};
use crate::diag::Diagnostic;

/// A command to run when an item ends: its program and its other words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hook {
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<String>,
}

/// The hooks in force for a job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Hooks {
    pub(crate) on_error: Option<Hook>,
    pub(crate) on_success: Option<Hook>,
}

/// Where a hook is written: at the top level, or in the `n`th job.
#[derive(Clone, Copy)]
pub(super) enum Place<'a> {
    Top,
    Job(usize, &'a str),
}

impl Checker<'_> {
    /// The hook written under `key`, checked: a non-empty list of words
    /// whose first is an executable.
    pub(super) fn hook(
        &mut self,
        value: Option<&Value>,
        key: &str,
        place: Place<'_>,
        context: (&FlowDir, &Finder),
    ) -> Option<Hook> {
        let value = value?;
        let (span, owner) = match place {
            Place::Top => (self.locate.top_value(key), String::new()),
            Place::Job(n, name) => (
                self.locate.job_value(n, None, key),
                format!("job `{name}`: "),
            ),
        };
        let words: Option<Vec<String>> = match value {
            Value::Sequence(items) => items
                .iter()
                .map(|item| match item {
                    Value::String(text) => Some(text.clone()),
                    Value::Number(number) => Some(number.to_string()),
                    Value::Bool(flag) => Some(flag.to_string()),
                    _ => None,
                })
                .collect(),
            _ => None,
        };
        let Some((first, rest)) = words.as_deref().and_then(<[String]>::split_first) else {
            self.push(
                Diagnostic::new(format!("{owner}`{key}` must be a list of words"), span).hint(
                    format!(
                        "write the command as a list, run without a shell: `{key}: [\"./alert\", \"--to\", \"ops\"]`"
                    ),
                ),
            );
            return None;
        };
        let (dir, finder) = context;
        match finder.find(first, &dir.path) {
            Ok(program) => Some(Hook {
                program,
                args: rest.to_vec(),
            }),
            Err((message, hint)) => {
                self.push(Diagnostic::new(format!("{owner}`{key}`: {message}"), span).hint(hint));
                None
            }
        }
    }
}
