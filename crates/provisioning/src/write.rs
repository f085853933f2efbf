//! Writing bytes into the caller's buffer, stopping at its end.

/// The caller's buffer was too short for what had to be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Overflow;

impl core::fmt::Display for Overflow {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str("output buffer too small")
    }
}

impl core::error::Error for Overflow {}

/// A cursor over the caller's output buffer.
pub(crate) struct Out<'a> {
    buffer: &'a mut [u8],
    length: usize,
}

impl<'a> Out<'a> {
    pub(crate) fn new(buffer: &'a mut [u8]) -> Self {
        Self { buffer, length: 0 }
    }

    pub(crate) fn len(&self) -> usize {
        self.length
    }

    pub(crate) fn put(&mut self, bytes: &[u8]) -> Result<(), Overflow> {
        let end = self.length + bytes.len();
        self.buffer
            .get_mut(self.length..end)
            .ok_or(Overflow)?
            .copy_from_slice(bytes);
        self.length = end;
        Ok(())
    }

    pub(crate) fn integer(&mut self, value: i64) -> Result<(), Overflow> {
        if value < 0 {
            self.put(b"-")?;
        }
        let mut digits = [0u8; 20];
        self.put(crate::dynreg::decimal(value.unsigned_abs(), &mut digits))
    }
}
