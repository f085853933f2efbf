//! AT+TCCERTADD / AT+TCCERTCHECK with real PEM files made by `openssl` (`commands.md` §2):
//! certificates and keys of each supported format parse, pairs must match, and key contents
//! never come back on the AT port.

mod common;
#[path = "common/pki.rs"]
mod pki;

use common::{Module, Options, Scratch, Uart};
use pki::Authority;

/// Stores `bytes` as `name` through the data phase.
pub fn add_file(module: &mut Module, name: &str, bytes: &[u8]) {
    module.send(format!("AT+TCCERTADD=\"{name}\",{}\r\n", bytes.len()).as_bytes());
    module.expect(b"OK\r\n>\r\n");
    module.send(bytes);
    module.expect(b"+TCCERTADD:OK\r\n");
}

fn check(module: &mut Module, name: &str) -> Vec<u8> {
    module.send(format!("AT+TCCERTCHECK=\"{name}\"\r\n").as_bytes());
    module.expect(b"OK\r\n");
    module.read_line()
}

#[test]
fn certificate_check_parses_pem_files_and_matches_pairs() {
    let scratch = Scratch::new("certificates-check");
    let authority = Authority::new(scratch.path(), "ca");
    let (rsa_certificate, rsa_key) = authority.client("rsa", false);
    let (ec_certificate, ec_key) = authority.client("ec", true);
    let read = |path: &std::path::Path| std::fs::read(path).expect("read PEM");

    let mut module = Module::start(Uart::Stdio, &scratch.flash(), &Options::default());
    module.send(b"ATE0\r\n");
    module.expect(b"ATE0\r\n\r\nOK\r\n");

    // Halves alone: each parses as its type.
    add_file(&mut module, "rsa.crt", &read(&rsa_certificate));
    assert_eq!(check(&mut module, "rsa.crt"), b"+TCCERTCHECK:OK");
    add_file(&mut module, "ec.key", &read(&ec_key));
    assert_eq!(check(&mut module, "ec.key"), b"+TCCERTCHECK:OK");

    // Matching pairs (PKCS#8 RSA, SEC1 EC), checked from either half.
    add_file(&mut module, "rsa.key", &read(&rsa_key));
    add_file(&mut module, "ec.crt", &read(&ec_certificate));
    for name in ["rsa.crt", "rsa.key", "ec.crt", "ec.key"] {
        assert_eq!(check(&mut module, name), b"+TCCERTCHECK:OK", "{name}");
    }

    // A key of another pair fails, as does a certificate stored under a key name.
    add_file(&mut module, "mixed.crt", &read(&rsa_certificate));
    add_file(&mut module, "mixed.key", &read(&ec_key));
    assert_eq!(check(&mut module, "mixed.crt"), b"+TCCERTCHECK:FAIL,203");
    assert_eq!(check(&mut module, "mixed.key"), b"+TCCERTCHECK:FAIL,203");
    add_file(&mut module, "swapped.key", &read(&rsa_certificate));
    assert_eq!(check(&mut module, "swapped.key"), b"+TCCERTCHECK:FAIL,203");

    // A file of exactly 4096 bytes is stored whole.
    module.send(b"AT+TCCERTADD=\"big.crt\",4096\r\n");
    module.expect(b"OK\r\n>\r\n");
    module.send(&[b'x'; 4096]);
    module.expect(b"+TCCERTADD:OK\r\n");
    module.send(b"AT+TCCERTADD?\r\n");
    let listing = module.read_response();
    assert!(
        common::find(&listing, b"+TCCERTADD:\"big.crt\",4096\r\n").is_some(),
        "{}",
        String::from_utf8_lossy(&listing)
    );
    module.expect_quiet(false);

    // Key material never reaches the AT port or the log.
    let received = module.received().to_vec();
    let stderr = module.stderr();
    for key in [&rsa_key, &ec_key] {
        let pem = read(key);
        let body = &pem[40..100];
        assert!(
            common::find(&received, body).is_none(),
            "key bytes on the AT port"
        );
        assert!(common::find(&stderr, body).is_none(), "key bytes on stderr");
    }
}
