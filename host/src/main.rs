//! `flow`: an orchestrator for file-based data pipelines. This file only
//! hands over to `cli.rs` and exits with the code it returns.

mod cli;
mod config;
mod diag;
mod error;
mod exec;
mod init;
mod items;
mod lock;
mod pattern;
mod plan;
mod run;
mod serve;
mod signals;
mod state;
mod status;

fn main() {
    std::process::exit(cli::main());
}
