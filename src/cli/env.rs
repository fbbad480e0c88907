//! `bitzel env`: the final variables of the configuration or of one recipe,
//! printed as `bitbake -e` prints them (so the two can be diffed), or as
//! JSON for tools.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::args::EnvArgs;
use crate::datastore::python::EmbeddedPython;
use crate::datastore::{
    ConfigInput, DataStore, EvalError, Evaluator, FlagValue, FsLoader, Outcome,
    parse_configuration, parse_recipe,
};

#[derive(Serialize)]
struct JsonEnv {
    variables: BTreeMap<String, String>,
    flags: BTreeMap<String, BTreeMap<String, String>>,
    skipped: Option<String>,
    expansion_errors: BTreeMap<String, String>,
    /// For a recipe: each task's same-recipe predecessors, signature
    /// dependencies and base hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    tasks: Option<BTreeMap<String, JsonTask>>,
}

#[derive(Serialize)]
struct JsonTask {
    deps: Vec<String>,
    vardeps: Vec<String>,
    basehash: String,
    /// With `--sigdata`: the value hashed for the task and each key.
    #[serde(skip_serializing_if = "Option::is_none")]
    values: Option<BTreeMap<String, Option<String>>>,
    /// With `--sigdata`: each of those keys' direct dependencies.
    #[serde(skip_serializing_if = "Option::is_none")]
    gendeps: Option<BTreeMap<String, Vec<String>>>,
}

/// How the command ended: `Ok(true)` printed, `Ok(false)` metadata failed
/// (diagnostics on stderr).
pub fn run(args: &EnvArgs, out: &mut dyn Write) -> Result<bool> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let topdir = ConfigInput::find_topdir(&cwd);
    let python = EmbeddedPython::start().map_err(anyhow::Error::msg)?;
    let evaluator = Evaluator::new(Arc::new(FsLoader), Some(python));
    let env: Vec<(String, String)> = std::env::vars().collect();
    let input = ConfigInput {
        topdir: topdir.clone(),
        env,
    };
    let config = match parse_configuration(&evaluator, &input) {
        Ok(config) => config,
        Err(error) => return report(&error),
    };

    let (mut datastore, outcome) = match (&args.buildfile, args.target()) {
        (Some(file), None) => {
            let (variant, path) = crate::recipe::target::split_virtual(file);
            let path = std::fs::canonicalize(&path)
                .with_context(|| format!("cannot read `{}`", path.display()))?;
            match recipe_env(&evaluator, config, &path, variant.as_deref())? {
                Ok(found) => found,
                Err(error) => return report(&error),
            }
        }
        (None, Some(target)) => {
            let (path, variant) = match find_target(&evaluator, &input, target)? {
                Ok(found) => found,
                Err(message) => {
                    eprintln!("error: {message}");
                    return Ok(false);
                }
            };
            match recipe_env(&evaluator, config, &path, variant.as_deref())? {
                Ok(found) => found,
                Err(error) => return report(&error),
            }
        }
        (None, None) => {
            let mut config = config;
            // As `bitbake -e` without a target: keys expanded and the
            // configuration's anonymous functions run.
            if let Err(error) = finalise_config(&evaluator, &mut config) {
                return report(&error);
            }
            (config, Outcome::Parsed)
        }
        (Some(_), Some(_)) => bail!("give either a TARGET or -b FILE, not both"),
    };
    datastore.set_python(evaluator.python().cloned());

    let names: Vec<String> = if args.variables().is_empty() {
        datastore
            .keys()
            .into_iter()
            .filter(|k| !k.starts_with("__") && datastore.has_content(k))
            .collect()
    } else {
        args.variables().to_vec()
    };
    if args.json {
        let is_recipe = args.buildfile.is_some() || args.target().is_some();
        let tasks = if is_recipe && outcome == Outcome::Parsed {
            match task_signatures(&mut datastore, args.sigdata) {
                Ok(tasks) => Some(tasks),
                Err(error) => {
                    eprintln!("error: task signatures: {error}");
                    return Ok(false);
                }
            }
        } else {
            None
        };
        write_json(out, &datastore, &names, &outcome, tasks)?;
    } else {
        write_text(out, &datastore, &names)?;
    }
    Ok(true)
}

