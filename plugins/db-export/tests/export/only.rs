//! Cases one database has and the others have not: SQLite's default file,
//! `FLOW_DB` and a read-only file; the servers' unreachable address and
//! refused login; MariaDB's own scheme. And the command line itself.

use assert_cmd::Command;

use crate::backend::{Backend, MYSQL_URL, POSTGRES_URL, TestResult, rows, server_url, stderr};

const FILE: &str = "isin,nav\nLU0001,1.5\nLU0002,2.5\n";

fn export_in(dir: &std::path::Path) -> Result<Command, Box<dyn std::error::Error>> {
    let mut command = Command::cargo_bin("db-export")?;
    command.current_dir(dir).env_remove("FLOW_DB");
    Ok(command)
}

#[test]
fn sqlite_by_default_writes_flow_db_in_the_current_folder() -> TestResult {
    let db = Backend::sqlite()?;
    db.file("Nav.csv", FILE)?;
    export_in(db.dir.path())?
        .args(["--input", "Nav.csv"])
        .assert()
        .success();
    assert_eq!(db.count("nav")?, Some(2));
    Ok(())
}

#[test]
fn flow_db_names_the_database_when_db_is_not_given() -> TestResult {
    let db = Backend::sqlite()?;
    db.file("Nav.csv", FILE)?;
    export_in(db.dir.path())?
        .env("FLOW_DB", "sqlite://other.db")
        .args(["--input", "Nav.csv", "--table", "navs"])
        .assert()
        .success();
    assert!(db.path("other.db").exists());
    assert!(!db.path("flow.db").exists());
    Ok(())
}

#[test]
fn a_read_only_sqlite_file_is_refused_and_left_as_it_is() -> TestResult {
    let db = Backend::sqlite()?;
    let input = db.file("Nav.csv", FILE)?;
    db.export(&input, &[])?.success();
    let path = db.path("flow.db");
    let before = std::fs::read(&path)?;
    let mut permissions = std::fs::metadata(&path)?.permissions();
    permissions.set_readonly(true);
    std::fs::set_permissions(&path, permissions)?;
    db.file("Nav.csv", "isin,nav\nLU0001,9.5\n")?;
    let run = db.export(&input, &[])?.code(4);
    assert!(stderr(&run).contains("is read-only"), "{}", stderr(&run));
    assert!(stderr(&run).contains("chmod u+w"), "{}", stderr(&run));
    assert_eq!(std::fs::read(&path)?, before);
    Ok(())
}

#[test]
fn a_missing_sqlite_folder_is_named() -> TestResult {
    let db = Backend::sqlite()?;
    let input = db.file("Nav.csv", FILE)?;
    let run = db_export_with(&db, &input, "sqlite://no/such/folder/flow.db")?.code(4);
    assert!(
        stderr(&run).contains("its folder `no/such/folder` does not exist"),
        "{}",
        stderr(&run)
    );
    Ok(())
}

/// An export to `url`, whose password `hunter2-secret` leads nowhere
/// reachable, exits 5 with `said` and without the password.
fn assert_unreachable(url: &str, said: &str) -> TestResult {
    let db = Backend::sqlite()?;
    let input = db.file("Nav.csv", FILE)?;
    let run = db_export_with(&db, &input, url)?.code(5);
    let text = stderr(&run);
    assert!(text.contains(said), "{text}");
    assert!(!text.contains("hunter2-secret"), "{text}");
    Ok(())
}

/// An export to `wrong`, given through `FLOW_DB` with the password
/// `wrong-pass-xyz`, exits 5 naming the refused login and the server's
/// reason `said`, without the password.
fn assert_login_refused(wrong: &str, said: &str) -> TestResult {
    let db = Backend::sqlite()?;
    let input = db.file("Nav.csv", FILE)?;
    let run = export_in(db.dir.path())?
        .arg("--input")
        .arg(&input)
        .env("FLOW_DB", wrong)
        .assert()
        .code(5);
    let text = stderr(&run);
    assert!(text.contains("refused the login of user `"), "{text}");
    assert!(text.contains(said), "{text}");
    assert!(!text.contains("wrong-pass-xyz"), "{text}");
    Ok(())
}

#[test]
fn postgres_unreachable_server_exits_5_without_the_password() -> TestResult {
    assert_unreachable(
        "postgres://flow:hunter2-secret@127.0.0.1:1/flow?connect_timeout=5",
        "cannot connect to the PostgreSQL server at postgres://flow:***@127.0.0.1:1/flow",
    )
}

#[test]
fn postgres_wrong_password_exits_5_without_the_password() -> TestResult {
    let Some(url) = server_url(POSTGRES_URL)? else {
        return Ok(());
    };
    let config: postgres::Config = url.parse()?;
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(host)) => host.clone(),
        _ => return Err("FLOW_TEST_POSTGRES_URL must name a TCP host".into()),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("flow");
    let wrong = format!(
        "postgres://{user}:wrong-pass-xyz@{host}:{port}/{}",
        config.get_dbname().unwrap_or("flow")
    );
    assert_login_refused(&wrong, "password authentication failed")
}

#[test]
fn mysql_unreachable_server_exits_5_without_the_password() -> TestResult {
    assert_unreachable(
        "mariadb://flow:hunter2-secret@127.0.0.1:1/flow?connect_timeout=5",
        "cannot connect to the MySQL server at mariadb://flow:***@127.0.0.1:1/flow",
    )
}

