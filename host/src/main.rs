//! The `flow` binary: everything is in the library; this only exits with
//! the code its command line returned.

fn main() {
    std::process::exit(flow::cli::main());
}
