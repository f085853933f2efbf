//! The update state machine of `cloud.md` §4.4, sans-IO.
//!
//! [`Ota`] never touches a socket, the flash or a clock. The runner (the
//! OTA task of the engine) tells it what happened: OTA enabled or disabled,
//! a message on the update topic, bytes stored, the transfer ended or
//! failed, the image hashed, the link lost. It answers with [`Event`]s in
//! the order the runner must act on them (publish a report, emit a URC,
//! open the GET, store the record, unsubscribe), drained with
//! [`Ota::poll`], which also fires the two 1 s timers (retry and version
//! re-report). Every state change is an [`Event::Transition`], so a test
//! or a log sees the whole path.
//!
//! The rules this file encodes: `ENTERUPDATE` for every `update_firmware`
//! handled while listening; up to [`RETRIES`] silent retries of HTTP,
//! transfer, memory and flash failures (each by re-reporting the version
//! after 1 s, which makes the cloud push again and the download resume);
//! one `fail` report at the final failure, except after a lost link or
//! `AT+TCMQTTDISCONN` (no report); a rejected version report re-sent at
//! most [`VERSION_REREPORTS`] times.
//!
//! A module self-update (`cloud.md` §4.7) is the same path with one flag in
//! the task: it records the image as a module image, and a valid one adds
//! `UPDATERESET` and [`Event::Reboot`] after `UPDATESUCCESS`.

mod download;
mod events;

use storage::{FirmwareInfo, FirmwareState, Text as StoredText, MCU_IMAGE_NAME};

use self::events::EventQueue;
use crate::event::{Event, State};
use crate::fmt::warning;
use crate::report::{write_report, BufferTooSmall, Report, ResultCode};
use crate::Moment;
use crate::Version;

/// What the machine and the OTA commands read of the persisted firmware record: all of it but
/// the image's name and the maximum it was written under, which nothing reads back. The RAM
/// mirror of the record is one of these (about half a [`FirmwareInfo`]); the record itself,
/// name included, stays in flash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredImage {
    /// What the image area holds.
    pub state: FirmwareState,
    /// Version being downloaded or stored.
    pub version: Version,
    /// MD5 the cloud announced.
    pub md5: [u8; 16],
    /// Image size in bytes.
    pub size: u32,
    /// Bytes `0..downloaded` are in flash.
    pub downloaded: u32,
}

impl From<&FirmwareInfo> for StoredImage {
    fn from(record: &FirmwareInfo) -> Self {
        StoredImage {
            state: record.state,
            // A stored version is 1..=32 bytes, as a `Version`.
            version: Version::from_slice(&record.version).unwrap_or_default(),
            md5: record.md5,
            size: record.size,
            downloaded: record.downloaded,
        }
    }
}

/// Retries after a failed attempt (so 4 attempts in all).
pub const RETRIES: u8 = 3;
/// Wait before re-reporting the version after a failed attempt, or after a
/// rejected version report.
pub const RETRY_DELAY_MS: u64 = 1_000;
/// Re-reports of a version report the cloud rejected.
pub const VERSION_REREPORTS: u8 = 3;
/// The stored byte count is persisted at least this often.
pub const CHECKPOINT_BYTES: u32 = 64 * 1024;
/// Progress reports are at least this far apart (except the 100 % one).
pub const PROGRESS_INTERVAL_MS: u64 = 1_000;

/// Wait between `UPDATERESET` and the reboot into a new module image.
pub const REBOOT_DELAY_MS: u64 = 2_000;

/// Events queued by one input at most (a valid module image queues 8).
const EVENT_CAPACITY: usize = 8;

/// The version given to [`Ota::enable`] is empty or longer than 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct InvalidVersion;

/// The image being downloaded.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Task {
    version: Version,
    md5: [u8; 16],
    size: u32,
    /// A module image of the resource channel (`cloud.md` §4.7), not the MCU's.
    module: bool,
}

