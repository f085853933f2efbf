//! Logging shim: `log` on host builds, `defmt` on devices, nothing otherwise.
//!
//! Only operations, result codes and sub-device identities are logged; the
//! sub-device secret and the signature never reach a log.
#![allow(unused_macros)]

#[cfg(all(feature = "log", feature = "defmt"))]
compile_error!("features `log` and `defmt` are mutually exclusive");

macro_rules! debug {
    ($($argument:tt)*) => {{
        #[cfg(feature = "log")]
        ::log::debug!($($argument)*);
        #[cfg(feature = "defmt")]
        ::defmt::debug!($($argument)*);
        #[cfg(not(any(feature = "log", feature = "defmt")))]
        let _ = ($($argument)*);
    }};
}

pub(crate) use debug;
