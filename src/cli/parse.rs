//! `bitzel parse`: every recipe and variant of the configured layers,
//! evaluated in parallel, as `bitbake -p` does; one summary line and every
//! error. Unchanged recipes come from the parse cache.

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};

use super::args::ParseArgs;
use crate::datastore::python::EmbeddedPython;
use crate::datastore::{ConfigInput, Evaluator, FsLoader};
use crate::recipe::parse_all::parse_all;

/// `bitzel __parse-worker`: a parser worker process
/// (`recipe::parse_worker`); its stdout is the protocol.
pub fn serve_worker() -> Result<bool> {
    crate::recipe::parse_worker::serve().map_err(anyhow::Error::msg)?;
    Ok(true)
}

/// `Ok(true)` when every recipe parsed (skips are not failures).
pub fn run(args: &ParseArgs, out: &mut dyn Write) -> Result<bool> {
    let started = Instant::now();
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let topdir = ConfigInput::find_topdir(&cwd);
    let python = EmbeddedPython::lazy();
    let evaluator = Evaluator::new(Arc::new(FsLoader), Some(python));
    let cache_file = topdir.join("cache/bitzel/parse.cache");
    let input = ConfigInput {
        topdir,
        env: std::env::vars().collect(),
    };
    let cache = (!args.no_cache).then_some(cache_file.as_path());
    let all = match parse_all(
        &evaluator,
        &input,
        args.jobs.unwrap_or(0),
        std::env::current_exe().ok().as_deref(),
        cache,
    ) {
        Ok(all) => all,
        Err(error) => {
            super::print_eval_error(&error);
            return Ok(false);
        }
    };
    if args.dump_results {
        let mut lines = Vec::new();
        for recipe in &all.recipes {
            match &recipe.targets {
                Ok(targets) => {
                    for target in targets {
                        lines.push(serde_json::to_string(target)?);
                    }
                }
                Err(error) => lines.push(format!(
                    "error: {}: {}",
                    error.path.display(),
                    error.message
                )),
            }
        }
        lines.sort();
        for line in lines {
            writeln!(out, "{line}")?;
        }
    }
    let (mut n_targets, mut n_skipped, mut n_errors) = (0, 0, 0);
    for recipe in &all.recipes {
        match &recipe.targets {
            Ok(targets) => {
                n_targets += targets.len();
                for target in targets {
                    if let Some(reason) = &target.skipped {
                        n_skipped += 1;
                        if args.skipped {
                            writeln!(out, "skipped {}: {reason}", target.target)?;
                        }
                    }
                }
            }
            Err(error) => {
                n_errors += 1;
                super::print_eval_error(error);
            }
        }
    }
    // spec §15.2: an append that applies to no recipe stops the build.
    for append in &all.dangling {
        eprintln!("error: no recipes available for: {}", append.display());
    }
    writeln!(
        out,
        "parsed {} recipes ({} from the cache): {n_targets} targets, {n_skipped} skipped, {} masked, {n_errors} errors in {:.2} s",
        all.recipes.len(),
        all.n_from_cache,
        all.n_masked,
        started.elapsed().as_secs_f64()
    )?;
    let ok = n_errors == 0 && all.dangling.is_empty();
    // Freeing every result one by one just before exiting costs a tenth
    // of a parse from the cache; the process's end frees them at once.
    std::mem::forget(all);
    Ok(ok)
}
