//! Fetching, unpacking and patching through `bitzel build` on the demo
//! layer's classes (`bb.fetch2` over the Rust fetcher): HTTP downloads
//! with checksums, failed and interrupted downloads leaving nothing under
//! the final name, PREMIRRORS and MIRRORS, BB_NO_NETWORK, `git://` at a
//! SRCREV, and patches in order with striplevel and patchdir. Servers and
//! repositories are made by the tests on 127.0.0.1 and in temporary
//! directories.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use common::bitzel_command;
use common::demo::{can_build, demo};

/// How the test server answers one path.
#[derive(Clone)]
enum Reply {
    Body(Vec<u8>),
    /// Announces the whole body, sends `sent` bytes of it, closes.
    Truncated(Vec<u8>, usize),
}

struct Server {
    url: String,
    /// The paths requested, in order.
    hits: Arc<Mutex<Vec<String>>>,
}

/// Serves `routes` on a free port of 127.0.0.1 (404 for anything else).
fn serve(routes: Vec<(&str, Reply)>) -> Server {
    let routes: HashMap<String, Reply> = routes
        .into_iter()
        .map(|(p, r)| (p.to_string(), r))
        .collect();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(Mutex::new(Vec::new()));
    let seen = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&request);
            let path = text.split_whitespace().nth(1).unwrap_or("").to_string();
            seen.lock().unwrap().push(path.clone());
            let (body, sent) = match routes.get(&path) {
                Some(Reply::Body(body)) => (body.clone(), body.len()),
                Some(Reply::Truncated(body, sent)) => (body.clone(), *sent),
                None => {
                    let _ = stream.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                    continue;
                }
            };
            let header = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(header.as_bytes());
            let _ = stream.write_all(&body[..sent]);
        }
    });
    Server {
        url: format!("http://127.0.0.1:{port}"),
        hits,
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A `.tar.gz` of `payload-1.0/NAME` for each file.
fn tarball(files: &[(&str, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (name, text) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(1_700_000_000);
        builder
            .append_data(&mut header, format!("payload-1.0/{name}"), text.as_bytes())
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Adds `recipes-test/NAME/NAME_1.0.bb` with `text` to the layer.
fn add_recipe(dir: &Path, name: &str, text: &str) {
    write(
        &dir.join(format!("layer/recipes-test/{name}/{name}_1.0.bb")),
        &format!("LICENSE = \"MIT\"\n{text}"),
    );
}

fn append_conf(dir: &Path, text: &str) {
    let conf = dir.join("conf/local.conf");
    let mut all = std::fs::read_to_string(&conf).unwrap();
    all.push('\n');
    all.push_str(text);
    all.push('\n');
    std::fs::write(conf, all).unwrap();
}

fn run(dir: &Path, args: &[&str]) -> Output {
    bitzel_command(args, dir).output().expect("bitzel runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn succeeds(dir: &Path, args: &[&str]) {
    let out = run(dir, args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// The build's failure output (stdout and stderr), asserting it failed.
fn fails(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    text(&out)
}

/// `tmp/work/*/NAME/1.0`.
fn workdir(dir: &Path, name: &str) -> PathBuf {
    for arch in std::fs::read_dir(dir.join("tmp/work")).unwrap() {
        let candidate = arch.unwrap().path().join(name).join("1.0");
        if candidate.exists() {
            return candidate;
        }
    }
    panic!("no work directory for {name}");
}

/// The names in DL_DIR (`downloads/`).
fn downloads(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("downloads"))
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

const PAYLOAD: &[(&str, &str)] = &[("hello.txt", "hello\n"), ("sub/data.txt", "data\n")];

fn payload_recipe(url: &str, sha256: &str) -> String {
    format!(
        "SRC_URI = \"{url};subdir=src;striplevel=1\"\n\
         SRC_URI[sha256sum] = \"{sha256}\"\n\
         S = \"${{UNPACKDIR}}/src\"\n"
    )
}

#[test]
fn a_tarball_is_downloaded_checked_and_unpacked_with_subdir_and_striplevel() {
    if !can_build() {
        return;
    }
    let dir = demo();
    let body = tarball(PAYLOAD);
    let server = serve(vec![("/payload-1.0.tar.gz", Reply::Body(body.clone()))]);
    add_recipe(
        dir.path(),
        "payload",
        &payload_recipe(
            &format!("{}/payload-1.0.tar.gz", server.url),
            &sha256_hex(&body),
        ),
    );
    succeeds(dir.path(), &["build", "-c", "unpack", "payload"]);
    let src = workdir(dir.path(), "payload").join("sources/src");
    assert_eq!(
        std::fs::read_to_string(src.join("hello.txt")).unwrap(),
        "hello\n"
    );
    assert_eq!(
        std::fs::read_to_string(src.join("sub/data.txt")).unwrap(),
        "data\n"
    );
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(src.join("hello.txt")).unwrap().mtime(),
        1_700_000_000
    );
    let names = downloads(dir.path());
    assert!(
        names.contains(&"payload-1.0.tar.gz".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"payload-1.0.tar.gz.done".to_string()),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.contains("tmp")), "{names:?}");
    assert_eq!(
        std::fs::read(dir.path().join("downloads/payload-1.0.tar.gz")).unwrap(),
        body
    );
}

#[test]
fn a_checksum_mismatch_names_both_sums_and_leaves_no_file() {
    if !can_build() {
        return;
    }
    let dir = demo();
    let body = tarball(PAYLOAD);
    let server = serve(vec![("/payload-1.0.tar.gz", Reply::Body(body.clone()))]);
    let expected = "0".repeat(64);
    let url = format!("{}/payload-1.0.tar.gz", server.url);
    add_recipe(dir.path(), "payload", &payload_recipe(&url, &expected));
    let output = fails(dir.path(), &["build", "-c", "fetch", "payload"]);
    assert!(output.contains("checksum mismatch"), "{output}");
    assert!(output.contains(&url), "{output}");
    assert!(output.contains(&expected), "{output}");
    assert!(output.contains(&sha256_hex(&body)), "{output}");
    assert!(output.contains("SRC_URI[sha256sum]"), "{output}");
    let names = downloads(dir.path());
    assert!(
        names.iter().all(|n| n.ends_with(".lock")),
        "only the lock file may be left: {names:?}"
    );
}

#[test]
fn an_interrupted_download_leaves_no_file() {
    if !can_build() {
        return;
    }
    let body = tarball(PAYLOAD);
    let half = body.len() / 2;
    for with_checksum in [true, false] {
        let dir = demo();
        let server = serve(vec![(
            "/payload-1.0.tar.gz",
            Reply::Truncated(body.clone(), half),
        )]);
        let url = format!("{}/payload-1.0.tar.gz", server.url);
        let sha = if with_checksum {
            sha256_hex(&body)
        } else {
            String::new()
        };
        add_recipe(dir.path(), "payload", &payload_recipe(&url, &sha));
        let output = fails(dir.path(), &["build", "-c", "fetch", "payload"]);
        assert!(output.contains(&url), "{output}");
        assert!(
            output.contains("broke off") || output.contains("ended after"),
            "{output}"
        );
        let names = downloads(dir.path());
        assert!(
            names.iter().all(|n| n.ends_with(".lock")),
            "checksum given: {with_checksum}; left: {names:?}\n{output}"
        );
    }
}

#[test]
fn premirrors_and_mirrors_stand_in_for_an_unreachable_host() {
    if !can_build() {
        return;
    }
    let body = tarball(PAYLOAD);
    let url = "http://unreachable.invalid/dist/payload-1.0.tar.gz";
    for variable in ["PREMIRRORS", "MIRRORS"] {
        let dir = demo();
        let server = serve(vec![(
            "/mirror/payload-1.0.tar.gz",
            Reply::Body(body.clone()),
        )]);
        add_recipe(
            dir.path(),
            "payload",
            &payload_recipe(url, &sha256_hex(&body)),
        );
        append_conf(
            dir.path(),
            &format!("{variable} = \"https?://.*/.* {}/mirror/\"", server.url),
        );
        succeeds(dir.path(), &["build", "-c", "unpack", "payload"]);
        assert_eq!(
            *server.hits.lock().unwrap(),
            vec!["/mirror/payload-1.0.tar.gz".to_string()],
            "{variable}"
        );
        let src = workdir(dir.path(), "payload").join("sources/src");
        assert_eq!(
            std::fs::read_to_string(src.join("hello.txt")).unwrap(),
            "hello\n"
        );
    }
}

#[test]
fn no_network_refuses_downloads_but_uses_dl_dir_and_file_mirrors() {
    if !can_build() {
        return;
    }
    let body = tarball(PAYLOAD);
    let dir = demo();
    let server = serve(vec![("/payload-1.0.tar.gz", Reply::Body(body.clone()))]);
    let url = format!("{}/payload-1.0.tar.gz", server.url);
    add_recipe(
        dir.path(),
        "payload",
        &payload_recipe(&url, &sha256_hex(&body)),
    );
    append_conf(dir.path(), "BB_NO_NETWORK = \"1\"");
    let output = fails(dir.path(), &["build", "-c", "fetch", "payload"]);
    assert!(output.contains("BB_NO_NETWORK"), "{output}");
    assert!(output.contains(&url), "{output}");
    assert!(server.hits.lock().unwrap().is_empty());

    // A file:// premirror needs no network.
    let mirror = dir.path().join("mirror");
    std::fs::create_dir_all(&mirror).unwrap();
    std::fs::write(mirror.join("payload-1.0.tar.gz"), &body).unwrap();
    append_conf(
        dir.path(),
        &format!("PREMIRRORS = \"http://.*/.* file://{}/\"", mirror.display()),
    );
    succeeds(dir.path(), &["build", "-c", "unpack", "payload"]);
    assert!(server.hits.lock().unwrap().is_empty());

    // Already in DL_DIR: used as it is.
    let dir = demo();
    add_recipe(
        dir.path(),
        "payload",
        &payload_recipe(&url, &sha256_hex(&body)),
    );
    append_conf(dir.path(), "BB_NO_NETWORK = \"1\"");
    std::fs::create_dir_all(dir.path().join("downloads")).unwrap();
    std::fs::write(dir.path().join("downloads/payload-1.0.tar.gz"), &body).unwrap();
    succeeds(dir.path(), &["build", "-c", "unpack", "payload"]);
    assert!(server.hits.lock().unwrap().is_empty());
    let src = workdir(dir.path(), "payload").join("sources/src");
    assert_eq!(
        std::fs::read_to_string(src.join("hello.txt")).unwrap(),
        "hello\n"
    );
}

/// Runs git in `dir` with a fixed identity; returns its stdout.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn git_with_protocol_file_checks_out_the_srcrev() {
    if !can_build() {
        return;
    }
    let Ok(found) = Command::new("sh").args(["-c", "command -v git"]).output() else {
        eprintln!("skipped: no git");
        return;
    };
    let git_path = String::from_utf8_lossy(&found.stdout).trim().to_string();
    if git_path.is_empty() {
        eprintln!("skipped: no git");
        return;
    }
    let git_dir = Path::new(&git_path).parent().unwrap().display().to_string();
    let dir = demo();
    let repo = dir.path().join("upstream");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    write(&repo.join("version.txt"), "one\n");
    git(&repo, &["add", "version.txt"]);
    git(&repo, &["commit", "-q", "-m", "one"]);
    let first = git(&repo, &["rev-parse", "HEAD"]);
    write(&repo.join("version.txt"), "two\n");
    git(&repo, &["commit", "-q", "-a", "-m", "two"]);

    add_recipe(
        dir.path(),
        "gitsrc",
        &format!(
            "SRC_URI = \"git://{};protocol=file;branch=main\"\n\
             SRCREV = \"{first}\"\n\
             S = \"${{UNPACKDIR}}/git\"\n",
            repo.display()
        ),
    );
    // No network is needed for protocol=file; git must be a host tool.
    append_conf(
        dir.path(),
        "BB_NO_NETWORK = \"1\"\nHOSTTOOLS:append = \" git\"",
    );
    let path = format!("{git_dir}:/usr/bin:/bin");
    let out = bitzel_command(&["build", "-c", "unpack", "gitsrc"], dir.path())
        .env("PATH", &path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let checkout = workdir(dir.path(), "gitsrc").join("sources/git");
    assert_eq!(
        std::fs::read_to_string(checkout.join("version.txt")).unwrap(),
        "one\n"
    );
    assert_eq!(git(&checkout, &["rev-parse", "HEAD"]), first);
    assert_eq!(
        git(&checkout, &["rev-parse", "--abbrev-ref", "HEAD"]),
        "main"
    );
    // The mirror clone is in DL_DIR/git2, named after the path.
    let name = repo
        .display()
        .to_string()
        .trim_start_matches('/')
        .replace('/', ".");
    assert!(
        dir.path()
            .join("downloads/git2")
            .join(&name)
            .join("HEAD")
            .exists()
    );

    // A revision the branch does not have is an error naming it.
    let recipe = dir.path().join("layer/recipes-test/gitsrc/gitsrc_1.0.bb");
    let missing = "0123456789".repeat(4);
    let text_before = std::fs::read_to_string(&recipe).unwrap();
    std::fs::write(&recipe, text_before.replace(&first, &missing)).unwrap();
    let out = bitzel_command(&["build", "-c", "unpack", "gitsrc"], dir.path())
        .env("PATH", &path)
        .output()
        .unwrap();
    let output = text(&out);
    assert_eq!(out.status.code(), Some(1), "{output}");
    assert!(output.contains(&missing), "{output}");
}

#[test]
fn patches_apply_in_order_with_striplevel_and_patchdir() {
    if !can_build() {
        return;
    }
    let dir = demo();
    let files = dir.path().join("layer/recipes-test/patched/files");
    write(&files.join("lib/greeting.txt"), "hello\n");
    // The second patch only applies after the first; it is relative to
    // lib/ (patchdir) with no leading directory (striplevel=0).
    write(
        &files.join("0001-first.patch"),
        "--- a/lib/greeting.txt\n+++ b/lib/greeting.txt\n@@ -1 +1 @@\n-hello\n+hello, world\n",
    );
    write(
        &files.join("0002-second.patch"),
        "--- greeting.txt\n+++ greeting.txt\n@@ -1 +1 @@\n-hello, world\n+hello, patched world\n",
    );
    add_recipe(
        dir.path(),
        "patched",
        "SRC_URI = \"file://lib/greeting.txt \\\n\
                    file://0001-first.patch \\\n\
                    file://0002-second.patch;striplevel=0;patchdir=lib\"\n\
         S = \"${UNPACKDIR}\"\n",
    );
    succeeds(dir.path(), &["build", "-c", "patch", "patched"]);
    let sources = workdir(dir.path(), "patched").join("sources");
    assert_eq!(
        std::fs::read_to_string(sources.join("lib/greeting.txt")).unwrap(),
        "hello, patched world\n"
    );

    // In the other order the first one listed fails: the error names it
    // and shows patch's output.
    let recipe = dir.path().join("layer/recipes-test/patched/patched_1.0.bb");
    std::fs::write(
        &recipe,
        "LICENSE = \"MIT\"\n\
         SRC_URI = \"file://lib/greeting.txt \\\n\
                    file://0002-second.patch;striplevel=0;patchdir=lib \\\n\
                    file://0001-first.patch\"\n\
         S = \"${UNPACKDIR}\"\n",
    )
    .unwrap();
    let output = fails(dir.path(), &["build", "-c", "patch", "patched"]);
    assert!(output.contains("0002-second.patch"), "{output}");
    assert!(output.contains("greeting.txt"), "{output}");
    assert!(output.contains("FAILED"), "{output}");
}
