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

use crate::process::{self, Failure, Outcome};
use crate::{artifact, hub, preset, signals, terminal};

/// The simulated access point every fresh session can join.
const DEMO_ACCESS_POINT: &str = "tc-at-demo:password123";

/// Builds and starts a hub and `tc-at-module` routed to it, forwarding `extra_arguments` to
/// the module (`--no-hub` starts the module alone).
pub fn run(extra_arguments: &[String]) -> Outcome {
    let with_hub = !extra_arguments.iter().any(|argument| argument == NO_HUB);
    let extra_arguments: Vec<String> = extra_arguments
        .iter()
        .filter(|argument| *argument != NO_HUB)
        .cloned()
        .collect();
    let state = state_directory()?;
    std::fs::create_dir_all(&state)
        .map_err(|error| Failure::new(format!("cannot create {}: {error}", state.display())))?;
    let link = state.join("tc-at-uart");
    let arguments = module_arguments(
        &extra_arguments,
        &state,
        std::env::var_os("TCAT_FLASH").is_some(),
    );
    let uses_pty = uart_choice(&arguments) == "pty";
    // Only an image created by this run gets the demo device: never overwrite the user's own.
    let fresh_flash = !flash_path(&arguments).is_some_and(|path| path.exists());
    if uses_pty {
        remove_stale_link(&link)?;
    }

    let executable = artifact::build_executable("tc-at-linux", "tc-at-module", false)?;
    let hub_executable = if with_hub { Some(hub::build()?) } else { None };
    let children = signals::Children::default();
    let mut hub = match hub_executable {
        Some(hub_executable) => Some(start_hub(&hub_executable, &children)?),
        None => None,
    };
    let mut command = Command::new(executable);
    command.args(&arguments);
    if let Some(hub) = &hub {
        for (name, value) in routing(&hub.ready, |name| std::env::var_os(name).is_some()) {
            command.env(name, value);
        }
    }
    let ready = hub.as_ref().map(|hub| hub.ready);
    let preset = ready
        .filter(|_| fresh_flash)
        .map(|ready| u8::from(ready.mqtts != 0));
    let outcome = run_module(command, uses_pty, &link, ready, preset, &children);
    if let Some(hub) = &mut hub {
        let _ = hub.child.kill();
        let _ = hub.child.wait();
    }
    outcome
}

/// The option of `cargo xtask run` (not the module's) that leaves the hub out.
const NO_HUB: &str = "--no-hub";

/// Starts the hub on its default ports, or on free ones when those are taken (a broker or
/// another hub already running is common on a developer machine).
fn start_hub(executable: &Path, children: &signals::Children) -> Outcome<hub::Running> {
    let defaults = [
        "--mqtt-port",
        "1883",
        "--mqtts-port",
        "8883",
        "--admin-port",
        "18090",
    ]
    .map(String::from);
    if let Some(running) = hub::start(executable, &defaults, children)? {
        return Ok(running);
    }
    eprintln!("note: the hub's default ports are taken; using free ports instead");
    let free = ["--mqtt-port", "0", "--mqtts-port", "0", "--admin-port", "0"].map(String::from);
    hub::start(executable, &free, children)?
        .ok_or_else(|| Failure::new("tc-at-hub stopped before it was ready"))
}

/// The environment that sends the module's MQTT connections to the hub, leaving out any
/// variable the user set (`is_set`), so their own routing wins.
fn routing(ready: &hub::Ready, is_set: impl Fn(&str) -> bool) -> Vec<(&'static str, String)> {
    [
        ("TCAT_RESOLVE", "*.tencentdevices.com=127.0.0.1".to_owned()),
        ("TCAT_PORT_MAP", ready.port_map()),
    ]
    .into_iter()
    .filter(|(name, _)| {
        let set = is_set(name);
        if set {
            eprintln!("note: {name} is set in the environment; the module uses it");
        }
        !set
    })
    .collect()
}

