//! TLS to PostgreSQL and MariaDB: the throwaway servers started with
//! `--tls` hold a certificate for `localhost` signed by the authority in
//! `FLOW_TEST_*_TLS_CA`. `verify-full` with that authority and host
//! passes; another authority (made here with openssl), another host name
//! (`127.0.0.1`, which the certificate does not name) and a server
//! without TLS under `require` each fail with exit 5, say what failed,
//! and write nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::backend::{
    Backend, MYSQL_TLS_URL, MYSQL_URL, POSTGRES_TLS_URL, POSTGRES_URL, TestResult, server_url,
    stderr,
};

const FILE: &str = "isin,nav\nLU0001,1.5\nLU0002,2.5\n";

/// Which server a test runs on.
#[derive(Clone, Copy)]
enum Server {
    Postgres,
    Mysql,
}

impl Server {
    /// The TLS server's backend, a database or schema named after `test`.
    fn tls(self, test: &str) -> Result<Option<Backend>, Box<dyn std::error::Error>> {
        match self {
            Self::Postgres => Backend::postgres_on(POSTGRES_TLS_URL, test),
            Self::Mysql => Backend::mysql_on(MYSQL_TLS_URL, test),
        }
    }

    /// The plain server's backend.
    fn plain(self, test: &str) -> Result<Option<Backend>, Box<dyn std::error::Error>> {
        match self {
            Self::Postgres => Backend::postgres_on(POSTGRES_URL, test),
            Self::Mysql => Backend::mysql_on(MYSQL_URL, test),
        }
    }

    /// The PEM file of the authority that signed the TLS server's
    /// certificate; `None` when the test is skipped.
    fn ca(self) -> Result<Option<PathBuf>, Box<dyn std::error::Error>> {
        let variable = match self {
            Self::Postgres => "FLOW_TEST_POSTGRES_TLS_CA",
            Self::Mysql => "FLOW_TEST_MYSQL_TLS_CA",
        };
        Ok(server_url(variable)?.map(PathBuf::from))
    }
}

/// Exports `FILE` as table `nav` over `url`.
fn export(
    db: &Backend,
    url: &str,
) -> Result<assert_cmd::assert::Assert, Box<dyn std::error::Error>> {
    let input = db.file("Nav.csv", FILE)?;
    Ok(assert_cmd::Command::cargo_bin("db-export")?
        .current_dir(db.dir.path())
        .env_remove("FLOW_DB")
        .arg("--input")
        .arg(input)
        .args(["--db", url])
        .assert())
}

/// A certificate authority of its own, which signed nothing the servers
/// hold.
fn other_authority(dir: &Path) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let ca = dir.join("other-ca.pem");
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args([
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=another authority",
            "-keyout",
        ])
        .arg(dir.join("other-ca-key.pem"))
        .arg("-out")
        .arg(&ca)
        .output()?;
    if !status.status.success() {
        return Err(format!(
            "openssl could not make a certificate authority: {}",
            String::from_utf8_lossy(&status.stderr)
        )
        .into());
    }
    Ok(ca)
}

/// A failed TLS check: exit 5, `said` in the message, a hint, no password,
/// and neither the table nor a receipt written.
fn assert_refused(db: &Backend, url: &str, said: &str) -> TestResult {
    let run = export(db, url)?.code(5);
    let text = stderr(&run);
    assert!(text.contains(said), "`{said}` is missing from: {text}");
    assert!(text.contains("hint: "), "{text}");
    let password = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(user, _)| user.split_once(':'))
        .map(|(_, password)| password.to_string())
        .unwrap_or_default();
    assert!(
        !text.contains(&password),
        "the password leaked into: {text}"
    );
    assert_eq!(db.count("nav")?, None);
    assert_eq!(db.exports("nav")?.len(), 0);
    Ok(())
}

fn verify_full_with_the_right_authority_and_host_passes(server: Server, test: &str) -> TestResult {
    let (Some(db), Some(ca)) = (server.tls(test)?, server.ca()?) else {
        return Ok(());
    };
    let url = db.url_with(&format!("sslmode=verify-full&sslrootcert={}", ca.display()));
    let run = export(&db, &url)?.success();
    assert!(
        stderr(&run).contains("2 rows, 2 inserted"),
        "{}",
        stderr(&run)
    );
    assert_eq!(db.count("nav")?, Some(2));
    Ok(())
}

fn another_authority_fails(server: Server, test: &str) -> TestResult {
    let Some(db) = server.tls(test)? else {
        return Ok(());
    };
    let ca = other_authority(db.dir.path())?;
    let url = db.url_with(&format!("sslmode=verify-full&sslrootcert={}", ca.display()));
    assert_refused(&db, &url, "unknown certificate authority")
}

fn another_host_name_fails(server: Server, test: &str) -> TestResult {
    let (Some(db), Some(ca)) = (server.tls(test)?, server.ca()?) else {
        return Ok(());
    };
    let url = db
        .url_with(&format!("sslmode=verify-full&sslrootcert={}", ca.display()))
        .replacen("@localhost:", "@127.0.0.1:", 1);
    assert_refused(
        &db,
        &url,
        "does not name the host `127.0.0.1` (wrong host name)",
    )?;
    // verify-ca checks the authority only: the same address passes.
    let url = url.replace("sslmode=verify-full", "sslmode=verify-ca");
    export(&db, &url)?.success();
    Ok(())
}

fn a_server_without_tls_fails_under_require(server: Server, test: &str) -> TestResult {
    let Some(db) = server.plain(test)? else {
        return Ok(());
    };
    assert_refused(&db, &db.url_with("sslmode=require"), "does not offer TLS")?;
    // prefer, the default, falls back to plain TCP.
    export(&db, &db.url_with("sslmode=prefer"))?.success();
    Ok(())
}

/// Each check, as `postgres_NAME` and `mysql_NAME`.
macro_rules! on_both_servers {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[test]
                fn $name() -> crate::backend::TestResult {
                    super::$name(super::Server::Postgres, concat!("tls_", stringify!($name)))
                }
            )*
        }
        mod mysql {
            $(
                #[test]
                fn $name() -> crate::backend::TestResult {
                    super::$name(super::Server::Mysql, concat!("tls_", stringify!($name)))
                }
            )*
        }
    };
}

on_both_servers!(
    verify_full_with_the_right_authority_and_host_passes,
    another_authority_fails,
    another_host_name_fails,
    a_server_without_tls_fails_under_require,
);
