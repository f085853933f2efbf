//! The one HTTP/1.1 client of the workspace, sans-IO.
//!
//! [`Response`] reads any response as a stream (head, then body slices);
//! [`RangeDownload`] adds the OTA rules of `cloud.md` §4.5 on top: the
//! status check, skipping the prefix a server that ignored `Range` sends
//! again, the end at the file size and the 20 s stall. Requests are written
//! by [`write_range_request`], or handed out by [`range_request_parts`] as
//! the pieces to write where the URL lies; the POST of dynamic registration
//! (`cloud.md` §5) by [`write_post_head`], and its response is read with the
//! same [`Response`].

mod chunked;
mod download;
mod request;
mod response;

use core::fmt;

pub use download::{Chunk, RangeDownload, STALL_TIMEOUT_MS};
pub use request::{
    range_request_parts, write_post_head, write_range_request, RequestDigits, Url, UrlError,
    REQUEST_OVERHEAD,
};
pub use response::{Head, Piece, Response};

/// Why an HTTP exchange failed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum HttpError {
    /// The response breaks HTTP/1.1 syntax.
    Malformed,
    /// A status the client does not accept (3xx, 1xx, 4xx, 5xx, or a 206
    /// whose `Content-Range` does not start at the requested offset).
    Status(u16),
    /// A `Content-Encoding` other than `identity`, or a transfer coding
    /// other than `chunked`.
    UnsupportedEncoding,
    /// The connection closed, or the body ended, before the last byte.
    Truncated,
    /// No data for [`STALL_TIMEOUT_MS`].
    Stalled,
}

impl fmt::Display for HttpError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed => formatter.write_str("malformed HTTP response"),
            Self::Status(status) => write!(formatter, "HTTP status {status}"),
            Self::UnsupportedEncoding => formatter.write_str("unsupported HTTP encoding"),
            Self::Truncated => formatter.write_str("HTTP body cut short"),
            Self::Stalled => formatter.write_str("no HTTP data for 20 s"),
        }
    }
}

impl core::error::Error for HttpError {}
