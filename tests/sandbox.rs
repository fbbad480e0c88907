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

fn sandbox() -> Sandbox {
    Sandbox::with_helper(env!("CARGO_BIN_EXE_bitzel-sandbox"))
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
