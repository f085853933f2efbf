//! `cargo xtask bench ram`: the engine's RAM per component, from a riscv32 build and from the
//! ESP8266 board's lx106 build.
//!
//! Why a board build: the engine future's size only exists once `command_core::run_with` is
//! instantiated with a board's types, and the host test (`crates/command-core/src/footprint.rs`,
//! which CI gates) measures an x86_64 debug build. `boards/qemu` is the smallest riscv32 board
//! that instantiates the unchanged engine; built without its `certificates` feature it has the
//! esp8266 profile's state (the profile itself is a run-time value that changes no size). The
//! layouts come from rustc's `-Zprint-type-sizes` (the Debian toolchain of `cargo xtask cross`
//! accepts it under `RUSTC_BOOTSTRAP=1`, which that toolchain's cargo already sets). The lx106
//! column is the same engine as `boards/esp8266` instantiates it (the chip the budget is for;
//! `cargo xtask lx106` links it and reads the `ENGINE` static): built as a library, so it
//! needs neither the SDK nor the GNU tools.

use std::collections::HashMap;
use std::process::Command;

use crate::cross::{self, Toolchain};
use crate::lx106;
use crate::process::{self, Failure, Outcome};

/// One row of the table: a label and where its size comes from.
enum Source {
    /// The whole type whose name starts with this.
    Type(&'static str),
    /// The largest field or local of this name in the type whose name starts with the first.
    Member(&'static str, &'static str),
}

/// What a future's type name starts with once [`Layouts::parse`] has named it: rustc writes
/// `{async fn body of <path>}` for an `async fn` and `{async block@<path>::{closure#0}}` for an
/// `async` block a function returns (the engine's loops are such blocks), and the table must
/// not depend on which of the two a function is.
const FUTURE: &str = "future ";
const ENGINE: &str = "future command_core::run_with<";
const MQTT_SHARED: &str = "command_core::mqtt::MqttShared<";
const SESSION: &str = "mqtt_session::session::Session<";
const SERVICE: &str = "future command_core::mqtt::service::serve<";
const SERVE: &str = "future command_core::engine::serve<";

/// The table's rows, parents before their parts (indentation shows the nesting).
const ROWS: [(&str, Source); 25] = [
    ("engine future (`run_with`)", Source::Type(ENGINE)),
    (
        "  RAM state (settings mirror)",
        Source::Type("command_core::state::RamState"),
    ),
    (
        "  state shared by the loops (`MqttShared`)",
        Source::Type(MQTT_SHARED),
    ),
    ("    MQTT session", Source::Member(MQTT_SHARED, "session")),
    (
        "      transmit buffer (payload area)",
        Source::Member(SESSION, "transmit"),
    ),
    ("      receive buffer", Source::Member(SESSION, "receive")),
    (
        "      subscriptions",
        Source::Member(SESSION, "subscriptions"),
    ),
    (
        "      operations in flight",
        Source::Member(SESSION, "pending"),
    ),
    ("      event queue", Source::Member(SESSION, "events")),
    ("    status outbox", Source::Member(MQTT_SHARED, "outbox")),
    (
        "    work buffer (OTA HTTP, hashing)",
        Source::Member(MQTT_SHARED, "data"),
    ),
    (
        "    OTA (machine, URL, record)",
        Source::Member(MQTT_SHARED, "ota"),
    ),
    (
        "    request mailbox",
        Source::Member(MQTT_SHARED, "requests"),
    ),
    (
        "  framer and input queue (`Shared`)",
        Source::Member(SERVE, "shared"),
    ),
    (
        "    input queue",
        Source::Type("command_core::queue::InputQueue"),
    ),
    ("    framer", Source::Type("at_parser::framer::Framer<")),
    (
        "  executor (reply block, download)",
        Source::Member(SERVE, "executor"),
    ),
    (
        "    reply block",
        Source::Type("command_core::render::Reply"),
    ),
    ("  MQTT service future", Source::Type(SERVICE)),
    (
        "    TLS receive record",
        Source::Member(SERVICE, "read_buffer"),
    ),
    (
        "    link (TLS keys, state)",
        Source::Member(SERVICE, "link"),
    ),
    (
        "    opening or serving a link",
        Source::Member(SERVICE, "__awaitee"),
    ),
    (
        "  executor future",
        Source::Type("future command_core::engine::Executor<"),
    ),
    (
        "  receiver future",
        Source::Type("future command_core::engine::receiver::receive<"),
    ),
    (
        "  URC writer future",
        Source::Type("future command_core::engine::output::write_urcs<"),
    ),
];

/// Builds the riscv32 board without certificates and the ESP8266 board for the lx106, and
/// prints the table with a column for each.
pub fn ram() -> Outcome {
    let toolchain = cross::prepare_toolchain()?;
    let riscv32 = print_type_sizes(&toolchain, Board::Riscv32)?;
    let lx106 = print_type_sizes(&toolchain, Board::Lx106)?;
    println!(
        "\nEngine RAM, esp8266 profile (release; riscv32: `boards/qemu --no-default-features`, \
         lx106: `boards/esp8266`):\n"
    );
    println!("| component | riscv32 | lx106 |\n|---|---|---|");
    for (label, source) in ROWS {
        let shown = |layouts: &Layouts| {
            let bytes = match source {
                Source::Type(prefix) => layouts.size(prefix),
                Source::Member(prefix, name) => layouts.member(prefix, name),
            };
            bytes.map_or_else(|| "?".to_owned(), |bytes| bytes.to_string())
        };
        println!("| {label} | {} | {} |", shown(&riscv32), shown(&lx106));
    }
    if riscv32.size(ENGINE).is_none() || lx106.size(ENGINE).is_none() {
        return Err(Failure::new(
            "bench ram: no `run_with` future in a build's type sizes",
        ));
    }
    Ok(())
}

/// The two builds the table compares.
#[derive(Clone, Copy)]
enum Board {
    /// `boards/qemu` without certificates, for the ESP32-C3's CPU.
    Riscv32,
    /// `boards/esp8266`, for the ESP8266's CPU (the budget's chip).
    Lx106,
}

/// The type layouts rustc printed, by type name.
struct Layouts {
    types: HashMap<String, Layout>,
}

#[derive(Default)]
struct Layout {
    size: usize,
    /// Field or local name → the largest size it has in any variant.
    members: HashMap<String, usize>,
}

impl Layouts {
    fn parse(text: &str) -> Layouts {
        let mut types = HashMap::new();
        let mut current: Option<(String, Layout)> = None;
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("print-type-size ") else {
                continue;
            };
            if let Some(header) = rest.strip_prefix("type: `") {
                if let Some((name, layout)) = current.take() {
                    types.entry(name).or_insert(layout);
                }
                let Some((name, size)) = header.rsplit_once("`: ") else {
                    continue;
                };
                current = Some((
                    future_named(name),
                    Layout {
                        size: leading_number(size),
                        members: HashMap::new(),
                    },
                ));
                continue;
            }
            let member = rest.trim_start();
            let named = member
                .strip_prefix("field `.")
                .or_else(|| member.strip_prefix("local `."))
                .or_else(|| member.strip_prefix("upvar `."));
            if let (Some(named), Some((_, layout))) = (named, current.as_mut()) {
                if let Some((name, size)) = named.split_once("`: ") {
                    let size = leading_number(size);
                    let entry = layout.members.entry(name.to_owned()).or_default();
                    *entry = (*entry).max(size);
                }
            }
        }
        if let Some((name, layout)) = current {
            types.entry(name).or_insert(layout);
        }
        Layouts { types }
    }

