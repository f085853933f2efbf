//! Filter lists of SUBSCRIBE and UNSUBSCRIBE without a heap.
//!
//! A decoded list is the validated wire bytes, walked lazily; a list to encode is a slice the
//! caller owns. Both sit behind one type so a packet can be built, encoded, decoded and
//! compared without copying.

use super::QoS;
use core::fmt;

/// One filter of a SUBSCRIBE with its requested QoS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionRequest<'a> {
    /// Topic filter.
    pub filter: &'a str,
    /// Requested maximum QoS.
    pub qos: QoS,
}

#[derive(Clone, Copy)]
enum Representation<'a, T: 'a> {
    /// Validated wire bytes (set only by the decoder).
    Wire(&'a [u8]),
    /// Caller-provided entries.
    List(&'a [T]),
}

/// Reads one length-prefixed string of already validated wire bytes.
fn next_wire_string<'a>(bytes: &mut &'a [u8]) -> Option<&'a str> {
    let (length, rest) = bytes.split_first_chunk::<2>()?;
    let length = usize::from(u16::from_be_bytes(*length));
    let text = rest.get(..length)?;
    *bytes = &rest[length..];
    core::str::from_utf8(text).ok()
}

/// The filters of a SUBSCRIBE packet.
#[derive(Clone, Copy)]
pub struct SubscribeFilters<'a>(Representation<'a, SubscriptionRequest<'a>>);

impl<'a> SubscribeFilters<'a> {
    /// Wraps a caller-provided list (to encode).
    pub fn from_list(list: &'a [SubscriptionRequest<'a>]) -> Self {
        Self(Representation::List(list))
    }

    pub(crate) fn from_wire(bytes: &'a [u8]) -> Self {
        Self(Representation::Wire(bytes))
    }

    /// Iterates over the filters in packet order.
    pub fn iter(&self) -> impl Iterator<Item = SubscriptionRequest<'a>> + 'a {
        let mut state = self.0;
        core::iter::from_fn(move || match &mut state {
            Representation::List(list) => {
                let (first, rest) = list.split_first()?;
                *list = rest;
                Some(*first)
            }
            Representation::Wire(bytes) => {
                let filter = next_wire_string(bytes)?;
                let (options, rest) = bytes.split_first()?;
                *bytes = rest;
                Some(SubscriptionRequest {
                    filter,
                    qos: QoS::from_bits(*options)?,
                })
            }
        })
    }

    /// Number of filters.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// True when there is no filter (never the case for a decoded packet).
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

impl PartialEq for SubscribeFilters<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for SubscribeFilters<'_> {}

impl fmt::Debug for SubscribeFilters<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_list().entries(self.iter()).finish()
    }
}

/// The filters of an UNSUBSCRIBE packet.
#[derive(Clone, Copy)]
pub struct UnsubscribeFilters<'a>(Representation<'a, &'a str>);

impl<'a> UnsubscribeFilters<'a> {
    /// Wraps a caller-provided list (to encode).
    pub fn from_list(list: &'a [&'a str]) -> Self {
        Self(Representation::List(list))
    }

    pub(crate) fn from_wire(bytes: &'a [u8]) -> Self {
        Self(Representation::Wire(bytes))
    }

    /// Iterates over the filters in packet order.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        let mut state = self.0;
        core::iter::from_fn(move || match &mut state {
            Representation::List(list) => {
                let (first, rest) = list.split_first()?;
                *list = rest;
                Some(*first)
            }
            Representation::Wire(bytes) => next_wire_string(bytes),
        })
    }

    /// Number of filters.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// True when there is no filter (never the case for a decoded packet).
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

impl PartialEq for UnsubscribeFilters<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for UnsubscribeFilters<'_> {}

impl fmt::Debug for UnsubscribeFilters<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_list().entries(self.iter()).finish()
    }
}
