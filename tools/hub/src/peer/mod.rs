//! The provisioning peer (`hub.md` §7): the hub playing the Tencent mini program against a
//! module's softAP and log UDP servers (`cloud.md` §6.2–§6.4, §6.7).
//!
//! Blocking std sockets: the peer is a one-shot command (`tc-at-hub app …`), not part of the
//! broker. Each exchange sends one datagram, repeats it every 2 s until something answers (at
//! most five sends), then collects answers until the module has been quiet for a while, so
//! the three replies (1 s apart) and any error records are all seen.

pub mod cli;

use serde_json::Value;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// Pause between repeated sends of an unanswered datagram.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(2);
/// Sends of one datagram at most.
pub const SENDS: u32 = 5;

/// The app's command of `cloud.md` §6.2 (`cmdType` 1) or §6.3 (`cmdType` 0), with the
/// device's key order. JSON strings are escaped by serde_json.
pub fn command(router: Option<(&str, &str)>, token: &str, region: Option<&str>) -> String {
    let text = |value: &str| Value::from(value).to_string();
    let mut command = match router {
        Some((ssid, password)) => format!(
            r#"{{"cmdType":1,"ssid":{},"password":{},"token":{}"#,
            text(ssid),
            text(password),
            text(token)
        ),
        None => format!(r#"{{"cmdType":0,"token":{}"#, text(token)),
    };
    if let Some(region) = region {
        command.push_str(&format!(r#","region":{}"#, text(region)));
    }
    command.push('}');
    command
}

/// The log query of `cloud.md` §6.7.
pub const LOG_QUERY: &str = r#"{"cmdType":3}"#;

/// Sends `datagram` to `to` (repeated while unanswered) and returns every datagram received
/// until `quiet` passed without one; each answer is also handed to `on_answer` as it comes.
///
/// # Errors
/// Socket errors.
pub fn exchange(
    socket: &UdpSocket,
    to: SocketAddr,
    datagram: &[u8],
    quiet: Duration,
    mut on_answer: impl FnMut(&[u8]),
) -> io::Result<Vec<Vec<u8>>> {
    let mut answers = Vec::new();
    let mut buffer = [0u8; 2048];
    for _ in 0..SENDS {
        socket.send_to(datagram, to)?;
        let mut deadline = Instant::now() + RETRY_INTERVAL;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            socket.set_read_timeout(Some(left))?;
            match socket.recv_from(&mut buffer) {
                Ok((length, from)) if from == to => {
                    on_answer(&buffer[..length]);
                    answers.push(buffer[..length].to_vec());
                    deadline = Instant::now() + quiet;
                }
                Ok(_) => {}
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    break;
                }
                // An ICMP port-unreachable from an earlier send: nobody listens yet.
                Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => {
                    std::thread::sleep(left.min(Duration::from_millis(200)));
                }
                Err(error) => return Err(error),
            }
        }
        if !answers.is_empty() {
            break;
        }
    }
    Ok(answers)
}

/// What the module answered to a command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// `(productId, deviceName, productRegion)` of the device reply, if one came.
    pub device: Option<(String, String, String)>,
    /// Device replies received (the module sends three).
    pub replies: usize,
    /// `log` texts of `Current_Error` / `Previous_Error` records, with their kind.
    pub records: Vec<(String, String)>,
}

/// Sorts the answers of a command.
pub fn outcome(answers: &[Vec<u8>]) -> Outcome {
    let mut outcome = Outcome::default();
    for answer in answers {
        let Ok(value) = serde_json::from_slice::<Value>(answer) else {
            continue;
        };
        let field = |name: &str| value[name].as_str().map(str::to_owned);
        if let (Some(pid), Some(dn)) = (field("productId"), field("deviceName")) {
            outcome.replies += 1;
            outcome.device = Some((pid, dn, field("productRegion").unwrap_or_default()));
        } else if let (Some(kind), Some(log)) = (field("deviceReply"), field("log")) {
            outcome.records.push((kind, log));
        }
    }
    outcome
}

/// A fresh token: 32 lowercase hex characters, as the mini program's.
pub fn random_token() -> String {
    let mut bytes = [0u8; 16];
    // OpenSSL's generator only fails when it cannot be seeded, which a test host never hits.
    let _ = openssl::rand::rand_bytes(&mut bytes);
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_the_vector_datagrams() {
        assert_eq!(
            command(
                Some(("Home-WiFi", "abcd1234")),
                "6ab82618a9d529a2ee777bf6e528a0fd",
                None
            ),
            r#"{"cmdType":1,"ssid":"Home-WiFi","password":"abcd1234","token":"6ab82618a9d529a2ee777bf6e528a0fd"}"#
        );
        assert_eq!(
            command(None, "6ab82618a9d529a2ee777bf6e528a0fd", Some("na-ashburn")),
            r#"{"cmdType":0,"token":"6ab82618a9d529a2ee777bf6e528a0fd","region":"na-ashburn"}"#
        );
        assert_eq!(
            command(None, "a\"b", None),
            r#"{"cmdType":0,"token":"a\"b"}"#
        );
        let token = random_token();
        assert!(
            token.len() == 32
                && token
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }

    #[test]
    fn answers_are_sorted_into_replies_and_records() {
        let answers = [
            br#"{"cmdType":2,"deviceReply":"Previous_Error","log":"RTOS task error! (4, 206)"}"#.to_vec(),
            br#"{"cmdType":2,"productId":"P","deviceName":"D","productRegion":"ap-guangzhou","protoVersion":"2.0"}"#.to_vec(),
            b"garbage".to_vec(),
        ];
        let outcome = outcome(&answers);
        assert_eq!(
            outcome.device,
            Some(("P".into(), "D".into(), "ap-guangzhou".into()))
        );
        assert_eq!(outcome.replies, 1);
        assert_eq!(
            outcome.records,
            [("Previous_Error".into(), "RTOS task error! (4, 206)".into())]
        );
    }
}
