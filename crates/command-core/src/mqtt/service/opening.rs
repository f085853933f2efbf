//! The opening of a link as the service sees it around the loop's await: what a connect
//! request leaves in the service for good ([`Target`], the CONNACK wait), and what the
//! session or AT+TCMQTTCONN learns when the opening ended. Plain functions: the opening itself
//! is awaited in [`super::serve`]'s loop, so nothing here lives in a future.

use super::link::{Link, Target};
use super::{Opening, Service, Waiting};
use crate::mqtt::ConnectRequest;

impl Service<'_, '_> {
    /// Keeps a connect request's destination and identity (reconnects repeat them) and
    /// returns what its opening still needs.
    pub(super) fn take_connect(&mut self, connect: ConnectRequest) -> Opening {
        self.command_timeout_ms = connect.config.command_timeout_ms;
        self.target = Target {
            host: connect.host,
            tls_mode: connect.tls_mode,
            identity: Some(connect.identity),
        };
        self.product_id_length = connect.product_id_length;
        Opening::Connect(connect.config)
    }

    /// Returns when the opening of a link gives up: AT+TCMQTTCONN's cmdtimeout, which bounds
    /// the transport and then the CONNACK (its wait starts here), or the session's bound of a
    /// reconnect attempt.
    pub(super) fn start_opening(&mut self, opening: &Opening, now: u64) -> u64 {
        match opening {
            Opening::Connect(_) => {
                let deadline = now + u64::from(self.command_timeout_ms);
                self.waiting = Some(Waiting::Connack { deadline });
                deadline
            }
            Opening::Reconnect => {
                let attempt = self.shared.session.borrow().next_deadline();
                attempt.unwrap_or(now + 5_000)
            }
        }
    }

    /// Tells the session (or AT+TCMQTTCONN) how the opening for `opening` ended.
    pub(super) fn opened<S, R>(
        &mut self,
        opening: Option<&Opening>,
        opened: Result<(), i32>,
        now: u64,
        link: &mut Option<Link<'_, S, R>>,
    ) {
        if opened.is_err() {
            // A timed-out attempt may have left a half-open link.
            *link = None;
        }
        let connect = match opening {
            Some(Opening::Connect(config)) => Some(*config),
            _ => None,
        };
        let Some(config) = connect else {
            let mut session = self.shared.session.borrow_mut();
            match (opened, &self.target.identity) {
                (Ok(()), Some(identity)) => session.transport_opened(identity, now),
                _ => session.transport_closed(now),
            }
            return;
        };
        if let Err(code) = opened {
            self.finish("TCMQTTCONN", Err(code));
            return;
        }
        let Some(identity) = &self.target.identity else {
            self.finish("TCMQTTCONN", Err(-112));
            return;
        };
        let started = self
            .shared
            .session
            .borrow_mut()
            .connect(config, identity, now);
        // On success the CONNACK wait goes on: it started with the opening (`start_opening`).
        if started.is_err() {
            *link = None;
            self.finish("TCMQTTCONN", Err(-112));
        }
    }
}
