//! Persistence through the real binary: settings survive `kill -9` and a restart on the same
//! flash file (`cloud.md` §7), and a SIGKILL at a random moment during a settings write leaves a
//! flash image that loads and answers every query with either the old or the new value.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{bcc, escape, Module, Options, Scratch, Uart};

const SECRET: &str = "c2VjcmV0LWtleS0yMDI0IQ==";
const PRODUCT_SECRET: &str = "cHJvZHVjdHNlY3JldHh5eg==";

fn command(module: &mut Module, line: &str, reply: &str) {
    module.send(format!("{line}\r\n").as_bytes());
    module.expect(format!("{line}\r\n{reply}").as_bytes());
}

#[test]
fn settings_survive_kill_and_restart() {
    let scratch = Scratch::new("persist");
    let mut module = Module::start(Uart::Pty, &scratch.flash(), &Options::default());
    command(
        &mut module,
        &format!("AT+TCDEVINFOSET=1,\"S3EUVBRJLB\",\"persist_dev\",\"{SECRET}\",\"na-ashburn\""),
        "OK\r\n+TCDEVINFOSET:OK\r\n",
    );
    command(
        &mut module,
        &format!("AT+TCPRDINFOSET=1,\"ABCDEFGHIJ\",\"{PRODUCT_SECRET}\",\"persist_prd\""),
        "OK\r\n+TCPRDINFOSET:OK\r\n",
    );
    command(
        &mut module,
        "AT+TCMODINFOSET=\"PERSIST\",4,12,2097152,1048576,3",
        "OK\r\n+TCMODINFOSET:OK\r\n",
    );
    command(&mut module, "AT+CWMODE=3", "\r\nOK\r\n");
    command(
        &mut module,
        "AT+CWJAP=\"lab-ap\",\"labpass99\"",
        "WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n",
    );
    module.kill();

    // Over stdio this time: the transport does not matter to the flash file.
    let mut module = Module::spawn(Uart::Stdio, &scratch.flash(), &Options::default());
    module.expect_within(
        b"\r\nready\r\nWIFI CONNECTED\r\nWIFI GOT IP\r\n",
        common::START_DEADLINE,
    );
    command(
        &mut module,
        "AT+TCDEVINFOSET?",
        &format!(
            "+TCDEVINFOSET:1,\"S3EUVBRJLB\",\"persist_dev\",{},\"na-ashburn\"\r\n\r\nOK\r\n",
            bcc(SECRET.as_bytes())
        ),
    );
    command(
        &mut module,
        "AT+TCPRDINFOSET?",
        &format!(
            "+TCPRDINFOSET:1,\"ABCDEFGHIJ\",{},\"persist_prd\",\"ap-guangzhou\"\r\n\r\nOK\r\n",
            bcc(PRODUCT_SECRET.as_bytes())
        ),
    );
    command(
        &mut module,
        "AT+TCMODINFOSET?",
        "+TCMODINFOSET:\"PERSIST\",4,12,2097152,1048576,3\r\n\r\nOK\r\n",
    );
    command(&mut module, "AT+CWMODE?", "+CWMODE:3\r\n\r\nOK\r\n");
    command(
        &mut module,
        "AT+CWJAP?",
        "+CWJAP:\"lab-ap\",\"02:aa:bb:cc:dd:ee\",11,-67\r\n\r\nOK\r\n",
    );
    // The module profile written before the kill is the one booted now.
    module.send(b"AT+TCMODULE\r\n");
    module.expect(b"AT+TCMODULE\r\nModule HW name: PERSIST\r\n");
    let _version = module.read_line();
    let mac = module.read_line();
    let _build = module.read_line();
    module.expect(b"Module Flash size: 4MB\r\n\r\nOK\r\n");
    // RAM state is not persisted.
    command(
        &mut module,
        "AT+TCMQTTSRV?",
        "+TCMQTTSRV:(null)\r\n\r\nOK\r\n",
    );
    module.expect_quiet(true);
    for secret in [SECRET, PRODUCT_SECRET, "labpass99"] {
        assert!(
            common::find(&module.stderr(), secret.as_bytes()).is_none(),
            "secret {secret} in the log"
        );
    }
    module.kill();

    // The MAC is derived from the flash file: stable across restarts.
    let mut module = Module::spawn(Uart::Stdio, &scratch.flash(), &Options::default());
    module.expect_within(
        b"\r\nready\r\nWIFI CONNECTED\r\nWIFI GOT IP\r\n",
        common::START_DEADLINE,
    );
    module.send(b"AT+TCMODULE\r\n");
    module.expect(b"AT+TCMODULE\r\nModule HW name: PERSIST\r\n");
    let _version = module.read_line();
    assert_eq!(
        escape(&module.read_line()),
        escape(&mac),
        "MAC changed across restarts"
    );
}

/// Deterministic pseudo-random numbers (xorshift) from a printed seed, so a failing run can be
/// replayed by setting `TCAT_E2E_SEED`.
struct Random(u64);

