//! `job-zscore` run as a user runs it: the real binary on real files.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use assert_cmd::assert::Assert;
use polars::prelude::*;
use table_io::Input;
use tempfile::TempDir;

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// `scipy.stats.zscore(File_A.nav)` (ddof 0), computed with scipy 1.x on the
/// seed file `shared/seed-data/File_A.xlsx`.
const SCIPY_ZSCORES: [f64; 7] = [
    -0.7566135042185348,
    1.4392182188295255,
    -0.3974996303490081,
    0.10028051024627516,
    0.3340633726493296,
    -1.741340031016385,
    1.021891063858803,
];

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

fn job() -> TestResult<Command> {
    Ok(Command::cargo_bin("job-zscore")?)
}

/// Runs the job from `input` to `output` with `extra` options.
fn zscore(input: &Path, output: &Path, extra: &[&str]) -> TestResult<Assert> {
    Ok(job()?
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(output)
        .args(extra)
        .assert())
}

fn floats(path: &Path, column: &str) -> Result<Vec<Option<f64>>, Box<dyn std::error::Error>> {
    let table = Input::open(path)?.frame().collect()?;
    Ok(table
        .column(column)?
        .cast(&DataType::Float64)?
        .f64()?
        .iter()
        .collect())
}

fn file(dir: &TempDir, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes)?;
    Ok(path)
}

/// Runs the job on `input` into `out.csv`, expecting it to fail with `code`;
/// returns stderr.
fn failure(input: &Path, extra: &[&str], code: i32) -> Result<String, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let output = dir.path().join("out.csv");
    let run = zscore(input, &output, extra)?.code(code);
    assert!(!output.exists(), "a failed run must not leave an output");
    Ok(String::from_utf8(run.get_output().stderr.clone())?)
}

#[test]
fn seed_file_matches_scipy_zscore_to_1e_9_in_every_output_format() -> TestResult {
    let dir = tempfile::tempdir()?;
    for name in ["z.xlsx", "z.csv", "z.parquet"] {
        let output = dir.path().join(name);
        zscore(&repo_file("../shared/seed-data/File_A.xlsx"), &output, &[])?.success();
        let scores = floats(&output, "z_score_nav")?;
        assert_eq!(scores.len(), SCIPY_ZSCORES.len());
        for (got, want) in scores.iter().zip(SCIPY_ZSCORES) {
            let got = got.ok_or("missing z-score")?;
            assert!((got - want).abs() < 1e-9, "{name}: {got} != {want}");
        }
    }
    Ok(())
}

#[test]
fn ddof_1_scales_the_scores_by_the_sample_std() -> TestResult {
    let dir = tempfile::tempdir()?;
    let output = dir.path().join("z.csv");
    let seed = repo_file("../shared/seed-data/File_A.xlsx");
    zscore(&seed, &output, &["--ddof", "1", "--into", "z"])?.success();
    let factor = (6.0_f64 / 7.0).sqrt();
    for (got, population) in floats(&output, "z")?.iter().zip(SCIPY_ZSCORES) {
        assert!((got.ok_or("missing")? - population * factor).abs() < 1e-9);
    }
    Ok(())
}

#[test]
fn the_shipped_sample_is_scored_to_mean_0_and_std_1() -> TestResult {
    let dir = tempfile::tempdir()?;
    let output = dir.path().join("z.parquet");
    zscore(&repo_file("flow-config/source/File_A.xlsx"), &output, &[])?.success();
    let scores: Vec<f64> = floats(&output, "z_score_nav")?
        .into_iter()
        .flatten()
        .collect();
    let n = scores.len() as f64;
    let mean = scores.iter().sum::<f64>() / n;
    let variance = scores.iter().map(|z| (z - mean).powi(2)).sum::<f64>() / n;
    assert_eq!(scores.len(), 8);
    assert!(mean.abs() < 1e-12 && (variance - 1.0).abs() < 1e-12);
    Ok(())
}

#[test]
fn missing_values_and_nan_stay_empty_and_are_left_out() -> TestResult {
    let dir = tempfile::tempdir()?;
    let input = file(&dir, "in.csv", b"isin,nav\nA,1\nB,\nC,NaN\nD,3\n")?;
    let output = dir.path().join("out.csv");
    zscore(&input, &output, &[])?.success();
    assert_eq!(
        floats(&output, "z_score_nav")?,
        [Some(-1.0), None, None, Some(1.0)]
    );
    Ok(())
}

#[test]
fn a_constant_column_scores_zero() -> TestResult {
    let dir = tempfile::tempdir()?;
    let input = file(&dir, "in.csv", b"isin,nav\nA,5\nB,5\n")?;
    let output = dir.path().join("out.csv");
    zscore(&input, &output, &[])?.success();
    assert_eq!(floats(&output, "z_score_nav")?, [Some(0.0), Some(0.0)]);
    Ok(())
}

#[test]
fn a_text_value_in_the_column_is_exit_3_naming_its_row() -> TestResult {
    let dir = tempfile::tempdir()?;
    let input = file(&dir, "in.csv", b"isin,nav\nA,1\nB,abc\nC,2\n")?;
    assert_eq!(
        failure(&input, &[], 3)?,
        format!(
            "error: `{}`: column `nav`, row 3: \"abc\" is not a number\n\
             hint: fix the value, or leave the cell empty to mark it missing\n",
            input.display()
        )
    );
    Ok(())
}

