//! `_bitzel_fetch`: the Rust fetcher ([`crate::fetch`]) as a native python
//! module, for our `bb.fetch2`.
//!
//! Python passes plain values read from `d` (a `config` dict, URL text,
//! checksum flags, revisions) and gets plain values back. Every failure is
//! raised as `_bitzel_fetch.Failure(class_name, message, subject)`, which
//! `bb.fetch2` turns into the exception class named. Long-running work
//! (downloads, git, unpacking, patching) runs with the interpreter lock
//! released.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyModule, PyTuple};

use crate::fetch::{self, FetchConfig, FetchError, MissingChecksum, Report, Source};

pyo3::create_exception!(_bitzel_fetch, Failure, pyo3::exceptions::PyException);

fn raise(error: FetchError) -> PyErr {
    let subject = error.subject().to_string();
    Failure::new_err((error.python_class(), error.to_string(), subject))
}

/// The module, to be registered as `_bitzel_fetch`.
pub fn module(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    let module = PyModule::new(py, "_bitzel_fetch")?;
    module.add("Failure", py.get_type::<Failure>())?;
    module.add_function(wrap_pyfunction!(decodeurl, &module)?)?;
    module.add_function(wrap_pyfunction!(encodeurl, &module)?)?;
    module.add_function(wrap_pyfunction!(local_search, &module)?)?;
    module.add_function(wrap_pyfunction!(localpath, &module)?)?;
    module.add_function(wrap_pyfunction!(download, &module)?)?;
    module.add_function(wrap_pyfunction!(unpack, &module)?)?;
    module.add_function(wrap_pyfunction!(patch_plan, &module)?)?;
    module.add_function(wrap_pyfunction!(apply_patches, &module)?)?;
    Ok(module)
}

/// `decodeurl(url) -> (scheme, host, path, user, password, params)`.
#[pyfunction]
fn decodeurl<'py>(py: Python<'py>, url: &str) -> PyResult<Bound<'py, PyTuple>> {
    let url = fetch::Url::parse(url).map_err(raise)?;
    let params = PyDict::new(py);
    for (key, value) in url.params.iter() {
        params.set_item(key, value)?;
    }
    PyTuple::new(
        py,
        [
            url.scheme.into_pyobject(py)?.into_any(),
            url.host.into_pyobject(py)?.into_any(),
            url.path.into_pyobject(py)?.into_any(),
            url.user.into_pyobject(py)?.into_any(),
            url.password.into_pyobject(py)?.into_any(),
            params.into_any(),
        ],
    )
}

/// `encodeurl(scheme, host, path, user, password, [(key, value), ...])`.
#[pyfunction]
fn encodeurl(
    scheme: String,
    host: String,
    path: String,
    user: String,
    password: String,
    params: Vec<(String, Option<String>)>,
) -> PyResult<String> {
    fetch::Url {
        scheme,
        host,
        path,
        user,
        password,
        params: params.into_iter().collect(),
    }
    .encode()
    .map_err(raise)
}

/// `local_search(path, filespath) -> (found or "", [searched...])`, as
/// `bb.utils.which(FILESPATH, path, history=True)`.
#[pyfunction]
fn local_search(path: &str, filespath: &str) -> (String, Vec<String>) {
    let search = fetch::local_search(path, filespath);
    (
        search
            .found
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        search
            .searched
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
    )
}

fn get_str(config: &Bound<'_, PyDict>, key: &str) -> PyResult<Option<String>> {
    match config.get_item(key)? {
        Some(value) if !value.is_none() => Ok(Some(value.extract::<String>()?)),
        _ => Ok(None),
    }
}

fn get_bool(config: &Bound<'_, PyDict>, key: &str) -> PyResult<bool> {
    match get_str(config, key)? {
        None => Ok(false),
        Some(v) => fetch::to_boolean(Some(&v), false).map_err(|e| {
            raise(FetchError::Parameter {
                url: key.to_string(),
                message: e,
            })
        }),
    }
}

