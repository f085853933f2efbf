//! Bad-input table: malformed, out-of-range and oddly framed lines, each with its exact reply
//! (`at-engine.md` §3–§5, §8; `commands.md`). After every row the stored settings must be
//! unchanged: the flash file is compared byte for byte and the setting queries must answer
//! exactly as before the row.

mod common;

use common::{escape, Module, Options, Scratch, Uart};

const E03: &str = "ERR CODE:0x01030000\r\n\r\nERROR\r\n";
const E04: &str = "ERR CODE:0x01040000\r\n\r\nERROR\r\n";
const E05: &str = "ERR CODE:0x01050000\r\n\r\nERROR\r\n";
const E06: &str = "ERR CODE:0x01060000\r\n\r\nERROR\r\n";
const E07: &str = "ERR CODE:0x01070000\r\n\r\nERROR\r\n";
const E09: &str = "ERR CODE:0x01090000\r\n\r\nERROR\r\n";
const CME204: &str = "+CME ERROR:204\r\n";

/// How the row's bytes are written.
#[derive(Clone, Copy)]
enum Write {
    Once,
    Bytewise,
}

struct Row {
    name: &'static str,
    sent: Vec<u8>,
    write: Write,
    reply: Vec<u8>,
}

/// A row whose reply is the echo of the sent line followed by `response` (echo is on).
fn echoed(name: &'static str, line: &str, response: &str) -> Row {
    echoed_bytes(name, line.as_bytes(), response)
}

fn echoed_bytes(name: &'static str, line: &[u8], response: &str) -> Row {
    let mut sent = line.to_vec();
    sent.extend_from_slice(b"\r\n");
    let mut reply = sent.clone();
    reply.extend_from_slice(response.as_bytes());
    Row {
        name,
        sent,
        write: Write::Once,
        reply,
    }
}

/// A row with explicit bytes and reply.
fn raw(name: &'static str, sent: &[u8], reply: &[u8], write: Write) -> Row {
    Row {
        name,
        sent: sent.to_vec(),
        write,
        reply: reply.to_vec(),
    }
}

fn modinfo(fields: &str) -> String {
    format!("AT+TCMODINFOSET={fields}")
}

