//! Datastores with the embedded interpreter, for tests of evaluation.

use std::sync::Arc;

use bitzel::datastore::python::EmbeddedPython;
use bitzel::datastore::{DataStore, PythonHost};

pub fn python() -> Arc<dyn PythonHost> {
    EmbeddedPython::start().expect("embedded python starts")
}

/// A datastore with python, holding `vars` as parse-time assignments.
pub fn store(vars: &[(&str, &str)]) -> DataStore {
    let mut d = DataStore::new();
    d.set_python(Some(python()));
    for (name, value) in vars {
        d.set_var_parse(name, value.to_string());
    }
    d
}

/// The expanded value of `name` ("" when unset).
pub fn get(d: &DataStore, name: &str) -> String {
    d.get_var(name).expect("expands").unwrap_or_default()
}
