//! The bundled demo layer (`recipes/`) in temporary build directories,
//! for the build and remote cache tests: making one, building in it,
//! reading what ran, running its program, and serving the `hello`
//! tarball over HTTP.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::bitzel;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether this machine can run the build tests: namespaces and the demo
/// layer's host tools. Tests print why they are skipped.
pub fn can_build() -> bool {
    let ok = Command::new("unshare")
        .args(["--user", "--map-root-user", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: user namespaces are not available here");
    }
    ok
}

/// A build directory with its own copy of the demo layer.
pub fn demo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let layer = dir.path().join("layer");
    for entry in walkdir::WalkDir::new(repo().join("recipes")) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(repo().join("recipes")).unwrap();
        let target = layer.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
    let templates = layer.join("conf/templates/default");
    std::fs::create_dir_all(dir.path().join("conf")).unwrap();
    let bblayers = std::fs::read_to_string(templates.join("bblayers.conf.sample"))
        .unwrap()
        .replace("##DEMOLAYERDIR##", &layer.display().to_string());
    std::fs::write(dir.path().join("conf/bblayers.conf"), bblayers).unwrap();
    std::fs::copy(
        templates.join("local.conf.sample"),
        dir.path().join("conf/local.conf"),
    )
    .unwrap();
    dir
}

/// Builds and returns stdout, asserting success.
pub fn build(dir: &Path, args: &[&str]) -> String {
    let mut all = vec!["build"];
    all.extend_from_slice(args);
    let out = bitzel(&all, dir);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The tasks a build ran, from its `running` lines.
pub fn ran(stdout: &str) -> Vec<String> {
    let mut tasks: Vec<String> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("running "))
        .map(str::to_string)
        .collect();
    tasks.sort();
    tasks
}

pub fn greet_app_output(dir: &Path) -> String {
    let work = dir.join("tmp/work/x86_64-linux/greet-app/1.0");
    let out = Command::new(work.join("image/usr/bin/greet-app"))
        .env("LD_LIBRARY_PATH", work.join("recipe-sysroot/usr/lib"))
        .output()
        .expect("greet-app runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Appends `text` to the build directory's `conf/local.conf`.
pub fn add_to_local_conf(dir: &Path, text: &str) {
    let conf = dir.join("conf/local.conf");
    let mut all = std::fs::read_to_string(&conf).unwrap();
    all.push('\n');
    all.push_str(text);
    all.push('\n');
    std::fs::write(conf, all).unwrap();
}

/// The demo's `hello` tarball, made as `scripts/bitbake-demo.sh` makes it.
pub fn hello_tarball(layer: &Path) -> Vec<u8> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(
            "tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
             --mode=u=rwX,go=rX --format=gnu -C \"$1\" -cf - hello-1.0 | gzip -9n",
        )
        .arg("sh")
        .arg(layer.join("recipes-demo/hello/tarball"))
        .output()
        .expect("tar and gzip run");
    assert!(out.status.success());
    out.stdout
}

/// An HTTP server on a free port of 127.0.0.1 answering every request
/// with one body; it stops (the port closes) when dropped.
pub struct HttpServer {
    url: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HttpServer {
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = std::net::TcpStream::connect(self.url.trim_start_matches("http://"));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves `body` to every request (see [`HttpServer`]).
pub fn serve(body: Vec<u8>) -> HttpServer {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopping = stop.clone();
    let thread = std::thread::spawn(move || {
        for stream in listener.incoming() {
            if stopping.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let header = format!(
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nContent-Type: application/gzip\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(header.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    HttpServer {
        url: format!("http://127.0.0.1:{port}"),
        stop,
        thread: Some(thread),
    }
}

/// Points the demo's `DEMO_MIRROR` (where `hello` is fetched from) at
/// `url`.
pub fn set_mirror(dir: &Path, url: &str) {
    add_to_local_conf(dir, &format!("DEMO_MIRROR = \"{url}\""));
}
