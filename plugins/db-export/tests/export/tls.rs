//! TLS to PostgreSQL and MariaDB: the throwaway servers started with
//! `--tls` hold a certificate for `localhost` signed by the authority in
//! `FLOW_TEST_*_TLS_CA`. `verify-full` with that authority and host
//! passes, and `verify-ca` by another host name; another authority (made
//! here with openssl), another host name (`127.0.0.1`, which the
//! certificate does not name) and a server without TLS under `require`
//! each fail with exit 5, say what failed, and write nothing. A server of
//! the test's own, which accepts TLS only and presents an expired
//! certificate, fails both verifying modes, refuses `disable`, and serves
//! `prefer` over TLS.

use std::path::{Path, PathBuf};
use std::process::Command;

use ::mysql::prelude::Queryable;

use crate::backend::{
    Backend, MYSQL_TLS_URL, MYSQL_URL, POSTGRES_TLS_URL, POSTGRES_URL, TestResult, rows,
    server_url, stderr,
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

    /// The throwaway script that starts this kind of server.
    fn script(self) -> PathBuf {
        let name = match self {
            Self::Postgres => "pg-throwaway",
            Self::Mysql => "mysql-throwaway",
        };
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../scripts")
            .join(name)
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

/// `command`'s output; an error naming `doing` and what it printed when
/// it fails.
fn run(command: &mut Command, doing: &str) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let output = command.output()?;
    if !output.status.success() {
        return Err(format!(
            "{doing} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(output.stdout)
}

/// A certificate authority of its own, which signed nothing the servers
/// hold.
fn other_authority(dir: &Path) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let ca = dir.join("other-ca.pem");
    run(
        Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec"])
            .args(["-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
            .args(["-days", "1", "-subj", "/CN=another authority", "-keyout"])
            .arg(dir.join("other-ca-key.pem"))
            .arg("-out")
            .arg(&ca),
        "openssl making a certificate authority",
    )?;
    Ok(ca)
}

/// A certificate for `localhost` and the key in `tls/server-key.pem`,
/// signed by the authority in `tls/` (the folder scripts/test-ca made),
/// valid for one day in January 2020 only: it verifies in every respect
/// but its dates. OpenSSL 3.0's `x509` cannot backdate, `ca` can.
fn expired_certificate(tls: &Path, work: &Path) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let request = work.join("server.csr");
    run(
        Command::new("openssl")
            .args(["req", "-new", "-subj", "/CN=localhost", "-key"])
            .arg(tls.join("server-key.pem"))
            .arg("-out")
            .arg(&request),
        "openssl making a certificate request",
    )?;
    std::fs::write(work.join("index.txt"), "")?;
    std::fs::write(work.join("serial"), "01\n")?;
    let config = work.join("ca.cnf");
    std::fs::write(
        &config,
        "[ca]\ndefault_ca = expired\n\
         [expired]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\n\
         default_md = sha256\npolicy = any\nx509_extensions = server\n\
         [any]\ncommonName = supplied\n\
         [server]\nsubjectAltName = DNS:localhost\nbasicConstraints = CA:FALSE\n\
         extendedKeyUsage = serverAuth\n",
    )?;
    let certificate = work.join("expired.pem");
    run(
        Command::new("openssl")
            .current_dir(work)
            .args(["ca", "-batch", "-notext", "-config"])
            .arg(&config)
            .arg("-cert")
            .arg(tls.join("ca.pem"))
            .arg("-keyfile")
            .arg(tls.join("ca-key.pem"))
            .args([
                "-startdate",
                "20200101000000Z",
                "-enddate",
                "20200102000000Z",
            ])
            .arg("-in")
            .arg(&request)
            .arg("-out")
            .arg(&certificate),
        "openssl signing an expired certificate",
    )?;
    Ok(std::fs::read(certificate)?)
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
    assert_eq!(db.rows("nav", &["isin", "nav"])?, loaded());
    Ok(())
}

fn a_server_without_tls_fails_under_require(server: Server, test: &str) -> TestResult {
    let Some(db) = server.plain(test)? else {
        return Ok(());
    };
    assert_refused(&db, &db.url_with("sslmode=require"), "does not offer TLS")
}

fn disable_and_prefer_load_from_a_server_without_tls(server: Server, test: &str) -> TestResult {
    let Some(db) = server.plain(test)? else {
        return Ok(());
    };
    export(&db, &db.url_with("sslmode=disable"))?.success();
    assert_eq!(db.rows("nav", &["isin", "nav"])?, loaded());
    db.execute("DELETE FROM nav")?;
    // prefer, the default, falls back to plain TCP.
    export(&db, &db.url_with("sslmode=prefer"))?.success();
    assert_eq!(db.rows("nav", &["isin", "nav"])?, loaded());
    Ok(())
}

fn expired_certificate_on_a_tls_only_server(server: Server, test: &str) -> TestResult {
    if server.ca()?.is_none() {
        return Ok(());
    }
    let own = OwnServer::start(server)?;
    let mut db = match server {
        Server::Postgres => Backend::postgres_at(&own.url, test)?,
        Server::Mysql => Backend::mysql_at(&own.url, test)?,
    };
    let tls = own.dir.join("tls");
    own.lock_down(&expired_certificate(&tls, db.dir.path())?)?;
    db.check_through_socket(&own.dir)?;
    for mode in ["verify-full", "verify-ca"] {
        let url = db.url_with(&format!(
            "sslmode={mode}&sslrootcert={}",
            tls.join("ca.pem").display()
        ));
        assert_refused(&db, &url, "its certificate has expired")?;
    }
    assert_refused(
        &db,
        &db.url_with("sslmode=disable"),
        "accepts TLS connections only",
    )?;
    // prefer checks no certificate, and this server serves TLS only.
    export(&db, &db.url_with("sslmode=prefer"))?.success();
    assert_eq!(db.rows("nav", &["isin", "nav"])?, loaded());
    Ok(())
}

/// `FILE`'s rows as the table holds them after a load.
fn loaded() -> crate::backend::Rows {
    rows(&[&["LU0001", "1.5"], &["LU0002", "2.5"]])
}

/// A throwaway TLS server of the test's own, started by the project's
/// script and stopped when dropped, so what the test changes on it (its
/// certificate, plain TCP refused) reaches no other test.
struct OwnServer {
    server: Server,
    /// The URL the script printed (host `localhost`).
    url: String,
    /// The server's folder: data, socket, and `tls/`.
    dir: PathBuf,
}

impl OwnServer {
    fn start(server: Server) -> Result<Self, Box<dyn std::error::Error>> {
        let printed = run(
            Command::new(server.script()).args(["start", "--tls"]),
            "starting a throwaway server",
        )?;
        let printed = String::from_utf8(printed)?;
        let value = |suffix: &str| {
            printed
                .lines()
                .filter_map(|line| line.strip_prefix("export ")?.split_once('='))
                .find(|(name, _)| name.ends_with(suffix))
                .map(|(_, value)| value.to_string())
                .ok_or_else(|| format!("the throwaway script printed no *{suffix}: {printed}"))
        };
        Ok(Self {
            server,
            url: value("_TLS_URL")?,
            dir: PathBuf::from(value("_TLS_DIR")?),
        })
    }

    /// From now on the server presents `certificate` and refuses plain
    /// TCP: PostgreSQL's `host` logins become `hostssl`, MariaDB gets
    /// `require_secure_transport`.
    fn lock_down(&self, certificate: &[u8]) -> TestResult {
        // Written in place, so the file keeps the owner the server runs as.
        std::fs::write(self.dir.join("tls/server.pem"), certificate)?;
        match self.server {
            Server::Postgres => self.postgres_tls_only(),
            Server::Mysql => {
                let mut conn = ::mysql::Conn::new(::mysql::Opts::from_url(&self.url)?)?;
                conn.query_drop("FLUSH SSL")?;
                conn.query_drop("SET GLOBAL require_secure_transport = ON")?;
                Ok(())
            }
        }
    }

    fn postgres_tls_only(&self) -> TestResult {
        let hba = self.dir.join("data/pg_hba.conf");
        let tls_only: String = std::fs::read_to_string(&hba)?
            .lines()
            .map(|line| match line.strip_prefix("host ") {
                Some(rest) => format!("hostssl {rest}\n"),
                None => format!("{line}\n"),
            })
            .collect();
        std::fs::write(&hba, tls_only)?;
        let config: ::postgres::Config = self.url.parse()?;
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let superuser = format!(
            "host={} port={port} user=postgres dbname=postgres",
            self.dir.display()
        );
        ::postgres::Client::connect(&superuser, ::postgres::NoTls)?
            .batch_execute("SELECT pg_reload_conf()")?;
        // The server reloads in its own time; until then plain TCP works.
        for _ in 0..100 {
            if ::postgres::Client::connect(&self.url, ::postgres::NoTls).is_err() {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Err("the PostgreSQL server still takes plain TCP after reloading pg_hba.conf".into())
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let stopped = Command::new(self.server.script())
            .arg("stop")
            .arg(&self.dir)
            .status();
        if !stopped.is_ok_and(|status| status.success()) {
            eprintln!("could not stop the server in {}", self.dir.display());
        }
    }
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
    disable_and_prefer_load_from_a_server_without_tls,
    expired_certificate_on_a_tls_only_server,
);
