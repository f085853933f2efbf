//! `cargo xtask test`: the project's one test command.
//!
//! The end-to-end tests spawn the `tc-at-module` binary, which cargo builds for the tests of
//! its own package, so a plain workspace test run covers unit, property and end-to-end tests.
//! Cargo's output goes straight to the terminal so its own `test result:` summary lines are
//! what the developer (and the CI log) sees.

use crate::process::{self, Outcome};

/// Runs every test of the workspace with the committed lock file.
pub fn test(extra_arguments: &[String]) -> Outcome {
    if !process::on_path("mosquitto") {
        // Only the broker-backed tests need it; they are expected to say so themselves.
        eprintln!(
            "note: `mosquitto` is not on PATH; tests that need a local broker cannot use one"
        );
    }
    let mut command = process::cargo();
    // `--no-fail-fast`: one failing test binary must not hide the results of the others.
    command.args(["test", "--workspace", "--locked", "--no-fail-fast"]);
    command.args(extra_arguments);
    process::run(&mut command)
}
