//! The two drivers of evaluation: the configuration phase (spec §14.1) and
//! parsing one recipe with its appends, finalisation and `BBCLASSEXTEND`
//! variants (spec §16, §17).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{DataStore, EvalError, Evaluator, FlagValue, Layer, Outcome};

/// What the configuration phase starts from.
#[derive(Debug, Clone, Default)]
pub struct ConfigInput {
    /// The build directory (`TOPDIR`), where `conf/bblayers.conf` is looked for.
    pub topdir: PathBuf,
    /// Environment variables passed into the datastore (`BBPATH`, `HOME`, ...).
    pub env: Vec<(String, String)>,
}

impl ConfigInput {
    /// The build directory for a command run in `cwd`: the nearest
    /// directory, `cwd` or above, holding `conf/bblayers.conf` (as BitBake
    /// finds it), else `cwd` itself.
    pub fn find_topdir(cwd: &Path) -> PathBuf {
        cwd.ancestors()
            .find(|dir| dir.join("conf/bblayers.conf").is_file())
            .unwrap_or(cwd)
            .to_path_buf()
    }

    /// The environment variables that reach the datastore directly (BitBake's
    /// pass-through list and `BB_ENV_PASSTHROUGH_ADDITIONS`), sorted.
    pub fn passed_through(&self) -> Vec<(String, String)> {
        let additions: Vec<&str> = self
            .env
            .iter()
            .find(|(k, _)| k == "BB_ENV_PASSTHROUGH_ADDITIONS")
            .map(|(_, v)| v.split_whitespace().collect())
            .unwrap_or_default();
        let mut env: Vec<(String, String)> = self
            .env
            .iter()
            .filter(|(k, _)| PASSTHROUGH.contains(&k.as_str()) || additions.contains(&k.as_str()))
            .cloned()
            .collect();
        env.sort();
        env
    }
}

/// Variables of the environment BitBake passes through by default, and
/// those of them it also exports (spec §14.1).
const PASSTHROUGH: &[&str] = &[
    "BBPATH",
    "BB_PRESERVE_ENV",
    "BB_ENV_PASSTHROUGH_ADDITIONS",
    "BB_TASKHASH",
    "HOME",
    "LOGNAME",
    "PATH",
    "PWD",
    "SHELL",
    "USER",
    "LC_ALL",
    "BBSERVER",
];
/// The second group of `PASSTHROUGH`, from `BB_TASKHASH` on, is exported.
const PASSTHROUGH_EXPORTED: &[&str] = PASSTHROUGH.split_at(3).1;

fn config_error(path: &Path, message: impl Into<String>) -> EvalError {
    EvalError {
        path: path.to_path_buf(),
        line: 0,
        message: message.into(),
    }
}

