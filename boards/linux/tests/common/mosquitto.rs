//! Debian's `mosquitto` as a real broker for the end-to-end tests: each test file writes the
//! listeners it needs (plain, TLS-PSK, certificates) and this starts the process, waits for its
//! "running" log line and kills it (by its own id) when dropped.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use super::START_DEADLINE;

/// Where Debian installs the broker (not on a normal user's PATH).
const MOSQUITTO: &str = "/usr/sbin/mosquitto";

/// A running broker.
pub struct Mosquitto {
    child: Child,
}

impl Mosquitto {
    /// Writes `listeners` (the configuration after the common lines) to `scratch` and starts
    /// the broker with it. `user root`: started as root, mosquitto otherwise becomes the
    /// `mosquitto` user before it reads its PSK and certificate files, which it cannot reach
    /// in a checkout below a private directory (`mktemp -d` makes 0700 ones); as any other
    /// user the option does nothing.
    pub fn start(scratch: &Path, listeners: &str) -> Mosquitto {
        let config = scratch.join("mosquitto.conf");
        std::fs::write(
            &config,
            format!(
                "per_listener_settings false\nallow_anonymous true\npersistence false\nuser root\n\
                 log_dest stderr\n{listeners}"
            ),
        )
        .expect("write mosquitto.conf");
        let mut child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mosquitto (apt-get install -y mosquitto mosquitto-clients)");
        let stderr = child.stderr.take().expect("mosquitto stderr");
        // Ok at the "running" line; if the broker exits first, what it printed.
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut printed = String::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains(" running") {
                    let _ = sender.send(Ok(()));
                }
                printed.push_str(&line);
                printed.push('\n');
            }
            let _ = sender.send(Err(printed));
        });
        match receiver.recv_timeout(START_DEADLINE) {
            Ok(Ok(())) => {}
            Ok(Err(printed)) => panic!(
                "mosquitto exited before it reported running ({:?}); it printed:\n{printed}",
                child.wait()
            ),
            Err(error) => panic!("mosquitto did not report running: {error}"),
        }
        Mosquitto { child }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("pick a free port")
        .port()
}

/// Publishes one QoS 1 message from another client (`mosquitto_pub`) on a plain listener.
pub fn publish(port: u16, topic: &str, payload: &str) {
    let status = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-q", "1", "-t", topic, "-m", payload])
        .status()
        .expect("run mosquitto_pub");
    assert!(status.success(), "mosquitto_pub failed");
}
