//! The exact bytes of the gateway commands' own lines (`commands.md` §10).
//!
//! The engine prints `OK`, `[OK]` and the `+CME ERROR` lines itself; these
//! are the lines only the gateway commands have, written into the caller's
//! buffer.

use crate::command::Outcome;
use crate::request::{decimal, BufferTooSmall, Operation, Writer};
use crate::subdevice::{SubDevice, MAXIMUM_DEVICE_NAME, MAXIMUM_PRODUCT_ID};

/// `AT+TCGWBIND=?` before `[OK]`.
pub const BIND_TEST_RESPONSE: &[u8] =
    b"+TCGWBIND:\"MODE\",\"PRODUCT_ID\",\"DEVICE_NAME\",\"DEVICE_SECRET\"\r\n";
/// `AT+TCGWONLINE=?` before `[OK]`.
pub const ONLINE_TEST_RESPONSE: &[u8] = b"+TCGWONLINE:\"MODE\",\"PRODUCT_ID\",\"DEVICE_NAME\"\r\n";
/// Longest line of [`write_online_entry`].
pub const MAXIMUM_ONLINE_ENTRY: usize =
    b"+TCGWONLINE:\",\"\r\n".len() + MAXIMUM_PRODUCT_ID + MAXIMUM_DEVICE_NAME;
/// Longest line of [`write_result`] (`+TCGWONLINE:FAIL,-2147483648\r\n`).
pub const MAXIMUM_RESULT_LINE: usize = 32;

/// The command a gateway operation belongs to, with its colon.
const fn prefix(operation: Operation) -> &'static [u8] {
    match operation {
        Operation::Bind | Operation::Unbind => b"+TCGWBIND:",
        Operation::Online | Operation::Offline => b"+TCGWONLINE:",
    }
}

/// Writes `+TCGWBIND:OK\r\n`, `+TCGWONLINE:FAIL,-224\r\n`, …; returns the
/// length.
///
/// # Errors
/// [`BufferTooSmall`].
pub fn write_result(
    operation: Operation,
    outcome: Outcome,
    out: &mut [u8],
) -> Result<usize, BufferTooSmall> {
    let mut writer = Writer::new(out);
    writer.put(prefix(operation))?;
    match outcome {
        Outcome::Ok => writer.put(b"OK")?,
        Outcome::Fail(code) => {
            writer.put(b"FAIL,")?;
            if code < 0 {
                writer.put(b"-")?;
            }
            let mut scratch = [0u8; 20];
            writer.put(decimal(u64::from(code.unsigned_abs()), &mut scratch))?;
        }
    }
    writer.put(b"\r\n")?;
    Ok(writer.length)
}

/// Writes one `AT+TCGWONLINE?` line: `+TCGWONLINE:"<pid>,<dn>"\r\n`, both in
/// one pair of quotes as the original prints them; returns the length.
///
/// # Errors
/// [`BufferTooSmall`].
pub fn write_online_entry(subdevice: &SubDevice, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    let mut writer = Writer::new(out);
    writer.put(b"+TCGWONLINE:\"")?;
    writer.put(subdevice.product_id())?;
    writer.put(b",")?;
    writer.put(subdevice.device_name())?;
    writer.put(b"\"\r\n")?;
    Ok(writer.length)
}
