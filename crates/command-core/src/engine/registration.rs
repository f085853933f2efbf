//! Dynamic registration (`cloud.md` §5) as the executor runs it: the product record, the
//! signed `POST /register/dev` over the board's network, the encrypted reply and the device
//! record it gives. AT+TCDEVREG runs it after its `OK`, and a provisioning session runs it
//! when only a product record exists ("dynamic registration first"), so it is one function,
//! [`Executor::register`], that answers with the `FAIL` code and leaves the result line to
//! its caller.
//!
//! Transport: HTTPS on port 443 with the board's server-authenticated TLS on the `full`
//! profile, plain HTTP on port 80 everywhere else (the body is signed and the answer
//! encrypted, nothing secret travels). Failures map to exactly one code each
//! (`commands.md` §1 step 8): the connect's stage (-602, -603, -702, -703), the handshake's
//! 5 s (-704), then the HTTP reader's (`provisioning::dynreg::TransportFailure`), then the
//! reply's (`ReplyError`: the cloud's code, or -1001). The 10 s budget bounds everything up
//! to the complete reply (`202`); what is stored afterwards is stored whole or not at all,
//! so an expiry never leaves half a record.
//!
//! Memory: no buffer of its own. The request is written into the shared data buffer, and the
//! reply is read through it. Its body is collected in the certificate builds' second file
//! buffer (a certificate reply is a few KiB) and otherwise in the front of the data buffer,
//! and decrypted into whatever of the two is left. The product record stays where it is
//! (borrowed from the RAM state); the device record is built only after the last await of
//! the exchange, straight into the executor's slot, from where it is written.

use embassy_futures::select::{select, Either};
use embedded_io_async::{Read, Write};
use embedded_storage_async::nor_flash::MultiwriteNorFlash;
use mqtt_session::tencent::dynreg_host;
use ota::http::Url;
use provisioning::dynreg::{
    decode_reply, write_request, Credential, Exchange, Product, Progress, ReplyError,
    TransportFailure, GENERIC_FAILURE, MINIMUM_PRODUCT_SECRET, PATH,
};
use storage::{DeviceInfo, ProductInfo};

use super::jobs::Slot;
use super::Executor;
use crate::board::{Clock, Network, Profile, Wifi};
use crate::state::RamState;

/// The whole registration, from AT+TCDEVREG's `OK` to the complete reply (`commands.md` §1
/// step 7).
pub(crate) const BUDGET_MS: u64 = 10_000;
/// How long an unsynchronised clock is waited for, inside the budget (`cloud.md` §5).
pub(crate) const TIME_SYNC_WAIT_MS: u64 = 5_000;
/// The HTTPS connect (DNS, TCP and the handshake, one call of the board) must finish
/// within this (`cloud.md` §5, `-704`).
pub(crate) const HANDSHAKE_TIMEOUT_MS: u64 = 5_000;
/// `FAIL` code: the budget ran out (`errors.md` §1).
pub(crate) const TIMED_OUT: i32 = 202;
/// `FAIL` code: no product record, a full certificate table or a flash error.
pub(crate) const NOT_STORED: i32 = 207;
/// `FAIL` code of a handshake that did not finish in time.
const HANDSHAKE_TIMED_OUT: i32 = -704;
/// Bytes read from the socket at a time, at the end of the data buffer (without
/// certificates; with them the whole data buffer reads while the body collects elsewhere).
#[cfg(not(feature = "certificates"))]
const RECEIVE_CHUNK: usize = 256;

