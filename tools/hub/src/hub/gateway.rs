//! Sub-devices online through a gateway's connection (`hub.md` §4.6).
//!
//! A sub-device online through connection C lends C its rights; they live in C's session
//! next to C's own, so every ACL question (publish, subscribe, delivery, loop-back) asks
//! both. The list is cleared whenever C's connection ends or is replaced, which takes the
//! sub-devices offline exactly when the hub spec says.

use super::{lock, Hub, Session, State};
use crate::acl::{self, Right};
use crate::registry::Device;

/// A sub-device online through a session's connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnlineSubDevice {
    /// Product id.
    pub pid: String,
    /// Device name.
    pub dn: String,
    rights: Vec<Right>,
    loopback: bool,
}

impl Session {
    /// The session's own rights plus those of its online sub-devices.
    pub(super) fn all_rights(&self) -> Vec<Right> {
        let lent = self.subdevices.iter().flat_map(|sub| sub.rights.iter());
        self.rights.iter().chain(lent).cloned().collect()
    }

    pub(super) fn may_subscribe(&self, filter: &str) -> bool {
        acl::may_subscribe(&self.rights, &self.pid, &self.dn, filter)
            || self
                .subdevices
                .iter()
                .any(|sub| acl::may_subscribe(&sub.rights, &sub.pid, &sub.dn, filter))
    }

    pub(super) fn may_receive(&self, topic: &str) -> bool {
        acl::may_receive(&self.rights, topic)
            || self
                .subdevices
                .iter()
                .any(|sub| acl::may_receive(&sub.rights, topic))
    }

    /// Whether a publish of this session on `topic` comes back to it: the own product's
    /// `loopback_data` for its own topics, the sub-device's product's for a sub-device topic.
    pub(super) fn loops_back(&self, topic: &str) -> bool {
        let owns = |rights: &[Right]| {
            rights
                .iter()
                .any(|right| mqtt_session::topic::matches(&right.pattern, topic))
        };
        if owns(&self.rights) {
            return self.loopback;
        }
        self.subdevices
            .iter()
            .find(|sub| owns(&sub.rights))
            .map_or(self.loopback, |sub| sub.loopback)
    }
}

impl Hub {
    /// Brings `sub` online through the live connection of `gateway_client_id` (again is
    /// fine); returns false when that gateway has no live connection.
    pub fn subdevice_online(&self, gateway_client_id: &str, sub: &Device) -> bool {
        let product = self.registry().product_of(sub);
        let mut state = lock(&self.state);
        let Some(session) = state
            .sessions
            .get_mut(gateway_client_id)
            .filter(|session| session.link.is_some())
        else {
            return false;
        };
        if !session
            .subdevices
            .iter()
            .any(|online| online.pid == sub.pid && online.dn == sub.dn)
        {
            session.subdevices.push(OnlineSubDevice {
                pid: sub.pid.clone(),
                dn: sub.dn.clone(),
                rights: acl::rights(&product, &sub.dn),
                loopback: product.loopback_data,
            });
        }
        true
    }

    /// Takes sub-device `pid`/`dn` offline wherever it is online; returns whether it was.
    pub fn subdevice_offline(&self, pid: &str, dn: &str) -> bool {
        let mut state = lock(&self.state);
        let mut removed = false;
        for session in state.sessions.values_mut() {
            let before = session.subdevices.len();
            session
                .subdevices
                .retain(|online| online.pid != pid || online.dn != dn);
            removed |= session.subdevices.len() != before;
        }
        removed
    }

    /// `(pid, dn)` of the sub-devices online through `gateway_client_id`, in onlining order.
    pub fn online_subdevices(&self, gateway_client_id: &str) -> Vec<(String, String)> {
        lock(&self.state)
            .sessions
            .get(gateway_client_id)
            .map(|session| {
                session
                    .subdevices
                    .iter()
                    .map(|online| (online.pid.clone(), online.dn.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Client id of the gateway through which `pid`/`dn` is online (`online_via`).
    pub fn online_via(&self, pid: &str, dn: &str) -> Option<String> {
        online_via(&lock(&self.state), pid, dn)
    }

    /// Where an admin `publish` addressed to `pid`/`dn` goes: the gateway connection while
    /// the device is an online sub-device, else the device itself.
    pub fn delivery_target(&self, pid: &str, dn: &str) -> String {
        self.online_via(pid, dn)
            .unwrap_or_else(|| format!("{pid}{dn}"))
    }
}

/// [`Hub::online_via`] for a caller that already holds the state lock.
pub(super) fn online_via(state: &State, pid: &str, dn: &str) -> Option<String> {
    state
        .sessions
        .iter()
        .find(|(_, session)| {
            session
                .subdevices
                .iter()
                .any(|online| online.pid == pid && online.dn == dn)
        })
        .map(|(client_id, _)| client_id.clone())
}
