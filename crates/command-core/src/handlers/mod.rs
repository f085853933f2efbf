//! Command handlers. Each handler checks its parameters and the state in the spec's order,
//! writes its synchronous answer into the [`Reply`], and returns a [`Step`]: either the command is
//! complete, or it names a [`Job`] that needs IO (flash, radio, reboot) which the engine runs.
//!
//! Handlers are plain functions over RAM state, so they are tested without any IO.

pub mod basic;
pub mod certificates;
pub mod device;
pub mod diagnostics;
pub mod gateway;
pub mod module;
pub mod mqtt;
pub mod mqtt_link;
pub mod network;
pub mod ota;
pub mod provisioning;
pub mod publish_data;
pub mod registration;
pub mod wifi;

pub use publish_data::DataJob;

/// A topic or filter a command's step carries: a one-byte length (128 bytes fit), so that the
/// step in the executor's slot stays small ([`LineRequest`], [`DataJob`]).
pub type Topic = heapless::String<TOPIC_MAX, u8>;

/// A [`Topic`] as the MQTT service's requests carry it (the same bytes; it always fits).
pub(crate) fn request_topic(topic: &str) -> heapless::String<TOPIC_MAX> {
    let mut wide = heapless::String::new();
    let _ = wide.push_str(topic);
    wide
}

/// The MQTT request of a command line (AT+TCMQTTPUB=, AT+TCMQTTSUB=, AT+TCMQTTUNSUB=), made
/// a [`Request`] when the job sends it. Not a [`Request`] itself: that one's largest kind is
/// the connect request (192 bytes), which no step carries (AT+TCMQTTCONN's job builds it), and
/// the step lives in the executor's slot for as long as the engine runs (200 -> 168 bytes).
#[derive(Debug)]
pub enum LineRequest {
    /// AT+TCMQTTPUB=: [`Request::Publish`].
    Publish {
        /// The command's name in its result line.
        name: &'static str,
        /// Topic name (valid UTF-8, no wildcards).
        topic: Topic,
        /// Length of the payload in the session's payload area (at most 2,048).
        length: u16,
        /// QoS 0 or 1.
        qos: mqtt_session::codec::QoS,
    },
    /// AT+TCMQTTSUB=: [`Request::Subscribe`] of a user slot.
    Subscribe {
        /// A valid filter.
        filter: Topic,
        /// QoS 0 or 1.
        qos: mqtt_session::codec::QoS,
    },
    /// AT+TCMQTTUNSUB=: [`Request::Unsubscribe`].
    Unsubscribe {
        /// The bytes of a user slot, or anything.
        filter: heapless::Vec<u8, TOPIC_MAX, u8>,
    },
}

impl From<LineRequest> for Request {
    fn from(request: LineRequest) -> Self {
        match request {
            LineRequest::Publish {
                name,
                topic,
                length,
                qos,
            } => Request::Publish {
                name,
                topic: request_topic(&topic),
                length: usize::from(length),
                qos,
            },
            LineRequest::Subscribe { filter, qos } => Request::Subscribe {
                filter: request_topic(&filter),
                qos,
                kind: mqtt_session::session::SlotKind::User,
            },
            LineRequest::Unsubscribe { filter } => Request::Unsubscribe {
                filter: heapless::Vec::from_slice(&filter).unwrap_or_default(),
            },
        }
    }
}

use storage::{DeviceInfo, ModuleInfo, ProductInfo, WifiMode, WifiStation};

use crate::board::{Association, BoardInfo};
use crate::mqtt::{DiagnosticReport, Request, TOPIC_MAX};
use crate::render::Reply;
use crate::state::{Gates, MqttParameters, RamState};

/// What a handler sees.
pub struct Context<'a> {
    /// RAM state, mutable.
    pub state: &'a mut RamState,
    /// Board identity and profile.
    pub board: &'a BoardInfo,
    /// The station's association at dispatch time.
    pub association: Option<Association>,
    /// RUN / CONN / DL / PROV at dispatch time.
    pub gates: Gates,
    /// Drop counters and link history at dispatch time (AT+TCDIAG?).
    pub diagnostics: DiagnosticReport,
    /// The session's payload area for AT+TCMQTTPUB's unescaped payload
    /// (`Session::payload_area`); empty while unsent bytes still occupy it.
    pub payload: &'a mut [u8],
}

/// How a command continues after its handler returned.
#[derive(Debug)]
pub enum Step {
    /// The reply is complete.
    Done,
    /// The engine runs the job and appends its output to the same block (synchronous command).
    Sync(Job),
    /// The reply (ending in `OK\r\n`) is written now; the job's result line follows as its own
    /// block (asynchronous command, pattern "A").
    Async(Job),
    /// The reply ends in `OK\r\n>\r\n`: the engine enters data mode, writes it, reads exactly
    /// `len` payload bytes (`at-engine.md` §7) and then runs `then` on them; an aborted data
    /// phase ends the command with `+CME ERROR:204` instead.
    Data {
        /// Payload bytes to read (at most 4,096).
        len: u16,
        /// Terminator and Ctrl+Z rules of the phase.
        kind: at_parser::DataKind,
        /// What to do with the payload.
        then: DataJob,
    },
}

