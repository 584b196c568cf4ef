//! The one error enum of the host and the exit codes, named in one place and
//! mapped from the error in one match.
//!
//! Owns no policy about when to fail; modules return these values and
//! `main.rs` prints them and exits with [`Error::exit_code`].

use std::path::PathBuf;

use crate::diag::ConfigError;

/// Named process exit codes of `flow`.
pub(crate) mod exit {
    /// Everything asked for was done (or another run holds the lock).
    pub(crate) const SUCCESS: i32 = 0;
    /// `run`: at least one item ended in error in this pass.
    pub(crate) const ITEMS_FAILED: i32 = 1;
    /// `flow.yaml` is missing or invalid, or the command line is wrong.
    pub(crate) const CONFIG: i32 = 2;
    /// The host itself failed: state database, lock or folders.
    pub(crate) const HOST: i32 = 3;
    /// Stopped by a signal: 128 + its number, as shells report it.
    pub(crate) const SIGNAL_BASE: i32 = 128;
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error("{}", .0.render())]
    Config(ConfigError),
    #[error("no flow.yaml at `{}`\ncaused by: {source}\nhint: name a flow folder (`flow run DIR`, `-C DIR` or $FLOW_DIR)", path.display())]
    NoConfig {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("could not {action} `{}`\ncaused by: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state database `{}`: {source}\nhint: it is rebuilt from scratch if you move it away; the targets stay", path.display())]
    State {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{message}\nhint: {hint}")]
    Usage { message: String, hint: String },
}

impl Error {
    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            Self::Config(_) | Self::NoConfig { .. } | Self::Usage { .. } => exit::CONFIG,
            Self::Io { .. } | Self::State { .. } => exit::HOST,
        }
    }

    /// The text shown on stderr; config errors carry their own `error:` lines.
    pub(crate) fn report(&self) -> String {
        match self {
            Self::Config(_) => self.to_string(),
            _ => format!("error: {self}\n"),
        }
    }
}
