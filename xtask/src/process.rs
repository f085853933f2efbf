//! Child-process plumbing shared by every subcommand.
//!
//! Every step of the xtask is "run this program, show what was run, stop on failure". Keeping
//! that in one place means each subcommand reads as a list of steps, and the echoed command
//! lines let a developer copy any failing step out of a CI log and run it by hand.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

/// A failed step: what went wrong, in words a developer can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    message: String,
}

impl Failure {
    /// Creates a failure carrying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        Self::new(error.to_string())
    }
}

/// The result type of every xtask step.
pub type Outcome<T = ()> = Result<T, Failure>;

/// Returns the workspace root (the parent of the xtask crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Returns a `cargo` command for the toolchain that runs the xtask, rooted at the workspace.
///
/// `CARGO` is set by cargo itself when it runs the xtask, so the same toolchain builds the
/// project even when several are installed.
pub fn cargo() -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(program);
    command.current_dir(workspace_root());
    command
}

/// Renders `command` the way a shell user would type it (environment overrides included).
pub fn describe(command: &Command) -> String {
    let mut parts = Vec::new();
    for (key, value) in command.get_envs() {
        if let Some(value) = value {
            parts.push(format!(
                "{}={}",
                key.to_string_lossy(),
                value.to_string_lossy()
            ));
        }
    }
    parts.push(command.get_program().to_string_lossy().into_owned());
    parts.extend(
        command
            .get_args()
            .map(|argument| argument.to_string_lossy().into_owned()),
    );
    parts.join(" ")
}

/// Runs `command` with inherited stdio after echoing it, and returns its exit status.
pub fn status(command: &mut Command) -> Outcome<ExitStatus> {
    eprintln!("$ {}", describe(command));
    command.status().map_err(|error| {
        Failure::new(format!(
            "could not start `{}`: {error}",
            command.get_program().to_string_lossy()
        ))
    })
}

/// Runs `command` with inherited stdio and fails unless it exits successfully.
pub fn run(command: &mut Command) -> Outcome {
    let exit = status(command)?;
    if exit.success() {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "`{}` failed ({exit})",
            describe(command)
        )))
    }
}

/// Reports whether `program` can be found on `PATH`.
pub fn on_path(program: &str) -> bool {
    find_on_path(program).is_some()
}

/// Returns the full path of `program` if it is on `PATH`.
pub fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|directory| directory.join(program))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_shows_environment_program_and_arguments() {
        let mut command = Command::new("cargo");
        command
            .env("RUSTC_BOOTSTRAP", "1")
            .args(["build", "--locked"]);
        assert_eq!(describe(&command), "RUSTC_BOOTSTRAP=1 cargo build --locked");
    }

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        assert!(workspace_root().join("Cargo.toml").is_file());
        assert!(workspace_root().join("xtask").is_dir());
    }

    #[test]
    fn run_reports_a_failing_command() {
        let failure = run(&mut Command::new("false")).unwrap_err();
        assert!(failure.to_string().contains("`false` failed"));
    }
}
