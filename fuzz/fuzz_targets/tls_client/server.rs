//! The hostile server and its model of what a correct client must do.
//!
//! The server runs the script's actions one at a time, but only when the client wants to read,
//! so it sees the client's flights before it answers (as a real server does) and can compute a
//! correct `Finished` over the true transcript. Beside the bytes it sends, it keeps the facts
//! the oracle needs: whether everything sent so far is something a correct client accepts
//! (`tainted` once it is not), whether a correct `Finished` reached the client untainted, and
//! the application data a correct client hands out.

use sha2::{Digest, Sha256};
use tls_psk::prf::{master_secret, psk_premaster_secret, verify_data, MAX_PSK_LENGTH};
use tls_psk::record::{CipherState, ContentType, MAX_PLAINTEXT_LENGTH, PLAINTEXT_OFFSET};

use crate::client_view::{ClientMessage, ClientView};
use crate::script::{Action, Finished, Hello};
use crate::wire::{cipher_states, message};

/// Where the handshake stands, as the server has played it so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Start,
    Hello,
    KeyExchange,
    Done,
    ChangedCipher,
    Established,
}

/// How the session ended from the server's side, once established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    CloseNotify,
    FatalAlert(u8),
    StreamClosed,
    TransportError,
}

/// Messages or records bigger than this make a run "oversize": a correct client may refuse
/// them for lack of buffer, so no success is demanded.
const COMFORTABLE: usize = 4096;

pub struct Server {
    key: Vec<u8>,
    stage: Stage,
    transcript: Sha256,
    client_random: Option<[u8; 32]>,
    master: Option<[u8; 48]>,
    /// The client's and the server's writing states, once a correct hello fixed the keys.
    keys: Option<(CipherState, CipherState)>,
    writing: Option<CipherState>,
    /// Handshake bytes waiting for a `Flush`, and the offsets where a record must end.
    pending: Vec<u8>,
    must_end: Vec<usize>,
    /// Offset in `pending` where the established session's messages start (0 once the
    /// correct `Finished` has been sent: everything queued since belongs to the session).
    after_finished: Option<usize>,
    /// Offset in `pending` of the first message a correct client refuses: the record that
    /// carries it taints the run, not its queueing (a correct `Finished` may go before it).
    refused_from: Option<usize>,
    corrupt: Option<(u16, u8)>,
    /// The client's output as read so far.
    pub client: ClientView,
    client_finished_seen: bool,
    /// Whether the client's and the server's keys are the same (the model checks the
    /// client's own `Finished` only then).
    same_key: bool,

    /// Something was sent that a correct client refuses.
    pub tainted: bool,
    /// A correct `Finished` reached the client before anything tainted.
    pub established: bool,
    pub oversize: bool,
    /// Application data sent while nothing was tainted, in order.
    pub application: Vec<u8>,
    pub end: Option<End>,
    /// Alert descriptions the server sent.
    pub alerts: Vec<u8>,
    pub records_sent: usize,
    /// Bytes went out that the model did not compose (raw records, corruption).
    pub forged: bool,
    pub transport_error: bool,
    pub stream_ended: bool,
}

impl Server {
    pub fn new(key: Vec<u8>, same_key: bool) -> Self {
        Self {
            key,
            stage: Stage::Start,
            transcript: Sha256::new(),
            client_random: None,
            master: None,
            keys: None,
            writing: None,
            pending: Vec::new(),
            must_end: Vec::new(),
            after_finished: None,
            refused_from: None,
            corrupt: None,
            client: ClientView::default(),
            client_finished_seen: false,
            same_key,
            tainted: false,
            established: false,
            oversize: false,
            application: Vec::new(),
            end: None,
            alerts: Vec::new(),
            records_sent: 0,
            forged: false,
            transport_error: false,
            stream_ended: false,
        }
    }

    /// Takes in the client's new records: its handshake messages join the transcript.
    pub fn read_client(&mut self, client: &[u8]) {
        let client_keys = self.keys.as_ref().map(|(client, _)| client);
        for sent in self.client.read(client, client_keys) {
            match sent {
                ClientMessage::Plain(bytes) => {
                    if self.client_random.is_none() {
                        self.client_random =
                            bytes.get(6..38).and_then(|random| random.try_into().ok());
                    }
                    self.transcript.update(&bytes);
                }
                ClientMessage::Finished(decrypted) => {
                    let expected = self.master.map(|master| {
                        let hash = self.transcript.clone().finalize().into();
                        message(20, &verify_data(&master, b"client finished", &hash))
                    });
                    if let (Some(decrypted), Some(expected)) = (&decrypted, &expected) {
                        assert!(
                            !self.same_key || self.tainted || decrypted == expected,
                            "the client's Finished does not match the transcript"
                        );
                    }
                    if let Some(bytes) = decrypted.or(expected) {
                        self.transcript.update(&bytes);
                    }
                    self.client_finished_seen = true;
                }
            }
        }
    }

