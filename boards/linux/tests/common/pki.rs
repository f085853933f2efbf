//! Test certificates made with the `openssl` CLI: a CA, a server certificate for
//! `*.iotcloud.tencentdevices.com` and 127.0.0.1, and client certificates with RSA (PKCS#8)
//! or EC (SEC1) keys. Everything is written into a scratch directory.
#![allow(dead_code)] // each test crate uses a different part

use std::path::{Path, PathBuf};
use std::process::Command;

fn openssl(directory: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .current_dir(directory)
        .args(args)
        .output()
        .expect("run openssl (apt-get install -y openssl)");
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A certificate authority in `directory` as `<name>.crt` / `<name>.key`.
pub struct Authority {
    pub directory: PathBuf,
    pub name: String,
}

impl Authority {
    pub fn new(directory: &Path, name: &str) -> Authority {
        openssl(
            directory,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "30",
                "-subj",
                &format!("/CN={name} test CA"),
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.crt"),
            ],
        );
        Authority {
            directory: directory.to_path_buf(),
            name: name.to_string(),
        }
    }

    pub fn certificate(&self) -> PathBuf {
        self.directory.join(format!("{}.crt", self.name))
    }

    /// Issues `<name>.crt` with key `<name>.key` (`ec`: a P-256 SEC1 key, else RSA PKCS#8)
    /// and the given extensions; returns the certificate and key paths.
    pub fn issue(&self, name: &str, ec: bool, extensions: &str) -> (PathBuf, PathBuf) {
        let directory = &self.directory;
        let key = format!("{name}.key");
        if ec {
            openssl(
                directory,
                &[
                    "ecparam",
                    "-name",
                    "prime256v1",
                    "-genkey",
                    "-noout",
                    "-out",
                    &key,
                ],
            );
        } else {
            openssl(
                directory,
                &[
                    "genpkey",
                    "-algorithm",
                    "RSA",
                    "-pkeyopt",
                    "rsa_keygen_bits:2048",
                    "-out",
                    &key,
                ],
            );
        }
        let request = format!("{name}.csr");
        openssl(
            directory,
            &[
                "req",
                "-new",
                "-key",
                &key,
                "-subj",
                &format!("/CN={name}"),
                "-out",
                &request,
            ],
        );
        let extension_file = format!("{name}.ext");
        std::fs::write(directory.join(&extension_file), extensions).expect("write extensions");
        openssl(
            directory,
            &[
                "x509",
                "-req",
                "-in",
                &request,
                "-CA",
                &format!("{}.crt", self.name),
                "-CAkey",
                &format!("{}.key", self.name),
                "-CAcreateserial",
                "-days",
                "30",
                "-extfile",
                &extension_file,
                "-out",
                &format!("{name}.crt"),
            ],
        );
        // mosquitto started as root reads its key as the `mosquitto` user.
        let key = directory.join(key);
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .expect("make the test key readable");
        (directory.join(format!("{name}.crt")), key)
    }

    /// A server certificate for every IoT Hub host name and 127.0.0.1.
    pub fn server(&self, name: &str) -> (PathBuf, PathBuf) {
        self.issue(
            name,
            false,
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth\n\
             subjectAltName=DNS:*.iotcloud.tencentdevices.com,IP:127.0.0.1\n",
        )
    }

    /// A client certificate.
    pub fn client(&self, name: &str, ec: bool) -> (PathBuf, PathBuf) {
        self.issue(
            name,
            ec,
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
             extendedKeyUsage=clientAuth\n",
        )
    }
}
