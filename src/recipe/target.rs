//! Evaluating one target by its name (`FILE` or `virtual:VARIANT:FILE`):
//! the recipe with its appends on the configuration, finalised, and the
//! variant picked. For commands that computed a graph from the parse
//! cache and then need some recipes' whole datastores (to run tasks, to
//! record or explain signatures).
//!
//! Invariant: the configuration is parsed at most once per evaluator, and
//! only when a target is first evaluated.

use std::path::PathBuf;
use std::sync::Arc;

use super::bbfiles::{self, Collected};
use crate::datastore::{
    ConfigInput, DataStore, Evaluator, Layer, parse_configuration, parse_recipe,
};

/// `virtual:native:/path/x.bb` → (`native`, path); a plain file → (None,
/// path).
pub fn split_virtual(file: &str) -> (Option<String>, PathBuf) {
    if let Some(rest) = file.strip_prefix("virtual:")
        && let Some((variant, path)) = rest.split_once(':')
    {
        return (Some(variant.to_string()), PathBuf::from(path));
    }
    (None, PathBuf::from(file))
}

/// Evaluates targets on one configuration, parsed on first use.
pub struct TargetEvaluator<'e> {
    evaluator: &'e Evaluator,
    input: &'e ConfigInput,
    config: Option<(Arc<Layer>, Collected)>,
}

impl<'e> TargetEvaluator<'e> {
    pub fn new(evaluator: &'e Evaluator, input: &'e ConfigInput) -> TargetEvaluator<'e> {
        TargetEvaluator {
            evaluator,
            input,
            config: None,
        }
    }

    /// The finalised datastore of the target named `file`; errors as
    /// `path:line: message` text.
    pub fn evaluate(&mut self, file: &str) -> Result<DataStore, String> {
        if self.config.is_none() {
            let config = parse_configuration(self.evaluator, self.input)
                .map_err(|e| format!("{}: {}", e.path.display(), e.message))?;
            let collected = bbfiles::collect(&config).map_err(|e| e.to_string())?;
            self.config = Some((config.freeze_flat(), collected));
        }
        let Some((layer, collected)) = &self.config else {
            return Err("no configuration".into());
        };
        let (variant, path) = split_virtual(file);
        let appends = collected.appends_for(&path);
        let parsed = parse_recipe(self.evaluator, layer, &path, &appends)
            .map_err(|e| format!("{}:{}: {}", e.path.display(), e.line, e.message))?;
        match variant {
            None => Ok(parsed.base.datastore),
            Some(name) => parsed
                .variants
                .into_iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.datastore)
                .ok_or_else(|| format!("{}: no variant {name}", path.display())),
        }
    }
}