    /// Runs one action and returns the bytes it puts on the wire.
    pub fn act(&mut self, action: Action, client: &[u8]) -> Vec<u8> {
        self.read_client(client);
        let mut wire = Vec::new();
        match action {
            Action::ServerHello(hello) => self.server_hello(&hello),
            Action::KeyExchange { hint, trailing } => {
                let hint = &hint[..hint.len().min(0xFFFF)];
                let mut body = (hint.len() as u16).to_be_bytes().to_vec();
                body.extend_from_slice(hint);
                body.extend_from_slice(&trailing);
                let correct = self.stage == Stage::Hello && trailing.is_empty();
                self.queue(12, &body, correct.then_some(Stage::KeyExchange));
            }
            Action::HelloDone { body } => {
                let correct = matches!(self.stage, Stage::Hello | Stage::KeyExchange);
                self.queue(
                    14,
                    &body,
                    (correct && body.is_empty()).then_some(Stage::Done),
                );
                self.must_end.push(self.pending.len());
            }
            Action::HelloRequest { body } => {
                // Skipped by the client and left out of the transcript (RFC 5246 §7.4.1.1).
                let skipped = !matches!(self.stage, Stage::Done) && body.is_empty();
                if !skipped {
                    self.refused_from.get_or_insert(self.pending.len());
                }
                self.pending.extend(message(0, &body));
            }
            Action::OtherMessage { message_type, body } => {
                let message_type = match message_type {
                    0 | 1 | 2 | 12 | 14 | 16 | 20 => 11,
                    other => other,
                };
                self.queue(message_type, &body, None);
            }
            Action::Finished(kind) => self.finished(kind),
            Action::Flush { cut } => self.flush(usize::from(cut), &mut wire),
            Action::ChangeCipherSpec { value } => {
                self.flush(usize::MAX, &mut wire);
                let correct = value == 1 && self.stage == Stage::Done;
                self.record(ContentType::ChangeCipherSpec, &[value], correct, &mut wire);
                if correct {
                    self.stage = Stage::ChangedCipher;
                }
                if value == 1 {
                    self.writing = self.keys.as_ref().map(|(_, server)| server.clone());
                }
            }
            Action::Alert { level, description } => {
                self.flush(usize::MAX, &mut wire);
                self.alerts.push(description);
                let established = self.stage == Stage::Established;
                // The client skips warnings other than close_notify, in the handshake too.
                let warning = level == 1 && description != 0;
                let correct = established || warning;
                self.record(
                    ContentType::Alert,
                    &[level, description],
                    correct,
                    &mut wire,
                );
                if established && !self.tainted && self.end.is_none() {
                    if description == 0 {
                        self.end = Some(End::CloseNotify);
                    } else if level != 1 {
                        self.end = Some(End::FatalAlert(description));
                    }
                }
            }
            Action::ApplicationData(data) => {
                self.flush(usize::MAX, &mut wire);
                let data = &data[..data.len().min(MAX_PLAINTEXT_LENGTH)];
                let correct = self.stage == Stage::Established;
                self.record(ContentType::ApplicationData, data, correct, &mut wire);
                if !self.tainted && self.end.is_none() {
                    self.application.extend_from_slice(data);
                }
            }
            Action::Corrupt { offset, xor } => self.corrupt = Some((offset, xor.max(1))),
            Action::RawRecord {
                content_type,
                version,
                fragment,
            } => {
                self.flush(usize::MAX, &mut wire);
                self.tainted = true;
                self.forged = true;
                wire.push(content_type);
                wire.extend_from_slice(&version.to_be_bytes());
                wire.extend_from_slice(&(fragment.len() as u16).to_be_bytes());
                wire.extend_from_slice(&fragment);
                self.records_sent += 1;
            }
            Action::RawBytes(bytes) => {
                self.flush(usize::MAX, &mut wire);
                self.tainted |= !bytes.is_empty();
                self.forged |= !bytes.is_empty();
                wire.extend_from_slice(&bytes);
            }
            Action::Close => self.stop(End::StreamClosed),
            Action::TransportError => {
                self.stop(End::TransportError);
                self.transport_error = true;
            }
        }
        wire
    }

    /// Sends whatever is still queued; the script has run out.
    pub fn finish(&mut self, client: &[u8]) -> Vec<u8> {
        self.read_client(client);
        let mut wire = Vec::new();
        self.flush(usize::MAX, &mut wire);
        self.stop(End::StreamClosed);
        wire
    }

    fn stop(&mut self, end: End) {
        self.stream_ended = true;
        if self.stage == Stage::Established && !self.tainted {
            self.end.get_or_insert(end);
        } else {
            self.tainted = true;
        }
    }

