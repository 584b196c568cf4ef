//! The folders a watch is subscribed to, kept in step with the configuration
//! and the disk: the flow folder (for `flow.yaml`) and every folder that a
//! job's source or extra inputs reach, down through folder wildcards. A
//! folder not there yet is watched through its nearest existing parent, so
//! that its creation is an event too.
//!
//! Subscribes folder by folder (not notify's recursive mode), so that
//! hidden folders such as `.flow-staging` and `.flow` never wake the watch.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use notify::{RecursiveMode, Watcher as _};

use crate::config::Config;
use crate::scan::Scan;

/// One inotify instance and the folders it watches.
pub(crate) struct Subscriptions {
    watcher: notify::RecommendedWatcher,
    watched: BTreeSet<PathBuf>,
}

impl Subscriptions {
    /// `None` when the system offers no events (then the interval alone
    /// finds new files).
    pub(crate) fn new(handler: impl notify::EventHandler) -> Option<Self> {
        match notify::recommended_watcher(handler) {
            Ok(watcher) => Some(Self {
                watcher,
                watched: BTreeSet::new(),
            }),
            Err(error) => {
                tracing::warn!(%error, "no file-system events; only the interval finds new files");
                None
            }
        }
    }

    /// Whether `path` is a folder subscribed to.
    pub(crate) fn watches(&self, path: &Path) -> bool {
        self.watched.contains(path)
    }

    /// Drops `path` and what is watched below it: it was removed or
    /// replaced, and the next [`Self::update`] subscribes to what is there.
    pub(crate) fn forget(&mut self, path: &Path) {
        let below: Vec<PathBuf> = self
            .watched
            .range(path.to_path_buf()..)
            .take_while(|watched| watched.starts_with(path))
            .cloned()
            .collect();
        for folder in below {
            // the kernel drops the watch of a removed folder by itself
            let _ = self.watcher.unwatch(&folder);
            self.watched.remove(&folder);
        }
    }

    /// Subscribes to every folder `config` reaches now and drops the rest.
    pub(crate) fn update(&mut self, config: &Config) {
        let wanted = wanted(config);
        let gone: Vec<PathBuf> = self.watched.difference(&wanted).cloned().collect();
        for folder in gone {
            self.forget(&folder);
        }
        for folder in wanted.difference(&self.watched.clone()) {
            match self.watcher.watch(folder, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.watched.insert(folder.clone());
                }
                // gone since it was listed, or out of inotify watches: the
                // interval's rescan still finds what lands there
                Err(error) => {
                    tracing::warn!(folder = %folder.display(), %error, "cannot watch")
                }
            }
        }
        tracing::debug!(folders = self.watched.len(), "watching folders");
    }
}

/// The flow folder and the folders every job reads from or below.
fn wanted(config: &Config) -> BTreeSet<PathBuf> {
    let base = &config.dir.path;
    let mut scan = Scan::new(base);
    let mut folders = BTreeSet::from([base.clone()]);
    for job in &config.jobs {
        let reads = std::iter::once(&job.source).chain(job.inputs.iter().map(|(_, input)| input));
        // a bucket sends no events: the interval's rescan finds its objects
        for pattern in reads.filter(|pattern| !crate::storage::is_remote(&pattern.root)) {
            for folder in scan.reach(pattern) {
                folders.insert(nearest_existing(base, &folder));
            }
        }
    }
    folders
}

/// `folder` if it exists, else its nearest existing parent up to `base`.
fn nearest_existing(base: &Path, folder: &str) -> PathBuf {
    let mut path = base.join(folder);
    while path != *base && path.starts_with(base) && !path.is_dir() {
        path.pop();
    }
    if path.starts_with(base) {
        path
    } else {
        base.to_path_buf()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribes_to_the_folders_the_patterns_reach_and_no_hidden_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = dir.path();
        for folder in ["landing/2026/11/30/23", "landing/2026/.part/01", "other/x"] {
            std::fs::create_dir_all(base.join(folder)).expect("mkdir");
        }
        let yaml = "jobs:
  - name: load
    run: true
    source: landing/{yyyy}/{mm}/{dd}/{HH}/{name}.csv
    inputs:
      right: side/{name}.csv
    target: out/{yyyy}-{mm}-{dd}-{HH}-{name}.csv
";
        let config = crate::config::parse_text(base, yaml).expect("valid config");
        let wanted: Vec<String> = wanted(&config)
            .iter()
            .filter_map(|path| Some(path.strip_prefix(base).ok()?.display().to_string()))
            .collect();
        assert_eq!(
            wanted,
            [
                "",
                "landing",
                "landing/2026",
                "landing/2026/11",
                "landing/2026/11/30",
                "landing/2026/11/30/23",
            ],
            "`side` is missing: the flow folder stands in for it"
        );
    }

    #[test]
    fn a_missing_folder_is_watched_through_its_nearest_parent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = dir.path();
        std::fs::create_dir_all(base.join("landing/2026")).expect("mkdir");
        assert_eq!(
            nearest_existing(base, "landing/2026/12/01"),
            base.join("landing/2026")
        );
        assert_eq!(nearest_existing(base, "landing"), base.join("landing"));
        assert_eq!(nearest_existing(base, "nowhere/deep"), base);
        assert_eq!(nearest_existing(base, ""), base);
    }
}
