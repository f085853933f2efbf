//! Basic ESP-AT commands (`commands.md` §7) and the hidden AT+TCLOG. Their errors are
//! core-style (`[E:05]`, `[E:06]`, `[E:07]`), never `+CME`, except AT+TCLOG's `CME(204)`.

use super::{Context, Job, Step};
use crate::params::Params;
use crate::render::Reply;

/// Password that lets AT+TCLOG choose the level.
const LOG_PASSWORD: i32 = 86013388;

/// AT+GMR
pub fn gmr_exec(context: &mut Context<'_>, reply: &mut Reply) -> Step {
    let board = context.board;
    reply
        .line()
        .fmt(format_args!(
            "AT version:{}({} - {} - {})",
            board.version, board.git_hash, board.board, board.build_time
        ))
        .end();
    reply
        .line()
        .fmt(format_args!("SDK version:qcloud-at-rs-{}", board.version))
        .end();
    reply
        .line()
        .text("compile time:")
        .text(board.build_time)
        .end();
    reply
        .line()
        .fmt(format_args!(
            "Bin version:QCloud_AT_{}_v{}",
            board.board, board.version
        ))
        .end();
    reply.ok();
    Step::Done
}

/// AT+RST
pub fn rst_exec(_: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.ok();
    Step::Sync(Job::Reboot)
}

/// AT+RESTORE
pub fn restore_exec(_: &mut Context<'_>, _: &mut Reply) -> Step {
    Step::Sync(Job::RestoreWifi)
}

/// AT+CIPMODE?
pub fn cipmode_query(_: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.text_line("+CIPMODE:0");
    reply.ok();
    Step::Done
}

/// `AT+CIPMODE=<mode>`: only the normal transmission mode exists.
pub fn cipmode_set(_: &mut Context<'_>, reply: &mut Reply, params: Params<'_>) -> Step {
    match params
        .expect_count(1, 1)
        .and_then(|()| params.int_in(0, 0..=0))
    {
        Ok(_) => reply.ok(),
        Err(error) => error.print_basic(reply),
    }
    Step::Done
}

/// AT+SYSRAM?
pub fn sysram_query(context: &mut Context<'_>, reply: &mut Reply) -> Step {
    let (free, minimum) = (context.board.free_ram)();
    reply
        .line()
        .text("+SYSRAM:")
        .int(free)
        .text(",")
        .int(minimum)
        .end();
    reply.ok();
    Step::Done
}

/// AT+TCLOG=?
pub fn tclog_test(_: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.text_line("+TCLOG: <log_level>");
    reply.ok();
    Step::Done
}

/// AT+TCLOG?
pub fn tclog_query(context: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply
        .line()
        .text("+TCLOG: ")
        .int(context.state.log_level)
        .end();
    reply.ok();
    Step::Done
}

/// `AT+TCLOG=<password>,<level>`
pub fn tclog_set(context: &mut Context<'_>, reply: &mut Reply, params: Params<'_>) -> Step {
    let checked = params.expect_count(2, 2).and_then(|()| {
        let password = params.int(0)?;
        let level = params.int_in(1, 0..=4)?;
        Ok((password, level))
    });
    match checked {
        Ok((password, level)) => {
            // A wrong password is not an error: the original silently falls back to level 1.
            context.state.log_level = if password == LOG_PASSWORD {
                level as u8
            } else {
                1
            };
            reply.ok();
        }
        Err(error) => error.print_cme(reply),
    }
    Step::Done
}
