//! The send path of the record layer: one record written in pieces from plaintext that stays
//! where its owner keeps it.
//!
//! Why no write buffer: the owner's bytes (an MQTT session's transmit buffer, shared with
//! other tasks) cannot be borrowed across the transport's awaits, and a buffer of one whole
//! sealed record would be a second copy of them kept for as long as the connection lives.
//! So a record leaves in pieces of at most [`PIECE`] bytes: its header and explicit IV, then
//! its whole plaintext blocks, each piece copied from the owner ([`Plaintext::lend`], a
//! short borrow) and CBC-encrypted chained on the block before it, then its last partial
//! block with the MAC (computed over the lent plaintext) and the padding, at most
//! 15 + 20 + 16 = 48 bytes. The record on the wire is byte for byte the one
//! [`CipherState::seal`] makes at once; only the transport sees more, smaller writes.

use core::future::Future;

use embedded_io::ErrorKind;
use embedded_io_async::{Read, Write};
use rand_core::{CryptoRng, RngCore};

use super::{SessionState, TlsConnection};
use crate::error::Error;
use crate::record::{
    write_record_header, CipherState, ContentType, BLOCK_LENGTH, HEADER_LENGTH, MAC_LENGTH,
    MAX_PLAINTEXT_LENGTH, PLAINTEXT_OFFSET,
};

/// The largest piece of a record written at once: whole blocks, and room for the last
/// partial block with the MAC and the padding (at most 48 bytes) and for the header with the
/// IV (21 bytes).
const PIECE: usize = 4 * BLOCK_LENGTH;
const _: () = assert!(PIECE >= (BLOCK_LENGTH - 1 + MAC_LENGTH + 1).div_ceil(BLOCK_LENGTH) * 16);
const _: () = assert!(PIECE >= PLAINTEXT_OFFSET && PIECE.is_multiple_of(BLOCK_LENGTH));

/// The plaintext of an outgoing record, lent by its owner where it keeps it
/// ([`TlsConnection::send_from`](super::TlsConnection::send_from)); `[u8]` is one.
pub trait Plaintext {
    /// Calls `reader` with the bytes: the record's plaintext is their start, and it must be
    /// the same at every call until the send returned (it is read in pieces, around the
    /// transport's awaits). Fewer bytes than the record fail the send
    /// (`Error::Io(ErrorKind::InvalidInput)`), they are never read out of bounds.
    fn lend<T>(&self, reader: impl FnOnce(&[u8]) -> T) -> T;
}

impl Plaintext for [u8] {
    fn lend<T>(&self, reader: impl FnOnce(&[u8]) -> T) -> T {
        reader(self)
    }
}

/// Copies `piece.len()` bytes of the lent plaintext from `offset` into `piece`.
fn copy_piece<P: Plaintext + ?Sized>(
    source: &P,
    offset: usize,
    piece: &mut [u8],
) -> Result<(), Error> {
    source.lend(|bytes| {
        let lent = bytes
            .get(offset..offset + piece.len())
            .ok_or(Error::Io(ErrorKind::InvalidInput))?;
        piece.copy_from_slice(lent);
        Ok(())
    })
}

/// How far a record being sent has come.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Header,
    /// Plaintext bytes (whole blocks when sealed) up to `done` are written; a sealed record
    /// ends with its last partial block, the MAC and the padding.
    Body,
    Done,
}

/// The state of a record between its pieces: kept small, it lies in the send's future.
struct Progress {
    stage: Stage,
    /// Plaintext bytes written (at most 2^14).
    done: u16,
    sequence: u64,
    /// The CBC chain: the IV, then the last block encrypted.
    chain: [u8; BLOCK_LENGTH],
}

