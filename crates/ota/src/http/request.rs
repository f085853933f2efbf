//! URLs and the GET request of `cloud.md` §4.5.

use core::fmt;

use crate::report::BufferTooSmall;

/// An `http://` or `https://` URL, as views into the caller's copy of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Url<'a> {
    /// `https://`.
    pub secure: bool,
    /// Host name or IPv4 literal, as written in the URL.
    pub host: &'a [u8],
    /// Port: the URL's, or 80/443 by scheme.
    pub port: u16,
    /// Path and query (`/` when the URL has no path); a fragment is dropped.
    pub target: &'a [u8],
}

/// Why a URL is unusable.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum UrlError {
    /// Not `http://` or `https://` (any case).
    Scheme,
    /// Empty host, user information, or an IPv6 literal (unsupported).
    Host,
    /// A port that is not 1..=65535.
    Port,
}

impl fmt::Display for UrlError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::Scheme => "URL scheme is not http or https",
            Self::Host => "URL host missing or unsupported",
            Self::Port => "URL port invalid",
        })
    }
}

impl core::error::Error for UrlError {}

impl<'a> Url<'a> {
    /// Splits `url` into its parts; `%xx` escapes stay as they are, because
    /// the request sends the path exactly as received (`cloud.md` §4.3).
    ///
    /// # Errors
    ///
    /// The first [`UrlError`] found.
    pub fn parse(url: &'a [u8]) -> Result<Self, UrlError> {
        let (secure, rest) = if starts_with_ignoring_case(url, b"https://") {
            (true, &url[8..])
        } else if starts_with_ignoring_case(url, b"http://") {
            (false, &url[7..])
        } else {
            return Err(UrlError::Scheme);
        };
        let authority_end = rest
            .iter()
            .position(|byte| matches!(byte, b'/' | b'?' | b'#'))
            .unwrap_or(rest.len());
        let (authority, after) = rest.split_at(authority_end);
        if authority.contains(&b'@') || authority.first() == Some(&b'[') {
            return Err(UrlError::Host);
        }
        let (host, port) = match authority.iter().position(|&byte| byte == b':') {
            Some(colon) => (&authority[..colon], parse_port(&authority[colon + 1..])?),
            None => (authority, if secure { 443 } else { 80 }),
        };
        if host.is_empty() {
            return Err(UrlError::Host);
        }
        let target_end = after
            .iter()
            .position(|&byte| byte == b'#')
            .unwrap_or(after.len());
        let target = match &after[..target_end] {
            [] => b"/".as_slice(),
            target => target,
        };
        Ok(Self {
            secure,
            host,
            port,
            target,
        })
    }

    /// The same URL over plain HTTP on port 80: how boards without
    /// certificate TLS fetch `https://` URLs (`cloud.md` §4.5).
    #[must_use]
    pub fn downgraded(self) -> Self {
        if self.secure {
            Self {
                secure: false,
                port: 80,
                ..self
            }
        } else {
            self
        }
    }

    /// Whether the port is the scheme's default (the `Host` header then
    /// carries no port).
    #[must_use]
    pub fn has_default_port(&self) -> bool {
        self.port == if self.secure { 443 } else { 80 }
    }
}

fn starts_with_ignoring_case(text: &[u8], prefix: &[u8]) -> bool {
    text.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

fn parse_port(digits: &[u8]) -> Result<u16, UrlError> {
    if digits.is_empty() || digits.len() > 5 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(UrlError::Port);
    }
    let value = digits
        .iter()
        .fold(0u32, |value, digit| value * 10 + u32::from(digit - b'0'));
    match u16::try_from(value) {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(UrlError::Port),
    }
}

/// Length of the request apart from the target and host: the fixed header
/// lines, a five-digit port and two ten-digit range bounds.
pub const REQUEST_OVERHEAD: usize = 190;

/// The decimal digits a range request's parts point into: the port and the
/// two range bounds.
#[derive(Debug, Default)]
pub struct RequestDigits {
    port: [u8; 10],
    offset: [u8; 10],
    size: [u8; 10],
}

