//! The OTA commands (`commands.md` §5): AT+TCOTASET, AT+TCFWINFO, AT+TCREADFWDATA.
//!
//! The handlers check what the line and the gates decide; everything that needs the OTA state,
//! the firmware record or the flash is a job (`engine/ota_jobs.rs`), because that state is
//! shared with the MQTT service rather than kept in [`RamState`](crate::state::RamState).

use super::{Context, Job, Step};
use crate::params::{ParamError, Params};
use crate::render::Reply;

/// Largest AT+TCREADFWDATA `<len>`.
pub const READ_MAX: u16 = 4096;
/// Longest AT+TCOTASET version.
const VERSION_MAX: usize = 32;

/// AT+TCOTASET=?
pub fn tcotaset_test(_: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.text_line("+TCOTASET:1(ENABLE)/0(DISABLE),\"FW_version\"");
    reply.ok();
    Step::Done
}

/// AT+TCOTASET?
pub fn tcotaset_query(_: &mut Context<'_>, _: &mut Reply) -> Step {
    Step::Sync(Job::OtaQuery)
}

/// `AT+TCOTASET=<ctrl>,"<version>"`
pub fn tcotaset_set(context: &mut Context<'_>, reply: &mut Reply, params: Params<'_>) -> Step {
    let checked = (|| {
        params.expect_count(2, 2)?;
        let enable = params.int_in(0, 0..=1)? == 1;
        let version = params.text::<VERSION_MAX>(1, 1, VERSION_MAX)?;
        // At most VERSION_MAX bytes: always fits.
        Ok::<_, ParamError>((
            enable,
            ota::Version::from_slice(&version).unwrap_or_default(),
        ))
    })();
    let (enable, version) = match checked {
        Ok(values) => values,
        Err(_) => {
            reply.cme(204);
            return Step::Done;
        }
    };
    if enable && !context.gates.conn {
        reply.cme(208);
        return Step::Done;
    }
    if enable && context.gates.download {
        reply.cme(200);
        return Step::Done;
    }
    reply.accepted();
    Step::Async(Job::OtaSet { enable, version })
}

/// AT+TCFWINFO=?
pub fn tcfwinfo_test(_: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.text_line("+TCFWINFO:\"FW_VERSION\",\"FW_SIZE\",\"FW_MD5\",\"FW_MAX_SIZE_OF_MODULE\"");
    reply.ok();
    Step::Done
}

/// AT+TCFWINFO?
pub fn tcfwinfo_query(context: &mut Context<'_>, reply: &mut Reply) -> Step {
    if context.gates.download {
        reply.cme(200);
        return Step::Done;
    }
    Step::Sync(Job::FirmwareInfo)
}

/// AT+TCREADFWDATA=?
pub fn tcreadfwdata_test(_: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.text_line("+TCREADFWDATA:\"LEN_FOR_READ\"");
    reply.ok();
    Step::Done
}