/// Puts the next piece of the record into `piece` and returns its length; 0 once the
/// record is written. Synchronous: the owner's bytes are borrowed only in here.
fn next_piece<R: RngCore + CryptoRng, P: Plaintext + ?Sized>(
    encrypter: Option<&mut CipherState>,
    rng: &mut R,
    content_type: ContentType,
    source: &P,
    length: usize,
    progress: &mut Progress,
    piece: &mut [u8; PIECE],
) -> Result<usize, Error> {
    let done = usize::from(progress.done);
    match (progress.stage, encrypter) {
        (Stage::Header, None) => {
            write_record_header(piece, content_type, length);
            progress.stage = Stage::Body;
            Ok(HEADER_LENGTH)
        }
        (Stage::Header, Some(state)) => {
            progress.sequence = state.next_sequence()?;
            let total = CipherState::sealed_length(length);
            write_record_header(piece, content_type, total - HEADER_LENGTH);
            rng.fill_bytes(&mut progress.chain);
            piece[HEADER_LENGTH..PLAINTEXT_OFFSET].copy_from_slice(&progress.chain);
            progress.stage = Stage::Body;
            Ok(PLAINTEXT_OFFSET)
        }
        (Stage::Body, None) if done < length => {
            let count = (length - done).min(PIECE);
            copy_piece(source, done, &mut piece[..count])?;
            progress.done += count as u16;
            Ok(count)
        }
        (Stage::Body, Some(state)) if done < length / BLOCK_LENGTH * BLOCK_LENGTH => {
            let count = (length / BLOCK_LENGTH * BLOCK_LENGTH - done).min(PIECE);
            copy_piece(source, done, &mut piece[..count])?;
            state.encrypt_chained(&mut progress.chain, &mut piece[..count]);
            progress.done += count as u16;
            Ok(count)
        }
        (Stage::Body, Some(state)) => {
            let rest = length - done;
            let last = CipherState::sealed_length(length) - PLAINTEXT_OFFSET - done;
            source.lend(|bytes| {
                let plaintext = bytes
                    .get(..length)
                    .ok_or(Error::Io(ErrorKind::InvalidInput))?;
                piece[..rest].copy_from_slice(&plaintext[done..]);
                let tag = state.record_mac(progress.sequence, content_type, plaintext);
                piece[rest..rest + MAC_LENGTH].copy_from_slice(&tag);
                Ok::<(), Error>(())
            })?;
            piece[rest + MAC_LENGTH..last].fill((last - rest - MAC_LENGTH - 1) as u8);
            state.encrypt_chained(&mut progress.chain, &mut piece[..last]);
            progress.stage = Stage::Done;
            Ok(last)
        }
        _ => {
            progress.stage = Stage::Done;
            Ok(0)
        }
    }
}

impl<'buf, T, R> TlsConnection<'buf, T, R>
where
    T: Read + Write,
    R: RngCore + CryptoRng,
{
    /// Seals the first `length` bytes (at most 2^14) that `source` lends into one
    /// application-data record and sends it; returns `length`.
    ///
    /// The lending form of [`write`](Self::write): a caller whose bytes cannot be borrowed
    /// across an await (they lie in a shared MQTT session) lends them for each piece of the
    /// record with a short borrow ([`Plaintext`]); neither side keeps a copy of the record.
    ///
    /// # Errors
    ///
    /// As [`write`](Self::write); [`Error::RecordOverflow`] when `length` exceeds 2^14,
    /// `Error::Io(ErrorKind::InvalidInput)` when `source` lends fewer bytes.
    ///
    /// # Cancellation Safety
    ///
    /// Not cancel-safe, as [`write`](Self::write).
    // An `async` block with one await, on the transport: the arguments are kept once, and the
    // pieces are made by a plain function, so the future is the piece, the progress and the
    // transport's write. Its owner keeps it in its own for as long as it sends.
    #[allow(clippy::manual_async_fn)]
    pub fn send_from<'f, P: Plaintext + ?Sized>(
        &'f mut self,
        source: &'f P,
        length: usize,
    ) -> impl Future<Output = Result<usize, Error>> + use<'f, 'buf, T, R, P> {
        async move {
            if self.state != SessionState::Open || self.encrypter.is_none() {
                return Err(Error::SessionEnded);
            }
            if length > MAX_PLAINTEXT_LENGTH {
                return Err(Error::RecordOverflow);
            }
            let mut piece = [0u8; PIECE];
            let mut progress = Progress {
                stage: Stage::Header,
                done: 0,
                sequence: 0,
                chain: [0; BLOCK_LENGTH],
            };
            let outcome = 'record: loop {
                let count = match next_piece(
                    self.encrypter.as_mut(),
                    &mut self.rng,
                    ContentType::ApplicationData,
                    source,
                    length,
                    &mut progress,
                    &mut piece,
                ) {
                    Ok(0) => break Ok(length),
                    Ok(count) => count,
                    Err(error) => break Err(error),
                };
                // At most `PIECE` bytes: the offset fits a byte.
                let mut written = 0u8;
                while usize::from(written) < count {
                    match self
                        .transport
                        .write(&piece[usize::from(written)..count])
                        .await
                    {
                        Ok(0) => break 'record Err(Error::Io(ErrorKind::WriteZero)),
                        Ok(sent) => written += sent as u8,
                        Err(error) => {
                            break 'record Err(Error::Io(embedded_io::Error::kind(&error)))
                        }
                    }
                }
            };
            if outcome.is_err() {
                self.state = SessionState::Ended;
            }
            outcome
        }
    }
}
