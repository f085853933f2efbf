//! `cargo xtask lx106 [--ram-gate]`: the ESP8266 board built for the Xtensa lx106 CPU, and
//! the RAM gate that says whether it fits next to the NONOS SDK.
//!
//! rustc has no lx106 target and LLVM's Xtensa objects do not link with GNU ld
//! (`l32r: misaligned literal target`), so the path is: a target JSON
//! (`boards/esp8266/lx106.json`), `-Zbuild-std=core` with the Debian rustc-web toolchain,
//! `--emit=asm` for every crate, a text fix-up of LLVM's literal pools ([`fix_literals`]),
//! Debian's `xtensa-lx106-elf-as --text-section-literals`, then a link with
//! `xtensa-lx106-elf-gcc` against `ram-gate.ld` (the chip's memory map, with the SDK's
//! 28 KB static use and 20 KB heap reserved). Our `.rodata` is in flash (irom0) behind the
//! board's LoadStoreError handler (`boards/esp8266/load-store-error.S`, assembled here too),
//! so the data RAM holds only `.data` and `.bss`. The gate prints them, with the flash
//! `.rodata` and our IRAM code for information, and with `--ram-gate` fails when the data RAM
//! part exceeds [`RAM_BUDGET`].

mod sdk;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cross::{self, Toolchain};
use crate::process::{self, Failure, Outcome};

/// The ESP8266's data RAM.
pub const DATA_RAM: u64 = 80 * 1024;
/// What the NONOS SDK's own `.data`/`.rodata`/`.bss` take: measured in the SDK application
/// link (`ESP8266_NONOS_SDK` set; the commit is in docs/hardware.md) with every library the
/// board links, `libsmartconfig.a` included: data RAM static 68,024 B, of which ours 36,552,
/// so 31,472 B. (30,900 was measured before SmartConfig; the first 28 KiB was an estimate.)
pub const SDK_STATIC: u64 = 31_472;
/// The heap the SDK's Wi-Fi and lwIP need at run time.
pub const SDK_HEAP: u64 = 20 * 1024;
/// What is left for tc-at's `.data + .bss`.
pub const RAM_BUDGET: u64 = DATA_RAM - SDK_STATIC - SDK_HEAP;
/// The footprint goal for the whole engine state of the esp8266 profile (`design.md`,
/// "Memory"): the `ENGINE` static on the chip, the 16 KiB TLS record included.
pub const ENGINE_GOAL: u64 = 28 * 1024;

/// What the gate measured, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RamUse {
    /// Initialised data.
    pub data: u64,
    /// Zeroed data: the engine's state and the board's statics.
    pub bss: u64,
    /// Constants, in flash (irom0): not part of the data RAM.
    pub flash_rodata: u64,
    /// Our code in IRAM (the LoadStoreError handler, the UART interrupt).
    pub iram: u64,
    /// The engine's state: the board's `ENGINE` static (part of `bss`).
    pub engine: u64,
}

impl RamUse {
    /// Everything our code keeps in data RAM.
    pub fn total(self) -> u64 {
        self.data + self.bss
    }

    /// Whether it fits in [`RAM_BUDGET`] and the engine meets [`ENGINE_GOAL`].
    pub fn fits(self) -> bool {
        self.total() <= RAM_BUDGET && self.engine <= ENGINE_GOAL
    }
}

/// `cargo xtask lx106 [--ram-gate]`.
pub fn lx106(arguments: &[String]) -> Outcome {
    let enforce = match arguments {
        [] => false,
        [flag] if flag == "--ram-gate" => true,
        [other, ..] => {
            return Err(Failure::new(format!(
                "`lx106` takes only --ram-gate (got `{other}`)"
            )))
        }
    };
    let toolchain = cross::prepare_toolchain()?;
    let usage = ram_gate(&toolchain)?;
    match std::env::var_os("ESP8266_NONOS_SDK").filter(|value| !value.is_empty()) {
        Some(sdk) => sdk::sdk_link(Path::new(&sdk), usage.fits() || enforce)?,
        None => eprintln!(
            "lx106: ESP8266_NONOS_SDK is not set, so the application link with the SDK is skipped.\n\
             lx106: set ESP8266_NONOS_SDK=<checkout of Espressif's ESP8266_NONOS_SDK> (its lib/ and ld/)\n\
             lx106: to link the firmware; without it the library, the lx106 objects and the RAM gate build."
        ),
    }
    judge(usage, enforce)
}