/// Work that needs IO, run by the engine after the handler's checks passed.
// A publish request carries its payload inline: there is no heap to box into, and a job is
// moved once, from the handler to the engine.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Job {
    /// AT+TCDEVINFOSET: store the device record.
    StoreDevice(DeviceInfo),
    /// AT+TCPRDINFOSET: store the product record.
    StoreProduct(ProductInfo),
    /// AT+TCMODINFOSET: store the module record.
    StoreModule(ModuleInfo),
    /// AT+TCMODINFOSET? after a set since boot: the stored module record, read from flash.
    ModuleQuery,
    /// AT+CWMODE=: store the Wi-Fi mode.
    StoreWifiMode(WifiMode),
    /// AT+CWJAP=: join and, on success, store the credentials.
    Join {
        /// The AP to join.
        station: WifiStation,
        /// Optional BSSID filter.
        bssid: Option<[u8; 6]>,
    },
    /// AT+TCREGNET=: join like AT+CWJAP (no BSSID), answer `+TCREGNET:OK` / `FAIL,<n>`.
    RegisterNetwork(WifiStation),
    /// AT+CWQAP: leave the AP.
    Leave,
    /// AT+RST: reboot.
    Reboot,
    /// AT+RESTORE: erase the Wi-Fi configuration, then reboot.
    RestoreWifi,
    /// AT+TCRESTORE: erase the cloud configuration, then reboot.
    RestoreCloud,
    /// AT+TCDEVREG: register with the product record and store the device record it gives.
    Register,
    /// AT+TCMQTTCONN=: check the device record, then connect.
    MqttConnect(MqttParameters),
    /// AT+TCMQTTPUB=, AT+TCMQTTSUB=, AT+TCMQTTUNSUB=: one request to the MQTT service.
    Mqtt(LineRequest),
    /// AT+TCMQTTDISCONN: end the session, then `[OK]`.
    MqttDisconnect,
    /// AT+TCOTASET=: enable (subscribe, version report) or disable OTA.
    OtaSet {
        /// `<ctrl>` = 1.
        enable: bool,
        /// The MCU's version, 1..=32 bytes.
        version: ::ota::Version,
    },
    /// AT+TCOTASET?: the enabled flag and the recorded version.
    OtaQuery,
    /// AT+TCFWINFO?: the cached image's record.
    FirmwareInfo,
    /// AT+TCREADFWDATA=: the next block of the cached image; `None` when `<len>` is not one
    /// Integer in 1..=4096 (checked after the record, `commands.md` §5).
    ReadFirmware(Option<u16>),
    /// AT+TCMQTTSUB?: list the user subscriptions, one line per write.
    ListSubscriptions,
    /// AT+TCSAP= (with its AP) or AT+TCSTARTSMART: start a provisioning session.
    ProvisionStart(Option<provisioning::AccessPoint>),
    /// AT+TCSTOPSAP / AT+TCSTOPSMART: stop any provisioning session, then `[OK]`.
    ProvisionStop,
    /// AT+TCGWBIND=, AT+TCGWONLINE=: the checked request, run by the MQTT service.
    Gateway(::gateway::Request),
    /// AT+TCGWONLINE?: the online list, newest first, one line per write.
    ListOnline,
    /// AT+TCCERTCHECK=: parse the file (and its pair) through the board.
    #[cfg(feature = "certificates")]
    CheckCertificate(certificates::FileName),
    /// AT+TCCERTDEL=: delete the file.
    #[cfg(feature = "certificates")]
    DeleteCertificate(certificates::FileName),
}

