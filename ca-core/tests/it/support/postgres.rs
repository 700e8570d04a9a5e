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
dir=$1; port=$2; bin=$3; opts=$4; shift 4
"$@" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1
"$@" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200 $opts" \
    start >/dev/null
echo ready
read _ || true
"$@" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
rm -rf "$dir"
"#;

struct Cluster {
    /// `postgres://…/` without a database name.
    base: String,
    dir: PathBuf,
    port: u16,
    /// The server options beyond the defaults (`-c ssl=on …`).
    options: String,
    /// Whether PostgreSQL runs as the `postgres` user (we are root).
    as_postgres: bool,
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
    start_cluster_with(|_| String::new())
}

/// A cluster whose extra server options `options` makes from its directory (where it may put
/// files the server reads, e.g. a TLS key: the directory is handed to `postgres` when we are
/// root).
fn start_cluster_with(options: impl FnOnce(&std::path::Path) -> String) -> Cluster {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::Builder::new()
        .prefix("hpki-pg-")
        .tempdir()
        .unwrap()
        .keep();
    let options = options(&dir);
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
        .arg(bin_dir())
        .arg(&options);
    if root {
        let chown = Command::new("chown")
            .arg("-R")
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
        dir,
        port,
        options,
        as_postgres: root,
        _stdin: Mutex::new(child.stdin.take().unwrap()),
        _child: Mutex::new(child),
    }
}

impl Cluster {
    /// `pg_ctl ARGS…` on this cluster, as the user it runs as; panics when it fails.
    fn pg_ctl(&self, args: &[&str]) {
        let mut cmd = if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"])
                .arg(bin_dir().join("pg_ctl"));
            cmd
        } else {
            Command::new(bin_dir().join("pg_ctl"))
        };
        let status = cmd
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(args)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(
            status.success(),
            "pg_ctl {args:?} on {}",
            self.dir.display()
        );
    }
}

/// A cluster of its own for one test, which the test may stop and start again (a database
/// outage) or start with extra server options (TLS). Removed when dropped, or when the test
/// binary exits however it ends (the watchdog).
pub struct OwnCluster {
    cluster: Cluster,
}

impl OwnCluster {
    /// `None`, with the reason printed, when `HPKI_TEST_DATABASE_URL` names the server to use:
    /// this test needs a cluster it may stop.
    pub fn start(options: impl FnOnce(&std::path::Path) -> String) -> Option<Self> {
        if std::env::var("HPKI_TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty()) {
            eprintln!(
                "skipped: HPKI_TEST_DATABASE_URL is set, and this test needs a throwaway \
                 PostgreSQL cluster of its own (it stops the server or changes its TLS set-up)"
            );
            return None;
        }
        Some(Self {
            cluster: start_cluster_with(options),
        })
    }

    /// Where the cluster's files are (the server's TLS key and certificate may go here).
    pub fn dir(&self) -> &std::path::Path {
        &self.cluster.dir
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.cluster.port
    }

    /// A fresh database on this cluster.
    pub fn database(&self) -> TestDatabase {
        TestDatabase::on(&self.cluster.base, "")
    }

    /// `pg_ctl stop -m immediate`: the server's processes end at once, as in a crash (every
    /// connection is cut; committed transactions survive in the WAL).
    pub fn stop(&self) {
        self.cluster.pg_ctl(&["-m", "immediate", "-w", "stop"]);
    }

    /// Starts the stopped server again on the same port with the same options (crash recovery
    /// replays the WAL).
    pub fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200 {}",
            self.cluster.port,
            self.cluster.dir.display(),
            self.cluster.options
        );
        let log = self.cluster.dir.join("server.log");
        self.cluster
            .pg_ctl(&["-l", log.to_str().unwrap(), "-w", "-o", &options, "start"]);
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
        let (base, query) = server();
        Self::on(&base, &query)
    }

    /// A fresh database on the server at `base` (`postgres://…/`), `query` after its name.
    fn on(base: &str, query: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
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
