//! Wi-Fi station commands (`commands.md` §7): AT+CWMODE, AT+CWJAP, AT+CWQAP, AT+CIPSTA?.

use storage::{WifiMode, WifiStation};

use super::{Context, Job, Step};
use crate::params::{ParamError, Params};
use crate::render::{EngineError, Reply};

/// AT+CWMODE?
pub fn cwmode_query(context: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply
        .line()
        .text("+CWMODE:")
        .int(context.state.wifi_mode())
        .end();
    reply.ok();
    Step::Done
}

/// `AT+CWMODE=<mode>[,<auto_connect>]`; `<auto_connect>` is accepted and ignored.
pub fn cwmode_set(_: &mut Context<'_>, reply: &mut Reply, params: Params<'_>) -> Step {
    let checked = params.expect_count(1, 2).and_then(|()| {
        let mode = params.int(0)?;
        if params.count() == 2 {
            params.int(1)?;
        }
        if (0..=3).contains(&mode) {
            Ok(mode as u8)
        } else {
            Err(ParamError::Range)
        }
    });
    match checked {
        Ok(mode) => Step::Sync(Job::StoreWifiMode(WifiMode(mode))),
        Err(error) => {
            error.print_basic(reply);
            Step::Done
        }
    }
}

/// `AT+CWJAP="<ssid>","<pwd>"[,"<bssid>"]`
///
/// Syntax (count, then types) is checked before the mode, as an ESP-AT core parses a line
/// before calling its handler; then the mode, then the value ranges (`docs/decisions.md`).
pub fn cwjap_set(context: &mut Context<'_>, reply: &mut Reply, params: Params<'_>) -> Step {
    if let Err(error) = cwjap_syntax(&params) {
        error.print_basic(reply);
        return Step::Done;
    }
    let mode = context.state.wifi_mode();
    if mode == 0 || mode == 2 {
        reply.engine_error(EngineError::State);
        return Step::Done;
    }
    match cwjap_values(&params) {
        Ok((station, bssid)) => Step::Sync(Job::Join { station, bssid }),
        Err(error) => {
            error.print_basic(reply);
            Step::Done
        }
    }
}

fn cwjap_syntax(params: &Params<'_>) -> Result<(), ParamError> {
    params.expect_count(2, 3)?;
    for index in 0..params.count() {
        // Lengths are checked later; here only the class matters.
        if !params.is_text(index) {
            return Err(ParamError::Type);
        }
    }
    Ok(())
}

fn cwjap_values(params: &Params<'_>) -> Result<(WifiStation, Option<[u8; 6]>), ParamError> {
    let ssid = params.field::<32>(0, 1, 32)?;
    let password = params.field::<63>(1, 0, 63)?;
    let bssid = if params.count() == 3 {
        let text = params.text::<17>(2, 17, 17)?;
        Some(parse_mac(&text).ok_or(ParamError::Range)?)
    } else {
        None
    };
    Ok((WifiStation { ssid, password }, bssid))
}

/// Parses `xx:xx:xx:xx:xx:xx` (either case).
fn parse_mac(text: &[u8]) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    for (index, byte) in mac.iter_mut().enumerate() {
        let start = index * 3;
        if index < 5 && text.get(start + 2) != Some(&b':') {
            return None;
        }
        let pair = core::str::from_utf8(text.get(start..start + 2)?).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(mac)
}

/// AT+CWJAP?
pub fn cwjap_query(context: &mut Context<'_>, reply: &mut Reply) -> Step {
    match &context.association {
        Some(association) => {
            let b = association.bssid;
            reply
                .line()
                .text("+CWJAP:")
                .quoted(&association.ssid)
                .fmt(format_args!(
                    ",\"{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}\",",
                    b[0], b[1], b[2], b[3], b[4], b[5]
                ))
                .int(association.channel)
                .text(",")
                .int(association.rssi)
                .end();
        }
        None => reply.text_line("No AP"),
    }
    reply.ok();
    Step::Done
}

/// AT+CWQAP
pub fn cwqap_exec(_: &mut Context<'_>, _: &mut Reply) -> Step {
    Step::Sync(Job::Leave)
}

/// AT+CIPSTA?
pub fn cipsta_query(context: &mut Context<'_>, reply: &mut Reply) -> Step {
    let ip = context
        .association
        .as_ref()
        .map(|association| association.ip)
        .unwrap_or(crate::board::IpInfo {
            ip: [0; 4],
            gateway: [0; 4],
            netmask: [0; 4],
        });
    for (label, address) in [
        ("ip", ip.ip),
        ("gateway", ip.gateway),
        ("netmask", ip.netmask),
    ] {
        let [a, b, c, d] = address;
        reply
            .line()
            .fmt(format_args!("+CIPSTA:{label}:\"{a}.{b}.{c}.{d}\""))
            .end();
    }
    reply.ok();
    Step::Done
}

#[cfg(test)]
mod tests {
    use super::parse_mac;

    #[test]
    fn mac_addresses_parse_in_either_case() {
        assert_eq!(
            parse_mac(b"02:AA:bb:0c:dd:ef"),
            Some([0x02, 0xaa, 0xbb, 0x0c, 0xdd, 0xef])
        );
        assert_eq!(parse_mac(b"02-aa-bb-0c-dd-ef"), None);
        assert_eq!(parse_mac(b"02:aa:bb:0c:dd:eg"), None);
    }
}
