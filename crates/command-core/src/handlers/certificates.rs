//! Certificate files for TLS mode 2 (`commands.md` §2, Cap): AT+TCCERTADD, AT+TCCERTCHECK and
//! AT+TCCERTDEL, compiled with the `certificates` feature (boards with the capability).
//!
//! The handlers check against the RAM copy of the file table ([`RamState::certificates`]) and
//! leave every flash access to the engine: AT+TCCERTADD's contents arrive in a data phase
//! and are stored by [`DataJob::Certificate`], the other two are asynchronous jobs. Contents
//! are never printed; only names and sizes are.
//!
//! [`RamState::certificates`]: crate::state::RamState::certificates

use storage::CERTIFICATE_NAME_MAX;
#[cfg(feature = "certificates")]
use storage::{is_certificate_name, CERTIFICATE_SIZE_MAX};

#[cfg(feature = "certificates")]
use super::{Context, DataJob, Job, Step};
#[cfg(feature = "certificates")]
use crate::params::{ParamError, Params};
#[cfg(feature = "certificates")]
use crate::render::Reply;

/// A certificate file name as the handlers pass it on.
pub type FileName = heapless::Vec<u8, CERTIFICATE_NAME_MAX>;

/// The key file of a certificate name, or the certificate of a key name: `<base>.key` for
/// `<base>.crt` and the reverse. `None` for a name with neither suffix.
pub fn partner(name: &[u8]) -> Option<FileName> {
    let (base, suffix) = if let Some(base) = name.strip_suffix(b".crt") {
        (base, b".key")
    } else {
        (name.strip_suffix(b".key")?, b".crt")
    };
    let mut partner = FileName::from_slice(base).ok()?;
    partner.extend_from_slice(suffix).ok()?;
    Some(partner)
}

#[cfg(feature = "certificates")]
/// Whether `name` belongs to the active identity (`commands.md` §2): a session exists (RUN),
/// the device record uses TLS mode 2, and `name` is its certificate `<base>.crt` or its key
/// `<base>.key`. A session of a mode-2 record always runs in mode 2 (AT+TCMQTTCONN refuses
/// other modes with `FAIL,204`), so the record tells the session's mode.
fn belongs_to_active_identity(context: &Context<'_>, name: &[u8]) -> bool {
    let Some(device) = context.state.settings.device.as_ref() else {
        return false;
    };
    context.gates.run
        && device.tls_mode == 2
        && (device.secret == name || partner(&device.secret).is_some_and(|key| key == name))
}

#[cfg(feature = "certificates")]
/// The file name at parameter 0: a String that is a valid name.
fn file_name(params: &Params<'_>) -> Result<FileName, ParamError> {
    let name: FileName = params.text(0, 1, CERTIFICATE_NAME_MAX)?;
    if is_certificate_name(&name) {
        Ok(name)
    } else {
        Err(ParamError::Range)
    }
}

#[cfg(feature = "certificates")]
/// Prints `+<command>:"<name>"` (and `,<size>` when asked) per stored file, then `[OK]`.
fn list(context: &Context<'_>, reply: &mut Reply, command: &str, sizes: bool) -> Step {
    for entry in context.state.certificates.entries() {
        let line = reply
            .line()
            .text("+")
            .text(command)
            .text(":")
            .quoted(&entry.name);
        if sizes {
            line.text(",").int(entry.size).end();
        } else {
            line.end();
        }
    }
    reply.ok();
    Step::Done
}

#[cfg(feature = "certificates")]
/// AT+TCCERTADD=?
pub fn tccertadd_test(_: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.text_line("+TCCERTADD:\"CERT_NAME\",CERT_SIZE(1-4096)");
    reply.ok();
    Step::Done
}

#[cfg(feature = "certificates")]
/// AT+TCCERTADD?
pub fn tccertadd_query(context: &mut Context<'_>, reply: &mut Reply) -> Step {
    list(context, reply, "TCCERTADD", true)
}

#[cfg(feature = "certificates")]
/// `AT+TCCERTADD="<name>",<size>`
pub fn tccertadd_set(context: &mut Context<'_>, reply: &mut Reply, params: Params<'_>) -> Step {
    if context.gates.download {
        reply.cme(200);
        return Step::Done;
    }
    let checked = (|| {
        params.expect_count(2, 2)?;
        let name = file_name(&params)?;
        let size = params.int_in(1, 1..=CERTIFICATE_SIZE_MAX as i32)? as u16;
        Ok::<_, ParamError>((name, size))
    })();
    let (name, size) = match checked {
        Ok(checked) => checked,
        Err(error) => {
            error.print_cme(reply);
            return Step::Done;
        }
    };
    if belongs_to_active_identity(context, &name) {
        reply.cme(208);
        return Step::Done;
    }
    // The engine enters data mode before writing `OK\r\n>\r\n` (`at-engine.md` §7.1).
    reply.data_prompt();
    Step::Data {
        len: size,
        kind: at_parser::DataKind::Certificate,
        then: DataJob::Certificate { name },
    }
}

