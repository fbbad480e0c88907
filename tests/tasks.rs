//! How `bitzel build` runs a task's functions (spec §19), on the demo
//! layer with a `probe` recipe: python tasks run in the sandbox (no host
//! files, no network unless asked, `addpylib` libraries importable), and
//! `[prefuncs]`/`[postfuncs]` run in BitBake's order, each with its own
//! directories, sharing one datastore; a failing one fails the task.

mod common;

use std::path::Path;

use common::demo::{can_build, demo};
use common::{bitzel, probe_workdir, write, write_probe};

/// `bitzel build probe -c compile`: exit code, stdout and stderr.
fn build_probe(dir: &Path) -> (Option<i32>, String, String) {
    let out = bitzel(&["build", "probe", "-c", "compile"], dir);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A probe recipe whose do_compile is the python `body`.
fn python_probe(dir: &Path, body: &str, extra: &str) {
    write_probe(
        dir,
        &format!(
            "LICENSE = \"MIT\"\nS = \"${{UNPACKDIR}}\"\n{extra}\npython do_compile() {{\n{body}\n}}\n"
        ),
    );
}

#[test]
fn python_tasks_run_in_the_sandbox_and_see_only_their_view() {
    if !can_build() {
        return;
    }
    let dir = demo();
    // A file outside the build directory and outside /tmp (which the
    // sandbox replaces with its own).
    let outside = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let secret = outside.path().join("secret");
    std::fs::write(&secret, "host secret\n").unwrap();
    assert!(std::fs::read_to_string(&secret).is_ok());

    // The task can write its own directories and sees its datastore.
    python_probe(
        dir.path(),
        "    import os\n    with open(os.path.join(d.getVar('B'), 'out'), 'w') as f:\n        f.write(d.getVar('PN') + ' ' + d.getVar('BB_CURRENTTASK') + ' ' + os.getcwd())\n",
        "",
    );
    let (code, stdout, stderr) = build_probe(dir.path());
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let out = probe_workdir(dir.path()).join("sources/out");
    let b = probe_workdir(dir.path()).join("sources");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        format!("probe compile {}", b.display())
    );

    python_probe(
        dir.path(),
        &format!(
            "    print(open({:?}).read())\n",
            secret.display().to_string()
        ),
        "",
    );
    let (code, stdout, stderr) = build_probe(dir.path());
    assert_eq!(
        code,
        Some(1),
        "a python task read a host file: {stdout}{stderr}"
    );
    assert!(stderr.contains("FileNotFoundError"), "{stderr}");
    assert!(!stdout.contains("host secret") && !stderr.contains("host secret"));
    let log = probe_workdir(dir.path()).join("temp/log.do_compile");
    assert!(
        !std::fs::read_to_string(log)
            .unwrap()
            .contains("host secret")
    );

    // Nor the rest of the build directory.
    python_probe(
        dir.path(),
        &format!(
            "    open({:?}).read()\n",
            dir.path().join("conf/local.conf").display().to_string()
        ),
        "",
    );
    let (code, _, stderr) = build_probe(dir.path());
    assert_eq!(
        code,
        Some(1),
        "a python task read conf/local.conf: {stderr}"
    );
}

