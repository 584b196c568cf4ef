//! The one error type of the toolkit and of the jobs built on it.
//!
//! Every error carries its kind (which decides the exit code), a message that
//! names the file and, where known, the column and row, an optional cause, and
//! an optional hint that tells the user what to do.

use std::fmt;
use std::path::Path;

use crate::exit;

/// What kind of failure an error is; each kind has one exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The command line is wrong.
    Usage,
    /// The data is not valid for this job.
    InvalidData,
    /// A file could not be read or written.
    Io,
    /// A database could not be reached or refused the work.
    Database,
}

impl ErrorKind {
    /// The exit code of the job contract for this kind.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Usage => exit::USAGE,
            ErrorKind::InvalidData => exit::INVALID_DATA,
            ErrorKind::Io => exit::IO,
            ErrorKind::Database => exit::DATABASE,
        }
    }
}

/// A failure a job reports to its user.
#[derive(Debug)]
pub struct TableError {
    kind: ErrorKind,
    message: String,
    cause: Option<String>,
    hint: Option<String>,
}

impl TableError {
    /// A command-line error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }

    /// Data that is not valid for the job (exit 3).
    pub fn invalid_data(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidData, message)
    }

    /// A file that could not be read or written (exit 4); `doing` says what
    /// was being done with `path`, as in "cannot read".
    pub fn io(doing: &str, path: &Path, cause: &std::io::Error) -> Self {
        Self::new(ErrorKind::Io, format!("{doing} `{}`", path.display())).caused_by(cause)
    }

    /// A file-system failure without an underlying `io::Error` (exit 4).
    pub fn io_message(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Io, message)
    }

    /// A database that could not be reached or refused the work (exit 5).
    pub fn database(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Database, message)
    }

    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            cause: None,
            hint: None,
        }
    }

    /// Adds the underlying error, shown as `caused by:`.
    #[must_use]
    pub fn caused_by(mut self, cause: impl fmt::Display) -> Self {
        self.cause = Some(cause.to_string());
        self
    }

    /// Adds what the user should do about it, shown as `hint:`.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The kind of the error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The exit code the job ends with.
    pub fn exit_code(&self) -> u8 {
        self.kind.exit_code()
    }

    /// The first line of the error, without cause and hint.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.message)?;
        if let Some(cause) = &self.cause {
            write!(f, "\ncaused by: {cause}")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for TableError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_message_cause_and_hint_in_order() {
        let error = TableError::invalid_data("`a.csv`: column `nav` is missing")
            .caused_by("no such column")
            .with_hint("add the column");
        assert_eq!(
            error.to_string(),
            "error: `a.csv`: column `nav` is missing\ncaused by: no such column\nhint: add the column"
        );
        assert_eq!(error.exit_code(), exit::INVALID_DATA);
    }

    #[test]
    fn io_errors_name_the_path_and_exit_4() {
        let cause = std::io::Error::from(std::io::ErrorKind::NotFound);
        let error = TableError::io("cannot read", Path::new("in/a.csv"), &cause);
        assert!(
            error
                .to_string()
                .starts_with("error: cannot read `in/a.csv`\ncaused by: ")
        );
        assert_eq!(error.exit_code(), exit::IO);
    }
}
