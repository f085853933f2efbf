//! The TLS record layer: header parsing and the `AES-CBC + HMAC-SHA1` protection of
//! RFC 5246 §6.2.3.2 (MAC-then-encrypt, explicit per-record IV).
//!
//! Everything here is pure: the connection hands in a buffer holding one whole record and
//! gets back a range of plaintext, or hands in plaintext and gets back a sealed record. The
//! decryption check is written so its running time and memory accesses do not depend on
//! the padding bytes (the Vaudenay / Lucky Thirteen family of attacks): padding and MAC are
//! verified together with `subtle`, with one outcome for every failure.

use aes::{Aes128, Aes256};
use cbc::cipher::generic_array::GenericArray;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, BlockSizeUser, KeyIvInit};
use core::ops::Range;
use hmac::{Hmac, Mac};
use sha1::{Digest, Sha1};
use subtle::{ConditionallySelectable, ConstantTimeEq, ConstantTimeLess};

use crate::error::RecordError;

type HmacSha1 = Hmac<Sha1>;

/// Length of a record header: type, version, length.
pub const HEADER_LENGTH: usize = 5;
/// Largest plaintext fragment allowed in one record (RFC 5246 §6.2.1).
pub const MAX_PLAINTEXT_LENGTH: usize = 1 << 14;
/// Largest fragment a peer may send on a protected record (RFC 5246 §6.2.3).
pub const MAX_CIPHERTEXT_LENGTH: usize = MAX_PLAINTEXT_LENGTH + 2048;
/// AES block (and explicit IV) length.
pub const BLOCK_LENGTH: usize = 16;
/// HMAC-SHA1 output length.
pub const MAC_LENGTH: usize = 20;
/// Bytes a protected record adds to its plaintext, at most: header, explicit IV, MAC and up
/// to one block of minimal padding.
pub const MAX_OVERHEAD: usize = HEADER_LENGTH + BLOCK_LENGTH + MAC_LENGTH + BLOCK_LENGTH;
/// Smallest possible protected fragment: IV plus two blocks (MAC and padding-length byte).
const MIN_PROTECTED_FRAGMENT: usize = BLOCK_LENGTH + 2 * BLOCK_LENGTH;
/// The protocol version this client speaks, TLS 1.2.
pub const TLS12: u16 = 0x0303;

/// The record content types of RFC 5246 §6.2.1.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ContentType {
    /// `change_cipher_spec` (20).
    ChangeCipherSpec,
    /// `alert` (21).
    Alert,
    /// `handshake` (22).
    Handshake,
    /// `application_data` (23).
    ApplicationData,
}

impl ContentType {
    /// The wire value of this content type.
    pub const fn value(self) -> u8 {
        match self {
            Self::ChangeCipherSpec => 20,
            Self::Alert => 21,
            Self::Handshake => 22,
            Self::ApplicationData => 23,
        }
    }

    fn from_value(value: u8) -> Option<Self> {
        match value {
            20 => Some(Self::ChangeCipherSpec),
            21 => Some(Self::Alert),
            22 => Some(Self::Handshake),
            23 => Some(Self::ApplicationData),
            _ => None,
        }
    }
}

/// A parsed record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RecordHeader {
    /// What the fragment carries.
    pub content_type: ContentType,
    /// The record-layer version (`0x0301`..=`0x0303`; early records may say TLS 1.0).
    pub version: u16,
    /// Length of the fragment that follows the header.
    pub length: usize,
}

/// Parses the 5-byte header at the start of `bytes`.
///
/// # Errors
///
/// [`RecordError::Incomplete`] when fewer than 5 bytes are given; [`RecordError::Decode`]
/// for an unknown content type or a non-TLS version; [`RecordError::Overflow`] when the
/// announced length exceeds what RFC 5246 allows on any record.
pub fn parse_record_header(bytes: &[u8]) -> Result<RecordHeader, RecordError> {
    let Some(header) = bytes.get(..HEADER_LENGTH) else {
        return Err(RecordError::Incomplete);
    };
    let content_type = ContentType::from_value(header[0]).ok_or(RecordError::Decode)?;
    let version = u16::from_be_bytes([header[1], header[2]]);
    if !(0x0300..=TLS12).contains(&version) {
        return Err(RecordError::Decode);
    }
    let length = usize::from(u16::from_be_bytes([header[3], header[4]]));
    if length > MAX_CIPHERTEXT_LENGTH {
        return Err(RecordError::Overflow);
    }
    Ok(RecordHeader {
        content_type,
        version,
        length,
    })
}

