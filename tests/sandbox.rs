//! The task sandbox, for real: each test runs commands in namespaces and
//! checks what they can see, reach and leave behind. Tests print a reason
//! and pass when the kernel refuses the namespaces.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bitzel::sandbox::{Mount, Running, Sandbox, SandboxError, SandboxSpec};

/// Tools the tests' shell scripts use.
const TOOLS: &[&str] = &[
    "sh", "bash", "cat", "echo", "env", "ls", "sleep", "touch", "id",
];

fn new_sandbox() -> Sandbox {
    Sandbox::with_helper(env!("CARGO_BIN_EXE_bitzel-sandbox"))
}

/// One sandbox shared by the tests, as the executor's threads share one.
fn sandbox() -> &'static Sandbox {
    static SANDBOX: std::sync::LazyLock<Sandbox> = std::sync::LazyLock::new(new_sandbox);
    &SANDBOX
}

/// A spec running `script` with `sh -c`, the test tools, and a PATH of
/// the host tools directory.
fn shell(script: &str) -> SandboxSpec {
    let mut spec = SandboxSpec::new(["sh", "-c", script]);
    spec.hosttools = TOOLS.iter().map(|t| t.to_string()).collect();
    spec.env = BTreeMap::from([("PATH".to_string(), "/hosttools".to_string())]);
    spec
}

/// Runs `spec` with its output in a log; the status and the log. None
/// (after printing why) when namespaces are unavailable.
fn run(spec: &SandboxSpec) -> Option<(std::process::ExitStatus, String)> {
    let log_dir = tempfile::tempdir().unwrap();
    let log = log_dir.path().join("log");
    let mut spec = spec.clone();
    spec.log = Some(log.clone());
    let mut running = start(&spec)?;
    let status = running.wait().unwrap();
    Some((status, std::fs::read_to_string(&log).unwrap_or_default()))
}

fn start(spec: &SandboxSpec) -> Option<Running> {
    match sandbox().spawn(spec) {
        Ok(running) => Some(running),
        Err(SandboxError::Unsupported { step, error }) => {
            eprintln!("skipped: namespaces unavailable ({step}: {error})");
            None
        }
        Err(error) => panic!("spawn failed: {error}"),
    }
}

/// Runs a shell script that must succeed; its output.
fn output_of(spec: &SandboxSpec) -> Option<String> {
    let (status, log) = run(spec)?;
    assert!(status.success(), "status {status}, output:\n{log}");
    Some(log)
}

#[test]
fn a_task_runs_and_its_output_goes_to_the_log() {
    let Some(out) = output_of(&shell("echo hello; echo oops >&2")) else {
        return;
    };
    assert_eq!(out, "hello\noops\n");
}

/// A directory outside every sandbox's view (not under the host's /tmp,
/// which a sandbox would not show anyway).
fn host_dir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

