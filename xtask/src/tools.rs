//! System tools the tests, the hub build and the benchmarks shell out to, and how a fresh
//! machine gets them.
//!
//! The README promises that `cargo xtask run` and `cargo xtask test` work on a machine that has
//! only Rust. So before building, each of those commands checks the programs (and the OpenSSL
//! development files `tc-at-hub` links against) it will need. On Debian as root the missing
//! ones are installed with one `apt-get install` after an `apt-get update`, echoed like every
//! other step; anywhere else the xtask stops at once and prints the exact command to run,
//! because a half-run test suite that fails in five places is a worse message than one line.

use std::path::Path;
use std::process::Command;

use crate::process::{self, Failure, Outcome};

/// One thing that must be present, and the Debian package that provides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement {
    /// What is checked, as shown to the user (a program name or a library).
    pub what: &'static str,
    /// The Debian package providing it.
    pub package: &'static str,
    /// How presence is checked.
    pub probe: Probe,
}

/// How a requirement is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// A program on `PATH` or in one of Debian's system directories.
    Program(&'static str),
    /// A library known to `pkg-config`.
    PkgConfig(&'static str),
}

const fn program(name: &'static str, package: &'static str) -> Requirement {
    Requirement {
        what: name,
        package,
        probe: Probe::Program(name),
    }
}

/// What building `tc-at-hub` needs beyond Rust: its `openssl` crate links the system library.
pub const HUB_BUILD: &[Requirement] = &[
    program("pkg-config", "pkg-config"),
    Requirement {
        what: "OpenSSL development files",
        package: "libssl-dev",
        probe: Probe::PkgConfig("openssl"),
    },
];

/// What `cargo xtask test` needs: the hub build, the brokers and clients of the end-to-end
/// tests, `openssl` (certificate fixtures, `s_server`/`s_client` peers), the terminal of the
/// PTY hint test, `kill` (the CLI tests' clean-up of a module that failed to exit) and nginx
/// (the OTA client's Range interop with a web server nobody here wrote).
pub const TEST: &[Requirement] = &[
    program("pkg-config", "pkg-config"),
    Requirement {
        what: "OpenSSL development files",
        package: "libssl-dev",
        probe: Probe::PkgConfig("openssl"),
    },
    program("mosquitto", "mosquitto"),
    program("mosquitto_pub", "mosquitto-clients"),
    program("mosquitto_sub", "mosquitto-clients"),
    program("openssl", "openssl"),
    program("tmux", "tmux"),
    program("picocom", "picocom"),
    program("kill", "procps"),
    program("nginx", "nginx-light"),
];

/// What `cargo xtask bench` needs on top of a hub build: callgrind, `openssl s_client`,
/// mosquitto (the second broker of the MQTT comparison), strace (the idle module's polls) and
/// curl (the reference of the OTA download throughput).
pub const BENCH: &[Requirement] = &[
    program("pkg-config", "pkg-config"),
    Requirement {
        what: "OpenSSL development files",
        package: "libssl-dev",
        probe: Probe::PkgConfig("openssl"),
    },
    program("valgrind", "valgrind"),
    program("openssl", "openssl"),
    program("mosquitto", "mosquitto"),
    program("strace", "strace"),
    program("curl", "curl"),
];

/// Directories Debian installs system programs into, off a normal user's `PATH`.
const SYSTEM_DIRECTORIES: [&str; 2] = ["/usr/sbin", "/sbin"];

/// What to do about the missing requirements on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Nothing is missing.
    Ready,
    /// Debian as root: install these packages.
    Install(Vec<&'static str>),
    /// Stop with this message (it names the missing tools and the install command).
    Stop(String),
}

/// Decides from the missing requirements and the machine (Debian? root?).
pub fn plan(missing: &[Requirement], debian: bool, root: bool) -> Plan {
    if missing.is_empty() {
        return Plan::Ready;
    }
    let packages = packages(missing);
    if debian && root {
        return Plan::Install(packages);
    }
    let listed: Vec<String> = missing
        .iter()
        .map(|requirement| format!("{} ({})", requirement.what, requirement.package))
        .collect();
    let command = format!(
        "{sudo}apt-get update && {sudo}apt-get install -y --no-install-recommends {}",
        packages.join(" "),
        sudo = if root { "" } else { "sudo " }
    );
    let advice = if debian {
        format!("install them with:\n    {command}")
    } else {
        format!(
            "these are Debian's package names; on Debian or Ubuntu install them with:\n    \
             {command}\nelsewhere install the same tools with the system's package manager"
        )
    };
    Plan::Stop(format!(
        "missing system tools: {}\n{advice}",
        listed.join(", ")
    ))
}

/// The packages providing `missing`, each once, in order.
fn packages(missing: &[Requirement]) -> Vec<&'static str> {
    let mut packages: Vec<&'static str> = Vec::new();
    for requirement in missing {
        if !packages.contains(&requirement.package) {
            packages.push(requirement.package);
        }
    }
    packages
}

