//! `cargo xtask fuzz [--seconds N] [--build-only]`: build and run every cargo-fuzz target.
//!
//! cargo-fuzz passes `-Z` flags (sanitizer, coverage instrumentation), which only nightly
//! compilers accept. Instead of depending on a nightly toolchain being installed, the stable
//! toolchain is told to accept them with `RUSTC_BOOTSTRAP=1`; its x86_64 standard library
//! ships the AddressSanitizer runtime, so the default sanitizer works. Targets are discovered
//! with `cargo fuzz list`, so a new target in `fuzz/` joins CI without touching the xtask.
//! Each target runs for a bounded time, which makes the run a smoke test in CI and a quick
//! local check; long campaigns use `cargo fuzz run` directly.

use std::process::Command;

use crate::process::{self, Failure, Outcome};

/// Seconds each target runs when `--seconds` is not given.
const DEFAULT_SECONDS: u64 = 20;

/// What the developer asked for on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Options {
    seconds: u64,
    build_only: bool,
}

/// Builds all fuzz targets, then runs each for the requested time.
pub fn fuzz(arguments: &[String]) -> Outcome {
    let options = parse_options(arguments)?;
    let fuzz_directory = process::workspace_root().join("fuzz");
    if !fuzz_directory.join("Cargo.toml").is_file() {
        return Err(Failure::new(format!(
            "no fuzz workspace at {}",
            fuzz_directory.display()
        )));
    }
    install_cargo_fuzz()?;
    check_lock_file()?;

    let targets = list_targets()?;
    if targets.is_empty() {
        return Err(Failure::new("cargo fuzz list found no targets in fuzz/"));
    }
    eprintln!("fuzz: targets: {}", targets.join(", "));
    process::run(cargo_fuzz().args(["build", "--fuzz-dir", "fuzz"]))?;
    if options.build_only {
        return Ok(());
    }
    for target in &targets {
        let mut command = cargo_fuzz();
        command.args(["run", "--fuzz-dir", "fuzz", target, "--"]);
        command.arg(format!("-max_total_time={}", options.seconds));
        if let Some(dictionary) = dictionary_for(target) {
            command.arg(format!("-dict={dictionary}"));
        }
        process::run(&mut command)?;
    }
    eprintln!(
        "fuzz: {} target(s) ran {} s each without a failure",
        targets.len(),
        options.seconds
    );
    Ok(())
}

fn parse_options(arguments: &[String]) -> Outcome<Options> {
    let mut options = Options {
        seconds: DEFAULT_SECONDS,
        build_only: false,
    };
    let mut arguments = arguments.iter();
    while let Some(argument) = arguments.next() {
        match argument.as_str() {
            "--build-only" => options.build_only = true,
            "--seconds" => {
                let value = arguments
                    .next()
                    .ok_or_else(|| Failure::new("--seconds needs a value"))?;
                options.seconds = value
                    .parse()
                    .ok()
                    .filter(|seconds| *seconds > 0)
                    .ok_or_else(|| {
                        Failure::new(format!("--seconds: `{value}` is not a positive number"))
                    })?;
            }
            other => return Err(Failure::new(format!("fuzz: unknown argument `{other}`"))),
        }
    }
    Ok(options)
}

/// Returns `cargo fuzz` with the nightly-flag allowance, run from the workspace root.
fn cargo_fuzz() -> Command {
    let mut command = process::cargo();
    command.arg("fuzz").env("RUSTC_BOOTSTRAP", "1");
    command
}

fn install_cargo_fuzz() -> Outcome {
    if process::on_path("cargo-fuzz") {
        return Ok(());
    }
    eprintln!("fuzz: cargo-fuzz is missing; installing it");
    process::run(process::cargo().args(["install", "cargo-fuzz", "--locked"]))
}

/// cargo-fuzz has no `--locked` option, so the lock file is checked first: `cargo fetch
/// --locked` fails if `fuzz/Cargo.lock` would have to change, and then the build cannot
/// change it either.
fn check_lock_file() -> Outcome {
    let lock_file = process::workspace_root().join("fuzz/Cargo.lock");
    if !lock_file.is_file() {
        eprintln!(
            "fuzz: warning: fuzz/Cargo.lock is not committed; dependencies are resolved afresh"
        );
        return Ok(());
    }
    process::run(process::cargo().args(["fetch", "--locked", "--manifest-path", "fuzz/Cargo.toml"]))
}

fn list_targets() -> Outcome<Vec<String>> {
    let mut command = cargo_fuzz();
    command.args(["list", "--fuzz-dir", "fuzz"]);
    eprintln!("$ {}", process::describe(&command));
    let output = command.output()?;
    if !output.status.success() {
        return Err(Failure::new(format!(
            "cargo fuzz list failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(target_names(&String::from_utf8_lossy(&output.stdout)))
}

fn target_names(listing: &str) -> Vec<String> {
    listing
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Returns the libFuzzer dictionary for `target` (relative to the workspace root): its own
/// `fuzz/<target>.dict` or `fuzz/dict/<target>.dict` if there is one, otherwise the fuzz
/// workspace's only `*.dict` file if there is exactly one. A dictionary only biases mutation, so
/// a shared one costs a target little even where its tokens are less relevant.
fn dictionary_for(target: &str) -> Option<String> {
    let root = process::workspace_root();
    let own = [
        format!("fuzz/{target}.dict"),
        format!("fuzz/dict/{target}.dict"),
    ]
    .into_iter()
    .find(|candidate| root.join(candidate).is_file());
    own.or_else(|| {
        let shared: Vec<String> = std::fs::read_dir(root.join("fuzz"))
            .ok()?
            .filter_map(Result::ok)
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".dict"))
            .collect();
        match shared.as_slice() {
            [only] => Some(format!("fuzz/{only}")),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arguments(words: &[&str]) -> Vec<String> {
        words.iter().map(|word| (*word).to_owned()).collect()
    }

    #[test]
    fn defaults_run_each_target_for_twenty_seconds() {
        assert_eq!(
            parse_options(&[]).unwrap(),
            Options {
                seconds: 20,
                build_only: false
            }
        );
    }

    #[test]
    fn seconds_and_build_only_are_read() {
        let options = parse_options(&arguments(&["--seconds", "10", "--build-only"])).unwrap();
        assert_eq!(
            options,
            Options {
                seconds: 10,
                build_only: true
            }
        );
    }

    #[test]
    fn bad_seconds_are_refused() {
        assert!(parse_options(&arguments(&["--seconds"])).is_err());
        assert!(parse_options(&arguments(&["--seconds", "0"])).is_err());
        assert!(parse_options(&arguments(&["--seconds", "ten"])).is_err());
        assert!(parse_options(&arguments(&["--minutes", "1"])).is_err());
    }

    #[test]
    fn target_names_are_the_non_empty_lines_of_the_listing() {
        assert_eq!(
            target_names("at_parser_lines\n\nstorage_map\n"),
            ["at_parser_lines", "storage_map"]
        );
    }
}
