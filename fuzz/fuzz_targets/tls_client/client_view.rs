//! The server's reading of the client's output: records framed, decrypted when the model
//! knows the client's keys, and the facts the oracle checks (alerts, what follows a fatal
//! alert, application data).

use tls_psk::record::{parse_record_header, CipherState, ContentType, HEADER_LENGTH};

/// A handshake message the client sent.
pub enum ClientMessage {
    /// Before the client's `ChangeCipherSpec`: `ClientHello`, `ClientKeyExchange`.
    Plain(Vec<u8>),
    /// The encrypted `Finished`, decrypted when the client's keys are the model's.
    Finished(Option<Vec<u8>>),
}

#[derive(Default)]
pub struct ClientView {
    consumed: usize,
    reading: Option<CipherState>,
    encrypting: bool,
    /// The client encrypts with keys the model does not have (a different key).
    pub unreadable: bool,
    pub records: usize,
    /// Application data the client sent, decrypted, and the bytes of its records.
    pub application: Vec<u8>,
    pub application_wire: usize,
    /// Readable alerts, `[level, description]`, and alert records of any content.
    pub alerts: Vec<[u8; 2]>,
    pub alert_records: usize,
    /// Content type of the client's last record.
    pub last_type: Option<u8>,
    fatal_sent: bool,
    pub records_after_fatal: usize,
}

impl ClientView {
    /// Reads the whole records the client added to `output` since the last call.
    pub fn read(&mut self, output: &[u8], client_keys: Option<&CipherState>) -> Vec<ClientMessage> {
        let mut messages = Vec::new();
        loop {
            let rest = &output[self.consumed..];
            let Ok(header) = parse_record_header(rest) else {
                assert!(
                    rest.len() < HEADER_LENGTH,
                    "the client wrote a malformed record header"
                );
                return messages;
            };
            let end = HEADER_LENGTH + header.length;
            let Some(record) = rest.get(..end) else {
                return messages;
            };
            self.consumed += end;
            self.records += 1;
            if self.fatal_sent {
                self.records_after_fatal += 1;
            }
            let content_type = header.content_type;
            self.last_type = Some(content_type.value());
            let mut fragment = record[HEADER_LENGTH..].to_vec();
            let plaintext = if !self.encrypting {
                Some(fragment)
            } else if let Some(state) = self.reading.as_mut() {
                match state.open(content_type, &mut fragment) {
                    Ok(range) => Some(fragment[range].to_vec()),
                    Err(_) => {
                        // Keys differ from the model's: the rest cannot be read either.
                        self.reading = None;
                        self.unreadable = true;
                        None
                    }
                }
            } else {
                None
            };
            match content_type {
                ContentType::ChangeCipherSpec => {
                    assert_eq!(
                        plaintext.as_deref(),
                        Some(&[1][..]),
                        "client ChangeCipherSpec"
                    );
                    assert!(!self.encrypting, "the client changed cipher twice");
                    self.encrypting = true;
                    self.reading = client_keys.cloned();
                    self.unreadable = self.reading.is_none();
                }
                ContentType::Handshake if self.encrypting => {
                    messages.push(ClientMessage::Finished(plaintext));
                }
                ContentType::Handshake => {
                    messages.push(ClientMessage::Plain(plaintext.unwrap_or_default()))
                }
                ContentType::Alert => {
                    self.alert_records += 1;
                    if let Some(alert) = plaintext {
                        let alert: [u8; 2] = alert.try_into().expect("an alert is two bytes");
                        self.fatal_sent |= alert[0] == 2;
                        self.alerts.push(alert);
                    }
                }
                ContentType::ApplicationData => {
                    self.application_wire += end;
                    if let Some(data) = plaintext {
                        self.application.extend_from_slice(&data);
                    }
                }
                _ => panic!("the client sent an unknown content type"),
            }
        }
    }
}