impl<'s, 'm, 'r, T: Write, F: MultiwriteNorFlash, W: Wifi, C: Clock, N: Network>
    Executor<'s, 'm, 'r, T, F, W, C, N>
{
    /// Registers with the stored product record and stores the device record the cloud
    /// issued (`commands.md` §1 steps 5–9): `Ok(())` once stored, else the
    /// `+TCDEVREG:FAIL,<code>` value. The budget of [`BUDGET_MS`] counts from `started_ms`
    /// (AT+TCDEVREG: its `OK`). Any failure leaves the stored records as they were; the
    /// product record is always kept.
    ///
    /// Callers ensure RUN is false (the network is then the executor's alone). Nothing is
    /// written to the UART here.
    // An `async` block, not an `async fn`: the arguments are kept once (this frame lies between
    // AT+TCDEVREG or the provisioning runner and the device record's flash write).
    #[allow(clippy::manual_async_fn)]
    pub(crate) fn register<'e>(
        &'e mut self,
        state: &'e mut RamState,
        started_ms: u64,
    ) -> impl core::future::Future<Output = Result<(), i32>> + use<'e, 's, 'm, 'r, T, F, W, C, N>
    {
        async move {
            let Some(product) = state.settings.product.as_ref() else {
                return Err(NOT_STORED);
            };
            if product.product_secret.len() < MINIMUM_PRODUCT_SECRET {
                return Err(GENERIC_FAILURE);
            }
            let clock = self.clock;
            let exchange = self.exchange(product, started_ms);
            let body_length =
                match select(exchange, clock.sleep_until(started_ms + BUDGET_MS)).await {
                    Either::First(result) => result?,
                    Either::Second(()) => return Err(TIMED_OUT),
                };
            // The record waits for its write in the slot, not in this future (`jobs::Slot`); the
            // command or provisioning step that runs this no longer reads its step.
            self.slot = Slot::Device(self.take_credential(state, body_length).await?);
            let unchanged = matches!(&self.slot, Slot::Device(device) if state.settings.device.as_ref() == Some(device));
            if !unchanged && !self.store_slot().await {
                self.slot = Slot::Empty;
                return Err(NOT_STORED);
            }
            if let Slot::Device(device) = core::mem::replace(&mut self.slot, Slot::Empty) {
                state.settings.device = Some(device);
            }
            Ok(())
        }
    }

    /// Connects, sends the signed request and reads the reply; returns the length of its
    /// body, collected in the body buffer (see the module doc).
    // The data buffer stays borrowed across the socket writes: only the executor uses it,
    // and it runs this job alone.
    #[allow(clippy::await_holding_refcell_ref)]
    async fn exchange(&mut self, product: &ProductInfo, started_ms: u64) -> Result<usize, i32> {
        let timestamp = self.utc_seconds(started_ms).await;
        let https = self.module.board.profile == Profile::Full;
        let region = core::str::from_utf8(&product.region).unwrap_or("");
        let url = Url {
            secure: https,
            host: dynreg_host(region, https).as_bytes(),
            port: if https { 443 } else { 80 },
            target: PATH.as_bytes(),
        };
        let mut stream = self.open(&url).await?;
        let signed = Product {
            product_id: &product.product_id,
            device_name: &product.device_name,
            product_secret: &product.product_secret,
        };
        // 1..=2147483647 (`cloud.md` §5).
        let nonce = self.mqtt.random().random_u32() % 0x7FFF_FFFF + 1;
        {
            let mut data = self.mqtt.data.borrow_mut();
            let length = write_request(&signed, nonce, timestamp, &url, &mut data[..])
                .map_err(|_| GENERIC_FAILURE)?;
            let sent = match stream.write_all(&data[..length]).await {
                Ok(()) => stream.flush().await.is_ok(),
                Err(_) => false,
            };
            if !sent {
                return Err(TransportFailure::ClosedEarly.code());
            }
        }
        self.receive(&mut stream).await
    }

    /// The UTC seconds to sign: the board's clock once synchronised, waited for until
    /// [`TIME_SYNC_WAIT_MS`] after the start; then whatever the clock has (the cloud answers
    /// 1010 if it is wrong).
    async fn utc_seconds(&self, started_ms: u64) -> u64 {
        let clock = self.clock;
        if clock.utc_seconds().is_none() {
            let wait = clock.sleep_until(started_ms + TIME_SYNC_WAIT_MS);
            let _ = select(clock.utc_synced(), wait).await;
        }
        clock.utc_seconds().unwrap_or_else(|| clock.now_ms() / 1000)
    }

    /// The connection to the registration host: HTTPS (bounded by the handshake timeout)
    /// or plain TCP.
    // The network is shared with the MQTT service, which opens links only while RUN is
    // true; registration runs only while it is false.
    #[allow(clippy::await_holding_refcell_ref)]
    async fn open(&mut self, url: &Url<'_>) -> Result<N::Stream, i32> {
        let clock = self.clock;
        let Ok(mut network) = self.network.try_borrow_mut() else {
            return Err(TransportFailure::ConnectFailed.code());
        };
        if !url.secure {
            return network
                .connect(url.host, url.port)
                .await
                .map_err(|error| error.code());
        }
        let handshake_deadline = clock.now_ms() + HANDSHAKE_TIMEOUT_MS;
        let connect = network.connect_tls(url.host, url.port);
        match select(connect, clock.sleep_until(handshake_deadline)).await {
            Either::First(result) => result.map_err(|error| error.code()),
            Either::Second(()) => Err(HANDSHAKE_TIMED_OUT),
        }
    }

    /// Reads the reply until its body is complete; returns the body's length.
    // The data buffer stays borrowed across the socket reads, as in `exchange`.
    #[allow(clippy::await_holding_refcell_ref)]
    async fn receive(&mut self, stream: &mut N::Stream) -> Result<usize, i32> {
        let clock = self.clock;
        let mut data = self.mqtt.data.borrow_mut();
        #[cfg(feature = "certificates")]
        let (body, input) = (&mut self.pair[..], &mut data[..]);
        #[cfg(not(feature = "certificates"))]
        let (body, input) = data.split_at_mut(super::DATA_MAX - RECEIVE_CHUNK);
        let mut exchange = Exchange::new(clock.now_ms());
        loop {
            let read = select(
                stream.read(input),
                clock.sleep_until(exchange.deadline_ms()),
            )
            .await;
            let now = clock.now_ms();
            let fed = match read {
                Either::Second(()) => Err(TransportFailure::ReadTimeout),
                Either::First(Ok(0)) => return exchange.closed().map_err(TransportFailure::code),
                Either::First(Ok(count)) => exchange.feed(&input[..count], now, body),
                Either::First(Err(_)) => Err(TransportFailure::ClosedEarly),
            };
            match fed {
                Ok(Progress::Complete { body_length }) => return Ok(body_length),
                Ok(Progress::Pending) => {}
                Err(failure) => return Err(failure.code()),
            }
        }
    }

    /// Decrypts the reply body and turns its credential into the device record, storing a
    /// certificate pair first (certificate builds on the `full` profile).
    // The plaintext stays in the data buffer across the certificate files' flash writes;
    // nobody else uses the buffer while this job runs.
    #[allow(clippy::await_holding_refcell_ref)]
    async fn take_credential(
        &mut self,
        state: &mut RamState,
        body_length: usize,
    ) -> Result<DeviceInfo, i32> {
        let Some(product) = state.settings.product.as_ref() else {
            return Err(NOT_STORED);
        };
        let certificates =
            cfg!(feature = "certificates") && self.module.board.profile == Profile::Full;
        let mqtt = self.mqtt;
        let mut data = mqtt.data.borrow_mut();
        #[cfg(feature = "certificates")]
        let (body, scratch) = (&self.pair[..body_length], &mut data[..]);
        #[cfg(not(feature = "certificates"))]
        let (body, scratch) = {
            let (body, scratch) = data.split_at_mut(body_length);
            (&*body, scratch)
        };
        let credential = decode_reply(body, &product.product_secret, scratch, certificates)
            .map_err(ReplyError::code)?;
        let secret = match credential {
            Credential::Key(psk) => {
                let mut secret = storage::Text::<64>::new();
                for byte in psk.bytes() {
                    secret.push(byte).map_err(|_| GENERIC_FAILURE)?;
                }
                // A device secret is at most 44 bytes (AT+TCDEVINFOSET).
                if secret.len() > 44 {
                    return Err(GENERIC_FAILURE);
                }
                secret
            }
            #[cfg(feature = "certificates")]
            Credential::Certificate { certificate, key } => {
                let name = self
                    .store_identity(state, &product.device_name, certificate, key)
                    .await?;
                drop(data);
                self.refresh_table(state).await;
                name
            }
            #[cfg(not(feature = "certificates"))]
            Credential::Certificate { .. } => return Err(GENERIC_FAILURE),
        };
        let product = state.settings.product.as_ref().ok_or(NOT_STORED)?;
        Ok(DeviceInfo {
            tls_mode: product.tls_mode,
            product_id: product.product_id.clone(),
            device_name: product.device_name.clone(),
            secret,
            region: product.region.clone(),
        })
    }
}

