//! `cargo xtask build-image [esp32c3|esp32c2]`: the flashable image of a RISC-V ESP board.
//!
//! `boards/esp32c3` is its own workspace (like `fuzz/`): esp-hal and esp-radio need Rust 1.95,
//! the main workspace stays on its older MSRV and never compiles them. The image is built with
//! the private Debian rustc-web toolchain of `cargo xtask cross`, then `espflash save-image
//! --merge` writes bootloader, partition table and app into one file that any flasher can
//! write at offset 0. espflash comes from crates.io (`cargo install --locked`, about 9 minutes
//! on a 2-core machine, kept in `~/.cargo/bin`); it needs `libudev-dev` and `pkg-config`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cross::{self, Toolchain};
use crate::process::{self, Failure, Outcome};

/// The espflash release the image format was checked with (4.7.0 panics on custom data
/// partition subtypes, hence `nvs` in `partitions.csv`).
pub const ESPFLASH_VERSION: &str = "4.7.0";

/// A RISC-V chip the `boards/esp32c3` crate builds for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chip {
    /// ESP32-C3.
    Esp32c3,
    /// ESP32-C2 / ESP8684.
    Esp32c2,
}

impl Chip {
    /// Every chip, in CI's order.
    pub const ALL: [Chip; 2] = [Chip::Esp32c3, Chip::Esp32c2];

    /// The name used by the board's cargo feature, espflash `--chip` and the image file.
    pub fn name(self) -> &'static str {
        match self {
            Chip::Esp32c3 => "esp32c3",
            Chip::Esp32c2 => "esp32c2",
        }
    }

    /// Parses a chip name.
    pub fn from_name(name: &str) -> Option<Chip> {
        Chip::ALL.into_iter().find(|chip| chip.name() == name)
    }
}

/// The board crate's directory.
pub fn board_directory() -> PathBuf {
    process::workspace_root().join("boards/esp32c3")
}

/// Builds the image of each chip named in `arguments` (every chip when none).
pub fn build_image(arguments: &[String]) -> Outcome {
    let chips = if arguments.is_empty() {
        Chip::ALL.to_vec()
    } else {
        arguments
            .iter()
            .map(|name| {
                Chip::from_name(name).ok_or_else(|| {
                    Failure::new(format!(
                        "unknown chip `{name}`: build-image takes esp32c3 and/or esp32c2"
                    ))
                })
            })
            .collect::<Outcome<Vec<_>>>()?
    };
    let toolchain = cross::prepare_toolchain()?;
    let espflash = prepare_espflash()?;
    for chip in chips {
        let image = image(&toolchain, &espflash, chip)?;
        eprintln!("build-image: {}", image.display());
    }
    Ok(())
}

/// Builds the ELF of `chip`, prints its sections and writes the merged image; returns its path.
pub fn image(toolchain: &Toolchain, espflash: &Path, chip: Chip) -> Outcome<PathBuf> {
    let target_directory = cross::target_directory().join("esp32c3-board");
    process::run(
        toolchain
            .cargo(&board_directory())
            .env("CARGO_TARGET_DIR", &target_directory)
            .args(build_arguments(chip)),
    )?;
    let elf = target_directory
        .join(cross::TARGET)
        .join("release/tc-at-esp32c3");
    let sizes = toolchain
        .llvm_tool("llvm-size")
        .arg("-A")
        .arg(&elf)
        .output()?;
    if !sizes.status.success() {
        return Err(Failure::new(format!(
            "llvm-size failed on {}",
            elf.display()
        )));
    }
    let table = String::from_utf8_lossy(&sizes.stdout);
    print_sizes(chip, &table);
    let images = cross::target_directory().join("images");
    std::fs::create_dir_all(&images)?;
    let image = images.join(format!("tc-at-{}.bin", chip.name()));
    process::run(
        Command::new(espflash)
            .args(["save-image", "--chip", chip.name(), "--merge"])
            .args(["--flash-size", "2mb", "--partition-table"])
            .arg(board_directory().join("partitions.csv"))
            .arg(&elf)
            .arg(&image),
    )?;
    Ok(image)
}