    /// The layout whose type name starts with `prefix` (the largest, if several do).
    fn find(&self, prefix: &str) -> Option<&Layout> {
        self.types
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .map(|(_, layout)| layout)
            .max_by_key(|layout| layout.size)
    }

    fn size(&self, prefix: &str) -> Option<usize> {
        self.find(prefix).map(|layout| layout.size)
    }

    fn member(&self, prefix: &str, name: &str) -> Option<usize> {
        self.find(prefix)?.members.get(name).copied()
    }
}

/// `name` with a future's two spellings made one: [`FUTURE`] and the function's path.
fn future_named(name: &str) -> String {
    name.strip_prefix("{async fn body of ")
        .or_else(|| name.strip_prefix("{async block@"))
        .map_or_else(|| name.to_owned(), |path| format!("{FUTURE}{path}"))
}

fn leading_number(text: &str) -> usize {
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or(0)
}

/// Rebuilds the board's library with `-Zprint-type-sizes` and returns the parsed layouts. The
/// crates whose types the table names are cleaned first: a crate that is fresh prints nothing.
fn print_type_sizes(toolchain: &Toolchain, board: Board) -> Outcome<Layouts> {
    let (directory, target_directory, target, package, rust_flags) = match board {
        Board::Riscv32 => (
            process::workspace_root().join("boards/qemu"),
            cross::target_directory().join("ram-riscv32"),
            cross::TARGET.to_owned(),
            "tc-at-qemu",
            "-Zprint-type-sizes",
        ),
        Board::Lx106 => (
            process::workspace_root().join("boards/esp8266"),
            cross::target_directory().join("ram-lx106"),
            "lx106".to_owned(),
            "tc-at-esp8266",
            // As the board's own build (`lx106::build`): one codegen unit.
            "-C codegen-units=1 -Zprint-type-sizes",
        ),
    };
    let configure = |command: &mut Command| {
        command
            .env("CARGO_TARGET_DIR", &target_directory)
            .env("RUSTFLAGS", rust_flags)
            .env("CARGO_PROFILE_RELEASE_DEBUG", "0");
    };
    let mut clean = toolchain.cargo(&directory);
    configure(&mut clean);
    clean.args(["clean", "--release", "--target"]);
    match board {
        Board::Riscv32 => clean.arg(&target),
        Board::Lx106 => clean.arg(lx106::target_json()).arg("-Zjson-target-spec"),
    };
    for package in [
        package,
        "command-core",
        "mqtt-session",
        "at-parser",
        "tls-psk",
    ] {
        clean.args(["--package", package]);
    }
    process::run(&mut clean)?;
    let mut build = toolchain.cargo(&directory);
    configure(&mut build);
    build.args(["build", "--locked", "--release", "--lib"]);
    match board {
        Board::Riscv32 => build.arg("--no-default-features"),
        Board::Lx106 => build
            .args([
                "-Zbuild-std=core",
                "-Zbuild-std-features=compiler-builtins-mem",
                "-Zjson-target-spec",
                "--target",
            ])
            .arg(lx106::target_json()),
    };
    eprintln!("$ {}", process::describe(&build));
    let output = build.output()?;
    if !output.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
        return Err(Failure::new(format!(
            "bench ram: the {target} board build failed"
        )));
    }
    Ok(Layouts::parse(&String::from_utf8_lossy(&output.stdout)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_the_largest_member_of_each_name_are_read() {
        let text = "\
print-type-size type: `{async fn body of command_core::run_with<A>()}`: 35144 bytes, alignment: 8 bytes
print-type-size     variant `Suspend0`: 100 bytes
print-type-size         local `.mqtt`: 60 bytes
print-type-size     variant `Suspend1`: 200 bytes
print-type-size         local `.mqtt`: 90 bytes, alignment: 4 bytes
print-type-size type: `command_core::state::RamState`: 712 bytes, alignment: 4 bytes
print-type-size     field `.settings`: 560 bytes
print-type-size type: `{async block@command_core::engine::serve<A>::{closure#0}}`: 30784 bytes, alignment: 8 bytes
print-type-size     variant `Suspend0`: 11583 bytes
print-type-size         local `.mqtt`: 9680 bytes, offset: 0 bytes, alignment: 8 bytes
";
        let layouts = Layouts::parse(text);
        assert_eq!(layouts.size(ENGINE), Some(35_144));
        assert_eq!(layouts.member(ENGINE, "mqtt"), Some(90));
        assert_eq!(
            layouts.member("command_core::state::RamState", "settings"),
            Some(560)
        );
        assert_eq!(layouts.size(SERVE), Some(30_784));
        assert_eq!(layouts.member(SERVE, "mqtt"), Some(9_680));
        assert_eq!(layouts.size("absent"), None);
    }
}
