//! End to end over TLS mode 2 (certificate TLS, `cloud.md` §1.4) against Debian's `mosquitto`
//! with `require_certificate true`: the CA, the server certificate (`*.iotcloud.tencentdevices.com`
//! and 127.0.0.1) and the client certificate are made with the `openssl` CLI. The module trusts
//! the test CA through `TCAT_CA_FILE` and gets its certificate and key through AT+TCCERTADD.
//! A plain listener lets `mosquitto_pub` inject messages.

mod common;
#[path = "common/pki.rs"]
mod pki;

use std::path::Path;

use common::mosquitto::{free_port, publish, Mosquitto};
use common::{Module, Options, Scratch, Uart};
use pki::Authority;

const TOPIC: &str = "PID0000001/dev1/data";

/// A broker with a certificate listener (client certificates required) and a plain one,
/// killed (by its own id) when dropped.
struct Broker {
    _process: Mosquitto,
    tls_port: u16,
    plain_port: u16,
}

impl Broker {
    fn start(scratch: &Path, authority: &Authority, server: (&Path, &Path)) -> Broker {
        let (tls_port, plain_port) = (free_port(), free_port());
        let process = Mosquitto::start(
            scratch,
            &format!(
                "listener {tls_port} 127.0.0.1\ncafile {ca}\ncertfile {certificate}\n\
                 keyfile {key}\nrequire_certificate true\nuse_identity_as_username false\n\
                 listener {plain_port} 127.0.0.1\n",
                ca = authority.certificate().display(),
                certificate = server.0.display(),
                key = server.1.display(),
            ),
        );
        Broker {
            _process: process,
            tls_port,
            plain_port,
        }
    }

    fn publish(&self, topic: &str, payload: &str) {
        publish(self.plain_port, topic, payload);
    }
}

/// Stores `path`'s contents as `name` through the data phase.
fn add_file(module: &mut Module, name: &str, path: &Path) {
    let bytes = std::fs::read(path).expect("read PEM");
    module.send(format!("AT+TCCERTADD=\"{name}\",{}\r\n", bytes.len()).as_bytes());
    module.expect(b"OK\r\n>\r\n");
    module.send(&bytes);
    module.expect(b"+TCCERTADD:OK\r\n");
}

/// A module routed to `broker` that trusts `ca`, with `dev1.crt`/`dev1.key` stored and a
/// mode-2 device record.
fn start_module(scratch: &Scratch, broker: &Broker, ca: &Path, client: (&Path, &Path)) -> Module {
    let options = Options {
        environment: vec![
            (
                "TCAT_RESOLVE".into(),
                "*.tencentdevices.com=127.0.0.1".into(),
            ),
            (
                "TCAT_PORT_MAP".into(),
                format!("8883={},1883={}", broker.tls_port, broker.plain_port),
            ),
            ("TCAT_CA_FILE".into(), ca.display().to_string()),
        ],
        ..Options::default()
    };
    let mut module = Module::start(Uart::Stdio, &scratch.flash(), &options);
    module.send(b"ATE0\r\n");
    module.expect(b"ATE0\r\n\r\nOK\r\n");
    add_file(&mut module, "dev1.crt", client.0);
    add_file(&mut module, "dev1.key", client.1);
    module.send(b"AT+TCDEVINFOSET=2,\"PID0000001\",\"dev1\",\"dev1.crt\"\r\n");
    module.expect(b"OK\r\n+TCDEVINFOSET:OK\r\n");
    module
}

/// Reads the next two lines, `first` and `second` in either order (`urc.md` §7 rule 6).
fn expect_lines_in_any_order(module: &mut Module, first: &[u8], second: &[u8]) {
    let lines = [module.read_line(), module.read_line()];
    if lines != [first.to_vec(), second.to_vec()] && lines != [second.to_vec(), first.to_vec()] {
        module.fail(&format!("unexpected lines {lines:?}"));
    }
}

