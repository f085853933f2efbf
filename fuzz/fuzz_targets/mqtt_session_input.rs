//! A hostile broker against the MQTT session state machine; the script format and the
//! invariants live in `mqtt_session::fuzzing::session_input`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mqtt_session::fuzzing::session_input(data));
