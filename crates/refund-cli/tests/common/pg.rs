//! A throwaway PostgreSQL cluster for tests: `initdb` + `pg_ctl` in a temporary directory,
//! listening on 127.0.0.1 on a free port, stopped (immediately) when dropped.
//!
//! Nothing is skipped: if PostgreSQL is missing or cannot start, [`PgCluster::start`] panics
//! with the reason (`.ci/run` installs Debian's `postgresql` package).

use std::path::{Path, PathBuf};
use std::process::Command;

/// A running cluster.
pub struct PgCluster {
    dir: tempfile::TempDir,
    bindir: PathBuf,
    /// Run the server's commands as this user (PostgreSQL refuses to run as root).
    run_as: Option<&'static str>,
    /// The TCP port on 127.0.0.1.
    pub port: u16,
}

/// The directory holding `initdb` and `pg_ctl`: `pg_config --bindir`, else the newest
/// `/usr/lib/postgresql/<version>/bin` (Debian does not put them on PATH).
fn bindir() -> Result<PathBuf, String> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return Ok(dir);
        }
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("PostgreSQL is not installed (no pg_config with initdb, no /usr/lib/postgresql: {e}); install Debian's `postgresql` package"))?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).ok_or_else(|| {
        "no /usr/lib/postgresql/<version>/bin/initdb: install Debian's `postgresql` package"
            .to_owned()
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

impl PgCluster {
    /// Creates and starts a cluster; panics with the reason when it cannot.
    pub fn start() -> PgCluster {
        match Self::try_start() {
            Ok(c) => c,
            Err(e) => panic!("cannot start a PostgreSQL cluster for this test: {e}"),
        }
    }

    fn try_start() -> Result<PgCluster, String> {
        let bindir = bindir()?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let run_as = if is_root() {
            // initdb refuses root: the cluster belongs to the `postgres` system user, which
            // Debian's package creates.
            let status = Command::new("chown")
                .arg("postgres:")
                .arg(dir.path())
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !status.success() {
                return Err(
                    "running as root, and the `postgres` user is missing (install Debian's `postgresql` package)"
                        .into(),
                );
            }
            Some("postgres")
        } else {
            None
        };
        let mut cluster = PgCluster {
            dir,
            bindir,
            run_as,
            port: 0,
        };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D",
                path_str(&data)?,
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        )?;
        // A port that was free a moment ago may be taken meanwhile: try a few.
        let mut last = String::new();
        for _ in 0..5 {
            cluster.port = free_port();
            let options = format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=60",
                cluster.port,
                path_str(cluster.dir.path())?
            );
            let log = cluster.dir.path().join("server.log");
            // `-w` waits for the server to accept connections (pg_ctl polls; no fixed sleep).
            match cluster.run(
                "pg_ctl",
                &[
                    "-D",
                    path_str(&data)?,
                    "-l",
                    path_str(&log)?,
                    "-o",
                    &options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
            ) {
                Ok(()) => return Ok(cluster),
                Err(e) => {
                    let server_log = std::fs::read_to_string(&log).unwrap_or_default();
                    last = format!("{e}\nserver log:\n{server_log}");
                }
            }
        }
        Err(last)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let program = self.bindir.join(tool);
        let mut cmd = match self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&program);
                c
            }
            None => Command::new(&program),
        };
        let out = cmd
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{tool} failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// The URL of the cluster's `postgres` database.
    pub fn url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        )
    }

    /// A client on the cluster (its connection runs on the current runtime).
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client
    }
}

fn path_str(p: &Path) -> Result<&str, String> {
    p.to_str()
        .ok_or_else(|| format!("not UTF-8: {}", p.display()))
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data();
        if let Some(data) = data.to_str() {
            let _ = self.run("pg_ctl", &["-D", data, "-m", "immediate", "-w", "stop"]);
        }
    }
}
