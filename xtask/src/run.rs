//! `cargo xtask run`: start the virtual module for a human at a terminal.
//!
//! The module keeps its flash image between runs, so the default image lives in the user's
//! state directory rather than in the checkout (a `cargo clean` or a fresh clone must not wipe
//! stored credentials). The PTY path changes on every start; a fixed symlink next to the
//! flash image gives terminal programs one name to remember.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::artifact;
use crate::process::{self, Failure, Outcome};

/// The simulated access point every fresh session can join.
const DEMO_ACCESS_POINT: &str = "tc-at-demo:password123";

/// Builds and starts `tc-at-module`, forwarding `extra_arguments` to it.
pub fn run(extra_arguments: &[String]) -> Outcome {
    let state = state_directory()?;
    std::fs::create_dir_all(&state)
        .map_err(|error| Failure::new(format!("cannot create {}: {error}", state.display())))?;
    let link = state.join("tc-at-uart");
    let arguments = module_arguments(
        extra_arguments,
        &state,
        std::env::var_os("TCAT_FLASH").is_some(),
    );
    let uses_pty = uart_choice(&arguments) == "pty";
    if uses_pty {
        remove_stale_link(&link)?;
    }

    let executable = artifact::build_executable("tc-at-linux", "tc-at-module", false)?;
    let mut command = Command::new(executable);
    command.args(&arguments);
    eprintln!("$ {}", process::describe(&command));
    if !uses_pty {
        // stdio and TCP modes need nothing from us: the terminal or the client is the MCU.
        return process::run(&mut command);
    }

    let mut child = command.stdout(Stdio::piped()).spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| Failure::new("the module's stdout was not captured"))?;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        if let Some(pty) = line.strip_prefix("UART ") {
            print_connection_help(pty, &link);
        }
    }
    let exit = child.wait()?;
    if exit.success() {
        Ok(())
    } else {
        Err(Failure::new(format!("tc-at-module exited ({exit})")))
    }
}

/// Returns `$XDG_STATE_HOME/tc-at`, or `~/.local/state/tc-at` when that is unset.
///
/// The XDG specification says relative values must be ignored, so they are.
fn state_directory() -> Outcome<PathBuf> {
    if let Some(state) = std::env::var_os("XDG_STATE_HOME").map(PathBuf::from) {
        if state.is_absolute() {
            return Ok(state.join("tc-at"));
        }
    }
    let home = std::env::var_os("HOME")
        .filter(|home| !home.is_empty())
        .ok_or_else(|| Failure::new("neither XDG_STATE_HOME nor HOME is set"))?;
    Ok(PathBuf::from(home).join(".local/state/tc-at"))
}

/// Puts the defaults in front of the user's arguments, leaving out any default the user
/// overrides (the module would otherwise see the option twice).
fn module_arguments(
    extra_arguments: &[String],
    state: &Path,
    flash_from_environment: bool,
) -> Vec<OsString> {
    let given = |option: &str| {
        extra_arguments
            .iter()
            .any(|argument| argument == option || argument.starts_with(&format!("{option}=")))
    };
    let mut arguments: Vec<OsString> = Vec::new();
    if !given("--uart") {
        arguments.extend(["--uart".into(), "pty".into()]);
    }
    let uart_is_pty = !given("--uart") || uart_choice_of(extra_arguments) == "pty";
    if uart_is_pty && !given("--pty-link") {
        arguments.extend(["--pty-link".into(), state.join("tc-at-uart").into()]);
    }
    if !given("--flash") && !flash_from_environment {
        arguments.extend(["--flash".into(), state.join("flash.bin").into()]);
    }
    if !given("--wifi") {
        arguments.extend(["--wifi".into(), DEMO_ACCESS_POINT.into()]);
    }
    arguments.extend(extra_arguments.iter().map(OsString::from));
    arguments
}

/// Returns the value of the last `--uart` option (`pty` when absent), as the module reads it.
fn uart_choice(arguments: &[OsString]) -> String {
    let strings: Vec<String> = arguments
        .iter()
        .map(|argument| argument.to_string_lossy().into_owned())
        .collect();
    uart_choice_of(&strings)
}

