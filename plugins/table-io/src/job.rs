//! The shape every job's `main` shares: run, print the error, exit with its
//! code.

use std::process::ExitCode;

use crate::Result;

/// Runs a job's body and turns its outcome into the exit code of the job
/// contract, printing any error to stderr first.
pub fn run_job(body: impl FnOnce() -> Result<()>) -> ExitCode {
    match body() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            ExitCode::from(error.exit_code())
        }
    }
}
