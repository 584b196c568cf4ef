//! The build script of the shipped jobs: links each job binary as a
//! position-dependent executable. A job is a 70 MB binary started for
//! every file; as a PIE the loader applies its 127,000 relative
//! relocations (and touches their pages) at every start, which was most of
//! a run on a 1-row CSV (docs/performance.md, "Start-up").
//!
//! This is the link of a plain `cargo build` (release or debug, and of
//! `cargo test`). The shipped release build, `scripts/build-release`, links
//! the jobs fully static on top of it (crt-static, a flag that only the
//! final rustc call takes, so not one a build script can give).

fn main() {
    println!("cargo::rustc-link-arg-bins=-no-pie");
}
