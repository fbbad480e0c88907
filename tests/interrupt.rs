//! Stopping `bitzel build` while a task runs: SIGINT and SIGTERM end the
//! build with 130 and 143 after killing the task and everything it
//! started, SIGKILL takes the task's sandbox with bitzel, and in every
//! case the next build runs the task again (nothing was recorded for it)
//! and ends with the right result.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::demo::{add_to_local_conf, can_build, demo};
use common::{bitzel, bitzel_command, probe_workdir, write_probe};

/// A do_compile that says it started, then sleeps `PROBE_SLEEP` seconds
/// in the background and in the foreground, then writes its result.
/// `PROBE_SLEEP` is kept out of the task's signature, so the task has
/// the same key whether it sleeps or not.
fn slow_probe(dir: &Path, python: bool) {
    let body = if python {
        "python do_compile() {\n    import os, subprocess, time\n    print('started', flush=True)\n    subprocess.Popen(['sleep', d.getVar('PROBE_SLEEP')])\n    time.sleep(float(d.getVar('PROBE_SLEEP')))\n    with open(os.path.join(d.getVar('B'), 'result'), 'w') as f:\n        f.write('complete\\n')\n}\n"
    } else {
        "do_compile() {\n    echo started\n    sleep ${PROBE_SLEEP} &\n    sleep ${PROBE_SLEEP}\n    echo complete > ${B}/result\n}\n"
    };
    write_probe(
        dir,
        &format!(
            "LICENSE = \"MIT\"\nS = \"${{UNPACKDIR}}\"\ndo_compile[vardepsexclude] = \"PROBE_SLEEP\"\n{body}"
        ),
    );
}

/// The processes whose command line mentions `needle`.
fn processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(needle) {
                found.push(format!("{name}: {cmdline}"));
            }
        }
    }
    found
}

/// Starts the slow build, waits until the task has started (its log
/// says so), sends `signal`, and returns the exit status and output.
fn interrupt_build(dir: &Path, token: &str, signal: libc::c_int) -> (Option<i32>, String) {
    let log = probe_workdir(dir).join("temp/log.do_compile");
    let mut child = bitzel_command(&["build", "probe", "-c", "compile"], dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.lines().any(|l| l == "started") && !processes_with(token).is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the task never started: {text}");
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the build ended on its own ({status}): {text}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: kill with a pid this test started.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// Waits (a bounded time) until no process mentions `token`.
fn assert_gone(token: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !processes_with(token).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(processes_with(token), Vec::<String>::new(), "left behind");
}

/// After an interruption: the task runs again (nothing was recorded for
/// it) without sleeping, and produces its result.
fn rebuild_runs_the_task(dir: &Path) {
    let result = probe_workdir(dir).join("sources/result");
    assert!(!result.exists(), "the interrupted task finished");
    assert!(
        !dir.join("tmp/bitzel-stamps/probe/do_compile").exists(),
        "an interrupted task left a stamp"
    );
    add_to_local_conf(dir, "PROBE_SLEEP = \"0\"");
    let out = bitzel(&["build", "probe", "-c", "compile"], dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("running probe.do_compile"), "{stdout}");
    assert_eq!(std::fs::read_to_string(result).unwrap(), "complete\n");
    // And now it is done.
    let again = bitzel(&["build", "probe", "-c", "compile"], dir);
    assert!(!String::from_utf8_lossy(&again.stdout).contains("running "));
}

fn interrupted_build_case(signal: libc::c_int, expected: i32, python: bool, seconds: &str) {
    if !can_build() {
        return;
    }
    let dir = demo();
    add_to_local_conf(
        dir.path(),
        &format!("HOSTTOOLS:append = \" sleep\"\nPROBE_SLEEP = \"{seconds}\""),
    );
    slow_probe(dir.path(), python);
    // The sleeps' argument is unique to this test.
    let (code, text) = interrupt_build(dir.path(), seconds, signal);
    assert_eq!(code, Some(expected), "{text}");
    assert!(text.contains("build interrupted by"), "{text}");
    assert!(text.contains("stopped probe.do_compile"), "{text}");
    // Killed before bitzel exited.
    assert_eq!(processes_with(seconds), Vec::<String>::new(), "left behind");
    rebuild_runs_the_task(dir.path());
}

#[test]
fn sigint_stops_a_shell_task_and_the_next_build_runs_it() {
    interrupted_build_case(libc::SIGINT, 130, false, "3001.13");
}

#[test]
fn sigterm_stops_a_python_task_and_the_next_build_runs_it() {
    interrupted_build_case(libc::SIGTERM, 143, true, "3001.17");
}

#[test]
fn a_killed_bitzel_takes_its_tasks_with_it() {
    if !can_build() {
        return;
    }
    for (python, seconds) in [(false, "3001.19"), (true, "3001.23")] {
        let dir = demo();
        add_to_local_conf(
            dir.path(),
            &format!("HOSTTOOLS:append = \" sleep\"\nPROBE_SLEEP = \"{seconds}\""),
        );
        slow_probe(dir.path(), python);
        let (code, text) = interrupt_build(dir.path(), seconds, libc::SIGKILL);
        assert_eq!(code, None, "{text}");
        assert_gone(seconds);
        rebuild_runs_the_task(dir.path());
    }
}
