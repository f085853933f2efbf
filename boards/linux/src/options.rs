//! Command line and environment of `tc-at-module` (`hub.md` §1, `commands.md` §0).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use command_core::Profile;

use crate::wifi::{parse_ap, SimulatedAp};

/// Printed after a usage error.
pub const USAGE: &str = "usage: tc-at-module [--uart pty|stdio|tcp:ADDR] [--pty-link PATH] \
[--flash PATH] [--wifi SSID:PSK[:RSSI[:BSSID[:CHANNEL]]]]... [--profile full|esp8266]

environment: TCAT_FLASH (flash image), TCAT_PROFILE (profile), TCAT_WIFI_APS
(ssid:password:rssi[:bssid[:channel]], ';'-separated), TCAT_RESOLVE (*.name=IP or name=none,...),
TCAT_PORT_MAP (port=port,...), TCAT_CA_FILE (extra trust anchors, PEM, for TLS mode 2),
TCAT_SOFTAP_ADDR / TCAT_LOGAP_ADDR (provisioning and log UDP servers, default 127.0.0.1:8266 /
127.0.0.1:9876), TCAT_CONTROL (board control socket path), TCAT_CLOCK_SCALE (test clock:
module milliseconds per real millisecond, default 1), RUST_LOG (stderr log level)";

/// What a `TCAT_RESOLVE` rule answers for the names it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// The name is this address.
    Address(IpAddr),
    /// The name does not exist (`name=none`): the answer a resolver gives for an unknown
    /// name, given at once, so that a test of the DNS failure never waits on the machine's
    /// resolver (which, without a network, may take its full timeout before failing).
    NoSuchName,
}

/// Name overrides and port rewrites for outgoing connections (`hub.md` §1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routing {
    /// `(pattern, answer)`: `*.x` matches `x` and every name ending in `.x`; others exactly.
    names: Vec<(String, Resolution)>,
    /// `(from, to)` destination ports.
    ports: Vec<(u16, u16)>,
}

impl Routing {
    /// Parses `TCAT_RESOLVE` and `TCAT_PORT_MAP` values (each may be absent).
    pub fn parse(resolve: Option<&str>, port_map: Option<&str>) -> Result<Self, String> {
        let mut routing = Routing::default();
        for item in resolve
            .unwrap_or("")
            .split(',')
            .filter(|item| !item.is_empty())
        {
            let (pattern, address) = item
                .split_once('=')
                .ok_or_else(|| format!("TCAT_RESOLVE: {item:?} is not name=IP"))?;
            let address = match address.trim() {
                "none" => Resolution::NoSuchName,
                address => Resolution::Address(address.parse().map_err(|_| {
                    format!("TCAT_RESOLVE: {address:?} is neither an IP address nor none")
                })?),
            };
            routing
                .names
                .push((pattern.trim().to_ascii_lowercase(), address));
        }
        for item in port_map
            .unwrap_or("")
            .split(',')
            .filter(|item| !item.is_empty())
        {
            let parsed = item
                .split_once('=')
                .and_then(|(from, to)| Some((from.trim().parse().ok()?, to.trim().parse().ok()?)));
            routing
                .ports
                .push(parsed.ok_or_else(|| format!("TCAT_PORT_MAP: {item:?} is not port=port"))?);
        }
        Ok(routing)
    }

    /// The override for `name`, first matching rule wins.
    pub fn resolve(&self, name: &str) -> Option<Resolution> {
        let name = name.to_ascii_lowercase();
        self.names.iter().find_map(|(pattern, address)| {
            let matches = match pattern.strip_prefix("*.") {
                Some(suffix) => {
                    name == suffix
                        || (name.len() > suffix.len()
                            && name.ends_with(suffix)
                            && name.as_bytes()[name.len() - suffix.len() - 1] == b'.')
                }
                None => name == *pattern,
            };
            matches.then_some(*address)
        })
    }

    /// The rewritten destination port.
    pub fn port(&self, port: u16) -> u16 {
        self.ports
            .iter()
            .find(|(from, _)| *from == port)
            .map_or(port, |(_, to)| *to)
    }
}

/// Where the AT port is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UartChoice {
    /// A new pseudo-terminal.
    Pty,
    /// stdin/stdout.
    Stdio,
    /// A TCP listener, one client at a time.
    Tcp(String),
}

