//! Entry points for fuzz targets (the `fuzz/` workspace calls these with arbitrary bytes).
//!
//! Each function panics only when an invariant breaks, so a fuzzer finds both crashes and
//! wrong behaviour: the codec must re-encode whatever it accepts to an equal packet, and the
//! session must never write anything that is not valid MQTT, whatever the broker sends.

use crate::codec::{decode, Packet, QoS};
use crate::session::{Session, SessionConfig, SlotKind};
use crate::tencent::{Authentication, Identity};

/// The topic the session fuzz target publishes to.
const TOPIC: &str = "CTQS08Y5LG/Dev01/data";

/// Decodes `data` packet by packet; every accepted packet must encode to bytes that decode
/// to the same packet.
pub fn codec_round_trip(data: &[u8]) {
    let mut rest = data;
    let mut buffer = [0u8; 4096];
    while let Ok(Some((packet, used))) = decode(rest) {
        assert!(
            used >= 2 && used <= rest.len(),
            "consumed length out of range"
        );
        if packet.encoded_length() <= buffer.len() {
            let written = packet
                .encode(&mut buffer)
                .expect("an accepted packet encodes");
            assert!(
                written <= used,
                "encoding is never longer than the (possibly non-minimal) input"
            );
            let again = decode(&buffer[..written]).expect("own encoding decodes");
            assert_eq!(
                again,
                Some((packet, written)),
                "round trip changes the packet"
            );
        }
        rest = &rest[used..];
    }
}

/// Plays a broker against a session. `data` is a sequence of segments
/// `[control, length, length bytes from the broker]`; `control` picks a command or transport
/// event (`control % 8`: 0 transport closed, 1 transport opened, 2 QoS 1 publish (above
/// 127: lend a payload area and write the segment into it, or publish what the lent area
/// holds), 3 subscribe, 4 unsubscribe, 5 disconnect (only above 250), 6 CONNACK accepted,
/// 7 none) and advances the clock by `control · 97` ms. After every step the bytes the session
/// wrote must be valid client-side MQTT, and a lent payload area must hold what was written
/// into it.
pub fn session_input(data: &[u8]) {
    let mut seed = 0x9E37_79B9u32;
    let mut session: Session<_, 2304, 2560> = Session::new(move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    });
    let Ok(identity) = Identity::new(
        "CTQS08Y5LG",
        "Dev01",
        "ZHNkIGRzZCA=",
        Authentication::HmacSha1,
    ) else {
        return;
    };
    let config = SessionConfig {
        command_timeout_ms: 1000,
        keep_alive_s: 60,
        clean_session: true,
        reconnect: true,
    };
    let mut now = 0u64;
    let mut holding = false;
    let mut lent: Option<&[u8]> = None;
    let mut rest = data;
    while let [control, length, tail @ ..] = rest {
        let (input, next) = tail.split_at(usize::from(*length).min(tail.len()));
        rest = next;
        if !session.is_running() {
            let _ = session.connect(config, &identity, now);
        }
        match control % 8 {
            0 => session.transport_closed(now),
            1 => session.transport_opened(&identity, now),
            2 if *control > 127 => match lent.take() {
                None => {
                    if let Some(area) = session.payload_area(input.len()) {
                        area.copy_from_slice(input);
                        lent = Some(input);
                    }
                }
                Some(payload) => {
                    let area = session.lent_payload_area().expect("a lent area stays lent");
                    assert_eq!(area, payload, "nothing is written into a lent area");
                    let length = payload.len();
                    let _ = session.publish_staged(TOPIC, length, QoS::AtLeastOnce, now);
                }
            },
            2 => {
                let _ = session.publish(TOPIC, input, QoS::AtLeastOnce, now);
            }
            3 => {
                let _ =
                    session.subscribe(SlotKind::User, "CTQS08Y5LG/+/data", QoS::AtLeastOnce, now);
            }
            4 => {
                let _ = session.unsubscribe(SlotKind::User, "CTQS08Y5LG/+/data", now);
            }
            5 if *control > 250 => {
                let _ = session.disconnect();
            }
            6 => feed(&mut session, &[0x20, 0x02, 0x00, 0x00], now),
            // Back-pressure: release a held message (the runner wrote it).
            7 if holding => {
                assert!(session.held_message().is_some(), "a held message stays");
                session.release_held(now);
                holding = false;
            }
            _ => {}
        }
        feed(&mut session, input, now);
        now += u64::from(*control) * 97;
        // Odd controls hold the next delivered message instead of passing it on.
        holding = drain_holding(&mut session, now, holding || control % 2 == 1);
    }
}

/// Polls until idle; with `hold`, holds the first message delivered (or keeps holding) and
/// checks that nothing else is delivered meanwhile. Returns whether a message is held.
fn drain_holding<R: crate::session::Entropy>(
    session: &mut Session<R, 2304, 2560>,
    now: u64,
    hold: bool,
) -> bool {
    let was_holding = session.is_holding();
    while let Some(event) = session.poll(now) {
        if let crate::session::Event::Message(message) = event {
            assert!(!was_holding, "no message is delivered while one is held");
            if hold {
                let (topic, length) = (message.topic.len(), message.payload.len());
                session.hold_message(now);
                let held = session.held_message().expect("the message just delivered");
                assert_eq!((held.topic.len(), held.payload.len()), (topic, length));
                break;
            }
        }
    }
    check_output(session.transmit());
    let pending = session.transmit().len();
    session.mark_transmitted(pending);
    session.is_holding()
}

fn feed<R: crate::session::Entropy>(
    session: &mut Session<R, 2304, 2560>,
    mut input: &[u8],
    now: u64,
) {
    while !input.is_empty() {
        let taken = session.handle_input(input);
        input = &input[taken..];
        if session.is_holding() {
            // A held message blocks decoding: what does not fit waits (the runner stops
            // reading), as `can_take_input` says.
            if taken == 0 {
                assert!(!session.can_take_input());
                return;
            }
            continue;
        }
        drain(session, now);
        if taken == 0 && session.handle_input(input) == 0 {
            // Still no room after the session worked: the rest is not accepted.
            return;
        }
    }
}

fn drain<R: crate::session::Entropy>(session: &mut Session<R, 2304, 2560>, now: u64) {
    while session.poll(now).is_some() {}
    check_output(session.transmit());
    let pending = session.transmit().len();
    session.mark_transmitted(pending);
}

fn check_output(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        match decode(bytes) {
            Ok(Some((packet, used))) => {
                assert!(
                    !matches!(
                        packet,
                        Packet::ConnAck(_) | Packet::SubAck(_) | Packet::PingResp
                    ),
                    "a client never sends server packets"
                );
                bytes = &bytes[used..];
            }
            other => panic!("session wrote invalid MQTT: {other:?}"),
        }
    }
}
