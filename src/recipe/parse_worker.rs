//! Parser worker processes: how [`parse_all`](super::parse_all) spreads
//! recipes over cores.
//!
//! Most of a recipe's evaluation is python, and one CPython interpreter
//! runs python on one thread at a time (its GIL): threads sharing the
//! process's interpreter do not scale, they only add lock handoffs. So
//! besides the calling thread, which parses in-process, each further job
//! is a worker process, `bitzel __parse-worker` re-executed from the
//! running binary (never a fork of this multi-threaded process), with an
//! interpreter of its own. Recipes are handed out one at a time to
//! whichever parser is free.
//!
//! The protocol runs over the worker's stdin and stdout; each message is a
//! little-endian `u32` length and a postcard body:
//!
//! 1. parent → worker: [`Hello`], the configuration input;
//! 2. worker → parent: `Result<(), EvalError>`, the configuration parsed
//!    (by [`super::parse_all::load_configuration`], as the parent does);
//! 3. parent → worker: a [`Request`]; worker → parent: its
//!    [`Evaluated`] (what [`super::parse_all::evaluate_recipe`] gives
//!    in-process, the parse cache's form), repeated;
//! 4. end of file on the worker's stdin ends it.
//!
//! Invariants: a worker evaluates exactly as the in-process path does (the
//! same two functions; it inherits the parent's environment, working
//! directory and stderr). The worker's stdout carries only the protocol:
//! descriptors 0 and 1 are moved aside before anything runs, with stdin
//! pointing at `/dev/null` and stdout at stderr, so neither python's
//! `print` nor a command that metadata runs can corrupt or steal it. A
//! worker that fails is reported on stderr and its recipe becomes an
//! error; the others go on.

use std::io::{BufReader, BufWriter, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::parse_all::{Evaluated, evaluate_recipe, load_configuration};
use crate::datastore::python::EmbeddedPython;
use crate::datastore::{ConfigInput, EvalError, Evaluator, FsLoader, Layer};

/// The subcommand that runs [`serve`].
pub const SUBCOMMAND: &str = "__parse-worker";

/// What a worker needs to parse the configuration as the parent did.
#[derive(Debug, Serialize, Deserialize)]
struct Hello {
    topdir: PathBuf,
    env: Vec<(String, String)>,
}

/// One recipe to evaluate.
#[derive(Debug, Serialize, Deserialize)]
struct Request {
    recipe: PathBuf,
    appends: Vec<PathBuf>,
}

/// Largest message accepted: a corrupt length must not allocate wildly.
const MAX_MESSAGE: usize = 1 << 30;

fn write_message<T: Serialize>(out: &mut impl Write, message: &T) -> std::io::Result<()> {
    let body = postcard::to_stdvec(message).map_err(std::io::Error::other)?;
    let length = u32::try_from(body.len()).map_err(std::io::Error::other)?;
    out.write_all(&length.to_le_bytes())?;
    out.write_all(&body)?;
    out.flush()
}

/// The next message, or `None` at a clean end of file.
fn read_message<T: DeserializeOwned>(input: &mut impl Read) -> std::io::Result<Option<T>> {
    let mut length = [0u8; 4];
    match input.read_exact(&mut length) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let length = u32::from_le_bytes(length) as usize;
    if length > MAX_MESSAGE {
        return Err(std::io::Error::other(format!("message of {length} bytes")));
    }
    let mut body = vec![0u8; length];
    input.read_exact(&mut body)?;
    postcard::from_bytes(&body)
        .map(Some)
        .map_err(std::io::Error::other)
}

/// The worker's side: serves requests on stdin and stdout until end of
/// file. `Err` is a protocol or set-up failure (the parent reports it).
pub fn serve() -> Result<(), String> {
    let (input, output) = take_protocol_descriptors()
        .map_err(|e| format!("cannot set up the worker's descriptors: {e}"))?;
    let mut input = BufReader::new(std::fs::File::from(input));
    let mut output = BufWriter::new(std::fs::File::from(output));
    let io = |e: std::io::Error| format!("parser worker: {e}");
    let Some(hello) = read_message::<Hello>(&mut input).map_err(io)? else {
        return Ok(());
    };
    let python = EmbeddedPython::start()?;
    let evaluator = Evaluator::new(Arc::new(FsLoader), Some(python));
    let input_config = ConfigInput {
        topdir: hello.topdir,
        env: hello.env,
    };
    let configured = load_configuration(&evaluator, &input_config).map(|loaded| loaded.layer);
    let ready: Result<(), EvalError> = configured.as_ref().map(|_| ()).map_err(Clone::clone);
    write_message(&mut output, &ready).map_err(io)?;
    let Ok(layer) = configured else {
        return Ok(());
    };
    while let Some(request) = read_message::<Request>(&mut input).map_err(io)? {
        let evaluated = evaluate_recipe(&evaluator, &layer, &request.recipe, &request.appends);
        write_message(&mut output, &evaluated).map_err(io)?;
    }
    Ok(())
}

/// Moves the protocol's stdin and stdout to new descriptors (closed on
/// exec) and points 0 at `/dev/null` and 1 at stderr.
fn take_protocol_descriptors() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let input = std::io::stdin().as_fd().try_clone_to_owned()?;
    let output = std::io::stdout().as_fd().try_clone_to_owned()?;
    let null = std::fs::File::open("/dev/null")?;
    nix::unistd::dup2_stdin(&null)?;
    nix::unistd::dup2_stdout(std::io::stderr())?;
    Ok((input, output))
}

