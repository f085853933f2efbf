//! Our binary format for record values.
//!
//! sequential-storage stores each item atomically with a CRC, so this format
//! needs no checksum or magic; it only has to be compact, unambiguous and
//! versioned. A value is one tag byte followed by the fields:
//!
//! - tag `0x00`: the record is erased (a tombstone; no fields). Erasing by
//!   tombstone keeps `erase_*` atomic per record and works on any
//!   [`NorFlash`](embedded_storage_async::nor_flash::NorFlash), not only on
//!   flashes that allow rewriting a word.
//! - tag `0x01`: format version 1, fields in declaration order; a text field
//!   is a length byte and that many bytes, integers are little-endian.
//!
//! A value that does not decode exactly (unknown tag, a length above the
//! field's capacity, missing or trailing bytes) is corrupt: sequential-storage
//! already rejected torn writes by CRC, so what is left is a bug or a foreign
//! writer, and hiding it as "absent" would silently drop credentials.

use sequential_storage::map::{SerializationError, Value};

use crate::certificates::{CertificateEntry, CertificateTable};
use crate::firmware::{FirmwareInfo, FirmwareState};
use crate::key::RecordKey;
use crate::records::{
    DeviceInfo, ModuleInfo, ProductInfo, ProvisioningErrors, Text, WifiMode, WifiStation,
};

/// Tag of an erased record.
const TAG_ERASED: u8 = 0x00;
/// Tag of format version 1.
const TAG_VERSION_1: u8 = 0x01;

/// The value does not fit the output buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Overflow;

/// The bytes are not a valid encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed;

/// Appends fields to an output buffer.
pub(crate) struct Writer<'b> {
    buffer: &'b mut [u8],
    position: usize,
}

impl<'b> Writer<'b> {
    fn new(buffer: &'b mut [u8]) -> Self {
        Self {
            buffer,
            position: 0,
        }
    }

    fn bytes(&mut self, bytes: &[u8]) -> Result<(), Overflow> {
        let end = self.position.checked_add(bytes.len()).ok_or(Overflow)?;
        self.buffer
            .get_mut(self.position..end)
            .ok_or(Overflow)?
            .copy_from_slice(bytes);
        self.position = end;
        Ok(())
    }

    fn byte(&mut self, byte: u8) -> Result<(), Overflow> {
        self.bytes(&[byte])
    }

    fn text(&mut self, text: &[u8]) -> Result<(), Overflow> {
        // Every Text capacity is below 256, so the length fits one byte.
        let length = u8::try_from(text.len()).map_err(|_| Overflow)?;
        self.byte(length)?;
        self.bytes(text)
    }

    fn u16(&mut self, value: u16) -> Result<(), Overflow> {
        self.bytes(&value.to_le_bytes())
    }

    fn u32(&mut self, value: u32) -> Result<(), Overflow> {
        self.bytes(&value.to_le_bytes())
    }

    fn i32(&mut self, value: i32) -> Result<(), Overflow> {
        self.bytes(&value.to_le_bytes())
    }
}

/// Takes fields from the front of an encoded value.
pub(crate) struct Reader<'b> {
    rest: &'b [u8],
}

impl<'b> Reader<'b> {
    fn take(&mut self, count: usize) -> Result<&'b [u8], Malformed> {
        if self.rest.len() < count {
            return Err(Malformed);
        }
        let (taken, rest) = self.rest.split_at(count);
        self.rest = rest;
        Ok(taken)
    }

    fn byte(&mut self) -> Result<u8, Malformed> {
        Ok(self.take(1)?[0])
    }

    fn text<const N: usize>(&mut self) -> Result<Text<N>, Malformed> {
        let length = usize::from(self.byte()?);
        Text::from_slice(self.take(length)?).map_err(|_| Malformed)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Malformed> {
        self.take(N)?.try_into().map_err(|_| Malformed)
    }

    fn u16(&mut self) -> Result<u16, Malformed> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, Malformed> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn i32(&mut self) -> Result<i32, Malformed> {
        Ok(i32::from_le_bytes(self.array()?))
    }
}

