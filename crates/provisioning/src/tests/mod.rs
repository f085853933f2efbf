//! Unit tests; the clock is a plain integer everywhere.

mod binding;
mod dynreg;
mod harness;
mod session;

use serde_json::Value;

/// The vectors copied from the shared `tencent-cloud.json`.
fn vector(id: &str) -> Value {
    let all: Value = serde_json::from_str(include_str!("../../tests/data/vectors.json")).unwrap();
    all["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|vector| vector["id"] == id)
        .unwrap_or_else(|| panic!("vector {id} missing"))
        .clone()
}