/// The OTA update state machine.
#[derive(Debug, Clone)]
pub struct Ota {
    state: State,
    /// The MCU's version from `AT+TCOTASET=1`, sent in version reports.
    mcu_version: Version,
    task: Option<Task>,
    /// `ENTERUPDATE` was emitted and no final result yet.
    in_update: bool,
    retries: u8,
    rejections: u8,
    rereport_at: Moment,
    retry_at: Moment,
    /// Image bytes stored, as the runner last said.
    stored: u32,
    /// The count last persisted through [`Event::Checkpoint`].
    checkpointed: u32,
    last_percent: u8,
    last_progress_at: Moment,
    events: EventQueue<EVENT_CAPACITY>,
}

impl Default for Ota {
    fn default() -> Self {
        Self::new()
    }
}

impl Ota {
    /// OTA off.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            state: State::Idle,
            mcu_version: Version::new(),
            task: None,
            in_update: false,
            retries: 0,
            rejections: 0,
            rereport_at: Moment::NONE,
            retry_at: Moment::NONE,
            stored: 0,
            checkpointed: 0,
            last_percent: 0,
            last_progress_at: Moment::NONE,
            events: EventQueue::new(),
        }
    }

    /// The current state.
    #[must_use]
    pub const fn state(&self) -> State {
        self.state
    }

    /// OTA is enabled and listening (`AT+TCOTASET?` shows 1).
    #[must_use]
    pub fn is_enabled(&self) -> bool {
        self.state != State::Idle
    }

    /// The spec's DL predicate: a download is under way (downloading,
    /// verifying or waiting to retry).
    #[must_use]
    pub fn is_downloading(&self) -> bool {
        matches!(
            self.state,
            State::Downloading | State::Verifying | State::RetryWait
        )
    }

    /// The update under way (or last finished) is a module self-update: its
    /// reports go on the resource channel.
    #[must_use]
    pub fn is_module_update(&self) -> bool {
        self.task.as_ref().is_some_and(|task| task.module)
    }

    /// The version being downloaded (or last finished), if any.
    #[must_use]
    pub fn target_version(&self) -> Option<&[u8]> {
        self.task.as_ref().map(|task| &task.version[..])
    }

    /// The MCU version last given to [`Ota::enable`] or [`Ota::record_version`].
    #[must_use]
    pub fn mcu_version(&self) -> &[u8] {
        &self.mcu_version
    }

    /// `AT+TCOTASET=1` succeeded (subscribed, version report acknowledged):
    /// start listening, or keep listening with a fresh re-report allowance.
    ///
    /// # Errors
    ///
    /// [`InvalidVersion`] for an empty version or one over 32 bytes; nothing changes.
    pub fn enable(&mut self, version: &[u8]) -> Result<(), InvalidVersion> {
        self.record_version(version)?;
        self.listen();
        Ok(())
    }

    /// Records the MCU version (sent in later version reports, and the one an
    /// `AT+TCOTASET?` shows) without changing whether the machine listens: the
    /// module keeps its only copy here, and records a new one only once its
    /// command succeeded (or with `AT+TCOTASET=0`).
    ///
    /// # Errors
    ///
    /// [`InvalidVersion`] for an empty version or one over 32 bytes; nothing changes.
    pub fn record_version(&mut self, version: &[u8]) -> Result<(), InvalidVersion> {
        if version.is_empty() {
            return Err(InvalidVersion);
        }
        self.mcu_version = Version::from_slice(version).map_err(|_| InvalidVersion)?;
        Ok(())
    }

    /// Start listening, or keep listening with a fresh re-report allowance;
    /// the recorded MCU version is kept ([`Ota::enable`] without the version).
    pub fn listen(&mut self) {
        self.rejections = 0;
        self.rereport_at = Moment::NONE;
        if self.state == State::Idle {
            self.enter(State::Listening);
        }
    }

    /// `AT+TCOTASET=0`: abort an update (report `-5`, `UPDATEFAIL,208`,
    /// partial image kept) and stop listening.
    pub fn disable(&mut self) {
        if self.in_update {
            self.abort(Some(ResultCode::Other), true);
        } else if self.state == State::Listening {
            self.push(Event::Unsubscribe);
            self.enter(State::Idle);
        }
    }

    /// The MQTT link dropped (the session may reconnect): a running update
    /// fails with 208 and no report; plain listening survives the reconnect.
    pub fn link_lost(&mut self) {
        if self.in_update {
            self.abort(None, true);
        }
    }

    /// The MQTT session ended (`AT+TCMQTTDISCONN`, reconnect given up): an
    /// update fails with 208 and no report, and OTA is off.
    pub fn session_ended(&mut self) {
        if self.in_update {
            self.abort(None, false);
        } else if self.state == State::Listening {
            self.enter(State::Idle);
        }
    }

    /// The next thing to do, or `None`; fires the 1 s timers due at `now_ms`.
    pub fn poll(&mut self, now_ms: u64) -> Option<Event> {
        if let Some(event) = self.events.pop_front() {
            return Some(event);
        }
        if self.retry_at.get().is_some_and(|at| now_ms >= at) && self.state == State::RetryWait {
            self.retry_at = Moment::NONE;
            self.push(Event::Publish(Report::Version));
            self.enter(State::Listening);
        } else if self.rereport_at.get().is_some_and(|at| now_ms >= at)
            && self.state == State::Listening
        {
            self.rereport_at = Moment::NONE;
            self.push(Event::Publish(Report::Version));
        }
        self.events.pop_front()
    }

    /// When [`Ota::poll`] must be called next, if no input comes first.
    #[must_use]
    pub fn next_deadline(&self) -> Option<u64> {
        if !self.events.is_empty() {
            return Some(0);
        }
        match self.state {
            State::RetryWait => self.retry_at.get(),
            State::Listening => self.rereport_at.get(),
            _ => None,
        }
    }

    /// Writes `report` with the right version: the MCU's for the version
    /// report, the target's for the others.
    ///
    /// # Errors
    ///
    /// [`BufferTooSmall`] when `out` is shorter than
    /// [`MAXIMUM_REPORT_LENGTH`](crate::MAXIMUM_REPORT_LENGTH) and the report does not fit.
    pub fn write_report(&self, report: Report, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let version = match (&self.task, report) {
            (Some(task), Report::Progress(_) | Report::Done | Report::Fail(_)) => &task.version,
            _ => &self.mcu_version,
        };
        write_report(report, version, out)
    }

    /// The firmware record to store for `event`: "downloading" with 0 bytes
    /// for [`Event::BeginImage`], with the count for [`Event::Checkpoint`],
    /// "valid" for [`Event::CompleteImage`]; `None` for other events. A
    /// module image is recorded under `resource` (its resource name).
    #[must_use]
    pub fn firmware_record(
        &self,
        event: &Event,
        max_size: u32,
        resource: &[u8],
    ) -> Option<FirmwareInfo> {
        let task = self.task.as_ref()?;
        let (downloading, valid, name) = if task.module {
            (
                FirmwareState::ModuleDownloading,
                FirmwareState::ModuleValid,
                resource,
            )
        } else {
            (
                FirmwareState::McuDownloading,
                FirmwareState::McuValid,
                MCU_IMAGE_NAME,
            )
        };
        let (state, downloaded) = match *event {
            Event::BeginImage => (downloading, 0),
            Event::Checkpoint { downloaded } => (downloading, downloaded),
            Event::CompleteImage => (valid, task.size),
            _ => return None,
        };
        Some(FirmwareInfo {
            state,
            name: StoredText::from_slice(name).ok()?,
            version: StoredText::from_slice(&task.version).ok()?,
            md5: task.md5,
            size: task.size,
            downloaded,
            max_size,
        })
    }

    /// Back to Idle after Done or Failed; the target stays for the reports
    /// still queued.
    fn finish(&mut self) {
        self.in_update = false;
        self.retries = 0;
        self.rejections = 0;
        self.retry_at = Moment::NONE;
        self.rereport_at = Moment::NONE;
        self.enter(State::Idle);
    }

    fn checkpoint(&mut self) {
        if self.stored != self.checkpointed {
            self.checkpointed = self.stored;
            self.push(Event::Checkpoint {
                downloaded: self.stored,
            });
        }
    }

    fn task_size(&self) -> Option<u32> {
        self.task.as_ref().map(|task| task.size)
    }

    fn enter(&mut self, to: State) {
        let from = self.state;
        self.state = to;
        self.push(Event::Transition { from, to });
    }

    fn push(&mut self, event: Event) {
        if self.events.push_back(event).is_err() {
            // Only if the runner stops draining between inputs.
            warning!("OTA event queue full, event dropped");
        }
    }
}