#[cfg(feature = "certificates")]
/// AT+TCCERTCHECK=?
pub fn tccertcheck_test(_: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.text_line("+TCCERTCHECK:\"CERT_NAME\"");
    reply.ok();
    Step::Done
}

#[cfg(feature = "certificates")]
/// AT+TCCERTCHECK?
pub fn tccertcheck_query(context: &mut Context<'_>, reply: &mut Reply) -> Step {
    list(context, reply, "TCCERTCHECK", false)
}

#[cfg(feature = "certificates")]
/// `AT+TCCERTCHECK="<name>"`
pub fn tccertcheck_set(_: &mut Context<'_>, reply: &mut Reply, params: Params<'_>) -> Step {
    let checked = params.expect_count(1, 1).and_then(|()| file_name(&params));
    match checked {
        Ok(name) => {
            reply.accepted();
            Step::Async(Job::CheckCertificate(name))
        }
        Err(error) => {
            error.print_cme(reply);
            Step::Done
        }
    }
}

#[cfg(feature = "certificates")]
/// AT+TCCERTDEL=?
pub fn tccertdel_test(_: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.text_line("+TCCERTDEL:\"CERT_NAME\"");
    reply.ok();
    Step::Done
}

#[cfg(feature = "certificates")]
/// AT+TCCERTDEL?
pub fn tccertdel_query(context: &mut Context<'_>, reply: &mut Reply) -> Step {
    list(context, reply, "TCCERTDEL", false)
}

#[cfg(feature = "certificates")]
/// `AT+TCCERTDEL="<name>"`
pub fn tccertdel_set(context: &mut Context<'_>, reply: &mut Reply, params: Params<'_>) -> Step {
    // The spec checks ownership before the name; a name of the identity is valid anyway.
    let text: Result<FileName, _> = params.text(0, 1, CERTIFICATE_NAME_MAX);
    if text.is_ok_and(|name| belongs_to_active_identity(context, &name)) {
        reply.cme(208);
        return Step::Done;
    }
    match params.expect_count(1, 1).and_then(|()| file_name(&params)) {
        Ok(name) => {
            reply.accepted();
            Step::Async(Job::DeleteCertificate(name))
        }
        Err(error) => {
            error.print_cme(reply);
            Step::Done
        }
    }
}

#[cfg(all(test, feature = "certificates"))]
mod tests {
    use super::*;
    use crate::board::Profile;
    use crate::handlers::testing::run_with_gates;
    use crate::state::{Gates, RamState};
    use std::string::String;
    use storage::{DeviceInfo, Settings, Snapshot};

    fn text<const N: usize>(bytes: &[u8]) -> storage::Text<N> {
        heapless::Vec::from_slice(bytes).unwrap()
    }

    /// A state with a mode-2 device record using `dev1.crt` and the files `names`.
    fn state(names: &[&str]) -> RamState {
        let mut state = RamState::boot(Snapshot {
            device: Some(DeviceInfo {
                tls_mode: 2,
                product_id: text(b"PID"),
                device_name: text(b"dev1"),
                secret: text(b"dev1.crt"),
                region: text(b"ap-guangzhou"),
            }),
            ..Snapshot::default()
        });
        let mut settings = Settings::new(storage::mock::MockFlash::new(72 * 1024), 0..32 * 1024)
            .with_certificate_area(32 * 1024..72 * 1024);
        for name in names {
            embassy_futures::block_on(settings.store_certificate(name.as_bytes(), b"x12")).unwrap();
        }
        state.certificates = embassy_futures::block_on(settings.certificates()).unwrap();
        state
    }

    fn answer(state: &mut RamState, gates: Gates, line: &str) -> (String, Step) {
        let (bytes, step) = run_with_gates(state, Profile::Full, gates, line.as_bytes());
        (String::from_utf8(bytes).unwrap(), step)
    }

    const RUN: Gates = Gates {
        run: true,
        conn: true,
        download: false,
        provisioning: false,
    };
    const DOWNLOAD: Gates = Gates {
        run: true,
        conn: true,
        download: true,
        provisioning: false,
    };

    #[test]
    fn partner_swaps_the_suffix() {
        assert_eq!(partner(b"dev1.crt").as_deref(), Some(&b"dev1.key"[..]));
        assert_eq!(partner(b"a.b.key").as_deref(), Some(&b"a.b.crt"[..]));
        assert_eq!(partner(b"dev1.pem"), None);
    }

    #[test]
    fn test_forms_print_the_spec_strings() {
        let mut state = state(&[]);
        for (line, expected) in [
            (
                "AT+TCCERTADD=?",
                "+TCCERTADD:\"CERT_NAME\",CERT_SIZE(1-4096)\r\n\r\nOK\r\n",
            ),
            (
                "AT+TCCERTCHECK=?",
                "+TCCERTCHECK:\"CERT_NAME\"\r\n\r\nOK\r\n",
            ),
            ("AT+TCCERTDEL=?", "+TCCERTDEL:\"CERT_NAME\"\r\n\r\nOK\r\n"),
        ] {
            assert_eq!(answer(&mut state, Gates::default(), line).0, expected);
        }
    }

