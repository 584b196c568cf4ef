//! Every path the host itself makes in a flow folder: the state database,
//! the run lock, the run logs and the Slurm batch scripts and exit-code
//! files under `<flow>/.flow/`, and the hidden staging area inside each
//! target root where jobs write. A run whose files live in a bucket has a
//! folder of its own under `.flow/transfers/`: its downloaded inputs, and
//! the staging file of an `s3://` target.
//!
//! Only names paths; creating and reading them is the callers' business.

use std::path::{Path, PathBuf};

use crate::storage::is_remote;

/// The hidden folder inside a target root where jobs write.
pub(crate) const STAGING: &str = ".flow-staging";

/// The host's paths in one flow folder.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    flow: PathBuf,
    dot: PathBuf,
}

impl Layout {
    pub(crate) fn new(flow_dir: &Path) -> Self {
        Self {
            flow: flow_dir.to_path_buf(),
            dot: flow_dir.join(".flow"),
        }
    }

    /// `<flow>/.flow`.
    pub(crate) fn dot_flow(&self) -> &Path {
        &self.dot
    }

    pub(crate) fn state_db(&self) -> PathBuf {
        self.dot.join("state.db")
    }

    pub(crate) fn lock(&self) -> PathBuf {
        self.dot.join("lock")
    }

    pub(crate) fn logs(&self) -> PathBuf {
        self.dot.join("logs")
    }

    /// The log of run `id`; an item id's `/` become `_`, the run id keeps
    /// names apart.
    pub(crate) fn log(&self, id: i64, job: &str, item: &str) -> PathBuf {
        self.logs()
            .join(format!("{id}-{job}-{}.log", item.replace('/', "_")))
    }

    /// Where the output of the hook run after run `id` is kept while it runs.
    pub(crate) fn hook_output(&self, id: i64, hook: &str) -> PathBuf {
        self.logs().join(format!(".{id}-{hook}.out"))
    }

    /// Where the batch scripts of Slurm runs and their exit-code files are.
    pub(crate) fn slurm(&self) -> PathBuf {
        self.dot.join("slurm")
    }

    /// The batch script submitted for run `id`.
    pub(crate) fn batch_script(&self, id: i64) -> PathBuf {
        self.slurm().join(format!("{id}.sh"))
    }

    /// The file the batch script of run `id` writes the job's exit code to,
    /// by a rename, so that a reader never sees half of it.
    pub(crate) fn exit_file(&self, id: i64) -> PathBuf {
        self.slurm().join(format!("{id}.exit"))
    }

    /// Bytes of every file under `<flow>/.flow/`: the state and the logs.
    pub(crate) fn bytes_used(&self) -> u64 {
        fn walk(folder: &Path) -> u64 {
            let Ok(entries) = std::fs::read_dir(folder) else {
                return 0;
            };
            entries
                .filter_map(Result::ok)
                .map(|entry| match entry.file_type() {
                    Ok(kind) if kind.is_dir() => walk(&entry.path()),
                    Ok(kind) if kind.is_file() => entry.metadata().map_or(0, |meta| meta.len()),
                    _ => 0,
                })
                .sum()
        }
        walk(&self.dot)
    }

    /// The staging area of a target root (relative to the flow folder);
    /// for a bucket, the transfers folder.
    pub(crate) fn staging_area(&self, target_root: &str) -> PathBuf {
        if is_remote(target_root) {
            return self.transfers();
        }
        self.flow.join(target_root).join(STAGING)
    }

    /// Where run `id` writes a target named `file_name`: the run id keeps
    /// concurrent attempts apart; the name keeps the extension, from which
    /// jobs choose the output format. An `s3://` target is staged in the
    /// run's transfer folder, from where it is uploaded.
    pub(crate) fn staging(&self, target_root: &str, id: i64, file_name: &str) -> PathBuf {
        if is_remote(target_root) {
            return self.transfer(id).join("output").join(file_name);
        }
        self.staging_area(target_root)
            .join(format!("{id}-{file_name}"))
    }

    /// Every run's transfer folder is in here: whatever is in it when no
    /// run is live is a leftover.
    pub(crate) fn transfers(&self) -> PathBuf {
        self.dot.join("transfers")
    }

    /// Run `id`'s own transfer folder.
    pub(crate) fn transfer(&self, id: i64) -> PathBuf {
        self.transfers().join(id.to_string())
    }

    /// Where run `id` downloads its input `role` named `file_name`: one
    /// folder per role keeps two inputs of the same name apart, and the
    /// name keeps the extension jobs read the format from.
    pub(crate) fn download(&self, id: i64, role: &str, file_name: &str) -> PathBuf {
        self.transfer(id).join("input").join(role).join(file_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_every_host_path() {
        let layout = Layout::new(Path::new("/f"));
        assert_eq!(layout.state_db(), Path::new("/f/.flow/state.db"));
        assert_eq!(layout.lock(), Path::new("/f/.flow/lock"));
        assert_eq!(
            layout.log(7, "clean", "2026/11/30/a.csv"),
            Path::new("/f/.flow/logs/7-clean-2026_11_30_a.csv.log")
        );
        assert_eq!(
            layout.staging("out", 7, "a.csv"),
            Path::new("/f/out/.flow-staging/7-a.csv")
        );
        assert_eq!(layout.staging_area(""), Path::new("/f/.flow-staging"));
        assert_eq!(
            layout.staging("s3://b/out", 7, "a.csv"),
            Path::new("/f/.flow/transfers/7/output/a.csv")
        );
        assert_eq!(
            layout.staging_area("s3://b/out"),
            Path::new("/f/.flow/transfers")
        );
        assert_eq!(
            layout.download(7, "right", "b.csv"),
            Path::new("/f/.flow/transfers/7/input/right/b.csv")
        );
        assert_eq!(layout.batch_script(7), Path::new("/f/.flow/slurm/7.sh"));
        assert_eq!(layout.exit_file(7), Path::new("/f/.flow/slurm/7.exit"));
    }
}