#[test]
fn python_tasks_reach_the_network_only_when_asked() {
    if !can_build() {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connect = format!(
        "    import socket\n    socket.create_connection(('127.0.0.1', {port}), timeout=10)\n"
    );

    let dir = demo();
    python_probe(dir.path(), &connect, "");
    let (code, _, stderr) = build_probe(dir.path());
    assert_eq!(code, Some(1), "a python task reached the network");
    assert!(
        stderr.contains("ConnectionRefusedError") || stderr.contains("OSError"),
        "{stderr}"
    );

    let dir = demo();
    python_probe(dir.path(), &connect, "do_compile[network] = \"1\"");
    let (code, stdout, stderr) = build_probe(dir.path());
    assert_eq!(
        code,
        Some(0),
        "[network] = \"1\" did not allow a connection: {stdout}{stderr}"
    );
}

#[test]
fn addpylib_libraries_import_in_python_tasks() {
    if !can_build() {
        return;
    }
    let dir = demo();
    let layer = dir.path().join("layer");
    let conf = std::fs::read_to_string(layer.join("conf/layer.conf")).unwrap();
    std::fs::write(
        layer.join("conf/layer.conf"),
        format!("{conf}\naddpylib ${{LAYERDIR}}/lib probelib\n"),
    )
    .unwrap();
    // A BBIMPORTS module, as oe-core's `oe.utils`: reached as an
    // attribute of the namespace.
    write(
        &layer,
        "lib/probelib/__init__.py",
        "BBIMPORTS = ['greet']\n",
    );
    write(
        &layer,
        "lib/probelib/greet.py",
        "def greeting(d):\n    return 'hello from probelib for ' + d.getVar('PN')\n",
    );
    python_probe(
        dir.path(),
        "    import os\n    with open(os.path.join(d.getVar('B'), 'out'), 'w') as f:\n        f.write(probelib.greet.greeting(d))\n",
        "",
    );
    let (code, stdout, stderr) = build_probe(dir.path());
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(
        std::fs::read_to_string(probe_workdir(dir.path()).join("sources/out")).unwrap(),
        "hello from probelib for probe"
    );
    // Compiled once by bitzel, outside the layer, for every task to load.
    let cached = dir.path().join(format!(
        "cache/bitzel/pycache{}",
        layer.join("lib/probelib/greet.pyc").display()
    ));
    assert!(cached.is_file(), "no {}", cached.display());
    assert!(!layer.join("lib/probelib/__pycache__").exists());
}

/// A shell do_compile with a shell and a python prefunc and a python
/// postfunc that runs a shell function through `bb.build.exec_func`;
/// each appends a line to `B/order`.
const ORDERED: &str = r#"LICENSE = "MIT"
S = "${UNPACKDIR}"

do_compile[prefuncs] = "pre_shell pre_python"
do_compile[postfuncs] = "post_python"

pre_shell() {
    echo "pre_shell in $(pwd)" >> ${B}/order
}

python pre_python() {
    import os
    with open(d.getVar('B') + '/order', 'a') as f:
        f.write('pre_python in %s\n' % os.getcwd())
    d.setVar('FROM_PREFUNC', 'set by pre_python')
}

do_compile() {
    echo "do_compile in $(pwd): ${FROM_PREFUNC}" >> ${B}/order
}

post_shell[dirs] = "${WORKDIR}/post"
post_shell() {
    echo "post_shell in $(pwd): $PROBE_EXPORTED" >> ${B}/order
}
export PROBE_EXPORTED = "exported"

python post_python() {
    with open(d.getVar('B') + '/order', 'a') as f:
        f.write('post_python\n')
    bb.build.exec_func('post_shell', d)
}
"#;

#[test]
fn prefuncs_and_postfuncs_run_in_order_with_their_own_directories() {
    if !can_build() {
        return;
    }
    let dir = demo();
    write_probe(dir.path(), ORDERED);
    let (code, stdout, stderr) = build_probe(dir.path());
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let work = probe_workdir(dir.path());
    let b = work.join("sources");
    let top = dir.path();
    assert_eq!(
        std::fs::read_to_string(b.join("order")).unwrap(),
        format!(
            "pre_shell in {top}\npre_python in {top}\ndo_compile in {b}: set by pre_python\n\
             post_python\npost_shell in {post}: exported\n",
            top = top.display(),
            b = b.display(),
            post = work.join("post").display()
        )
    );
    // One script per function, as BitBake writes them, and the log says
    // which ran.
    let temp = work.join("temp");
    let scripts: Vec<String> = std::fs::read_dir(&temp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("run."))
        .collect();
    for func in [
        "pre_shell",
        "pre_python",
        "do_compile",
        "post_python",
        "post_shell",
    ] {
        assert!(
            scripts
                .iter()
                .any(|s| s.starts_with(&format!("run.{func}."))),
            "no run.{func}.PID in {scripts:?}"
        );
    }
    let log = std::fs::read_to_string(temp.join("log.do_compile")).unwrap();
    let order: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("DEBUG: Executing"))
        .collect();
    assert_eq!(
        order,
        [
            "DEBUG: Executing shell function pre_shell",
            "DEBUG: Executing python function pre_python",
            "DEBUG: Executing shell function do_compile",
            "DEBUG: Executing python function post_python",
            "DEBUG: Executing shell function post_shell",
        ],
        "{log}"
    );
}

