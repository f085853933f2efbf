//! The fuzzer's input: a scenario (key, buffers, read sizes) and a script of server actions,
//! derived with `arbitrary` so that mutations change actions rather than raw bytes.
//!
//! A `Flight::Canonical` scenario starts from the flight a correct server sends (computed by
//! the server model from the client's hello and the key) and applies a few edits to it; this
//! is what gets the fuzzer past the `Finished` check into the application-data phase, where a
//! purely random script almost never arrives.

use arbitrary::Arbitrary;

/// Which cipher suite a `ServerHello` names.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Suite {
    Aes128,
    Aes256,
    Other(u16),
}

impl Suite {
    pub fn value(self) -> u16 {
        match self {
            Self::Aes128 => 0x008C,
            Self::Aes256 => 0x008D,
            Self::Other(value) => value,
        }
    }
}

/// A `ServerHello` whose fields the fuzzer picks one by one.
#[derive(Arbitrary, Debug, Clone)]
pub struct Hello {
    pub version_other_than_tls12: Option<u16>,
    pub random: [u8; 32],
    pub session_id: Vec<u8>,
    pub suite: Suite,
    pub compression: u8,
    /// `renegotiation_info` extension data (a correct server sends `[0]` or nothing).
    pub renegotiation: Option<Vec<u8>>,
    /// Any other extension; the client ignores unknown ones.
    pub unknown_extension: Option<(u16, Vec<u8>)>,
    /// Bytes after the extensions (a decode error).
    pub trailing: Vec<u8>,
}

impl Hello {
    /// The hello a correct server sends.
    pub fn correct(suite: Suite, random: [u8; 32]) -> Self {
        Self {
            version_other_than_tls12: None,
            random,
            session_id: Vec::new(),
            suite,
            compression: 0,
            renegotiation: Some(vec![0]),
            unknown_extension: None,
            trailing: Vec::new(),
        }
    }
}

/// How the server's `Finished` is made.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Finished {
    /// `verify_data` over the true transcript.
    Correct,
    /// The correct value with one byte flipped (`xor` 0 is taken as 1).
    Flipped { index: u8, xor: u8 },
    /// A body of this length, all zero.
    Length(u8),
}

/// One step of the hostile server.
#[derive(Arbitrary, Debug, Clone)]
pub enum Action {
    ServerHello(Hello),
    KeyExchange {
        hint: Vec<u8>,
        trailing: Vec<u8>,
    },
    HelloDone {
        body: Vec<u8>,
    },
    HelloRequest {
        body: Vec<u8>,
    },
    /// A handshake message of a type a PSK client never expects (types 0, 1, 2, 12, 14, 16
    /// and 20 are moved to 11, a `Certificate`).
    OtherMessage {
        message_type: u8,
        body: Vec<u8>,
    },
    Finished(Finished),
    /// Sends the queued handshake bytes as records of at most `cut` bytes (0: one empty
    /// record, then everything).
    Flush {
        cut: u16,
    },
    ChangeCipherSpec {
        value: u8,
    },
    Alert {
        level: u8,
        description: u8,
    },
    ApplicationData(Vec<u8>),
    /// Flips a byte of the next record's fragment.
    Corrupt {
        offset: u16,
        xor: u8,
    },
    /// A record of the server's choosing, sent as is (never encrypted).
    RawRecord {
        content_type: u8,
        version: u16,
        fragment: Vec<u8>,
    },
    /// Bytes that need not be records at all.
    RawBytes(Vec<u8>),
    /// Ends the transport stream.
    Close,
    /// The transport fails on the next read.
    TransportError,
}

/// A change to the correct flight.
#[derive(Arbitrary, Debug, Clone)]
pub enum Edit {
    Remove(u8),
    Insert(u8, Action),
    Swap(u8, u8),
    Duplicate(u8),
}

#[derive(Arbitrary, Debug, Clone)]
pub enum Flight {
    Canonical {
        suite: Suite,
        random: [u8; 32],
        hint: Option<Vec<u8>>,
        cut: u16,
        application: Vec<Vec<u8>>,
        edits: Vec<Edit>,
    },
    Scripted(Vec<Action>),
}

impl Flight {
    /// The actions the server runs.
    pub fn actions(self) -> Vec<Action> {
        match self {
            Self::Scripted(actions) => actions,
            Self::Canonical {
                suite,
                random,
                hint,
                cut,
                application,
                edits,
            } => {
                let mut actions = vec![Action::ServerHello(Hello::correct(suite, random))];
                if let Some(hint) = hint {
                    actions.push(Action::KeyExchange {
                        hint,
                        trailing: Vec::new(),
                    });
                }
                actions.push(Action::HelloDone { body: Vec::new() });
                actions.push(Action::Flush { cut });
                actions.push(Action::ChangeCipherSpec { value: 1 });
                actions.push(Action::Finished(Finished::Correct));
                actions.push(Action::Flush { cut });
                actions.extend(application.into_iter().map(Action::ApplicationData));
                actions.push(Action::Alert {
                    level: 1,
                    description: 0,
                });
                for edit in edits {
                    apply(&mut actions, edit);
                }
                actions
            }
        }
    }
}

fn apply(actions: &mut Vec<Action>, edit: Edit) {
    let count = actions.len();
    let index = |value: u8| usize::from(value) % count.max(1);
    match edit {
        Edit::Remove(at) if count > 0 => {
            actions.remove(index(at));
        }
        Edit::Insert(at, action) => actions.insert(usize::from(at) % (count + 1), action),
        Edit::Swap(first, second) if count > 0 => actions.swap(index(first), index(second)),
        Edit::Duplicate(at) if count > 0 => {
            let copy = actions[index(at)].clone();
            actions.insert(index(at), copy);
        }
        _ => {}
    }
}

/// What the client does once connected.
#[derive(Arbitrary, Debug, Clone)]
pub enum Step {
    Read(u8),
    Write(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
pub struct Scenario {
    pub key: Vec<u8>,
    /// The server holds a different key: no handshake may succeed.
    pub server_key_differs: bool,
    pub server_name: bool,
    /// `None`: the recommended 16 437 bytes; `Some(n)`: `64 + 8n` bytes.
    pub read_buffer: Option<u8>,
    /// Sizes of the transport's reads, used in turn (0: all available bytes).
    pub read_sizes: Vec<u8>,
    pub flight: Flight,
    pub steps: Vec<Step>,
}
