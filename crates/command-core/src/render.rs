//! The only place that knows the wire spelling of results: CR LF, `OK`, `ERROR`, `ERR CODE`,
//! `+CME ERROR`. Handlers describe *what* to answer; this module writes the bytes.
//!
//! A [`Reply`] collects the answer of one block (`at-engine.md` §9) in a fixed buffer; the
//! engine writes the echo and then the answer with the UART held and flushes once, so nothing
//! can be inserted inside the block.

use core::fmt::{self, Write as _};

/// Capacity of one output block's answer: a whole command line while the line waits for the
/// UART (`engine`'s stash: it becomes the echo, which is written ahead of the answer inside the
/// same block), then the longest answer written in one piece, AT+TCDIAG? with every counter at
/// its maximum (252 bytes). AT+TCMQTTSUB?'s list (up to 1.5 KiB) and AT+TCGWONLINE?'s are
/// written one line at a time; the other answers are a few short lines.
#[cfg(not(feature = "certificates"))]
pub const BLOCK_CAPACITY: usize = at_parser::MAX_LINE;
/// Capacity of one output block's answer: AT+TCCERTADD? / AT+TCCERTCHECK? list every stored
/// file in one piece.
#[cfg(feature = "certificates")]
pub const BLOCK_CAPACITY: usize = 2048 - at_parser::MAX_LINE;

/// Engine-level error codes, printed as `ERR CODE:0x01SS0000` (`at-engine.md` §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineError {
    /// `03`: the line does not start with `AT`.
    NotAt = 0x03,
    /// `04`: over-long line, or bytes lost to receive-buffer overflow.
    TooLong = 0x04,
    /// `05`: wrong parameter type.
    Type = 0x05,
    /// `06`: wrong parameter count.
    Count = 0x06,
    /// `07`: invalid value in a basic ESP-AT command.
    Value = 0x07,
    /// `09`: unknown command or form.
    Unsupported = 0x09,
    /// `0a`: a basic command cannot run in the current state.
    State = 0x0a,
    /// `0b`: input queue full (only inside the busy reply).
    Busy = 0x0b,
}

/// The reply to a line the input queue had no room for (after its echo).
pub const BUSY_REPLY: &[u8] = b"ERR CODE:0x010b0000\r\n\r\nbusy p...\r\n";

/// One output block under construction.
#[derive(Default)]
pub struct Reply {
    /// A 16-bit length: the block is at most 2 KiB.
    bytes: heapless::Vec<u8, BLOCK_CAPACITY, u16>,
    overflowed: bool,
}

impl Reply {
    /// An empty block.
    pub const fn new() -> Self {
        Reply {
            bytes: heapless::Vec::new(),
            overflowed: false,
        }
    }

    /// The bytes collected so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether something did not fit (a bug: blocks are sized for the largest answer).
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// Forgets the collected bytes.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.overflowed = false;
    }

    /// Whether nothing was collected.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The block as a buffer of `length` bytes (at most its capacity) for the caller to fill
    /// and then write: AT+TCREADFWDATA's image pieces, which go out between its header and
    /// its final `\r\n` while the block is otherwise empty.
    pub(crate) fn piece(&mut self, length: usize) -> &mut [u8] {
        self.clear();
        let _ = self.bytes.resize_default(length.min(BLOCK_CAPACITY));
        &mut self.bytes
    }

    pub(crate) fn push(&mut self, data: &[u8]) {
        if self.bytes.extend_from_slice(data).is_err() {
            self.overflowed = true;
        }
    }

    /// Echo of a received line, byte for byte (it already ends in CR LF).
    pub fn echo(&mut self, line: &[u8]) {
        self.push(line);
    }

    /// Starts a response line; finish it with [`Line::end`].
    pub fn line(&mut self) -> Line<'_> {
        Line { reply: self }
    }

    /// A response line made of literal text.
    pub fn text_line(&mut self, text: &str) {
        self.line().text(text).end();
    }

    /// `\r\nOK\r\n`, the core-style final result.
    pub fn ok(&mut self) {
        self.push(b"\r\nOK\r\n");
    }

    /// `\r\nERROR\r\n`.
    pub fn error(&mut self) {
        self.push(b"\r\nERROR\r\n");
    }

    /// `ERR CODE:0x01SS0000\r\n\r\nERROR\r\n`, or [`BUSY_REPLY`] for [`EngineError::Busy`].
    pub fn engine_error(&mut self, error: EngineError) {
        if error == EngineError::Busy {
            self.push(BUSY_REPLY);
        } else {
            let _ = write!(Writer(self), "ERR CODE:0x01{:02x}0000\r\n", error as u8);
            self.error();
        }
    }

    /// `+CME ERROR:<n>\r\n`, a Tencent-style final error.
    pub fn cme(&mut self, code: u16) {
        let _ = write!(Writer(self), "+CME ERROR:{code}\r\n");
    }

    /// `OK\r\n`: an asynchronous command was accepted.
    pub fn accepted(&mut self) {
        self.push(b"OK\r\n");
    }

    /// `OK\r\n>\r\n`: a data-mode command was accepted and waits for its payload.
    pub fn data_prompt(&mut self) {
        self.push(b"OK\r\n>\r\n");
    }

    /// `+<name>:OK\r\n`, the success line of an asynchronous command.
    pub fn result_ok(&mut self, name: &str) {
        self.line().text("+").text(name).text(":OK").end();
    }

    /// `+<name>:FAIL,<code>\r\n`.
    pub fn result_fail(&mut self, name: &str, code: i32) {
        self.line()
            .text("+")
            .text(name)
            .text(":FAIL,")
            .int(code)
            .end();
    }

    /// The result of a settings record's write: `:OK`, or `:FAIL,207` when the flash refused
    /// it (`errors.md`: 207, not stored).
    pub fn stored_result(&mut self, name: &str, stored: bool) {
        if stored {
            self.result_ok(name);
        } else {
            self.result_fail(name, 207);
        }
    }
}