#[test]
fn a_failing_prefunc_or_postfunc_fails_the_task() {
    if !can_build() {
        return;
    }
    let dir = demo();
    let failing_post = ORDERED.replace(
        "    bb.build.exec_func('post_shell', d)",
        "    bb.fatal('post_python refuses')",
    );
    write_probe(dir.path(), &failing_post);
    let (code, stdout, stderr) = build_probe(dir.path());
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("probe.do_compile failed"), "{stderr}");
    assert!(stderr.contains("post_python refuses"), "{stderr}");
    // Nothing was recorded: the next build runs it again.
    let (code, stdout, _) = build_probe(dir.path());
    assert_eq!(code, Some(1));
    assert!(stdout.contains("running probe.do_compile"), "{stdout}");

    // A failing shell prefunc: the task's own function never runs.
    let dir = demo();
    let failing_pre = ORDERED.replace(
        "    echo \"pre_shell in $(pwd)\" >> ${B}/order",
        "    echo \"pre_shell in $(pwd)\" >> ${B}/order\n    false",
    );
    write_probe(dir.path(), &failing_pre);
    let (code, stdout, stderr) = build_probe(dir.path());
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("run.pre_shell."), "{stderr}");
    let order = std::fs::read_to_string(probe_workdir(dir.path()).join("sources/order")).unwrap();
    assert_eq!(order, format!("pre_shell in {}\n", dir.path().display()));
}

#[test]
fn a_python_task_failure_shows_its_traceback_in_the_log() {
    if !can_build() {
        return;
    }
    let dir = demo();
    python_probe(
        dir.path(),
        "    def inner():\n        raise ValueError('probe value is wrong')\n    inner()\n",
        "",
    );
    let (code, _, stderr) = build_probe(dir.path());
    assert_eq!(code, Some(1), "{stderr}");
    let log =
        std::fs::read_to_string(probe_workdir(dir.path()).join("temp/log.do_compile")).unwrap();
    assert!(log.contains("Traceback"), "{log}");
    assert!(log.contains("in inner"), "{log}");
    assert!(log.contains("ValueError: probe value is wrong"), "{log}");
    assert!(
        stderr.contains("ValueError: probe value is wrong"),
        "{stderr}"
    );
}

/// Two recipes whose do_compile record when they start and end, a
/// second apart, with `extra` added to each.
fn timed_pair(dir: &Path, extra: &str) {
    for pn in ["lock-a", "lock-b"] {
        write(
            dir,
            &format!("layer/recipes-demo/{pn}/{pn}_1.0.bb"),
            &format!(
                "LICENSE = \"MIT\"\nS = \"${{UNPACKDIR}}\"\n{extra}\npython do_compile() {{\n    import os, time\n    b = d.getVar('B')\n    open(os.path.join(b, 'start'), 'w').write(str(time.time_ns()))\n    time.sleep(1)\n    open(os.path.join(b, 'end'), 'w').write(str(time.time_ns()))\n}}\n"
            ),
        );
    }
}

/// Whether the two recipes' do_compile ran at the same time.
fn overlapped(dir: &Path) -> bool {
    let read = |pn: &str, what: &str| -> u128 {
        let path = dir.join(format!("tmp/work/x86_64-linux/{pn}/1.0/sources/{what}"));
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .trim()
            .parse()
            .unwrap()
    };
    let (a0, a1) = (read("lock-a", "start"), read("lock-a", "end"));
    let (b0, b1) = (read("lock-b", "start"), read("lock-b", "end"));
    a0 < b1 && b0 < a1
}

#[test]
fn tasks_naming_one_lockfile_never_run_at_once() {
    if !can_build() {
        return;
    }
    let dir = demo();
    let args = [
        "build", "lock-a", "lock-b", "-c", "compile", "-j", "2", "-f",
    ];
    // Without a lock the two run side by side (so the test can fail)...
    timed_pair(dir.path(), "");
    let out = bitzel(
        &["build", "lock-a", "lock-b", "-c", "configure"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = bitzel(&args, dir.path());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(overlapped(dir.path()), "two jobs did not run at once");
    // ...with one, one after the other.
    timed_pair(
        dir.path(),
        "do_compile[lockfiles] = \"${TMPDIR}/compile.lock\"",
    );
    let out = bitzel(&args, dir.path());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(!overlapped(dir.path()), "tasks holding one lock overlapped");
}
