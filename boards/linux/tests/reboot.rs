//! AT+RST over the pseudo-terminal: the reboot is simulated in-process, the host's open
//! descriptor keeps working, `\r\nready\r\n` comes again, and RAM state is reset to the boot
//! defaults (`at-engine.md` §2, `commands.md` §0, §7).

mod common;

use std::time::{Duration, Instant};

use common::{Module, Options, Scratch, Uart};

#[test]
fn rst_keeps_the_pty_open_and_resets_ram_state() {
    let scratch = Scratch::new("reboot");
    let link = scratch.path().join("uart-link");
    let options = Options {
        extra_arguments: vec!["--pty-link".into(), link.display().to_string()],
        ..Options::default()
    };
    let mut module = Module::start(Uart::Pty, &scratch.flash(), &options);
    let pty_path = module.pty_path.clone().unwrap();
    assert_eq!(
        std::fs::canonicalize(&link).unwrap(),
        std::fs::canonicalize(&pty_path).unwrap(),
        "--pty-link must point at the printed PTY"
    );

    // Change every kind of RAM state: echo, broker override, log level.
    module.send(b"AT+TCMQTTSRV=\"10.0.0.1\"\r\n");
    module.expect(b"AT+TCMQTTSRV=\"10.0.0.1\"\r\nOK\r\n+TCMQTTSRV:OK\r\n");
    module.send(b"AT+TCLOG=86013388,4\r\n");
    module.expect(b"AT+TCLOG=86013388,4\r\n\r\nOK\r\n");
    module.send(b"ATE0\r\n");
    module.expect(b"ATE0\r\n\r\nOK\r\n");

    for round in 0..3 {
        module.context = format!("reboot round {round}");
        module.send(b"AT+RST\r\n");
        let echo: &[u8] = if round == 0 { b"" } else { b"AT+RST\r\n" };
        module.expect(&[echo, b"\r\nOK\r\n"].concat());
        let started = Instant::now();
        module.expect(common::READY);
        let elapsed = started.elapsed();
        // Linux board bound is 200 ms; 1 s (the every-board bound) leaves room for a loaded CI machine.
        assert!(
            elapsed < Duration::from_secs(1),
            "ready came {elapsed:?} after the reboot's [OK]"
        );
        // Echo is back on; the override and the log level are gone.
        module.send(b"AT+TCMQTTSRV?\r\n");
        module.expect(b"AT+TCMQTTSRV?\r\n+TCMQTTSRV:(null)\r\n\r\nOK\r\n");
        module.send(b"AT+TCLOG?\r\n");
        module.expect(b"AT+TCLOG?\r\n+TCLOG: 1\r\n\r\nOK\r\n");
        module.send(b"AT+TCMQTTSTATE?\r\n");
        module.expect(b"AT+TCMQTTSTATE?\r\n+TCMQTTSTATE:0\r\n\r\nOK\r\n");
    }
    module.expect_quiet(true);
    // Still the same PTY path after the reboots.
    assert_eq!(
        std::fs::canonicalize(&link).unwrap(),
        std::fs::canonicalize(&pty_path).unwrap()
    );
}

#[test]
fn lines_queued_behind_rst_are_discarded() {
    // The SDK pattern: a second AT+RST right behind the first. The second line arrives before
    // the banner (and is queued while the first executes), so the reboot discards it.
    let scratch = Scratch::new("double-rst");
    let mut module = Module::start(Uart::Pty, &scratch.flash(), &Options::default());
    module.send(b"AT+RST\r\nAT+RST\r\nAT+TCMQTTSRV=\"lost.example\"\r\n");
    module.expect(b"AT+RST\r\n\r\nOK\r\n\r\nready\r\n");
    module.send(b"AT+TCMQTTSRV?\r\n");
    module.expect(b"AT+TCMQTTSRV?\r\n+TCMQTTSRV:(null)\r\n\r\nOK\r\n");
    module.expect_quiet(true);
}

#[test]
fn restore_reboots_in_process_over_stdio() {
    let scratch = Scratch::new("restore-stdio");
    let mut module = Module::start(Uart::Stdio, &scratch.flash(), &Options::default());
    module.send(b"AT+CWMODE=2\r\n");
    module.expect(b"AT+CWMODE=2\r\n\r\nOK\r\n");
    module.send(b"AT+RESTORE\r\n");
    module.expect(b"AT+RESTORE\r\n\r\nOK\r\n\r\nready\r\n");
    module.send(b"AT+CWMODE?\r\n");
    module.expect(b"AT+CWMODE?\r\n+CWMODE:1\r\n\r\nOK\r\n");
    module.expect_quiet(true);
}
