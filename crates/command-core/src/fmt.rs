//! Logging shim: `log` on host boards, `defmt` on devices, nothing otherwise.
//!
//! Handlers never log secrets; only lengths and BCC checksums may appear.

#[cfg(all(feature = "log", feature = "defmt"))]
compile_error!("features `log` and `defmt` are mutually exclusive");

/// Logs a warning through whichever logger the board enabled.
macro_rules! warning {
    ($($arg:tt)*) => {{
        #[cfg(feature = "log")]
        ::log::warn!($($arg)*);
        #[cfg(feature = "defmt")]
        ::defmt::warn!($($arg)*);
    }};
}

pub(crate) use warning;
