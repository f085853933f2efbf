//! The executor's certificate jobs (`commands.md` §2): storing AT+TCCERTADD's payload, the
//! checks of AT+TCCERTCHECK and the deletion of AT+TCCERTDEL, plus reading the pair of TLS
//! mode 2 for AT+TCMQTTCONN. The RAM copy of the file table follows every successful write.

use embedded_io_async::Write;
use embedded_storage_async::nor_flash::MultiwriteNorFlash;
use storage::CertificateError;

use super::Executor;
use crate::board::{Clock, Network, Wifi};
use crate::fmt::warning;
use crate::handlers::certificates::partner;
use crate::state::RamState;

/// `FAIL` code of a missing, unparsable or mismatched file.
const CHECK_FAILED: i32 = 203;
/// `FAIL` code of a full table or a flash error.
const FLASH_ERROR: i32 = 207;

impl<T: Write, F: MultiwriteNorFlash, W: Wifi, C: Clock, N: Network>
    Executor<'_, '_, '_, T, F, W, C, N>
{
    /// AT+TCCERTADD after its data phase: stores the first `len` payload bytes as `name`.
    // See `check_pair` for why the data buffer may stay borrowed across the flash write.
    #[allow(clippy::await_holding_refcell_ref)]
    pub(super) async fn store_certificate(
        &mut self,
        state: &mut RamState,
        name: &[u8],
        len: usize,
    ) {
        let settings = &mut *self.module.settings;
        let data = self.mqtt.data.borrow();
        let stored = settings.store_certificate(name, &data[..len]).await;
        drop(data);
        match stored {
            Ok(()) => {
                self.refresh_table(state).await;
                self.reply.result_ok("TCCERTADD");
            }
            Err(_) => self.reply.result_fail("TCCERTADD", FLASH_ERROR),
        }
    }

    /// AT+TCCERTDEL after its `OK`.
    pub(super) async fn delete_certificate(&mut self, state: &mut RamState, name: &[u8]) {
        match self.module.settings.delete_certificate(name).await {
            Ok(()) => {
                self.refresh_table(state).await;
                self.reply.result_ok("TCCERTDEL");
            }
            Err(CertificateError::NotFound) => self.reply.result_fail("TCCERTDEL", CHECK_FAILED),
            Err(_) => self.reply.result_fail("TCCERTDEL", FLASH_ERROR),
        }
    }

    /// AT+TCCERTCHECK after its `OK`: the file must parse as its type and, when the other
    /// half of its pair is stored too, the key must match the certificate.
    pub(super) async fn check_certificate(&mut self, state: &RamState, name: &[u8]) {
        let passed = self.check_pair(state, name).await;
        if passed {
            self.reply.result_ok("TCCERTCHECK");
        } else {
            self.reply.result_fail("TCCERTCHECK", CHECK_FAILED);
        }
    }

    // The data buffer stays borrowed across the flash reads: the service only reads it for a
    // publish request, and the executor sends none while it runs this job.
    #[allow(clippy::await_holding_refcell_ref)]
    async fn check_pair(&mut self, state: &RamState, name: &[u8]) -> bool {
        let Some(other) = partner(name) else {
            return false;
        };
        let settings = &mut *self.module.settings;
        let mut data = self.mqtt.data.borrow_mut();
        let Ok(size) = settings.read_certificate(name, &mut *data).await else {
            return false;
        };
        let other_size = if state.certificates.contains(&other) {
            match settings.read_certificate(&other, &mut self.pair).await {
                Ok(size) => Some(size),
                // The other half exists but cannot be read: the pair cannot be used.
                Err(_) => return false,
            }
        } else {
            None
        };
        let file = Some(&data[..size]);
        let other = other_size.map(|size| &self.pair[..size]);
        if name.ends_with(b".crt") {
            self.certificates.check(file, other)
        } else {
            self.certificates.check(other, file)
        }
    }

    /// Reads the certificate `name` and its key `<base>.key` for TLS mode 2 straight into the
    /// service's client files (kept for reconnects); false when either cannot be read
    /// (`-702`).
    // The files stay borrowed across the flash reads: only the service reads them, and only
    // while it opens a link, which cannot happen while a connect may start (RUN is false).
    #[allow(clippy::await_holding_refcell_ref)]
    pub(super) async fn load_client_files(&mut self, name: &[u8]) -> bool {
        let Some(key_name) = partner(name) else {
            return false;
        };
        let Ok(mut files) = self.mqtt.client_files.try_borrow_mut() else {
            return false;
        };
        let files = &mut *files;
        let settings = &mut *self.module.settings;
        for (file, vector) in [(name, &mut files.certificate), (&key_name, &mut files.key)] {
            vector.clear();
            // Capacity is CERTIFICATE_SIZE_MAX, the largest stored file.
            let _ = vector.resize(vector.capacity(), 0);
            match settings.read_certificate(file, vector).await {
                Ok(size) => vector.truncate(size),
                Err(_) => {
                    vector.clear();
                    return false;
                }
            }
        }
        true
    }

    /// Mirrors the flash's file table after a write.
    pub(super) async fn refresh_table(&mut self, state: &mut RamState) {
        if let Ok(table) = self.module.settings.certificates().await {
            state.certificates = table;
        } else {
            warning!("certificate table unreadable after a write");
        }
    }
}