#[test]
fn certificate_session_connects_loops_back_and_protects_its_files() {
    let scratch = Scratch::new("mqtt-certificate");
    let authority = Authority::new(scratch.path(), "ca");
    let (server_certificate, server_key) = authority.server("server");
    let (client_certificate, client_key) = authority.client("dev1", true);
    let broker = Broker::start(
        scratch.path(),
        &authority,
        (&server_certificate, &server_key),
    );
    let mut module = start_module(
        &scratch,
        &broker,
        &authority.certificate(),
        (&client_certificate, &client_key),
    );

    module.send(b"AT+TCMQTTCONN=2,5000,240,1,1\r\n");
    module.expect(b"OK\r\n+TCMQTTCONN:OK\r\n");
    module.send(b"AT+TCMQTTSTATE?\r\n");
    module.expect(b"+TCMQTTSTATE:1\r\n\r\nOK\r\n");

    // The running identity's files can be neither replaced nor deleted; others can.
    module.send(b"AT+TCCERTDEL=\"dev1.key\"\r\n");
    module.expect(b"+CME ERROR:208\r\n");
    module.send(b"AT+TCCERTADD=\"dev1.crt\",10\r\n");
    module.expect(b"+CME ERROR:208\r\n");
    module.send(b"AT+TCCERTCHECK=\"dev1.crt\"\r\n");
    module.expect(b"OK\r\n+TCCERTCHECK:OK\r\n");

    module.send(format!("AT+TCMQTTSUB=\"{TOPIC}\",1\r\n").as_bytes());
    module.expect(b"OK\r\n+TCMQTTSUB:OK\r\n");
    module.send(format!("AT+TCMQTTPUB=\"{TOPIC}\",1,\"hello\"\r\n").as_bytes());
    module.expect(b"OK\r\n");
    expect_lines_in_any_order(
        &mut module,
        format!("+TCMQTTRCVPUB:\"{TOPIC}\",5,\"hello\"").as_bytes(),
        b"+TCMQTTPUB:OK",
    );
    broker.publish(TOPIC, "over certificate tls");
    module.expect(format!("+TCMQTTRCVPUB:\"{TOPIC}\",20,\"over certificate tls\"\r\n").as_bytes());

    module.send(b"AT+TCMQTTDISCONN\r\n");
    module.expect(b"\r\nOK\r\n");
    // The session ended: the files are free again.
    module.send(b"AT+TCCERTDEL=\"dev1.key\"\r\n");
    module.expect(b"OK\r\n+TCCERTDEL:OK\r\n");
    // Without its key the pair cannot be used: -702 before any handshake.
    module.send(b"AT+TCMQTTCONN=2,5000,240,1,1\r\n");
    module.expect(b"OK\r\n+TCMQTTCONN:FAIL,-702\r\n");
    module.expect_quiet(false);
}

#[test]
fn ip_literal_host_is_checked_against_the_ip_san() {
    let scratch = Scratch::new("mqtt-certificate-ip");
    let authority = Authority::new(scratch.path(), "ca");
    let (server_certificate, server_key) = authority.server("server");
    let (client_certificate, client_key) = authority.client("dev1", false);
    let broker = Broker::start(
        scratch.path(),
        &authority,
        (&server_certificate, &server_key),
    );
    let mut module = start_module(
        &scratch,
        &broker,
        &authority.certificate(),
        (&client_certificate, &client_key),
    );
    module.send(b"AT+TCMQTTSRV=\"127.0.0.1\"\r\n");
    module.expect(b"OK\r\n+TCMQTTSRV:OK\r\n");
    module.send(b"AT+TCMQTTCONN=2,5000,240,1,1\r\n");
    module.expect(b"OK\r\n+TCMQTTCONN:OK\r\n");
    module.send(b"AT+TCMQTTDISCONN\r\n");
    module.expect(b"\r\nOK\r\n");
    module.expect_quiet(false);
}

#[test]
fn server_certificate_of_another_ca_fails_with_702() {
    let scratch = Scratch::new("mqtt-certificate-untrusted");
    let authority = Authority::new(scratch.path(), "ca");
    let stranger = Authority::new(scratch.path(), "stranger");
    let (server_certificate, server_key) = stranger.server("server");
    let (client_certificate, client_key) = authority.client("dev1", true);
    // The broker itself trusts the module's CA, so only the module's check can fail.
    let broker = Broker::start(
        scratch.path(),
        &authority,
        (&server_certificate, &server_key),
    );
    let mut module = start_module(
        &scratch,
        &broker,
        &authority.certificate(),
        (&client_certificate, &client_key),
    );
    module.send(b"AT+TCMQTTCONN=2,5000,240,1,1\r\n");
    module.expect(b"OK\r\n+TCMQTTCONN:FAIL,-702\r\n");
    module.send(b"AT+TCMQTTSTATE?\r\n");
    module.expect(b"+TCMQTTSTATE:0\r\n\r\nOK\r\n");
    module.expect_quiet(false);
}

#[test]
fn client_certificate_the_broker_does_not_trust_fails_the_handshake_with_703() {
    let scratch = Scratch::new("mqtt-certificate-refused-client");
    let authority = Authority::new(scratch.path(), "ca");
    let stranger = Authority::new(scratch.path(), "stranger");
    let (server_certificate, server_key) = authority.server("server");
    let (client_certificate, client_key) = stranger.client("dev1", true);
    let broker = Broker::start(
        scratch.path(),
        &authority,
        (&server_certificate, &server_key),
    );
    let mut module = start_module(
        &scratch,
        &broker,
        &authority.certificate(),
        (&client_certificate, &client_key),
    );
    module.send(b"AT+TCMQTTCONN=2,5000,240,1,1\r\n");
    module.expect(b"OK\r\n+TCMQTTCONN:FAIL,-703\r\n");
    module.expect_quiet(false);
}
