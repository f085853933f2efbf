//! Sub-device identities and the online list (`commands.md` §10, `cloud.md` §9.8).
//!
//! The online list lives in RAM for the whole MQTT session, so it is packed: a
//! product id (1..=10 bytes) and a device name (1..=48 bytes) share one
//! 58-byte array with two length bytes, 60 bytes per entry, 16 entries. No
//! `heapless::Vec` per field: its `usize` length would cost more than the
//! lengths themselves.

/// Longest sub-device product id (`commands.md` §10 check 4).
pub const MAXIMUM_PRODUCT_ID: usize = 10;
/// Longest sub-device name (`commands.md` §10 check 5).
pub const MAXIMUM_DEVICE_NAME: usize = 48;
/// Longest sub-device secret (`commands.md` §10 check 6).
pub const MAXIMUM_SECRET: usize = 44;
/// Sub-devices online at once through one session (`cloud.md` §9.8).
pub const ONLINE_CAPACITY: usize = 16;

/// A product id or device name outside its bounds (empty or too long).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct InvalidIdentity;

/// A sub-device: product id and device name, bytes as given to the command.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SubDevice {
    bytes: [u8; MAXIMUM_PRODUCT_ID + MAXIMUM_DEVICE_NAME],
    product_id_length: u8,
    device_name_length: u8,
}

impl SubDevice {
    /// Packs a product id of 1..=10 bytes and a device name of 1..=48 bytes.
    ///
    /// # Errors
    /// [`InvalidIdentity`] when either is empty or too long.
    pub fn new(product_id: &[u8], device_name: &[u8]) -> Result<Self, InvalidIdentity> {
        Self::from_bytes(product_id.iter().copied(), device_name.iter().copied())
    }

    /// Packs the bytes of two iterators (e.g. unescaped AT strings), with the
    /// bounds of [`SubDevice::new`].
    ///
    /// # Errors
    /// [`InvalidIdentity`] when either is empty or too long.
    pub fn from_bytes(
        product_id: impl Iterator<Item = u8>,
        device_name: impl Iterator<Item = u8>,
    ) -> Result<Self, InvalidIdentity> {
        let mut bytes = [0; MAXIMUM_PRODUCT_ID + MAXIMUM_DEVICE_NAME];
        let product_id_length = fill(&mut bytes[..MAXIMUM_PRODUCT_ID], product_id)?;
        let device_name_length = fill(&mut bytes[MAXIMUM_PRODUCT_ID..], device_name)?;
        Ok(Self {
            bytes,
            product_id_length,
            device_name_length,
        })
    }

    /// An empty identity, for state before a real one is known (never
    /// matches a reply: replies need non-empty names).
    pub(crate) const fn placeholder() -> Self {
        Self {
            bytes: [0; MAXIMUM_PRODUCT_ID + MAXIMUM_DEVICE_NAME],
            product_id_length: 0,
            device_name_length: 0,
        }
    }

    /// The product id.
    #[must_use]
    pub fn product_id(&self) -> &[u8] {
        &self.bytes[..usize::from(self.product_id_length)]
    }

    /// The device name.
    #[must_use]
    pub fn device_name(&self) -> &[u8] {
        let start = MAXIMUM_PRODUCT_ID;
        &self.bytes[start..start + usize::from(self.device_name_length)]
    }
}

fn fill(target: &mut [u8], source: impl Iterator<Item = u8>) -> Result<u8, InvalidIdentity> {
    let mut length = 0;
    for byte in source {
        *target.get_mut(length).ok_or(InvalidIdentity)? = byte;
        length += 1;
    }
    if length == 0 {
        return Err(InvalidIdentity);
    }
    u8::try_from(length).map_err(|_| InvalidIdentity)
}

impl core::fmt::Debug for SubDevice {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter
            .debug_struct("SubDevice")
            .field("product_id", &Bytes(self.product_id()))
            .field("device_name", &Bytes(self.device_name()))
            .finish()
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for SubDevice {
    fn format(&self, formatter: defmt::Formatter<'_>) {
        defmt::write!(
            formatter,
            "{=[u8]:a}/{=[u8]:a}",
            self.product_id(),
            self.device_name()
        );
    }
}

/// Prints bytes as text where they are printable ASCII.
struct Bytes<'a>(&'a [u8]);

impl core::fmt::Debug for Bytes<'_> {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str("\"")?;
        for &byte in self.0 {
            if byte.is_ascii_graphic() || byte == b' ' {
                core::fmt::Write::write_char(formatter, char::from(byte))?;
            } else {
                write!(formatter, "\\x{byte:02x}")?;
            }
        }
        formatter.write_str("\"")
    }
}

/// The sub-devices brought online in this session, oldest first in memory.
///
/// `AT+TCGWONLINE?` lists them newest first ([`OnlineList::newest_first`]);
/// re-onlining after a reconnect walks them oldest first
/// ([`OnlineList::oldest_first`]).
#[derive(Clone, PartialEq, Eq)]
pub struct OnlineList {
    entries: [SubDevice; ONLINE_CAPACITY],
    length: u8,
}

impl core::fmt::Debug for OnlineList {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.debug_list().entries(self.oldest_first()).finish()
    }
}

impl Default for OnlineList {
    fn default() -> Self {
        Self::new()
    }
}

/// The list already holds [`ONLINE_CAPACITY`] sub-devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct ListFull;

impl OnlineList {
    /// An empty list.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            entries: [SubDevice::placeholder(); ONLINE_CAPACITY],
            length: 0,
        }
    }

    /// Number of sub-devices online.
    #[must_use]
    pub fn len(&self) -> usize {
        usize::from(self.length)
    }

    /// Whether no sub-device is online.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Whether the list holds [`ONLINE_CAPACITY`] sub-devices.
    #[must_use]
    pub fn is_full(&self) -> bool {
        self.len() == ONLINE_CAPACITY
    }

    /// Whether `subdevice` is in the list.
    #[must_use]
    pub fn contains(&self, subdevice: &SubDevice) -> bool {
        self.oldest_first().any(|entry| entry == subdevice)
    }

    /// Appends `subdevice` as the newest entry (a sub-device already listed
    /// is left where it is).
    ///
    /// # Errors
    /// [`ListFull`], and nothing changes.
    pub fn insert(&mut self, subdevice: SubDevice) -> Result<(), ListFull> {
        if self.contains(&subdevice) {
            return Ok(());
        }
        let length = self.len();
        let slot = self.entries.get_mut(length).ok_or(ListFull)?;
        *slot = subdevice;
        self.length += 1;
        Ok(())
    }

    /// Removes `subdevice`, keeping the order of the others; returns whether
    /// it was listed.
    pub fn remove(&mut self, subdevice: &SubDevice) -> bool {
        let Some(index) = self.oldest_first().position(|entry| entry == subdevice) else {
            return false;
        };
        let length = self.len();
        self.entries.copy_within(index + 1..length, index);
        self.length -= 1;
        true
    }

    /// Forgets every entry (the session ended).
    pub fn clear(&mut self) {
        self.length = 0;
    }

    /// The entry at `index`, oldest first.
    #[must_use]
    pub fn get(&self, index: usize) -> Option<&SubDevice> {
        self.entries[..self.len()].get(index)
    }

    /// Entries in the order they went online.
    pub fn oldest_first(&self) -> impl DoubleEndedIterator<Item = &SubDevice> + '_ {
        self.entries[..self.len()].iter()
    }

    /// Entries most recently onlined first (the order of `AT+TCGWONLINE?`).
    pub fn newest_first(&self) -> impl Iterator<Item = &SubDevice> + '_ {
        self.oldest_first().rev()
    }
}