/// The `tasks` object of `--json`: predecessors from the recipe's task
/// records, signature data from the basehash computation.
fn task_signatures(
    d: &mut DataStore,
    with_values: bool,
) -> Result<BTreeMap<String, JsonTask>, crate::signature::basehash::SignatureError> {
    let info = crate::recipe::info::RecipeInfo::from_datastore(d, false)?;
    let signatures = crate::signature::basehash::recipe_signatures(d)?;
    let mut tasks = BTreeMap::new();
    for task in &info.tasks {
        let deps = task
            .after
            .iter()
            .filter(|t| info.task(t).is_some())
            .cloned()
            .collect();
        let values = with_values.then(|| signatures.task_values(&task.name));
        let gendeps = values.as_ref().map(|values| {
            values
                .keys()
                .map(|k| {
                    let deps = signatures.key_deps(k);
                    (k.clone(), deps.into_iter().collect())
                })
                .collect()
        });
        tasks.insert(
            task.name.clone(),
            JsonTask {
                deps,
                vardeps: signatures.taskdeps(&task.name),
                basehash: signatures
                    .basehash
                    .get(&task.name)
                    .cloned()
                    .unwrap_or_default(),
                values,
                gendeps,
            },
        );
    }
    Ok(tasks)
}

fn report(error: &EvalError) -> Result<bool> {
    super::print_eval_error(error);
    Ok(false)
}

fn recipe_env(
    evaluator: &Evaluator,
    config: DataStore,
    path: &Path,
    variant: Option<&str>,
) -> Result<Result<(DataStore, Outcome), EvalError>> {
    // As `bitbake -b`, the recipe's appends apply.
    let appends = crate::recipe::bbfiles::collect(&config)
        .map(|c| c.appends_for(path))
        .unwrap_or_default();
    let layer = config.freeze();
    let parsed = match parse_recipe(evaluator, &layer, path, &appends) {
        Ok(parsed) => parsed,
        Err(error) => return Ok(Err(error)),
    };
    match variant {
        None => Ok(Ok((parsed.base.datastore, parsed.base.outcome))),
        Some(name) => {
            let Some((_, found)) = parsed.variants.into_iter().find(|(n, _)| n == name) else {
                bail!("`{}` has no BBCLASSEXTEND variant `{name}`", path.display());
            };
            Ok(Ok((found.datastore, found.outcome)))
        }
    }
}

/// The recipe file (and variant) that provides `target`, chosen as a
/// build would choose it: from the parsed recipes (through the parse
/// cache), by PROVIDES, PREFERRED_PROVIDER and PREFERRED_VERSION.
fn find_target(
    evaluator: &Evaluator,
    input: &ConfigInput,
    target: &str,
) -> Result<std::result::Result<(PathBuf, Option<String>), String>> {
    let cache_file = input.topdir.join("cache/bitzel/parse.cache");
    let all = match crate::recipe::parse_all::parse_all(
        evaluator,
        input,
        0,
        std::env::current_exe().ok().as_deref(),
        Some(&cache_file),
    ) {
        Ok(all) => all,
        Err(error) => return Ok(Err(format!("{}: {}", error.path.display(), error.message))),
    };
    let set = crate::graph::recipe_set(all);
    let mut data = crate::graph::TaskData::new(&set, false);
    if let Err(error) = data.add_target(target) {
        let mut message = data.errors.join("\n");
        if !message.is_empty() {
            message.push('\n');
        }
        message.push_str(&error.to_string());
        return Ok(Err(message));
    }
    // A name in ASSUME_PROVIDED has no provider in a build, but its
    // recipe can still be shown.
    let recipe = data.build_provider(target).or_else(|| {
        let all = set.providers(target)?;
        let mut warnings = Vec::new();
        let (eligible, _) = crate::graph::providers::filter_providers(
            &set,
            &set.config,
            all,
            target,
            &mut warnings,
        );
        eligible.first().copied()
    });
    let Some(recipe) = recipe else {
        return Ok(Err(format!("nothing provides `{target}`")));
    };
    let (variant, path) = crate::recipe::target::split_virtual(&set.recipe(recipe).file);
    Ok(Ok((path, variant)))
}

fn finalise_config(evaluator: &Evaluator, d: &mut DataStore) -> Result<(), EvalError> {
    let error = |message: String| EvalError {
        path: PathBuf::from("conf/bitbake.conf"),
        line: 0,
        message,
    };
    crate::datastore::expand_keys(d).map_err(|e| error(e.to_string()))?;
    match evaluator.run_anonymous_functions(d) {
        Ok(()) | Err(crate::datastore::PythonFailure::Skip(_)) => Ok(()),
        Err(failure) => Err(failure.into_eval_error(Path::new("conf/bitbake.conf"))),
    }
}