/// Prints the verdict; fails only when `enforce` is set and the board does not fit.
pub fn judge(usage: RamUse, enforce: bool) -> Outcome {
    eprintln!("{}", report(usage));
    match (usage.fits(), enforce) {
        (true, _) => Ok(()),
        (false, true) => Err(Failure::new(format!(
            "lx106: the ESP8266 RAM gate fails: ours {} B of the {RAM_BUDGET}-byte budget, the engine {} B of its {ENGINE_GOAL}-byte goal",
            usage.total(),
            usage.engine
        ))),
        (false, false) => {
            eprintln!(
                "lx106: RAM gate not enforced (run `cargo xtask lx106 --ram-gate` to enforce)"
            );
            Ok(())
        }
    }
}

/// The RAM map as printed by the gate.
pub fn report(usage: RamUse) -> String {
    format!(
        "lx106: ESP8266 data RAM {DATA_RAM} B = SDK static {SDK_STATIC} + SDK heap {SDK_HEAP} + ours {RAM_BUDGET}\n\
         lx106: ours: .data {} + .bss {} = {} B of {RAM_BUDGET} B: {}\n\
         lx106: the engine state (ENGINE, in .bss): {} B of the {ENGINE_GOAL}-byte goal: {}\n\
         lx106: outside the data RAM: .rodata {} B in flash (irom0), {} B of code in IRAM",
        usage.data,
        usage.bss,
        usage.total(),
        if usage.total() <= RAM_BUDGET { "fits" } else { "DOES NOT FIT" },
        usage.engine,
        if usage.engine <= ENGINE_GOAL { "met" } else { "NOT MET" },
        usage.flash_rodata,
        usage.iram,
    )
}

/// The board crate's directory.
fn board_directory() -> PathBuf {
    process::workspace_root().join("boards/esp8266")
}

/// Builds, assembles and links the board; returns what it takes of the data RAM.
pub fn ram_gate(toolchain: &Toolchain) -> Outcome<RamUse> {
    require_tools()?;
    let target_directory = cross::target_directory().join("esp8266-board");
    let board = board_directory();
    process::run(&mut build(toolchain, &board, &target_directory))?;
    let mut object_files = assemble(&target_directory)?;
    object_files.push(assemble_source(
        &target_directory.join("lx106-objects"),
        &load_store_error_source(),
    )?);
    let elf = target_directory.join("tc-at-esp8266-ram-gate.elf");
    process::run(
        Command::new("xtensa-lx106-elf-gcc")
            .current_dir(&board)
            .args(["-nostdlib", "-Wl,--gc-sections", "-Wl,-T,ram-gate.ld", "-o"])
            .arg(&elf)
            .args(&object_files)
            .arg("-lgcc"),
    )?;
    let symbols = Command::new("xtensa-lx106-elf-nm").arg(&elf).output()?;
    if !symbols.status.success() {
        return Err(Failure::new(format!(
            "xtensa-lx106-elf-nm failed on {}",
            elf.display()
        )));
    }
    let iram = Command::new("xtensa-lx106-elf-objdump")
        .args(["-d", "-j", ".iram1.text"])
        .arg(&elf)
        .output()?;
    let reaches = flash_references(&String::from_utf8_lossy(&iram.stdout));
    if !iram.status.success() || !reaches.is_empty() {
        return Err(Failure::new(format!(
            "lx106: IRAM code must not reach flash (the SDK turns the flash cache off while it \
             erases or programs): {}",
            reaches.join("; ")
        )));
    }
    let sized = Command::new("xtensa-lx106-elf-nm")
        .arg("-S")
        .arg(&elf)
        .output()?;
    let engine = engine_size(&String::from_utf8_lossy(&sized.stdout)).ok_or_else(|| {
        Failure::new("lx106: the board's ENGINE static is missing from the gate link")
    })?;
    ram_use(&String::from_utf8_lossy(&symbols.stdout), engine)
}

/// The target JSON of the lx106 builds.
pub fn target_json() -> PathBuf {
    board_directory().join("lx106.json")
}