    #[test]
    fn queries_list_names_in_order_with_sizes_only_for_certadd() {
        let mut state = state(&["b.key", "a.crt"]);
        let gates = Gates::default();
        assert_eq!(
            answer(&mut state, gates, "AT+TCCERTADD?").0,
            "+TCCERTADD:\"a.crt\",3\r\n+TCCERTADD:\"b.key\",3\r\n\r\nOK\r\n"
        );
        assert_eq!(
            answer(&mut state, gates, "AT+TCCERTCHECK?").0,
            "+TCCERTCHECK:\"a.crt\"\r\n+TCCERTCHECK:\"b.key\"\r\n\r\nOK\r\n"
        );
        assert_eq!(
            answer(&mut state, gates, "AT+TCCERTDEL?").0,
            "+TCCERTDEL:\"a.crt\"\r\n+TCCERTDEL:\"b.key\"\r\n\r\nOK\r\n"
        );
        let mut empty = self::state(&[]);
        assert_eq!(answer(&mut empty, gates, "AT+TCCERTADD?").0, "\r\nOK\r\n");
    }

    #[test]
    fn certadd_checks_in_spec_order() {
        let mut state = state(&[]);
        let idle = Gates::default();
        // 1. DL first, even before a bad count.
        assert_eq!(
            answer(&mut state, DOWNLOAD, "AT+TCCERTADD=1").0,
            "+CME ERROR:200\r\n"
        );
        // 2. count, name, size.
        for line in [
            "AT+TCCERTADD=\"a.crt\"",
            "AT+TCCERTADD=\"a.crt\",10,1",
            "AT+TCCERTADD=\"a.pem\",10",
            "AT+TCCERTADD=\"a b.crt\",10",
            "AT+TCCERTADD=a.crt,10",
            "AT+TCCERTADD=\"a.crt\",0",
            "AT+TCCERTADD=\"a.crt\",4097",
            "AT+TCCERTADD=\"a.crt\",\"10\"",
        ] {
            assert_eq!(
                answer(&mut state, idle, line).0,
                "+CME ERROR:204\r\n",
                "{line}"
            );
        }
        // 3. the files of the running mode-2 identity; other files and idle sessions are fine.
        for name in ["dev1.crt", "dev1.key"] {
            let line = std::format!("AT+TCCERTADD=\"{name}\",10");
            assert_eq!(answer(&mut state, RUN, &line).0, "+CME ERROR:208\r\n");
            let (output, step) = answer(&mut state, idle, &line);
            assert_eq!(output, "OK\r\n>\r\n");
            let Step::Data {
                len,
                kind,
                then: DataJob::Certificate { name: file },
            } = step
            else {
                panic!("{line}: no certificate data phase");
            };
            assert_eq!(
                (len, kind, file.as_slice()),
                (10, at_parser::DataKind::Certificate, name.as_bytes())
            );
        }
        let (output, step) = answer(&mut state, RUN, "AT+TCCERTADD=\"dev2.crt\",4096");
        assert_eq!(output, "OK\r\n>\r\n");
        assert!(matches!(step, Step::Data { len: 4096, .. }));
    }

    #[test]
    fn certcheck_accepts_valid_names_only() {
        let mut state = state(&[]);
        let idle = Gates::default();
        for line in [
            "AT+TCCERTCHECK=\"a.pem\"",
            "AT+TCCERTCHECK=\"a.crt\",1",
            "AT+TCCERTCHECK=1",
        ] {
            assert_eq!(
                answer(&mut state, idle, line).0,
                "+CME ERROR:204\r\n",
                "{line}"
            );
        }
        // Checking the active identity's files is allowed while it runs.
        let (output, step) = answer(&mut state, RUN, "AT+TCCERTCHECK=\"dev1.key\"");
        assert_eq!(output, "OK\r\n");
        assert!(
            matches!(step, Step::Async(Job::CheckCertificate(ref name)) if name == b"dev1.key")
        );
    }

    #[test]
    fn certdel_refuses_the_running_identity_before_checking_the_name() {
        let mut state = state(&["dev1.crt", "dev1.key"]);
        assert_eq!(
            answer(&mut state, RUN, "AT+TCCERTDEL=\"dev1.key\"").0,
            "+CME ERROR:208\r\n"
        );
        assert_eq!(
            answer(&mut state, RUN, "AT+TCCERTDEL=\"dev1.key\",1").0,
            "+CME ERROR:208\r\n"
        );
        assert_eq!(
            answer(&mut state, RUN, "AT+TCCERTDEL=\"bad\"").0,
            "+CME ERROR:204\r\n"
        );
        let (output, step) = answer(&mut state, Gates::default(), "AT+TCCERTDEL=\"dev1.key\"");
        assert_eq!(output, "OK\r\n");
        assert!(
            matches!(step, Step::Async(Job::DeleteCertificate(ref name)) if name == b"dev1.key")
        );
    }
}
