//! The HTTP side of one registration, over the workspace's HTTP reader
//! (`ota::http::Response`), and the transport-failure codes of
//! `commands.md` §1 step 8.

use core::fmt;
use ota::http::{HttpError, Piece, Response};

/// No response byte for this long fails with -11 (`cloud.md` §5).
pub const READ_TIMEOUT_MS: u64 = 5_000;
/// Longest reply body accepted (`cloud.md` §5).
pub const MAXIMUM_BODY: usize = 5 * 1024;

/// Why the exchange failed before a complete reply body, each with exactly
/// one SDK code (`errors.md` §3).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TransportFailure {
    /// DNS failure, or no network while the host is a name: -602.
    NameNotResolved,
    /// TCP connect refused, unreachable or timed out: -603.
    ConnectFailed,
    /// HTTPS: server certificate not trusted or wrong host name: -702.
    CertificateRejected,
    /// HTTPS: TLS alert or no common cipher suite: -703.
    HandshakeFailed,
    /// HTTPS: handshake not finished within 5 s: -704.
    HandshakeTimeout,
    /// The peer closed before a complete response: -3.
    ClosedEarly,
    /// A status other than 200: 401/403 → -9, 404 → -10, others → -4.
    Status(u16),
    /// The response breaks HTTP/1.1 (or uses a content coding): -5.
    Malformed,
    /// No response data within [`READ_TIMEOUT_MS`]: -11.
    ReadTimeout,
    /// The body exceeds [`MAXIMUM_BODY`] or the caller's buffer: treated as
    /// a malformed reply body, -1001.
    BodyTooLarge,
}

impl TransportFailure {
    /// The `+TCDEVREG:FAIL,<code>` value.
    #[must_use]
    pub const fn code(self) -> i32 {
        match self {
            Self::NameNotResolved => -602,
            Self::ConnectFailed => -603,
            Self::CertificateRejected => -702,
            Self::HandshakeFailed => -703,
            Self::HandshakeTimeout => -704,
            Self::ClosedEarly => -3,
            Self::Status(401 | 403) => -9,
            Self::Status(404) => -10,
            Self::Status(_) => -4,
            Self::Malformed => -5,
            Self::ReadTimeout => -11,
            Self::BodyTooLarge => super::GENERIC_FAILURE,
        }
    }
}

impl fmt::Display for TransportFailure {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NameNotResolved => formatter.write_str("registration host not resolvable"),
            Self::ConnectFailed => formatter.write_str("registration TCP connect failed"),
            Self::CertificateRejected => formatter.write_str("registration server not trusted"),
            Self::HandshakeFailed => formatter.write_str("registration TLS handshake failed"),
            Self::HandshakeTimeout => formatter.write_str("registration TLS handshake timed out"),
            Self::ClosedEarly => formatter.write_str("registration reply cut short"),
            Self::Status(status) => write!(formatter, "registration HTTP status {status}"),
            Self::Malformed => formatter.write_str("malformed registration HTTP response"),
            Self::ReadTimeout => formatter.write_str("no registration reply within 5 s"),
            Self::BodyTooLarge => formatter.write_str("registration reply body too large"),
        }
    }
}

impl core::error::Error for TransportFailure {}

/// What one [`Exchange::feed`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// All input consumed; the reply is not complete yet.
    Pending,
    /// The body is complete: its first `body_length` bytes are in the
    /// caller's body buffer. Close the connection and call
    /// [`super::decode_reply`].
    Complete {
        /// Body bytes collected.
        body_length: usize,
    },
}

/// The client side of one `POST /register/dev`, from the moment the request
/// was written: it reads the response and collects the body into the
/// caller's buffer (each call gets the same buffer).
#[derive(Debug, Clone)]
pub struct Exchange {
    response: Response,
    body_length: u16,
    last_data_ms: u64,
}

impl Exchange {
    /// An exchange whose request was sent at `now_ms`.
    #[must_use]
    pub const fn new(now_ms: u64) -> Self {
        Self {
            response: Response::new(),
            body_length: 0,
            last_data_ms: now_ms,
        }
    }

    /// When [`Exchange::check_timeout`] fails if no byte arrives before.
    #[must_use]
    pub const fn deadline_ms(&self) -> u64 {
        self.last_data_ms + READ_TIMEOUT_MS
    }

    /// Fails with [`TransportFailure::ReadTimeout`] once the deadline passed.
    ///
    /// # Errors
    ///
    /// [`TransportFailure::ReadTimeout`].
    pub const fn check_timeout(&self, now_ms: u64) -> Result<(), TransportFailure> {
        if now_ms >= self.deadline_ms() {
            Err(TransportFailure::ReadTimeout)
        } else {
            Ok(())
        }
    }

    /// Consumes `input`, received at `now_ms`, collecting body bytes into
    /// `body`.
    ///
    /// # Errors
    ///
    /// A [`TransportFailure`]; the exchange is then over.
    pub fn feed(
        &mut self,
        mut input: &[u8],
        now_ms: u64,
        body: &mut [u8],
    ) -> Result<Progress, TransportFailure> {
        if !input.is_empty() {
            self.last_data_ms = now_ms;
        }
        while !input.is_empty() && !self.response.is_done() {
            let (used, piece) = self.response.feed(input).map_err(map_http)?;
            input = &input[used..];
            match piece {
                Piece::Head(head) if head.encoded => return Err(TransportFailure::Malformed),
                Piece::Head(head) if head.status != 200 => {
                    return Err(TransportFailure::Status(head.status))
                }
                Piece::Body(bytes) => self.collect(bytes, body)?,
                Piece::Head(_) | Piece::Nothing | Piece::End => {}
            }
        }
        Ok(self.progress())
    }

    /// The peer closed the connection.
    ///
    /// # Errors
    ///
    /// [`TransportFailure::ClosedEarly`] unless the body ended by its
    /// framing or is delimited by the close.
    pub fn closed(&mut self) -> Result<usize, TransportFailure> {
        self.response
            .closed()
            .map_err(|_| TransportFailure::ClosedEarly)?;
        Ok(usize::from(self.body_length))
    }

    fn collect(&mut self, bytes: &[u8], body: &mut [u8]) -> Result<(), TransportFailure> {
        let start = usize::from(self.body_length);
        let end = start + bytes.len();
        if end > MAXIMUM_BODY {
            return Err(TransportFailure::BodyTooLarge);
        }
        body.get_mut(start..end)
            .ok_or(TransportFailure::BodyTooLarge)?
            .copy_from_slice(bytes);
        self.body_length = end as u16;
        Ok(())
    }

    fn progress(&self) -> Progress {
        if self.response.is_done() {
            Progress::Complete {
                body_length: usize::from(self.body_length),
            }
        } else {
            Progress::Pending
        }
    }
}

fn map_http(error: HttpError) -> TransportFailure {
    match error {
        HttpError::Truncated => TransportFailure::ClosedEarly,
        HttpError::Stalled => TransportFailure::ReadTimeout,
        HttpError::Status(status) => TransportFailure::Status(status),
        _ => TransportFailure::Malformed,
    }
}