#[test]
fn mysql_wrong_password_exits_5_without_the_password() -> TestResult {
    let Some(url) = server_url(MYSQL_URL)? else {
        return Ok(());
    };
    let opts = mysql::Opts::from_url(&url)?;
    let wrong = format!(
        "mysql://{}:wrong-pass-xyz@{}:{}/{}",
        opts.get_user().unwrap_or("flow"),
        opts.get_ip_or_hostname(),
        opts.get_tcp_port(),
        opts.get_db_name().unwrap_or("flow")
    );
    assert_login_refused(&wrong, "Access denied")
}

/// `mariadb://` is `mysql://` by another name: the same load, end to end.
#[test]
fn a_mariadb_url_loads_as_a_mysql_url_does() -> TestResult {
    let Some(db) = Backend::mysql("mariadb_url")? else {
        return Ok(());
    };
    let input = db.file("Nav.csv", FILE)?;
    let url = db.url.replacen("mysql://", "mariadb://", 1);
    assert!(url.starts_with("mariadb://"), "{url}");
    let run = db.export_to(&input, &url, &[])?.success();
    assert!(
        stderr(&run).contains("2 rows, 2 inserted"),
        "{}",
        stderr(&run)
    );
    assert_eq!(
        db.rows("nav", &["isin", "nav"])?,
        rows(&[&["LU0001", "1.5"], &["LU0002", "2.5"]])
    );
    assert_eq!(db.exports("nav")?.len(), 1);
    Ok(())
}

/// A session that may read but not write, as PostgreSQL gives a read-only
/// user (`ALTER ROLE reader SET default_transaction_read_only = on`): the
/// server refuses the first statement that writes, and nothing changes.
#[test]
fn postgres_read_only_user_exits_5_and_writes_nothing() -> TestResult {
    let Some(db) = Backend::postgres("read_only_user")? else {
        return Ok(());
    };
    let input = db.file("Nav.csv", FILE)?;
    db.export(&input, &[])?.success();
    db.file("Nav.csv", "isin,nav\nLU0001,9.5\n")?;
    let reader = db.url_with("options=-c%20default_transaction_read_only%3Don");
    let run = db.export_to(&input, &reader, &[])?.code(5);
    let text = stderr(&run);
    assert!(text.contains("read-only transaction"), "{text}");
    assert_eq!(
        db.rows("nav", &["isin", "nav"])?,
        rows(&[&["LU0001", "1.5"], &["LU0002", "2.5"]])
    );
    assert_eq!(db.exports("nav")?.len(), 1);
    Ok(())
}

/// A user that may read but not write: the server refuses the first
/// statement that writes, and nothing is left behind.
#[test]
fn mysql_read_only_user_exits_5_and_writes_nothing() -> TestResult {
    let Some(db) = Backend::mysql("read_only_user")? else {
        return Ok(());
    };
    let input = db.file("Nav.csv", FILE)?;
    db.export(&input, &[])?.success();
    let database = db.url.rsplit('/').next().unwrap_or_default().to_string();
    let user = "flow_reader";
    db.execute(&format!(
        "DROP USER IF EXISTS '{user}'@'%'; CREATE USER '{user}'@'%' IDENTIFIED BY 'reader-pass'; GRANT SELECT ON {database}.* TO '{user}'@'%'"
    ))?;
    let opts = mysql::Opts::from_url(&db.url)?;
    let reader = format!(
        "mysql://{user}:reader-pass@{}:{}/{database}",
        opts.get_ip_or_hostname(),
        opts.get_tcp_port()
    );
    db.file("Nav.csv", "isin,nav\nLU0001,9.5\n")?;
    let run = db_export_with(&db, &input, &reader)?.code(5);
    let text = stderr(&run);
    assert!(text.contains("command denied"), "{text}");
    assert!(!text.contains("reader-pass"), "{text}");
    assert_eq!(db.count("nav")?, Some(2));
    assert_eq!(db.exports("nav")?.len(), 1);
    Ok(())
}

#[test]
fn help_never_shows_the_url_from_flow_db() -> TestResult {
    let run = Command::cargo_bin("db-export")?
        .env("FLOW_DB", "postgres://flow:hunter2-secret@db/flow")
        .arg("--help")
        .assert()
        .success();
    let text = String::from_utf8_lossy(&run.get_output().stdout).into_owned();
    assert!(text.contains("FLOW_DB"), "{text}");
    assert!(!text.contains("hunter2-secret"), "{text}");
    Ok(())
}

#[test]
fn an_unknown_database_scheme_is_a_usage_error() -> TestResult {
    let db = Backend::sqlite()?;
    let input = db.file("Nav.csv", FILE)?;
    let run = db_export_with(&db, &input, "oracle://root:hunter2-secret@db/x")?.code(2);
    assert!(
        stderr(&run).contains("oracle://root:***@db/x"),
        "{}",
        stderr(&run)
    );
    assert!(!stderr(&run).contains("hunter2-secret"));
    Ok(())
}

fn db_export_with(
    db: &Backend,
    input: &std::path::Path,
    url: &str,
) -> Result<assert_cmd::assert::Assert, Box<dyn std::error::Error>> {
    Ok(export_in(db.dir.path())?
        .arg("--input")
        .arg(input)
        .args(["--db", url])
        .assert())
}
