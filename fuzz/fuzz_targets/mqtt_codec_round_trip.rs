//! Arbitrary bytes through the MQTT codec; the invariants live in
//! `mqtt_session::fuzzing::codec_round_trip` so the unit tests can call them too.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mqtt_session::fuzzing::codec_round_trip(data));
