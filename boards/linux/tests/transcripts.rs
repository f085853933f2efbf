//! Replays every transcript in `tests/transcripts/` against the real binary, once over a
//! pseudo-terminal and once over stdio, each run with a fresh flash file.

mod common;

use common::transcript::{directory, Transcript};
use common::Uart;

macro_rules! transcripts {
    ($($name:ident),* $(,)?) => {
        /// Every transcript file listed here (checked against the directory below).
        const LISTED: &[&str] = &[$(stringify!($name)),*];
        $(
            mod $name {
                use super::*;

                #[test]
                fn over_pty() {
                    Transcript::load(stringify!($name)).run(Uart::Pty);
                }

                #[test]
                fn over_stdio() {
                    Transcript::load(stringify!($name)).run(Uart::Stdio);
                }
            }
        )*
    };
}

transcripts!(
    basic,
    certificates,
    device_info,
    esp8266,
    framing,
    log,
    module_info,
    mqtt,
    product_info,
    regnet,
    restore,
    unsupported,
    version,
    wifi,
);

#[test]
fn every_transcript_file_is_listed() {
    let mut files: Vec<String> = std::fs::read_dir(directory())
        .expect("read transcript directory")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "txt"))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut listed: Vec<String> = LISTED.iter().map(|name| name.to_string()).collect();
    listed.sort();
    assert_eq!(
        files, listed,
        "add new transcript files to the transcripts! list"
    );
}

#[test]
fn every_transcript_parses() {
    for name in LISTED {
        let _ = Transcript::load(name);
    }
}