/// `AT+TCREADFWDATA=<len>`
pub fn tcreadfwdata_set(context: &mut Context<'_>, reply: &mut Reply, params: Params<'_>) -> Step {
    if context.gates.download {
        reply.cme(200);
        return Step::Done;
    }
    let length = params
        .expect_count(1, 1)
        .and_then(|()| params.int_in(0, 1..=i32::from(READ_MAX)))
        .ok()
        .and_then(|length| u16::try_from(length).ok());
    Step::Sync(Job::ReadFirmware(length))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{connected, run, run_with_gates, state};
    use super::*;
    use crate::board::Profile;
    use crate::state::Gates;

    #[test]
    fn test_forms_print_the_spec_lines() {
        let mut state = state();
        for (line, expected) in [
            (
                &b"AT+TCOTASET=?"[..],
                &b"+TCOTASET:1(ENABLE)/0(DISABLE),\"FW_version\"\r\n\r\nOK\r\n"[..],
            ),
            (
                b"AT+TCFWINFO=?",
                b"+TCFWINFO:\"FW_VERSION\",\"FW_SIZE\",\"FW_MD5\",\"FW_MAX_SIZE_OF_MODULE\"\r\n\r\nOK\r\n",
            ),
            (
                b"AT+TCREADFWDATA=?",
                b"+TCREADFWDATA:\"LEN_FOR_READ\"\r\n\r\nOK\r\n",
            ),
        ] {
            let (reply, step) = run(&mut state, Profile::Esp8266, line);
            assert_eq!(reply, expected, "{}", std::string::String::from_utf8_lossy(line));
            assert!(matches!(step, Step::Done));
        }
    }

    #[test]
    fn otaset_checks_parameters_before_state_in_the_spec_order() {
        let mut state = state();
        for line in [
            &b"AT+TCOTASET=2,\"1.0.0\""[..],
            b"AT+TCOTASET=1",
            b"AT+TCOTASET=1,\"1.0.0\",1",
            b"AT+TCOTASET=\"1\",\"1.0.0\"",
            b"AT+TCOTASET=1,1",
            b"AT+TCOTASET=1,\"\"",
            b"AT+TCOTASET=1,\"123456789012345678901234567890123\"",
        ] {
            let (reply, step) = run(&mut state, Profile::Full, line);
            assert_eq!(
                reply,
                b"+CME ERROR:204\r\n",
                "{}",
                std::string::String::from_utf8_lossy(line)
            );
            assert!(matches!(step, Step::Done));
        }
        let (reply, _) = run(&mut state, Profile::Full, b"AT+TCOTASET=1,\"1.0.0\"");
        assert_eq!(reply, b"+CME ERROR:208\r\n");
        let downloading = Gates {
            download: true,
            ..connected()
        };
        let (reply, _) = run_with_gates(
            &mut state,
            Profile::Full,
            downloading,
            b"AT+TCOTASET=1,\"1.0.0\"",
        );
        assert_eq!(reply, b"+CME ERROR:200\r\n");
        // Disabling is allowed in any state, and aborts a download.
        let (reply, step) = run_with_gates(
            &mut state,
            Profile::Full,
            downloading,
            b"AT+TCOTASET=0,\"1.0.0\"",
        );
        assert_eq!(reply, b"OK\r\n");
        assert!(matches!(
            step,
            Step::Async(Job::OtaSet { enable: false, .. })
        ));
        let (reply, step) = run_with_gates(
            &mut state,
            Profile::Full,
            connected(),
            b"AT+TCOTASET=1,\"12345678901234567890123456789012\"",
        );
        assert_eq!(reply, b"OK\r\n");
        assert!(
            matches!(step, Step::Async(Job::OtaSet { enable: true, version }) if version.len() == 32)
        );
    }

    #[test]
    fn firmware_reads_are_refused_during_a_download_and_keep_bad_lengths_for_later() {
        let mut state = state();
        let downloading = Gates {
            download: true,
            ..connected()
        };
        for line in [
            &b"AT+TCFWINFO?"[..],
            b"AT+TCREADFWDATA=10",
            b"AT+TCREADFWDATA=0",
        ] {
            let (reply, _) = run_with_gates(&mut state, Profile::Full, downloading, line);
            assert_eq!(reply, b"+CME ERROR:200\r\n");
        }
        for (line, expected) in [
            (&b"AT+TCREADFWDATA=1"[..], Some(1)),
            (b"AT+TCREADFWDATA=4096", Some(4096)),
            (b"AT+TCREADFWDATA=0", None),
            (b"AT+TCREADFWDATA=4097", None),
            (b"AT+TCREADFWDATA=-1", None),
            (b"AT+TCREADFWDATA=\"10\"", None),
            (b"AT+TCREADFWDATA=10,10", None),
        ] {
            let (reply, step) = run(&mut state, Profile::Full, line);
            assert!(reply.is_empty());
            assert!(
                matches!(step, Step::Sync(Job::ReadFirmware(length)) if length == expected),
                "{}",
                std::string::String::from_utf8_lossy(line)
            );
        }
    }
}
