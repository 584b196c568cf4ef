//! `flow init DIR`: a new flow folder from the sample flow, with a
//! `flow.yaml` that explains every key, its processing folders and the
//! sample inputs, all embedded in the binary.
//!
//! Only creates: an existing `flow.yaml` is an error and an existing file
//! is never overwritten. Knows nothing of the state or of running jobs.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::error::Error;

/// The sample flow's configuration, commented for a new user. Its keys and
/// values are those of `flow-config/flow.yaml` (a test keeps them equal).
const FLOW_YAML: &str = include_str!("../assets/init/flow.yaml");
const FOLDERS: [&str; 4] = ["source", "timestamped", "zscored", "merged"];
/// Copies of `flow-config/source/`, kept inside the crate because the
/// Docker build copies `host/` but not `flow-config/` (a test keeps them equal).
const INPUTS: [(&str, &[u8]); 2] = [
    (
        "source/File_A.xlsx",
        include_bytes!("../assets/init/source/File_A.xlsx"),
    ),
    (
        "source/File_B.xlsx",
        include_bytes!("../assets/init/source/File_B.xlsx"),
    ),
];
/// How far in the past the inputs are dated, so that the first `flow run`
/// finds them settled (`settle: 2s`) instead of waiting for the next pass.
const INPUT_AGE: Duration = Duration::from_secs(60);

/// Creates the flow folder; returns what was made, for the user.
pub(crate) fn init(dir: &Path) -> Result<String, Error> {
    let yaml = dir.join(crate::config::FILE_NAME);
    if yaml.exists() {
        return Err(Error::Usage {
            message: format!(
                "`{}` already exists; `flow init` never overwrites a flow",
                yaml.display()
            ),
            hint: format!(
                "name a new folder (`flow init NEW_DIR`), or check this one with `flow check {}`",
                dir.display()
            ),
        });
    }
    for folder in FOLDERS {
        let path = dir.join(folder);
        std::fs::create_dir_all(&path).map_err(io("create", &path))?;
    }
    create(&yaml, FLOW_YAML.as_bytes())?;
    let mut kept = Vec::new();
    for (name, bytes) in INPUTS {
        let path = dir.join(name);
        if path.exists() {
            kept.push(name);
            continue;
        }
        create(&path, bytes)?;
        backdate(&path)?;
    }
    let shown = dir.display();
    let mut message = format!(
        "created {shown}: flow.yaml, {}/ and the sample inputs source/File_A.xlsx, source/File_B.xlsx\n",
        FOLDERS.join("/, ")
    );
    if !kept.is_empty() {
        message.push_str(&format!("kept the existing {}\n", kept.join(", ")));
    }
    message.push_str(&format!(
        "next: `flow run {shown}`, then `flow status {shown}` or `flow serve {shown}`\n"
    ));
    Ok(message)
}

/// Writes a new file; one that appeared meanwhile is left alone (error).
fn create(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io("create", path))?;
    file.write_all(bytes).map_err(io("write", path))
}

fn backdate(path: &Path) -> Result<(), Error> {
    let when = SystemTime::now()
        .checked_sub(INPUT_AGE)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io("open", path))?;
    file.set_modified(when).map_err(io("date", path))
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io {
        action,
        path,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines that mean something: comments and blank lines dropped.
    fn settings(text: &str) -> Vec<String> {
        text.lines()
            .map(|line| line.split('#').next().unwrap_or("").trim_end().to_owned())
            .filter(|line| !line.trim().is_empty())
            .collect()
    }

    #[test]
    fn the_template_is_the_sample_flow_with_comments() {
        let sample = include_str!("../../flow-config/flow.yaml");
        assert_eq!(settings(FLOW_YAML), settings(sample));
    }

    #[test]
    fn the_inputs_are_the_sample_inputs() {
        let sample = [
            include_bytes!("../../flow-config/source/File_A.xlsx").as_slice(),
            include_bytes!("../../flow-config/source/File_B.xlsx").as_slice(),
        ];
        for ((name, bytes), original) in INPUTS.iter().zip(sample) {
            assert!(
                *bytes == original,
                "host/assets/init/{name} differs from flow-config/{name}"
            );
        }
    }

    #[test]
    fn init_refuses_an_existing_flow_and_keeps_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("flow.yaml"), "mine").expect("write");
        let error = init(dir.path()).expect_err("must refuse");
        assert_eq!(error.exit_code(), crate::error::exit::CONFIG);
        assert!(error.to_string().contains("never overwrites"), "{error}");
        let kept = std::fs::read_to_string(dir.path().join("flow.yaml")).expect("read");
        assert_eq!(kept, "mine");
    }
}
