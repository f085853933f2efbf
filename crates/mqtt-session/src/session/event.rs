//! What the session reports to its runner, and why commands are refused.

use super::subscriptions::SlotKind;
use crate::codec::{DecodeError, PacketId, QoS};
use core::fmt;

/// A message delivered to the module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// Topic name of the PUBLISH (not the filter).
    pub topic: &'a str,
    /// Payload (at most [`super::MAX_INBOUND_PAYLOAD`] bytes).
    pub payload: &'a [u8],
    /// QoS it was received with.
    pub qos: QoS,
    /// Retain flag.
    pub retain: bool,
    /// At least one user filter matches: forward as `+TCMQTTRCVPUB`.
    pub for_user: bool,
    /// At least one internal filter matches: consume internally (OTA).
    pub for_internal: bool,
}

/// Why the broker refused the CONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ConnectRefusal {
    /// The CONNACK return code (1..=255).
    pub return_code: u8,
}

impl ConnectRefusal {
    /// The SDK code of `errors.md` §3: 1 → -113 … 5 → -117, others → -112.
    pub fn sdk_code(self) -> i32 {
        match self.return_code {
            1..=5 => -112 - i32::from(self.return_code),
            _ => -112,
        }
    }
}

/// Why the initial connect failed without a CONNACK.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConnectFailure {
    /// The transport closed before the CONNACK (`-608`).
    ClosedBeforeConnack,
    /// No CONNACK within cmdtimeout (`202`).
    Timeout,
    /// The broker sent something that is not a valid CONNACK.
    ProtocolViolation,
}

/// Why an established link was lost.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DropReason {
    /// The runner reported a closed or failed transport.
    TransportClosed,
    /// Two PINGREQs went unanswered for 5 s each.
    KeepAliveTimeout,
    /// The broker sent malformed bytes.
    Malformed(DecodeError),
    /// The broker sent a packet a client never receives, or one larger than the receive
    /// buffer that cannot be skipped.
    UnexpectedPacket,
}

/// Which outstanding operation a packet id belonged to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Operation {
    /// A QoS 1 publish.
    Publish,
    /// A subscribe of this kind of slot.
    Subscribe(SlotKind),
    /// An unsubscribe.
    Unsubscribe,
}

/// Something the runner must act on. Events that say "close the transport" leave the
/// session without a link; the runner closes its socket.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// CONNACK 0 for [`super::Session::connect`]: `+TCMQTTCONN:OK`.
    Connected {
        /// Session-present flag of the CONNACK.
        session_present: bool,
    },
    /// CONNACK refusal of the initial connect; close the transport. The session is idle.
    ConnectRefused(ConnectRefusal),
    /// Initial connect failed otherwise; close the transport. The session is idle.
    ConnectFailed(ConnectFailure),
    /// PUBACK matched a QoS 1 publish.
    Published {
        /// Its packet id.
        packet_id: PacketId,
    },
    /// No PUBACK within cmdtimeout (`FAIL,202`); the publish is forgotten.
    PublishTimeout {
        /// Its packet id.
        packet_id: PacketId,
    },
    /// SUBACK granted: the slot is stored (or its QoS updated in place).
    Subscribed {
        /// Packet id of the SUBSCRIBE.
        packet_id: PacketId,
        /// Table of the slot.
        kind: SlotKind,
        /// Index of the slot in its table.
        slot: usize,
        /// QoS granted.
        granted: QoS,
    },
    /// SUBACK 0x80 (`FAIL,-108`); nothing stored, an existing slot unchanged.
    SubscribeRefused {
        /// Packet id of the SUBSCRIBE.
        packet_id: PacketId,
        /// Table the filter was meant for.
        kind: SlotKind,
    },
    /// No SUBACK within cmdtimeout (`FAIL,202`); a late SUBACK is ignored.
    SubscribeTimeout {
        /// Packet id of the SUBSCRIBE.
        packet_id: PacketId,
        /// Table the filter was meant for.
        kind: SlotKind,
    },
    /// UNSUBACK received.
    Unsubscribed {
        /// Packet id of the UNSUBSCRIBE.
        packet_id: PacketId,
    },
    /// No UNSUBACK within cmdtimeout (`FAIL,202`); the slot stays removed.
    UnsubscribeTimeout {
        /// Packet id of the UNSUBSCRIBE.
        packet_id: PacketId,
    },
    /// An outstanding operation died with the link (`FAIL,-103`); always after [`Event::Dropped`].
    LinkLost {
        /// Packet id of the operation.
        packet_id: PacketId,
        /// What it was.
        operation: Operation,
    },
    /// An inbound PUBLISH for at least one filter (only while [`super::Session::is_usable`],
    /// so always after the [`Event::Reconnected`] of a reconnect).
    Message(Message<'a>),
    /// The link dropped (`+TCMQTTDISCON,-103`); close the transport. With `reconnecting`
    /// false the session has ended and its subscriptions are gone.
    Dropped {
        /// What happened.
        reason: DropReason,
        /// Whether automatic reconnect will follow.
        reconnecting: bool,
    },
    /// Backoff elapsed (`+TCMQTTRECONNECTING`): open a transport, then call
    /// [`super::Session::transport_opened`] (or `transport_closed` if that failed).
    Reconnecting {
        /// 1-based attempt number.
        attempt: u8,
    },
    /// The attempt failed; close the transport. A new [`Event::Reconnecting`] or
    /// [`Event::GaveUp`] follows.
    ReconnectAttemptFailed {
        /// 1-based attempt number.
        attempt: u8,
    },
    /// A reconnect's CONNACK: the link is usable again (`+TCMQTTRECONNECTED`), every
    /// subscription is being re-sent (one SUBSCRIBE per SUBACK, internal slots first, refused
    /// or unanswered user filters removed silently; [`super::Session::is_resubscribing`]
    /// until done).
    Reconnected,
    /// The internal slots are re-subscribed and the user slots wait, because the runner
    /// asked for it with [`super::Session::defer_user_resubscription`] (the gateway
    /// re-onlines its sub-devices here, `cloud.md` §9.7); they follow
    /// [`super::Session::resume_resubscription`].
    InternalSlotsRestored,
    /// Backoff exhausted (`+TCMQTTDISCON,-106`); the session has ended.
    GaveUp,
}

