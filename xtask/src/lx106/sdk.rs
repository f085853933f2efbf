//! The ESP8266 application link with Espressif's ESP8266_NONOS_SDK (`ESP8266_NONOS_SDK` set):
//! the SDK's own 2 MB linker script, adapted so our code and `.rodata` go to flash and our
//! `.iram1.*` to IRAM; the resulting data RAM map; the `user1` image when esptool is
//! installed.

use std::path::Path;
use std::process::Command;

use super::{assemble_source, symbol_addresses, DATA_RAM};
use crate::cross;
use crate::process::{self, Failure, Outcome};

/// Links the assembled board into an SDK application with the SDK's own 2 MB linker script,
/// our code placed in flash. Its failure fails the command only when `required` (the RAM gate
/// already reports an engine that does not fit, which is the failure expected until it does).
pub fn sdk_link(sdk: &Path, required: bool) -> Outcome {
    let target_directory = cross::target_directory().join("esp8266-board");
    let objects = target_directory.join("lx106-objects");
    let library = target_directory.join("libtcat.a");
    let _ = std::fs::remove_file(&library);
    let mut archive = Command::new("xtensa-lx106-elf-ar");
    archive.arg("rcs").arg(&library);
    for entry in std::fs::read_dir(&objects)? {
        let path = entry?.path();
        if path.extension().is_some_and(|extension| extension == "o") {
            archive.arg(path);
        }
    }
    process::run(&mut archive)?;
    let original =
        std::fs::read_to_string(sdk.join("ld/eagle.app.v6.new.2048.ld")).map_err(|error| {
            Failure::new(format!(
                "ESP8266_NONOS_SDK={}: no ld/eagle.app.v6.new.2048.ld: {error}",
                sdk.display()
            ))
        })?;
    let script = application_script(&original, &sdk.join("ld/eagle.rom.addr.v6.ld"))?;
    let script_path = target_directory.join("tc-at-esp8266-app.ld");
    std::fs::write(&script_path, script)?;
    // The SDK's lib/libc.a is a large blob that snapshots often lack: picolibc stands in,
    // with the one newlib variable lwIP's ctype macros read (`__ctype_ptr__`, a pointer to
    // the 1 + 256-entry table that picolibc calls `_ctype_`).
    let mut extra_objects = Vec::new();
    if !sdk.join("lib/libc.a").is_file() {
        eprintln!(
            "lx106: {} has no lib/libc.a: linking Debian's picolibc with a `__ctype_ptr__` stand-in",
            sdk.display()
        );
        let source = target_directory.join("ctype-pointer.s");
        std::fs::write(&source, CTYPE_POINTER_STANDIN)?;
        extra_objects.push(assemble_source(&target_directory, &source)?);
    }
    let elf = target_directory.join("tc-at-esp8266.elf");
    let status = process::status(
        Command::new("xtensa-lx106-elf-gcc")
            .args([
                "-nostdlib",
                "-Wl,--gc-sections",
                "-Wl,-static",
                "-u",
                "user_pre_init",
                "-T",
            ])
            .arg(&script_path)
            .arg("-L")
            .arg(sdk.join("lib"))
            .arg("-L")
            .arg(&target_directory)
            .args(["-L", "/usr/lib/xtensa-lx106-elf/lib/release", "-o"])
            .arg(&elf)
            .args(&extra_objects)
            .args([
                "-Wl,--start-group",
                "-lmain",
                "-lnet80211",
                "-lwpa",
                "-llwip",
                "-lpp",
                "-lphy",
                "-lsmartconfig",
            ])
            .args([
                "-lcrypto",
                "-ldriver",
                "-ltcat",
                "-lgcc",
                "-lc",
                "-Wl,--end-group",
            ]),
    )?;
    if status.success() {
        eprintln!("lx106: SDK application linked: {}", elf.display());
        let symbols = Command::new("xtensa-lx106-elf-nm").arg(&elf).output()?;
        eprintln!(
            "{}",
            sdk_map(&String::from_utf8_lossy(&symbols.stdout))?.report()
        );
        user1_image(&elf, &target_directory.join("tc-at-esp8266.user1.bin"))
    } else if required {
        Err(Failure::new(
            "lx106: the SDK application link failed (see the linker's messages above)",
        ))
    } else {
        eprintln!("lx106: the SDK application link failed as the RAM gate predicts (see above)");
        Ok(())
    }
}

/// The data RAM of the linked SDK application, from the SDK script's symbols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdkMap {
    /// `.data + .rodata + .bss` of everything (SDK, C library, ours).
    pub static_ram: u64,
    /// What is left for the SDK heap at boot (`_heap_start` to the end of the data RAM).
    pub heap: u64,
    /// IRAM code (`.text`, the SDK's and our `.iram1.*`) of the 32 KiB.
    pub iram: u64,
    /// Code and constants in flash (irom0).
    pub irom: u64,
}

impl SdkMap {
    fn report(self) -> String {
        format!(
            "lx106: SDK application: data RAM static {} B, heap at boot {} B (of {DATA_RAM}); \
             IRAM {} B of 32768; flash (irom0) {} B",
            self.static_ram, self.heap, self.iram, self.irom
        )
    }
}

