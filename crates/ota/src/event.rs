//! What the update state machine asks of its runner, and the failures the
//! runner reports back.

use crate::http::HttpError;
use crate::report::{Report, ResultCode};

/// The states of `cloud.md` §4.4. `Done` and `Failed` are passed through on
/// the way back to `Idle`, so they show up only in [`Event::Transition`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum State {
    /// OTA off.
    Idle,
    /// Subscribed to the update topic, waiting for `update_firmware`.
    Listening,
    /// An HTTP download runs.
    Downloading,
    /// The stored image is being hashed.
    Verifying,
    /// The image is valid (transient).
    Done,
    /// An attempt failed; the version is re-reported after 1 s.
    RetryWait,
    /// The update failed for good (transient).
    Failed,
}

/// `+TCOTASTATUS` codes (`urc.md` §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Status {
    /// `ENTERUPDATE`: an `update_firmware` was accepted.
    EnterUpdate,
    /// `UPDATESUCCESS`: the image is stored and valid.
    UpdateSuccess,
    /// `UPDATEFAIL,<code>`: the update failed for good.
    UpdateFail(FailCode),
    /// `UPDATERESET`: a module image is valid; the module reboots 2 s later.
    UpdateReset,
}

/// Codes of `UPDATEFAIL` (`errors.md` §1 and §5).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FailCode {
    /// 201: the image is larger than the module's maximum.
    TooLarge = 201,
    /// 202: no HTTP data for 20 s.
    Timeout = 202,
    /// 205: MD5 mismatch.
    NoValidFirmware = 205,
    /// 206: memory error.
    Memory = 206,
    /// 207: flash read, write or erase error.
    Flash = 207,
    /// 208: aborted (AT+TCOTASET=0, AT+TCMQTTDISCONN, MQTT link lost).
    Aborted = 208,
    /// 210: `update_firmware` with missing or invalid fields.
    InvalidMessage = 210,
    /// 213: HTTP error (connection, status, transfer).
    Http = 213,
}

impl FailCode {
    /// The number in `+TCOTASTATUS:UPDATEFAIL,<code>`.
    #[must_use]
    pub const fn number(self) -> u16 {
        self as u16
    }
}

/// Why an attempt failed, as the runner reports it.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Failure {
    /// The TCP or TLS connection could not be opened, or broke.
    Connection,
    /// The HTTP exchange failed.
    Http(HttpError),
    /// A buffer could not be had.
    Memory,
    /// The image region could not be read, written or erased.
    Flash,
}

impl Failure {
    /// The `UPDATEFAIL` code and report `result_code` of this failure.
    #[must_use]
    pub const fn codes(self) -> (FailCode, ResultCode) {
        match self {
            Self::Http(HttpError::Stalled) => (FailCode::Timeout, ResultCode::Timeout),
            Self::Http(HttpError::Status(401 | 403)) => (FailCode::Http, ResultCode::Unauthorized),
            Self::Http(HttpError::Status(404)) => (FailCode::Http, ResultCode::NotFound),
            Self::Http(_) | Self::Connection => (FailCode::Http, ResultCode::Other),
            Self::Memory => (FailCode::Memory, ResultCode::Other),
            Self::Flash => (FailCode::Flash, ResultCode::Other),
        }
    }
}

/// One thing the runner must do, in order.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Event {
    /// The state changed (for logs and tests; nothing to do).
    Transition {
        /// Previous state.
        from: State,
        /// New state.
        to: State,
    },
    /// Publish this report on `$ota/report/…` (write it with
    /// [`Ota::write_report`](crate::Ota::write_report)).
    Publish(Report),
    /// Emit `+TCOTASTATUS`.
    Status(Status),
    /// A fresh download: discard the cached image and store the record
    /// "image downloading" (MCU or module) for the target with 0 bytes.
    BeginImage,
    /// Open the connection to the URL kept from
    /// [`Ota::handle_message`](crate::Ota::handle_message) and GET bytes
    /// `offset..size` with a [`RangeDownload`](crate::http::RangeDownload).
    Fetch {
        /// First byte wanted.
        offset: u32,
        /// Image size (the range end sent).
        size: u32,
    },
    /// Stop the running transfer or verification (the socket is closed).
    Abort,
    /// Persist the record's byte count: every byte below it is in flash.
    Checkpoint {
        /// Bytes stored.
        downloaded: u32,
    },
    /// Hash stored bytes `0..size` with an [`ImageDigest`](crate::ImageDigest)
    /// and call [`Ota::image_checked`](crate::Ota::image_checked).
    Verify {
        /// Image size.
        size: u32,
    },
    /// Store the record as "image valid" (`downloaded` = size).
    CompleteImage,
    /// Erase the firmware record (the image failed its MD5).
    ClearImage,
    /// Remove the internal subscriptions (`$ota/update`, and the resource
    /// channel's `$thing/down/service`).
    Unsubscribe,
    /// A module image is stored and valid: reboot into it after
    /// [`REBOOT_DELAY_MS`](crate::REBOOT_DELAY_MS), once the URCs and reports
    /// queued before this event are out.
    Reboot,
}
