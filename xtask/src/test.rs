//! `cargo xtask test`: the project's one test command.
//!
//! The end-to-end tests spawn the `tc-at-module` binary, which cargo builds for the tests of
//! its own package, so a plain workspace test run covers unit, property and end-to-end tests.
//! The hub (`tools/hub`) is built first, because the module's tests against it need its binary.
//! Cargo's output goes straight to the terminal so its own `test result:` summary lines are
//! what the developer (and the CI log) sees.

use std::ffi::OsString;
use std::path::Path;

use crate::process::{self, Outcome};
use crate::tools;

/// Where Debian installs the broker: outside a normal user's `PATH`.
const SYSTEM_BINARIES: &str = "/usr/sbin";

/// Runs every test of the workspace with the committed lock file, after making sure the
/// system tools the tests shell out to are installed (`tools.rs`).
pub fn test(extra_arguments: &[String]) -> Outcome {
    tools::ensure(tools::TEST)?;
    build_hub(extra_arguments)?;
    let mut command = process::cargo();
    // `--no-fail-fast`: one failing test binary must not hide the results of the others.
    command.args(["test", "--workspace", "--locked", "--no-fail-fast"]);
    command.args(extra_arguments);
    if !process::on_path("mosquitto") && Path::new(SYSTEM_BINARIES).join("mosquitto").is_file() {
        // The tests find the broker by name, so give them Debian's location too.
        command.env("PATH", path_with(SYSTEM_BINARIES));
    }
    process::run(&mut command)
}

/// Builds `tc-at-hub` in the profile the tests use, before they run.
///
/// The module's tests against the hub (`boards/linux/tests/mqtt_hub.rs`) spawn it from the
/// module's own target directory. A workspace test build makes it too, but only as a side
/// effect of the hub's own integration tests; building it here keeps a filtered run (say
/// `cargo xtask test -p tc-at-linux`) from falling back to a build inside a running test.
fn build_hub(extra_arguments: &[String]) -> Outcome {
    let mut command = process::cargo();
    command.args([
        "build",
        "--locked",
        "--package",
        "tc-at-hub",
        "--bin",
        "tc-at-hub",
    ]);
    if extra_arguments
        .iter()
        .any(|argument| argument == "--release")
    {
        command.arg("--release");
    }
    process::run(&mut command)
}

/// Returns the current `PATH` with `directory` appended.
fn path_with(directory: &str) -> OsString {
    let mut directories: Vec<_> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    directories.push(directory.into());
    std::env::join_paths(directories).unwrap_or_else(|_| directory.into())
}