/// The cargo arguments and environment of an lx106 build with LLVM assembly output, run in
/// `directory` into `target_directory`.
pub fn build(toolchain: &Toolchain, directory: &Path, target_directory: &Path) -> Command {
    let mut command = toolchain.cargo(directory);
    command
        .env("CARGO_TARGET_DIR", target_directory)
        .env("RUSTFLAGS", "-C codegen-units=1 --emit=asm,link")
        // Debug information brings CFI directives, which GNU as rejects for this target.
        .env("CARGO_PROFILE_RELEASE_DEBUG", "0")
        .args([
            "build",
            "--locked",
            "--release",
            "--lib",
            "-Zbuild-std=core",
            "-Zbuild-std-features=compiler-builtins-mem",
            "-Zjson-target-spec",
            "--target",
        ])
        .arg(target_json());
    command
}

/// Fixes and assembles the newest assembly file of every crate built into `target_directory`;
/// returns the objects (in `<target_directory>/lx106-objects`).
pub fn assemble(target_directory: &Path) -> Outcome<Vec<PathBuf>> {
    let objects = target_directory.join("lx106-objects");
    if objects.exists() {
        std::fs::remove_dir_all(&objects)?;
    }
    std::fs::create_dir_all(&objects)?;
    let assembly = newest_per_crate(&target_directory.join("lx106/release/deps"))?;
    let mut object_files = Vec::new();
    for (name, source) in assembly {
        let fixed = objects.join(format!("{name}.s"));
        std::fs::write(&fixed, fix_literals(&std::fs::read_to_string(&source)?))?;
        let object = objects.join(format!("{name}.o"));
        process::run(
            Command::new("xtensa-lx106-elf-as")
                .arg("--text-section-literals")
                .arg("-o")
                .arg(&object)
                .arg(&fixed),
        )?;
        object_files.push(object);
    }
    Ok(object_files)
}

/// The board's LoadStoreError handler (also linked into the QEMU lx106 harness, which checks
/// its emulation).
pub fn load_store_error_source() -> PathBuf {
    board_directory().join("load-store-error.S")
}

/// Assembles one hand-written source into `objects`; returns the object.
pub fn assemble_source(objects: &Path, source: &Path) -> Outcome<PathBuf> {
    let stem = source
        .file_stem()
        .ok_or_else(|| Failure::new(format!("{}: no file name", source.display())))?;
    let object = objects.join(stem).with_extension("o");
    process::run(
        Command::new("xtensa-lx106-elf-as")
            .arg("--text-section-literals")
            .arg("-o")
            .arg(&object)
            .arg(source),
    )?;
    Ok(object)
}

/// Fails with what to install when Debian's lx106 tools are missing.
pub fn require_tools() -> Outcome {
    for tool in [
        "xtensa-lx106-elf-as",
        "xtensa-lx106-elf-gcc",
        "xtensa-lx106-elf-nm",
    ] {
        if !process::on_path(tool) {
            eprintln!("lx106: {tool} missing; installing Debian's lx106 tools");
            process::run(
                Command::new("bash")
                    .arg(process::workspace_root().join("scripts/setup-esp-tools.sh")),
            )?;
            break;
        }
    }
    Ok(())
}

/// The newest `<crate>-<hash>.s` of each crate in `directory` (older builds leave theirs).
fn newest_per_crate(directory: &Path) -> Outcome<Vec<(String, PathBuf)>> {
    let mut newest: HashMap<String, (std::time::SystemTime, PathBuf)> = HashMap::new();
    for entry in std::fs::read_dir(directory)? {
        let path = entry?.path();
        let Some(stem) = path
            .extension()
            .filter(|extension| *extension == "s")
            .and_then(|_| path.file_stem())
            .and_then(|stem| stem.to_str())
        else {
            continue;
        };
        let name = stem
            .rsplit_once('-')
            .map_or(stem, |(name, _)| name)
            .to_owned();
        let modified = std::fs::metadata(&path)?.modified()?;
        if newest.get(&name).is_none_or(|(time, _)| modified > *time) {
            newest.insert(name, (modified, path));
        }
    }
    let mut files: Vec<_> = newest
        .into_iter()
        .map(|(name, (_, path))| (name, path))
        .collect();
    files.sort();
    Ok(files)
}

