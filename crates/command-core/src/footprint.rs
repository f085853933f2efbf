//! The engine's RAM, measured: the size of the whole `run_with` future (every loop's state,
//! every buffer the engine owns) and of its big parts, with a gate CI runs
//! (`docs/performance.md`, "Engine RAM").
//!
//! `cargo test -p command-core --no-default-features --lib footprint -- --nocapture` prints
//! the table of the esp8266 build (no `certificates`); without `--no-default-features`, the
//! full build's. Each build has its own gate. Sizes are the host's (x86_64); a riscv32 build
//! differs only by pointer widths (a few hundred bytes).

use core::future::Future;
use core::mem::size_of;

use crate::board::{Association, BoardInfo, JoinError, Offline, Profile, Wifi};
use crate::engine::{run_with, Cloud, Module};

/// The gate of the esp8266 build (no `certificates`): a ratchet towards 28 KiB, the measured
/// size rounded up to 256 bytes. Lower it with every saving; a feature that adds state raises
/// it by what it measured and says so here. Each step, measured, is a row of the table in
/// `docs/performance.md` ("Engine RAM"); the chip's own figure (the lx106 `ENGINE` static,
/// gated against 28 KiB by `cargo xtask lx106 --ram-gate`) is about 650 bytes smaller.
/// 31,128 measured (main at the end of session 5, after branches `uart`, `link`, `exec3`,
/// `exec4`, `tx` and `outbox2`: a refused line waits for outbox room in the framer; the MQTT
/// receive buffer of exactly one deliverable PUBLISH; no TLS transmit buffer; the module record
/// kept once; the provisioning and OTA machines packed; the session's bookkeeping narrowed;
/// status lines queued as compact records; frames that keep their arguments once).
#[cfg(not(feature = "certificates"))]
const ENGINE_GATE: usize = 31_232;
/// The gate of the full build (`certificates`, the Linux board's `full` profile), the measured
/// size rounded up to 256 bytes, under the same rules: 50,704 measured (session 5's end).
#[cfg(feature = "certificates")]
const ENGINE_GATE: usize = 50_944;

struct Pending;

impl embedded_io_async::ErrorType for Pending {
    type Error = core::convert::Infallible;
}

impl embedded_io_async::Read for Pending {
    async fn read(&mut self, _: &mut [u8]) -> Result<usize, Self::Error> {
        core::future::pending().await
    }
}

impl embedded_io_async::Write for Pending {
    async fn write(&mut self, bytes: &[u8]) -> Result<usize, Self::Error> {
        Ok(bytes.len())
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

struct NoRadio;

impl Wifi for NoRadio {
    async fn join(&mut self, _: &[u8], _: &[u8], _: Option<[u8; 6]>) -> Result<(), JoinError> {
        Err(JoinError::NotFound)
    }

    async fn leave(&mut self) -> bool {
        false
    }

    fn association(&self) -> Option<Association> {
        None
    }
}

fn size_of_future<F: Future>(_: &F) -> usize {
    size_of::<F>()
}

#[test]
fn engine_ram_of_the_esp8266_profile_stays_under_its_gate() {
    let mut settings = storage::Settings::new(storage::mock::MockFlash::new(64 * 1024), 0..65_536);
    let board = BoardInfo {
        board: "ESP8266",
        version: "3.0.0",
        git_hash: "0000000",
        build_time: "",
        vendor: "",
        mac: [0; 6],
        profile: Profile::Esp8266,
        free_ram: || (0, 0),
    };
    let (mut rx, mut tx, mut wifi) = (Pending, Pending, NoRadio);
    let module = Module {
        settings: &mut settings,
        wifi: &mut wifi,
        board: &board,
    };
    let cloud = Cloud {
        network: &mut Offline,
        clock: &Offline,
        random: &mut Offline,
        certificates: &Offline,
    };
    let engine = run_with(&mut rx, &mut tx, module, cloud);
    let total = size_of_future(&engine);
    let parts = [
        ("engine future (run_with)", total),
        (
            "  MqttShared",
            size_of::<crate::mqtt::MqttShared<'static>>(),
        ),
        (
            "    HostSession",
            size_of::<crate::mqtt::HostSession<'static>>(),
        ),
        (
            "    Outbox (status lines)",
            size_of::<crate::mqtt::Outbox<{ crate::mqtt::OUTBOX_BYTES }>>(),
        ),
        (
            "    work buffer (OTA URL, HTTP and hashing; registration; certificates)",
            crate::engine::DATA_MAX,
        ),
        (
            "    OtaShared (machine, record; URL with certificates)",
            size_of::<crate::ota_state::OtaShared>(),
        ),
        (
            "    Gateway (online list, job)",
            size_of::<core::cell::RefCell<gateway::Gateway>>(),
        ),
        ("  Request", size_of::<crate::mqtt::Request>()),
        ("  Job", size_of::<crate::handlers::Job>()),
        ("  Step", size_of::<crate::handlers::Step>()),
        ("  Reply", size_of::<crate::render::Reply>()),
        ("  InputQueue", size_of::<crate::queue::InputQueue>()),
        (
            "  Framer",
            size_of::<at_parser::Framer<{ crate::engine::FRAMER_BYTES }>>(),
        ),
        ("  RamState", size_of::<crate::state::RamState>()),
        ("  TLS read buffer", crate::mqtt::TLS_READ_BUFFER),
    ];
    std::println!("| component | bytes |\n|---|---|");
    for (name, bytes) in parts {
        std::println!("| {name} | {bytes} |");
    }
    assert!(
        total <= ENGINE_GATE,
        "engine state {total} bytes exceeds the gate of {ENGINE_GATE}"
    );
}
