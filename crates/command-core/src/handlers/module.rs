//! Module identity and profile (`commands.md` §1): AT+TCMODULE, AT+TCVER, AT+TCRESTORE,
//! AT+TCMODINFOSET.

use storage::ModuleInfo;

use super::{Context, Job, Step};
use crate::params::{ParamError, Params};
use crate::render::{EngineError, Reply};

/// Tencent device-SDK protocol level we reproduce.
const SDK_VERSION: &str = "3.2.1";
/// Lowest MCU-image base address the original accepted.
const MIN_FW_BASE: i32 = 0x11_0000;
/// Smallest image region (the seed's 128 KB).
const MIN_FW_MAX: i32 = 131_072;
/// Largest image region on a 2 MB flash (the ESP8266's inactive application slot).
const MAX_FW_MAX_2MB: i32 = 909_312;
/// End of a 4 MB flash.
const FLASH_END_4MB: i64 = 4 * 1024 * 1024;

/// AT+TCMODULE
pub fn tcmodule_exec(context: &mut Context<'_>, reply: &mut Reply) -> Step {
    let board = context.board;
    let module = context.state.module();
    let m = board.mac;
    reply
        .line()
        .text("Module HW name: ")
        .bytes(&module.name)
        .end();
    reply
        .line()
        .fmt(format_args!(
            "Module FW version: QCloud_AT_{}_v{}",
            board.board, board.version
        ))
        .end();
    reply
        .line()
        .fmt(format_args!(
            "Module Mac addr: {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        ))
        .end();
    reply
        .line()
        .text("Module FW compiled time: ")
        .text(board.build_time)
        .end();
    reply
        .line()
        .text("Module Flash size: ")
        .int(module.flash_mb)
        .text("MB")
        .end();
    reply.ok();
    Step::Done
}

/// AT+TCVER (two spaces after `AT` in the first line, as the original).
pub fn tcver_exec(context: &mut Context<'_>, reply: &mut Reply) -> Step {
    let board = context.board;
    reply
        .line()
        .fmt(format_args!(
            "Tencent Cloud IoT AT  version: QCloud_AT_{}_v{}",
            board.board, board.version
        ))
        .end();
    reply
        .line()
        .text("Tencent Cloud IoT SDK version: ")
        .text(SDK_VERSION)
        .end();
    reply
        .line()
        .text("Firmware compile time: ")
        .text(board.build_time)
        .end();
    reply.text_line(board.vendor);
    reply.ok();
    Step::Done
}

/// AT+TCRESTORE=?
pub fn tcrestore_test(_: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.text_line("+TCRESTORE: CLEAR CONFIG AND RESET");
    reply.ok();
    Step::Done
}

/// AT+TCRESTORE
pub fn tcrestore_exec(context: &mut Context<'_>, reply: &mut Reply) -> Step {
    if context.gates.run {
        reply.cme(208);
        return Step::Done;
    }
    if context.gates.download {
        reply.cme(200);
        return Step::Done;
    }
    reply.accepted();
    Step::Async(Job::RestoreCloud)
}

/// AT+TCMODINFOSET=?
pub fn tcmodinfoset_test(_: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.text_line("+TCMODINFOSET:\"MODULE NAME\",\"FLASH_SIZE (2/4)\",\"WIFI LED GPIO\",\"FW BASE ADDR\",\"FW MAX SIZE\",\"RESERVED\"");
    reply.ok();
    Step::Done
}

/// AT+TCMODINFOSET? shows the stored record (or the defaults), which may differ from the one in
/// effect since boot until the next reboot: then the executor reads it from flash
/// (`RamState::module_pending`).
pub fn tcmodinfoset_query(context: &mut Context<'_>, reply: &mut Reply) -> Step {
    if context.state.module_pending {
        return Step::Sync(Job::ModuleQuery);
    }
    module_line(reply, &context.state.module());
    reply.ok();
    Step::Done
}

/// The `+TCMODINFOSET:` line of AT+TCMODINFOSET?.
pub(crate) fn module_line(reply: &mut Reply, module: &ModuleInfo) {
    reply
        .line()
        .text("+TCMODINFOSET:")
        .quoted(&module.name)
        .text(",")
        .int(module.flash_mb)
        .text(",")
        .int(module.led_gpio)
        .text(",")
        .int(module.fw_base)
        .text(",")
        .int(module.fw_max)
        .text(",")
        .int(module.reserved)
        .end();
}

/// `AT+TCMODINFOSET="<name>",<flash>,<gpio>,<base>,<max>,<reserved>`
pub fn tcmodinfoset_set(context: &mut Context<'_>, reply: &mut Reply, params: Params<'_>) -> Step {
    if context.gates.run {
        reply.cme(208);
        return Step::Done;
    }
    if context.gates.download {
        reply.cme(200);
        return Step::Done;
    }
    if params.count() != 6 {
        reply.engine_error(EngineError::Count);
        return Step::Done;
    }
    let name = match params.field::<30>(0, 1, 30) {
        Ok(name) => name,
        Err(_) => {
            reply.cme(204);
            return Step::Done;
        }
    };
    if !(1..6).all(|index| params.is_int(index)) {
        reply.engine_error(EngineError::Type);
        return Step::Done;
    }
    match module_values(&params) {
        Ok((flash_mb, led_gpio, fw_base, fw_max, reserved)) => {
            reply.accepted();
            Step::Async(Job::StoreModule(ModuleInfo {
                name,
                flash_mb,
                led_gpio,
                fw_base,
                fw_max,
                reserved,
            }))
        }
        Err(error) => {
            error.print_cme(reply);
            Step::Done
        }
    }
}

/// Checks 6–10 of AT+TCMODINFOSET, in order.
fn module_values(params: &Params<'_>) -> Result<(u8, u8, u32, u32, i32), ParamError> {
    let flash = params.int(1)?;
    if flash != 2 && flash != 4 {
        return Err(ParamError::Range);
    }
    let gpio = params.int_in(2, 0..=16)?;
    let base = params.int(3)?;
    if base < MIN_FW_BASE || base % 4096 != 0 {
        return Err(ParamError::Range);
    }
    let max = params.int(4)?;
    let too_large = match flash {
        2 => max > MAX_FW_MAX_2MB,
        _ => i64::from(base) + i64::from(max) > FLASH_END_4MB,
    };
    if max < MIN_FW_MAX || too_large {
        return Err(ParamError::Range);
    }
    let reserved = params.int(5)?;
    Ok((flash as u8, gpio as u8, base as u32, max as u32, reserved))
}

#[cfg(test)]
mod tests {
    use crate::board::Profile;
    use crate::handlers::testing::run;
    use crate::handlers::{Job, Step};
    use crate::state::RamState;

    fn answer(line: &str) -> std::vec::Vec<u8> {
        let mut state = RamState::boot(storage::Snapshot::default());
        run(&mut state, Profile::Full, line.as_bytes()).0
    }

    #[test]
    fn module_info_checks_run_in_the_spec_order() {
        // count first, then the name, then the numeric types, then each range.
        assert_eq!(
            answer("AT+TCMODINFOSET=\"m\",2,5,1114112,909312"),
            b"ERR CODE:0x01060000\r\n\r\nERROR\r\n"
        );
        assert_eq!(
            answer("AT+TCMODINFOSET=m,x,5,1114112,909312,1"),
            b"+CME ERROR:204\r\n"
        );
        assert_eq!(
            answer("AT+TCMODINFOSET=\"m\",\"2\",5,1114112,909312,1"),
            b"ERR CODE:0x01050000\r\n\r\nERROR\r\n"
        );
        for bad in [
            "AT+TCMODINFOSET=\"m\",3,5,1114112,909312,1",
            "AT+TCMODINFOSET=\"m\",2,17,1114112,909312,1",
            "AT+TCMODINFOSET=\"m\",2,-1,1114112,909312,1",
            "AT+TCMODINFOSET=\"m\",2,5,1110016,909312,1",
            "AT+TCMODINFOSET=\"m\",2,5,1114113,909312,1",
            "AT+TCMODINFOSET=\"m\",2,5,1114112,909313,1",
            "AT+TCMODINFOSET=\"m\",2,5,1114112,131071,1",
            "AT+TCMODINFOSET=\"m\",4,5,3145728,1048577,1",
            "AT+TCMODINFOSET=\"0123456789012345678901234567890\",2,5,1114112,909312,1",
        ] {
            assert_eq!(answer(bad), b"+CME ERROR:204\r\n", "{bad}");
        }
    }

    #[test]
    fn valid_module_info_is_accepted_for_storing() {
        let mut state = RamState::boot(storage::Snapshot::default());
        let (reply, step) = run(
            &mut state,
            Profile::Full,
            b"AT+TCMODINFOSET=\"ESP-WROOM\",4,2,1114112,3080192,0",
        );
        assert_eq!(reply, b"OK\r\n");
        let Step::Async(Job::StoreModule(info)) = step else {
            panic!("expected a store job")
        };
        assert_eq!((info.flash_mb, info.led_gpio, info.fw_max), (4, 2, 3080192));
    }

    #[test]
    fn restore_test_string_has_its_space() {
        assert_eq!(
            answer("AT+TCRESTORE=?"),
            b"+TCRESTORE: CLEAR CONFIG AND RESET\r\n\r\nOK\r\n"
        );
    }
}
