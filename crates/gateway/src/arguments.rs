//! The argument checks of `AT+TCGWBIND=` and `AT+TCGWONLINE=`, in the order of
//! `commands.md` §10, as pure functions.
//!
//! The first failing check decides, so each function walks the checks in
//! the spec's order and returns the first error; on success it hands back
//! the [`Request`] the engine starts with [`crate::Gateway::begin`] after
//! printing `OK`.

use crate::command::{Request, Secret};
use crate::subdevice::{SubDevice, MAXIMUM_DEVICE_NAME, MAXIMUM_PRODUCT_ID, MAXIMUM_SECRET};
use at_parser::{Args, QuotedStr, Token};

/// Why a set command was refused before `OK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ArgumentError {
    /// The host session is not usable (check 1): `+CME ERROR:208`.
    NotConnected,
    /// `<mode>` is not an Integer (check 2): `[E:05]`.
    ModeNotInteger,
    /// Any later check: `+CME ERROR:204`.
    Invalid,
}

impl ArgumentError {
    /// The `+CME ERROR` code, `None` for the engine error `[E:05]`.
    #[must_use]
    pub const fn cme_code(self) -> Option<u16> {
        match self {
            Self::NotConnected => Some(208),
            Self::ModeNotInteger => None,
            Self::Invalid => Some(204),
        }
    }
}

/// Checks `AT+TCGWBIND=<mode>,"<pid>","<dn>"[,"<secret>"]`; `connected` is
/// the CONN predicate. `random` becomes the bind's `<r>`.
///
/// # Errors
/// The first failing check of `commands.md` §10.
pub fn check_bind<'a>(
    connected: bool,
    args: &Args<'a>,
    random: u32,
) -> Result<Request, ArgumentError> {
    let (mode, subdevice) = common_checks(connected, args)?;
    if mode == 0 {
        let secret = string(args, 3, MAXIMUM_SECRET)?;
        let secret = Secret::from_bytes(secret.bytes()).ok_or(ArgumentError::Invalid)?;
        expect_count(args, 4)?;
        Ok(Request::Bind {
            subdevice,
            secret,
            random,
        })
    } else {
        expect_count(args, 3)?;
        Ok(Request::Unbind { subdevice })
    }
}

/// Checks `AT+TCGWONLINE=<mode>,"<pid>","<dn>"`; `connected` is the CONN
/// predicate.
///
/// # Errors
/// The first failing check of `commands.md` §10.
pub fn check_online(connected: bool, args: &Args<'_>) -> Result<Request, ArgumentError> {
    let (mode, subdevice) = common_checks(connected, args)?;
    expect_count(args, 3)?;
    Ok(if mode == 0 {
        Request::Online { subdevice }
    } else {
        Request::Offline { subdevice }
    })
}

/// Checks 1–5, shared by both commands.
fn common_checks(connected: bool, args: &Args<'_>) -> Result<(i32, SubDevice), ArgumentError> {
    if !connected {
        return Err(ArgumentError::NotConnected);
    }
    let Some(Token::Integer(mode)) = args.get(0) else {
        return Err(ArgumentError::ModeNotInteger);
    };
    if !matches!(mode, 0 | 1) {
        return Err(ArgumentError::Invalid);
    }
    let product_id = string(args, 1, MAXIMUM_PRODUCT_ID)?;
    let device_name = string(args, 2, MAXIMUM_DEVICE_NAME)?;
    let subdevice = SubDevice::from_bytes(product_id.bytes(), device_name.bytes())
        .map_err(|_| ArgumentError::Invalid)?;
    Ok((mode, subdevice))
}

/// Token `index` as a String of 1..=`maximum` unescaped bytes.
fn string<'a>(
    args: &Args<'a>,
    index: usize,
    maximum: usize,
) -> Result<QuotedStr<'a>, ArgumentError> {
    match args.get(index) {
        Some(Token::String(text)) if (1..=maximum).contains(&text.len()) => Ok(text),
        _ => Err(ArgumentError::Invalid),
    }
}

fn expect_count(args: &Args<'_>, count: usize) -> Result<(), ArgumentError> {
    if args.len() == count {
        Ok(())
    } else {
        Err(ArgumentError::Invalid)
    }
}