/// A running worker, as the parent holds it.
struct Worker {
    process: Child,
    requests: BufWriter<ChildStdin>,
    replies: BufReader<ChildStdout>,
}

impl Worker {
    fn start(executable: &Path, input: &ConfigInput) -> std::io::Result<Worker> {
        let mut process = Command::new(executable)
            .arg(SUBCOMMAND)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let (Some(stdin), Some(stdout)) = (process.stdin.take(), process.stdout.take()) else {
            let _ = process.kill();
            let _ = process.wait();
            return Err(std::io::Error::other("no pipes to the worker"));
        };
        let mut worker = Worker {
            process,
            requests: BufWriter::new(stdin),
            replies: BufReader::new(stdout),
        };
        let hello = Hello {
            topdir: input.topdir.clone(),
            env: input.env.clone(),
        };
        if let Err(e) = write_message(&mut worker.requests, &hello) {
            worker.stop();
            return Err(e);
        }
        Ok(worker)
    }

    /// Takes recipes from `next` until there are none left or the worker
    /// fails; each result lands in `results` at the recipe's index.
    fn run(
        mut self,
        next: &AtomicUsize,
        recipes: &[(&Path, Vec<PathBuf>)],
        results: &[OnceLock<Evaluated>],
    ) {
        match read_message::<Result<(), EvalError>>(&mut self.replies) {
            Ok(Some(Ok(()))) => {}
            Ok(Some(Err(error))) => {
                eprintln!(
                    "bitzel: warning: a parser worker could not parse the configuration ({error}); parsing on fewer processes"
                );
                self.stop();
                return;
            }
            Ok(None) | Err(_) => {
                let status = self.stop();
                eprintln!(
                    "bitzel: warning: a parser worker failed to start ({status}); parsing on fewer processes"
                );
                return;
            }
        }
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some((recipe, appends)) = recipes.get(index) else {
                break;
            };
            let request = Request {
                recipe: recipe.to_path_buf(),
                appends: appends.clone(),
            };
            let reply = write_message(&mut self.requests, &request)
                .and_then(|()| read_message::<Evaluated>(&mut self.replies));
            match reply {
                Ok(Some(evaluated)) => {
                    let _ = results[index].set(evaluated);
                }
                Ok(None) | Err(_) => {
                    let status = self.stop();
                    let error = EvalError {
                        path: recipe.to_path_buf(),
                        line: 0,
                        message: format!("the parser worker parsing this recipe failed ({status})"),
                    };
                    let _ = results[index].set((Err(error), Vec::new()));
                    return;
                }
            }
        }
        self.stop();
    }

    /// Closes the requests (the worker exits on end of file) and reaps the
    /// process; returns how it ended, for messages.
    fn stop(self) -> String {
        let Worker {
            mut process,
            requests,
            replies,
        } = self;
        drop(requests);
        drop(replies);
        match process.wait() {
            Ok(status) => status.to_string(),
            Err(e) => e.to_string(),
        }
    }
}

/// Fewest recipes worth a worker: starting one parses the configuration
/// again (about half a CPU-second for oe-core), as much as some dozens of
/// recipes.
const RECIPES_PER_WORKER: usize = 32;

/// How many worker processes `jobs` parsers and `n_recipes` recipes call
/// for: the calling thread is one of the jobs.
pub fn worker_count(jobs: usize, n_recipes: usize) -> usize {
    jobs.saturating_sub(1).min(n_recipes / RECIPES_PER_WORKER)
}

/// Evaluates `recipes` (path and appends) on the calling thread and on
/// `n_workers` worker processes started from `executable`, and returns
/// the results in the same order. Workers that cannot start are reported
/// and their share goes to the others.
pub fn evaluate_with_workers(
    executable: &Path,
    n_workers: usize,
    evaluator: &Evaluator,
    input: &ConfigInput,
    layer: &Arc<Layer>,
    recipes: &[(&Path, Vec<PathBuf>)],
) -> Vec<Evaluated> {
    let results: Vec<OnceLock<Evaluated>> = recipes.iter().map(|_| OnceLock::new()).collect();
    let next = AtomicUsize::new(0);
    let mut workers = Vec::new();
    for _ in 0..n_workers {
        match Worker::start(executable, input) {
            Ok(worker) => workers.push(worker),
            Err(e) => eprintln!(
                "bitzel: warning: cannot start a parser worker ({}: {e}); parsing on fewer processes",
                executable.display()
            ),
        }
    }
    std::thread::scope(|scope| {
        for worker in workers {
            let (next, results) = (&next, &results);
            scope.spawn(move || worker.run(next, recipes, results));
        }
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some((recipe, appends)) = recipes.get(index) else {
                break;
            };
            let _ = results[index].set(evaluate_recipe(evaluator, layer, recipe, appends));
        }
    });
    results
        .into_iter()
        .zip(recipes)
        .map(|(result, (recipe, _))| {
            result.into_inner().unwrap_or_else(|| {
                let error = EvalError {
                    path: recipe.to_path_buf(),
                    line: 0,
                    message: "no parser evaluated this recipe".into(),
                };
                (Err(error), Vec::new())
            })
        })
        .collect()
}
