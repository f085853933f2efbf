//! `cargo xtask fuzz [--seconds N] [--build-only]`: build and run every cargo-fuzz target.
//!
//! cargo-fuzz passes `-Z` flags (sanitizer, coverage instrumentation), which only nightly
//! compilers accept. Instead of depending on a nightly toolchain being installed, the stable
//! toolchain is told to accept them with `RUSTC_BOOTSTRAP=1`; its x86_64 standard library
//! ships the AddressSanitizer runtime, so the default sanitizer works. Targets are discovered
//! with `cargo fuzz list`, so a new target in `fuzz/` joins CI without touching the xtask.
//! Each target runs for a bounded time, which makes the run a smoke test in CI and a quick
//! local check; long campaigns use `cargo fuzz run` directly. libFuzzer's output is passed
//! through, and its final figures (executions, speed, coverage) are collected into one table at
//! the end, in the form `docs/fuzzing.md` records them.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

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
    let mut summaries = Vec::new();
    for target in &targets {
        let mut command = cargo_fuzz();
        command.args(["run", "--fuzz-dir", "fuzz", target, "--"]);
        command.arg(format!("-max_total_time={}", options.seconds));
        command.arg("-print_final_stats=1");
        if let Some(dictionary) = dictionary_for(target) {
            command.arg(format!("-dict={dictionary}"));
        }
        summaries.push((target.as_str(), run_and_summarise(&mut command)?));
    }
    eprintln!(
        "fuzz: {} target(s) ran {} s each without a failure",
        targets.len(),
        options.seconds
    );
    eprintln!("{}", summary_table(&summaries));
    Ok(())
}

/// What libFuzzer reported at the end of one run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Summary {
    runs: Option<u64>,
    executions_per_second: Option<u64>,
    coverage: Option<u64>,
    features: Option<u64>,
    corpus: Option<String>,
    peak_rss_mb: Option<u64>,
}

impl Summary {
    /// Takes what a line of libFuzzer's output says; later lines overwrite earlier ones,
    /// so the figures are those of the end of the run.
    fn read_line(&mut self, line: &str) {
        if let Some((name, value)) = line
            .strip_prefix("stat::")
            .and_then(|stat| stat.split_once(':'))
        {
            let value = value.trim().parse().ok();
            match name {
                "number_of_executed_units" => self.runs = value,
                "average_exec_per_sec" => self.executions_per_second = value,
                "peak_rss_mb" => self.peak_rss_mb = value,
                _ => {}
            }
            return;
        }
        // Status lines: `#1234 pulse  cov: 57 ft: 80 corp: 12/345b lim: 4 exec/s: ...`.
        if !line.starts_with('#') {
            return;
        }
        let mut words = line.split_whitespace();
        while let Some(word) = words.next() {
            match word {
                "cov:" => self.coverage = words.next().and_then(|value| value.parse().ok()),
                "ft:" => self.features = words.next().and_then(|value| value.parse().ok()),
                "corp:" => self.corpus = words.next().map(str::to_owned),
                _ => {}
            }
        }
    }
}

/// Runs `command`, passing its standard error through while reading libFuzzer's figures.
fn run_and_summarise(command: &mut Command) -> Outcome<Summary> {
    eprintln!("$ {}", process::describe(command));
    let mut child = command.stderr(Stdio::piped()).spawn()?;
    let mut summary = Summary::default();
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines() {
            let line = line?;
            eprintln!("{line}");
            summary.read_line(&line);
        }
    }
    let exit = child.wait()?;
    if exit.success() {
        Ok(summary)
    } else {
        Err(Failure::new(format!(
            "`{}` failed ({exit})",
            process::describe(command)
        )))
    }
}

/// The figures of every target as a Markdown table.
fn summary_table(summaries: &[(&str, Summary)]) -> String {
    let figure =
        |value: Option<u64>| value.map_or_else(|| "?".to_owned(), |value| value.to_string());
    let mut table = String::from(
        "| target | runs | execs/s | coverage (cov) | features (ft) | corpus (inputs/bytes) | peak RSS MB |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    for (target, summary) in summaries {
        table.push_str(&format!(
            "| {target} | {} | {} | {} | {} | {} | {} |\n",
            figure(summary.runs),
            figure(summary.executions_per_second),
            figure(summary.coverage),
            figure(summary.features),
            summary.corpus.as_deref().unwrap_or("?"),
            figure(summary.peak_rss_mb),
        ));
    }
    table
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
    fn summary_keeps_the_last_status_line_and_the_final_stats() {
        let mut summary = Summary::default();
        for line in [
            "INFO: Seed: 1234",
            "#2\tINITED cov: 10 ft: 11 corp: 1/1b exec/s: 0 rss: 30Mb",
            "#65536\tpulse  cov: 57 ft: 80 corp: 12/345b lim: 4 exec/s: 6553 rss: 40Mb",
            "#70000\tDONE   cov: 60 ft: 90 corp: 14/400b lim: 4 exec/s: 7000 rss: 41Mb",
            "stat::number_of_executed_units: 70000",
            "stat::average_exec_per_sec:     7000",
            "stat::peak_rss_mb:              41",
        ] {
            summary.read_line(line);
        }
        assert_eq!(
            summary,
            Summary {
                runs: Some(70_000),
                executions_per_second: Some(7_000),
                coverage: Some(60),
                features: Some(90),
                corpus: Some("14/400b".to_owned()),
                peak_rss_mb: Some(41),
            }
        );
        let table = summary_table(&[("tls_client", summary)]);
        assert!(table.ends_with("| tls_client | 70000 | 7000 | 60 | 90 | 14/400b | 41 |\n"));
    }

    #[test]
    fn target_names_are_the_non_empty_lines_of_the_listing() {
        assert_eq!(
            target_names("at_parser_lines\n\nstorage_map\n"),
            ["at_parser_lines", "storage_map"]
        );
    }
}
