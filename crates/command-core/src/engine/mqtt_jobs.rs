//! The executor's side of the MQTT commands: the checks of AT+TCMQTTCONN that need the stored
//! device record (steps 7–8), then one request to the MQTT service and a wait for its outcome.
//! The result line itself is queued by the service and written by the next flush, behind any
//! URC its events caused (`urc.md` §7 rule 3).

use embedded_io_async::Write;
use embedded_storage_async::nor_flash::MultiwriteNorFlash;
use mqtt_session::tencent::{mqtt_host, Authentication, Identity};
use mqtt_session::SessionConfig;

use super::Executor;
use crate::board::{Clock, Network, Wifi};
use crate::mqtt::{ConnectRequest, Outcome, Request};
use crate::state::{MqttParameters, RamState};

/// Code when the stored secret cannot be used (`errors.md` §3).
const UNDECODABLE_SECRET: i32 = -1002;
/// Code when the mode-2 certificate or key cannot be read (`errors.md` §3).
const CERTIFICATE_UNUSABLE: i32 = -702;

impl<T: Write, F: MultiwriteNorFlash, W: Wifi, C: Clock, N: Network>
    Executor<'_, '_, '_, T, F, W, C, N>
{
    /// Hands one request to the MQTT service; [`outcome`](Self::outcome) waits until it
    /// ended. Two steps so that no future keeps a copy of the request (432 bytes) after it
    /// went into the mailbox.
    pub(super) fn send(&self, request: Request) {
        self.mqtt.done.clear();
        self.mqtt.requests.put(request);
    }

    /// Waits until the request handed over by [`send`](Self::send) ended.
    pub(super) async fn outcome(&self) -> Outcome {
        self.mqtt.done.take().await
    }

    /// AT+TCMQTTCONN after its `OK\r\n`.
    pub(super) async fn connect(&mut self, state: &mut RamState, parameters: MqttParameters) {
        let request = match self.connect_request(state, parameters).await {
            Ok(request) => request,
            Err(code) => {
                self.reply.result_fail("TCMQTTCONN", code);
                return;
            }
        };
        // The host's session: RUN, CONN, result lines and URCs as usual.
        self.mqtt.internal.set(false);
        self.send(Request::Connect(request));
        if self.outcome().await == Outcome::Succeeded {
            state.mqtt_parameters = parameters;
        }
    }

    /// Steps 7 and 8 of AT+TCMQTTCONN with the stored device record (also the binding
    /// session's connect, `cloud.md` §6.5): the request, or the `FAIL` code.
    pub(super) async fn connect_request(
        &mut self,
        state: &RamState,
        parameters: MqttParameters,
    ) -> Result<ConnectRequest, i32> {
        let device = state.settings.device.as_ref().ok_or(207)?;
        let mode_allowed = match device.tls_mode {
            0 => parameters.tls_mode == 0,
            2 => parameters.tls_mode == 2,
            _ => parameters.tls_mode <= 1,
        };
        if !mode_allowed {
            return Err(204);
        }
        let authentication = if parameters.tls_mode == 0 {
            Authentication::HmacSha1
        } else {
            Authentication::Transport
        };
        fn text(bytes: &[u8]) -> Option<&str> {
            core::str::from_utf8(bytes).ok()
        }
        let (Some(product_id), Some(device_name), Some(secret), Some(region)) = (
            text(&device.product_id),
            text(&device.device_name),
            text(&device.secret),
            text(&device.region),
        ) else {
            return Err(UNDECODABLE_SECRET);
        };
        // Mode 2 keeps a file name where the other modes keep the Base64 key; the transport
        // authenticates, so the identity carries no key.
        let key = if device.tls_mode == 2 { "" } else { secret };
        let identity = Identity::new(product_id, device_name, key, authentication)
            .map_err(|_| UNDECODABLE_SECRET)?;
        let host = match &state.mqtt_server {
            Some(server) => heapless::Vec::from_slice(server).ok(),
            None => mqtt_host(product_id, region)
                .ok()
                .and_then(|host| heapless::Vec::from_slice(host.as_bytes()).ok()),
        };
        let host = host.ok_or(-602)?;
        if parameters.tls_mode == 2 && !self.load_client_files(&device.secret.clone()).await {
            return Err(CERTIFICATE_UNUSABLE);
        }
        Ok(ConnectRequest {
            host,
            tls_mode: parameters.tls_mode,
            config: SessionConfig {
                command_timeout_ms: parameters.command_timeout_ms,
                keep_alive_s: parameters.keep_alive_s,
                clean_session: parameters.clean_session,
                reconnect: parameters.reconnect,
            },
            identity,
            // The record's product id is 1..=10 bytes.
            product_id_length: product_id.len() as u8,
        })
    }

    /// Without certificates there are no client files: TLS mode 2 is `-702`.
    #[cfg(not(feature = "certificates"))]
    async fn load_client_files(&mut self, _name: &[u8]) -> bool {
        false
    }
}