/// Reads [`SdkMap`] from `nm` output of the SDK application.
pub fn sdk_map(symbols: &str) -> Outcome<SdkMap> {
    let addresses = symbol_addresses(symbols);
    let symbol = |name: &str| {
        addresses
            .get(name)
            .copied()
            .ok_or_else(|| Failure::new(format!("lx106: {name} missing from the SDK link")))
    };
    const DATA_RAM_START: u64 = 0x3FFE_8000;
    Ok(SdkMap {
        static_ram: symbol("_bss_end")? - symbol("_data_start")?,
        heap: DATA_RAM_START + DATA_RAM - symbol("_heap_start")?,
        iram: symbol("_text_end")? - symbol("_text_start")?,
        irom: symbol("_irom0_text_end")? - symbol("_irom0_text_start")?,
    })
}

/// Makes the `user1` image of boot v1.7's 2 MB `2MB-c1` layout with esptool, when it is
/// installed (PyPI `esptool`); otherwise says how.
fn user1_image(elf: &Path, user1: &Path) -> Outcome {
    if !process::on_path("esptool") {
        eprintln!("lx106: esptool is not installed (`pip install esptool`): no user1 image made");
        return Ok(());
    }
    process::run(
        Command::new("esptool")
            .args(["--chip", "esp8266", "elf2image", "--version", "2"])
            .args(["--flash-mode", "dio", "--flash-size", "2MB-c1", "-o"])
            .arg(user1)
            .arg(elf),
    )?;
    eprintln!(
        "lx106: user1 image {} ({} B)",
        user1.display(),
        std::fs::metadata(user1)?.len()
    );
    Ok(())
}

/// newlib's `__ctype_ptr__` for an SDK link against picolibc (see [`sdk_link`]).
const CTYPE_POINTER_STANDIN: &str = "\t.section .rodata.__ctype_ptr__,\"a\"\n\t.global __ctype_ptr__\n\t.align 4\n__ctype_ptr__:\n\t.word _ctype_\n";

/// The SDK's 2 MB application script with our library's code and constants placed in flash
/// (irom0), its `.iram1.*` sections in IRAM, and the ROM symbol file included by absolute path.
pub fn application_script(original: &str, rom_symbols: &Path) -> Outcome<String> {
    const ANCHOR: &str = "*libmbedtls.a:(.literal.* .text.*)";
    const ROM_INCLUDE: &str = "INCLUDE \"../ld/eagle.rom.addr.v6.ld\"";
    const RODATA: &str = "    *(.rodata)\n    *(.rodata.*)\n";
    const IRAM_ANCHOR: &str = "*(.entry.text)";
    if [ANCHOR, ROM_INCLUDE, RODATA, IRAM_ANCHOR]
        .iter()
        .any(|anchor| !original.contains(anchor))
    {
        return Err(Failure::new(
            "eagle.app.v6.new.2048.ld has changed: its libmbedtls line, .rodata rules, \
             .entry.text line or ROM include is missing",
        ));
    }
    Ok(original
        .replacen(
            ANCHOR,
            &format!(
                "{ANCHOR}\n    *libtcat.a:(.literal .text .literal.* .text.*)\n    \
                 *libtcat.a:(.rodata .rodata.*)"
            ),
            1,
        )
        .replacen(
            RODATA,
            "    *(EXCLUDE_FILE(*libtcat.a) .rodata)\n    *(EXCLUDE_FILE(*libtcat.a) .rodata.*)\n",
            1,
        )
        .replacen(
            IRAM_ANCHOR,
            &format!("{IRAM_ANCHOR}\n    *libtcat.a:(.iram1 .iram1.*)"),
            1,
        )
        .replace(
            ROM_INCLUDE,
            &format!("INCLUDE \"{}\"", rom_symbols.display()),
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdk_map_comes_from_the_sdk_script_symbols() {
        let symbols = "3ffe8000 A _data_start\n3fff8c50 A _bss_end\n3fff8c50 A _heap_start\n\
                       40100000 A _text_start\n40105f96 A _text_end\n\
                       40201010 A _irom0_text_start\n4026e9fc A _irom0_text_end\n";
        let map = sdk_map(symbols).unwrap();
        assert_eq!(
            map,
            SdkMap {
                static_ram: 0x10C50,
                heap: 0x3FFF_C000 - 0x3FFF_8C50,
                iram: 0x5F96,
                irom: 0x6D9EC,
            }
        );
        assert!(sdk_map("3ffe8000 A _data_start\n").is_err());
    }

    #[test]
    fn the_application_script_places_our_code_in_flash() {
        let original = "  .rodata : {\n    *(.rodata)\n    *(.rodata.*)\n  }\n  .irom0.text : {\n    *libmbedtls.a:(.literal.* .text.*)\n    *(.irom0.literal)\n  }\n  .text : {\n    *(.entry.text)\n  }\nINCLUDE \"../ld/eagle.rom.addr.v6.ld\"\n";
        let script =
            application_script(original, Path::new("/sdk/ld/eagle.rom.addr.v6.ld")).unwrap();
        assert!(script.contains("*libmbedtls.a:(.literal.* .text.*)\n    *libtcat.a:(.literal .text .literal.* .text.*)\n    *libtcat.a:(.rodata .rodata.*)\n"));
        assert!(script.contains(
            "    *(EXCLUDE_FILE(*libtcat.a) .rodata)\n    *(EXCLUDE_FILE(*libtcat.a) .rodata.*)\n"
        ));
        assert!(script.contains("*(.entry.text)\n    *libtcat.a:(.iram1 .iram1.*)\n"));
        assert!(script.contains("INCLUDE \"/sdk/ld/eagle.rom.addr.v6.ld\""));
        assert!(application_script("SECTIONS {}", Path::new("/x")).is_err());
    }
}
