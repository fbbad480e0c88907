//! `bitzel build`: runs the tasks of targets hermetically, restoring what
//! the cache has; one line per task started and finished, a summary at the
//! end, and for a failed task its log's last lines and path.

use std::io::{IsTerminal, Write};

use anyhow::Result;

use super::args::BuildArgs;
use super::graph::load;
use crate::remote::RemoteConfig;
use crate::scheduler::{self, BuildInput, BuildOptions, Event, TaskOutcome};

/// Lines of a failed task's log shown.
const LOG_TAIL: usize = 20;

/// How a build ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Succeeded,
    /// A task failed, or the metadata did not load.
    Failed,
    /// SIGINT or SIGTERM (the signal) stopped it.
    Interrupted(i32),
}

pub fn run(args: &BuildArgs, out: &mut dyn Write) -> Result<Ended> {
    let Some(loaded) = load(&args.targets, args.task.as_deref())? else {
        return Ok(Ended::Failed);
    };
    let input = BuildInput {
        topdir: &loaded.topdir,
        evaluator: &loaded.evaluator,
        input: &loaded.input,
        set: &loaded.set,
        graph: &loaded.graph,
        hashes: &loaded.hashes,
        names: &loaded.names,
    };
    let options = BuildOptions {
        jobs: args.jobs.unwrap_or(0),
        force: args.force,
        keep_going: args.keep_going,
        dry_run: args.dry_run,
        cache_dir: args.cache.clone(),
        remote: remote_config(args, &loaded.set.config)?,
    };
    // On a terminal a progress bar (done/total, what is running); else
    // plain lines.
    let bar = std::io::stdout().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(loaded.names.len() as u64);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} tasks, {msg}")
        {
            bar.set_style(style);
        }
        bar
    });
    let mut running: std::collections::BTreeSet<String> = Default::default();
    let mut finished: std::collections::HashSet<String> = Default::default();
    let mut cached = 0usize;
    let summary = scheduler::build(&input, &options, &mut |event| {
        let line = match event {
            Event::Started { task } => {
                running.insert(task.to_string());
                Some(format!("running {task}"))
            }
            Event::Finished { task, outcome } => {
                running.remove(task);
                if finished.insert(task.to_string())
                    && let Some(bar) = &bar
                {
                    bar.inc(1);
                }
                match outcome {
                    TaskOutcome::Ran => Some(format!("done    {task}")),
                    TaskOutcome::Failed { .. } => Some(format!("FAILED  {task}")),
                    TaskOutcome::Interrupted => Some(format!("stopped {task}")),
                    TaskOutcome::Restored | TaskOutcome::Current | TaskOutcome::Cached => {
                        cached += 1;
                        None
                    }
                    _ => None,
                }
            }
        };
        match &bar {
            Some(bar) => {
                let shown: Vec<&str> = running.iter().map(String::as_str).take(3).collect();
                bar.set_message(format!(
                    "{cached} from cache or up to date, running: {}",
                    shown.join(" ")
                ));
                if let Some(line) = line.filter(|l| !l.starts_with("running")) {
                    bar.println(line);
                }
            }
            None => {
                // Written as they happen; a closed stdout does not stop
                // the build.
                if let Some(line) = line {
                    let _ = writeln!(out, "{line}");
                    let _ = out.flush();
                }
            }
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let summary = summary.map_err(|e| anyhow::anyhow!("{e}"))?;
    if args.dry_run {
        for (task, outcome) in &summary.outcomes {
            if *outcome == TaskOutcome::WouldRun {
                writeln!(out, "would run {task}")?;
            }
        }
    }
    for (task, outcome) in &summary.outcomes {
        if let TaskOutcome::Failed { log, message } = outcome {
            eprintln!("error: {task} failed: {message}");
            if let Ok(text) = std::fs::read_to_string(log) {
                let tail: Vec<&str> = text.lines().collect();
                let from = tail.len().saturating_sub(LOG_TAIL);
                for line in &tail[from..] {
                    eprintln!("  | {line}");
                }
            }
            if !log.as_os_str().is_empty() {
                eprintln!("  log: {}", log.display());
            }
        }
    }
    let count = |f: fn(&TaskOutcome) -> bool| summary.count(f);
    if args.dry_run {
        writeln!(
            out,
            "{} tasks would run",
            count(|o| matches!(o, TaskOutcome::WouldRun))
        )?;
    }
    writeln!(
        out,
        "{} tasks: {} run, {} restored from cache, {} up to date, {} cached and not needed, {} without work (noexec), {} failed, {} not run; {:.2} s",
        summary.outcomes.len(),
        count(|o| matches!(o, TaskOutcome::Ran)),
        count(|o| matches!(o, TaskOutcome::Restored)),
        count(|o| matches!(o, TaskOutcome::Current)),
        count(|o| matches!(o, TaskOutcome::Cached)),
        count(|o| matches!(o, TaskOutcome::NoExec)),
        count(|o| matches!(o, TaskOutcome::Failed { .. })),
        count(|o| matches!(o, TaskOutcome::NotRun)),
        summary.elapsed.as_secs_f64()
    )?;
    if let Some(remote) = &summary.remote {
        writeln!(out, "{remote}")?;
    }
    if let Some(signal) = summary.interrupted {
        let name = nix::sys::signal::Signal::try_from(signal)
            .map(|s| s.as_str())
            .unwrap_or("a signal");
        let stopped = count(|o| matches!(o, TaskOutcome::Interrupted));
        out.flush()?;
        eprintln!(
            "build interrupted by {name}: {stopped} running task{} stopped, nothing recorded for {}",
            if stopped == 1 { "" } else { "s" },
            if stopped == 1 { "it" } else { "them" }
        );
        return Ok(Ended::Interrupted(signal));
    }
    Ok(if summary.failed() {
        Ended::Failed
    } else {
        Ended::Succeeded
    })
}

/// The remote cache settings: flags first, then the configuration's
/// `BITZEL_REMOTE_*` variables (`conf/local.conf`), then defaults; the
/// token from `--remote-token-file`, `BITZEL_REMOTE_TOKEN_FILE` or the
/// environment's `BITZEL_REMOTE_TOKEN` (never from the configuration
/// itself, which is often shared).
fn remote_config(
    args: &BuildArgs,
    config: &std::collections::BTreeMap<String, String>,
) -> Result<Option<RemoteConfig>> {
    let var = |name: &str| {
        config
            .get(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let url = match &args.remote_cache {
        Some(url) => url.trim().to_string(),
        None => var("BITZEL_REMOTE_CACHE").unwrap_or_default(),
    };
    if url.is_empty() {
        return Ok(None);
    }
    let mut remote = RemoteConfig::new(url);
    remote.upload = match args.remote_upload {
        Some(upload) => upload,
        None => match var("BITZEL_REMOTE_UPLOAD") {
            Some(value) => crate::datastore::to_boolean(&value),
            None => true,
        },
    };
    if let Some(instance) = args
        .remote_instance
        .clone()
        .or_else(|| var("BITZEL_REMOTE_INSTANCE"))
    {
        remote.instance = instance;
    }
    remote.ca_cert = args
        .remote_ca_cert
        .clone()
        .or_else(|| var("BITZEL_REMOTE_CA_CERT").map(Into::into));
    let timeout = match args.remote_timeout {
        Some(seconds) => Some(seconds),
        None => match var("BITZEL_REMOTE_TIMEOUT") {
            Some(text) => Some(text.parse::<f64>().map_err(|_| {
                anyhow::anyhow!("BITZEL_REMOTE_TIMEOUT: `{text}` is not a number of seconds")
            })?),
            None => None,
        },
    };
    if let Some(seconds) = timeout {
        remote.timeout = std::time::Duration::try_from_secs_f64(seconds)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                anyhow::anyhow!("remote timeout: `{seconds}` is not a positive number of seconds")
            })?;
    }
    let token_file = args
        .remote_token_file
        .clone()
        .or_else(|| var("BITZEL_REMOTE_TOKEN_FILE").map(Into::into));
    remote.token = match token_file {
        Some(path) => Some(
            std::fs::read_to_string(&path)
                .map_err(|e| anyhow::anyhow!("remote token file {}: {e}", path.display()))?
                .trim()
                .to_string(),
        ),
        None => std::env::var("BITZEL_REMOTE_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty()),
    };
    Ok(Some(remote))
}