/// The cargo arguments that build `chip`'s firmware.
fn build_arguments(chip: Chip) -> Vec<String> {
    [
        "build",
        "--locked",
        "--release",
        "--no-default-features",
        "--features",
        chip.name(),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Prints the allocated sections of `table` (llvm-size -A output) and the static RAM total.
fn print_sizes(chip: Chip, table: &str) {
    let sections = allocated_sections(table);
    eprintln!("build-image: {} sections", chip.name());
    for (name, size) in &sections {
        eprintln!("  {name:<22} {size:>8}");
    }
    eprintln!(
        "  static RAM (.data, .bss, IRAM code) {} bytes",
        static_ram(&sections)
    );
}

/// `(name, size)` of every section that occupies the chip (debug sections excluded).
pub fn allocated_sections(table: &str) -> Vec<(String, u64)> {
    table
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let name = fields.next()?;
            let size = fields.next()?.parse::<u64>().ok()?;
            let allocated = name.starts_with('.')
                && !name.starts_with(".debug")
                && !matches!(name, ".comment" | ".riscv.attributes");
            (allocated && size > 0).then(|| (name.to_owned(), size))
        })
        .collect()
}

/// The static RAM of the sections: initialised data, zeroed data, and the trap vectors and
/// code that run from IRAM.
pub fn static_ram(sections: &[(String, u64)]) -> u64 {
    sections
        .iter()
        .filter(|(name, _)| {
            [".data", ".bss", ".rwtext", ".trap"]
                .iter()
                .any(|prefix| name.starts_with(prefix))
        })
        .map(|(_, size)| size)
        .sum()
}

/// Finds espflash on `PATH` or in `~/.cargo/bin`, installing it from crates.io if absent.
pub fn prepare_espflash() -> Outcome<PathBuf> {
    if let Some(found) = find_espflash() {
        return Ok(found);
    }
    eprintln!(
        "build-image: installing espflash {ESPFLASH_VERSION} from crates.io (about 9 minutes)"
    );
    process::run(
        Command::new("bash").arg(process::workspace_root().join("scripts/setup-esp-tools.sh")),
    )?;
    process::run(process::cargo().args([
        "install",
        "--locked",
        &format!("espflash@{ESPFLASH_VERSION}"),
    ]))?;
    find_espflash().ok_or_else(|| Failure::new("espflash installed but not found in ~/.cargo/bin"))
}

fn find_espflash() -> Option<PathBuf> {
    process::find_on_path("espflash").or_else(|| {
        let cargo_home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))?;
        let candidate = cargo_home.join("bin/espflash");
        candidate.is_file().then_some(candidate)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "\
tc-at-esp32c3  :
section                     size         addr
.trap                       1916   1077411840
.rwtext                     4356   1077413756
.rwtext.wifi               33528   1077418112
.data                       5720   1070111608
.data.wifi                   496   1070117328
.bss                      184944   1070117824
.noinit                        0   1070302768
.rodata                    20120   1006633248
.text                     526952   1107361824
.debug_info              1228832            0
.comment                     235            0
Total                    2006927
";

    #[test]
    fn debug_and_empty_sections_are_not_counted() {
        let sections = allocated_sections(TABLE);
        let names: Vec<_> = sections.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            [
                ".trap",
                ".rwtext",
                ".rwtext.wifi",
                ".data",
                ".data.wifi",
                ".bss",
                ".rodata",
                ".text"
            ]
        );
    }

    #[test]
    fn static_ram_is_data_bss_and_iram_code() {
        let sections = allocated_sections(TABLE);
        assert_eq!(
            static_ram(&sections),
            1916 + 4356 + 33528 + 5720 + 496 + 184944
        );
    }

    #[test]
    fn each_chip_builds_by_its_own_feature_only() {
        let arguments = build_arguments(Chip::Esp32c2);
        assert!(arguments
            .windows(2)
            .any(|pair| pair == ["--features", "esp32c2"]));
        assert!(arguments
            .iter()
            .any(|argument| argument == "--no-default-features"));
        assert!(arguments.iter().any(|argument| argument == "--locked"));
        assert_eq!(Chip::from_name("esp32c3"), Some(Chip::Esp32c3));
        assert_eq!(Chip::from_name("esp32"), None);
    }
}