/// A record kind with its key and version-1 field layout.
pub(crate) trait Record: Sized {
    /// The key this kind is stored under.
    const KEY: RecordKey;
    /// Writes the fields (without the tag).
    fn encode_fields(&self, writer: &mut Writer<'_>) -> Result<(), Overflow>;
    /// Reads the fields (without the tag).
    fn decode_fields(reader: &mut Reader<'_>) -> Result<Self, Malformed>;
}

/// Encodes a record, or a tombstone for `None`; returns the length used.
pub(crate) fn encode<T: Record>(value: Option<&T>, buffer: &mut [u8]) -> Result<usize, Overflow> {
    let mut writer = Writer::new(buffer);
    match value {
        None => writer.byte(TAG_ERASED)?,
        Some(value) => {
            writer.byte(TAG_VERSION_1)?;
            value.encode_fields(&mut writer)?;
        }
    }
    Ok(writer.position)
}

/// Decodes a value written by [`encode`]; a tombstone decodes as `None`.
pub(crate) fn decode<T: Record>(bytes: &[u8]) -> Result<Option<T>, Malformed> {
    let mut reader = Reader { rest: bytes };
    let value = match reader.byte()? {
        TAG_ERASED => None,
        TAG_VERSION_1 => Some(T::decode_fields(&mut reader)?),
        _ => return Err(Malformed),
    };
    if reader.rest.is_empty() {
        Ok(value)
    } else {
        Err(Malformed)
    }
}

impl Record for DeviceInfo {
    const KEY: RecordKey = RecordKey::Device;

    fn encode_fields(&self, writer: &mut Writer<'_>) -> Result<(), Overflow> {
        writer.byte(self.tls_mode)?;
        writer.text(&self.product_id)?;
        writer.text(&self.device_name)?;
        writer.text(&self.secret)?;
        writer.text(&self.region)
    }

    fn decode_fields(reader: &mut Reader<'_>) -> Result<Self, Malformed> {
        Ok(Self {
            tls_mode: reader.byte()?,
            product_id: reader.text()?,
            device_name: reader.text()?,
            secret: reader.text()?,
            region: reader.text()?,
        })
    }
}

impl Record for ProductInfo {
    const KEY: RecordKey = RecordKey::Product;

    fn encode_fields(&self, writer: &mut Writer<'_>) -> Result<(), Overflow> {
        writer.byte(self.tls_mode)?;
        writer.text(&self.product_id)?;
        writer.text(&self.product_secret)?;
        writer.text(&self.device_name)?;
        writer.text(&self.region)
    }

    fn decode_fields(reader: &mut Reader<'_>) -> Result<Self, Malformed> {
        Ok(Self {
            tls_mode: reader.byte()?,
            product_id: reader.text()?,
            product_secret: reader.text()?,
            device_name: reader.text()?,
            region: reader.text()?,
        })
    }
}

impl Record for ModuleInfo {
    const KEY: RecordKey = RecordKey::Module;

    fn encode_fields(&self, writer: &mut Writer<'_>) -> Result<(), Overflow> {
        writer.text(&self.name)?;
        writer.byte(self.flash_mb)?;
        writer.byte(self.led_gpio)?;
        writer.u32(self.fw_base)?;
        writer.u32(self.fw_max)?;
        writer.i32(self.reserved)
    }

    fn decode_fields(reader: &mut Reader<'_>) -> Result<Self, Malformed> {
        Ok(Self {
            name: reader.text()?,
            flash_mb: reader.byte()?,
            led_gpio: reader.byte()?,
            fw_base: reader.u32()?,
            fw_max: reader.u32()?,
            reserved: reader.i32()?,
        })
    }
}

impl Record for WifiStation {
    const KEY: RecordKey = RecordKey::Station;

    fn encode_fields(&self, writer: &mut Writer<'_>) -> Result<(), Overflow> {
        writer.text(&self.ssid)?;
        writer.text(&self.password)
    }

    fn decode_fields(reader: &mut Reader<'_>) -> Result<Self, Malformed> {
        Ok(Self {
            ssid: reader.text()?,
            password: reader.text()?,
        })
    }
}

impl Record for WifiMode {
    const KEY: RecordKey = RecordKey::WifiMode;

    fn encode_fields(&self, writer: &mut Writer<'_>) -> Result<(), Overflow> {
        writer.byte(self.0)
    }

    fn decode_fields(reader: &mut Reader<'_>) -> Result<Self, Malformed> {
        Ok(Self(reader.byte()?))
    }
}

impl Record for CertificateTable {
    const KEY: RecordKey = RecordKey::CertificateTable;

    fn encode_fields(&self, writer: &mut Writer<'_>) -> Result<(), Overflow> {
        // At most CERTIFICATE_FILES_MAX entries: the count fits a byte.
        writer.byte(self.entries.len() as u8)?;
        for entry in &self.entries {
            writer.text(&entry.name)?;
            writer.u16(entry.size)?;
            writer.u32(entry.checksum)?;
            writer.byte(entry.slot)?;
        }
        Ok(())
    }

    fn decode_fields(reader: &mut Reader<'_>) -> Result<Self, Malformed> {
        let count = reader.byte()?;
        let mut table = CertificateTable::default();
        for _ in 0..count {
            let entry = CertificateEntry {
                name: reader.text()?,
                size: reader.u16()?,
                checksum: reader.u32()?,
                slot: reader.byte()?,
            };
            table.entries.push(entry).map_err(|_| Malformed)?;
        }
        Ok(table)
    }
}

impl Record for FirmwareInfo {
    const KEY: RecordKey = RecordKey::FirmwareInfo;

    fn encode_fields(&self, writer: &mut Writer<'_>) -> Result<(), Overflow> {
        writer.byte(self.state as u8)?;
        writer.text(&self.name)?;
        writer.text(&self.version)?;
        writer.bytes(&self.md5)?;
        writer.u32(self.size)?;
        writer.u32(self.downloaded)?;
        writer.u32(self.max_size)
    }

    fn decode_fields(reader: &mut Reader<'_>) -> Result<Self, Malformed> {
        Ok(Self {
            state: FirmwareState::from_byte(reader.byte()?).ok_or(Malformed)?,
            name: reader.text()?,
            version: reader.text()?,
            md5: reader.array()?,
            size: reader.u32()?,
            downloaded: reader.u32()?,
            max_size: reader.u32()?,
        })
    }
}

impl Record for ProvisioningErrors {
    const KEY: RecordKey = RecordKey::ProvisioningErrors;

    fn encode_fields(&self, writer: &mut Writer<'_>) -> Result<(), Overflow> {
        writer.byte(self.records.len() as u8)?;
        for &(kind, sub) in &self.records {
            writer.byte(kind)?;
            writer.i32(sub)?;
        }
        Ok(())
    }

    fn decode_fields(reader: &mut Reader<'_>) -> Result<Self, Malformed> {
        let mut value = Self::default();
        for _ in 0..reader.byte()? {
            let record = (reader.byte()?, reader.i32()?);
            value.records.push(record).map_err(|_| Malformed)?;
        }
        Ok(value)
    }
}

/// A value on its way to flash: sequential-storage serialises it straight
/// into its work buffer, so no second buffer is needed.
pub(crate) struct Outgoing<'v, T>(pub Option<&'v T>);

impl<'a, T: Record> Value<'a> for Outgoing<'_, T> {
    fn serialize_into(&self, buffer: &mut [u8]) -> Result<usize, SerializationError> {
        encode(self.0, buffer).map_err(|Overflow| SerializationError::BufferTooSmall)
    }