/// Everything the board is started with.
#[derive(Debug, Clone)]
pub struct Options {
    /// AT port.
    pub uart: UartChoice,
    /// Stable symlink to the PTY.
    pub pty_link: Option<PathBuf>,
    /// Flash image file.
    pub flash: PathBuf,
    /// Simulated access points.
    pub access_points: Vec<SimulatedAp>,
    /// Capability profile.
    pub profile: Profile,
    /// Name overrides and port rewrites.
    pub routing: Routing,
    /// `TCAT_CA_FILE`: extra trust anchors of certificate TLS.
    pub ca_file: Option<PathBuf>,
    /// `TCAT_SOFTAP_ADDR`, `TCAT_LOGAP_ADDR`: where the provisioning and log UDP servers bind.
    pub udp_addresses: [SocketAddr; 2],
    /// `TCAT_CONTROL`: the board control socket (`hub.md` §1, §7), if any.
    pub control: Option<PathBuf>,
    /// `TCAT_CLOCK_SCALE`: module milliseconds per real millisecond (tests run the 300 s
    /// provisioning budget in seconds with it); 1 by default.
    pub clock_scale: u32,
}

impl Options {
    /// Reads the environment, then the arguments (which win).
    pub fn from_env_and_args(args: impl Iterator<Item = String>) -> Result<Self, String> {
        Self::parse(args, |name| std::env::var(name).ok())
    }

