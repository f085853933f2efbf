//! Cloud credentials (`commands.md` §1): AT+TCDEVINFOSET and AT+TCPRDINFOSET.
//!
//! The secrets are stored but never printed: queries show their BCC only.

use storage::{DeviceInfo, ProductInfo};

use super::{bcc, Context, Job, Step};
use crate::board::Profile;
use crate::params::{ParamError, Params};
use crate::render::{EngineError, Reply};

/// Region stored when the optional fifth parameter is absent.
const DEFAULT_REGION: &[u8] = b"ap-guangzhou";

/// AT+TCDEVINFOSET=?
pub fn tcdevinfoset_test(context: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.text_line(match context.board.profile {
        Profile::Full => "+TCDEVINFOSET:\"TLS_MODE(0/1/2)\",\"PRODUCT_ID\",\"DEVICE_NAME\",\"DEVICE_SECRET_BCC/CERT_NAME\",\"PRODUCT_REGION\"",
        Profile::Esp8266 => "+TCDEVINFOSET:\"TLS_MODE(1)\",\"PRODUCT_ID\",\"DEVICE_NAME\",\"DEVICE_SECRET_BCC\",\"PRODUCT_REGION\"",
    });
    reply.ok();
    Step::Done
}

/// AT+TCDEVINFOSET?
pub fn tcdevinfoset_query(context: &mut Context<'_>, reply: &mut Reply) -> Step {
    if context.gates.download {
        reply.cme(200);
        return Step::Done;
    }
    let Some(device) = &context.state.settings.device else {
        reply.cme(207);
        return Step::Done;
    };
    let line = reply
        .line()
        .text("+TCDEVINFOSET:")
        .int(device.tls_mode)
        .text(",")
        .quoted(&device.product_id)
        .text(",")
        .quoted(&device.device_name)
        .text(",");
    let line = if device.tls_mode == 2 {
        line.quoted(&device.secret)
    } else {
        line.int(bcc(&device.secret))
    };
    line.text(",").quoted(&device.region).end();
    reply.ok();
    Step::Done
}

/// `AT+TCDEVINFOSET=<tls>,"<pid>","<dn>","<secret>"[,"<region>"]`
pub fn tcdevinfoset_set(context: &mut Context<'_>, reply: &mut Reply, params: Params<'_>) -> Step {
    let tls_mode = match common_checks(context, reply, &params) {
        Some(tls_mode) => tls_mode,
        None => return Step::Done,
    };
    let secret_max = if tls_mode == 2 { 64 } else { 44 };
    let checked = (|| {
        Ok::<_, ParamError>(DeviceInfo {
            tls_mode,
            product_id: params.field(1, 1, 10)?,
            device_name: params.field(2, 1, 48)?,
            secret: params.field(3, 1, secret_max)?,
            region: region(&params)?,
        })
    })();
    match checked {
        Ok(device) => {
            reply.accepted();
            Step::Async(Job::StoreDevice(device))
        }
        Err(error) => {
            error.print_cme(reply);
            Step::Done
        }
    }
}

/// AT+TCPRDINFOSET=?
pub fn tcprdinfoset_test(context: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.text_line(match context.board.profile {
        Profile::Full => "+TCPRDINFOSET:\"TLS_MODE(0/1/2)\",\"PRODUCT_ID\",\"PRODUCT_SECRET_BCC\",\"DEVICE_NAME\",\"PRODUCT_REGION\"",
        Profile::Esp8266 => "+TCPRDINFOSET:\"TLS_MODE(1)\",\"PRODUCT_ID\",\"PRODUCT_SECRET_BCC\",\"DEVICE_NAME\",\"PRODUCT_REGION\"",
    });
    reply.ok();
    Step::Done
}

/// AT+TCPRDINFOSET?
pub fn tcprdinfoset_query(context: &mut Context<'_>, reply: &mut Reply) -> Step {
    if context.gates.download {
        reply.cme(200);
        return Step::Done;
    }
    let Some(product) = &context.state.settings.product else {
        reply.cme(207);
        return Step::Done;
    };
    reply
        .line()
        .text("+TCPRDINFOSET:")
        .int(product.tls_mode)
        .text(",")
        .quoted(&product.product_id)
        .text(",")
        .int(bcc(&product.product_secret))
        .text(",")
        .quoted(&product.device_name)
        .text(",")
        .quoted(&product.region)
        .end();
    reply.ok();
    Step::Done
}

/// `AT+TCPRDINFOSET=<tls>,"<pid>","<product_secret>","<dn>"[,"<region>"]`
pub fn tcprdinfoset_set(context: &mut Context<'_>, reply: &mut Reply, params: Params<'_>) -> Step {
    let tls_mode = match common_checks(context, reply, &params) {
        Some(tls_mode) => tls_mode,
        None => return Step::Done,
    };
    let checked = (|| {
        Ok::<_, ParamError>(ProductInfo {
            tls_mode,
            product_id: params.field(1, 1, 10)?,
            product_secret: params.field(2, 1, 32)?,
            device_name: params.field(3, 1, 48)?,
            region: region(&params)?,
        })
    })();
    match checked {
        Ok(product) => {
            reply.accepted();
            Step::Async(Job::StoreProduct(product))
        }
        Err(error) => {
            error.print_cme(reply);
            Step::Done
        }
    }
}