macro_rules! error_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$variant_meta:meta])* $variant:ident => $text:literal,)* }) => {
        $(#[$meta])*
        #[non_exhaustive]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        pub enum $name { $($(#[$variant_meta])* $variant,)* }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(match self { $(Self::$variant => $text,)* })
            }
        }

        impl core::error::Error for $name {}
    };
}

error_enum!(
    /// Why [`super::Session::connect`] refused to start. The session is unchanged.
    ConnectError {
        /// A session already runs (RUN is true).
        AlreadyRunning => "session already running",
        /// The CONNECT does not fit the transmit buffer.
        BufferFull => "transmit buffer full",
    }
);

error_enum!(
    /// Why a publish was not sent. Nothing was written; the session is unchanged.
    PublishError {
        /// The link is not usable (CONN false).
        NotConnected => "not connected",
        /// Empty topic, wildcard or U+0000 in the topic.
        InvalidTopic => "invalid topic name",
        /// The packet can never fit the transmit buffer.
        TooLarge => "packet larger than the transmit buffer",
        /// Not enough free space right now: transmit pending bytes first.
        BufferFull => "transmit buffer full",
        /// Too many QoS 1 publishes, subscribes and unsubscribes outstanding.
        TooManyInFlight => "too many operations in flight",
        /// QoS 2 (the firmware never sends it).
        UnsupportedQos => "QoS 2 not supported",
    }
);

error_enum!(
    /// Why a subscribe was not sent. Nothing was written; the table is unchanged.
    SubscribeError {
        /// The link is not usable (CONN false).
        NotConnected => "not connected",
        /// Not a valid MQTT filter, or longer than the slot capacity.
        InvalidFilter => "invalid topic filter",
        /// A new filter while every slot of its table is used (`FAIL,-107`).
        TableFull => "all subscription slots in use",
        /// Not enough free space right now: transmit pending bytes first.
        BufferFull => "transmit buffer full",
        /// Too many operations outstanding.
        TooManyInFlight => "too many operations in flight",
        /// QoS 2 (the firmware never subscribes with it).
        UnsupportedQos => "QoS 2 not supported",
    }
);

error_enum!(
    /// Why an unsubscribe did nothing. The table is unchanged.
    UnsubscribeError {
        /// The link is not usable (CONN false).
        NotConnected => "not connected",
        /// No slot holds exactly this filter (`FAIL,-121`).
        NotSubscribed => "filter not subscribed",
        /// Not enough free space right now: transmit pending bytes first.
        BufferFull => "transmit buffer full",
        /// Too many operations outstanding.
        TooManyInFlight => "too many operations in flight",
    }
);

error_enum!(
    /// Why [`super::Session::disconnect`] did nothing.
    DisconnectError {
        /// No session exists (RUN false).
        NotRunning => "no session",
    }
);