fn rows() -> Vec<Row> {
    let secret = "YWJjZGVmZ2hpamtsbW5vcA==";
    let mut long_line = b"AT+TCDEVINFOSET=1,\"S3EUVBRJLB\",\"".to_vec();
    long_line.extend(std::iter::repeat_n(b'd', 300));
    long_line.extend_from_slice(b"\",\"x\"\r\n");
    // 255 bytes + CR LF = 257: one byte over the limit.
    let mut just_over = b"AT+TCMQTTSRV=\"".to_vec();
    just_over.extend(std::iter::repeat_n(b'o', 255 - 15));
    just_over.extend_from_slice(b"\"\r\n");
    assert_eq!(just_over.len(), 257);
    // 254 bytes + CR LF = 256: still a line.
    let mut at_limit = "AT+TCMQTTSRV=\"".to_string();
    at_limit.extend(std::iter::repeat_n('o', 254 - 15));
    at_limit.push('"');
    assert_eq!(at_limit.len() + 2, 256);

    vec![
        // Length limit (at-engine.md §3.2): no echo for [E:04].
        raw(
            "overlong 300+ bytes",
            &long_line,
            E04.as_bytes(),
            Write::Once,
        ),
        raw(
            "overlong 257 bytes",
            &just_over,
            E04.as_bytes(),
            Write::Once,
        ),
        raw(
            "overlong split bytewise",
            &long_line,
            E04.as_bytes(),
            Write::Bytewise,
        ),
        raw(
            "overlong without AT prefix",
            &[b'x'; 600]
                .iter()
                .chain(b"\r\n")
                .copied()
                .collect::<Vec<u8>>(),
            E04.as_bytes(),
            Write::Once,
        ),
        echoed("256-byte line is accepted", &at_limit, CME204),
        // Quoting and escapes (at-engine.md §4).
        echoed(
            "unterminated quote in pid",
            &format!("AT+TCDEVINFOSET=1,\"S3EUVBRJLB,\"dev\",\"{secret}\""),
            CME204,
        ),
        echoed(
            "unterminated quote at end",
            &format!("AT+TCDEVINFOSET=1,\"S3EUVBRJLB\",\"dev\",\"{secret}"),
            CME204,
        ),
        echoed(
            "escaped closing quote",
            "AT+TCDEVINFOSET=1,\"S3EUVBRJLB\",\"dev\",\"abc\\\"",
            CME204,
        ),
        echoed("dangling backslash", "AT+TCMQTTSRV=\"a\"\\", CME204),
        echoed("text after closing quote", "AT+TCMQTTSRV=\"a\"b", CME204),
        echoed("lone quote", "AT+TCMQTTSRV=\"", CME204),
        echoed(
            "escaped comma merges parameters",
            "AT+TCLOG=86013388\\,1",
            CME204,
        ),
        echoed(
            "unterminated string in basic command",
            "AT+CWJAP=\"hub-ap,\"password123\"",
            E05,
        ),
        // Argument counts.
        echoed(
            "devinfo 3 parameters",
            "AT+TCDEVINFOSET=1,\"S3EUVBRJLB\",\"dev\"",
            CME204,
        ),
        echoed(
            "devinfo 6 parameters",
            &format!("AT+TCDEVINFOSET=1,\"S3EUVBRJLB\",\"dev\",\"{secret}\",\"china\",\"x\""),
            CME204,
        ),
        echoed(
            "prdinfo 2 parameters",
            "AT+TCPRDINFOSET=1,\"S3EUVBRJLB\"",
            CME204,
        ),
        echoed(
            "modinfo 5 parameters",
            &modinfo("\"M\",2,5,1114112,909312"),
            E06,
        ),
        echoed("modinfo empty", "AT+TCMODINFOSET=", E06),
        echoed("cwmode 3 parameters", "AT+CWMODE=1,1,1", E06),
        echoed("cwjap 1 parameter", "AT+CWJAP=\"hub-ap\"", E06),
        echoed("cipmode 2 parameters", "AT+CIPMODE=0,0", E06),
        echoed("tclog 1 parameter", "AT+TCLOG=2", CME204),
        echoed("tcmqttsrv 2 parameters", "AT+TCMQTTSRV=\"a\",\"b\"", CME204),
        // Out of range.
        echoed("cwmode 4", "AT+CWMODE=4", E07),
        echoed("cwmode -1", "AT+CWMODE=-1", E07),
        echoed("cwmode i32 max", "AT+CWMODE=2147483647", E07),
        echoed("cipmode 1", "AT+CIPMODE=1", E07),
        echoed(
            "cwjap ssid 33 bytes",
            "AT+CWJAP=\"abcdefghijklmnopqrstuvwxyz0123456\",\"password123\"",
            E07,
        ),
        echoed(
            "devinfo tls 3",
            &format!("AT+TCDEVINFOSET=3,\"S3EUVBRJLB\",\"dev\",\"{secret}\""),
            CME204,
        ),
        echoed(
            "devinfo tls -1",
            &format!("AT+TCDEVINFOSET=-1,\"S3EUVBRJLB\",\"dev\",\"{secret}\""),
            CME204,
        ),
        echoed(
            "devinfo pid 11 bytes",
            &format!("AT+TCDEVINFOSET=1,\"S3EUVBRJLBX\",\"dev\",\"{secret}\""),
            CME204,
        ),
        echoed(
            "devinfo empty region",
            &format!("AT+TCDEVINFOSET=1,\"S3EUVBRJLB\",\"dev\",\"{secret}\",\"\""),
            CME204,
        ),
        echoed(
            "modinfo flash 8",
            &modinfo("\"M\",8,5,1114112,909312,1"),
            CME204,
        ),
        echoed(
            "modinfo gpio 17",
            &modinfo("\"M\",2,17,1114112,909312,1"),
            CME204,
        ),
        echoed(
            "modinfo gpio -1",
            &modinfo("\"M\",2,-1,1114112,909312,1"),
            CME204,
        ),
        echoed(
            "modinfo base unaligned",
            &modinfo("\"M\",2,5,1114116,909312,1"),
            CME204,
        ),
        echoed(
            "modinfo base too low",
            &modinfo("\"M\",2,5,0,909312,1"),
            CME204,
        ),
        echoed(
            "modinfo max too small",
            &modinfo("\"M\",2,5,1114112,4096,1"),
            CME204,
        ),
        echoed(
            "modinfo max too big",
            &modinfo("\"M\",2,5,1114112,1000000,1"),
            CME204,
        ),
        echoed(
            "modinfo beyond 4 MiB",
            &modinfo("\"M\",4,5,4096000,200000,1"),
            CME204,
        ),
        echoed("tclog level 5", "AT+TCLOG=86013388,5", CME204),
        echoed(
            "tcmqttsrv 64 bytes",
            &format!("AT+TCMQTTSRV=\"{}\"", "h".repeat(64)),
            CME204,
        ),
        // Wrong types.
        echoed("cwmode quoted integer", "AT+CWMODE=\"1\"", E05),
        echoed("cwmode decimal", "AT+CWMODE=1.5", E05),
        echoed("cwmode word", "AT+CWMODE=abc", E05),
        echoed("cwmode plus sign", "AT+CWMODE=+1", E05),
        echoed("cwmode overflow", "AT+CWMODE=2147483648", E05),
        echoed("cwmode omitted", "AT+CWMODE=", E05),
        echoed("cwjap integer ssid", "AT+CWJAP=1,\"password123\"", E05),
        echoed("cwjap omitted password", "AT+CWJAP=\"hub-ap\",", E05),
        echoed(
            "devinfo quoted tls",
            &format!("AT+TCDEVINFOSET=\"1\",\"S3EUVBRJLB\",\"dev\",\"{secret}\""),
            E05,
        ),
        echoed(
            "devinfo unquoted pid",
            &format!("AT+TCDEVINFOSET=1,S3EUVBRJLB,\"dev\",\"{secret}\""),
            CME204,
        ),
        echoed("devinfo set form with ?x", "AT+TCDEVINFOSET=?x", E05),
        echoed(
            "modinfo quoted flash",
            &modinfo("\"M\",\"2\",5,1114112,909312,1"),
            E05,
        ),
        echoed(
            "modinfo unquoted name",
            &modinfo("M,2,5,1114112,909312,1"),
            CME204,
        ),
        echoed("tclog quoted password", "AT+TCLOG=\"86013388\",1", CME204),
        echoed("tcmqttsrv integer", "AT+TCMQTTSRV=1", CME204),
        echoed("cipmode quoted", "AT+CIPMODE=\"0\"", E05),
        // Line start and command names (at-engine.md §3.4, §4).
        echoed("lowercase at", "at", E03),
        echoed("lowercase at+gmr", "at+gmr", E03),
        echoed("mixed case At", "At+TCVER", E03),
        echoed("leading space", " AT", E03),
        echoed("AT+tcver", "AT+tcver", E09),
        echoed("ATX", "ATX", E09),
        echoed("AT+ alone", "AT+", E09),
        echoed("space after AT", "AT +GMR", E09),
        echoed("trailing space", "AT+TCVER ", E09),
        echoed("space before =", "AT+CWMODE =1", E09),
        echoed("space in parameter", "AT+CWMODE= 1", E05),
        echoed("space after parameter", "AT+CWMODE=1 ", E05),
        echoed("double question mark", "AT+CWMODE??", E09),
        echoed("query then =", "AT+CWMODE?=", E09),
        echoed("tcrestore query form", "AT+TCRESTORE?", E09),
        echoed("tcrestore set form", "AT+TCRESTORE=1", E09),
        echoed("restore test form", "AT+RESTORE=?", E09),
        echoed("rst query form", "AT+RST?", E09),
        echoed("devinfo execute form", "AT+TCDEVINFOSET", E09),
        echoed("cwmode execute form", "AT+CWMODE", E09),
        // NUL bytes and non-UTF-8.
        echoed_bytes("NUL before AT", b"\x00AT", E03),
        echoed_bytes("NUL after AT", b"AT\x00", E09),
        echoed_bytes("NUL after name", b"AT+TCVER\x00", E09),
        echoed_bytes("non-UTF-8 name", b"AT+\xff\xfe", E09),
        echoed_bytes("non-UTF-8 first byte", b"\xffAT", E03),
        echoed_bytes("non-UTF-8 integer", b"AT+CWMODE=\xff", E05),
        echoed_bytes("NUL in integer", b"AT+CWMODE=1\x00", E05),
        // Framing.
        raw("empty line", b"\r\n", b"", Write::Once),
        raw("three empty lines", b"\r\n\r\n\r\n", b"", Write::Once),
        raw(
            "lone LF inside a line",
            b"AT\nAT+GMR\r\n",
            format!("AT\nAT+GMR\r\n{E09}").as_bytes(),
            Write::Once,
        ),
        raw(
            "lone CR inside a line",
            b"AT+CWMODE=1\r3\r\n",
            format!("AT+CWMODE=1\r3\r\n{E05}").as_bytes(),
            Write::Once,
        ),
        raw(
            "query split across many writes",
            b"AT+CWMODE?\r\n",
            b"AT+CWMODE?\r\n+CWMODE:3\r\n\r\nOK\r\n",
            Write::Bytewise,
        ),
        raw(
            "bad line split across many writes",
            b"AT+CWMODE=9\r\n",
            format!("AT+CWMODE=9\r\n{E07}").as_bytes(),
            Write::Bytewise,
        ),
        raw(
            "two commands in one write",
            b"AT\r\nAT+CWMODE?\r\n",
            b"AT\r\n\r\nOK\r\nAT+CWMODE?\r\n+CWMODE:3\r\n\r\nOK\r\n",
            Write::Once,
        ),
        raw(
            "bad and good line in one write",
            b"AT+CWMODE=7\r\nAT\r\n",
            format!("AT+CWMODE=7\r\n{E07}AT\r\n\r\nOK\r\n").as_bytes(),
            Write::Once,
        ),
        raw(
            "overlong then good line in one write",
            &long_line
                .iter()
                .chain(b"AT\r\n")
                .copied()
                .collect::<Vec<u8>>(),
            format!("{E04}AT\r\n\r\nOK\r\n").as_bytes(),
            Write::Once,
        ),
        // AT+TCDEVREG has no parameters; AT+TCREGNET's type, count and lengths
        // (commands.md §1, §3).
        echoed("tcdevreg query form", "AT+TCDEVREG?", E09),
        echoed("tcdevreg set form", "AT+TCDEVREG=1", E09),
        echoed("tcdevreg empty set form", "AT+TCDEVREG=", E09),
        echoed(
            "tcregnet cellular module type",
            "AT+TCREGNET=0,\"hub-ap\",\"password123\"",
            CME204,
        ),
        echoed(
            "tcregnet type as string",
            "AT+TCREGNET=\"1\",\"hub-ap\",\"password123\"",
            CME204,
        ),
        echoed(
            "tcregnet two parameters",
            "AT+TCREGNET=1,\"hub-ap\"",
            CME204,
        ),
        echoed(
            "tcregnet four parameters",
            "AT+TCREGNET=1,\"hub-ap\",\"password123\",\"x\"",
            CME204,
        ),
        echoed(
            "tcregnet empty ssid",
            "AT+TCREGNET=1,\"\",\"password123\"",
            CME204,
        ),
        echoed(
            "tcregnet 33-byte ssid",
            &format!("AT+TCREGNET=1,\"{}\",\"x\"", "s".repeat(33)),
            CME204,
        ),
        echoed(
            "tcregnet 64-byte password",
            &format!("AT+TCREGNET=1,\"hub-ap\",\"{}\"", "p".repeat(64)),
            CME204,
        ),
        echoed(
            "tcregnet unquoted ssid",
            "AT+TCREGNET=1,hub-ap,\"password123\"",
            CME204,
        ),
        echoed("tcregnet execute form", "AT+TCREGNET", E09),
        // A valid write of the value already stored: accepted, flash untouched.
        echoed(
            "cwmode leading zero, same value",
            "AT+CWMODE=03",
            "\r\nOK\r\n",
        ),
    ]
}

