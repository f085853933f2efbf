//! The command line and environment of `tc-at-module`: profile selection (`commands.md` §0),
//! flash file location and creation, simulated access points (`hub.md` §1).

mod common;

use std::process::Output;
use std::sync::mpsc;
use std::thread;

use common::{module_command, Module, Options, Scratch, Uart, START_DEADLINE};

const FLASH_SIZE: u64 = 2 * 1024 * 1024;

/// Runs the binary to completion (bounded by the start deadline).
fn run_to_exit(options: &Options) -> Output {
    let child = module_command(options)
        .arg("--uart")
        .arg("stdio")
        .spawn()
        .expect("spawn tc-at-module");
    let (sender, receiver) = mpsc::channel();
    let process_id = child.id();
    thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    match receiver.recv_timeout(START_DEADLINE) {
        Ok(output) => output.expect("wait for tc-at-module"),
        Err(_) => {
            // Still running: it must not have started. Kill it by its own id.
            let _ = std::process::Command::new("kill")
                .arg("-9")
                .arg(process_id.to_string())
                .status();
            panic!("tc-at-module kept running instead of refusing to start");
        }
    }
}

#[test]
fn unknown_profile_is_refused() {
    let scratch = Scratch::new("bad-profile");
    let options = Options {
        profile: Some("esp32"),
        extra_arguments: vec!["--flash".into(), scratch.flash().display().to_string()],
        ..Options::default()
    };
    let output = run_to_exit(&options);
    assert!(!output.status.success(), "exit status {:?}", output.status);
    assert!(output.stdout.is_empty(), "stdout: {:?}", output.stdout);
    assert!(
        !output.stderr.is_empty(),
        "an error must be printed on stderr"
    );
}

#[test]
fn unknown_profile_in_environment_is_refused() {
    let scratch = Scratch::new("bad-profile-env");
    let options = Options {
        profile: None,
        environment: vec![("TCAT_PROFILE".into(), "tiny".into())],
        extra_arguments: vec!["--flash".into(), scratch.flash().display().to_string()],
        ..Options::default()
    };
    let output = run_to_exit(&options);
    assert!(!output.status.success(), "exit status {:?}", output.status);
    assert!(output.stdout.is_empty(), "stdout: {:?}", output.stdout);
    assert!(
        !output.stderr.is_empty(),
        "an error must be printed on stderr"
    );
}

const TEST_FULL: &[u8] = b"AT+TCDEVINFOSET=?\r\n+TCDEVINFOSET:\"TLS_MODE(0/1/2)\",\"PRODUCT_ID\",\"DEVICE_NAME\",\"DEVICE_SECRET_BCC/CERT_NAME\",\"PRODUCT_REGION\"\r\n\r\nOK\r\n";
const TEST_ESP8266: &[u8] = b"AT+TCDEVINFOSET=?\r\n+TCDEVINFOSET:\"TLS_MODE(1)\",\"PRODUCT_ID\",\"DEVICE_NAME\",\"DEVICE_SECRET_BCC\",\"PRODUCT_REGION\"\r\n\r\nOK\r\n";

fn profile_answer(options: &Options) -> Vec<u8> {
    let scratch = Scratch::new("profile");
    let mut module = Module::start(Uart::Stdio, &scratch.flash(), options);
    module.transact(b"AT+TCDEVINFOSET=?\r\n")
}

#[test]
fn profile_defaults_to_full() {
    let options = Options {
        profile: None,
        ..Options::default()
    };
    assert_eq!(profile_answer(&options), TEST_FULL);
}

#[test]
fn profile_comes_from_environment_when_flag_absent() {
    let options = Options {
        profile: None,
        environment: vec![("TCAT_PROFILE".into(), "esp8266".into())],
        ..Options::default()
    };
    assert_eq!(profile_answer(&options), TEST_ESP8266);
}

#[test]
fn profile_flag_overrides_environment() {
    let options = Options {
        profile: Some("full"),
        environment: vec![("TCAT_PROFILE".into(), "esp8266".into())],
        ..Options::default()
    };
    assert_eq!(profile_answer(&options), TEST_FULL);
}

#[test]
fn flash_file_is_created_as_2_mib_of_erased_nor() {
    let scratch = Scratch::new("flash-create");
    let flash = scratch.flash();
    assert!(!flash.exists());
    let module = Module::start(Uart::Stdio, &flash, &Options::default());
    let bytes = module.flash_bytes();
    assert_eq!(bytes.len() as u64, FLASH_SIZE);
    // Boot may format its own storage area, but most of a fresh image stays erased (0xFF).
    let erased = bytes.iter().filter(|byte| **byte == 0xff).count();
    assert!(erased > bytes.len() * 9 / 10, "only {erased} erased bytes");
}

#[test]
fn flash_path_comes_from_environment_when_flag_absent() {
    let scratch = Scratch::new("flash-env");
    let flash = scratch.flash();
    let options = Options {
        flash_flag: false,
        environment: vec![("TCAT_FLASH".into(), flash.display().to_string())],
        ..Options::default()
    };
    let mut module = Module::start(Uart::Stdio, &flash, &options);
    module.send(b"AT+CWMODE=2\r\n");
    module.expect(b"AT+CWMODE=2\r\n\r\nOK\r\n");
    module.kill();
    assert_eq!(std::fs::metadata(&flash).unwrap().len(), FLASH_SIZE);
    let mut module = Module::start(Uart::Stdio, &flash, &options);
    module.send(b"AT+CWMODE?\r\n");
    module.expect(b"AT+CWMODE?\r\n+CWMODE:2\r\n\r\nOK\r\n");
}

#[test]
fn wifi_flag_adds_an_access_point_with_default_rssi() {
    let scratch = Scratch::new("wifi-flag");
    let options = Options {
        wifi_aps: None,
        extra_arguments: vec!["--wifi".into(), "cli-ap:clipass123".into()],
        ..Options::default()
    };
    let mut module = Module::start(Uart::Pty, &scratch.flash(), &options);
    module.send(b"AT+CWJAP=\"cli-ap\",\"clipass123\"\r\n");
    module.expect(
        b"AT+CWJAP=\"cli-ap\",\"clipass123\"\r\nWIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n",
    );
    module.send(b"AT+CWJAP?\r\n");
    module.expect(b"AT+CWJAP?\r\n+CWJAP:\"cli-ap\",\"02:00:00:00:00:01\",6,-45\r\n\r\nOK\r\n");
    module.expect_quiet(true);
}

#[test]
fn stored_station_missing_from_the_air_joins_silently_fails() {
    // A failed auto-join prints nothing (at-engine.md §2).
    let scratch = Scratch::new("autojoin-missing");
    let mut module = Module::start(Uart::Stdio, &scratch.flash(), &Options::default());
    module.send(b"AT+CWJAP=\"hub-ap\",\"password123\"\r\n");
    module.expect(
        b"AT+CWJAP=\"hub-ap\",\"password123\"\r\nWIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n",
    );
    module.kill();
    let options = Options {
        wifi_aps: Some("other-ap:password123:-50".into()),
        ..Options::default()
    };
    let mut module = Module::start(Uart::Stdio, &scratch.flash(), &options);
    module.send(b"AT+CWJAP?\r\n");
    module.expect(b"AT+CWJAP?\r\nNo AP\r\n\r\nOK\r\n");
    module.expect_quiet(true);
    module.send(b"AT+CWJAP?\r\n");
    module.expect(b"AT+CWJAP?\r\nNo AP\r\n\r\nOK\r\n");
}