#[cfg(feature = "certificates")]
impl<T: Write, F: MultiwriteNorFlash, W: Wifi, C: Clock, N: Network>
    Executor<'_, '_, '_, T, F, W, C, N>
{
    /// Stores a certificate product's pair as `<dn>.crt` and `<dn>.key` (replacing files of
    /// those names) and returns the certificate's name for the device record. Both names
    /// must find room in the file table before anything is written (`207` otherwise).
    /// Each PEM is decoded from its JSON escapes into the second file buffer, which the
    /// reply body no longer needs.
    async fn store_identity(
        &mut self,
        state: &RamState,
        device_name: &[u8],
        certificate: ota::Text<'_>,
        key: ota::Text<'_>,
    ) -> Result<storage::Text<64>, i32> {
        let certificate_name = file_name(device_name, b".crt").ok_or(NOT_STORED)?;
        let key_name = file_name(device_name, b".key").ok_or(NOT_STORED)?;
        let table = &state.certificates;
        let missing = [&certificate_name, &key_name]
            .iter()
            .filter(|name| !table.contains(name))
            .count();
        if table.entries().len() + missing > storage::CERTIFICATE_FILES_MAX {
            return Err(NOT_STORED);
        }
        for (name, text) in [(&certificate_name, certificate), (&key_name, key)] {
            let mut length = 0;
            for byte in text.bytes() {
                *self.pair.get_mut(length).ok_or(NOT_STORED)? = byte;
                length += 1;
            }
            self.module
                .settings
                .store_certificate(name, &self.pair[..length])
                .await
                .map_err(|_| NOT_STORED)?;
        }
        Ok(certificate_name)
    }
}

/// `<dn><suffix>`, if it fits a file name.
#[cfg(feature = "certificates")]
fn file_name(device_name: &[u8], suffix: &[u8]) -> Option<storage::Text<64>> {
    let mut name = storage::Text::from_slice(device_name).ok()?;
    name.extend_from_slice(suffix).ok()?;
    Some(name)
}