    fn parse(
        mut args: impl Iterator<Item = String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        let mut uart = UartChoice::Pty;
        let mut pty_link = None;
        let mut flash = env("TCAT_FLASH").map(PathBuf::from);
        let mut wifi_args = Vec::new();
        let mut profile_text = env("TCAT_PROFILE");
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--uart" => {
                    let text = value()?;
                    uart = match text.as_str() {
                        "pty" => UartChoice::Pty,
                        "stdio" => UartChoice::Stdio,
                        other => match other.strip_prefix("tcp:") {
                            Some(address) if !address.is_empty() => {
                                UartChoice::Tcp(address.to_owned())
                            }
                            _ => return Err(format!("unknown --uart {text:?}")),
                        },
                    };
                }
                "--pty-link" => pty_link = Some(PathBuf::from(value()?)),
                "--flash" => flash = Some(PathBuf::from(value()?)),
                "--wifi" => wifi_args.push(value()?),
                "--profile" => profile_text = Some(value()?),
                "--help" | "-h" => return Err("help requested".to_owned()),
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        let profile = match profile_text.as_deref() {
            None | Some("full") => Profile::Full,
            Some("esp8266") => Profile::Esp8266,
            Some(other) => return Err(format!("unknown profile {other:?} (full or esp8266)")),
        };
        let mut descriptions: Vec<String> = env("TCAT_WIFI_APS")
            .map(|list| {
                list.split(';')
                    .filter(|item| !item.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        descriptions.extend(wifi_args);
        let access_points = descriptions
            .iter()
            .enumerate()
            .map(|(index, text)| parse_ap(text, index + 1).map_err(|error| error.to_string()))
            .collect::<Result<_, _>>()?;
        let routing = Routing::parse(
            env("TCAT_RESOLVE").as_deref(),
            env("TCAT_PORT_MAP").as_deref(),
        )?;
        let address = |name: &str, default: &str| {
            env(name)
                .unwrap_or_else(|| default.to_owned())
                .parse::<SocketAddr>()
                .map_err(|_| format!("{name}: not an address:port"))
        };
        let udp_addresses = [
            address("TCAT_SOFTAP_ADDR", "127.0.0.1:8266")?,
            address("TCAT_LOGAP_ADDR", "127.0.0.1:9876")?,
        ];
        let clock_scale = match env("TCAT_CLOCK_SCALE") {
            None => 1,
            Some(text) => text
                .parse()
                .ok()
                .filter(|scale| (1..=1000).contains(scale))
                .ok_or("TCAT_CLOCK_SCALE: not an integer 1..1000")?,
        };
        Ok(Options {
            routing,
            udp_addresses,
            control: env("TCAT_CONTROL").map(PathBuf::from),
            clock_scale,
            ca_file: env("TCAT_CA_FILE").map(PathBuf::from),
            uart,
            pty_link,
            flash: flash.unwrap_or_else(|| PathBuf::from("tc-at-flash.bin")),
            access_points,
            profile,
        })
    }

    /// A stable, locally administered MAC derived from the flash file's path (FNV-1a).
    pub fn mac(&self) -> [u8; 6] {
        let path = std::fs::canonicalize(&self.flash).unwrap_or_else(|_| self.flash.clone());
        let hash = path
            .as_os_str()
            .as_encoded_bytes()
            .iter()
            .fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
                (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
            });
        let bytes = hash.to_be_bytes();
        [0x02, bytes[0], bytes[1], bytes[2], bytes[3], bytes[4]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Options, String> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        Options::parse(args.iter().map(|arg| arg.to_string()), |name| {
            env.iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        })
    }

    #[test]
    fn flags_override_the_environment() {
        let options = parse(
            &[
                "--profile",
                "esp8266",
                "--flash",
                "b.bin",
                "--uart",
                "tcp:127.0.0.1:9",
            ],
            &[("TCAT_PROFILE", "full"), ("TCAT_FLASH", "a.bin")],
        )
        .unwrap();
        assert_eq!(options.profile, Profile::Esp8266);
        assert_eq!(options.flash, PathBuf::from("b.bin"));
        assert_eq!(options.uart, UartChoice::Tcp("127.0.0.1:9".into()));
    }

    #[test]
    fn access_points_from_both_sources_are_numbered_in_order() {
        let options = parse(
            &["--wifi", "lab:secret123"],
            &[("TCAT_WIFI_APS", "hub-ap:password123:-45;x:y:-60")],
        )
        .unwrap();
        let positions: Vec<u8> = options.access_points.iter().map(|ap| ap.bssid[5]).collect();
        assert_eq!(positions, [1, 2, 3]);
        assert_eq!(options.access_points[2].ssid, b"lab");
    }

    #[test]
    fn resolve_overrides_match_the_suffix_and_the_name_itself() {
        let options = parse(
            &[],
            &[
                (
                    "TCAT_RESOLVE",
                    "*.tencentdevices.com=127.0.0.1,exact.org=10.0.0.2",
                ),
                ("TCAT_PORT_MAP", "1883=21883,443=18443"),
            ],
        )
        .unwrap();
        let routing = &options.routing;
        let local = Resolution::Address("127.0.0.1".parse().unwrap());
        assert_eq!(
            routing.resolve("P1.iotcloud.TencentDevices.com"),
            Some(local)
        );
        assert_eq!(routing.resolve("tencentdevices.com"), Some(local));
        assert_eq!(routing.resolve("nottencentdevices.com"), None);
        assert_eq!(
            routing.resolve("exact.org"),
            Some(Resolution::Address("10.0.0.2".parse().unwrap()))
        );
        assert_eq!(routing.resolve("sub.exact.org"), None);
        assert_eq!(routing.port(1883), 21883);
        assert_eq!(routing.port(443), 18443);
        assert_eq!(routing.port(8883), 8883);
    }

    #[test]
    fn a_none_rule_makes_its_names_unresolvable_and_wins_when_first() {
        let options = parse(
            &[],
            &[(
                "TCAT_RESOLVE",
                "gateway.tencentdevices.com=none,*.tencentdevices.com=127.0.0.1",
            )],
        )
        .unwrap();
        let routing = &options.routing;
        assert_eq!(
            routing.resolve("gateway.tencentdevices.com"),
            Some(Resolution::NoSuchName)
        );
        assert_eq!(
            routing.resolve("P1.iotcloud.tencentdevices.com"),
            Some(Resolution::Address("127.0.0.1".parse().unwrap()))
        );
    }

    #[test]
    fn malformed_routing_is_refused() {
        assert!(parse(&[], &[("TCAT_RESOLVE", "*.x=notanip")]).is_err());
        assert!(parse(&[], &[("TCAT_RESOLVE", "*.x")]).is_err());
        assert!(parse(&[], &[("TCAT_PORT_MAP", "1883=x")]).is_err());
    }

    #[test]
    fn unknown_profiles_and_flags_are_refused() {
        assert!(parse(&[], &[("TCAT_PROFILE", "esp32")]).is_err());
        assert!(parse(&["--frobnicate"], &[]).is_err());
        assert!(parse(&["--uart", "serial"], &[]).is_err());
        assert!(parse(&["--flash"], &[]).is_err());
    }
}