/// Runs the module until it exits or a stop signal ends it.
fn run_module(
    mut command: Command,
    uses_pty: bool,
    link: &Path,
    hub: Option<hub::Ready>,
    preset_tls_mode: Option<u8>,
    children: &signals::Children,
) -> Outcome {
    eprintln!("$ {}", process::describe(&command));
    if !uses_pty {
        // stdio and TCP modes need nothing from us: the terminal or the client is the MCU.
        let mut child = command.spawn()?;
        children.add(child.id());
        signals::end_children_on_stop(children)?;
        return finished(child.wait()?, children);
    }

    let mut child = command.stdout(Stdio::piped()).spawn()?;
    children.add(child.id());
    signals::end_children_on_stop(children)?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| Failure::new("the module's stdout was not captured"))?;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        if let Some(pty) = line.strip_prefix("UART ") {
            if let Some(tls) = preset_tls_mode {
                preset::store_demo_device(pty, tls)?;
                let (product, device, _) = hub::DEMO_DEVICE;
                println!("Stored the hub's demo device {product}/{device} (TLS mode {tls}) in the new flash image.");
            }
            print_connection_help(pty, link, hub.as_ref());
        }
    }
    finished(child.wait()?, children)
}

/// The flash image the module will use: `--flash`, else `TCAT_FLASH`.
fn flash_path(arguments: &[OsString]) -> Option<PathBuf> {
    arguments
        .iter()
        .position(|argument| argument == "--flash")
        .and_then(|index| arguments.get(index + 1))
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("TCAT_FLASH").map(PathBuf::from))
}

