//! The command line: arguments in, a stage's entry points called, results
//! drawn. Nothing else in the crate uses this module.

mod args;
mod build;
mod cache;
mod check;
mod env;
mod explain;
mod graph;
mod parse;
mod render;

use std::io::{IsTerminal, Write};

use clap::Parser;

pub use args::{Args, Command};

/// How a run ended, as an exit status: 0 success, 1 the metadata (or a task)
/// failed, 2 bitzel could not do its job, 128 + the signal when SIGINT or
/// SIGTERM stopped a build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success = 0,
    Failure = 1,
    Error = 2,
    Interrupted = 130,
    Terminated = 143,
}

/// Parses the process arguments and runs the command.
pub fn run() -> Outcome {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(err) => {
            // clap prints help and version to stdout with success, usage
            // errors to stderr.
            let _ = err.print();
            return if err.use_stderr() {
                Outcome::Error
            } else {
                Outcome::Success
            };
        }
    };
    let stdout = std::io::stdout();
    let color = stdout.is_terminal();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = match &args.command {
        Command::Check(check_args) => check::run(check_args, &mut out, color),
        Command::Env(env_args) => env::run(env_args, &mut out),
        Command::Parse(parse_args) => parse::run(parse_args, &mut out),
        Command::Graph(graph_args) => graph::run(graph_args, &mut out),
        Command::Explain(explain_args) => explain::run(explain_args, &mut out),
        Command::Build(build_args) => match build::run(build_args, &mut out) {
            Ok(build::Ended::Interrupted(signal)) => {
                let _ = out.flush();
                return if signal == libc::SIGTERM {
                    Outcome::Terminated
                } else {
                    Outcome::Interrupted
                };
            }
            other => other.map(|ended| ended == build::Ended::Succeeded),
        },
        Command::Cache(cache_args) => cache::run(cache_args, &mut out),
        Command::ParseWorker => parse::serve_worker(),
    };
    let flushed = out.flush();
    match (result, flushed) {
        (Ok(true), Ok(())) => Outcome::Success,
        (Ok(false), Ok(())) => Outcome::Failure,
        (Err(err), _) if is_broken_pipe(&err) => Outcome::Success,
        (Ok(ok), Err(err)) if err.kind() == std::io::ErrorKind::BrokenPipe => {
            if ok {
                Outcome::Success
            } else {
                Outcome::Failure
            }
        }
        (Ok(_), Err(err)) => report(&anyhow::Error::from(err)),
        (Err(err), _) => report(&err),
    }
}

/// An evaluation error as `path:line: error: message` (no line when BitBake
/// gives none).
fn print_eval_error(error: &crate::datastore::EvalError) {
    if error.line > 0 {
        eprintln!(
            "{}:{}: error: {}",
            error.path.display(),
            error.line,
            error.message
        );
    } else {
        eprintln!("{}: error: {}", error.path.display(), error.message);
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

fn report(err: &anyhow::Error) -> Outcome {
    eprintln!("bitzel: error: {err:#}");
    Outcome::Error
}
