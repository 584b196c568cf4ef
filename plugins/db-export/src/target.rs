//! The `--db` URL: which database to open, how to show it, and how to keep
//! its password out of every line db-export prints.
//!
//! It owns parsing, redaction and the wording of a server's errors shared
//! by the backends; connecting is the backends' job.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use table_io::{Result, TableError};

use crate::tls::Tls;

/// What replaces a password wherever a URL is shown.
const MASK: &str = "***";
/// Secrets shorter than this are not scrubbed from free text as literals:
/// replacing a one-letter password everywhere would garble the message,
/// and URLs in the text are redacted by their shape anyway.
const MIN_LITERAL_SECRET: usize = 4;

/// A database db-export can write to.
#[derive(Debug)]
pub(crate) enum Target {
    /// An SQLite file, created when missing.
    Sqlite {
        /// The file, relative to the current folder unless absolute.
        path: PathBuf,
    },
    /// A PostgreSQL server.
    Postgres {
        /// The parsed connection settings, password included.
        config: Box<postgres::Config>,
        /// The URL as given, with the password masked.
        shown: String,
        /// The password as given and as decoded, to scrub from driver text.
        secrets: Vec<String>,
        /// `sslmode` and `sslrootcert`.
        tls: Tls,
    },
    /// A MySQL or MariaDB server.
    Mysql {
        /// The parsed connection settings, password included; TLS and
        /// the connect timeout are the backend's to add.
        opts: Box<mysql::Opts>,
        /// `connect_timeout`, when the URL sets one.
        connect_timeout: Option<Duration>,
        shown: String,
        secrets: Vec<String>,
        tls: Tls,
    },
}

impl Target {
    /// Parses `sqlite://PATH` (`sqlite:///abs/path.db` for an absolute path)
    /// `postgres://user:pass@host:port/db` (also `postgresql://`), or
    /// `mysql://user:pass@host:port/db` (also `mariadb://`).
    pub(crate) fn parse(text: &str) -> Result<Self> {
        if let Some(path) = text
            .strip_prefix("sqlite://")
            .or_else(|| text.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err(TableError::usage("`--db sqlite://` names no file")
                    .with_hint("name the file, as in `--db sqlite://flow.db` or `--db sqlite:///var/lib/flow/flow.db`"));
            }
            return Ok(Self::Sqlite {
                path: PathBuf::from(path),
            });
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            let shown = redact(text);
            let (tls, rest) = Tls::split_url(text, &shown)?;
            let config = postgres::Config::from_str(&rest).map_err(|error| {
                TableError::usage(format!("`--db {shown}` is not a valid PostgreSQL URL"))
                    .caused_by(scrub(&error.to_string(), &[]))
                    .with_hint("write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE; percent-encode special characters in the password (`@` as %40)")
            })?;
            let mut secrets: Vec<String> = raw_password(text).into_iter().collect();
            if let Some(password) = config.get_password() {
                secrets.push(String::from_utf8_lossy(password).into_owned());
            }
            return Ok(Self::Postgres {
                config: Box::new(config),
                shown,
                secrets,
                tls,
            });
        }
        if let Some(rest) = text
            .strip_prefix("mysql://")
            .or_else(|| text.strip_prefix("mariadb://"))
        {
            return Self::parse_mysql(text, rest);
        }
        Err(TableError::usage(format!(
            "`--db {}` names no database db-export knows",
            redact(text)
        ))
        .with_hint("use sqlite://PATH for an SQLite file, postgres://USER:PASSWORD@HOST:PORT/DATABASE for PostgreSQL, or mysql://USER:PASSWORD@HOST:PORT/DATABASE for MySQL and MariaDB"))
    }

    /// `mysql://…` or `mariadb://…`; `rest` is what follows the scheme.
    fn parse_mysql(text: &str, rest: &str) -> Result<Self> {
        let shown = redact(text);
        let invalid = |cause: String| {
            TableError::usage(format!("`--db {shown}` is not a valid MySQL URL"))
                .caused_by(cause)
                .with_hint("write it as mysql://USER:PASSWORD@HOST:PORT/DATABASE (mariadb:// too); percent-encode special characters in the password (`@` as %40); TLS is set with sslmode= and sslrootcert=")
        };
        let (tls, rest) = Tls::split_url(&format!("mysql://{rest}"), &shown)?;
        let (rest, connect_timeout) = take_parameter(&rest, "connect_timeout");
        let connect_timeout = match connect_timeout {
            None => None,
            Some(seconds) => Some(Duration::from_secs(seconds.parse().map_err(|_| {
                invalid(format!(
                    "connect_timeout `{seconds}` is not a whole number of seconds"
                ))
            })?)),
        };
        let opts = mysql::Opts::from_url(&rest)
            .map_err(|error| invalid(scrub(&error.to_string(), &[])))?;
        if opts.get_db_name().is_none_or(str::is_empty) {
            return Err(invalid("it names no database".to_string()));
        }
        let mut secrets: Vec<String> = raw_password(text).into_iter().collect();
        if let Some(password) = opts.get_pass() {
            secrets.push(password.to_string());
        }
        Ok(Self::Mysql {
            opts: Box::new(opts),
            connect_timeout,
            shown,
            secrets,
            tls,
        })
    }

    /// The URL as it may be printed: the password masked.
    pub(crate) fn shown(&self) -> String {
        match self {
            Self::Sqlite { path } => format!("sqlite://{}", path.display()),
            Self::Postgres { shown, .. } | Self::Mysql { shown, .. } => shown.clone(),
        }
    }
}