#[test]
fn a_missing_column_is_exit_3_listing_the_columns() -> TestResult {
    let dir = tempfile::tempdir()?;
    let input = file(&dir, "in.csv", b"isin,navs\nA,1\n")?;
    assert_eq!(
        failure(&input, &[], 3)?,
        format!(
            "error: `{}` has no column `nav`; its columns are `isin`, `navs`\n\
             hint: did you mean `navs`? pass it with `--column navs`\n",
            input.display()
        )
    );
    Ok(())
}

#[test]
fn empty_and_header_only_files_are_exit_3() -> TestResult {
    let dir = tempfile::tempdir()?;
    let empty = file(&dir, "empty.csv", b"")?;
    assert!(failure(&empty, &[], 3)?.contains("is empty: it has no header and no rows"));
    let header = file(&dir, "header.csv", b"isin,nav\n")?;
    assert!(failure(&header, &[], 3)?.starts_with(&format!(
        "error: `{}`: column `nav` has too few values for a z-score with ddof 0 (it needs at least 1)",
        header.display()
    )));
    Ok(())
}

#[test]
fn a_late_unparsable_value_is_exit_3_naming_its_row() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut text = String::from("isin,nav\n");
    for row in 0..20_000 {
        text.push_str(&format!("LU{row},{row}.25\n"));
    }
    text.push_str("LUX,n/a\n");
    let input = file(&dir, "late.csv", text.as_bytes())?;
    assert!(
        failure(&input, &[], 3)?
            .contains("column `nav`, row 20002: \"n/a\" does not fit the column's type")
    );
    Ok(())
}

#[test]
fn broken_files_are_exit_3_with_what_to_do() -> TestResult {
    let dir = tempfile::tempdir()?;
    let whole = std::fs::read(repo_file("flow-config/source/File_A.xlsx"))?;
    let cut = file(&dir, "cut.xlsx", &whole[..whole.len() / 2])?;
    assert!(failure(&cut, &[], 3)?.contains("is not a readable xlsx workbook"));
    let latin1 = file(&dir, "latin1.csv", b"isin,nav,name\nA,1,caf\xe9\n")?;
    assert!(failure(&latin1, &[], 3)?.contains("line 2 is not valid UTF-8"));
    Ok(())
}

#[test]
fn file_system_problems_are_exit_4() -> TestResult {
    let dir = tempfile::tempdir()?;
    let folder = dir.path().join("inputs.csv");
    std::fs::create_dir(&folder)?;
    assert!(failure(&folder, &[], 4)?.contains("is a folder, not a file"));
    let input = file(&dir, "in.csv", b"isin,nav\nA,1\n")?;
    job()?
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(dir.path().join("missing/out.csv"))
        .assert()
        .code(4)
        .stderr(predicates::str::contains("hint: create it first: mkdir -p"));
    Ok(())
}

#[test]
fn usage_errors_are_exit_2() -> TestResult {
    let dir = tempfile::tempdir()?;
    let input = file(&dir, "in.csv", b"isin,nav\nA,1\n")?;
    job()?.arg("--input").arg(&input).assert().code(2);
    job()?
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(dir.path().join("out.txt"))
        .assert()
        .code(2);
    job()?
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(dir.path().join("out.csv"))
        .args(["--ddof", "x"])
        .assert()
        .code(2);
    Ok(())
}

#[test]
fn help_explains_every_option() -> TestResult {
    let help = job()?.arg("--help").assert().success();
    let help = String::from_utf8(help.get_output().stdout.clone())?;
    for option in [
        "--input",
        "--output",
        "--column",
        "--into",
        "--ddof",
        "scipy.stats.zscore",
        "Exit codes",
    ] {
        assert!(help.contains(option), "--help lacks {option}");
    }
    Ok(())
}

#[test]
fn the_csv_fast_path_keeps_every_byte_and_agrees_with_the_general_path() -> TestResult {
    let dir = tempfile::tempdir()?;
    let text = "isin,\"na,me\",nav\r\nA,\"x,\"\"y\"\"\",1.50\r\nB,\"two\nlines\",\r\nC,z,2.5e0\r\nD,w,NaN\r\nE,v,-7";
    let input = file(&dir, "in.csv", text.as_bytes())?;
    let fast = dir.path().join("fast.csv");
    let general = dir.path().join("general.parquet");
    zscore(&input, &fast, &[])?.success();
    zscore(&input, &general, &[])?.success();
    let written = std::fs::read_to_string(&fast)?;
    let records: Vec<&str> = text.split("\r\n").collect();
    let out: Vec<&str> = written.split("\r\n").collect();
    assert_eq!(records.len(), out.len());
    for (record, line) in records.iter().zip(&out) {
        assert!(
            line.starts_with(&format!("{record},")),
            "{line:?} does not keep {record:?}"
        );
    }
    let fast_scores = floats(&fast, "z_score_nav")?;
    let general_scores = floats(&general, "z_score_nav")?;
    assert_eq!(fast_scores.len(), 5);
    for (a, b) in fast_scores.iter().zip(&general_scores) {
        match (a, b) {
            (Some(a), Some(b)) => assert!((a - b).abs() < 1e-12, "{a} != {b}"),
            (a, b) => assert_eq!(a, b),
        }
    }
    Ok(())
}
