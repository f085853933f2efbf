//! The OTA state both loops see (`cloud.md` §4): the update state machine, the RAM mirror of
//! the firmware record, the URL of the download about to start and the read offset of
//! AT+TCREADFWDATA.
//!
//! Why shared: messages on `$ota/update/<pid>/<dn>` and link drops arrive in the MQTT service,
//! which feeds them to the machine at once (the message lives only until the session moves
//! on, so its URL is copied here right away); everything that needs IO (the download socket,
//! the flash, the reports) is done by the executor between commands, draining the machine's
//! events (`engine/ota_jobs.rs`). The service raises [`OtaShared::wake`] after feeding the
//! machine; the executor is its only waiter. Nobody holds a borrow across an `await` except
//! the executor's connect, which reads the URL while the machine is past Listening (the only
//! state in which the service writes it).

use core::cell::{Cell, RefCell};

use ota::{FirmwareInfo, Ota, Version};

use crate::fmt::warning;
use crate::wake::Flag;

/// Longest `update_firmware` URL kept for the download (a signed COS URL is about 350
/// bytes); a longer one fails the attempt like an unreachable server.
pub const URL_MAX: usize = 512;

/// Prefix of the OTA update topic: `$ota/update/<pid>/<dn>`.
pub(crate) const UPDATE_TOPIC: &str = "$ota/update/";
/// Prefix of the OTA report topic: `$ota/report/<pid>/<dn>`.
pub(crate) const REPORT_TOPIC: &str = "$ota/report/";
/// Prefix of the resource channel's downlink (module self-update, `cloud.md` §4.7).
pub(crate) const SERVICE_DOWN_TOPIC: &str = "$thing/down/service/";
/// Prefix of the resource channel's uplink.
pub(crate) const SERVICE_UP_TOPIC: &str = "$thing/up/service/";

/// OTA state shared by the MQTT service and the executor.
pub(crate) struct OtaShared {
    /// The update state machine.
    pub(crate) machine: RefCell<Ota>,
    /// Mirror of the persisted firmware record (read at boot, written after every store).
    pub(crate) record: RefCell<Option<FirmwareInfo>>,
    /// The URL of the `update_firmware` being started.
    pub(crate) url: RefCell<heapless::Vec<u8, URL_MAX>>,
    /// The version AT+TCOTASET last recorded (shown by `?` also after `=0`).
    pub(crate) version: RefCell<Version>,
    /// Largest image the module takes: the module info's maximum, bounded by the board's area.
    pub(crate) max_size: Cell<u32>,
    /// AT+TCREADFWDATA's position in the image (RAM only, 0 after boot).
    pub(crate) read_offset: Cell<u32>,
    /// Raised when the service fed the machine; awaited by the executor only.
    pub(crate) wake: Flag,
    /// `<BOARD>` of the running firmware, for the resource name.
    pub(crate) board: Cell<&'static str>,
    /// A valid module image asks for the reboot into it (the executor ends the run).
    pub(crate) reboot: Cell<bool>,
}

impl OtaShared {
    pub(crate) const fn new() -> Self {
        OtaShared {
            machine: RefCell::new(Ota::new()),
            record: RefCell::new(None),
            url: RefCell::new(heapless::Vec::new()),
            version: RefCell::new(Version::new()),
            max_size: Cell::new(0),
            read_offset: Cell::new(0),
            wake: Flag::new(),
            board: Cell::new(""),
            reboot: Cell::new(false),
        }
    }

    /// `QCLOUD_AT_RS_<BOARD>.bin`, this module's resource name (`cloud.md` §4.7).
    pub(crate) fn resource_name(&self) -> heapless::String<48> {
        let mut name = heapless::String::new();
        let _ = core::fmt::write(
            &mut name,
            format_args!("QCLOUD_AT_RS_{}.bin", self.board.get()),
        );
        name
    }

    /// A message on an internal topic: feed `$ota/update/…` and resource-channel payloads to
    /// the machine and keep the URL of a download it starts.
    pub(crate) fn message(&self, topic: &str, payload: &[u8], now_ms: u64) {
        let record = self.record.borrow();
        let url = if topic.starts_with(UPDATE_TOPIC) {
            self.machine.borrow_mut().handle_message(
                payload,
                record.as_ref(),
                self.max_size.get(),
                now_ms,
            )
        } else if topic.starts_with(SERVICE_DOWN_TOPIC) {
            self.machine.borrow_mut().handle_resource(
                payload,
                self.resource_name().as_bytes(),
                record.as_ref(),
                self.max_size.get(),
                now_ms,
            )
        } else {
            return;
        };
        if let Some(url) = url {
            let Ok(mut copy) = self.url.try_borrow_mut() else {
                warning!("OTA URL busy");
                return;
            };
            copy.clear();
            // Too long: left empty, so the attempt fails to connect (213) and is retried.
            if copy.resize_default(url.decoded_len()).is_ok() {
                let length = url.copy_to(&mut copy).unwrap_or(0);
                copy.truncate(length);
            } else {
                warning!("OTA URL longer than {} bytes", URL_MAX);
            }
        }
        self.wake.raise();
    }

    /// After the service handled a turn's session events: a drop fails a running update
    /// (208, no report), the end of the session also stops listening.
    pub(crate) fn link_changed(&self, dropped: bool, running: bool) {
        let mut machine = self.machine.borrow_mut();
        let before = machine.state();
        if dropped {
            machine.link_lost();
        }
        if !running {
            machine.session_ended();
        }
        if machine.state() != before || machine.next_deadline() == Some(0) {
            self.wake.raise();
        }
    }

    /// The spec's DL predicate.
    pub(crate) fn is_downloading(&self) -> bool {
        self.machine.borrow().is_downloading()
    }
}

/// `<prefix><pid>/<dn>`, or `None` when it does not fit a topic.
pub(crate) fn topic(
    prefix: &str,
    product_id: &[u8],
    device_name: &[u8],
) -> Option<heapless::String<{ crate::mqtt::TOPIC_MAX }>> {
    let mut topic = heapless::String::new();
    topic.push_str(prefix).ok()?;
    topic
        .push_str(core::str::from_utf8(product_id).ok()?)
        .ok()?;
    topic.push('/').ok()?;
    topic
        .push_str(core::str::from_utf8(device_name).ok()?)
        .ok()?;
    Some(topic)
}
