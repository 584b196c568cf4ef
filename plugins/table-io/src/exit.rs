//! The exit codes of the job contract, named once.
//!
//! `flow` reads them to tell a bad input from a broken disk; scripts that call
//! a job by hand can rely on them too.

/// The job did its work and wrote its output.
pub const DONE: u8 = 0;
/// The command line was wrong: an unknown flag, a missing argument, an
/// unsupported file extension.
pub const USAGE: u8 = 2;
/// The input data is not valid for this job: a missing column, an unparsable
/// value, a duplicate key, an empty or corrupt file.
pub const INVALID_DATA: u8 = 3;
/// A file or folder could not be read or written: missing, not permitted,
/// a folder where a file was expected.
pub const IO: u8 = 4;
/// A database could not be reached or refused the work: the server is down,
/// the login was refused, a statement failed. Only `db-export` uses it.
pub const DATABASE: u8 = 5;
