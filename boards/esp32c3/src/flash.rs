//! Where tc-at keeps its settings and certificate files in the module's SPI flash.
//!
//! The ranges are the `tcat_settings` and `tcat_certs` partitions of `partitions.csv`, which
//! `cargo xtask build-image` writes into the merged image; the two must change together. They
//! match the Linux board's flash file and the ESP8266 layout, so a flash dump reads the same on
//! every board. `esp-storage` addresses the flash from offset 0, like the partition table.

use core::ops::Range;

/// The `tcat_settings` partition: the settings log (`storage::Settings`), 8 sectors.
pub const SETTINGS_RANGE: Range<u32> = 0x1F_8000..0x20_0000;

/// The `tcat_certs` partition: certificate files of AT+TCCERTADD, 10 sectors.
pub const CERTIFICATE_RANGE: Range<u32> = 0x1E_E000..0x1F_8000;
