//! AT+TCMQTTPUBL and AT+TCMQTTPUBRAW (`commands.md` §4): publishing a payload sent in data
//! mode, because a command line cannot carry 2048 bytes, commas or binary.
//!
//! The handlers only check; the engine runs the data phase (`at-engine.md` §7) and then the
//! [`DataJob`]. PUBL rewrites the payload before publishing ([`neutralise`]), PUBRAW does not.

use mqtt_session::codec::QoS;

use super::mqtt_link::{link_checks, qos, topic_name};
use super::{Context, Step};
use crate::params::{ParamError, Params};
use crate::render::Reply;

/// Largest `<len>` of AT+TCMQTTPUBL / AT+TCMQTTPUBRAW.
pub const DATA_PUBLISH_MAX: usize = 2048;

/// What the engine does with the payload once the data phase is complete.
#[derive(Debug)]
pub enum DataJob {
    /// Publish the payload; the result line is `+<name>:OK` / `+<name>:FAIL,<code>`.
    Publish {
        /// `TCMQTTPUBL` or `TCMQTTPUBRAW`.
        name: &'static str,
        /// Topic name (valid UTF-8, no wildcards).
        topic: super::Topic,
        /// QoS 0 or 1.
        qos: QoS,
        /// Apply PUBL's escape neutralisation first.
        neutralise: bool,
    },
    /// AT+TCCERTADD: store the payload as the file `name` (replacing one of that name).
    #[cfg(feature = "certificates")]
    Certificate {
        /// A valid file name.
        name: super::certificates::FileName,
    },
}

/// AT+TCMQTTPUBL=?
pub fn tcmqttpubl_test(_: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.text_line("+TCMQTTPUBL: \"TOPIC_NAME(maxlen 128)\", \"QOS(0/1)\",\"LEN(1-2048)\"");
    reply.ok();
    Step::Done
}

/// AT+TCMQTTPUBRAW=?
pub fn tcmqttpubraw_test(_: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.text_line("+TCMQTTPUBRAW: \"TOPIC_NAME(maxlen 128)\", \"QOS(0/1)\",\"LEN(1-2048)\"");
    reply.ok();
    Step::Done
}

/// `AT+TCMQTTPUBL="<topic>",<qos>,<len>`
pub fn tcmqttpubl_set(context: &mut Context<'_>, reply: &mut Reply, params: Params<'_>) -> Step {
    publish_set(context, reply, &params, "TCMQTTPUBL", true)
}

/// `AT+TCMQTTPUBRAW="<topic>",<qos>,<len>`
pub fn tcmqttpubraw_set(context: &mut Context<'_>, reply: &mut Reply, params: Params<'_>) -> Step {
    publish_set(context, reply, &params, "TCMQTTPUBRAW", false)
}

fn publish_set(
    context: &Context<'_>,
    reply: &mut Reply,
    params: &Params<'_>,
    name: &'static str,
    neutralise: bool,
) -> Step {
    if let Some(step) = link_checks(context, reply, params, 3) {
        return step;
    }
    let checked = (|| {
        let topic = topic_name(params)?;
        let qos = qos(params, 1)?;
        let len = params.int_in(2, 1..=DATA_PUBLISH_MAX as i32)? as u16;
        Ok::<_, ParamError>((topic, qos, len))
    })();
    match checked {
        Ok((topic, qos, len)) => {
            // The engine enters data mode before writing `OK\r\n>\r\n` (§7.1).
            reply.data_prompt();
            Step::Data {
                len,
                kind: at_parser::DataKind::Publish,
                then: DataJob::Publish {
                    name,
                    topic,
                    qos,
                    neutralise,
                },
            }
        }
        Err(error) => {
            error.print_cme(reply);
            Step::Done
        }
    }
}

