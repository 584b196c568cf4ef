//! The command-line arguments the job contract gives every job, written
//! once: each job's `Args` flattens them beside its own options.

use std::path::PathBuf;

/// `--input PATH`: the table a job reads.
#[derive(Debug, clap::Args)]
pub struct InputArg {
    /// The table to read: a .csv, .xlsx or .parquet file.
    #[arg(id = "input", long = "input", value_name = "PATH")]
    pub path: PathBuf,
}

/// `--output PATH`: the table a job writes.
#[derive(Debug, clap::Args)]
pub struct OutputArg {
    /// Where to write the result; its extension (.csv, .xlsx, .parquet)
    /// chooses the format. The folder must exist.
    #[arg(id = "output", long = "output", value_name = "PATH")]
    pub path: PathBuf,
}
