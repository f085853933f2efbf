//! Encoding what the server sends: handshake messages, the `ServerHello` the script describes
//! (and whether a correct client accepts it), and the key block both sides derive.

use tls_psk::prf::prf;
use tls_psk::record::{BulkCipher, CipherState};

use crate::script::Hello;

impl Hello {
    /// The `ServerHello` body. Trailing bytes go after an extension block only: without one,
    /// they would be read as the block.
    pub fn encode(&self) -> Vec<u8> {
        let version = self.version_other_than_tls12.unwrap_or(0x0303);
        let mut body = version.to_be_bytes().to_vec();
        body.extend_from_slice(&self.random);
        let session_id = &self.session_id[..self.session_id.len().min(255)];
        body.push(session_id.len() as u8);
        body.extend_from_slice(session_id);
        body.extend_from_slice(&self.suite.value().to_be_bytes());
        body.push(self.compression);
        let mut extensions = Vec::new();
        if let Some(data) = &self.renegotiation {
            extension(&mut extensions, 0xFF01, data);
        }
        if let Some((extension_type, data)) = &self.unknown_extension {
            extension(&mut extensions, *extension_type, data);
        }
        if !extensions.is_empty() {
            body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
            body.extend_from_slice(&extensions);
            body.extend_from_slice(&self.trailing);
        }
        body
    }

    /// The bulk cipher of the chosen suite, if it is one the client offered.
    pub fn cipher(&self) -> Option<BulkCipher> {
        match self.suite.value() {
            0x008C => Some(BulkCipher::Aes128),
            0x008D => Some(BulkCipher::Aes256),
            _ => None,
        }
    }

    /// Whether a correct client accepts this hello as the first server message: TLS 1.2, a
    /// session id of at most 32 bytes, an offered suite, no compression, an empty
    /// `renegotiation_info` if any (RFC 5746 §3.4), nothing after the extensions.
    pub fn is_acceptable(&self) -> bool {
        let renegotiation_empty = |data: &Vec<u8>| data.as_slice() == [0];
        let has_extensions = self.renegotiation.is_some() || self.unknown_extension.is_some();
        self.version_other_than_tls12
            .is_none_or(|version| version == 0x0303)
            && self.session_id.len() <= 32
            && self.cipher().is_some()
            && self.compression == 0
            && self.renegotiation.as_ref().is_none_or(renegotiation_empty)
            && self
                .unknown_extension
                .as_ref()
                .is_none_or(|(extension_type, data)| {
                    *extension_type != 0xFF01 || renegotiation_empty(data)
                })
            && (!has_extensions || self.trailing.is_empty())
    }
}

pub fn message(message_type: u8, body: &[u8]) -> Vec<u8> {
    let mut bytes = vec![message_type];
    bytes.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    bytes.extend_from_slice(body);
    bytes
}

fn extension(block: &mut Vec<u8>, extension_type: u16, data: &[u8]) {
    let data = &data[..data.len().min(1024)];
    block.extend_from_slice(&extension_type.to_be_bytes());
    block.extend_from_slice(&(data.len() as u16).to_be_bytes());
    block.extend_from_slice(data);
}

/// The key block of RFC 5246 §6.3: the client's and the server's writing states.
pub fn cipher_states(
    master: &[u8; 48],
    cipher: BulkCipher,
    client_random: &[u8; 32],
    server_random: &[u8; 32],
) -> (CipherState, CipherState) {
    let key_length = cipher.key_length();
    let mut block = vec![0; 40 + 2 * key_length];
    prf(
        master,
        b"key expansion",
        &[server_random, client_random],
        &mut block,
    );
    let (macs, keys) = block.split_at(40);
    (
        CipherState::new(cipher, &keys[..key_length], &macs[..20]),
        CipherState::new(cipher, &keys[key_length..], &macs[20..]),
    )
}