fn flag_true(d: &DataStore, name: &str, flag: &str) -> bool {
    match d.raw_flag(name, flag) {
        Some(FlagValue::Text(_)) => d
            .get_var_flag(name, flag)
            .ok()
            .flatten()
            .is_some_and(|v| matches!(v.to_lowercase().as_str(), "y" | "yes" | "1" | "true")),
        Some(other) => other.is_truthy(),
        None => false,
    }
}

/// `bitbake -e`'s shell form: plain variables (exported ones with
/// `export`, unexported ones as `unset`), shell functions, then python
/// functions (spec: BitBake's `emit_env`).
fn write_text(out: &mut dyn Write, d: &DataStore, names: &[String]) -> Result<()> {
    let is_func = |name: &str| d.raw_flag(name, "func").is_some_and(FlagValue::is_truthy);
    let (funcs, plain): (Vec<&String>, Vec<&String>) = names.iter().partition(|n| is_func(n));
    for name in plain {
        let unexport = flag_true(d, name, "unexport");
        let value = match d.get_var(name) {
            Ok(value) => value,
            Err(error) => {
                writeln!(
                    out,
                    "# expansion of {name} threw ExpansionError: {}",
                    error.message
                )?;
                continue;
            }
        };
        let shown = d.expand(name).unwrap_or_else(|_| name.clone());
        if unexport {
            writeln!(out, "unset {shown}")?;
            continue;
        }
        let Some(value) = value else { continue };
        if flag_true(d, name, "export") {
            write!(out, "export ")?;
        }
        writeln!(out, "{shown}=\"{}\"", shell_escape(&value))?;
    }
    for name in &funcs {
        if d.raw_flag(name, "python").is_some_and(FlagValue::is_truthy) {
            continue;
        }
        if name.contains(['-', '.', '{', '}', '+']) {
            continue;
        }
        let Ok(Some(value)) = d.get_var(name) else {
            continue;
        };
        let lineno = d
            .raw_flag(name, "lineno")
            .map(FlagValue::to_python_str)
            .unwrap_or_else(|| "None".into());
        let filename = d
            .raw_flag(name, "filename")
            .map(FlagValue::to_python_str)
            .unwrap_or_else(|| "None".into());
        writeln!(out, "# line: {lineno}, file: {filename}")?;
        writeln!(out, "{name}() {{\n{}\n}}\n", value.trim_end_matches('\n'))?;
    }
    for name in funcs {
        if !d.raw_flag(name, "python").is_some_and(FlagValue::is_truthy) {
            continue;
        }
        let value = d
            .get_var_unexpanded(name)
            .ok()
            .flatten()
            .unwrap_or_default();
        writeln!(out, "\npython {name} () {{\n{value}}}\n")?;
    }
    Ok(())
}

/// BitBake's quoting of a value inside double quotes.
fn shell_escape(value: &str) -> String {
    value
        .replace('"', "\\\"")
        .replace('`', "\\`")
        .replace('\n', " \\\n")
        .replace('$', "\\$")
}

fn write_json(
    out: &mut dyn Write,
    d: &DataStore,
    names: &[String],
    outcome: &Outcome,
    tasks: Option<BTreeMap<String, JsonTask>>,
) -> Result<()> {
    let mut report = JsonEnv {
        tasks,
        variables: BTreeMap::new(),
        flags: BTreeMap::new(),
        skipped: match outcome {
            Outcome::Skipped(reason) => Some(reason.clone()),
            Outcome::Parsed => None,
        },
        expansion_errors: BTreeMap::new(),
    };
    for name in names {
        // As `bitbake -e`, a name set by python after key expansion (e.g.
        // `ALLOW_EMPTY:${PN}-x`) is shown expanded.
        let shown = d.expand(name).unwrap_or_else(|_| name.clone());
        match d.get_var(name) {
            Ok(Some(value)) => {
                report.variables.insert(shown, value);
            }
            Ok(None) => {}
            Err(error) => {
                report.expansion_errors.insert(shown, error.message);
            }
        }
        let flags: BTreeMap<String, String> = d
            .flags(name)
            .into_iter()
            .map(|(f, v)| (f, v.to_python_str()))
            .collect();
        if !flags.is_empty() {
            report.flags.insert(name.clone(), flags);
        }
    }
    serde_json::to_writer(&mut *out, &report)?;
    writeln!(out)?;
    Ok(())
}
