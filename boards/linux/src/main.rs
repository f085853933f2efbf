//! `tc-at-module`: the tc-at firmware running on Linux as a virtual Wi-Fi module.
//!
//! The AT port is a pseudo-terminal (default), stdio or a TCP socket; the flash is a file with
//! NOR semantics; Wi-Fi is simulated. Reboots (AT+RST, AT+RESTORE, AT+TCRESTORE) happen in
//! process: RAM state is rebuilt from the flash file while the AT port stays open.

mod certificates;
mod flash;
mod network;
mod options;
mod radio;
mod uart;
mod wifi;

use std::io::Write as _;
use std::process::ExitCode;

use command_core::{BoardInfo, Cloud, Exit, Module};
use storage::Settings;

use crate::certificates::{HostCertificates, TrustAnchors};
use crate::flash::{FileFlash, CERTIFICATE_RANGE, FIRMWARE_RANGE, SETTINGS_RANGE};
use crate::network::{HostClock, HostNetwork, HostRandom};
use crate::options::{Options, UartChoice};
use crate::radio::Radio;
use crate::uart::{UartRx, UartTx};
use crate::wifi::SimulatedWifi;

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .target(env_logger::Target::Stderr)
        .init();
    let options = match Options::from_env_and_args(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("tc-at-module: {error}\n\n{}", options::USAGE);
            return ExitCode::from(2);
        }
    };
    let flash = match FileFlash::open(&options.flash) {
        Ok(flash) => flash,
        Err(error) => {
            eprintln!(
                "tc-at-module: cannot open flash image {}: {error}",
                options.flash.display()
            );
            return ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime always builds");
    match runtime.block_on(serve(options, flash)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tc-at-module: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(options: Options, flash: FileFlash) -> std::io::Result<()> {
    let board = BoardInfo {
        board: "LINUX",
        version: env!("CARGO_PKG_VERSION"),
        git_hash: env!("TCAT_GIT_HASH"),
        build_time: env!("TCAT_BUILD_TIME"),
        vendor: "Tencent Technology Co. Ltd.",
        mac: options.mac(),
        profile: options.profile,
        free_ram,
    };
    let mut settings = Settings::new(flash, SETTINGS_RANGE)
        .with_certificate_area(CERTIFICATE_RANGE)
        .with_firmware_area(FIRMWARE_RANGE);
    let mut wifi = SimulatedWifi::new(
        options.access_points.clone(),
        Radio::new(options.udp_addresses),
    );
    if let Some(path) = &options.control {
        wifi.radio().serve_control(path)?;
    }
    let mut board_state = BoardState {
        settings: &mut settings,
        wifi: &mut wifi,
        board: &board,
        network: HostNetwork::new(
            options.routing.clone(),
            TrustAnchors {
                extra_file: options.ca_file.clone(),
            },
        ),
        clock: HostClock::new(options.clock_scale),
        random: HostRandom::new(),
    };
    match &options.uart {
        UartChoice::Pty => {
            let (pty, rx, tx) = uart::open_pty()?;
            if let Some(link) = &options.pty_link {
                let _ = std::fs::remove_file(link);
                std::os::unix::fs::symlink(&pty.path, link)?;
            }
            let mut stdout = std::io::stdout();
            writeln!(stdout, "UART {}", pty.path.display())?;
            stdout.flush()?;
            board_state.session(rx, tx).await;
            Ok(())
        }
        UartChoice::Stdio => {
            let (rx, tx) = uart::stdio()?;
            board_state.session(rx, tx).await;
            Ok(())
        }
        UartChoice::Tcp(address) => {
            let listener = std::net::TcpListener::bind(address)?;
            log::info!("AT port listening on {}", listener.local_addr()?);
            loop {
                let (rx, tx) = uart::accept_tcp(&listener)?;
                // A new client meets a freshly booted module.
                board_state.session(rx, tx).await;
            }
        }
    }
}

/// What survives a simulated reboot: the flash, the radio and the network stack.
struct BoardState<'a> {
    settings: &'a mut Settings<FileFlash>,
    wifi: &'a mut SimulatedWifi,
    board: &'a BoardInfo,
    network: HostNetwork,
    clock: HostClock,
    random: HostRandom,
}

impl BoardState<'_> {
    /// Boots the module on this AT port, again after every reboot, until the port closes.
    async fn session(&mut self, mut rx: UartRx, mut tx: UartTx) {
        let output = tx.output();
        let sessions = async {
            loop {
                // The reboot's reply reaches the host before the input behind it is dropped.
                let _ = output.drain().await;
                rx.discard_pending();
                self.wifi.reset();
                let module = Module {
                    settings: self.settings,
                    wifi: self.wifi,
                    board: self.board,
                };
                let cloud = Cloud {
                    network: &mut self.network,
                    clock: &self.clock,
                    random: &mut self.random,
                    certificates: &HostCertificates,
                };
                match command_core::run_with(&mut rx, &mut tx, module, cloud).await {
                    Exit::Reboot => log::info!("rebooting"),
                    _ => return,
                }
            }
        };
        uart::flushing(&output, sessions).await
    }
}

/// AT+SYSRAM? on Linux: the memory available to the process, and the same as minimum (a host
/// has no meaningful low-water mark).
fn free_ram() -> (u32, u32) {
    let available = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("MemAvailable:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<u64>().ok())
        })
        .map_or(0, |kib| (kib * 1024).min(u64::from(u32::MAX)) as u32);
    (available, available)
}