fn finished(exit: std::process::ExitStatus, children: &signals::Children) -> Outcome {
    if exit.success() || children.stopped() {
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

fn print_connection_help(pty: &str, link: &Path, hub: Option<&hub::Ready>) {
    let link = if link.exists() {
        link.display().to_string()
    } else {
        pty.to_owned()
    };
    println!(
        "\n\
         The virtual module is listening on {pty}.\n\
         Connect a terminal to it (Enter sends CR LF; the module echoes what you type):\n\
         \n    {terminal}\n\
         \n\
         Example session (type the AT lines; a new flash image already holds the demo device):\n\
         \n    AT\n    OK\n\
         \n    AT+GMR\n    AT version:<version>(<commit> - LINUX - <build time>)\n    ...\n    OK\n\
         \n    AT+CWJAP=\"tc-at-demo\",\"password123\"\n    WIFI CONNECTED\n    WIFI GOT IP\n    OK\n{}\
         \n\
         Credentials persist in the flash image across runs and AT+RST. Stop with Ctrl-C.\n",
        hub.map_or_else(String::new, hub_session),
        terminal = terminal::command_line(&link),
    );
}

/// The MQTT part of the example session: the hub's demo device, a loop-back and the admin
/// call that plays the cloud. TLS-PSK (mode 1, the product's default) when the hub has its TLS
/// listener, plain TCP with the HMAC password (mode 0) otherwise.
fn hub_session(hub: &hub::Ready) -> String {
    let (product, device, _) = hub::DEMO_DEVICE;
    let admin = hub.admin;
    let tls = u8::from(hub.mqtts != 0);
    // Secrets are never printed, not even the demo's public one: a flash image made by an
    // earlier run stores the device with the line below, the secret taken from the README.
    format!(
        "\n    AT+TCDEVINFOSET={tls},\"{product}\",\"{device}\",\"<demo secret, tools/hub/README.md>\"   (only for an older flash image)\n    OK\n    +TCDEVINFOSET:OK\n\
         \n    AT+TCMQTTCONN={tls},5000,240,1,1\n    OK\n    +TCMQTTCONN:OK\n\
         \n    AT+TCMQTTSUB=\"{product}/{device}/data\",1\n    OK\n    +TCMQTTSUB:OK\n\
         \n    AT+TCMQTTPUB=\"{product}/{device}/data\",1,\"hello\"\n    OK\n\
         \x20   +TCMQTTPUB:OK\n    +TCMQTTRCVPUB:\"{product}/{device}/data\",5,\"hello\"\n\
         \n\
         The MQTT broker is the local hub (MQTT port {mqtt}, TLS port {mqtts}, admin API port {admin}); the module\n\
         reaches it through TCAT_RESOLVE and TCAT_PORT_MAP. Play the cloud from a shell:\n\
         \n    curl -s -XPOST localhost:{admin}/devices/{product}/{device}/publish \\\n\
         \x20       -d '{{\"topic\":\"{product}/{device}/data\",\"payload\":\"from the cloud\"}}'\n\
         \x20   curl -s -XPOST localhost:{admin}/devices/{product}/{device}/kick -d '{{}}'\n\
         \n\
         Watch an OTA update of the MCU's firmware: upload an image to the hub's file server, create an\n\
         update task for the demo device (file_id: the \"id\" the upload answered), then enable OTA:\n\
         \n    head -c 5000 /dev/urandom > /tmp/firmware.bin\n\
         \x20   curl -s -XPOST --data-binary @/tmp/firmware.bin localhost:{admin}/files\n\
         \x20   curl -s -XPOST localhost:{admin}/devices/{product}/{device}/ota -d '{{\"file_id\":1,\"version\":\"1.0.1\"}}'\n\
         \n    AT+TCOTASET=1,\"1.0.0\"\n    OK\n    +TCOTASET:OK\n    +TCOTASTATUS:ENTERUPDATE\n    +TCOTASTATUS:UPDATESUCCESS\n\
         \n    AT+TCFWINFO?\n    OK\n    +TCFWINFO:\"1.0.1\",5000,\"<md5>\",909312\n\
         \n    AT+TCREADFWDATA=16\n    OK\n    +TCREADFWDATA:16,<16 raw image bytes>\n\
         \n\
         The hub's side of it (the task, then the version report, the GET and its Range, the reports):\n\
         \n    curl -s localhost:{admin}/devices/{product}/{device}/ota\n\
         \x20   curl -s localhost:{admin}/events\n\
         \n\
         A module self-update is the same task with \"kind\":\"module\": UPDATESUCCESS, UPDATERESET, then\n\
         the module reboots (ready) and keeps its version (it cannot run the image it stored).\n",
        mqtt = hub.mqtt,
        mqtts = hub.mqtts,
    )
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

    #[test]
    fn routing_sends_tencent_hosts_and_mqtt_ports_to_the_hub() {
        let ready = hub::Ready {
            mqtt: 41883,
            mqtts: 0,
            admin: 41890,
        };
        assert_eq!(
            routing(&ready, |_| false),
            [
                ("TCAT_RESOLVE", "*.tencentdevices.com=127.0.0.1".to_owned()),
                ("TCAT_PORT_MAP", "1883=41883".to_owned())
            ]
        );
    }

    #[test]
    fn routing_leaves_variables_the_user_set_alone() {
        let ready = hub::Ready {
            mqtt: 1883,
            mqtts: 8883,
            admin: 18090,
        };
        let routed = routing(&ready, |name| name == "TCAT_RESOLVE");
        assert_eq!(
            routed,
            [("TCAT_PORT_MAP", "1883=1883,8883=8883".to_owned())]
        );
    }

    #[test]
    fn example_session_uses_tls_psk_when_the_hub_has_its_tls_listener() {
        let session = hub_session(&hub::Ready {
            mqtt: 1883,
            mqtts: 8883,
            admin: 18090,
        });
        assert!(session.contains("AT+TCDEVINFOSET=1,\"DEMO000001\""));
        assert!(session.contains("AT+TCMQTTCONN=1,5000,240,1,1"));
        assert!(!session.contains(hub::DEMO_DEVICE.2), "a secret is printed");
    }

    #[test]
    fn example_session_configures_connects_subscribes_publishes_and_updates_the_demo_device() {
        let session = hub_session(&hub::Ready {
            mqtt: 1883,
            mqtts: 0,
            admin: 18090,
        });
        let lines = [
            "AT+TCDEVINFOSET=0,\"DEMO000001\",\"demo\",\"<demo secret, tools/hub/README.md>\"",
            "AT+TCMQTTCONN=0,5000,240,1,1",
            "AT+TCMQTTSUB=\"DEMO000001/demo/data\",1",
            "AT+TCMQTTPUB=\"DEMO000001/demo/data\",1,\"hello\"",
            "+TCMQTTRCVPUB:\"DEMO000001/demo/data\",5,\"hello\"",
            "localhost:18090/devices/DEMO000001/demo/publish",
            "localhost:18090/files",
            "localhost:18090/devices/DEMO000001/demo/ota -d '{\"file_id\":1,\"version\":\"1.0.1\"}'",
            "AT+TCOTASET=1,\"1.0.0\"",
            "+TCOTASTATUS:ENTERUPDATE",
            "+TCOTASTATUS:UPDATESUCCESS",
            "AT+TCFWINFO?",
            "AT+TCREADFWDATA=16",
        ];
        let mut rest = session.as_str();
        for line in lines {
            let position = rest
                .find(line)
                .unwrap_or_else(|| panic!("{line:?} missing or out of order in {session}"));
            rest = &rest[position + line.len()..];
        }
    }
}