/// Writes a record header for `length` bytes of fragment into `output[..5]`.
pub fn write_record_header(output: &mut [u8], content_type: ContentType, length: usize) {
    output[0] = content_type.value();
    output[1..3].copy_from_slice(&TLS12.to_be_bytes());
    output[3..5].copy_from_slice(&(length as u16).to_be_bytes());
}

/// The bulk cipher negotiated by the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BulkCipher {
    /// AES-128-CBC (`TLS_PSK_WITH_AES_128_CBC_SHA`).
    Aes128,
    /// AES-256-CBC (`TLS_PSK_WITH_AES_256_CBC_SHA`).
    Aes256,
}

impl BulkCipher {
    /// Length of the encryption key.
    pub const fn key_length(self) -> usize {
        match self {
            Self::Aes128 => 16,
            Self::Aes256 => 32,
        }
    }
}

/// The keys and sequence number of one direction of a connection.
///
/// It keeps the raw MAC key, not a keyed HMAC state (two SHA-1 states, 184 bytes a direction):
/// keying costs two SHA-1 blocks per record, and the connection is part of its owner's RAM for
/// as long as the owner lives (`docs/performance.md`).
#[derive(Clone)]
pub struct CipherState {
    cipher: BulkCipher,
    key: [u8; 32],
    mac_key: [u8; MAC_LENGTH],
    sequence: u64,
}

impl CipherState {
    /// Creates the state for one direction; `key` holds at least
    /// [`BulkCipher::key_length`] bytes and `mac_key` the 20-byte MAC key (a shorter one
    /// counts as zero-padded, as HMAC pads it anyway; bytes beyond 20 are ignored).
    pub fn new(cipher: BulkCipher, key: &[u8], mac_key: &[u8]) -> Self {
        let mut stored = [0; 32];
        let length = cipher.key_length();
        stored[..length].copy_from_slice(&key[..length]);
        let mut stored_mac = [0; MAC_LENGTH];
        let mac_length = mac_key.len().min(MAC_LENGTH);
        stored_mac[..mac_length].copy_from_slice(&mac_key[..mac_length]);
        Self {
            cipher,
            key: stored,
            mac_key: stored_mac,
            sequence: 0,
        }
    }

    /// A fresh HMAC-SHA1 keyed with this direction's MAC key.
    fn keyed_mac(&self) -> HmacSha1 {
        // HMAC accepts any key length, so this construction cannot fail.
        <HmacSha1 as hmac::digest::KeyInit>::new_from_slice(&self.mac_key)
            .unwrap_or_else(|_| <HmacSha1 as hmac::digest::KeyInit>::new(&Default::default()))
    }

    /// The bulk cipher of this state.
    pub fn cipher(&self) -> BulkCipher {
        self.cipher
    }

    /// The sequence number the next record will use.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// Bytes a sealed record occupies for `plaintext_length` bytes of plaintext, header
    /// included.
    pub const fn sealed_length(plaintext_length: usize) -> usize {
        let unpadded = plaintext_length + MAC_LENGTH + 1;
        let padded = unpadded.div_ceil(BLOCK_LENGTH) * BLOCK_LENGTH;
        HEADER_LENGTH + BLOCK_LENGTH + padded
    }

    /// Largest plaintext that fits in a record of `buffer_length` bytes (header included).
    pub const fn max_plaintext_for(buffer_length: usize) -> usize {
        let available = buffer_length.saturating_sub(HEADER_LENGTH + BLOCK_LENGTH);
        let blocks = available / BLOCK_LENGTH;
        let capacity = (blocks * BLOCK_LENGTH).saturating_sub(MAC_LENGTH + 1);
        if capacity > MAX_PLAINTEXT_LENGTH {
            MAX_PLAINTEXT_LENGTH
        } else {
            capacity
        }
    }

