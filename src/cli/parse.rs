//! `bitzel parse`: every recipe and variant of the configured layers,
//! evaluated in parallel, as `bitbake -p` does; one summary line and every
//! error.

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use rayon::prelude::*;

use super::args::ParseArgs;
use crate::datastore::python::EmbeddedPython;
use crate::datastore::{
    ConfigInput, Evaluator, FsLoader, Outcome, parse_configuration, parse_recipe,
};
use crate::recipe::bbfiles;

/// `Ok(true)` when every recipe parsed (skips are not failures).
pub fn run(args: &ParseArgs, out: &mut dyn Write) -> Result<bool> {
    let started = Instant::now();
    let topdir = std::env::current_dir().context("cannot read the current directory")?;
    let python = EmbeddedPython::start().map_err(anyhow::Error::msg)?;
    let evaluator = Evaluator::new(Arc::new(FsLoader), Some(python));
    let input = ConfigInput {
        topdir,
        env: std::env::vars().collect(),
    };
    let config = match parse_configuration(&evaluator, &input) {
        Ok(config) => config,
        Err(error) => {
            eprintln!(
                "{}:{}: error: {}",
                error.path.display(),
                error.line,
                error.message
            );
            return Ok(false);
        }
    };
    let collected = bbfiles::collect(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let layer = config.freeze();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.unwrap_or(0))
        .build()
        .context("cannot start the parser threads")?;
    let results: Vec<_> = pool.install(|| {
        collected
            .recipes
            .par_iter()
            .map(|recipe| {
                let appends = collected.appends_for(recipe);
                let parsed = parse_recipe(&evaluator, &layer, recipe, &appends);
                // Each target as BitBake names it, with its outcome.
                let outcomes = parsed.map(|parsed| {
                    let mut outcomes = vec![(recipe.display().to_string(), parsed.base.outcome)];
                    outcomes.extend(parsed.variants.into_iter().map(|(name, v)| {
                        (format!("virtual:{name}:{}", recipe.display()), v.outcome)
                    }));
                    outcomes
                });
                (recipe.clone(), appends, outcomes)
            })
            .collect()
    });
    let (mut n_targets, mut n_skipped, mut n_errors) = (0, 0, 0);
    let mut used_appends = std::collections::HashSet::new();
    for (_, appends, outcomes) in &results {
        used_appends.extend(appends.iter().cloned());
        match outcomes {
            Ok(outcomes) => {
                n_targets += outcomes.len();
                for (target, outcome) in outcomes {
                    if let Outcome::Skipped(reason) = outcome {
                        n_skipped += 1;
                        if args.skipped {
                            writeln!(out, "skipped {target}: {reason}")?;
                        }
                    }
                }
            }
            Err(error) => {
                n_errors += 1;
                eprintln!(
                    "{}:{}: error: {}",
                    error.path.display(),
                    error.line,
                    error.message
                );
            }
        }
    }
    // spec §15.2: an append that applies to no recipe stops the build.
    let dangling: Vec<_> = collected
        .appends
        .iter()
        .filter(|a| !used_appends.contains(*a))
        .collect();
    for append in &dangling {
        eprintln!("error: no recipes available for: {}", append.display());
    }
    writeln!(
        out,
        "parsed {} recipes: {n_targets} targets, {n_skipped} skipped, {} masked, {n_errors} errors in {:.2} s",
        results.len(),
        collected.n_masked,
        started.elapsed().as_secs_f64()
    )?;
    Ok(n_errors == 0 && dangling.is_empty())
}