    fn server_hello(&mut self, hello: &Hello) {
        let (body, cipher) = (hello.encode(), hello.cipher());
        let correct = self.stage == Stage::Start && hello.is_acceptable();
        self.queue(2, &body, correct.then_some(Stage::Hello));
        if let (true, Some(cipher), Some(client_random)) = (correct, cipher, self.client_random) {
            let mut premaster = [0; 4 + 2 * MAX_PSK_LENGTH];
            if let Some(length) = psk_premaster_secret(&self.key, &mut premaster) {
                let master = master_secret(&premaster[..length], &client_random, &hello.random);
                self.keys = Some(cipher_states(
                    &master,
                    cipher,
                    &client_random,
                    &hello.random,
                ));
                self.master = Some(master);
            }
        }
    }

    fn finished(&mut self, kind: Finished) {
        let mut verify = match self.master {
            Some(master) => verify_data(
                &master,
                b"server finished",
                &self.transcript.clone().finalize().into(),
            )
            .to_vec(),
            None => vec![0; 12],
        };
        let correct = matches!(kind, Finished::Correct)
            && self.stage == Stage::ChangedCipher
            && self.master.is_some()
            && self.client_finished_seen;
        match kind {
            Finished::Correct => {}
            Finished::Flipped { index, xor } => verify[usize::from(index) % 12] ^= xor.max(1),
            Finished::Length(length) => verify = vec![0; usize::from(length)],
        }
        self.queue(20, &verify, correct.then_some(Stage::Established));
        self.must_end.push(self.pending.len());
        if correct {
            self.after_finished = Some(self.pending.len());
        }
    }

    /// Queues a handshake message; `next` is the stage it correctly leads to, `None` when a
    /// correct client must refuse it.
    fn queue(&mut self, message_type: u8, body: &[u8], next: Option<Stage>) {
        let bytes = message(message_type, body);
        self.oversize |= bytes.len() > COMFORTABLE;
        self.transcript.update(&bytes);
        match next {
            Some(stage) => self.stage = stage,
            None => {
                self.refused_from.get_or_insert(self.pending.len());
            }
        }
        self.pending.extend_from_slice(&bytes);
    }

    /// Sends the queued handshake bytes in records of at most `cut` bytes; `cut` 0 sends an
    /// empty record first, which RFC 5246 §6.2.1 forbids.
    fn flush(&mut self, cut: usize, wire: &mut Vec<u8>) {
        if cut == 0 {
            self.record(ContentType::Handshake, &[], false, wire);
        }
        let pending = std::mem::take(&mut self.pending);
        let must_end = std::mem::take(&mut self.must_end);
        let after_finished = self.after_finished.take();
        let refused_from = self.refused_from.take();
        let mut start = 0;
        for chunk in pending.chunks(cut.max(1).min(pending.len().max(1))) {
            let end = start + chunk.len();
            let cut_inside = must_end.iter().any(|&at| start < at && at < end);
            // Once established, only a whole `HelloRequest` per record is acceptable.
            let established_part = after_finished.is_some_and(|at| end > at);
            let refused = refused_from.is_some_and(|at| end > at);
            let correct = !cut_inside && !refused && (!established_part || chunk == [0, 0, 0, 0]);
            self.record(ContentType::Handshake, chunk, correct, wire);
            if after_finished == Some(end) && !self.tainted {
                self.established = true;
            }
            start = end;
        }
        if after_finished.is_some() {
            self.after_finished = Some(0);
        }
    }

    /// Sends one record, encrypted once the server changed cipher; `correct` says whether a
    /// correct client accepts it.
    fn record(
        &mut self,
        content_type: ContentType,
        fragment: &[u8],
        correct: bool,
        wire: &mut Vec<u8>,
    ) {
        self.records_sent += 1;
        self.oversize |= fragment.len() > COMFORTABLE;
        let mut record = match &mut self.writing {
            Some(state) => {
                let mut record = vec![0; CipherState::sealed_length(fragment.len())];
                record[PLAINTEXT_OFFSET..PLAINTEXT_OFFSET + fragment.len()]
                    .copy_from_slice(fragment);
                let iv = [self.records_sent as u8; 16];
                match state.seal(content_type, &mut record, fragment.len(), iv) {
                    Ok(length) => record.truncate(length),
                    Err(_) => record.clear(),
                }
                record
            }
            None => {
                let mut record = vec![content_type.value(), 3, 3];
                record.extend_from_slice(&(fragment.len() as u16).to_be_bytes());
                record.extend_from_slice(fragment);
                record
            }
        };
        let fits = !record.is_empty() && fragment.len() <= MAX_PLAINTEXT_LENGTH;
        if !correct || !fits {
            self.tainted = true;
        }
        if let Some((offset, xor)) = self.corrupt.take() {
            if record.len() > 5 {
                let index = 5 + usize::from(offset) % (record.len() - 5);
                record[index] ^= xor;
                self.tainted = true;
                self.forged = true;
            }
        }
        wire.extend_from_slice(&record);
    }
}