    /// Seals the plaintext stored at `record[PLAINTEXT_OFFSET..][..plaintext_length]` into a
    /// whole record (header, IV, ciphertext) in place and returns the record's length.
    ///
    /// # Errors
    ///
    /// [`RecordError::Overflow`] when the plaintext exceeds 2^14 bytes or the sealed record
    /// does not fit in `record`; [`RecordError::SequenceExhausted`] after 2^64 - 1 records.
    pub fn seal(
        &mut self,
        content_type: ContentType,
        record: &mut [u8],
        plaintext_length: usize,
        iv: [u8; BLOCK_LENGTH],
    ) -> Result<usize, RecordError> {
        let total = Self::sealed_length(plaintext_length);
        if plaintext_length > MAX_PLAINTEXT_LENGTH || total > record.len() {
            return Err(RecordError::Overflow);
        }
        let sequence = self.next_sequence()?;
        let body_end = PLAINTEXT_OFFSET + plaintext_length;
        let tag = self.record_mac(sequence, content_type, &record[PLAINTEXT_OFFSET..body_end]);
        record[body_end..body_end + MAC_LENGTH].copy_from_slice(&tag);
        let padding_value = (total - body_end - MAC_LENGTH - 1) as u8;
        record[body_end + MAC_LENGTH..total].fill(padding_value);
        write_record_header(record, content_type, total - HEADER_LENGTH);
        record[HEADER_LENGTH..PLAINTEXT_OFFSET].copy_from_slice(&iv);
        let mut chain = iv;
        self.encrypt_chained(&mut chain, &mut record[PLAINTEXT_OFFSET..total]);
        Ok(total)
    }

    /// The MAC of a record of `content_type` with this `sequence` number over `plaintext`
    /// (RFC 5246 §6.2.3.1).
    pub(crate) fn record_mac(
        &self,
        sequence: u64,
        content_type: ContentType,
        plaintext: &[u8],
    ) -> [u8; MAC_LENGTH] {
        let mut mac = self.keyed_mac();
        mac_header(&mut mac, sequence, content_type, plaintext.len());
        mac.update(plaintext);
        mac.finalize().into_bytes().into()
    }

    /// CBC-encrypts whole `blocks` in place, chained on `chain`: the record's IV before its
    /// first piece, afterwards the last block encrypted, so a record can be encrypted in
    /// pieces (`connection/send.rs`) with the same result as at once. A length that is not a
    /// multiple of the block leaves its last partial block as it is.
    pub(crate) fn encrypt_chained(&self, chain: &mut [u8; BLOCK_LENGTH], blocks: &mut [u8]) {
        let whole = blocks.len() / BLOCK_LENGTH * BLOCK_LENGTH;
        let blocks = &mut blocks[..whole];
        // Both key and IV lengths are right by construction: these cannot fail.
        let _ = match self.cipher {
            BulkCipher::Aes128 => cbc::Encryptor::<Aes128>::new_from_slices(&self.key[..16], chain)
                .map(|encryptor| encrypt_blocks(encryptor, blocks)),
            BulkCipher::Aes256 => cbc::Encryptor::<Aes256>::new_from_slices(&self.key, chain)
                .map(|encryptor| encrypt_blocks(encryptor, blocks)),
        };
        if let Some(last) = blocks.last_chunk::<BLOCK_LENGTH>() {
            *chain = *last;
        }
    }

    /// Decrypts and authenticates the fragment of a protected record in place and returns
    /// where the plaintext lies inside `fragment`.
    ///
    /// # Errors
    ///
    /// [`RecordError::BadRecordMac`] for any failure of length, padding or MAC — one
    /// outcome, decided in constant time, so the error reveals nothing about which check
    /// failed; [`RecordError::Overflow`] when the plaintext is longer than 2^14 bytes.
    pub fn open(
        &mut self,
        content_type: ContentType,
        fragment: &mut [u8],
    ) -> Result<Range<usize>, RecordError> {
        let length = fragment.len();
        if length < MIN_PROTECTED_FRAGMENT || !length.is_multiple_of(BLOCK_LENGTH) {
            return Err(RecordError::BadRecordMac);
        }
        let sequence = self.next_sequence()?;
        let (iv, body) = fragment.split_at_mut(BLOCK_LENGTH);
        let decrypted = match self.cipher {
            BulkCipher::Aes128 => cbc::Decryptor::<Aes128>::new_from_slices(&self.key[..16], iv)
                .map(|decryptor| decrypt_blocks(decryptor, body)),
            BulkCipher::Aes256 => cbc::Decryptor::<Aes256>::new_from_slices(&self.key, iv)
                .map(|decryptor| decrypt_blocks(decryptor, body)),
        };
        if decrypted.is_err() {
            return Err(RecordError::BadRecordMac);
        }
        let plaintext_length =
            check_padding_and_mac(self.keyed_mac(), sequence, content_type, body)?;
        if plaintext_length > MAX_PLAINTEXT_LENGTH {
            return Err(RecordError::Overflow);
        }
        Ok(BLOCK_LENGTH..BLOCK_LENGTH + plaintext_length)
    }

