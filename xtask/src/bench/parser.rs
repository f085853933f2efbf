//! The AT receive path's figures: instructions per received byte and wall-clock throughput.
//!
//! Two figures, because each hides what the other shows. Instructions per byte, counted by
//! callgrind, are the same on every x86_64 machine and move only when the code does, so they
//! are what to compare across commits and what the goals are set in. (They are x86_64 counts,
//! not RISC-V ones, but an algorithmic change moves both.) Wall-clock bytes per second (best of
//! several runs, so scheduler noise only ever makes a run slower) is what a developer feels.
//!
//! Each figure is taken at three UART read sizes, because the cost per byte of a framer that
//! rescans grows with the number of reads per line: 64 bytes (a FIFO/DMA chunk), 16 bytes and
//! 1 byte (an interrupt per byte). Process start-up and building the input are excluded by
//! counting one run with one pass over the input and one with three passes, and dividing the
//! difference by the bytes of two passes.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use super::workload::{self, Session};
use crate::process::{self, Failure, Outcome};

/// One UART read size and its bounds in instructions per byte.
struct Read {
    bytes: usize,
    /// Issue 9's goal, where it sets one.
    goal: Option<f64>,
    /// Above this the command fails: a regression guard a little above today's figure (the
    /// goal itself where it is met).
    ceiling: f64,
}

/// The read sizes measured: a FIFO/DMA chunk, a small FIFO, and an interrupt per byte.
const READS: [Read; 3] = [
    Read {
        bytes: 64,
        goal: Some(20.0),
        ceiling: 20.0,
    },
    Read {
        bytes: 16,
        goal: None,
        ceiling: 27.0,
    },
    Read {
        bytes: 1,
        goal: Some(40.0),
        ceiling: 40.0,
    },
];
/// Rounds of the session in the timed stream (about 0.6 MB).
const WALL_ROUNDS: usize = 256;
/// Timed repetitions; the fastest one is reported.
const WALL_REPETITIONS: usize = 9;
/// Rounds of the session in the stream that callgrind runs over (about 38 KB per pass).
const CALLGRIND_ROUNDS: usize = 16;

/// Reports both figures at every read size from the release build `executable` of this xtask,
/// and fails when a read size costs more instructions per byte than its ceiling.
pub fn figures(executable: &Path) -> Outcome {
    process::run(Command::new(executable).arg("bench-wall"))?;
    if !process::on_path("valgrind") {
        return Err(Failure::new(
            "valgrind is not installed (apt-get install valgrind); it counts the instructions",
        ));
    }
    let stream_bytes = workload::stream(CALLGRIND_ROUNDS).len() as u64;
    let counted_bytes = 2 * stream_bytes;
    let mut over_ceiling = Vec::new();
    for read in &READS {
        let chunk = read.bytes;
        let one = callgrind_total(executable, chunk, 1)?;
        let three = callgrind_total(executable, chunk, 3)?;
        let instructions = three
            .checked_sub(one)
            .ok_or_else(|| Failure::new("callgrind counted fewer instructions for more passes"))?;
        let per_byte = instructions as f64 / counted_bytes as f64;
        let goal = match read.goal {
            Some(goal) if per_byte <= goal => format!("goal <= {goal}: met"),
            Some(goal) => format!("goal <= {goal}: NOT met"),
            None => "no goal".to_owned(),
        };
        println!(
            "at receive path, {chunk:>2}-byte reads: {per_byte:.1} instructions/byte ({goal}; fails above {}), {:.0} instructions/line; {instructions} Ir for {counted_bytes} bytes (Ir(3 passes) {three} - Ir(1 pass) {one})",
            read.ceiling,
            instructions as f64 / (2 * CALLGRIND_ROUNDS * workload::LINES_PER_ROUND) as f64,
        );
        if per_byte > read.ceiling {
            over_ceiling.push(format!(
                "{chunk}-byte reads: {per_byte:.1} > {}",
                read.ceiling
            ));
        }
    }
    if over_ceiling.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "the AT receive path costs more instructions per byte than allowed ({})",
            over_ceiling.join(", ")
        )))
    }
}

/// Hidden subcommand `bench-wall`: times the workload in this (release) process.
pub fn wall() -> Outcome {
    let bytes = workload::stream(WALL_ROUNDS);
    for chunk in READS.map(|read| read.bytes) {
        let mut session = Session::new();
        let reference = session.process(&bytes, chunk);
        let mut best = f64::INFINITY;
        for _ in 0..WALL_REPETITIONS {
            let started = Instant::now();
            let summary = session.process(&bytes, chunk);
            best = best.min(started.elapsed().as_secs_f64());
            if summary != reference {
                return Err(Failure::new(
                    "the workload gave different results on repeated passes",
                ));
            }
        }
        let lines = WALL_ROUNDS * workload::LINES_PER_ROUND;
        println!(
            "at receive path, {chunk:>2}-byte reads: {:.1} MB/s, {:.0} ns/line (wall clock, {} bytes, best of {WALL_REPETITIONS})",
            bytes.len() as f64 / best / 1e6,
            best * 1e9 / lines as f64,
            bytes.len(),
        );
    }
    Ok(())
}

/// Hidden subcommand `bench-workload <read size> <passes>`: processes the callgrind stream.
pub fn workload_passes(arguments: &[String]) -> Outcome {
    let number = |index: usize| -> Outcome<usize> {
        arguments
            .get(index)
            .and_then(|value| value.parse().ok())
            .filter(|value| *value > 0)
            .ok_or_else(|| Failure::new("usage: bench-workload <read size> <passes>"))
    };
    let (chunk, passes) = (number(0)?, number(1)?);
    let bytes = workload::stream(CALLGRIND_ROUNDS);
    let mut session = Session::new();
    for _ in 0..passes {
        session.process(&bytes, chunk);
    }
    Ok(())
}

/// Runs `bench-workload <chunk> <passes>` under callgrind and returns the instruction count.
fn callgrind_total(executable: &Path, chunk: usize, passes: u32) -> Outcome<u64> {
    let output_file = std::env::temp_dir().join(format!(
        "xtask-callgrind-{}-{chunk}-{passes}.out",
        std::process::id()
    ));
    let mut command = Command::new("valgrind");
    command
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", output_file.display()))
        .arg(executable)
        .args(["bench-workload", &chunk.to_string(), &passes.to_string()]);
    eprintln!("$ {}", process::describe(&command));
    let output = command.output()?;
    if !output.status.success() {
        return Err(Failure::new(format!(
            "callgrind run failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    let profile = std::fs::read_to_string(&output_file)?;
    let _ = std::fs::remove_file(&output_file);
    total_instructions(&profile)
        .ok_or_else(|| Failure::new("the callgrind profile has no `totals:` or `summary:` line"))
}

/// Reads the first event count (Ir, callgrind's default event) of the profile's total line.
fn total_instructions(profile: &str) -> Option<u64> {
    profile.lines().find_map(|line| {
        line.strip_prefix("totals:")
            .or_else(|| line.strip_prefix("summary:"))
            .and_then(|counts| counts.split_whitespace().next())
            .and_then(|first| first.parse().ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_line_gives_the_instruction_count() {
        let profile =
            "version: 1\nevents: Ir\nsummary: 123456\nfn=(1) main\n5 10\ntotals: 123456\n";
        assert_eq!(total_instructions(profile), Some(123_456));
    }

    #[test]
    fn a_profile_without_totals_gives_nothing() {
        assert_eq!(total_instructions("events: Ir\nfn=(1) main\n"), None);
    }
}