/// Moves each literal pool that LLVM prints before a section switch to after it.
///
/// LLVM's Xtensa assembly announces a function's literals (`.literal_position` and its
/// `.literal` lines) and only then switches to the function's section (`.text` or
/// `.section .text.<name>`), so GNU as files the literals under the previous section and the
/// `l32r` that loads them ends up out of range. Placing the pool right after the switch puts
/// it in the function's own section, where `--text-section-literals` expects it.
pub fn fix_literals(assembly: &str) -> String {
    let mut output = String::with_capacity(assembly.len());
    let mut pool: Vec<&str> = Vec::new();
    for line in assembly.lines() {
        let directive = line.trim();
        let is_literal = directive == ".literal_position" || directive.starts_with(".literal ");
        let switches_section = directive == ".text" || directive.starts_with(".section");
        if is_literal {
            pool.push(line);
            continue;
        }
        // A pool waits for its function's section switch; anything else releases it.
        if !switches_section || pool.is_empty() {
            for held in pool.drain(..) {
                output.push_str(held);
                output.push('\n');
            }
        }
        output.push_str(line);
        output.push('\n');
    }
    for held in pool {
        output.push_str(held);
        output.push('\n');
    }
    output
}

/// The flash-mapped window (irom0) of the ESP8266's address space.
const FLASH_WINDOW: std::ops::Range<u64> = 0x4020_0000..0x4030_0000;

/// The instructions of an `objdump -d` of IRAM code that call into, or load the address of
/// something in, the flash window (code or `.rodata`): `call0` targets and `l32r` literals.
pub fn flash_references(disassembly: &str) -> Vec<String> {
    disassembly
        .lines()
        .filter(|line| {
            let operand = if line.contains("\tcall0\t") {
                line.split("\tcall0\t").nth(1)
            } else if line.contains("\tl32r\t") {
                line.split('(').nth(1)
            } else {
                None
            };
            operand
                .and_then(|text| text.split_whitespace().next())
                .and_then(|address| u64::from_str_radix(address.trim_end_matches(')'), 16).ok())
                .is_some_and(|address| FLASH_WINDOW.contains(&address))
        })
        .map(|line| line.trim().to_owned())
        .collect()
}

/// Symbol name → address, from `nm` output.
pub(crate) fn symbol_addresses(symbols: &str) -> HashMap<String, u64> {
    let mut addresses = HashMap::new();
    for line in symbols.lines() {
        let mut fields = line.split_whitespace();
        if let (Some(address), Some(_kind), Some(name)) =
            (fields.next(), fields.next(), fields.next())
        {
            if let Ok(address) = u64::from_str_radix(address, 16) {
                addresses.insert(name.to_owned(), address);
            }
        }
    }
    addresses
}

/// The size of the board's `ENGINE` static (the engine future) in `nm -S` output; its name is
/// mangled (`_RNv…13tc_at_esp82666ENGINE`), so it is found by its ending.
pub fn engine_size(sized_symbols: &str) -> Option<u64> {
    sized_symbols.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields[..] {
            [_, size, _, name] if name.ends_with("ENGINE") => u64::from_str_radix(size, 16).ok(),
            _ => None,
        }
    })
}

