//! The inputs of a download: messages on the update topic, stored bytes, the end or the
//! failure of a transfer and the image check.

use storage::FirmwareState;

use super::{
    Moment, Ota, StoredImage, Task, CHECKPOINT_BYTES, PROGRESS_INTERVAL_MS, RETRIES,
    RETRY_DELAY_MS, VERSION_REREPORTS,
};
use crate::event::{Event, FailCode, Failure, State, Status};
use crate::fmt::{debug, warning};
use crate::json::Text;
use crate::message::{Message, UpdateFirmware};
use crate::report::{Report, ResultCode};

impl Ota {
    /// Handles one message of `$ota/update/<pid>/<dn>`.
    ///
    /// `stored` is the firmware record (for resume) and `max_size` the
    /// module's maximum image size. When a download must start, returns its
    /// URL: copy it now (the payload will be gone), then act on the events.
    pub fn handle_message<'a>(
        &mut self,
        payload: &'a [u8],
        stored: Option<&StoredImage>,
        max_size: u32,
        now_ms: u64,
    ) -> Option<Text<'a>> {
        let message = Message::parse(payload);
        if self.state != State::Listening {
            debug!("OTA message ignored outside Listening");
            return None;
        }
        match message {
            Ok(Message::VersionResponse { accepted: true }) => None,
            Ok(Message::VersionResponse { accepted: false }) => {
                if self.rejections < VERSION_REREPORTS {
                    self.rejections += 1;
                    self.rereport_at = Moment::at(now_ms + RETRY_DELAY_MS);
                }
                None
            }
            Ok(Message::UpdateFirmware(update)) => {
                self.accept(update, false, stored, max_size, now_ms)
            }
            Ok(Message::UpdateResource { .. } | Message::Other) => None,
            Err(_) => {
                warning!("update_firmware with missing or invalid fields");
                self.task = None;
                self.start_update();
                self.finish_failed(Some(ResultCode::Other), FailCode::InvalidMessage, true);
                None
            }
        }
    }

    /// Handles one message of the resource channel
    /// `$thing/down/service/<pid>/<dn>` (`cloud.md` §4.7): an
    /// `update_resource` for `resource` (this module's resource name) starts
    /// a module self-update exactly like `update_firmware` starts an MCU
    /// update; anything else, an invalid one included, is ignored (the
    /// channel is best effort). Returns the URL as [`Ota::handle_message`].
    pub fn handle_resource<'a>(
        &mut self,
        payload: &'a [u8],
        resource: &[u8],
        stored: Option<&StoredImage>,
        max_size: u32,
        now_ms: u64,
    ) -> Option<Text<'a>> {
        if self.state != State::Listening {
            return None;
        }
        match Message::parse(payload) {
            Ok(Message::UpdateResource {
                resource: name,
                update,
            }) if name.equals(resource) => self.accept(update, true, stored, max_size, now_ms),
            Ok(_) => None,
            Err(_) => {
                warning!("update_resource with missing or invalid fields ignored");
                None
            }
        }
    }

    /// The runner stored image bytes `0..stored` (its writer's stored count).
    pub fn progress(&mut self, stored: u32, now_ms: u64) {
        let Some(size) = self.task_size() else {
            return;
        };
        if self.state != State::Downloading {
            return;
        }
        self.stored = stored.min(size);
        if self.stored.saturating_sub(self.checkpointed) >= CHECKPOINT_BYTES {
            self.checkpoint();
        }
        let percent = (u64::from(self.stored) * 100 / u64::from(size)) as u8;
        let due = self
            .last_progress_at
            .get()
            .is_none_or(|at| now_ms >= at + PROGRESS_INTERVAL_MS);
        if percent != self.last_percent && (percent == 100 || due) {
            self.last_percent = percent;
            self.last_progress_at = Moment::at(now_ms);
            self.push(Event::Publish(Report::Progress(percent)));
        }
    }

    /// Every byte of the image is stored (the writer's last word included).
    pub fn fetch_complete(&mut self, now_ms: u64) {
        let Some(size) = self.task_size() else {
            return;
        };
        if self.state != State::Downloading {
            return;
        }
        self.progress(size, now_ms);
        self.checkpoint();
        self.enter(State::Verifying);
        self.push(Event::Verify { size });
    }

    /// The attempt failed (transfer, HTTP, memory, flash, or reading the
    /// image while verifying): retry, or fail for good.
    pub fn fetch_failed(&mut self, failure: Failure, now_ms: u64) {
        if !matches!(self.state, State::Downloading | State::Verifying) {
            return;
        }
        let (code, result) = failure.codes();
        self.checkpoint();
        if self.retries < RETRIES {
            self.retries += 1;
            debug!("OTA attempt failed, retry {}", self.retries);
            self.retry_at = Moment::at(now_ms + RETRY_DELAY_MS);
            self.enter(State::RetryWait);
        } else {
            self.finish_failed(Some(result), code, true);
        }
    }

    /// The MD5 of stored bytes `0..size` (see [`ImageDigest`](crate::ImageDigest)).
    pub fn image_checked(&mut self, digest: &[u8; 16]) {
        if self.state != State::Verifying {
            return;
        }
        if self.task.as_ref().is_some_and(|task| &task.md5 == digest) {
            self.push(Event::CompleteImage);
            self.push(Event::Publish(Report::Done));
            self.push(Event::Status(Status::UpdateSuccess));
            let module = self.is_module_update();
            if module {
                self.push(Event::Status(Status::UpdateReset));
            }
            self.push(Event::Unsubscribe);
            self.enter(State::Done);
            self.finish();
            if module {
                self.push(Event::Reboot);
            }
        } else {
            self.push(Event::ClearImage);
            self.finish_failed(
                Some(ResultCode::Md5Mismatch),
                FailCode::NoValidFirmware,
                true,
            );
        }
    }

    pub(super) fn accept<'a>(
        &mut self,
        update: UpdateFirmware<'a>,
        module: bool,
        stored: Option<&StoredImage>,
        max_size: u32,
        now_ms: u64,
    ) -> Option<Text<'a>> {
        let task = Task {
            version: update.version,
            md5: update.md5,
            size: update.file_size,
            module,
        };
        let downloading = if module {
            FirmwareState::ModuleDownloading
        } else {
            FirmwareState::McuDownloading
        };
        if self.task.as_ref() != Some(&task) {
            self.retries = 0;
        }
        let size = task.size;
        let resume = stored
            .filter(|record| {
                record.state == downloading
                    && record.version == task.version
                    && record.md5 == task.md5
                    && record.size == task.size
                    && record.downloaded <= task.size
            })
            .map(|record| record.downloaded);
        self.task = Some(task);
        self.start_update();
        if size > max_size {
            self.finish_failed(Some(ResultCode::Other), FailCode::TooLarge, true);
            return None;
        }
        match resume {
            Some(offset) if offset == size => {
                // Cut after the last write: no GET (it would get a 416).
                self.stored = size;
                self.checkpointed = size;
                self.enter(State::Verifying);
                self.push(Event::Verify { size });
                None
            }
            Some(offset) => {
                self.stored = offset;
                self.checkpointed = offset;
                self.last_percent = (u64::from(offset) * 100 / u64::from(size)) as u8;
                self.last_progress_at = Moment::NONE;
                self.push(Event::Fetch { offset, size });
                Some(update.url)
            }
            None => {
                self.stored = 0;
                self.checkpointed = 0;
                self.last_percent = 0;
                self.last_progress_at = Moment::at(now_ms);
                self.push(Event::BeginImage);
                self.push(Event::Fetch { offset: 0, size });
                self.push(Event::Publish(Report::Progress(0)));
                Some(update.url)
            }
        }
    }

    /// Enters Downloading with `ENTERUPDATE`.
    pub(super) fn start_update(&mut self) {
        self.in_update = true;
        self.rereport_at = Moment::NONE;
        self.enter(State::Downloading);
        self.push(Event::Status(Status::EnterUpdate));
    }

    /// Ends an update from any state by an abort (code 208).
    pub(super) fn abort(&mut self, report: Option<ResultCode>, unsubscribe: bool) {
        if matches!(self.state, State::Downloading | State::Verifying) {
            self.push(Event::Abort);
            self.checkpoint();
        }
        self.finish_failed(report, FailCode::Aborted, unsubscribe);
    }

    pub(super) fn finish_failed(
        &mut self,
        report: Option<ResultCode>,
        code: FailCode,
        unsubscribe: bool,
    ) {
        if let Some(result) = report {
            self.push(Event::Publish(Report::Fail(result)));
        }
        self.push(Event::Status(Status::UpdateFail(code)));
        if unsubscribe {
            self.push(Event::Unsubscribe);
        }
        self.enter(State::Failed);
        self.finish();
    }
}