/// The fetch settings from the dict `bb.fetch2` builds out of `d`, and
/// the warnings reading them gave.
fn config_from(config: &Bound<'_, PyDict>) -> PyResult<(FetchConfig, Vec<String>)> {
    let mut warnings = Vec::new();
    let mut rules = |key: &str| -> PyResult<Vec<fetch::MirrorRule>> {
        let (rules, warning) =
            fetch::mirror::parse_rules(&get_str(config, key)?.unwrap_or_default());
        warnings.extend(warning.map(|w| format!("{key}: {w}")));
        Ok(rules)
    };
    let premirrors = rules("premirrors")?;
    let mirrors = rules("mirrors")?;
    let config = FetchConfig {
        dl_dir: PathBuf::from(get_str(config, "dl_dir")?.unwrap_or_default()),
        filespath: get_str(config, "filespath")?.unwrap_or_default(),
        premirrors,
        mirrors,
        no_network: get_bool(config, "no_network")?,
        premirror_only: get_bool(config, "premirror_only")?,
        missing_checksum: MissingChecksum::from_setting(
            &get_str(config, "strict_checksum")?.unwrap_or_default(),
        ),
        allowed_networks: get_str(config, "allowed_networks")?,
        git_dir: get_str(config, "git_dir")?
            .filter(|s| !s.is_empty())
            .map(PathBuf::from),
        git_default_destsuffix: get_str(config, "git_default_destsuffix")?,
        tool_path: get_str(config, "tool_path")?,
    };
    Ok((config, warnings))
}

fn source_from(
    url: &str,
    checksum_flags: Option<HashMap<String, String>>,
    revision: Option<String>,
) -> PyResult<Source> {
    Source::new(url, &checksum_flags.unwrap_or_default(), revision).map_err(raise)
}

fn report_tuple<'py>(py: Python<'py>, report: Report) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(
        py,
        [
            PyList::new(py, report.warnings)?.into_any(),
            PyList::new(py, report.notes)?.into_any(),
        ],
    )
}

/// `localpath(url, config, revision=None) -> str`.
#[pyfunction]
#[pyo3(signature = (url, config, revision=None))]
fn localpath(url: &str, config: &Bound<'_, PyDict>, revision: Option<String>) -> PyResult<String> {
    let (config, _) = config_from(config)?;
    let source = source_from(url, None, revision)?;
    fetch::localpath(&source, &config)
        .map(|p| p.display().to_string())
        .map_err(raise)
}

/// `download(url, config, checksum_flags, revision=None) ->
/// (localpath, warnings, notes)`.
#[pyfunction]
#[pyo3(signature = (url, config, checksum_flags=None, revision=None))]
fn download<'py>(
    py: Python<'py>,
    url: &str,
    config: &Bound<'py, PyDict>,
    checksum_flags: Option<HashMap<String, String>>,
    revision: Option<String>,
) -> PyResult<Bound<'py, PyTuple>> {
    let (config, warnings) = config_from(config)?;
    let source = source_from(url, checksum_flags, revision)?;
    let mut report = Report {
        warnings,
        notes: Vec::new(),
    };
    let path = py
        .detach(|| fetch::fetch(&source, &config, &mut report))
        .map_err(raise)?;
    let (warnings, notes) = (report.warnings, report.notes);
    PyTuple::new(
        py,
        [
            path.display().to_string().into_pyobject(py)?.into_any(),
            PyList::new(py, warnings)?.into_any(),
            PyList::new(py, notes)?.into_any(),
        ],
    )
}

/// `unpack(url, config, root, revision=None) -> (warnings, notes)`.
#[pyfunction]
#[pyo3(signature = (url, config, root, revision=None))]
fn unpack<'py>(
    py: Python<'py>,
    url: &str,
    config: &Bound<'py, PyDict>,
    root: &str,
    revision: Option<String>,
) -> PyResult<Bound<'py, PyTuple>> {
    let (config, warnings) = config_from(config)?;
    let source = source_from(url, None, revision)?;
    let mut report = Report {
        warnings,
        notes: Vec::new(),
    };
    let root = Path::new(root);
    py.detach(|| fetch::unpack_source(&source, &config, root, &mut report))
        .map_err(raise)?;
    report_tuple(py, report)
}

/// `patch_plan(urls) -> [(name, file, striplevel, patchdir), ...]`.
#[pyfunction]
fn patch_plan(urls: Vec<String>) -> PyResult<Vec<(String, String, String, String)>> {
    Ok(fetch::patch::plan(&urls)
        .map_err(raise)?
        .into_iter()
        .map(|s| (s.name, s.file, s.striplevel, s.patchdir))
        .collect())
}

/// `apply_patches(urls, source_dir, unpack_dir, tool_path=None) ->
/// [log lines]`: the patches among `urls`, applied in order.
#[pyfunction]
#[pyo3(signature = (urls, source_dir, unpack_dir, tool_path=None))]
fn apply_patches(
    py: Python<'_>,
    urls: Vec<String>,
    source_dir: &str,
    unpack_dir: &str,
    tool_path: Option<String>,
) -> PyResult<Vec<String>> {
    let steps = fetch::patch::plan(&urls).map_err(raise)?;
    let tree = fetch::patch::PatchTree {
        source_dir: Path::new(source_dir),
        unpack_dir: Path::new(unpack_dir),
        tool_path: tool_path.as_deref(),
    };
    py.detach(|| tree.apply(&steps)).map_err(raise)
}