/// Reads the gate's section boundaries from `nm` output; `engine` is the `ENGINE` static's size.
pub fn ram_use(symbols: &str, engine: u64) -> Outcome<RamUse> {
    let addresses = symbol_addresses(symbols);
    let symbol = |name: &str| {
        addresses
            .get(name)
            .copied()
            .ok_or_else(|| Failure::new(format!("lx106: {name} missing from the gate link")))
    };
    let start = symbol("_gate_ram_start")?;
    let data_end = symbol("_gate_data_end")?;
    let end = symbol("_gate_ram_end")?;
    Ok(RamUse {
        data: data_end - start,
        bss: end - data_end,
        flash_rodata: symbol("_gate_flash_rodata_end")? - symbol("_gate_flash_rodata_start")?,
        iram: symbol("_gate_iram_end")? - symbol("_gate_iram_start")?,
        engine,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_literal_pool_moves_after_the_section_switch_that_follows_it() {
        let assembly = "\t.literal_position\n\t.literal .LCPI0_0, f\n\t.text\n\t.section\t.text.g,\"ax\",@progbits\ng:\n\tl32r a2, .LCPI0_0\n";
        let fixed = fix_literals(assembly);
        assert_eq!(
            fixed,
            "\t.text\n\t.section\t.text.g,\"ax\",@progbits\n\t.literal_position\n\t.literal .LCPI0_0, f\ng:\n\tl32r a2, .LCPI0_0\n"
        );
    }

    #[test]
    fn assembly_without_pools_is_unchanged() {
        let assembly = "\t.section\t.rodata.x,\"a\",@progbits\nx:\n\t.byte 1\n";
        assert_eq!(fix_literals(assembly), assembly);
    }

    #[test]
    fn the_ram_use_comes_from_the_gate_symbols() {
        let symbols =
            "3ffef000 D _gate_ram_start\n3ffef010 D _gate_data_end\n4000c594 D _gate_ram_end\n\
                       40220000 T _gate_flash_rodata_start\n402255b4 T _gate_flash_rodata_end\n\
                       40100000 T _gate_iram_start\n40100120 T _gate_iram_end\n";
        let usage = ram_use(symbols, 0x1D000).unwrap();
        assert_eq!(
            usage,
            RamUse {
                data: 0x10,
                bss: 0x1D584,
                flash_rodata: 0x55B4,
                iram: 0x120,
                engine: 0x1D000,
            }
        );
        assert!(!usage.fits());
        assert!(report(usage).contains("DOES NOT FIT"));
    }

    #[test]
    fn iram_code_reaching_flash_is_found() {
        let disassembly = "40100023:\tfff781        \tl32r\ta8, 40100000 <_gate_iram_start> (60000008 <x>)\n\
                           40100098:\tffe081        \tl32r\ta8, 40100018 <y> (40000000 <system_os_post>)\n\
                           401000cb:\t000185        \tcall0\t401000e4 <tcat_emulate_narrow_load>\n";
        assert!(flash_references(disassembly).is_empty());
        let bad = "4010004d:\tfff0a1        \tl32r\ta10, 40100010 <z> (40212345 <.Lanon.1>)\n\
                   40100050:\t000185        \tcall0\t40220000 <core::panicking::panic>\n";
        assert_eq!(flash_references(bad).len(), 2);
    }

    #[test]
    fn the_budget_is_what_the_sdk_leaves() {
        assert_eq!(RAM_BUDGET, 81_920 - 31_472 - 20_480);
        let small = RamUse {
            data: 100,
            bss: RAM_BUDGET - 100,
            flash_rodata: 30_000,
            iram: 300,
            engine: ENGINE_GOAL,
        };
        assert!(small.fits());
        assert!(judge(small, true).is_ok());
        let large = RamUse {
            bss: RAM_BUDGET - 99,
            ..small
        };
        assert!(judge(large, true).is_err());
        assert!(judge(large, false).is_ok());
        let large_engine = RamUse {
            engine: ENGINE_GOAL + 1,
            ..small
        };
        assert!(!large_engine.fits());
        assert!(judge(large_engine, true).is_err());
    }

    #[test]
    fn the_engine_size_is_the_engine_static_of_nm_s() {
        let sized = "3ffef000 00000010 b _RNvCs1_13tc_at_esp82664RING\n\
                     3ffef018 00008d20 b _RNvCsiG2ZywtO5s_13tc_at_esp82666ENGINE\n\
                     40100000 T _gate_iram_start\n";
        assert_eq!(engine_size(sized), Some(0x8d20));
        assert_eq!(engine_size("40100000 T _gate_iram_start\n"), None);
    }

    #[test]
    fn every_sdk_function_the_board_declares_has_a_gate_placeholder() {
        let declarations = std::fs::read_to_string(board_directory().join("src/sdk.rs")).unwrap();
        let placeholders =
            std::fs::read_to_string(board_directory().join("sdk-symbols.ld")).unwrap();
        let mut checked = 0;
        for line in declarations.lines() {
            if let Some(rest) = line.trim().strip_prefix("pub fn ") {
                let name = rest.split('(').next().unwrap();
                assert!(
                    placeholders.contains(&format!("PROVIDE({name} = ")),
                    "{name}"
                );
                checked += 1;
            }
        }
        assert!(checked > 20, "{checked}");
    }
}