/// A handler for the test, query and execute forms.
pub type Handler = fn(&mut Context<'_>, &mut Reply) -> Step;
/// A handler for the set form.
pub type SetHandler = fn(&mut Context<'_>, &mut Reply, crate::params::Params<'_>) -> Step;

/// XOR of all bytes: the only form in which a secret is ever shown.
pub fn bcc(secret: &[u8]) -> u8 {
    secret.iter().fold(0, |acc, byte| acc ^ byte)
}

#[cfg(test)]
pub(crate) mod testing {
    //! Runs a handler on one line against fixed board facts, for handler tests.
    use super::*;
    use crate::board::Profile;
    use at_parser::{parse_line, Form, Parsed};

    /// Dispatches `line` to the handler of its form and returns the reply bytes and the step.
    pub fn run(state: &mut RamState, profile: Profile, line: &[u8]) -> (std::vec::Vec<u8>, Step) {
        run_with_gates(state, profile, Gates::default(), line)
    }

    /// [`run`] with RUN / CONN / DL / PROV as given.
    pub fn run_with_gates(
        state: &mut RamState,
        profile: Profile,
        gates: Gates,
        line: &[u8],
    ) -> (std::vec::Vec<u8>, Step) {
        let board = board(profile);
        let Ok(Parsed::Command { name, form }) = parse_line(line) else {
            panic!("not a command line");
        };
        let spec = crate::table::lookup(name).expect("known command");
        let mut context = Context {
            state,
            board: &board,
            association: None,
            gates,
            diagnostics: DiagnosticReport::default(),
            payload: &mut [0; crate::mqtt::PAYLOAD_MAX],
        };
        let mut reply = Reply::new();
        let step = match form {
            Form::Test => (spec.test.unwrap())(&mut context, &mut reply),
            Form::Query => (spec.query.unwrap())(&mut context, &mut reply),
            Form::Execute => (spec.exec.unwrap())(&mut context, &mut reply),
            Form::Set(args) => {
                (spec.set.unwrap())(&mut context, &mut reply, crate::params::Params::new(args))
            }
        };
        (reply.as_bytes().to_vec(), step)
    }

    /// The RAM state of a module booted on an empty flash.
    pub fn state() -> RamState {
        RamState::boot(storage::Snapshot::default())
    }

    /// RUN and CONN: a connected MQTT session.
    pub fn connected() -> Gates {
        Gates {
            run: true,
            conn: true,
            ..Gates::default()
        }
    }

    /// Reply bytes as text, for readable assertion messages.
    pub fn text(bytes: &[u8]) -> std::string::String {
        std::string::String::from_utf8_lossy(bytes).into_owned()
    }

    pub fn board(profile: Profile) -> BoardInfo {
        BoardInfo {
            board: "LINUX",
            version: "3.0.0",
            git_hash: "abcdef1",
            build_time: "Sep  3 2020 11:43:26",
            vendor: "Tencent Technology Co. Ltd.",
            mac: [0x02, 0x11, 0x22, 0x33, 0x44, 0x55],
            profile,
            free_ram: || (40000, 30000),
        }
    }
}

#[cfg(test)]
mod block_size {
    use super::testing::run;
    use crate::board::Profile;
    use crate::render::BLOCK_CAPACITY;
    use crate::state::RamState;

    /// The longest answer written in one piece: AT+TCDIAG? with every counter at its largest.
    #[test]
    fn the_longest_diagnostic_report_fits_a_block() {
        use crate::mqtt::{DiagnosticReport, Diagnostics, DisconnectCause};
        use mqtt_session::session::Statistics;

        let mut state = RamState::boot(storage::Snapshot::default());
        let board = super::testing::board(Profile::Esp8266);
        let mut context = super::Context {
            state: &mut state,
            board: &board,
            association: None,
            gates: crate::state::Gates::default(),
            diagnostics: DiagnosticReport {
                session: Statistics {
                    oversize_dropped: u32::MAX,
                    unmatched_dropped: u32::MAX,
                    duplicates_suppressed: u32::MAX,
                },
                service: Diagnostics {
                    last_disconnect: DisconnectCause::Unexpected,
                    reconnect_attempts: u32::MAX,
                    last_connack: Some(u8::MAX),
                    bytes_in: u64::MAX,
                    bytes_out: u64::MAX,
                },
            },
            payload: &mut [],
        };
        let mut reply = crate::render::Reply::new();
        super::diagnostics::tcdiag_query(&mut context, &mut reply);
        assert!(!reply.overflowed());
        assert_eq!(reply.as_bytes().len(), 252);
        assert!(reply.as_bytes().ends_with(b"\r\nOK\r\n"));
    }

    /// The reply block holds a command's answer (its echo is written ahead of it); only
    /// AT+TCMQTTSUB? and AT+TCGWONLINE? write their lists piecewise. Every answer of the
    /// forms without parameters fits, with room for the longest values a record can hold.
    #[test]
    fn every_test_query_and_execute_answer_fits_a_block() {
        for spec in crate::table::COMMANDS {
            let forms = [
                (spec.test.is_some(), "=?"),
                (spec.query.is_some(), "?"),
                (spec.exec.is_some(), ""),
            ];
            for (present, suffix) in forms {
                if !present {
                    continue;
                }
                let line = std::format!("AT+{}{suffix}", spec.name);
                let mut state = RamState::boot(storage::Snapshot::default());
                let (reply, _) = run(&mut state, Profile::Full, line.as_bytes());
                assert!(
                    reply.len() + 64 <= BLOCK_CAPACITY,
                    "{line}: {} bytes",
                    reply.len()
                );
            }
        }
    }
}
