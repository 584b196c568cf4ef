//! The physical floor of the two CSV jobs, for `scripts/bench`: the least
//! work that reads a File_A-shaped CSV and writes it back with one more
//! field, with no quoting rules, no checks and no atomic rename.
//!
//!     csv_floor append INPUT OUTPUT [sync]   a constant field on every line
//!     csv_floor zscore INPUT OUTPUT [sync]   parse the second field, mean and
//!                                            std in a first pass, z-score in a second
//!
//! `sync` flushes the output to disk before exiting, as the jobs do before
//! their atomic rename: the cost of durability, measured apart.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::process::ExitCode;

const BLOCK: usize = 1 << 20;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let outcome = match args.get(1..) {
        Some([mode, input, output, rest @ ..]) if rest.len() <= 1 => {
            let sync = rest.first().is_some_and(|word| word == "sync");
            match mode.as_str() {
                "append" => append(input, output),
                "zscore" => zscore(input, output),
                _ => return usage(),
            }
            .and_then(|()| {
                if sync {
                    File::open(output)?.sync_all()
                } else {
                    Ok(())
                }
            })
        }
        _ => return usage(),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: csv_floor append|zscore INPUT OUTPUT [sync]");
    ExitCode::from(2)
}

/// Calls `line` with every line of `input` (without its `\n`), then the
/// header flag.
fn each_line(
    input: &str,
    mut line: impl FnMut(&[u8], bool) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut reader = BufReader::with_capacity(BLOCK, File::open(input)?);
    let mut buffer = Vec::with_capacity(256);
    let mut header = true;
    while reader.read_until(b'\n', &mut buffer)? > 0 {
        let text = buffer.strip_suffix(b"\n").unwrap_or(&buffer);
        line(text, header)?;
        header = false;
        buffer.clear();
    }
    Ok(())
}

fn append(input: &str, output: &str) -> std::io::Result<()> {
    let mut out = BufWriter::with_capacity(BLOCK, File::create(output)?);
    each_line(input, |line, header| {
        out.write_all(line)?;
        out.write_all(if header {
            b",time_started\n"
        } else {
            b",2026-11-22T08:00:00.000000Z\n"
        })
    })?;
    out.flush()
}

fn nav(line: &[u8]) -> Option<f64> {
    let comma = memchr::memchr(b',', line)?;
    let rest = &line[comma + 1..];
    let end = memchr::memchr(b',', rest).unwrap_or(rest.len());
    fast_float2::parse(&rest[..end]).ok()
}

fn zscore(input: &str, output: &str) -> std::io::Result<()> {
    let (mut count, mut sum, mut squares) = (0_u64, 0.0_f64, 0.0_f64);
    each_line(input, |line, header| {
        if let Some(x) = nav(line).filter(|_| !header) {
            count += 1;
            sum += x;
            squares += x * x;
        }
        Ok(())
    })?;
    let mean = sum / count as f64;
    let std = (squares / count as f64 - mean * mean).sqrt();
    let mut out = BufWriter::with_capacity(BLOCK, File::create(output)?);
    let mut digits = ryu::Buffer::new();
    each_line(input, |line, header| {
        out.write_all(line)?;
        out.write_all(b",")?;
        match nav(line).filter(|_| !header) {
            Some(x) => out.write_all(digits.format((x - mean) / std).as_bytes())?,
            None if header => out.write_all(b"z_score_nav")?,
            None => {}
        }
        out.write_all(b"\n")
    })?;
    out.flush()
}