fn uart_choice_of(arguments: &[String]) -> String {
    let mut choice = String::from("pty");
    let mut arguments = arguments.iter();
    while let Some(argument) = arguments.next() {
        if argument == "--uart" {
            if let Some(value) = arguments.next() {
                choice.clone_from(value);
            }
        } else if let Some(value) = argument.strip_prefix("--uart=") {
            choice = value.to_owned();
        }
    }
    choice
}

/// Removes the symlink a previous (killed) run left behind; anything else at that path is
/// not ours and is left alone.
fn remove_stale_link(link: &Path) -> Outcome {
    match std::fs::symlink_metadata(link) {
        Ok(metadata) if metadata.file_type().is_symlink() => std::fs::remove_file(link)
            .map_err(|error| Failure::new(format!("cannot remove {}: {error}", link.display()))),
        Ok(_) => Err(Failure::new(format!(
            "{} exists and is not a symlink; move it away or pass --pty-link",
            link.display()
        ))),
        Err(_) => Ok(()),
    }
}

fn print_connection_help(pty: &str, link: &Path) {
    let link = if link.exists() {
        link.display().to_string()
    } else {
        pty.to_owned()
    };
    println!(
        "\n\
         The virtual module is listening on {pty}.\n\
         Connect a terminal to it (115200 8N1; the module wants CR LF line ends):\n\
         \n    picocom -b 115200 --omap crlf --echo {link}\n\
         or\n    screen {link} 115200\n\
         \n\
         Example session (type the AT lines):\n\
         \n    AT\n    OK\n\
         \n    AT+GMR\n    AT version:<version>(<commit> - LINUX - <build time>)\n    ...\n    OK\n\
         \n    AT+CWJAP=\"tc-at-demo\",\"password123\"\n    WIFI CONNECTED\n    WIFI GOT IP\n    OK\n\
         \n    AT+TCDEVINFOSET=1,\"S3EUVBRJLB\",\"test_device\",\"MDEyMzQ1Njc4OWFiY2RlZg==\"\n    OK\n    +TCDEVINFOSET:OK\n\
         \n    AT+TCDEVINFOSET?\n    +TCDEVINFOSET:1,\"S3EUVBRJLB\",\"test_device\",78,\"ap-guangzhou\"\n    OK\n\
         \n    AT+TCMQTTSTATE?\n    +TCMQTTSTATE:0\n    OK\n\
         \n\
         Credentials persist in the flash image across runs and AT+RST. Stop with Ctrl-C.\n"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(arguments: &[OsString]) -> Vec<String> {
        arguments
            .iter()
            .map(|argument| argument.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn defaults_use_a_pty_the_state_flash_and_the_demo_access_point() {
        let arguments = module_arguments(&[], Path::new("/state/tc-at"), false);
        assert_eq!(
            strings(&arguments),
            [
                "--uart",
                "pty",
                "--pty-link",
                "/state/tc-at/tc-at-uart",
                "--flash",
                "/state/tc-at/flash.bin",
                "--wifi",
                "tc-at-demo:password123"
            ]
        );
    }

    #[test]
    fn user_options_replace_the_matching_defaults_and_come_last() {
        let extra = [
            "--wifi".to_owned(),
            "home:secret".to_owned(),
            "--profile=esp8266".to_owned(),
        ];
        let arguments = strings(&module_arguments(&extra, Path::new("/s"), false));
        assert_eq!(
            arguments
                .iter()
                .filter(|argument| *argument == "--wifi")
                .count(),
            1
        );
        assert!(arguments.ends_with(&extra));
    }

    #[test]
    fn flash_from_the_environment_suppresses_the_default_flash() {
        let arguments = strings(&module_arguments(&[], Path::new("/s"), true));
        assert!(!arguments.contains(&"--flash".to_owned()));
    }

    #[test]
    fn a_non_pty_uart_gets_no_pty_link() {
        let extra = ["--uart".to_owned(), "stdio".to_owned()];
        let arguments = module_arguments(&extra, Path::new("/s"), false);
        assert!(!strings(&arguments).contains(&"--pty-link".to_owned()));
        assert_eq!(uart_choice(&arguments), "stdio");
    }
}