/// PUBL's escape neutralisation (`commands.md` §4, step 7), in place; the length never changes.
///
/// Why: hosts built for the original firmware escape `"` and `,` in JSON as they would inside
/// a quoted AT parameter, and the original published those escapes as spaces. A `\` before `,`
/// becomes a space; a `\"` becomes ` "` outside a string (`q` off) and `" ` inside one, and
/// toggles `q`. Every other byte, including `\\` and NUL, advances the scan by one byte only.
pub fn neutralise(payload: &mut [u8]) {
    let mut quoted = false;
    let mut index = 0;
    while index + 1 < payload.len() {
        if payload[index] != b'\\' {
            index += 1;
            continue;
        }
        match payload[index + 1] {
            b',' => payload[index] = b' ',
            b'"' => {
                if quoted {
                    payload[index] = b'"';
                    payload[index + 1] = b' ';
                } else {
                    payload[index] = b' ';
                }
                quoted = !quoted;
            }
            _ => {
                index += 1;
                continue;
            }
        }
        index += 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::Profile;
    use crate::handlers::testing::run_with_gates;
    use crate::state::{Gates, RamState};
    use proptest::prelude::*;
    use std::vec::Vec;

    fn neutralised(input: &[u8]) -> Vec<u8> {
        let mut bytes = input.to_vec();
        neutralise(&mut bytes);
        bytes
    }

    #[test]
    fn neutralisation_table() {
        let cases: &[(&[u8], &[u8])] = &[
            (br#"{\"a\":1\,\"b\":2}"#, br#"{ "a" :1 , "b" :2}"#),
            (br#"\\""#, br#"\ ""#),
            (br#"\\\""#, br#"\\ ""#),
            // The second `\"` finds q on: the pair becomes `" `.
            (br#"\"x\""#, br#" "x" "#),
            (br#"\"\"\""#, br#" ""  ""#),
            (b"\\\0\\\"\0", b"\\\0 \"\0"),
            (b"a\0\\,b", b"a\0 ,b"),
            (br#"\\"#, br#"\\"#),
            (br#"\"#, br#"\"#),
            (b"", b""),
            (br#"plain,text"#, br#"plain,text"#),
        ];
        for (input, expected) in cases {
            assert_eq!(
                neutralised(input),
                *expected,
                "input {:?}",
                std::string::String::from_utf8_lossy(input)
            );
        }
    }

    proptest! {
        #[test]
        fn neutralisation_keeps_the_length_and_touches_only_escapes(
            input in proptest::collection::vec(
                prop_oneof![Just(b'\\'), Just(b'"'), Just(b','), Just(0u8), any::<u8>()],
                0..64,
            )
        ) {
            let output = neutralised(&input);
            prop_assert_eq!(output.len(), input.len());
            for (before, after) in input.iter().zip(&output) {
                if before != after {
                    prop_assert!(*before == b'\\' || *before == b'"');
                    prop_assert!(*after == b' ' || *after == b'"');
                }
            }
            prop_assert!(!output.windows(2).any(|pair| pair == b"\\,"));
        }
    }

    fn conn() -> Gates {
        Gates {
            run: true,
            conn: true,
            ..Gates::default()
        }
    }

    fn answer(gates: Gates, line: &[u8]) -> (Vec<u8>, Step) {
        let mut state = RamState::boot(storage::Snapshot::default());
        run_with_gates(&mut state, Profile::Full, gates, line)
    }

    #[test]
    fn test_strings_are_exact() {
        let (output, _) = answer(Gates::default(), b"AT+TCMQTTPUBL=?\r\n");
        assert_eq!(
            output,
            b"+TCMQTTPUBL: \"TOPIC_NAME(maxlen 128)\", \"QOS(0/1)\",\"LEN(1-2048)\"\r\n\r\nOK\r\n"
        );
        let (output, _) = answer(Gates::default(), b"AT+TCMQTTPUBRAW=?\r\n");
        assert_eq!(
            output,
            b"+TCMQTTPUBRAW: \"TOPIC_NAME(maxlen 128)\", \"QOS(0/1)\",\"LEN(1-2048)\"\r\n\r\nOK\r\n"
        );
    }

    #[test]
    fn checks_run_in_the_spec_order() {
        let download = Gates {
            download: true,
            ..conn()
        };
        let cases: &[(Gates, &[u8], &[u8])] = &[
            // Not CONN comes before everything, even a wrong count.
            (
                Gates::default(),
                b"AT+TCMQTTPUBL=\"a\",0\r\n",
                b"+CME ERROR:208\r\n",
            ),
            (
                download,
                b"AT+TCMQTTPUBL=\"a\",0\r\n",
                b"+CME ERROR:200\r\n",
            ),
            (
                conn(),
                b"AT+TCMQTTPUBL=\"a\",0\r\n",
                b"ERR CODE:0x01060000\r\n\r\nERROR\r\n",
            ),
            (
                conn(),
                b"AT+TCMQTTPUBRAW=\"a\",0,1,2\r\n",
                b"ERR CODE:0x01060000\r\n\r\nERROR\r\n",
            ),
            (
                conn(),
                b"AT+TCMQTTPUBL=\"a/#\",0,5\r\n",
                b"+CME ERROR:204\r\n",
            ),
            (conn(), b"AT+TCMQTTPUBL=\"\",0,5\r\n", b"+CME ERROR:204\r\n"),
            (
                conn(),
                b"AT+TCMQTTPUBL=\"a\",2,5\r\n",
                b"+CME ERROR:204\r\n",
            ),
            (
                conn(),
                b"AT+TCMQTTPUBL=\"a\",0,0\r\n",
                b"+CME ERROR:204\r\n",
            ),
            (
                conn(),
                b"AT+TCMQTTPUBRAW=\"a\",0,2049\r\n",
                b"+CME ERROR:204\r\n",
            ),
            (
                conn(),
                b"AT+TCMQTTPUBL=\"a\",0,\"5\"\r\n",
                b"+CME ERROR:204\r\n",
            ),
        ];
        for (gates, line, expected) in cases {
            let (output, step) = answer(*gates, line);
            assert_eq!(
                output,
                *expected,
                "line {:?}",
                std::string::String::from_utf8_lossy(line)
            );
            assert!(matches!(step, Step::Done));
        }
    }

    #[test]
    fn accepted_line_asks_for_a_data_phase() {
        let (output, step) = answer(conn(), b"AT+TCMQTTPUBRAW=\"a/b\",1,2048\r\n");
        assert_eq!(output, b"OK\r\n>\r\n");
        let Step::Data {
            len,
            kind,
            then:
                DataJob::Publish {
                    name,
                    topic,
                    qos,
                    neutralise,
                },
        } = step
        else {
            panic!("expected a data phase, got {step:?}");
        };
        assert_eq!((len, kind), (2048, at_parser::DataKind::Publish));
        assert_eq!((name, topic.as_str()), ("TCMQTTPUBRAW", "a/b"));
        assert_eq!((qos, neutralise), (QoS::AtLeastOnce, false));
        let (_, step) = answer(conn(), b"AT+TCMQTTPUBL=\"a/b\",0,1\r\n");
        assert!(matches!(
            step,
            Step::Data {
                len: 1,
                then: DataJob::Publish {
                    name: "TCMQTTPUBL",
                    neutralise: true,
                    ..
                },
                ..
            }
        ));
    }
}
