//! `tc-at-hub`: the local Tencent IoT Hub stand-in (see README.md).

use std::io::Write as _;
use std::sync::Arc;
use tc_at_hub::config::{self, OptionsError};
use tc_at_hub::registry::{DEMO_DEVICE_NAME, DEMO_PRODUCT_ID};
use tc_at_hub::tls::certificates::HubCertificates;
use tc_at_hub::{Hub, Ports};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .target(env_logger::Target::Stderr)
        .init();
    if std::env::args().nth(1).as_deref() == Some("app") {
        return tc_at_hub::peer::cli::main(std::env::args().skip(2));
    }
    let options = match config::parse(std::env::args().skip(1), |path| {
        std::fs::read_to_string(path)
    }) {
        Ok(options) => options,
        Err(OptionsError::Help) => {
            println!("{}", config::USAGE);
            return std::process::ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("tc-at-hub: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    if options.demo {
        // Secrets are never printed, not even this public one: the README names it.
        eprintln!(
            "demo device: product id {DEMO_PRODUCT_ID}, device name {DEMO_DEVICE_NAME} (its secret: tools/hub/README.md)"
        );
    }
    let certificates = match HubCertificates::generate(&options.tls_names) {
        Ok(certificates) => certificates,
        Err(error) => {
            eprintln!("tc-at-hub: cannot generate the test CA: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if let Some(path) = &options.ca_out {
        let written = certificates
            .ca_pem()
            .map_err(std::io::Error::other)
            .and_then(|pem| std::fs::write(path, pem));
        if let Err(error) = written {
            eprintln!("tc-at-hub: cannot write {path}: {error}");
            return std::process::ExitCode::FAILURE;
        }
    }
    let device_count = options.registry.devices.len();
    let hub = Arc::new(Hub::new(options.registry));
    let requested = Ports {
        mqtt: options.mqtt_port,
        mqtts: options.mqtts_port,
        http: options.http_port,
        https: options.https_port,
        admin: options.admin_port,
    };
    let ports = match tc_at_hub::start(hub, requested, &certificates).await {
        Ok(ports) => ports,
        Err(error) => {
            eprintln!("tc-at-hub: cannot listen: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    log::info!("serving {device_count} device(s)");
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{}", ports.ready_line());
    let _ = stdout.flush();
    drop(stdout);
    std::future::pending::<()>().await;
    std::process::ExitCode::SUCCESS
}