/// The pid namespace a running sandbox's processes are in (read while
/// its init is alive: the task must still be running).
fn pid_namespace(running: &Running) -> String {
    let link = format!("/proc/{}/ns/pid", running.pid());
    std::fs::read_link(link)
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Host pids of the live processes of a task: those in `namespace`
/// other than the sandbox's init (which may still be exiting after it
/// reported).
fn task_processes(running: &Running, namespace: &str) -> Vec<u32> {
    let mut pids = processes_in(namespace);
    pids.retain(|&pid| pid != running.pid());
    pids
}

/// Host pids of the live processes in `namespace`.
fn processes_in(namespace: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(link) = std::fs::read_link(entry.path().join("ns/pid"))
            && link.to_string_lossy() == namespace
        {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn exit_codes_and_signals_propagate() {
    let Some((status, _)) = run(&shell("exit 3")) else {
        return;
    };
    assert_eq!(status.code(), Some(3));
    let (status, _) = run(&shell("exit 0")).unwrap();
    assert!(status.success());
    let (status, _) = run(&shell("kill -TERM $$; sleep 5")).unwrap();
    assert_eq!(status.signal(), Some(15), "{status}");
    let (status, _) = run(&shell("kill -SEGV $$; sleep 5")).unwrap();
    assert_eq!(status.signal(), Some(11), "{status}");
    assert!(!status.core_dumped());
}

#[test]
fn the_environment_is_exactly_the_given_one() {
    let mut spec = SandboxSpec::new(["env"]);
    spec.hosttools = vec!["env".into()];
    spec.env = BTreeMap::from([
        ("PATH".to_string(), "/hosttools".to_string()),
        ("FOO".to_string(), "bar baz".to_string()),
        ("EMPTY".to_string(), String::new()),
    ]);
    // SAFETY (of the test): nothing else in this test binary reads it.
    let Some(out) = output_of(&spec) else {
        return;
    };
    assert_eq!(out, "EMPTY=\nFOO=bar baz\nPATH=/hosttools\n");
}

#[test]
fn only_listed_host_tools_are_found() {
    // `ls` is not listed here, `cat` is.
    let mut spec = shell(
        "cat /dev/null && echo cat-ran; \
         command -v ls || echo no-ls; \
         for p in /usr/bin/ls /bin/ls /usr/local/bin/ls; do test -e $p && echo found-$p; done; \
         exit 0",
    );
    spec.hosttools = vec!["sh".into(), "cat".into()];
    let Some(out) = output_of(&spec) else {
        return;
    };
    assert_eq!(out, "cat-ran\nno-ls\n");

    // Run directly, an unlisted tool is a spawn error naming it.
    let mut spec = SandboxSpec::new(["ls"]);
    spec.hosttools = vec!["cat".into()];
    spec.env = BTreeMap::from([("PATH".to_string(), "/hosttools".to_string())]);
    match sandbox().spawn(&spec) {
        Err(SandboxError::Setup { step, error }) => {
            assert!(step.contains("run `ls`"), "{step}");
            assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected a set-up error, got {other:?}"),
    }

    // A tool missing on the host is refused before anything starts.
    let mut spec = shell("true");
    spec.hosttools.push("no-such-tool-bitzel".into());
    let err = sandbox().spawn(&spec).unwrap_err().to_string();
    assert!(err.contains("`no-such-tool-bitzel`"), "{err}");
}

#[test]
fn shebangs_find_listed_tools_only() {
    let work = host_dir();
    let script = work.path().join("script");
    std::fs::write(&script, "#!/bin/sh\necho from-sh\n").unwrap();
    let env_script = work.path().join("env-script");
    std::fs::write(
        &env_script,
        "#!/usr/bin/env bash\necho from-bash $BASH_VERSION\n",
    )
    .unwrap();
    let perl_script = work.path().join("perl-script");
    std::fs::write(&perl_script, "#!/usr/bin/perl\nprint 1;\n").unwrap();
    for path in [&script, &env_script, &perl_script] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut spec =
        shell("/work/script && /work/env-script && { /work/perl-script || echo no-perl; }");
    spec.mounts = vec![Mount::read_only(work.path(), "/work")];
    let Some(out) = output_of(&spec) else {
        return;
    };
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "from-sh");
    assert!(
        lines[1].starts_with("from-bash 5") || lines[1].starts_with("from-bash 4"),
        "{out}"
    );
    assert_eq!(lines.last(), Some(&"no-perl"), "{out}");
}

#[test]
fn the_host_outside_the_view_is_invisible() {
    let secret_dir = host_dir();
    let secret = secret_dir.path().join("secret");
    std::fs::write(&secret, "secret").unwrap();
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    assert!(Path::new(&home).exists());
    let script = format!(
        "for p in {secret} {home} /root /home /work /usr/bin/find /bin/find /sbin /etc/shadow /etc/os-release /sys/kernel /run; do \
           if test -e $p; then echo visible:$p; fi; done; \
         cat {secret} 2>/dev/null && echo read-secret; exit 0",
        secret = secret.display(),
    );
    let Some(out) = output_of(&shell(&script)) else {
        return;
    };
    assert_eq!(out, "", "the task saw host paths");
}

#[test]
fn the_view_holds_only_what_was_given() {
    let Some(out) = output_of(&shell(
        "ls -A /; echo --; ls -A /etc; echo --; ls -A /dev; echo --; ls /usr",
    )) else {
        return;
    };
    let mut sections = out.split("--\n");
    let root: Vec<&str> = sections.next().unwrap().lines().collect();
    let etc: Vec<&str> = sections.next().unwrap().lines().collect();
    let dev: Vec<&str> = sections.next().unwrap().lines().collect();
    let usr: Vec<&str> = sections.next().unwrap().lines().collect();
    let allowed_root = [
        "bin",
        "dev",
        "etc",
        "hosttools",
        "lib",
        "lib32",
        "lib64",
        "libx32",
        "proc",
        "tmp",
        "usr",
    ];
    for name in &root {
        assert!(
            allowed_root.contains(name),
            "unexpected /{name} in {root:?}"
        );
    }
    let allowed_etc = [
        "passwd",
        "group",
        "hosts",
        "hostname",
        "nsswitch.conf",
        "mtab",
        "ld.so.cache",
        "ld.so.conf",
        "ld.so.conf.d",
        "alternatives",
    ];
    for name in &etc {
        assert!(
            allowed_etc.contains(name),
            "unexpected /etc/{name} in {etc:?}"
        );
    }
    assert!(
        !etc.contains(&"resolv.conf"),
        "no resolver without the network"
    );
    let mut dev_sorted = dev.clone();
    dev_sorted.sort();
    assert_eq!(
        dev_sorted,
        [
            "fd", "full", "null", "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom",
            "zero"
        ]
    );
    for name in &usr {
        assert!(
            [
                "bin", "include", "lib", "lib32", "lib64", "libx32", "libexec", "share"
            ]
            .contains(name),
            "unexpected /usr/{name}"
        );
    }
}

#[test]
fn writes_only_reach_writable_mounts() {
    let inputs = host_dir();
    std::fs::write(inputs.path().join("input"), "original").unwrap();
    let work = host_dir();
    let mut spec = shell(
        "for p in /inputs/input /inputs/new /new /etc/passwd /usr/lib/new /hosttools/cat /dev/new; do \
           if echo x > $p; then echo wrote:$p; fi; done 2>/dev/null; \
         touch /inputs 2>/dev/null && echo touched-inputs; \
         echo result > /work/out && echo > /dev/null && echo ok",
    );
    spec.mounts = vec![
        Mount::read_only(inputs.path(), "/inputs"),
        Mount::writable(work.path(), "/work"),
    ];
    let Some(out) = output_of(&spec) else {
        return;
    };
    assert_eq!(out, "ok\n");
    assert_eq!(
        std::fs::read_to_string(inputs.path().join("input")).unwrap(),
        "original"
    );
    assert!(!inputs.path().join("new").exists());
    assert_eq!(
        std::fs::read_to_string(work.path().join("out")).unwrap(),
        "result\n"
    );
}

#[test]
fn read_only_mounts_hold_without_mount_setattr() {
    let inputs = host_dir();
    std::fs::write(inputs.path().join("input"), "original").unwrap();
    let work = host_dir();
    let mut spec = shell(
        "for p in /inputs/input /new /usr/lib/new; do if echo x > $p; then echo wrote:$p; fi; done 2>/dev/null; \
         echo result > /work/out && echo ok",
    );
    spec.mounts = vec![
        Mount::read_only(inputs.path(), "/inputs"),
        Mount::writable(work.path(), "/work"),
    ];
    spec.log = Some(work.path().join("log"));
    let legacy = new_sandbox().force_legacy_remount();
    let mut running = match legacy.spawn(&spec) {
        Ok(running) => running,
        Err(SandboxError::Unsupported { .. }) => return,
        Err(error) => panic!("{error}"),
    };
    assert!(running.wait().unwrap().success());
    assert_eq!(
        std::fs::read_to_string(work.path().join("log")).unwrap(),
        "ok\n"
    );
}

#[test]
fn nested_mounts_follow_their_parents() {
    let work = host_dir();
    let deps = host_dir();
    std::fs::write(deps.path().join("dep"), "dep").unwrap();
    let mut spec = shell(
        "cat /build/deps/dep; echo; { echo x > /build/deps/new; } 2>/dev/null && echo wrote-dep; \
         echo out > /build/out && echo ok",
    );
    spec.mounts = vec![
        Mount::read_only(deps.path(), "/build/deps"),
        Mount::writable(work.path(), "/build"),
    ];
    let Some(out) = output_of(&spec) else {
        return;
    };
    assert_eq!(out, "dep\nok\n");
    // The mount point was made in the writable mount, on the host.
    assert!(work.path().join("deps").is_dir());
    assert!(!deps.path().join("new").exists());
}

#[test]
fn tmp_is_private() {
    let marker = format!("/tmp/bitzel-sandbox-test-{}", std::process::id());
    std::fs::write(&marker, "host").unwrap();
    let script = format!(
        "test -e {marker} && echo sees-host-tmp; \
         test -e /tmp/left-behind && echo sees-earlier-sandbox; \
         echo x > /tmp/left-behind && ls -A /tmp"
    );
    let Some(out) = output_of(&shell(&script)) else {
        return;
    };
    assert_eq!(out, "left-behind\n");
    // A second sandbox gets a fresh /tmp too, and the host never saw it.
    let out = output_of(&shell(&script)).unwrap();
    assert_eq!(out, "left-behind\n");
    assert!(!Path::new("/tmp/left-behind").exists());
    std::fs::remove_file(&marker).unwrap();
}

#[test]
fn the_network_is_the_hosts_only_when_asked() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let script = format!("echo hello > /dev/tcp/127.0.0.1/{port}");
    let Some((status, log)) = run(&shell(&format!("exec bash -c '{script}'"))) else {
        return;
    };
    assert!(!status.success(), "connected without the network: {log}");
    assert!(
        listener.accept().is_err(),
        "the host listener saw a connection"
    );

    let mut spec = shell(&format!("exec bash -c '{script}'"));
    spec.network = true;
    let (status, log) = run(&spec).unwrap();
    assert!(status.success(), "no connection with the network: {log}");
    let (mut stream, _) = listener.accept().unwrap();
    stream.set_nonblocking(false).unwrap();
    let mut got = String::new();
    stream.read_to_string(&mut got).unwrap();
    assert_eq!(got, "hello\n");
}

#[test]
fn loopback_is_up_in_the_new_network_namespace() {
    // With `lo` down, connecting to 127.0.0.1 fails with "Network is
    // unreachable"; with it up and nobody listening, the port refuses.
    let script = "exec 3<>/dev/tcp/127.0.0.1/1";
    let Some((status, log)) = run(&shell(&format!("exec bash -c '{script}'"))) else {
        return;
    };
    assert!(!status.success());
    assert!(log.contains("Connection refused"), "{log}");
}

#[test]
fn identity_and_hostname_are_fixed() {
    let Some(out) = output_of(&shell(
        "id -u; id -g; cat /proc/sys/kernel/hostname; cat /etc/hostname",
    )) else {
        return;
    };
    let uid = nix::unistd::getuid().as_raw();
    let gid = nix::unistd::getgid().as_raw();
    assert_eq!(out, format!("{uid}\n{gid}\nbitzel\nbitzel\n"));
}

#[test]
fn the_task_has_no_capabilities_and_its_own_pids() {
    let Some(out) = output_of(&shell(
        "while read k v; do case $k in CapInh:|CapEff:|CapBnd:|CapPrm:|CapAmb:) echo $k $v;; esac; done < /proc/self/status; \
         ls /proc | while read p; do case $p in [0-9]*) echo pid $p;; esac; done",
    )) else {
        return;
    };
    let lines: Vec<&str> = out.lines().collect();
    // /proc/self/status lists CapInh, CapPrm, CapEff, CapBnd, CapAmb.
    assert_eq!(lines[0], "CapInh: 0000000000000000");
    assert_eq!(lines[1], "CapPrm: 0000000000000000");
    assert_eq!(lines[2], "CapEff: 0000000000000000");
    if nix::unistd::getuid().is_root() {
        assert_eq!(lines[3], "CapBnd: 0000000000000000");
    }
    assert_eq!(lines[4], "CapAmb: 0000000000000000");
    // The init (1), the shell (2) and its pipeline: nothing of the host.
    let pids: Vec<u32> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("pid "))
        .map(|p| p.parse().unwrap())
        .collect();
    assert!(pids.contains(&1) && pids.contains(&2), "{pids:?}");
    assert!(pids.iter().all(|&p| p < 10), "{pids:?}");
}

#[test]
fn background_processes_die_with_the_task() {
    let Some(mut running) = start(&shell("sleep 100 & sleep 100 & sleep 0.5")) else {
        return;
    };
    let namespace = pid_namespace(&running);
    let started = Instant::now();
    let status = running.wait().unwrap();
    assert!(status.success());
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(task_processes(&running, &namespace), Vec::<u32>::new());
}

#[test]
fn kill_stops_a_long_task_promptly() {
    let Some(mut running) = start(&shell("sleep 100 & sleep 100")) else {
        return;
    };
    let namespace = pid_namespace(&running);
    assert!(!processes_in(&namespace).is_empty());
    let started = Instant::now();
    running.kill().unwrap();
    let status = running.wait().unwrap();
    assert_eq!(status.signal(), Some(9));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(task_processes(&running, &namespace), Vec::<u32>::new());
    // Killing an ended task is fine.
    running.kill().unwrap();
}

/// Waits up to five seconds for `namespace` to empty.
fn assert_emptied(namespace: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_in(namespace).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(processes_in(namespace), Vec::<u32>::new());
}

#[test]
fn dropping_a_running_task_kills_it() {
    let Some(running) = start(&shell("sleep 100 & sleep 100")) else {
        return;
    };
    let namespace = pid_namespace(&running);
    drop(running);
    assert_emptied(&namespace);
}

#[test]
fn dropping_the_sandbox_kills_its_tasks() {
    let own = new_sandbox();
    let mut running = match own.spawn(&shell("sleep 100")) {
        Ok(running) => running,
        Err(SandboxError::Unsupported { .. }) => return,
        Err(error) => panic!("{error}"),
    };
    let namespace = pid_namespace(&running);
    let started = Instant::now();
    drop(own);
    assert!(running.wait().is_err(), "no status from a killed sandbox");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_emptied(&namespace);
}

/// Set in the copy of this test binary that plays bitzel.
const CHILD_ROLE: &str = "BITZEL_SANDBOX_TEST_ROLE";

#[test]
fn a_killed_bitzel_kills_its_sandboxes() {
    if std::env::var_os(CHILD_ROLE).is_some() {
        // The stand-in for bitzel: start a task, say where it is, and
        // wait to be killed.
        let Some(running) = start(&shell("sleep 100")) else {
            println!("unsupported");
            return;
        };
        println!("namespace={}", pid_namespace(&running));
        std::thread::sleep(Duration::from_secs(60));
        return;
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_killed_bitzel_kills_its_sandboxes",
            "--nocapture",
        ])
        .env(CHILD_ROLE, "bitzel")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut namespace = None;
    for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
        let line = line.unwrap();
        if line == "unsupported" {
            break;
        }
        if let Some(ns) = line.strip_prefix("namespace=") {
            namespace = Some(ns.to_string());
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let Some(namespace) = namespace else {
        return;
    };
    assert_emptied(&namespace);
}

#[test]
fn set_up_errors_name_the_step_and_path() {
    let mut spec = shell("true");
    spec.cwd = PathBuf::from("/no/such/dir");
    let Err(err) = sandbox().spawn(&spec) else {
        panic!("a missing working directory must fail");
    };
    if matches!(err, SandboxError::Unsupported { .. }) {
        return;
    }
    let text = err.to_string();
    assert!(text.contains("`/no/such/dir`"), "{text}");
    assert!(text.contains("No such file"), "{text}");

    let mut spec = shell("true");
    spec.mounts = vec![Mount::read_only("/no/such/source", "/src")];
    let text = sandbox().spawn(&spec).unwrap_err().to_string();
    assert!(text.contains("/no/such/source"), "{text}");

    let text = Sandbox::with_helper("/no/such/helper")
        .spawn(&shell("true"))
        .unwrap_err()
        .to_string();
    assert!(text.contains("/no/such/helper"), "{text}");
}

#[test]
fn many_sandboxes_run_in_parallel() {
    let threads: Vec<_> = (0..8)
        .map(|n| {
            std::thread::spawn(move || {
                let spec = shell(&format!("echo task-{n}; exit {n}"));
                run(&spec).map(|(status, out)| (n, status.code(), out))
            })
        })
        .collect();
    for thread in threads {
        let Some((n, code, out)) = thread.join().unwrap() else {
            return;
        };
        assert_eq!(code, Some(n));
        assert_eq!(out, format!("task-{n}\n"));
    }
}

#[test]
fn a_log_file_is_appended_to() {
    let dir = host_dir();
    let log = dir.path().join("log");
    std::fs::File::create(&log)
        .unwrap()
        .write_all(b"before\n")
        .unwrap();
    let mut spec = shell("echo during");
    spec.log = Some(log.clone());
    let Some(mut running) = start(&spec) else {
        return;
    };
    assert!(running.wait().unwrap().success());
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "before\nduring\n");
}

