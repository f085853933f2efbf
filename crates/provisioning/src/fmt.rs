//! Logging shim: `log` on host builds, `defmt` on devices, nothing otherwise.
//!
//! Only record keys and outcomes are logged, never record contents, so no
//! secret can reach a log.
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

macro_rules! warning {
    ($($argument:tt)*) => {{
        #[cfg(feature = "log")]
        ::log::warn!($($argument)*);
        #[cfg(feature = "defmt")]
        ::defmt::warn!($($argument)*);
        #[cfg(not(any(feature = "log", feature = "defmt")))]
        let _ = ($($argument)*);
    }};
}

pub(crate) use debug;
pub(crate) use warning;
