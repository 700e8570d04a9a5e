//! PostgreSQL for tests: `HPKI_TEST_DATABASE_URL` when set, else one throwaway cluster per test
//! binary started from the installed binaries (`initdb` + `pg_ctl` on a free port in a temp
//! dir, as the `postgres` user when running as root: PostgreSQL refuses root). Each test gets a
//! fresh database, dropped afterwards. Shared with `signer-api`'s tests through `#[path]`.
#![allow(dead_code)] // the crates that include this file each use a part

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// Starts the cluster, prints `ready`, waits for its stdin to close (the test binary exited,
/// however it ended), then stops the cluster and removes its directory.
const WATCHDOG: &str = r#"
set -e
dir=$1; port=$2; bin=$3; shift 3
"$@" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1
"$@" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
    start >/dev/null
echo ready
read _ || true
"$@" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
rm -rf "$dir"
"#;

struct Cluster {
    /// `postgres://…/` without a database name.
    base: String,
    /// Closed only when the process exits, which stops the cluster.
    _stdin: Mutex<ChildStdin>,
    _child: Mutex<Child>,
}

/// The directory of the newest installed PostgreSQL's binaries, or `PATH`'s.
fn bin_dir() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            Some((v, e.path().join("bin")))
        })
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => bin,
        None => {
            let out = Command::new("pg_config").arg("--bindir").output().expect(
                "PostgreSQL is not installed: install it (apt-get install postgresql) or set \
                 HPKI_TEST_DATABASE_URL",
            );
            PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
        }
    }
}

fn start_cluster() -> Cluster {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::Builder::new()
        .prefix("hpki-pg-")
        .tempdir()
        .unwrap()
        .keep();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    let mut cmd = Command::new("sh");
    cmd.args(["-c", WATCHDOG, "watchdog"])
        .arg(&dir)
        .arg(port.to_string())
        .arg(bin_dir());
    if root {
        let chown = Command::new("chown")
            .arg("postgres:")
            .arg(&dir)
            .status()
            .unwrap();
        assert!(chown.success(), "chown postgres {}", dir.display());
        cmd.args(["runuser", "-u", "postgres", "--"]);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(
        line.trim(),
        "ready",
        "the test PostgreSQL cluster did not start; see {}",
        dir.display()
    );
    Cluster {
        base: format!("postgres://postgres@127.0.0.1:{port}/"),
        _stdin: Mutex::new(child.stdin.take().unwrap()),
        _child: Mutex::new(child),
    }
}

/// `postgres://…/` to which a database name is appended, and the query string after it.
fn server() -> (String, String) {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    if let Ok(url) = std::env::var("HPKI_TEST_DATABASE_URL")
        && !url.is_empty()
    {
        let (url, query) = match url.split_once('?') {
            Some((url, query)) => (url.to_owned(), format!("?{query}")),
            None => (url, String::new()),
        };
        let scheme_end = url.find("://").map_or(0, |i| i + 3);
        let base = match url[scheme_end..].find('/') {
            Some(slash) => url[..scheme_end + slash + 1].to_owned(),
            None => format!("{url}/"),
        };
        return (base, query);
    }
    (
        CLUSTER.get_or_init(start_cluster).base.clone(),
        String::new(),
    )
}

/// A database that exists while this lives, dropped with it.
pub struct TestDatabase {
    admin: String,
    name: String,
    /// The database's URL, for `PgStore::open` and `HPKI_STORE`.
    pub url: String,
}

impl TestDatabase {
    pub fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let (base, query) = server();
        let name = format!(
            "hpki_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let admin = format!("{base}postgres{query}");
        let mut client = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        Self {
            url: format!("{base}{name}{query}"),
            admin,
            name,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", self.name));
        }
    }
}
