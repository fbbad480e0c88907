//! `bitzel build` end to end on the bundled demo layer (`recipes/`, copied
//! into a temporary build directory): a cold build whose program runs, a
//! no-op rebuild, restores after `tmp/` is deleted, exactly the right
//! tasks re-run after a source change, early cutoff, failing tasks and
//! hermeticity.

mod common;

use std::path::Path;
use std::process::Command;

use common::{bitzel, bitzel_command, can_build, demo};

/// Builds and returns stdout, asserting success.
fn build(dir: &Path, args: &[&str]) -> String {
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
fn ran(stdout: &str) -> Vec<String> {
    let mut tasks: Vec<String> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("running "))
        .map(str::to_string)
        .collect();
    tasks.sort();
    tasks
}

fn greet_app_output(dir: &Path) -> String {
    let work = dir.join("tmp/work/x86_64-linux/greet-app/1.0");
    let out = Command::new(work.join("image/usr/bin/greet-app"))
        .env("LD_LIBRARY_PATH", work.join("recipe-sysroot/usr/lib"))
        .output()
        .expect("greet-app runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn cold_build_runs_and_a_second_build_runs_nothing() {
    if !can_build() {
        return;
    }
    let dir = demo();
    let first = build(dir.path(), &["greet-app"]);
    assert!(
        ran(&first).contains(&"greet-app.do_compile".to_string()),
        "{first}"
    );
    assert!(
        ran(&first).contains(&"libgreet.do_compile".to_string()),
        "{first}"
    );
    assert_eq!(greet_app_output(dir.path()), "Hello, Bitzel!\n");
    assert!(
        dir.path()
            .join("tmp/work/x86_64-linux/greet-app/1.0/temp/log.do_compile")
            .exists()
    );
    assert!(
        dir.path()
            .join("tmp/work/x86_64-linux/greet-app/1.0/temp/run.do_compile")
            .exists()
    );

    let second = build(dir.path(), &["greet-app"]);
    assert_eq!(ran(&second), Vec::<String>::new(), "{second}");
    assert!(second.contains(" 0 run,"), "{second}");

    // Without tmp/, everything comes back from the cache.
    std::fs::remove_dir_all(dir.path().join("tmp")).unwrap();
    let third = build(dir.path(), &["greet-app"]);
    assert_eq!(ran(&third), Vec::<String>::new(), "{third}");
    assert_eq!(greet_app_output(dir.path()), "Hello, Bitzel!\n");
}

#[test]
fn a_source_change_reruns_its_recipe_and_what_uses_it() {
    if !can_build() {
        return;
    }
    let dir = demo();
    build(dir.path(), &["greet-app"]);
    let source = dir.path().join("layer/recipes-demo/libgreet/files/greet.c");
    // At the top: the recipe's patch is anchored at the end of the file.
    let text = std::fs::read_to_string(&source).unwrap();
    std::fs::write(
        &source,
        format!("int greet_revision(void) {{ return 2; }}\n{text}"),
    )
    .unwrap();
    let after = build(dir.path(), &["greet-app"]);
    let tasks = ran(&after);
    for task in [
        "libgreet.do_fetch",
        "libgreet.do_unpack",
        "libgreet.do_compile",
        "libgreet.do_install",
        "libgreet.do_populate_sysroot",
        "greet-app.do_prepare_recipe_sysroot",
        "greet-app.do_compile",
    ] {
        assert!(
            tasks.contains(&task.to_string()),
            "{task} did not run:\n{after}"
        );
    }
    for task in [
        "greet-app.do_fetch",
        "greet-app.do_unpack",
        "greet-app.do_patch",
    ] {
        assert!(!tasks.contains(&task.to_string()), "{task} ran:\n{after}");
    }
    assert_eq!(greet_app_output(dir.path()), "Hello, Bitzel!\n");
}

#[test]
fn identical_outputs_stop_the_rebuild_early() {
    if !can_build() {
        return;
    }
    let dir = demo();
    build(dir.path(), &["greet-app"]);
    // A comment changes the source but not the library (no line moves,
    // so not even the debug information).
    let source = dir.path().join("layer/recipes-demo/libgreet/files/greet.c");
    let text = std::fs::read_to_string(&source).unwrap();
    let edited = text.replacen(
        "#include \"greet.h\"",
        "#include \"greet.h\" /* a comment */",
        1,
    );
    assert_ne!(edited, text);
    std::fs::write(&source, edited).unwrap();
    let after = build(dir.path(), &["greet-app"]);
    let tasks = ran(&after);
    assert!(
        tasks.contains(&"libgreet.do_compile".to_string()),
        "{after}"
    );
    assert!(
        !tasks.iter().any(|t| t.starts_with("greet-app.")),
        "greet-app re-ran although libgreet's outputs are identical:\n{after}"
    );
}

#[test]
fn a_failing_task_fails_the_build_with_its_log() {
    if !can_build() {
        return;
    }
    let dir = demo();
    let recipe = dir
        .path()
        .join("layer/recipes-demo/greet-app/greet-app_1.0.bb");
    let mut text = std::fs::read_to_string(&recipe).unwrap();
    text.push_str("\ndo_configure() {\n    echo about to fail\n    false\n}\n");
    std::fs::write(&recipe, text).unwrap();
    let out = bitzel(&["build", "greet-app"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("greet-app.do_configure failed"), "{stderr}");
    assert!(stderr.contains("about to fail"), "{stderr}");
    assert!(stderr.contains("temp/log.do_configure"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("running greet-app.do_compile"), "{stdout}");
}

/// Adds a recipe to the demo layer whose compile step runs `body`.
fn probe(dir: &Path, body: &str, network: bool) {
    let flag = if network {
        "do_compile[network] = \"1\"\n"
    } else {
        ""
    };
    std::fs::create_dir_all(dir.join("layer/recipes-demo/probe")).unwrap();
    std::fs::write(
        dir.join("layer/recipes-demo/probe/probe_1.0.bb"),
        format!("LICENSE = \"MIT\"\nS = \"${{UNPACKDIR}}\"\n{flag}do_compile() {{\n{body}\n}}\n"),
    )
    .unwrap();
}

#[test]
fn tasks_cannot_reach_the_network_or_the_host() {
    if !can_build() {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connect = format!("    bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port}'");

    let dir = demo();
    probe(dir.path(), &connect, false);
    let out = bitzel(&["build", "probe", "-c", "compile"], dir.path());
    assert_eq!(out.status.code(), Some(1), "a task reached the network");

    let dir = demo();
    probe(dir.path(), &connect, true);
    let out = bitzel(&["build", "probe", "-c", "compile"], dir.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "[network] = \"1\" did not allow a connection: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Another recipe's work directory and the host's files are not there.
    let dir = demo();
    build(dir.path(), &["libgreet"]);
    let other = dir
        .path()
        .join("tmp/work/x86_64-linux/libgreet/1.0/temp/log.do_compile");
    assert!(other.exists());
    probe(dir.path(), &format!("    cat {}", other.display()), false);
    let out = bitzel(&["build", "probe", "-c", "compile"], dir.path());
    assert_eq!(
        out.status.code(),
        Some(1),
        "a task read another recipe's work directory"
    );

    let secret = tempfile::NamedTempFile::new().unwrap();
    probe(
        dir.path(),
        &format!("    cat {}", secret.path().display()),
        false,
    );
    let out = bitzel(&["build", "probe", "-c", "compile"], dir.path());
    assert_eq!(out.status.code(), Some(1), "a task read a host file");

    // Writing outside the work directory does not reach the host (the
    // view's parents of mounted directories live in a private tmpfs).
    let outside = dir.path().join("outside.txt");
    probe(
        dir.path(),
        &format!("    echo x > {}", outside.display()),
        false,
    );
    let _ = bitzel(&["build", "probe", "-c", "compile"], dir.path());
    assert!(!outside.exists(), "a task wrote outside its work directory");
    // Nor can it change another recipe's outputs.
    let library = dir
        .path()
        .join("tmp/work/x86_64-linux/libgreet/1.0/image/usr/lib/libgreet.so.1");
    probe(
        dir.path(),
        &format!("    echo x > {}", library.display()),
        false,
    );
    let _ = bitzel(&["build", "probe", "-c", "compile"], dir.path());
    assert_ne!(std::fs::read(&library).unwrap(), b"x\n");
}

#[test]
fn a_corrupted_cache_blob_is_detected_and_the_task_runs_again() {
    if !can_build() {
        return;
    }
    let dir = demo();
    build(dir.path(), &["libgreet"]);
    // Damage every blob; then delete tmp/ so results must be restored.
    for entry in walkdir::WalkDir::new(dir.path().join("cache/cas")) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let path = entry.path();
            let mut perms = std::fs::metadata(path).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            std::fs::set_permissions(path, perms).unwrap();
            std::fs::write(path, b"damaged").unwrap();
        }
    }
    std::fs::remove_dir_all(dir.path().join("tmp")).unwrap();
    let out = bitzel(&["build", "libgreet"], dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        dir.path()
            .join("tmp/work/x86_64-linux/libgreet/1.0/image/usr/lib/libgreet.so.1")
            .exists()
    );
}

/// The demo's `hello` tarball, made as `scripts/bitbake-demo.sh` makes it.
fn hello_tarball(layer: &Path) -> Vec<u8> {
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

/// Serves `body` to every request on a free port of 127.0.0.1; returns
/// the URL prefix.
fn serve(body: Vec<u8>) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
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
            let header = format!(
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nContent-Type: application/gzip\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(header.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    format!("http://127.0.0.1:{port}")
}

fn set_mirror(dir: &Path, url: &str) {
    let conf = dir.join("conf/local.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str(&format!("\nDEMO_MIRROR = \"{url}\"\n"));
    std::fs::write(conf, text).unwrap();
}

#[test]
fn a_tarball_is_fetched_over_http_with_its_checksum_checked() {
    if !can_build() {
        return;
    }
    let dir = demo();
    let tarball = hello_tarball(&dir.path().join("layer"));
    set_mirror(dir.path(), &serve(tarball.clone()));
    build(dir.path(), &["hello"]);
    let program = dir
        .path()
        .join("tmp/work/x86_64-linux/hello/1.0/image/usr/bin/hello");
    let out = Command::new(&program).output().expect("hello runs");
    assert!(out.status.success());
    assert!(!out.stdout.is_empty());

    // Other bytes under the same name: the checksum mismatch names both.
    let dir = demo();
    let mut wrong = tarball;
    wrong.extend_from_slice(b"tampered");
    set_mirror(dir.path(), &serve(wrong));
    let out = bitzel(&["build", "hello"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("checksum mismatch"), "{stderr}");
    assert!(
        stderr.contains("727774aaf05b3250acca1b3cdfd74ce40d8f85cc5e785df4c6a1163d3ee627ae"),
        "{stderr}"
    );
    // Nothing is left under the download's final name.
    assert!(!dir.path().join("downloads/hello-1.0.tar.gz").exists());
}

#[test]
fn a_build_killed_midway_is_finished_correctly_by_the_next() {
    if !can_build() {
        return;
    }
    let dir = demo();
    // Kill at two points of the build (after the 3rd and the 6th task
    // started); each next build must carry on from whatever was left and
    // end with a working program.
    for started in [3, 6] {
        use std::io::BufRead;
        let mut child = bitzel_command(&["build", "-j", "1", "greet-app"], dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut seen = 0;
        for line in std::io::BufReader::new(stdout).lines() {
            if line.unwrap().starts_with("running ") {
                seen += 1;
                if seen == started {
                    break;
                }
            }
        }
        assert_eq!(seen, started, "the build ended before it could be killed");
        child.kill().unwrap();
        let _ = child.wait();
    }
    build(dir.path(), &["greet-app"]);
    assert_eq!(greet_app_output(dir.path()), "Hello, Bitzel!\n");
    let again = build(dir.path(), &["greet-app"]);
    assert_eq!(ran(&again), Vec::<String>::new(), "{again}");
}