/// The GET request of `cloud.md` §4.5 for bytes `offset..size` of `url`, as
/// the parts it is made of, in order (the port's two parts are empty when it
/// is the scheme's default). The target and host parts are views into the
/// URL: a caller that writes the parts one after the other needs no buffer of
/// the request's size, and the URL stays where it is. The range end is the
/// size (one past the last byte), exactly as the original sends it.
pub fn range_request_parts<'a>(
    url: &Url<'a>,
    offset: u32,
    size: u32,
    digits: &'a mut RequestDigits,
) -> [&'a [u8]; 12] {
    let (colon, port): (&[u8], &[u8]) = if url.has_default_port() {
        (b"", b"")
    } else {
        (b":", decimal(u32::from(url.port), &mut digits.port))
    };
    [
        b"GET ",
        url.target,
        b" HTTP/1.1\r\nHost: ",
        url.host,
        colon,
        port,
        b"\r\nAccept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n",
        b"Accept-Encoding: gzip, deflate\r\nRange: bytes=",
        decimal(offset, &mut digits.offset),
        b"-",
        decimal(size, &mut digits.size),
        b"\r\n\r\n",
    ]
}

/// Writes the request of [`range_request_parts`] to the front of `out`;
/// returns its length.
///
/// # Errors
///
/// [`BufferTooSmall`] when `out` is shorter than the request (at most
/// [`REQUEST_OVERHEAD`] plus the target and host lengths).
pub fn write_range_request(
    url: &Url<'_>,
    offset: u32,
    size: u32,
    out: &mut [u8],
) -> Result<usize, BufferTooSmall> {
    let mut digits = RequestDigits::default();
    let mut head = Head::new(out);
    for part in range_request_parts(url, offset, size, &mut digits) {
        head.put(part)?;
    }
    Ok(head.length)
}

/// A request head being written to the front of a caller's buffer.
struct Head<'a> {
    out: &'a mut [u8],
    length: usize,
}

impl<'a> Head<'a> {
    fn new(out: &'a mut [u8]) -> Self {
        Head { out, length: 0 }
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), BufferTooSmall> {
        let end = self.length + bytes.len();
        self.out
            .get_mut(self.length..end)
            .ok_or(BufferTooSmall)?
            .copy_from_slice(bytes);
        self.length = end;
        Ok(())
    }

    /// `<method><target> HTTP/1.1`, then `Host:` with the port when it is not the scheme's
    /// default.
    fn request_line(&mut self, method: &[u8], url: &Url<'_>) -> Result<(), BufferTooSmall> {
        let mut digits = [0u8; 10];
        self.put(method)?;
        self.put(url.target)?;
        self.put(b" HTTP/1.1\r\nHost: ")?;
        self.put(url.host)?;
        if !url.has_default_port() {
            self.put(b":")?;
            self.put(decimal(u32::from(url.port), &mut digits))?;
        }
        Ok(())
    }
}

/// Formats `value` into the end of `digits`, returning the used part.
fn decimal(mut value: u32, digits: &mut [u8; 10]) -> &[u8] {
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            return &digits[start..];
        }
    }
}

/// Writes the head of a POST of a `body_length`-byte body to the front of
/// `out` (`cloud.md` §5: dynamic registration); returns its length. The
/// caller appends the body. Headers, in this order: `Host` (with the port
/// when it is not the scheme's default), `Accept`, `Content-Length`,
/// `Content-Type`.
///
/// # Errors
///
/// [`BufferTooSmall`] when `out` is shorter than the head.
pub fn write_post_head(
    url: &Url<'_>,
    accept: &[u8],
    content_type: &[u8],
    body_length: u32,
    out: &mut [u8],
) -> Result<usize, BufferTooSmall> {
    let mut head = Head::new(out);
    let mut digits = [0u8; 10];
    head.request_line(b"POST ", url)?;
    let mut put = |bytes: &[u8]| head.put(bytes);
    put(b"\r\nAccept: ")?;
    put(accept)?;
    put(b"\r\nContent-Length: ")?;
    put(decimal(body_length, &mut digits))?;
    put(b"\r\nContent-Type: ")?;
    put(content_type)?;
    put(b"\r\n\r\n")?;
    Ok(head.length)
}