struct Writer<'a>(&'a mut Reply);

impl fmt::Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.push(s.as_bytes());
        Ok(())
    }
}

/// A response line being built field by field; bytes are written as they are (no escaping).
#[must_use = "finish the line with end()"]
pub struct Line<'a> {
    reply: &'a mut Reply,
}

impl Line<'_> {
    /// Literal text.
    pub fn text(self, text: &str) -> Self {
        self.reply.push(text.as_bytes());
        self
    }

    /// Raw bytes (SSIDs, product ids: any byte is printed as received).
    pub fn bytes(self, bytes: &[u8]) -> Self {
        self.reply.push(bytes);
        self
    }

    /// Raw bytes between double quotes.
    pub fn quoted(self, bytes: &[u8]) -> Self {
        self.text("\"").bytes(bytes).text("\"")
    }

    /// A decimal integer.
    pub fn int(self, value: impl Into<i64>) -> Self {
        let _ = write!(Writer(self.reply), "{}", value.into());
        self
    }

    /// Formatted text.
    pub fn fmt(self, args: fmt::Arguments<'_>) -> Self {
        let _ = Writer(self.reply).write_fmt(args);
        self
    }

    /// Ends the line with CR LF.
    pub fn end(self) {
        self.reply.push(b"\r\n");
    }
}

/// The decimal `<len>` of a `+TCMQTTRCVPUB` line: at most 4 digits (payloads of ≤ 2048 bytes),
/// 8 leave room for any `usize` the session could report.
pub type MessageLength = heapless::String<8>;

/// The parts of a received message's `+TCMQTTRCVPUB:"<topic>",<len>,"<payload>"` line
/// (`urc.md` §2), written as they lie: the topic and payload stay in the session's receive
/// buffer and `length` receives the decimal `<len>`.
pub fn received_message_parts<'a>(
    topic: &'a [u8],
    payload: &'a [u8],
    length: &'a mut MessageLength,
) -> [&'a [u8]; 7] {
    length.clear();
    let _ = core::fmt::write(length, format_args!("{}", payload.len()));
    [
        b"+TCMQTTRCVPUB:\"",
        topic,
        b"\",",
        length.as_bytes(),
        b",\"",
        payload,
        b"\"\r\n",
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_are_spelled_in_lowercase_hex() {
        let mut reply = Reply::new();
        reply.engine_error(EngineError::State);
        assert_eq!(reply.as_bytes(), b"ERR CODE:0x010a0000\r\n\r\nERROR\r\n");
    }

    #[test]
    fn busy_reply_has_no_error_line() {
        let mut reply = Reply::new();
        reply.engine_error(EngineError::Busy);
        assert_eq!(
            reply.as_bytes(),
            b"ERR CODE:0x010b0000\r\n\r\nbusy p...\r\n"
        );
    }

    #[test]
    fn result_lines_have_a_comma_and_no_space() {
        let mut reply = Reply::new();
        reply.result_fail("TCDEVINFOSET", 207);
        reply.cme(204);
        assert_eq!(
            reply.as_bytes(),
            b"+TCDEVINFOSET:FAIL,207\r\n+CME ERROR:204\r\n"
        );
    }
}
