//! `flow retry`, `flow rerun` and `flow logs`: find the job and the items a user named
//! (by item id, target name, or either without extension) and act on them.
//!
//! Reads and writes state only through `state.rs`; returns what it found
//! and did, and the CLI prints it.

use std::path::Path;

use crate::config::{Config, Job};
use crate::diag::did_you_mean;
use crate::error::Error;
use crate::layout::Layout;
use crate::state::State;

fn job_named<'a>(config: &'a Config, name: &str) -> Result<&'a Job, Error> {
    config
        .jobs
        .iter()
        .find(|job| job.name == name)
        .ok_or_else(|| {
            let names: Vec<&str> = config.jobs.iter().map(|job| job.name.as_str()).collect();
            let hint = match did_you_mean(name, names.iter().copied()) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("the jobs are {}", names.join(", ")),
            };
            Error::Usage {
                message: format!(
                    "no job named `{name}` in {}",
                    config.dir.show(crate::config::FILE_NAME)
                ),
                hint,
            }
        })
}

/// Item ids of `job` that `word` names: the item id itself (the source file
/// name), or its target's file name, or either without extension, so that
/// `merge File` finds the item making `merged/File.xlsx`.
fn items_named(records: &[(String, String)], word: &str) -> Vec<String> {
    let stem = |name: &str| name.split('.').next().unwrap_or(name).to_owned();
    let exact: Vec<String> = records
        .iter()
        .filter(|(id, _)| id == word)
        .map(|(id, _)| id.clone())
        .collect();
    if !exact.is_empty() {
        return exact;
    }
    records
        .iter()
        .filter(|(id, target)| {
            let target_name = Path::new(target)
                .file_name()
                .map_or_else(String::new, |name| name.to_string_lossy().into_owned());
            stem(id) == word || target_name == word || stem(&target_name) == word
        })
        .map(|(id, _)| id.clone())
        .collect()
}

fn job_items(state: &State, job: &str) -> Result<Vec<(String, String)>, Error> {
    let mut items: Vec<(String, String)> = state
        .items()?
        .into_iter()
        .filter(|record| *record.job == *job)
        .map(|record| (record.item, record.target))
        .collect();
    items.sort();
    Ok(items)
}

/// What `flow retry` re-armed.
#[derive(Debug)]
pub(crate) struct Rearmed {
    pub(crate) job: String,
    pub(crate) items: Vec<String>,
}

/// The item ids `words` name among the recorded items of `job`; `None`
/// (every item) when there is no word.
fn selected(state: &State, job: &str, words: &[String]) -> Result<Option<Vec<String>>, Error> {
    if words.is_empty() {
        return Ok(None);
    }
    let known = job_items(state, job)?;
    let mut ids = Vec::new();
    for word in words {
        let found = items_named(&known, word);
        if found.is_empty() {
            return Err(unknown_item(job, word, &known));
        }
        ids.extend(found);
    }
    Ok(Some(ids))
}

pub(crate) fn retry(config: &Config, words: &[String]) -> Result<Rearmed, Error> {
    let Some((job, wanted)) = words.split_first() else {
        return Err(usage("`flow retry` needs a job name"));
    };
    let job = job_named(config, job)?;
    let state = State::open(&Layout::new(&config.dir.path))?;
    let selected = selected(&state, &job.name, wanted)?;
    let items = state.retry(&job.name, selected.as_deref())?;
    Ok(Rearmed {
        job: job.name.clone(),
        items,
    })
}

/// What `flow rerun` marked, per job.
pub(crate) type Marked = Vec<(String, Vec<String>)>;

/// `flow rerun JOB ITEM...`, `JOB` with `all` (every item of JOB), or no
/// word with `all` (every item of every job): marks the items to run again
/// on the next pass though their targets are up to date.
pub(crate) fn rerun(config: &Config, words: &[String], all: bool) -> Result<Marked, Error> {
    let state = State::open(&Layout::new(&config.dir.path))?;
    let Some((job, wanted)) = words.split_first() else {
        if !all {
            return Err(usage(
                "`flow rerun` needs a job and its items, a job and `--all`, or `--all`",
            ));
        }
        return config
            .jobs
            .iter()
            .map(|job| Ok((job.name.clone(), state.rerun(&job.name, None)?)))
            .collect();
    };
    let job = job_named(config, job)?;
    if wanted.is_empty() && !all {
        return Err(Error::Usage {
            message: format!("`flow rerun {}` names no item", job.name),
            hint: format!(
                "name the items (`flow rerun {} ITEM...`) or rerun them all with `flow rerun {} --all`",
                job.name, job.name
            ),
        });
    }
    let selected = selected(&state, &job.name, wanted)?;
    Ok(vec![(
        job.name.clone(),
        state.rerun(&job.name, selected.as_deref())?,
    )])
}

/// The log of the named item's last run.
pub(crate) fn logs(config: &Config, words: &[String]) -> Result<Vec<u8>, Error> {
    let [job, word] = words else {
        return Err(usage("`flow logs` takes a job and an item"));
    };
    let job = job_named(config, job)?;
    let state = State::open(&Layout::new(&config.dir.path))?;
    let known = job_items(&state, &job.name)?;
    let found = items_named(&known, word);
    let [item] = found.as_slice() else {
        return Err(if found.is_empty() {
            unknown_item(&job.name, word, &known)
        } else {
            usage(&format!(
                "`{word}` names several items of `{}`: {}",
                job.name,
                found.join(", ")
            ))
        });
    };
    let record = state.item(&job.name, item)?;
    let run = match record {
        Some(record) => state.run(record.last_run)?,
        None => None,
    };
    let Some(run) = run else {
        return Err(unknown_item(&job.name, word, &known));
    };
    std::fs::read(&run.log).map_err(|source| Error::Io {
        action: "read the log",
        path: run.log.clone(),
        source,
    })
}

fn usage(message: &str) -> Error {
    Error::Usage {
        message: message.to_owned(),
        hint: "see `flow help`".to_owned(),
    }
}

fn unknown_item(job: &str, word: &str, known: &[(String, String)]) -> Error {
    let ids: Vec<&str> = known.iter().map(|(id, _)| id.as_str()).collect();
    let hint = match did_you_mean(word, ids.iter().copied()) {
        Some(near) => format!("did you mean `{near}`?"),
        None if ids.is_empty() => format!("`{job}` has not run any item yet"),
        None => format!("items of `{job}` that ran: {}", ids.join(", ")),
    };
    Error::Usage {
        message: format!("no run of `{job}` for item `{word}`"),
        hint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Vec<(String, String)> {
        vec![
            ("File_A.xlsx".to_owned(), "merged/File.xlsx".to_owned()),
            ("Other_A.xlsx".to_owned(), "merged/Other.xlsx".to_owned()),
        ]
    }

    #[test]
    fn an_item_is_found_by_id_target_or_stem() {
        for word in ["File_A.xlsx", "File_A", "File.xlsx", "File"] {
            assert_eq!(items_named(&known(), word), ["File_A.xlsx"], "{word}");
        }
        assert!(items_named(&known(), "Nothing").is_empty());
    }
}
