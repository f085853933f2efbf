//! Stores the hub's demo device in a freshly created module, so a newcomer's first
//! `AT+TCMQTTCONN` works without typing credentials. The xtask plays the MCU for one command
//! over the module's PTY before printing the connection help; an existing flash image (the
//! user's own device) is never touched.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::hub;
use crate::process::{Failure, Outcome};

/// How long the module may take to boot and store the record.
const DEADLINE: Duration = Duration::from_secs(10);

/// The line that stores the demo device with TLS mode `tls`.
pub fn demo_device_line(tls: u8) -> String {
    let (product, device, secret) = hub::DEMO_DEVICE;
    format!("AT+TCDEVINFOSET={tls},\"{product}\",\"{device}\",\"{secret}\"\r\n")
}

/// Sends [`demo_device_line`] on the PTY at `path` and waits for `+TCDEVINFOSET:OK`.
///
/// Reads poll with a deadline in this thread and the port is closed on return, so nothing is
/// left reading the PTY once the user's terminal takes over. `O_NOCTTY`: the PTY must never
/// become the xtask's controlling terminal.
pub fn store_demo_device(path: &str, tls: u8) -> Outcome {
    let mut port = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(OFlag::O_NOCTTY.bits())
        .open(path)?;
    let mut seen = Vec::new();
    let mut wait_until = |port: &mut std::fs::File, done: &dyn Fn(&[u8]) -> bool| -> Outcome {
        let deadline = Instant::now() + DEADLINE;
        while !done(&seen) {
            let left = deadline.saturating_duration_since(Instant::now());
            let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::ZERO);
            let mut ready = [PollFd::new(port.as_fd(), PollFlags::POLLIN)];
            if left.is_zero() || poll(&mut ready, timeout).map_err(std::io::Error::from)? == 0 {
                return Err(Failure::new(format!(
                    "the module did not answer in time (got {:?})",
                    String::from_utf8_lossy(&seen)
                )));
            }
            let mut buffer = [0u8; 512];
            let count = port.read(&mut buffer)?;
            seen.extend_from_slice(&buffer[..count]);
        }
        Ok(())
    };
    wait_until(&mut port, &|seen| contains(seen, b"\r\nready\r\n"))?;
    port.write_all(demo_device_line(tls).as_bytes())?;
    wait_until(&mut port, &|seen| {
        contains(seen, b"+TCDEVINFOSET:OK\r\n")
            || contains(seen, b"+TCDEVINFOSET:FAIL")
            || contains(seen, b"ERROR")
    })?;
    if contains(&seen, b"+TCDEVINFOSET:OK\r\n") {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "storing the demo device failed: {:?}",
            String::from_utf8_lossy(&seen)
        )))
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_line_carries_the_hub_demo_device() {
        assert_eq!(
            demo_device_line(1),
            "AT+TCDEVINFOSET=1,\"DEMO000001\",\"demo\",\"ZGVtb19zZWNyZXRfMTIzNA==\"\r\n"
        );
    }
}