impl Random {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

/// One persisted setting: the line that writes value `n`, the query, and the query answer for
/// value `n`.
struct Setting {
    query: &'static str,
    write: fn(u64) -> String,
    answer: fn(u64) -> String,
}

fn device_secret(value: u64) -> String {
    format!("secret{value:04}AAAAAAAAAAAAAAAAAAA=")
}

fn settings() -> Vec<Setting> {
    vec![
        Setting {
            query: "AT+TCDEVINFOSET?",
            write: |value| {
                format!(
                    "AT+TCDEVINFOSET=1,\"PID{value:07}\",\"device_{value}\",\"{}\"",
                    device_secret(value)
                )
            },
            answer: |value| {
                format!(
                    "+TCDEVINFOSET:1,\"PID{value:07}\",\"device_{value}\",{},\"ap-guangzhou\"\r\n\r\nOK\r\n",
                    bcc(device_secret(value).as_bytes())
                )
            },
        },
        Setting {
            query: "AT+TCPRDINFOSET?",
            write: |value| {
                format!(
                    "AT+TCPRDINFOSET=1,\"PRD{value:07}\",\"productsecret{value}\",\"dn{value}\""
                )
            },
            answer: |value| {
                format!(
                    "+TCPRDINFOSET:1,\"PRD{value:07}\",{},\"dn{value}\",\"ap-guangzhou\"\r\n\r\nOK\r\n",
                    bcc(format!("productsecret{value}").as_bytes())
                )
            },
        },
        Setting {
            query: "AT+TCMODINFOSET?",
            write: |value| {
                format!(
                    "AT+TCMODINFOSET=\"MOD-{value}\",2,{},1114112,909312,{value}",
                    value % 17
                )
            },
            answer: |value| {
                format!(
                    "+TCMODINFOSET:\"MOD-{value}\",2,{},1114112,909312,{value}\r\n\r\nOK\r\n",
                    value % 17
                )
            },
        },
        Setting {
            query: "AT+CWMODE?",
            write: |value| format!("AT+CWMODE={}", value % 4),
            answer: |value| format!("+CWMODE:{}\r\n\r\nOK\r\n", value % 4),
        },
    ]
}

/// Answer of `query` when nothing was ever written.
fn factory_answer(query: &str) -> String {
    match query {
        "AT+TCDEVINFOSET?" | "AT+TCPRDINFOSET?" => "+CME ERROR:207\r\n".to_string(),
        "AT+TCMODINFOSET?" => {
            "+TCMODINFOSET:\"ESP-DEFAULT-2MB\",2,5,1114112,909312,1\r\n\r\nOK\r\n".to_string()
        }
        "AT+CWMODE?" => "+CWMODE:1\r\n\r\nOK\r\n".to_string(),
        other => unreachable!("{other}"),
    }
}

#[test]
fn sigkill_during_writes_keeps_old_or_new_values() {
    let seed = std::env::var("TCAT_E2E_SEED")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("kill loop seed: {seed} (replay with TCAT_E2E_SEED={seed})");
    let mut random = Random(seed);
    let settings = settings();
    let scratch = Scratch::new("kill-loop");
    // Accepted answers per setting: the last confirmed one, plus the one being written.
    let mut confirmed: Vec<String> = settings.iter().map(|s| factory_answer(s.query)).collect();
    for iteration in 0..24u64 {
        let mut module = Module::start(Uart::Stdio, &scratch.flash(), &Options::default());
        module.context = format!("iteration {iteration} (seed {seed})");
        let index = (iteration as usize) % settings.len();
        let value = 1 + random.below(1000);
        let pending = (settings[index].answer)(value);
        // The kill lands before, during or after the flash write of this line.
        let line = format!("{}\r\n", (settings[index].write)(value));
        module.send(line.as_bytes());
        let delay = random.below(20_000);
        std::thread::sleep(Duration::from_micros(delay)); // fault injection, not synchronisation
        module.kill();

        let mut module = Module::start(Uart::Stdio, &scratch.flash(), &Options::default());
        module.context = format!("iteration {iteration} after kill at {delay} µs (seed {seed})");
        for (position, setting) in settings.iter().enumerate() {
            let query = format!("{}\r\n", setting.query);
            let response = module.transact(query.as_bytes());
            let answer = response
                .strip_prefix(query.as_bytes())
                .unwrap_or_else(|| module.fail(&format!("no echo in \"{}\"", escape(&response))));
            let answer = String::from_utf8_lossy(answer).into_owned();
            let acceptable =
                answer == confirmed[position] || (position == index && answer == pending);
            if !acceptable {
                module.fail(&format!(
                    "{} answered \"{}\"; expected old \"{}\"{}",
                    setting.query,
                    escape(answer.as_bytes()),
                    escape(confirmed[position].as_bytes()),
                    if position == index {
                        format!(" or new \"{}\"", escape(pending.as_bytes()))
                    } else {
                        String::new()
                    }
                ));
            }
            confirmed[position] = answer;
        }
        module.expect_quiet(true);
        module.kill();
    }
}
