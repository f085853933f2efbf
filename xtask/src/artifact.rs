//! Building a binary and finding where cargo put it.
//!
//! The target directory can be moved by `CARGO_TARGET_DIR`, by `build.target-dir` in a config
//! file or by the engineer's own habits, so guessing `target/debug/<name>` breaks. Cargo's JSON
//! messages name the executable it produced; reading them is the one reliable answer.

use std::path::PathBuf;
use std::process::Stdio;

use crate::process::{self, Failure, Outcome};

/// Builds `binary` of `package` (release if `release`) and returns the executable's path.
///
/// Compiler diagnostics still reach the terminal (rendered on stderr); only the JSON
/// messages on stdout are captured.
pub fn build_executable(package: &str, binary: &str, release: bool) -> Outcome<PathBuf> {
    let mut command = process::cargo();
    command.args([
        "build",
        "--locked",
        "--package",
        package,
        "--bin",
        binary,
        "--message-format=json-render-diagnostics",
    ]);
    if release {
        command.arg("--release");
    }
    eprintln!("$ {}", process::describe(&command));
    let output = command.stderr(Stdio::inherit()).output()?;
    if !output.status.success() {
        return Err(Failure::new(format!(
            "building `{binary}` failed ({})",
            output.status
        )));
    }
    let messages = String::from_utf8_lossy(&output.stdout);
    messages
        .lines()
        .filter_map(executable_in_message)
        .rfind(|path| {
            path.file_name()
                .is_some_and(|name| name.to_string_lossy() == binary)
        })
        .ok_or_else(|| Failure::new(format!("cargo did not report an executable for `{binary}`")))
}

/// Extracts the `"executable"` path of one cargo JSON message, if it has one.
///
/// A full JSON parser would be a dependency for one field; cargo writes this field as a plain
/// JSON string, so unescaping `\\` and `\"` is enough.
fn executable_in_message(line: &str) -> Option<PathBuf> {
    const KEY: &str = "\"executable\":\"";
    let start = line.find(KEY)? + KEY.len();
    let mut path = String::new();
    let mut characters = line[start..].chars();
    while let Some(character) = characters.next() {
        match character {
            '"' => return Some(PathBuf::from(path)),
            '\\' => path.push(characters.next()?),
            other => path.push(other),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executable_is_read_from_an_artifact_message() {
        let line = r#"{"reason":"compiler-artifact","executable":"/tmp/t/debug/tc-at-module","fresh":true}"#;
        assert_eq!(
            executable_in_message(line),
            Some(PathBuf::from("/tmp/t/debug/tc-at-module"))
        );
    }

    #[test]
    fn escaped_characters_in_the_path_are_unescaped() {
        let line = r#"{"executable":"/tmp/a \"b\"\\c"}"#;
        assert_eq!(
            executable_in_message(line),
            Some(PathBuf::from("/tmp/a \"b\"\\c"))
        );
    }

    #[test]
    fn messages_without_an_executable_give_nothing() {
        assert_eq!(executable_in_message(r#"{"executable":null}"#), None);
        assert_eq!(
            executable_in_message(r#"{"reason":"build-finished"}"#),
            None
        );
    }
}
