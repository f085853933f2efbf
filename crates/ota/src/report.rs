//! The reports the module publishes on `$ota/report/<pid>/<dn>` (`cloud.md`
//! §4.2), byte for byte.
//!
//! The spacing is irregular because it is the original SDK's format strings,
//! which the cloud and the test vectors expect verbatim. The resource
//! channel of the module self-update (`cloud.md` §4.7) has its own forms of
//! the same reports ([`write_resource_report`]). A report is written
//! straight into the caller's buffer (normally the MQTT transmit buffer,
//! where the PUBLISH payload goes), so it is never staged elsewhere.

use core::fmt;

/// A report to publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Report {
    /// The current MCU version (QoS1).
    Version,
    /// Download progress in percent (QoS0).
    Progress(u8),
    /// The image was downloaded and its MD5 matched (QoS1).
    Done,
    /// The update failed for good (QoS1).
    Fail(ResultCode),
}

impl Report {
    /// QoS of the report: progress is QoS0, everything else QoS1.
    #[must_use]
    pub const fn qos(self) -> u8 {
        match self {
            Self::Progress(_) => 0,
            _ => 1,
        }
    }
}

/// `result_code` of a `fail` report (`errors.md` §5).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ResultCode {
    /// `-1`: no HTTP data for 20 s.
    Timeout,
    /// `-2`: HTTP 404.
    NotFound,
    /// `-3`: HTTP 401 or 403.
    Unauthorized,
    /// `-4`: MD5 mismatch.
    Md5Mismatch,
    /// `-5`: any other failure.
    Other,
}

impl ResultCode {
    /// The `result_code` literal.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::Timeout => "-1",
            Self::NotFound => "-2",
            Self::Unauthorized => "-3",
            Self::Md5Mismatch => "-4",
            Self::Other => "-5",
        }
    }

    /// The `result_msg` literal (`time_out` for everything but MD5, as the original).
    #[must_use]
    pub const fn message(self) -> &'static str {
        match self {
            Self::Md5Mismatch => "MD5_not_match",
            _ => "time_out",
        }
    }
}

/// The output buffer is too small for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BufferTooSmall;

impl fmt::Display for BufferTooSmall {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("report buffer too small")
    }
}

impl core::error::Error for BufferTooSmall {}

/// Longest report: the progress report with a 32-byte version whose every
/// byte needs a six-byte `\u00XX` escape.
pub const MAXIMUM_REPORT_LENGTH: usize = 150 + 32 * 6;

/// Writes `report` for `version` to the front of `out`; returns its length.
///
/// `version` is the MCU version for [`Report::Version`] and the version being
/// downloaded for the others. It is JSON-escaped (`"`, `\` and control bytes).
///
/// # Errors
///
/// [`BufferTooSmall`] when `out` cannot hold the report; a buffer of
/// [`MAXIMUM_REPORT_LENGTH`] always can.
pub fn write_report(
    report: Report,
    version: &[u8],
    out: &mut [u8],
) -> Result<usize, BufferTooSmall> {
    let mut writer = Writer { out, length: 0 };
    match report {
        Report::Version => {
            writer.text("{\"type\": \"report_version\", \"report\":{\"version\":\"")?;
            writer.escaped(version)?;
            writer.text("\"}}")?;
        }
        Report::Progress(percent) => {
            writer.text("{\"type\": \"report_progress\", \"report\": {\"progress\": {\"state\":\"downloading\", \"percent\":\"")?;
            writer.decimal(percent)?;
            writer.text("\", \"result_code\":\"0\", \"result_msg\":\"\"}, \"version\": \"")?;
            writer.escaped(version)?;
            writer.text("\"}}")?;
        }
        Report::Done => {
            writer.text("{\"type\": \"report_progress\", \"report\":{\"progress\":{\"state\":\"done\", \"result_code\":\"0\", \"result_msg\":\"\"}, \"version\":\"")?;
            writer.escaped(version)?;
            writer.text("\"}}")?;
        }
        Report::Fail(code) => {
            writer.text("{\"type\": \"report_progress\", \"report\": {\"progress\": {\"state\":\"fail\", \"result_code\":\"")?;
            writer.text(code.code())?;
            writer.text("\", \"result_msg\":\"")?;
            writer.text(code.message())?;
            writer.text("\"}, \"version\": \"")?;
            writer.escaped(version)?;
            writer.text("\"}}")?;
        }
    }
    Ok(writer.length)
}