    /// The sequence number of the next record, counted as used.
    pub(crate) fn next_sequence(&mut self) -> Result<u64, RecordError> {
        let current = self.sequence;
        // RFC 5246 §6.1 forbids wrapping; renegotiation is unsupported, so the session ends.
        self.sequence = current
            .checked_add(1)
            .ok_or(RecordError::SequenceExhausted)?;
        Ok(current)
    }
}

/// Where the plaintext of an outgoing record starts in the caller's buffer.
pub const PLAINTEXT_OFFSET: usize = HEADER_LENGTH + BLOCK_LENGTH;

/// CBC-encrypts whole blocks in place; `data` is a multiple of the block length.
fn encrypt_blocks<C: BlockEncryptMut + BlockSizeUser>(mut encryptor: C, data: &mut [u8]) {
    for block in data.chunks_exact_mut(C::block_size()) {
        encryptor.encrypt_block_mut(GenericArray::from_mut_slice(block));
    }
}

/// CBC-decrypts whole blocks in place; `data` is a multiple of the block length.
fn decrypt_blocks<C: BlockDecryptMut + BlockSizeUser>(mut decryptor: C, data: &mut [u8]) {
    for block in data.chunks_exact_mut(C::block_size()) {
        decryptor.decrypt_block_mut(GenericArray::from_mut_slice(block));
    }
}

fn mac_header(mac: &mut HmacSha1, sequence: u64, content_type: ContentType, length: usize) {
    mac.update(&sequence.to_be_bytes());
    mac.update(&[content_type.value()]);
    mac.update(&TLS12.to_be_bytes());
    mac.update(&(length as u16).to_be_bytes());
}

/// Checks the CBC padding and the MAC of a decrypted `body` (plaintext, MAC, padding) and
/// returns the plaintext length.
///
/// The padding length is secret until the MAC has been checked, so nothing below branches
/// on it or indexes memory with it: the padding scan always covers the last 256 bytes (or
/// the whole body), the MAC is extracted by scanning every candidate position, and the
/// hash always processes the same number of bytes (the MAC over the plaintext, then a
/// dummy hash over the bytes the padding took away).
fn check_padding_and_mac(
    mut mac: HmacSha1,
    sequence: u64,
    content_type: ContentType,
    body: &[u8],
) -> Result<usize, RecordError> {
    let length = body.len();
    let padding_value = body[length - 1];
    let padding_total = usize::from(padding_value) + 1;
    // Enough room for padding and MAC? (length ≥ 32 and padding_total ≤ 256, so no
    // underflow in the subtraction below once `room` is true.)
    let room = !((length as u64).ct_lt(&((padding_total + MAC_LENGTH) as u64)));
    let mut padding_good = room;
    let scan = length.min(256);
    for distance in 1..=scan {
        let byte = body[length - distance];
        let inside = (distance as u64).ct_lt(&(padding_total as u64 + 1));
        let matches = byte.ct_eq(&padding_value);
        padding_good &= !inside | matches;
    }
    // With bad padding, compute the MAC as if there were none (RFC 5246 §6.2.3.2).
    let assumed_padding =
        u64::conditional_select(&1, &(padding_total as u64), padding_good) as usize;
    let plaintext_length = length - MAC_LENGTH - assumed_padding;

    let mut received_mac = [0u8; MAC_LENGTH];
    let lowest = length.saturating_sub(MAC_LENGTH + 256);
    for start in lowest..=length - MAC_LENGTH - 1 {
        let here = (start as u64).ct_eq(&(plaintext_length as u64));
        for (offset, byte) in received_mac.iter_mut().enumerate() {
            byte.conditional_assign(&body[start + offset], here);
        }
    }

    mac_header(&mut mac, sequence, content_type, plaintext_length);
    mac.update(&body[..plaintext_length]);
    let computed = mac.finalize().into_bytes();
    // Equalise the work with the longest plaintext this record could hold.
    let mut dummy = Sha1::new();
    dummy.update(&body[plaintext_length..length - MAC_LENGTH - 1]);
    let _ = dummy.finalize();

    let mac_good = computed.as_slice().ct_eq(&received_mac);
    if bool::from(padding_good & mac_good) {
        Ok(plaintext_length)
    } else {
        Err(RecordError::BadRecordMac)
    }
}

#[cfg(test)]
mod tests;
