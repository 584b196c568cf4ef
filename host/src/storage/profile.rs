//! The AWS profile files, for what the `AWS_*` variables leave unset: the
//! keys from the shared credentials file (`~/.aws/credentials`, or
//! `AWS_SHARED_CREDENTIALS_FILE`), region and `endpoint_url` from the config
//! file (`~/.aws/config`, or `AWS_CONFIG_FILE`), for the profile `AWS_PROFILE`
//! names (`default` without it), as the AWS CLI reads them.
//!
//! Reads; never prints a value.

use std::collections::HashMap;
use std::path::PathBuf;

/// One profile's settings, from both files; the credentials file wins.
#[derive(Debug, Default)]
pub(crate) struct Profile {
    settings: HashMap<String, String>,
}

impl Profile {
    /// The profile the environment names, from the files that exist.
    pub(crate) fn from_files() -> Self {
        let name = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
        let read = |variable: &str, default: &str| {
            let path = std::env::var_os(variable).map(PathBuf::from).or_else(|| {
                std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".aws").join(default))
            })?;
            std::fs::read_to_string(path).ok()
        };
        let config_section = if name == "default" {
            name.clone()
        } else {
            format!("profile {name}")
        };
        let mut settings = read("AWS_CONFIG_FILE", "config")
            .map(|text| section(&text, &config_section))
            .unwrap_or_default();
        if let Some(text) = read("AWS_SHARED_CREDENTIALS_FILE", "credentials") {
            settings.extend(section(&text, &name));
        }
        Self { settings }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.settings.get(key).map(String::as_str)
    }
}

/// The `key = value` lines of section `[name]` of an INI text.
fn section(text: &str, name: &str) -> HashMap<String, String> {
    let mut inside = false;
    let mut settings = HashMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(header) = line
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            inside = header.trim() == name;
        } else if inside && let Some((key, value)) = line.split_once('=') {
            settings.insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    settings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_section_of_an_ini_file() {
        let text = "# keys\n[default]\naws_access_key_id = AK\n\n[profile other]\nregion=eu-west-1\n[other]\nAWS_SECRET_ACCESS_KEY = s\n";
        assert_eq!(section(text, "default")["aws_access_key_id"], "AK");
        assert_eq!(section(text, "profile other")["region"], "eu-west-1");
        assert_eq!(section(text, "other")["aws_secret_access_key"], "s");
        assert!(section(text, "missing").is_empty());
    }
}