/// The settings the table must never change.
const QUERIES: &[&[u8]] = &[
    b"AT+TCDEVINFOSET?\r\n",
    b"AT+TCPRDINFOSET?\r\n",
    b"AT+TCMODINFOSET?\r\n",
    b"AT+CWMODE?\r\n",
    b"AT+TCMQTTSRV?\r\n",
    b"AT+TCLOG?\r\n",
];

fn snapshot(module: &mut Module) -> (Vec<u8>, Vec<Vec<u8>>) {
    let answers = QUERIES.iter().map(|query| module.transact(query)).collect();
    (module.flash_bytes(), answers)
}

fn configure(module: &mut Module) {
    let setup: &[(&[u8], &[u8])] = &[
        (
            b"AT+TCDEVINFOSET=1,\"S3EUVBRJLB\",\"test_device\",\"YWJjZGVmZ2hpamtsbW5vcA==\"\r\n",
            b"OK\r\n+TCDEVINFOSET:OK\r\n",
        ),
        (
            b"AT+TCPRDINFOSET=1,\"S3EUVBRJLB\",\"cHJvZHVjdHNlY3JldHh5eg==\",\"dev_001\"\r\n",
            b"OK\r\n+TCPRDINFOSET:OK\r\n",
        ),
        (
            b"AT+TCMODINFOSET=\"TABLE\",2,4,1114112,524288,0\r\n",
            b"OK\r\n+TCMODINFOSET:OK\r\n",
        ),
        (b"AT+CWMODE=3\r\n", b"\r\nOK\r\n"),
        (
            b"AT+TCMQTTSRV=\"127.0.0.1\"\r\n",
            b"OK\r\n+TCMQTTSRV:OK\r\n",
        ),
        (b"AT+TCLOG=86013388,2\r\n", b"\r\nOK\r\n"),
    ];
    for (line, reply) in setup {
        module.send(line);
        let mut expected = line.to_vec();
        expected.extend_from_slice(reply);
        module.expect(&expected);
    }
}

