//! Dynamic registration (`cloud.md` §5): the signed request, the encrypted
//! reply and the HTTP exchange between them.
//!
//! Everything here is a pure function or a sans-IO state machine: the caller
//! owns the socket (plain TCP or TLS), the clock, the random nonce and every
//! buffer. The request is written into the caller's transmit buffer, the
//! reply body is collected into the caller's receive buffer and decrypted in
//! a caller's scratch buffer, so the state kept across waits is only the HTTP
//! reader ([`Exchange`]).

mod exchange;
mod reply;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use ota::http::{write_post_head, Url};
use ota::BufferTooSmall;
use sha1::Sha1;

pub use exchange::{Exchange, Progress, TransportFailure, MAXIMUM_BODY, READ_TIMEOUT_MS};
pub use reply::{decode_reply, Credential, ReplyError};

/// Path of the registration endpoint.
pub const PATH: &str = "/register/dev";
/// Length of the signature: Base64 of the 40 hex digits of an HMAC-SHA1.
pub const SIGNATURE_LENGTH: usize = 56;
/// A product secret shorter than this fails with -1001 before anything is
/// sent (`commands.md` §1 step 6): its first 16 bytes are the AES key.
pub const MINIMUM_PRODUCT_SECRET: usize = 16;
/// The SDK code of a local registration failure (`errors.md` §3).
pub const GENERIC_FAILURE: i32 = -1001;

const ACCEPT: &[u8] = b"text/xml,application/json;*/*";
/// The original's content type, kept although the body is JSON.
const CONTENT_TYPE: &[u8] = b"application/x-www-form-urlencoded";

/// The product record fields a registration signs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Product<'a> {
    /// Product id.
    pub product_id: &'a [u8],
    /// Device name to register.
    pub device_name: &'a [u8],
    /// Product secret (ASCII, as entered with AT+TCPRDINFOSET).
    pub product_secret: &'a [u8],
}

impl core::fmt::Debug for Product<'_> {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The product secret is left out: Debug output ends up in logs.
        formatter
            .debug_struct("Product")
            .field("product_id", &self.product_id)
            .field("device_name", &self.device_name)
            .finish_non_exhaustive()
    }
}

/// The signature of `cloud.md` §5: Base64 of the lowercase hex HMAC-SHA1,
/// keyed with the product secret, of
/// `deviceName=<dn>&nonce=<nonce>&productId=<pid>&timestamp=<t>`. The
/// string is fed to the MAC piece by piece, never assembled.
#[must_use]
pub fn sign(product: &Product<'_>, nonce: u32, timestamp: u64) -> [u8; SIGNATURE_LENGTH] {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(product.product_secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    let mut digits = [0u8; 20];
    mac.update(b"deviceName=");
    mac.update(product.device_name);
    mac.update(b"&nonce=");
    mac.update(decimal(u64::from(nonce), &mut digits));
    mac.update(b"&productId=");
    mac.update(product.product_id);
    mac.update(b"&timestamp=");
    mac.update(decimal(timestamp, &mut digits));
    let digest = mac.finalize().into_bytes();
    let mut hex = [0u8; 40];
    for (index, byte) in digest.iter().enumerate() {
        hex[2 * index] = HEX[usize::from(byte >> 4)];
        hex[2 * index + 1] = HEX[usize::from(byte & 0x0F)];
    }
    let mut signature = [0u8; SIGNATURE_LENGTH];
    base64::engine::general_purpose::STANDARD
        .encode_slice(hex, &mut signature)
        .unwrap_or_else(|_| unreachable!("40 bytes encode to exactly 56"));
    signature
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes the whole request of `cloud.md` §5 (head and JSON body) for the
/// endpoint `url` to the front of `out`; returns its length.
///
/// `nonce` must be 1..=2147483647 (the caller's random source), `timestamp`
/// the current UTC seconds. The device name and product id are sent as they
/// are signed; a `"` or `\` in them (which the cloud's names never contain)
/// is escaped in the JSON so the body stays well-formed.
///
/// # Errors
///
/// [`BufferTooSmall`] when `out` cannot hold the request (about 200 bytes
/// plus the host, device name and product id).
pub fn write_request(
    product: &Product<'_>,
    nonce: u32,
    timestamp: u64,
    url: &Url<'_>,
    out: &mut [u8],
) -> Result<usize, BufferTooSmall> {
    let signature = sign(product, nonce, timestamp);
    let body_length = write_body(product, nonce, timestamp, &signature, &mut Counter)?;
    let head_length = write_post_head(url, ACCEPT, CONTENT_TYPE, body_length as u32, out)?;
    let mut sink = Slice {
        out: out.get_mut(head_length..).ok_or(BufferTooSmall)?,
        length: 0,
    };
    write_body(product, nonce, timestamp, &signature, &mut sink)?;
    Ok(head_length + body_length)
}

/// Where the body goes: counted first (for `Content-Length`), then written.
trait Sink {
    fn put(&mut self, bytes: &[u8]) -> Result<(), BufferTooSmall>;
}

struct Counter;

impl Sink for Counter {
    fn put(&mut self, _: &[u8]) -> Result<(), BufferTooSmall> {
        Ok(())
    }
}

struct Slice<'a> {
    out: &'a mut [u8],
    length: usize,
}

impl Sink for Slice<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), BufferTooSmall> {
        let end = self.length + bytes.len();
        self.out
            .get_mut(self.length..end)
            .ok_or(BufferTooSmall)?
            .copy_from_slice(bytes);
        self.length = end;
        Ok(())
    }
}

/// The JSON body, keys in the original's order; returns its length.
fn write_body(
    product: &Product<'_>,
    nonce: u32,
    timestamp: u64,
    signature: &[u8; SIGNATURE_LENGTH],
    sink: &mut impl Sink,
) -> Result<usize, BufferTooSmall> {
    let mut length = 0;
    let mut put = |bytes: &[u8]| {
        length += bytes.len();
        sink.put(bytes)
    };
    let mut digits = [0u8; 20];
    put(b"{\"deviceName\":\"")?;
    put_escaped(product.device_name, &mut put)?;
    put(b"\",\"nonce\":")?;
    put(decimal(u64::from(nonce), &mut digits))?;
    put(b",\"productId\":\"")?;
    put_escaped(product.product_id, &mut put)?;
    put(b"\",\"timestamp\":")?;
    put(decimal(timestamp, &mut digits))?;
    put(b",\"signature\":\"")?;
    put(signature)?;
    put(b"\"}")?;
    Ok(length)
}

fn put_escaped(
    text: &[u8],
    put: &mut impl FnMut(&[u8]) -> Result<(), BufferTooSmall>,
) -> Result<(), BufferTooSmall> {
    for piece in text.split_inclusive(|byte| matches!(byte, b'"' | b'\\')) {
        match piece.split_last() {
            Some((&last, before)) if matches!(last, b'"' | b'\\') => {
                put(before)?;
                put(&[b'\\', last])?;
            }
            _ => put(piece)?,
        }
    }
    Ok(())
}

/// Formats `value` into the end of `digits`, returning the used part.
pub(crate) fn decimal(mut value: u64, digits: &mut [u8; 20]) -> &[u8] {
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