/// Longest resource-channel report: the progress report with a 64-byte
/// resource name and a 32-byte version, both fully escaped.
pub const MAXIMUM_RESOURCE_REPORT_LENGTH: usize = 200 + 96 * 6;

/// Writes `report` in its resource-channel form (`cloud.md` §4.7, published
/// at QoS0 on `$thing/up/service/<pid>/<dn>`) to the front of `out`.
///
/// `resource` is the module's resource name; `version` the module's own
/// firmware version for [`Report::Version`] (the `resource_list` report) and
/// the version being downloaded for the others. The payloads are the §4.2
/// ones with `"method"` for `"type"`, the resource name first in
/// `"progress"`, and `report_result` for the final result.
///
/// # Errors
///
/// [`BufferTooSmall`] when `out` cannot hold the report.
pub fn write_resource_report(
    report: Report,
    resource: &[u8],
    version: &[u8],
    out: &mut [u8],
) -> Result<usize, BufferTooSmall> {
    let mut writer = Writer { out, length: 0 };
    if report == Report::Version {
        writer.text(
            "{\"method\":\"report_version\",\"report\":{\"resource_list\":[{\"resource_name\":\"",
        )?;
        writer.escaped(resource)?;
        writer.text("\",\"version\":\"")?;
        writer.escaped(version)?;
        writer.text("\",\"resource_type\":\"FILE\"}]}}")?;
        return Ok(writer.length);
    }
    let (method, space) = match report {
        Report::Progress(_) => ("report_progress", " "),
        Report::Done => ("report_result", ""),
        _ => ("report_result", " "),
    };
    writer.text("{\"method\": \"")?;
    writer.text(method)?;
    writer.text("\", \"report\":")?;
    writer.text(space)?;
    writer.text("{\"progress\":")?;
    writer.text(space)?;
    writer.text("{\"resource_name\":\"")?;
    writer.escaped(resource)?;
    writer.text("\", ")?;
    match report {
        Report::Progress(percent) => {
            writer.text("\"state\":\"downloading\", \"percent\":\"")?;
            writer.decimal(percent)?;
            writer.text("\", \"result_code\":\"0\", \"result_msg\":\"\"}, \"version\": \"")?;
        }
        Report::Fail(code) => {
            writer.text("\"state\":\"fail\", \"result_code\":\"")?;
            writer.text(code.code())?;
            writer.text("\", \"result_msg\":\"")?;
            writer.text(code.message())?;
            writer.text("\"}, \"version\": \"")?;
        }
        _ => writer.text(
            "\"state\":\"done\", \"result_code\":\"0\", \"result_msg\":\"\"}, \"version\":\"",
        )?,
    }
    writer.escaped(version)?;
    writer.text("\"}}")?;
    Ok(writer.length)
}

struct Writer<'o> {
    out: &'o mut [u8],
    length: usize,
}

impl Writer<'_> {
    fn bytes(&mut self, bytes: &[u8]) -> Result<(), BufferTooSmall> {
        let end = self.length + bytes.len();
        self.out
            .get_mut(self.length..end)
            .ok_or(BufferTooSmall)?
            .copy_from_slice(bytes);
        self.length = end;
        Ok(())
    }

    fn text(&mut self, text: &str) -> Result<(), BufferTooSmall> {
        self.bytes(text.as_bytes())
    }

    fn decimal(&mut self, value: u8) -> Result<(), BufferTooSmall> {
        let digits = [
            b'0' + value / 100,
            b'0' + value / 10 % 10,
            b'0' + value % 10,
        ];
        let skip = if value >= 100 {
            0
        } else if value >= 10 {
            1
        } else {
            2
        };
        self.bytes(&digits[skip..])
    }

    fn escaped(&mut self, text: &[u8]) -> Result<(), BufferTooSmall> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for &byte in text {
            match byte {
                b'"' | b'\\' => self.bytes(&[b'\\', byte])?,
                0x00..=0x1F => self.bytes(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(byte >> 4)],
                    HEX[usize::from(byte & 0x0F)],
                ])?,
                _ => self.bytes(&[byte])?,
            }
        }
        Ok(())
    }
}