fn run_table(uart: Uart) {
    let rows = rows();
    assert!(rows.len() >= 40, "the table needs at least 40 rows");
    let scratch = Scratch::new("bad-input");
    let mut module = Module::start(uart, &scratch.flash(), &Options::default());
    configure(&mut module);
    assert!(
        module.flash_bytes().iter().any(|byte| *byte != 0xff),
        "the settings were not written to the flash file given with --flash"
    );
    let mut before = snapshot(&mut module);
    for row in &rows {
        module.context = format!(
            "row {:?} ({uart:?}), sent \"{}\"",
            row.name,
            escape(&row.sent)
        );
        match row.write {
            Write::Once => module.send(&row.sent),
            Write::Bytewise => module.send_bytewise(&row.sent),
        }
        module.expect(&row.reply);
        let after = snapshot(&mut module);
        for (index, (old, new)) in before.1.iter().zip(&after.1).enumerate() {
            if old != new {
                module.fail(&format!(
                    "{} changed: before \"{}\", after \"{}\"",
                    escape(QUERIES[index]),
                    escape(old),
                    escape(new)
                ));
            }
        }
        if before.0 != after.0 {
            module.fail("the flash file changed");
        }
        before = after;
    }
    module.context.clear();
    module.expect_quiet(true);
}

#[test]
fn bad_input_table_over_pty() {
    run_table(Uart::Pty);
}

#[test]
fn bad_input_table_over_stdio() {
    run_table(Uart::Stdio);
}