/// Checks `requirements` and installs or stops as [`plan`] says.
pub fn ensure(requirements: &[Requirement]) -> Outcome {
    let missing = missing(requirements);
    let debian = Path::new("/etc/debian_version").is_file();
    let root = nix::unistd::geteuid().is_root();
    match plan(&missing, debian, root) {
        Plan::Ready => Ok(()),
        Plan::Stop(message) => Err(Failure::new(message)),
        Plan::Install(packages) => {
            eprintln!(
                "xtask: installing the missing system packages: {}",
                packages.join(" ")
            );
            install(&packages)?;
            let still_missing = missing_names(requirements);
            if still_missing.is_empty() {
                Ok(())
            } else {
                Err(Failure::new(format!(
                    "still missing after apt-get install: {}",
                    still_missing.join(", ")
                )))
            }
        }
    }
}

fn missing(requirements: &[Requirement]) -> Vec<Requirement> {
    requirements
        .iter()
        .copied()
        .filter(|requirement| !present(requirement.probe))
        .collect()
}

fn missing_names(requirements: &[Requirement]) -> Vec<&'static str> {
    missing(requirements)
        .iter()
        .map(|requirement| requirement.what)
        .collect()
}

fn present(probe: Probe) -> bool {
    match probe {
        Probe::Program(name) => {
            process::on_path(name)
                || SYSTEM_DIRECTORIES
                    .iter()
                    .any(|directory| Path::new(directory).join(name).is_file())
        }
        Probe::PkgConfig(library) => Command::new("pkg-config")
            .args(["--exists", library])
            .status()
            .is_ok_and(|status| status.success()),
    }
}

fn install(packages: &[&str]) -> Outcome {
    process::run(
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .arg("update"),
    )?;
    process::run(
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "--no-install-recommends"])
            .args(packages),
    )?;
    if packages.contains(&"mosquitto") {
        stop_system_broker();
    }
    Ok(())
}

/// Debian's package starts a broker on port 1883 where an init system runs; the tests start
/// their own on free ports, but `cargo xtask run`'s hub prefers 1883. Only a broker this
/// install just started is stopped.
fn stop_system_broker() {
    let active = Command::new("systemctl")
        .args(["is-active", "--quiet", "mosquitto"])
        .status()
        .is_ok_and(|status| status.success());
    if active {
        let _ = process::run(Command::new("systemctl").args(["stop", "mosquitto"]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(names: &[&str]) -> Vec<Requirement> {
        TEST.iter()
            .copied()
            .filter(|requirement| names.contains(&requirement.what))
            .collect()
    }

    #[test]
    fn nothing_missing_is_ready_everywhere() {
        assert_eq!(plan(&[], false, false), Plan::Ready);
        assert_eq!(plan(&[], true, true), Plan::Ready);
    }

    #[test]
    fn debian_as_root_installs_each_package_once() {
        let missing = named(&["mosquitto", "mosquitto_pub", "mosquitto_sub", "tmux"]);
        assert_eq!(
            plan(&missing, true, true),
            Plan::Install(vec!["mosquitto", "mosquitto-clients", "tmux"])
        );
    }

    #[test]
    fn debian_without_root_stops_with_the_sudo_command() {
        let missing = named(&["mosquitto_sub", "openssl"]);
        let Plan::Stop(message) = plan(&missing, true, false) else {
            panic!("expected a stop");
        };
        assert_eq!(
            message,
            "missing system tools: mosquitto_sub (mosquitto-clients), openssl (openssl)\n\
             install them with:\n    sudo apt-get update && sudo apt-get install -y \
             --no-install-recommends mosquitto-clients openssl"
        );
    }

    #[test]
    fn other_systems_stop_and_name_the_debian_packages() {
        let missing = named(&["picocom"]);
        let Plan::Stop(message) = plan(&missing, false, true) else {
            panic!("expected a stop");
        };
        assert!(message.starts_with("missing system tools: picocom (picocom)\n"));
        assert!(message.contains("apt-get install -y --no-install-recommends picocom\n"));
        assert!(message.contains("elsewhere install the same tools"));
    }

    #[test]
    fn probes_find_a_system_program_and_miss_an_absent_one() {
        assert!(present(Probe::Program("sh")));
        assert!(!present(Probe::Program("tc-at-no-such-program")));
        assert!(!present(Probe::PkgConfig("tc-at-no-such-library")));
    }
}