#[test]
fn the_task_cannot_leave_its_root() {
    // The view is a chroot: leaving it takes CAP_SYS_CHROOT, which a task
    // could only regain in a user namespace of its own.
    let mut spec = shell(
        "unshare -U true 2>/dev/null && echo made-a-user-namespace; \
         ls /proc/1/root/ 2>/dev/null && echo saw-the-inits-root; \
         cat /proc/sys/user/max_user_namespaces",
    );
    spec.hosttools.push("unshare".into());
    if bitzel::sandbox::hosttools::find(
        "unshare",
        &bitzel::sandbox::hosttools::default_search_path(),
    )
    .is_none()
    {
        spec = shell(
            "ls /proc/1/root/ 2>/dev/null && echo saw-the-inits-root; \
             cat /proc/sys/user/max_user_namespaces",
        );
    }
    let Some(out) = output_of(&spec) else {
        return;
    };
    assert_eq!(out, "0\n");
}

#[test]
fn host_interpreters_and_the_compiler_work_in_the_view() {
    // What listed tools need to run (libraries, the compiler's own
    // programs, headers, perl and python modules) is in the view. The
    // system's tools: a per-user wrapper (a pyenv shim running a script in
    // $HOME) rightly does not run in a sandbox.
    let search = std::ffi::OsString::from("/usr/local/bin:/usr/bin:/bin");
    let wanted = ["sh", "cat", "gcc", "as", "ld", "perl", "python3"];
    let tools: Vec<String> = wanted
        .iter()
        .filter(|t| bitzel::sandbox::hosttools::find(t, &search).is_some())
        .map(|t| t.to_string())
        .collect();
    let has = |t: &str| tools.iter().any(|x| x == t);
    let mut script = String::from("set -e\n");
    if has("gcc") && has("as") && has("ld") {
        script.push_str(
            "printf '#include <stdio.h>\\nint main(void) { puts(\"compiled\"); return 0; }\\n' > hello.c\n\
             gcc -O1 -o hello hello.c\n./hello\n",
        );
    }
    if has("perl") {
        script.push_str("perl -MPOSIX -e 'print \"perl \", floor(2.5), \"\\n\"'\n");
    }
    if has("python3") {
        script.push_str("python3 -c 'import json, hashlib; print(\"python\", json.dumps([1]))'\n");
    }
    let work = host_dir();
    let mut spec = shell(&script);
    spec.hosttools = tools.clone();
    spec.host_path = Some(search);
    spec.mounts = vec![Mount::writable(work.path(), "/work")];
    spec.cwd = PathBuf::from("/work");
    let Some(out) = output_of(&spec) else {
        return;
    };
    let mut expected = String::new();
    if has("gcc") && has("as") && has("ld") {
        expected.push_str("compiled\n");
    }
    if has("perl") {
        expected.push_str("perl 2\n");
    }
    if has("python3") {
        expected.push_str("python [1]\n");
    }
    assert_eq!(out, expected);
}

#[test]
fn concurrent_tasks_have_their_own_pids_and_tmp() {
    let Some(mut first) = start(&shell("echo $$ > /tmp/pid; sleep 1; cat /tmp/pid")) else {
        return;
    };
    let (status, out) = run(&shell(
        "echo $$; test -e /tmp/pid && echo shared-tmp; exit 0",
    ))
    .unwrap();
    assert!(status.success());
    // Each task's shell is pid 2 (after its init) in its own namespace.
    assert_eq!(out, "2\n");
    assert!(first.wait().unwrap().success());
}
