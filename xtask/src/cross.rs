//! `cargo xtask cross`: prove the no_std core still builds for the ESP32-C3.
//!
//! rustup on the project's machines cannot fetch `riscv32imc-unknown-none-elf` or `rust-src`,
//! and rustup's own toolchains reject Debian's standard-library sources. What works is
//! Debian's `rustc-web` 1.96 with its matching sources, unpacked into a private prefix by
//! `scripts/setup-riscv.sh` (no system install, rustup untouched), then `core` rebuilt from
//! source with `-Zbuild-std=core`, which that stable compiler accepts with `RUSTC_BOOTSTRAP=1`.
//! The toolchain's environment is given to the child process only, so the rest of the xtask
//! keeps using the developer's normal toolchain.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::process::{self, Failure, Outcome};

/// The ESP32-C3's target triple.
pub const TARGET: &str = "riscv32imc-unknown-none-elf";

/// The core crates that must stay `no_std` and heap-free.
pub const CORE_CRATES: [&str; 9] = [
    "at-parser",
    "fifo",
    "storage",
    "command-core",
    "mqtt-session",
    "tls-psk",
    "gateway",
    "ota",
    "provisioning",
];

/// The private Debian toolchain: where it lives and the environment its `env.sh` sets.
pub struct Toolchain {
    prefix: PathBuf,
    path: String,
    library_path: String,
}

/// Builds every core crate for [`TARGET`], skipping (and naming) placeholders that fail.
pub fn cross() -> Outcome {
    let toolchain = prepare_toolchain()?;
    let everything: Vec<&str> = CORE_CRATES.to_vec();
    if process::status(&mut toolchain.build(&everything))?.success() {
        eprintln!("cross: all core crates build for {TARGET}");
        return Ok(());
    }
    // Something failed: build each crate alone to learn which, and judge each failure.
    let mut skipped = Vec::new();
    let mut broken = Vec::new();
    for name in CORE_CRATES {
        if process::status(&mut toolchain.build(&[name]))?.success() {
            continue;
        }
        if is_placeholder(name) {
            skipped.push(name);
        } else {
            broken.push(name);
        }
    }
    if !skipped.is_empty() {
        eprintln!(
            "cross: skipped placeholder crates that do not build yet: {}",
            skipped.join(", ")
        );
    }
    if broken.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "cross: these core crates do not build for {TARGET}: {}",
            broken.join(", ")
        )))
    }
}

impl Toolchain {
    /// Returns the cargo command that builds `packages` for the target with this toolchain.
    fn build(&self, packages: &[&str]) -> Command {
        let mut command = self.cargo(&process::workspace_root());
        command
            .env("CARGO_TARGET_DIR", target_directory().join("riscv"))
            .args([
                "build",
                "--locked",
                "--release",
                "-Zbuild-std=core",
                "--target",
                TARGET,
            ]);
        for package in packages {
            command.args(["--package", package]);
        }
        command
    }

    /// Returns this toolchain's `cargo`, run in `directory`, with only its own environment.
    pub fn cargo(&self, directory: &Path) -> Command {
        let binaries = self.prefix.join("usr/bin");
        let mut command = Command::new(binaries.join("cargo"));
        command.current_dir(directory);
        // The variables rustup and the outer cargo set would pull in the host toolchain.
        for inherited in [
            "RUSTUP_TOOLCHAIN",
            "CARGO",
            "RUSTC",
            "RUSTDOC",
            "RUSTC_WRAPPER",
            "RUSTC_WORKSPACE_WRAPPER",
        ] {
            command.env_remove(inherited);
        }
        command
            .env("PATH", &self.path)
            .env("LD_LIBRARY_PATH", &self.library_path)
            .env("RUSTC", binaries.join("rustc"))
            .env("RUSTC_BOOTSTRAP", "1");
        command
    }

    /// The LLVM tool `name` (`llvm-size`, ...) that comes with this toolchain, with the
    /// library path its shared LLVM needs.
    pub fn llvm_tool(&self, name: &str) -> Command {
        let mut command = Command::new(self.prefix.join("usr/lib/llvm-22/bin").join(name));
        command.env("LD_LIBRARY_PATH", &self.library_path);
        command
    }
}