/// `url` without the query parameter `name`, and its value.
fn take_parameter(url: &str, name: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), None);
    };
    let mut value = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.split_once('=') {
            Some((key, v)) if key == name => {
                value = Some(v.to_string());
                false
            }
            _ => !pair.is_empty(),
        })
        .collect();
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (url, value)
}

/// The password of the first URL in `text`, exactly as written there.
fn raw_password(text: &str) -> Option<String> {
    let (_, rest) = text.split_once("://")?;
    let authority = &rest[..authority_end(rest)];
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    (!password.is_empty()).then(|| password.to_string())
}

/// Where the authority (`user:pass@host:port`) of a URL ends in `rest`, the
/// text after `://`. Text after a URL (a quote, a space) ends it too, so a
/// URL quoted inside a driver message is found.
fn authority_end(rest: &str) -> usize {
    rest.find(|c: char| {
        matches!(c, '/' | '?' | '#' | '"' | '\'' | '`' | ',' | ')') || c.is_whitespace()
    })
    .unwrap_or(rest.len())
}

/// `text` with the password of every URL in it masked:
/// `postgres://flow:secret@host/db` becomes `postgres://flow:***@host/db`.
pub(crate) fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("://") {
        let (before, after) = rest.split_at(start + 3);
        out.push_str(before);
        let end = authority_end(after);
        let authority = &after[..end];
        match authority.rsplit_once('@') {
            Some((userinfo, host)) => {
                match userinfo.split_once(':') {
                    Some((user, _)) => {
                        out.push_str(user);
                        out.push(':');
                        out.push_str(MASK);
                    }
                    None => out.push_str(userinfo),
                }
                out.push('@');
                out.push_str(host);
            }
            None => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// `text` with URLs redacted and every known secret masked, for text that
/// comes from a driver and could quote a connection string.
pub(crate) fn scrub(text: &str, secrets: &[String]) -> String {
    let mut clean = redact(text);
    for secret in secrets {
        if secret.len() >= MIN_LITERAL_SECRET {
            clean = clean.replace(secret.as_str(), MASK);
        }
    }
    clean
}

/// An error and its sources, as one line: drivers often say only "db
/// error" or "error connecting to server", with the reason in the source.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A statement's failure on the server shown as `shown`: rows the
/// database `refused` (SQLSTATE classes 22, data, and 23, constraints)
/// exit 3, anything else 5. `cause` is scrubbed already.
pub(crate) fn statement_failure(
    doing: &str,
    shown: &str,
    refused: bool,
    cause: String,
) -> TableError {
    if refused {
        TableError::invalid_data(format!("{doing} {shown}: the database refused a row"))
            .caused_by(cause)
            .with_hint(
                "fix the rows the error names, or change the table's constraint or column type",
            )
    } else {
        TableError::database(format!("{doing} {shown}")).caused_by(cause)
    }
}

/// Whether an SQLSTATE names refused rows: class 22 (data) or 23
/// (constraints).
pub(crate) fn refused_rows(sqlstate: &str) -> bool {
    sqlstate.starts_with("22") || sqlstate.starts_with("23")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_the_password_of_every_url_and_keeps_the_rest() {
        assert_eq!(
            redact("postgres://flow:s3cret@127.0.0.1:5432/flow"),
            "postgres://flow:***@127.0.0.1:5432/flow"
        );
        assert_eq!(
            redact("a `postgres://u:p@h/db` and postgresql://v:q%40r@h2"),
            "a `postgres://u:***@h/db` and postgresql://v:***@h2"
        );
        assert_eq!(redact("postgres://flow@h/db"), "postgres://flow@h/db");
        assert_eq!(redact("sqlite://flow.db"), "sqlite://flow.db");
        assert_eq!(redact("no url here"), "no url here");
    }

    #[test]
    fn a_password_holding_at_signs_is_masked_whole() {
        assert_eq!(
            redact("postgres://flow:p@ss@host/db"),
            "postgres://flow:***@host/db"
        );
        assert_eq!(
            raw_password("postgres://flow:p@ss@host/db"),
            Some("p@ss".to_string())
        );
    }

    #[test]
    fn scrubs_literal_secrets_from_driver_text() {
        let secrets = vec!["s3cret-pw".to_string()];
        assert_eq!(
            scrub("password s3cret-pw rejected", &secrets),
            "password *** rejected"
        );
    }

    #[test]
    fn parses_sqlite_paths_and_postgres_urls() -> Result<()> {
        match Target::parse("sqlite://flow.db")? {
            Target::Sqlite { path } => assert_eq!(path, PathBuf::from("flow.db")),
            other => panic!("not sqlite: {other:?}"),
        }
        match Target::parse("sqlite:///var/flow.db")? {
            Target::Sqlite { path } => assert_eq!(path, PathBuf::from("/var/flow.db")),
            other => panic!("not sqlite: {other:?}"),
        }
        let target = Target::parse("postgres://flow:pa%40ss@localhost:5433/db")?;
        assert_eq!(target.shown(), "postgres://flow:***@localhost:5433/db");
        match target {
            Target::Postgres { secrets, .. } => {
                assert_eq!(secrets, ["pa%40ss".to_string(), "pa@ss".to_string()]);
            }
            other => panic!("not postgres: {other:?}"),
        }
        Ok(())
    }

    #[test]
    fn an_unknown_scheme_is_a_usage_error_that_hides_the_password() {
        let error = Target::parse("oracle://root:hunter22@db/x").err();
        let text = error.map(|error| (error.exit_code(), error.to_string()));
        assert!(
            matches!(&text, Some((2, t)) if t.contains("oracle://root:***@db/x") && !t.contains("hunter22"))
        );
    }

    #[test]
    fn parses_mysql_and_mariadb_urls_with_their_tls_and_timeout() -> Result<()> {
        let target = Target::parse(
            "mariadb://flow:pa%40ss@db:3307/nav?connect_timeout=3&sslmode=verify-full",
        )?;
        assert_eq!(
            target.shown(),
            "mariadb://flow:***@db:3307/nav?connect_timeout=3&sslmode=verify-full"
        );
        match target {
            Target::Mysql {
                opts,
                connect_timeout,
                secrets,
                tls,
                ..
            } => {
                assert_eq!(opts.get_ip_or_hostname(), "db");
                assert_eq!(opts.get_tcp_port(), 3307);
                assert_eq!(opts.get_db_name(), Some("nav"));
                assert_eq!(opts.get_pass(), Some("pa@ss"));
                assert_eq!(connect_timeout, Some(Duration::from_secs(3)));
                assert_eq!(tls.mode, crate::tls::SslMode::VerifyFull);
                assert_eq!(secrets, ["pa%40ss".to_string(), "pa@ss".to_string()]);
            }
            other => panic!("not mysql: {other:?}"),
        }
        let error = Target::parse("mysql://flow:hunter22@db").err();
        let text = error.map(|error| (error.exit_code(), error.to_string()));
        assert!(
            matches!(&text, Some((2, t)) if t.contains("names no database") && !t.contains("hunter22")),
            "{text:?}"
        );
        Ok(())
    }
}
