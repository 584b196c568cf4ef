//! The streaming merge against the polars path on the same files: the
//! outputs must be equal byte for byte (values, types, quoting, order), and
//! what the streaming merge does not read must be left to polars.

use std::path::{Path, PathBuf};

use clap::Parser;
use table_io::Output;
use table_io::append::AppendOutcome;
use tempfile::TempDir;

use crate::{Args, polars_path, stream};

type TestResult = Result<(), Box<dyn std::error::Error>>;

struct Case {
    dir: TempDir,
    left: PathBuf,
    right: PathBuf,
}

impl Case {
    fn new(left: &str, right: &str) -> Result<Self, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
        std::fs::write(&a, left)?;
        std::fs::write(&b, right)?;
        Ok(Self {
            dir,
            left: a,
            right: b,
        })
    }

    fn args(&self, output: &Path, extra: &[&str]) -> Result<Args, clap::Error> {
        let mut argv: Vec<String> = ["job-merge", "--input"].map(String::from).to_vec();
        argv.push(self.left.display().to_string());
        argv.push("--right".into());
        argv.push(self.right.display().to_string());
        argv.push("--output".into());
        argv.push(output.display().to_string());
        argv.extend(extra.iter().map(|arg| arg.to_string()));
        Args::try_parse_from(argv)
    }

    /// The streaming merge's outcome and output text.
    fn streamed(
        &self,
        extra: &[&str],
    ) -> Result<(AppendOutcome, String), Box<dyn std::error::Error>> {
        let path = self.dir.path().join("streamed.csv");
        let args = self.args(&path, extra)?;
        let output = Output::new(&path)?;
        let outcome = stream::merge(&args.request(), &output)?;
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        Ok((outcome, text))
    }

    fn through_polars(&self, extra: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
        let path = self.dir.path().join("polars.csv");
        let args = self.args(&path, extra)?;
        polars_path(&args, &Output::new(&path)?)?;
        Ok(std::fs::read_to_string(&path)?)
    }

    /// Asserts that the streaming merge ran and wrote what polars writes.
    fn assert_same(&self, extra: &[&str]) -> TestResult {
        let (outcome, streamed) = self.streamed(extra)?;
        let expected = self.through_polars(extra)?;
        assert_eq!(outcome, AppendOutcome::Written, "polars wrote:\n{expected}");
        assert_eq!(streamed, expected);
        Ok(())
    }
}

#[test]
fn quoted_fields_match_polars() -> TestResult {
    Case::new(
        "isin,name,nav\n\"LU1\",\"a,b\",1.5\nLU2,\"say \"\"hi\"\"\",2\n\"LU3\",plain,3.25\nLU4,\"two\nlines\",4\n",
        "isin,subscriptions,note\nLU1,10,\"x,y\"\n\"LU3\",30,\"q\"\"q\"\nLU4,40,\"z\"\n",
    )?
    .assert_same(&[])
}

#[test]
fn crlf_line_ends_match_polars() -> TestResult {
    Case::new(
        "isin,name,time_started\r\nLU1,x,2026-11-22T08:00:00.000000Z\r\nLU2,\"a\r\nb\",2026-11-22T08:00:00Z\r\n",
        "isin,subscriptions,time_started\r\nLU2,7,2026-11-22T07:00:00.000000Z\r\nLU1,8,2026-11-23T07:00:00Z",
    )?
    .assert_same(&[])
}

#[test]
fn missing_values_and_unmatched_keys_match_polars() -> TestResult {
    Case::new(
        "isin,nav,time_started,z\nLU1,,2026-11-22T08:00:00.000000Z,0.5\n,2.5,,\nLU3,3,,1e-7\nLU9,4,2026-11-22T08:00:00.000000Z,-0.0\n",
        "isin,subscriptions,time_started,label\nLU1,,,\nLU3,30,2026-11-21T07:00:00.000000Z,x\n,5,,y\n",
    )?
    .assert_same(&[])
}

#[test]
fn clashing_names_and_explicit_options_match_polars() -> TestResult {
    let case = Case::new(
        "code,nav,seen,label\n1,1000000.5000,2026-01-01T00:00:00Z,a\n007,2,2026-01-05T00:00:00Z,b\n3,-4,,c\n",
        "label,code,nav,seen,subscriptions\nB,7,9.25,2026-01-02T00:00:00Z,1\nA,1,10,2026-01-09T00:00:00Z,\n",
    )?;
    case.assert_same(&["--on", "code", "--earliest", "seen"])?;
    case.assert_same(&["--on", "code", "--fill", "label=none", "--fill", "nav=0"])?;
    case.assert_same(&[
        "--on",
        "code",
        "--fill",
        "label=",
        "--fill",
        "subscriptions=-1",
    ])
}

#[test]
fn a_repeated_right_key_is_the_same_error_on_both_paths() -> TestResult {
    let case = Case::new(
        "isin,nav\nX,1\n",
        "isin,subscriptions\nY,0\nX,1\nZ,2\nY,3\nX,4\nY,5\n",
    )?;
    let streamed = case.streamed(&[]).err().map(|error| error.to_string());
    let polars = case
        .through_polars(&[])
        .err()
        .map(|error| error.to_string());
    assert!(
        streamed
            .as_deref()
            .is_some_and(|message| message.contains("value \"Y\" appears 3 times (rows 2, 5, 7)"))
    );
    assert_eq!(streamed, polars);
    assert!(!case.dir.path().join("streamed.csv").exists());
    Ok(())
}

#[test]
fn what_it_does_not_read_exactly_is_left_to_polars() -> TestResult {
    let right = "isin,subscriptions\nLU1,1\n";
    for left in [
        "isin,flag\nLU1,true\n",
        "isin,day\nLU1,2026-01-02\n",
        "isin,name\nLU1,\"\"\n",
        "isin,nav\nLU1,1\nLU2\n",
        "isin,nav\nLU1,\"1\"\n",
        "isin,nav\nLU1,inf\n",
    ] {
        let case = Case::new(left, right)?;
        let (outcome, text) = case.streamed(&[])?;
        assert_eq!(
            (outcome, text.as_str()),
            (AppendOutcome::NotApplicable, ""),
            "{left:?}"
        );
    }
    Ok(())
}

#[test]
fn a_value_past_the_inferred_rows_that_does_not_fit_is_left_to_polars() -> TestResult {
    let mut left = String::from("isin,nav\n");
    for row in 0..table_io::INFER_SCHEMA_ROWS {
        left.push_str(&format!("LU{row},{row}\n"));
    }
    left.push_str("LUx,1.5\n");
    let case = Case::new(&left, "isin,subscriptions\nLU1,1\n")?;
    let (outcome, text) = case.streamed(&[])?;
    assert_eq!((outcome, text.as_str()), (AppendOutcome::NotApplicable, ""));
    Ok(())
}
