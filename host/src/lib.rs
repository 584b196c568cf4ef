//! `flow`: an orchestrator for file-based data pipelines, as a library with
//! one entry point, [`cli::main`], that the binary calls.
//!
//! The layers, from the command line down: `cli` parses and prints; `run`
//! schedules a pass over the graph that `plan` decides from `scan`, `state`
//! and `config`; `exec` starts runs behind its `Executor` interface and
//! `outcome` judges how they ended; `status` and `serve` read the same plan.

pub mod cli;
mod config;
mod diag;
mod error;
mod exec;
mod hooks;
mod init;
mod items;
mod layout;
mod lock;
mod outcome;
mod pattern;
mod plan;
mod run;
mod scan;
mod serve;
mod signals;
mod state;
mod status;
mod storage;
mod threads;
mod transfer;
mod watch;