/// Builds the configuration datastore: environment, `bblayers.conf` and
/// each layer's `layer.conf`, `bitbake.conf` along `BBPATH`, then the
/// `base` class and every class in `INHERIT`.
pub fn parse_configuration(
    evaluator: &Evaluator,
    input: &ConfigInput,
) -> Result<DataStore, EvalError> {
    let mut d = DataStore::new();
    d.set_python(evaluator.python().cloned());
    for (name, value) in input.passed_through() {
        d.set_var_python(&name, value);
        if PASSTHROUGH_EXPORTED.contains(&name.as_str()) {
            d.set_var_flag(&name, "export", FlagValue::Int(1));
        }
    }

    if let Some(python) = evaluator.python() {
        let object = python
            .environment_object(&input.env)
            .map_err(|e| config_error(&input.topdir, e))?;
        d.set_var_python("BB_ORIGENV", "<bb.data_smart.DataSmart object>".into());
        d.set_object("BB_ORIGENV", object);
    }
    d.set_var_python("__bbclasstype", "global".into());
    d.set_var_python("BB_CURRENT_MC", String::new());
    let topdir = input.topdir.clone();
    let bblayers = topdir.join("conf/bblayers.conf");
    if bblayers.is_file() {
        d.set_var_python("TOPDIR", topdir.display().to_string());
        evaluator.eval_file(&mut d, &bblayers)?;
        if d.get_var("BB_CACHEDIR").ok().flatten().is_none() {
            d.set_var_python("BB_CACHEDIR", "${TOPDIR}/cache".into());
        }
        parse_layers(evaluator, &mut d, &bblayers)?;
    }
    let Some(bbpath) = d
        .get_var("BBPATH")
        .map_err(|e| config_error(&topdir, e.to_string()))?
    else {
        return Err(config_error(
            &topdir,
            "the BBPATH variable is not set and there is no conf/bblayers.conf here: run bitzel from a build directory",
        ));
    };
    if d.get_var("TOPDIR").ok().flatten().is_none() {
        d.set_var_python("TOPDIR", topdir.display().to_string());
    }
    if d.get_var("BB_CACHEDIR").ok().flatten().is_none() {
        d.set_var_python("BB_CACHEDIR", "${TOPDIR}/cache".into());
    }
    let mut bitbake_conf = None;
    for entry in bbpath.split(':') {
        let candidate = Path::new(entry).join("conf/bitbake.conf");
        super::eval::mark_dependency(&mut d, &candidate);
        let on_disk = if entry.is_empty() {
            topdir.join("conf/bitbake.conf")
        } else {
            candidate
        };
        if on_disk.is_file() {
            bitbake_conf = Some(on_disk);
            break;
        }
    }
    let bitbake_conf = bitbake_conf
        .ok_or_else(|| config_error(&topdir, "conf/bitbake.conf is in no BBPATH directory"))?;
    evaluator.eval_file(&mut d, &bitbake_conf)?;
    // spec §13.2: FILE in the configuration is the first top-level file.
    let first = if bblayers.is_file() {
        &bblayers
    } else {
        &bitbake_conf
    };
    d.set_var_python("FILE", first.display().to_string());

    // The list is read once, before `base` is inherited.
    let inherit = d
        .get_var("INHERIT")
        .map_err(|e| config_error(&bitbake_conf, e.to_string()))?
        .unwrap_or_default();
    let from = Path::new("configuration INHERITs");
    for class in std::iter::once("base").chain(inherit.split_whitespace()) {
        evaluator.inherit(&mut d, class, from, 0, false)?;
    }
    super::eval::set_bbincluded(&mut d);
    evaluator.config_parsed(&mut d, &bitbake_conf)?;
    // Recipes list the configuration's files apart from their own.
    let depends = d.list_var("__depends");
    d.set_list_var("__base_depends", depends);
    d.del_var("__depends");
    d.set_var_python("__bbclasstype", "recipe".into());
    Ok(d)
}