/// Finds the private toolchain, installing it with `scripts/setup-riscv.sh` if absent.
pub fn prepare_toolchain() -> Outcome<Toolchain> {
    let prefix = toolchain_prefix()?;
    let environment_script = prefix.join("env.sh");
    if !prefix.join("usr/bin/rustc").is_file() || !environment_script.is_file() {
        eprintln!(
            "cross: installing the Debian rustc-web toolchain into {}",
            prefix.display()
        );
        let script = process::workspace_root().join("scripts/setup-riscv.sh");
        process::run(Command::new("bash").arg(script).env("PREFIX", &prefix)).map_err(
            |failure| {
                Failure::new(format!(
                "{failure}\n(the setup needs root for `apt-get update` and downloads about 170 MB)"
            ))
            },
        )?;
    }
    let (path, library_path) = environment_of(&environment_script)?;
    Ok(Toolchain {
        prefix,
        path,
        library_path,
    })
}

/// Returns `$TCAT_RISCV_PREFIX`, or the setup script's own default prefix.
fn toolchain_prefix() -> Outcome<PathBuf> {
    if let Some(prefix) = std::env::var_os("TCAT_RISCV_PREFIX").filter(|value| !value.is_empty()) {
        return Ok(PathBuf::from(prefix));
    }
    let cache = match std::env::var_os("XDG_CACHE_HOME").filter(|value| !value.is_empty()) {
        Some(cache) => PathBuf::from(cache),
        None => std::env::var_os("HOME")
            .filter(|home| !home.is_empty())
            .map(|home| PathBuf::from(home).join(".cache"))
            .ok_or_else(|| Failure::new("neither XDG_CACHE_HOME nor HOME is set"))?,
    };
    Ok(cache.join("tc-at/debrust-1.96"))
}

/// Sources `env.sh` in a shell and reads back the `PATH` and `LD_LIBRARY_PATH` it sets, so the
/// script stays the single description of the toolchain's environment.
fn environment_of(script: &Path) -> Outcome<(String, String)> {
    let output = Command::new("bash")
        .args([
            "-c",
            ". \"$1\" && printf '%s\\0%s' \"$PATH\" \"${LD_LIBRARY_PATH:-}\"",
            "env.sh",
        ])
        .arg(script)
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    match (output.status.success(), text.split_once('\0')) {
        (true, Some((path, library_path))) => Ok((path.to_owned(), library_path.to_owned())),
        _ => Err(Failure::new(format!(
            "cannot read the environment of {}",
            script.display()
        ))),
    }
}

/// Returns the target directory the developer uses for host builds.
pub fn target_directory() -> PathBuf {
    let root = process::workspace_root();
    match std::env::var_os("CARGO_TARGET_DIR").filter(|value| !value.is_empty()) {
        Some(directory) => root.join(directory),
        None => root.join("target"),
    }
}

/// Reports whether `name` is still the skeleton crate: every real crate's `lib.rs` includes
/// its README (a project rule), the skeleton's does not.
fn is_placeholder(name: &str) -> bool {
    let library = process::workspace_root()
        .join("crates")
        .join(name)
        .join("src/lib.rs");
    std::fs::read_to_string(library)
        .map(|source| !source.contains("include_str!(\"../README.md\")"))
        .unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_uses_the_private_toolchain_with_build_std_and_the_lock_file() {
        let toolchain = Toolchain {
            prefix: PathBuf::from("/prefix"),
            path: "/prefix/usr/bin:/usr/bin".to_owned(),
            library_path: "/prefix/usr/lib".to_owned(),
        };
        let command = toolchain.build(&["at-parser"]);
        assert_eq!(command.get_program(), "/prefix/usr/bin/cargo");
        let arguments: Vec<_> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        for expected in ["--locked", "-Zbuild-std=core", TARGET, "at-parser"] {
            assert!(
                arguments.iter().any(|argument| argument == expected),
                "{expected}"
            );
        }
        let bootstrap = command
            .get_envs()
            .find(|(key, _)| *key == "RUSTC_BOOTSTRAP")
            .and_then(|(_, value)| value);
        assert_eq!(bootstrap, Some(std::ffi::OsStr::new("1")));
    }

    #[test]
    fn the_environment_script_is_sourced_for_path_and_library_path() {
        let directory = std::env::temp_dir().join(format!("xtask-cross-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let script = directory.join("env.sh");
        std::fs::write(
            &script,
            "export PATH=\"/toolchain/bin:$PATH\"\nexport LD_LIBRARY_PATH=\"/toolchain/lib\"\n",
        )
        .unwrap();
        let (path, library_path) = environment_of(&script).unwrap();
        std::fs::remove_dir_all(&directory).unwrap();
        assert!(path.starts_with("/toolchain/bin:"));
        assert_eq!(library_path, "/toolchain/lib");
    }
}
