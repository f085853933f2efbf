//! The OTA state both loops see (`cloud.md` §4): the update state machine, the RAM mirror of
//! the firmware record, the length of the URL of the download about to start and the read
//! offset of AT+TCREADFWDATA.
//!
//! Why shared: messages on `$ota/update/<pid>/<dn>` and link drops arrive in the MQTT service,
//! which feeds them to the machine at once (the message lives only until the session moves
//! on, so its URL is copied right away); everything that needs IO (the download socket,
//! the flash, the reports) is done by the executor between commands, draining the machine's
//! events (`engine/ota_jobs.rs`). The service raises [`OtaShared::wake`] after feeding the
//! machine; the executor is its only waiter.
//!
//! Where the URL waits: an attempt needs it once, from the `update_firmware` that starts the
//! attempt until its GET is written (a retry re-reports the version and waits for a new
//! `update_firmware` with its own URL). Without `certificates` it waits at the front of the
//! executor's work buffer: from the moment the machine accepts the update DL is set, which
//! refuses every command that uses the buffer (AT+TCREADFWDATA writes its pieces through the
//! reply block instead), and the download reads into the buffer only after the GET is out. A
//! command that holds the buffer at that moment (none does while connected on this build)
//! makes the service keep no URL: the attempt fails to connect and is retried like one with a
//! too-long URL. With `certificates`, a certificate waits in the work buffer through a 20 s
//! data phase that DL cannot refuse once started, so the URL has a buffer of its own there.
//! Nobody holds a borrow of the URL across an `await` except the executor's fetch, which reads
//! it while the machine is past Listening (the only state in which the service writes it).

use core::cell::{Cell, Ref, RefCell, RefMut};

use ota::{Ota, StoredImage};

use crate::fmt::warning;
use crate::wake::Flag;

/// Longest `update_firmware` URL kept for the download (a signed COS URL is about 350
/// bytes); a longer one fails the attempt like an unreachable server.
pub const URL_MAX: usize = 512;

/// The executor's work buffer (`MqttShared`'s `data`), where the URL waits without
/// `certificates`.
pub(crate) type WorkBuffer = RefCell<[u8; crate::engine::DATA_MAX]>;

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
    /// Mirror of the persisted firmware record (read at boot, written after every store), all
    /// of it but the name, which nothing reads back.
    pub(crate) record: RefCell<Option<StoredImage>>,
    /// Length of the URL of the `update_firmware` being started, at the front of
    /// its area (the module doc says where; 0: none kept).
    url_length: Cell<u16>,
    /// The URL's own buffer with `certificates` (the module doc says why).
    #[cfg(feature = "certificates")]
    url: RefCell<[u8; URL_MAX]>,
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
            url_length: Cell::new(0),
            #[cfg(feature = "certificates")]
            url: RefCell::new([0; URL_MAX]),
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
    /// the machine and keep the URL of a download it starts (in `work` without
    /// `certificates`).
    pub(crate) fn message(&self, topic: &str, payload: &[u8], work: &WorkBuffer, now_ms: u64) {
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
            self.keep_url(&url, work);
        }
        self.wake.raise();
    }

    /// Decodes `url` into its area. None kept (too long, or the area busy): the attempt fails
    /// to connect (213) and is retried.
    fn keep_url(&self, url: &ota::Text<'_>, work: &WorkBuffer) {
        self.url_length.set(0);
        let Some(mut area) = self.url_area_mut(work) else {
            warning!("OTA URL busy");
            return;
        };
        let Some(length) = url.copy_to(&mut area) else {
            warning!("OTA URL longer than {} bytes", URL_MAX);
            return;
        };
        self.url_length.set(length as u16);
    }

    /// Where the URL is written: the front of the work buffer, or its own buffer with
    /// `certificates`; `None` while a borrow holds it.
    #[cfg_attr(feature = "certificates", allow(unused_variables))]
    fn url_area_mut<'a>(&'a self, work: &'a WorkBuffer) -> Option<RefMut<'a, [u8]>> {
        #[cfg(feature = "certificates")]
        let area = self.url.try_borrow_mut().ok()?;
        #[cfg(not(feature = "certificates"))]
        let area = work.try_borrow_mut().ok()?;
        Some(RefMut::map(area, |area| &mut area[..URL_MAX]))
    }

    /// The kept URL, taken for the attempt's fetch (`None` when none was kept or its area is
    /// busy).
    #[cfg_attr(feature = "certificates", allow(unused_variables))]
    pub(crate) fn take_url<'a>(&'a self, work: &'a WorkBuffer) -> Option<Ref<'a, [u8]>> {
        let length = usize::from(self.url_length.take());
        if length == 0 {
            return None;
        }
        #[cfg(feature = "certificates")]
        let area = self.url.try_borrow().ok()?;
        #[cfg(not(feature = "certificates"))]
        let area = work.try_borrow().ok()?;
        Some(Ref::map(area, |area| &area[..length]))
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

#[cfg(test)]
mod tests {
    use super::*;

    const UPDATE: &[u8] = br#"{"file_size":5000,"md5sum":"33d9712cc5eb0bf18a41ed54a908e412","type":"update_firmware","url":"http:\/\/127.0.0.1:18080\/ota\/1?a=b","version":"1.0.1"}"#;

    fn listening() -> OtaShared {
        let ota = OtaShared::new();
        ota.machine.borrow_mut().enable(b"1.0.0").unwrap();
        ota.max_size.set(1 << 20);
        ota
    }

    #[test]
    fn the_url_of_an_accepted_update_is_kept_decoded_once_for_its_fetch() {
        let ota = listening();
        let work: WorkBuffer = RefCell::new([0; crate::engine::DATA_MAX]);
        ota.message("$ota/update/P/D", UPDATE, &work, 0);
        assert!(ota.is_downloading());
        let url = ota.take_url(&work).expect("a kept URL");
        assert_eq!(&*url, b"http://127.0.0.1:18080/ota/1?a=b");
        drop(url);
        assert!(ota.take_url(&work).is_none(), "an attempt takes it once");
    }

    #[test]
    fn a_busy_area_keeps_no_url_and_the_update_still_starts() {
        let ota = listening();
        let work: WorkBuffer = RefCell::new([0; crate::engine::DATA_MAX]);
        #[cfg(not(feature = "certificates"))]
        let busy = work.borrow_mut();
        #[cfg(feature = "certificates")]
        let busy = ota.url.borrow_mut();
        ota.message("$ota/update/P/D", UPDATE, &work, 0);
        drop(busy);
        assert!(ota.is_downloading());
        assert!(ota.take_url(&work).is_none());
    }
}