/// `BBLAYERS` (spec §14.1): each layer's `conf/layer.conf` with
/// `LAYERDIR` set, the literal `${LAYERDIR}` in what the layers wrote then
/// replaced by the layer's path, `LAYERSERIES_COMPAT_*` checked,
/// `BBFILES_DYNAMIC` applied.
fn parse_layers(
    evaluator: &Evaluator,
    d: &mut DataStore,
    bblayers: &Path,
) -> Result<(), EvalError> {
    let err = |message: String| config_error(bblayers, message);
    let layers = d
        .get_var("BBLAYERS")
        .map_err(|e| err(e.to_string()))?
        .unwrap_or_default();
    let layers: Vec<String> = layers
        .split_whitespace()
        .map(|l| l.trim_end_matches('/').to_string())
        .collect();
    if layers.is_empty() {
        return Err(err("conf/bblayers.conf sets no BBLAYERS".into()));
    }
    let broken: Vec<&String> = layers
        .iter()
        .filter(|l| !Path::new(l.as_str()).is_dir())
        .collect();
    if !broken.is_empty() {
        let list: Vec<&str> = broken.iter().map(|l| l.as_str()).collect();
        return Err(err(format!(
            "BBLAYERS in {1} names directories that do not exist: {0}",
            list.join(" "),
            bblayers.display()
        )));
    }
    // Everything the layers write lands in this copy, whose local keys are
    // what `${LAYERDIR}` is replaced in.
    let mut data = d.create_copy();
    let mut series_compat: Vec<(String, Vec<String>)> = Vec::new();
    let mut core_series: Option<Vec<String>> = None;
    for layer in &layers {
        data.set_var_python("LAYERDIR", layer.clone());
        data.set_var_python("LAYERDIR_RE", regex::escape(layer));
        evaluator.eval_file(&mut data, &Path::new(layer).join("conf/layer.conf"))?;
        for variable in ["LAYERDIR", "LAYERDIR_RE"] {
            let reference = format!("${{{variable}}}");
            let value = data.raw_value(variable).unwrap_or_default().to_string();
            for key in data.local_keys() {
                let current = data
                    .get_var_unexpanded(&key)
                    .map_err(|e| err(e.to_string()))?;
                if let Some(current) = current.filter(|v| v.contains(&reference)) {
                    data.set_var_python(&key, current.replace(&reference, &value));
                }
            }
        }
        let collections = data
            .get_var("BBFILE_COLLECTIONS")
            .map_err(|e| err(e.to_string()))?
            .unwrap_or_default();
        for collection in collections.split_whitespace() {
            let name = format!("LAYERSERIES_COMPAT_{collection}");
            if let Some(entry) = data
                .get_var(&name)
                .map_err(|e| err(e.to_string()))?
                .filter(|v| !v.is_empty())
            {
                let words: Vec<String> = entry.split_whitespace().map(str::to_string).collect();
                match series_compat.iter_mut().find(|(c, _)| c == collection) {
                    Some(slot) => slot.1 = words,
                    None => series_compat.push((collection.to_string(), words)),
                }
                data.del_var(&name);
            }
        }
        if core_series.as_ref().is_none_or(|s| s.is_empty()) {
            let names = data
                .get_var("LAYERSERIES_CORENAMES")
                .map_err(|e| err(e.to_string()))?
                .unwrap_or_default();
            let names: Vec<String> = names.split_whitespace().map(str::to_string).collect();
            if !names.is_empty() {
                data.del_var("LAYERSERIES_CORENAMES");
            }
            core_series = Some(names);
        }
    }
    data.del_var("LAYERDIR_RE");
    data.del_var("LAYERDIR");
    for (collection, words) in &series_compat {
        let mut sorted = words.clone();
        sorted.sort();
        sorted.dedup();
        data.set_var_python(
            &format!("LAYERSERIES_COMPAT_{collection}"),
            sorted.join(" "),
        );
    }
    let collections: Vec<String> = data
        .get_var("BBFILE_COLLECTIONS")
        .map_err(|e| err(e.to_string()))?
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let dynamic = data
        .get_var("BBFILES_DYNAMIC")
        .map_err(|e| err(e.to_string()))?
        .unwrap_or_default();
    let mut invalid = Vec::new();
    for entry in dynamic.split_whitespace() {
        let Some((layer, pattern)) = entry.split_once(':') else {
            invalid.push(entry.to_string());
            continue;
        };
        let (inverted, layer) = match layer.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, layer),
        };
        if collections.iter().any(|c| c == layer) != inverted {
            data.append_var("BBFILES", format!(" {pattern}"));
        }
    }
    if !invalid.is_empty() {
        return Err(err(format!(
            "BBFILES_DYNAMIC entries take the form [!]collection:pattern; these do not: {}",
            invalid.join(" ")
        )));
    }
    let mut core = core_series.unwrap_or_default();
    core.sort();
    core.dedup();
    for (idx, collection) in collections.iter().enumerate() {
        if collections[idx + 1..].contains(collection) {
            return Err(err(format!(
                "collection `{collection}` is listed twice in BBFILE_COLLECTIONS (check bblayers.conf and the layers' layer.conf)"
            )));
        }
        let compat = series_compat
            .iter()
            .find(|(c, _)| c == collection)
            .map(|(_, w)| w.clone())
            .unwrap_or_default();
        if !compat.is_empty() && core.is_empty() {
            return Err(err(format!(
                "layer `{collection}` sets LAYERSERIES_COMPAT but no layer sets LAYERSERIES_CORENAMES: is the core layer missing from BBLAYERS?"
            )));
        }
        if !compat.is_empty() && !compat.iter().any(|s| core.contains(s)) {
            return Err(err(format!(
                "layer `{collection}` supports the series {1}, the core layer only {0}: the layer is not compatible",
                core.join(" "),
                compat.join(" ")
            )));
        }
    }
    data.set_var_python("LAYERSERIES_CORENAMES", core.join(" "));
    *d = data;
    Ok(())
}

/// One parsed recipe: the base and each `BBCLASSEXTEND` variant.
pub struct ParsedRecipe {
    pub base: FinalisedRecipe,
    /// `(variant name, recipe)` in `BBCLASSEXTEND` order.
    pub variants: Vec<(String, FinalisedRecipe)>,
}