/// Steps 1–5 shared by both set commands; prints the error and returns `None` on failure.
fn common_checks(context: &Context<'_>, reply: &mut Reply, params: &Params<'_>) -> Option<u8> {
    if context.gates.run {
        reply.cme(208);
        return None;
    }
    if context.gates.download {
        reply.cme(200);
        return None;
    }
    let Ok(tls_mode) = params.int(0) else {
        reply.engine_error(EngineError::Type);
        return None;
    };
    let supported = match context.board.profile {
        Profile::Full => (0..=2).contains(&tls_mode),
        Profile::Esp8266 => tls_mode == 1,
    };
    if !supported || !(4..=5).contains(&params.count()) {
        reply.cme(204);
        return None;
    }
    Some(tls_mode as u8)
}

fn region(params: &Params<'_>) -> Result<storage::Text<24>, ParamError> {
    if params.count() == 5 {
        params.field(4, 1, 24)
    } else {
        Ok(heapless::Vec::from_slice(DEFAULT_REGION).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::ToOwned;
    use std::format;

    use crate::board::Profile;
    use crate::handlers::testing::run;
    use crate::handlers::{Job, Step};
    use crate::state::RamState;

    fn answer(profile: Profile, line: &str) -> std::vec::Vec<u8> {
        let mut state = RamState::boot(storage::Snapshot::default());
        run(&mut state, profile, line.as_bytes()).0
    }

    #[test]
    fn tls_mode_type_is_checked_before_count_and_range() {
        assert_eq!(
            answer(Profile::Full, "AT+TCDEVINFOSET=\"1\",\"p\",\"d\",\"s\""),
            b"ERR CODE:0x01050000\r\n\r\nERROR\r\n"
        );
        assert_eq!(
            answer(Profile::Full, "AT+TCDEVINFOSET="),
            b"ERR CODE:0x01050000\r\n\r\nERROR\r\n"
        );
        assert_eq!(
            answer(Profile::Full, "AT+TCDEVINFOSET=3,\"p\",\"d\",\"s\""),
            b"+CME ERROR:204\r\n"
        );
        assert_eq!(
            answer(Profile::Full, "AT+TCDEVINFOSET=1,\"p\",\"d\""),
            b"+CME ERROR:204\r\n"
        );
        assert_eq!(
            answer(Profile::Esp8266, "AT+TCDEVINFOSET=0,\"p\",\"d\",\"s\""),
            b"+CME ERROR:204\r\n"
        );
    }

    #[test]
    fn lengths_are_bounded() {
        let secret45 = "A".repeat(45);
        for line in [
            "AT+TCDEVINFOSET=1,\"01234567890\",\"d\",\"s\"".to_owned(),
            "AT+TCDEVINFOSET=1,\"\",\"d\",\"s\"".to_owned(),
            format!("AT+TCDEVINFOSET=1,\"p\",\"d\",\"{secret45}\""),
            "AT+TCDEVINFOSET=1,\"p\",\"d\",\"s\",\"\"".to_owned(),
            "AT+TCDEVINFOSET=1,p,\"d\",\"s\"".to_owned(),
        ] {
            assert_eq!(
                answer(Profile::Full, &line),
                b"+CME ERROR:204\r\n",
                "{line}"
            );
        }
    }

    #[test]
    fn region_defaults_to_guangzhou() {
        let mut state = RamState::boot(storage::Snapshot::default());
        let (reply, step) = run(
            &mut state,
            Profile::Full,
            b"AT+TCDEVINFOSET=1,\"S3EUVBRJLB\",\"dev\",\"c2VjcmV0\"",
        );
        assert_eq!(reply, b"OK\r\n");
        let Step::Async(Job::StoreDevice(device)) = step else {
            panic!("expected a store job")
        };
        assert_eq!(&device.region[..], b"ap-guangzhou");
    }

    #[test]
    fn queries_show_the_bcc_never_the_secret() {
        let mut state = RamState::boot(storage::Snapshot::default());
        let (reply, _) = run(&mut state, Profile::Full, b"AT+TCDEVINFOSET?");
        assert_eq!(reply, b"+CME ERROR:207\r\n");
        state.settings.product = Some(storage::ProductInfo {
            tls_mode: 1,
            product_id: heapless::Vec::from_slice(b"CTQS08Y5LG").unwrap(),
            product_secret: heapless::Vec::from_slice(b"Xq3mP8sLw2Kd9fRt6YbN1cVh").unwrap(),
            device_name: heapless::Vec::from_slice(b"Dev01").unwrap(),
            region: heapless::Vec::from_slice(b"china").unwrap(),
        });
        let (reply, _) = run(&mut state, Profile::Full, b"AT+TCPRDINFOSET?");
        let bcc = b"Xq3mP8sLw2Kd9fRt6YbN1cVh".iter().fold(0u8, |a, b| a ^ b);
        let expected =
            std::format!("+TCPRDINFOSET:1,\"CTQS08Y5LG\",{bcc},\"Dev01\",\"china\"\r\n\r\nOK\r\n");
        assert_eq!(reply, expected.as_bytes());
    }
}