    fn deserialize_from(_buffer: &'a [u8]) -> Result<(Self, usize), SerializationError> {
        // Reading goes through `Incoming`; this direction is never used.
        Err(SerializationError::InvalidFormat)
    }
}

/// A value read back from flash.
pub(crate) struct Incoming<T>(pub Option<T>);

impl<'a, T: Record> Value<'a> for Incoming<T> {
    fn serialize_into(&self, _buffer: &mut [u8]) -> Result<usize, SerializationError> {
        // Writing goes through `Outgoing`; this direction is never used.
        Err(SerializationError::InvalidData)
    }

    fn deserialize_from(buffer: &'a [u8]) -> Result<(Self, usize), SerializationError> {
        let value = decode(buffer).map_err(|Malformed| SerializationError::InvalidFormat)?;
        Ok((Self(value), buffer.len()))
    }
}

/// The longest encoded value of a `DeviceInfo`, the largest record after the certificate
/// table: tag, TLS mode, four text lengths, then the texts (10 + 48 + 64 + 24).
pub(crate) const DEVICE_INFO_MAXIMUM_LENGTH: usize = 1 + 1 + 4 + 10 + 48 + 64 + 24;

/// The longest encoded value of any record kind the build stores, which sizes
/// sequential-storage's work buffer (`Settings`). With `certificates`: the certificate
/// table (tag, count byte, eight entries of name length, 64-byte name, u16 size, u32
/// checksum, slot byte), 579 bytes.
#[cfg(feature = "certificates")]
pub(crate) const MAXIMUM_VALUE_LENGTH: usize =
    1 + 1 + crate::certificates::CERTIFICATE_FILES_MAX * (1 + 64 + 2 + 4 + 1);

/// The longest encoded value of any record kind the build stores. Without `certificates`
/// (boards that offer no TLS mode 2, where nothing writes the certificate table) that is
/// the `DeviceInfo`: the work buffer shrinks from 608 to 160 bytes of the engine's RAM.
/// A certificate table found in flash (written by a build with `certificates`) does not
/// fit: reading it fails, which the engine takes as no certificate files.
#[cfg(not(feature = "certificates"))]
pub(crate) const MAXIMUM_VALUE_LENGTH: usize = DEVICE_INFO_MAXIMUM_LENGTH;

// Every build stores device records.
const _: () = assert!(MAXIMUM_VALUE_LENGTH >= DEVICE_INFO_MAXIMUM_LENGTH);