pub struct FinalisedRecipe {
    pub datastore: DataStore,
    pub outcome: Outcome,
}

/// Parses `recipe` with its `appends` on a copy of the configuration
/// `config`, finalises it, and builds its `BBCLASSEXTEND` variants from the
/// pre-finalisation datastore.
pub fn parse_recipe(
    evaluator: &Evaluator,
    config: &Arc<Layer>,
    recipe: &Path,
    appends: &[PathBuf],
) -> Result<ParsedRecipe, EvalError> {
    let mut base = None;
    let mut variants = Vec::new();
    parse_recipe_each(evaluator, config, recipe, appends, |variant, finalised| {
        match variant {
            None => base = Some(finalised),
            Some(name) => variants.push((name.to_string(), finalised)),
        }
        Ok(())
    })?;
    let base = base.ok_or_else(|| config_error(recipe, "the recipe was not finalised"))?;
    Ok(ParsedRecipe { base, variants })
}

/// [`parse_recipe`], handing each finalised target to `each` as soon as it
/// is finalised (the base recipe with `None`, then each variant by name in
/// `BBCLASSEXTEND` order) instead of keeping them all: a recipe may have a
/// hundred variants (`core-image-ptest`). The base recipe's
/// `BBCLASSEXTEND` and `PN` are read before `each` sees it. The first
/// error, of evaluation or of `each`, ends the parse.
pub fn parse_recipe_each(
    evaluator: &Evaluator,
    config: &Arc<Layer>,
    recipe: &Path,
    appends: &[PathBuf],
    mut each: impl FnMut(Option<&str>, FinalisedRecipe) -> Result<(), EvalError>,
) -> Result<(), EvalError> {
    let mut d = DataStore::child(config.clone(), evaluator.python().cloned());
    let shown = recipe.display().to_string();
    d.set_var_python("__BB_RECIPE_FILE", shown.clone());
    if let Some(layer) = evaluator.file_layer(&d, recipe) {
        d.set_var_python("FILE_LAYERNAME", layer);
    }
    d.set_var_python(
        "__BBAPPEND",
        appends
            .iter()
            .map(|a| a.display().to_string())
            .collect::<Vec<_>>()
            .join(" "),
    );
    evaluator.eval_file(&mut d, recipe)?;
    for append in appends {
        evaluator.eval_file(&mut d, append)?;
    }
    d.set_var_python("FILE", shown);
    let python = d.python().cloned();
    let seed = d.take_caches();
    let pre_finalise = d.freeze();

    // Each target starts with what the recipe expanded: a write of
    // finalisation drops only what read it.
    let mut base = DataStore::child(pre_finalise.clone(), python.clone());
    base.adopt_caches(&seed);
    let outcome = evaluator.finalise(&mut base, recipe)?;
    let extend = base
        .get_var("BBCLASSEXTEND")
        .map_err(|e| config_error(recipe, e.to_string()))?
        .unwrap_or_default();
    let pn = base
        .get_var("PN")
        .map_err(|e| config_error(recipe, e.to_string()))?
        .unwrap_or_default();
    each(
        None,
        FinalisedRecipe {
            datastore: base,
            outcome,
        },
    )?;
    for extension in extend.split_whitespace() {
        let mut variant = DataStore::child(pre_finalise.clone(), python.clone());
        variant.adopt_caches(&seed);
        let class = match extension.split_once(':') {
            Some((class, arg)) => {
                variant.set_var_python("BBEXTENDCURR", class.to_string());
                variant.set_var_python("BBEXTENDVARIANT", arg.to_string());
                class.to_string()
            }
            None => {
                variant.set_var_python("PN", format!("{pn}-{extension}"));
                extension.to_string()
            }
        };
        let mut queue = variant.list_var("__BBDEFINHERITS");
        queue.push(format!("{class}\u{0}{}\u{0}0", recipe.display()));
        variant.set_list_var("__BBDEFINHERITS", queue);
        let outcome = evaluator.finalise(&mut variant, recipe)?;
        each(
            Some(extension),
            FinalisedRecipe {
                datastore: variant,
                outcome,
            },
        )?;
    }
    Ok(())
}
