//! `cargo xtask flash --board esp32c3|esp32c2|esp8266 --port <tty>`: writes a module.
//!
//! The ESP32-C3/C2 get the merged image of `build-image` at offset 0 with espflash. The
//! ESP8266 gets the ESP-WROOM-02D layout (2 MB, `2MB-c1`) with esptool (PyPI `esptool`;
//! espflash has no ESP8266): the SDK's boot v1.7 at 0x0, our `user1` image at 0x1000, and the
//! SDK's RF calibration, PHY init data and parameter sectors at 0x1FB000..0x1FF000. The
//! settings and certificate areas (0x1E9000..0x1FB000) are left alone, so a reflash keeps them.
//! Nothing here has been run against a physical module (docs/hardware.md).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cross;
use crate::image::{self, Chip};
use crate::process::{self, Failure, Outcome};

/// `cargo xtask flash --board <board> --port <tty>`.
pub fn flash(arguments: &[String]) -> Outcome {
    let (board, port) = parse(arguments)?;
    match Chip::from_name(&board) {
        Some(chip) => {
            let toolchain = cross::prepare_toolchain()?;
            let espflash = image::prepare_espflash()?;
            let image = image::image(&toolchain, &espflash, chip)?;
            process::run(&mut riscv_command(&espflash, chip, &port, &image))
        }
        None if board == "esp8266" => {
            let sdk = std::env::var_os("ESP8266_NONOS_SDK")
                .filter(|value| !value.is_empty())
                .map(PathBuf::from)
                .ok_or_else(|| {
                    Failure::new(
                        "flash --board esp8266 needs ESP8266_NONOS_SDK=<checkout of Espressif's \
                         ESP8266_NONOS_SDK> (boot_v1.7.bin, esp_init_data_default_v08.bin, blank.bin)",
                    )
                })?;
            let user1 = cross::target_directory().join("esp8266-board/tc-at-esp8266.user1.bin");
            if !user1.is_file() {
                return Err(Failure::new(format!(
                    "{} is missing: the ESP8266 application does not link yet (`cargo xtask lx106` \
                     reports the RAM gate); once it does, make it with `esptool elf2image --version 2`",
                    user1.display()
                )));
            }
            process::run(&mut esp8266_command(&sdk, &port, &user1))
        }
        None => Err(Failure::new(format!(
            "unknown board `{board}`: flash takes --board esp32c3, esp32c2 or esp8266"
        ))),
    }
}

/// Reads `--board <name> --port <tty>` in either order.
fn parse(arguments: &[String]) -> Outcome<(String, String)> {
    let mut board = None;
    let mut port = None;
    let mut rest = arguments.iter();
    while let Some(flag) = rest.next() {
        let slot = match flag.as_str() {
            "--board" => &mut board,
            "--port" => &mut port,
            other => return Err(Failure::new(format!("flash: unknown argument `{other}`"))),
        };
        let value = rest
            .next()
            .ok_or_else(|| Failure::new(format!("flash: {flag} needs a value")))?;
        *slot = Some(value.clone());
    }
    match (board, port) {
        (Some(board), Some(port)) => Ok((board, port)),
        _ => Err(Failure::new(
            "usage: cargo xtask flash --board esp32c3|esp32c2|esp8266 --port <tty>",
        )),
    }
}

/// espflash writing the merged image at offset 0.
fn riscv_command(espflash: &Path, chip: Chip, port: &str, image: &Path) -> Command {
    let mut command = Command::new(espflash);
    command
        .args(["write-bin", "--chip", chip.name(), "--port", port, "0x0"])
        .arg(image);
    command
}

/// esptool writing boot, `user1` and the SDK's data sectors of the 2 MB layout.
fn esp8266_command(sdk: &Path, port: &str, user1: &Path) -> Command {
    let bin = sdk.join("bin");
    let mut command = Command::new("esptool");
    command
        .args(["--chip", "esp8266", "--port", port, "write-flash"])
        .args(["--flash-mode", "dio", "--flash-size", "2MB-c1"])
        .arg("0x0")
        .arg(bin.join("boot_v1.7.bin"))
        .arg("0x1000")
        .arg(user1)
        .arg("0x1FB000")
        .arg(bin.join("blank.bin"))
        .arg("0x1FC000")
        .arg(bin.join("esp_init_data_default_v08.bin"))
        .arg("0x1FD000")
        .arg(bin.join("blank.bin"))
        .arg("0x1FE000")
        .arg(bin.join("blank.bin"));
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(command: &Command) -> Vec<String> {
        command
            .get_args()
            .map(|argument| argument.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn board_and_port_are_read_in_any_order() {
        let arguments = ["--port", "/dev/ttyUSB0", "--board", "esp32c2"].map(str::to_owned);
        assert_eq!(
            parse(&arguments).unwrap(),
            ("esp32c2".to_owned(), "/dev/ttyUSB0".to_owned())
        );
        assert!(parse(&["--board".to_owned()]).is_err());
        assert!(parse(&["--speed".to_owned(), "1".to_owned()]).is_err());
        assert!(parse(&["--board".to_owned(), "esp32c3".to_owned()]).is_err());
    }

    #[test]
    fn the_riscv_image_goes_to_offset_zero() {
        let command = riscv_command(
            Path::new("espflash"),
            Chip::Esp32c3,
            "/dev/ttyACM0",
            Path::new("/i.bin"),
        );
        assert_eq!(
            words(&command),
            [
                "write-bin",
                "--chip",
                "esp32c3",
                "--port",
                "/dev/ttyACM0",
                "0x0",
                "/i.bin"
            ]
        );
    }

    #[test]
    fn the_esp8266_layout_is_the_2mb_c1_one_and_spares_our_areas() {
        let command = esp8266_command(Path::new("/sdk"), "/dev/ttyUSB0", Path::new("/u1.bin"));
        let arguments = words(&command);
        let pairs: Vec<(&str, &str)> = arguments
            .iter()
            .skip_while(|argument| *argument != "0x0")
            .collect::<Vec<_>>()
            .chunks(2)
            .map(|pair| (pair[0].as_str(), pair[1].as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("0x0", "/sdk/bin/boot_v1.7.bin"),
                ("0x1000", "/u1.bin"),
                ("0x1FB000", "/sdk/bin/blank.bin"),
                ("0x1FC000", "/sdk/bin/esp_init_data_default_v08.bin"),
                ("0x1FD000", "/sdk/bin/blank.bin"),
                ("0x1FE000", "/sdk/bin/blank.bin"),
            ]
        );
        assert!(arguments
            .windows(2)
            .any(|pair| pair == ["--flash-size", "2MB-c1"]));
        assert!(arguments
            .windows(2)
            .any(|pair| pair == ["--flash-mode", "dio"]));
    }
}
