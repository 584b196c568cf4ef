//! `executor:` (top level and per job) and the top-level `slurm:` block of
//! `flow.yaml`: where a job's runs happen and what `sbatch` is asked for.
//!
//! Only reads and checks (unknown keys, a malformed `mem`, `sbatch` on
//! PATH); submitting is `exec/slurm`'s business.

use serde_yaml::Value;

use super::{Checker, Finder, unknown_key};
use crate::diag::{Diagnostic, Span};

/// Where a job's runs happen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum ExecutorKind {
    /// A child process of `flow`.
    #[default]
    Local,
    /// A job submitted to a Slurm cluster with `sbatch`.
    Slurm,
}

impl ExecutorKind {
    /// The name written in `flow.yaml`, the state and the JSON.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Slurm => "slurm",
        }
    }

    /// The kind named `text`; `None` for an unknown name.
    pub(crate) fn from_name(text: &str) -> Option<Self> {
        [Self::Local, Self::Slurm]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// What every `sbatch` of the flow asks for, from the `slurm:` block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SlurmOptions {
    pub(crate) partition: Option<String>,
    pub(crate) account: Option<String>,
    pub(crate) cpus: Option<u32>,
    /// As Slurm writes it: a number of megabytes, or with a K, M, G or T unit.
    pub(crate) mem: Option<String>,
    /// Passed to `sbatch` as they are.
    pub(crate) args: Vec<String>,
}

const SLURM_KEYS: [&str; 5] = ["partition", "account", "cpus", "mem", "args"];

/// Whether `text` is a memory size `sbatch --mem` takes: digits and an
/// optional unit.
pub(crate) fn valid_mem(text: &str) -> bool {
    let digits = text.trim_end_matches(['K', 'M', 'G', 'T', 'k', 'm', 'g', 't']);
    text.len() - digits.len() <= 1
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Where an `executor:` is written: at the top level, or in the `n`th job.
#[derive(Clone, Copy)]
pub(super) enum Owner<'a> {
    Top,
    Job(usize, &'a str),
}

impl Checker<'_> {
    fn executor_span(&self, owner: Owner<'_>) -> Option<Span> {
        match owner {
            Owner::Top => self.locate.top_value("executor"),
            Owner::Job(n, _) => self.locate.job_value(n, None, "executor"),
        }
    }

    /// The executor named under `executor:`, `default` when there is none.
    pub(super) fn executor(
        &mut self,
        value: Option<&Value>,
        owner: Owner<'_>,
        default: ExecutorKind,
    ) -> ExecutorKind {
        let Some(value) = value else { return default };
        if let Some(kind) = value.as_str().and_then(ExecutorKind::from_name) {
            return kind;
        }
        let who = match owner {
            Owner::Top => String::new(),
            Owner::Job(_, name) => format!("job `{name}`: "),
        };
        let shown = value
            .as_str()
            .map_or_else(|| format!("{value:?}"), str::to_owned);
        let span = self.executor_span(owner);
        self.push(
            Diagnostic::new(format!("{who}unknown executor `{shown}`"), span)
                .hint("write `executor: local` (the default) or `executor: slurm`"),
        );
        default
    }

    /// `sbatch` must be on PATH when a job uses the Slurm executor; the
    /// error points at the first `executor: slurm`.
    pub(super) fn sbatch_on_path(&mut self, finder: &Finder, owner: Owner<'_>) {
        let on_path = finder
            .path
            .iter()
            .any(|folder| super::executable(&folder.join("sbatch")) == Some(true));
        if on_path {
            return;
        }
        let span = self.executor_span(owner);
        self.push(
            Diagnostic::new(
                "`sbatch` not found on PATH, and a job runs with `executor: slurm`",
                span,
            )
            .hint(
                "install Slurm's client commands on this host (Debian: `apt-get install slurm-client`) \
                 and put their folder on PATH, or write `executor: local`",
            ),
        );
    }

    /// The `slurm:` block, checked key by key.
    pub(super) fn slurm_options(&mut self, value: Option<&Value>) -> SlurmOptions {
        let mut options = SlurmOptions::default();
        let Some(value) = value else { return options };
        let Value::Mapping(block) = value else {
            let span = self.locate.top_value("slurm");
            self.push(
                Diagnostic::new("`slurm` must be a mapping of sbatch options", span)
                    .hint("write `slurm: { partition: batch, mem: 2G }`"),
            );
            return options;
        };
        for (key, value) in block {
            let Some(key) = key.as_str() else { continue };
            match key {
                "partition" => options.partition = self.slurm_word(key, value),
                "account" => options.account = self.slurm_word(key, value),
                "mem" => options.mem = self.slurm_mem(value),
                "cpus" => options.cpus = self.slurm_cpus(value),
                "args" => options.args = self.slurm_args(value),
                _ => {
                    let span = self.locate.block_key("slurm", key);
                    self.push(unknown_key(key, "in `slurm`", &SLURM_KEYS, span));
                }
            }
        }
        options
    }

    fn slurm_word(&mut self, key: &str, value: &Value) -> Option<String> {
        let text =
            scalar(value).filter(|text| !text.is_empty() && !text.contains(char::is_whitespace));
        if text.is_none() {
            let span = self.locate.block_value("slurm", key);
            self.push(
                Diagnostic::new(format!("`slurm.{key}` must be one word"), span).hint(format!(
                    "write the {key}'s name as `sinfo` or `sacctmgr` shows it"
                )),
            );
        }
        text
    }

    fn slurm_mem(&mut self, value: &Value) -> Option<String> {
        let text = scalar(value)?;
        if valid_mem(&text) {
            return Some(text);
        }
        let span = self.locate.block_value("slurm", "mem");
        self.push(
            Diagnostic::new(format!("`slurm.mem` is not a memory size: `{text}`"), span)
                .hint("write a number and a unit K, M, G or T, such as `512M` or `2G` (no unit means megabytes)"),
        );
        None
    }

    fn slurm_cpus(&mut self, value: &Value) -> Option<u32> {
        let cpus = value
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|&n| n > 0);
        if cpus.is_none() {
            let span = self.locate.block_value("slurm", "cpus");
            self.push(
                Diagnostic::new("`slurm.cpus` must be a whole number of at least 1", span)
                    .hint("write the CPUs each run needs, such as `cpus: 2`"),
            );
        }
        cpus
    }

    fn slurm_args(&mut self, value: &Value) -> Vec<String> {
        let words: Option<Vec<String>> = match value {
            Value::Sequence(items) => items.iter().map(scalar).collect(),
            _ => None,
        };
        words.unwrap_or_else(|| {
            let span = self.locate.block_value("slurm", "args");
            self.push(
                Diagnostic::new("`slurm.args` must be a list of sbatch options", span)
                    .hint("write them as a list, passed to sbatch as they are: `args: [\"--qos=normal\"]`"),
            );
            Vec::new()
        })
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::valid_mem;

    #[test]
    fn memory_sizes_as_sbatch_takes_them() {
        for good in ["512", "512M", "2G", "1T", "100k"] {
            assert!(valid_mem(good), "{good}");
        }
        for bad in ["", "G", "2GB", "2.5G", "-1G", "two"] {
            assert!(!valid_mem(bad), "{bad}");
        }
    }
}
