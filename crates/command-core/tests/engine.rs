//! The runner driven through an in-memory UART: queueing, `[BUSY]`, echo and block order,
//! rebooting, and settings written through the real storage crate to the NOR flash mock.
//!
//! Every test ends when the output contains its expected final bytes; nothing waits on time.

use core::cell::RefCell;
use core::convert::Infallible;
use std::collections::VecDeque;
use std::rc::Rc;

use command_core::{Association, BoardInfo, Exit, IpInfo, JoinError, Module, Profile, Wifi};
use embassy_futures::block_on;
use embassy_futures::select::{select, Either};
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_sync::signal::Signal;
use embedded_io_async::{ErrorType, Read, Write};
use storage::mock::MockFlash;
use storage::Settings;

const FLASH_SIZE: usize = 64 * 1024;

/// Receive side: hands out scripted chunks one read at a time, then waits forever.
struct ScriptedRx {
    chunks: VecDeque<Vec<u8>>,
}

impl ErrorType for ScriptedRx {
    type Error = Infallible;
}

impl Read for ScriptedRx {
    async fn read(&mut self, buffer: &mut [u8]) -> Result<usize, Infallible> {
        match self.chunks.pop_front() {
            Some(mut chunk) => {
                let count = chunk.len().min(buffer.len());
                buffer[..count].copy_from_slice(&chunk[..count]);
                if count < chunk.len() {
                    self.chunks.push_front(chunk.split_off(count));
                }
                Ok(count)
            }
            None => core::future::pending().await,
        }
    }
}

/// Transmit side: records the bytes up to each flush as one block (a block may take several
/// writes: the engine writes an echo ahead of its answer, and long entries in pieces).
#[derive(Clone, Default)]
struct RecordingTx {
    blocks: Rc<RefCell<Vec<Vec<u8>>>>,
    /// Whether the last block is still open (written to since the last flush).
    open: Rc<core::cell::Cell<bool>>,
    written: Rc<Signal<NoopRawMutex, ()>>,
}

impl RecordingTx {
    fn output(&self) -> Vec<u8> {
        self.blocks.borrow().concat()
    }
}

impl ErrorType for RecordingTx {
    type Error = Infallible;
}

impl Write for RecordingTx {
    async fn write(&mut self, bytes: &[u8]) -> Result<usize, Infallible> {
        let mut blocks = self.blocks.borrow_mut();
        match blocks.last_mut() {
            Some(block) if self.open.get() => block.extend_from_slice(bytes),
            _ => blocks.push(bytes.to_vec()),
        }
        self.open.set(true);
        self.written.signal(());
        Ok(bytes.len())
    }

    async fn flush(&mut self) -> Result<(), Infallible> {
        self.open.set(false);
        Ok(())
    }
}

struct OneAccessPoint {
    joined: bool,
}

impl Wifi for OneAccessPoint {
    async fn join(
        &mut self,
        ssid: &[u8],
        password: &[u8],
        _: Option<[u8; 6]>,
    ) -> Result<(), JoinError> {
        self.joined = false;
        if ssid != b"lab" {
            return Err(JoinError::NotFound);
        }
        if password != b"secret123" {
            return Err(JoinError::WrongPassword);
        }
        self.joined = true;
        Ok(())
    }

    async fn leave(&mut self) -> bool {
        core::mem::take(&mut self.joined)
    }

    fn association(&self) -> Option<Association> {
        self.joined.then(|| Association {
            ssid: heapless::Vec::from_slice(b"lab").unwrap(),
            bssid: [2, 0, 0, 0, 0, 1],
            channel: 6,
            rssi: -45,
            ip: IpInfo {
                ip: [192, 168, 1, 100],
                gateway: [192, 168, 1, 1],
                netmask: [255, 255, 255, 0],
            },
        })
    }
}

fn board() -> BoardInfo {
    BoardInfo {
        board: "LINUX",
        version: "3.0.0",
        git_hash: "abcdef1",
        build_time: "Sep  3 2020 11:43:26",
        vendor: "Tencent Technology Co. Ltd.",
        mac: [2, 1, 2, 3, 4, 5],
        profile: Profile::Full,
        free_ram: || (1000, 900),
    }
}

/// Runs one boot of the module until the output ends with `until` (or the runner exits).
fn boot(
    settings: &mut Settings<MockFlash>,
    wifi: &mut OneAccessPoint,
    chunks: &[&[u8]],
    until: &[u8],
) -> (Vec<u8>, Vec<Vec<u8>>, Option<Exit>) {
    let mut rx = ScriptedRx {
        chunks: chunks.iter().map(|chunk| chunk.to_vec()).collect(),
    };
    let tx = RecordingTx::default();
    let mut writer = tx.clone();
    let board = board();
    let exit = block_on(async {
        let module = Module {
            settings,
            wifi,
            board: &board,
        };
        let finished = async {
            while !tx.output().ends_with(until) {
                tx.written.wait().await;
            }
        };
        match select(command_core::run(&mut rx, &mut writer, module), finished).await {
            Either::First(exit) => Some(exit),
            Either::Second(()) => None,
        }
    });
    let blocks = tx.blocks.borrow().clone();
    (tx.output(), blocks, exit)
}

fn fresh_settings() -> Settings<MockFlash> {
    Settings::new(MockFlash::new(FLASH_SIZE), 0..FLASH_SIZE as u32)
}

#[test]
fn banner_comes_first_and_commands_answer_in_order() {
    let mut settings = fresh_settings();
    let mut wifi = OneAccessPoint { joined: false };
    let (output, _, _) = boot(
        &mut settings,
        &mut wifi,
        &[b"AT\r\nAT+TCMQTTSTATE?\r\n"],
        b"+TCMQTTSTATE:0\r\n\r\nOK\r\n",
    );
    assert_eq!(
        output,
        b"\r\nready\r\nAT\r\n\r\nOK\r\nAT+TCMQTTSTATE?\r\n+TCMQTTSTATE:0\r\n\r\nOK\r\n"
    );
}

#[test]
fn lines_beyond_the_queue_are_answered_busy_and_have_no_effect() {
    let mut settings = fresh_settings();
    let mut wifi = OneAccessPoint { joined: false };
    // Ten lines in one write: the first eight fit the queue while the module boots, the
    // ninth and tenth are refused.
    let mut burst = Vec::new();
    for _ in 0..8 {
        burst.extend_from_slice(b"AT\r\n");
    }
    burst.extend_from_slice(b"ATE0\r\nAT+CWMODE=2\r\n");
    let mut expected = b"ATE0\r\nERR CODE:0x010b0000\r\n\r\nbusy p...\r\nAT+CWMODE=2\r\nERR CODE:0x010b0000\r\n\r\nbusy p...\r\n".to_vec();
    for _ in 0..8 {
        expected.extend_from_slice(b"AT\r\n\r\nOK\r\n");
    }
    let (output, _, _) = boot(&mut settings, &mut wifi, &[&burst], b"AT\r\n\r\nOK\r\nAT\r\n\r\nOK\r\nAT\r\n\r\nOK\r\nAT\r\n\r\nOK\r\nAT\r\n\r\nOK\r\nAT\r\n\r\nOK\r\nAT\r\n\r\nOK\r\nAT\r\n\r\nOK\r\n");
    assert!(
        output.ends_with(&expected),
        "{}",
        String::from_utf8_lossy(&output)
    );
    assert_eq!(
        settings.flash().write_count(),
        0,
        "a refused line must change nothing"
    );
}

#[test]
fn echo_off_applies_after_its_own_line() {
    let mut settings = fresh_settings();
    let mut wifi = OneAccessPoint { joined: false };
    let (output, _, _) = boot(
        &mut settings,
        &mut wifi,
        &[b"ATE0\r\n", b"AT\r\n", b"ATE1\r\n", b"AT\r\n"],
        b"AT\r\n\r\nOK\r\n",
    );
    assert_eq!(
        output,
        b"\r\nready\r\nATE0\r\n\r\nOK\r\n\r\nOK\r\n\r\nOK\r\nAT\r\n\r\nOK\r\n"
    );
}

#[test]
fn overlong_line_gets_e04_without_echo_and_the_next_line_works() {
    let mut settings = fresh_settings();
    let mut wifi = OneAccessPoint { joined: false };
    let mut long = b"AT+".to_vec();
    long.resize(300, b'A');
    long.extend_from_slice(b"\r\nAT\r\n");
    let (output, _, _) = boot(&mut settings, &mut wifi, &[&long], b"AT\r\n\r\nOK\r\n");
    assert_eq!(
        output,
        b"\r\nready\r\nERR CODE:0x01040000\r\n\r\nERROR\r\nAT\r\n\r\nOK\r\n"
    );
}

#[test]
fn device_info_is_stored_and_survives_a_reboot() {
    let mut settings = fresh_settings();
    let mut wifi = OneAccessPoint { joined: false };
    let set = b"AT+TCDEVINFOSET=1,\"S3EUVBRJLB\",\"test_device\",\"ZHNkIGRzZCA=\"\r\nAT+RST\r\n";
    let (output, blocks, exit) = boot(&mut settings, &mut wifi, &[set], b"AT+RST\r\n\r\nOK\r\n");
    assert!(output.ends_with(b"OK\r\n+TCDEVINFOSET:OK\r\nAT+RST\r\n\r\nOK\r\n"));
    // The acceptance and the result of an asynchronous command are separate blocks.
    assert!(blocks
        .iter()
        .any(|block| block.ends_with(b"\"ZHNkIGRzZCA=\"\r\nOK\r\n")));
    assert!(blocks.contains(&b"+TCDEVINFOSET:OK\r\n".to_vec()));
    let _ = exit;
    let (output, _, _) = boot(
        &mut settings,
        &mut wifi,
        &[b"AT+TCDEVINFOSET?\r\n"],
        b"\r\nOK\r\n",
    );
    let bcc = b"ZHNkIGRzZCA=".iter().fold(0u8, |acc, byte| acc ^ byte);
    let expected = format!(
        "+TCDEVINFOSET:1,\"S3EUVBRJLB\",\"test_device\",{bcc},\"ap-guangzhou\"\r\n\r\nOK\r\n"
    );
    assert!(
        output.ends_with(expected.as_bytes()),
        "{}",
        String::from_utf8_lossy(&output)
    );
}

#[test]
fn module_record_query_shows_the_stored_record_and_a_set_back_to_the_one_in_effect_is_stored() {
    let mut settings = fresh_settings();
    let mut wifi = OneAccessPoint { joined: false };
    let first = b"AT+TCMODINFOSET=\"FIRST\",2,5,1114112,909312,1\r\nAT+RST\r\n";
    boot(&mut settings, &mut wifi, &[first], b"AT+RST\r\n\r\nOK\r\n");
    // FIRST is in effect; SECOND is stored (read back from flash by the query), then FIRST
    // again, which must reach the flash although it equals the record in effect.
    let script = b"AT+TCMODINFOSET=\"SECOND\",4,2,2097152,1048576,0\r\nAT+TCMODINFOSET?\r\n\
        AT+TCMODINFOSET=\"FIRST\",2,5,1114112,909312,1\r\nAT+TCMODINFOSET?\r\nAT+RST\r\n";
    let (output, _, _) = boot(&mut settings, &mut wifi, &[script], b"AT+RST\r\n\r\nOK\r\n");
    let expected =
        b"AT+TCMODINFOSET?\r\n+TCMODINFOSET:\"SECOND\",4,2,2097152,1048576,0\r\n\r\nOK\r\n\
        AT+TCMODINFOSET=\"FIRST\",2,5,1114112,909312,1\r\nOK\r\n+TCMODINFOSET:OK\r\n\
        AT+TCMODINFOSET?\r\n+TCMODINFOSET:\"FIRST\",2,5,1114112,909312,1\r\n\r\nOK\r\n";
    assert!(
        output
            .windows(expected.len())
            .any(|window| window == expected.as_slice()),
        "{}",
        String::from_utf8_lossy(&output)
    );
    let (output, _, _) = boot(
        &mut settings,
        &mut wifi,
        &[b"AT+TCMODINFOSET?\r\n"],
        b"\r\nOK\r\n",
    );
    assert!(
        output.ends_with(b"+TCMODINFOSET:\"FIRST\",2,5,1114112,909312,1\r\n\r\nOK\r\n"),
        "{}",
        String::from_utf8_lossy(&output)
    );
}

#[test]
fn reset_returns_a_reboot_exit() {
    let mut settings = fresh_settings();
    let mut wifi = OneAccessPoint { joined: false };
    let mut rx = ScriptedRx {
        chunks: [b"AT+RST\r\n".to_vec()].into(),
    };
    let mut tx = RecordingTx::default();
    let board = board();
    let exit = block_on(command_core::run(
        &mut rx,
        &mut tx,
        Module {
            settings: &mut settings,
            wifi: &mut wifi,
            board: &board,
        },
    ));
    assert_eq!(exit, Exit::Reboot);
    assert_eq!(tx.output(), b"\r\nready\r\nAT+RST\r\n\r\nOK\r\n");
}

#[test]
fn stored_station_is_joined_at_boot_with_urcs() {
    let mut settings = fresh_settings();
    let mut wifi = OneAccessPoint { joined: false };
    let (output, _, _) = boot(
        &mut settings,
        &mut wifi,
        &[b"AT+CWJAP=\"lab\",\"secret123\"\r\n"],
        b"\r\nOK\r\n",
    );
    assert!(output.ends_with(
        b"AT+CWJAP=\"lab\",\"secret123\"\r\nWIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n"
    ));
    wifi.joined = false;
    let (output, blocks, _) = boot(&mut settings, &mut wifi, &[], b"WIFI GOT IP\r\n");
    assert_eq!(output, b"\r\nready\r\nWIFI CONNECTED\r\nWIFI GOT IP\r\n");
    assert_eq!(blocks.len(), 3, "each URC is its own block");
}

#[test]
fn wrong_password_fails_and_stores_nothing() {
    let mut settings = fresh_settings();
    let mut wifi = OneAccessPoint { joined: false };
    let (output, _, _) = boot(
        &mut settings,
        &mut wifi,
        &[b"AT+CWJAP=\"lab\",\"nope\"\r\n"],
        b"\r\nERROR\r\n",
    );
    assert!(output.ends_with(b"+CWJAP:2\r\n\r\nERROR\r\n"));
    assert_eq!(settings.flash().write_count(), 0);
}

/// An in-memory MQTT broker link: CONNACK and SUBACK answer their packets, and whatever the
/// test pushes into `inbound` is delivered to the module.
#[derive(Clone, Default)]
struct BrokerLink {
    inbound: Rc<RefCell<VecDeque<u8>>>,
    arrived: Rc<Signal<NoopRawMutex, ()>>,
    /// Raised when the MQTT service asks for bytes and none are left: it has handled
    /// everything delivered so far, including queueing its URCs.
    drained: Rc<Signal<NoopRawMutex, ()>>,
}

impl BrokerLink {
    fn deliver(&self, bytes: &[u8]) {
        self.inbound.borrow_mut().extend(bytes);
        self.arrived.signal(());
    }
}

impl ErrorType for BrokerLink {
    type Error = Infallible;
}

impl Read for BrokerLink {
    async fn read(&mut self, buffer: &mut [u8]) -> Result<usize, Infallible> {
        loop {
            {
                let mut inbound = self.inbound.borrow_mut();
                if !inbound.is_empty() {
                    let count = inbound.len().min(buffer.len());
                    for (slot, byte) in buffer.iter_mut().zip(inbound.drain(..count)) {
                        *slot = byte;
                    }
                    return Ok(count);
                }
            }
            self.drained.signal(());
            self.arrived.wait().await;
        }
    }
}

impl Write for BrokerLink {
    async fn write(&mut self, bytes: &[u8]) -> Result<usize, Infallible> {
        match bytes.first().map(|byte| byte >> 4) {
            Some(1) => self.deliver(&[0x20, 0x02, 0x00, 0x00]),
            // SUBSCRIBE with a one-byte remaining length: grant QoS 0 to its packet id.
            Some(8) => self.deliver(&[0x90, 0x03, bytes[2], bytes[3], 0x00]),
            _ => {}
        }
        Ok(bytes.len())
    }

    async fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

impl command_core::Network for BrokerLink {
    type Stream = BrokerLink;

    async fn connect(
        &mut self,
        _host: &[u8],
        _port: u16,
    ) -> Result<BrokerLink, command_core::ConnectError> {
        Ok(self.clone())
    }
}

/// A station join during which the broker sends a message: the join returns only after the
/// MQTT service has handled it.
struct JoinWhileMessageArrives {
    link: BrokerLink,
    joined: bool,
}

impl Wifi for JoinWhileMessageArrives {
    async fn join(&mut self, _: &[u8], _: &[u8], _: Option<[u8; 6]>) -> Result<(), JoinError> {
        self.link.drained.reset();
        // PUBLISH QoS 0, topic "PID0000001/dev1/data", payload "hi".
        let mut publish = vec![0x30, 2 + 20 + 2, 0x00, 20];
        publish.extend_from_slice(b"PID0000001/dev1/datahi");
        self.link.deliver(&publish);
        self.link.drained.wait().await;
        self.joined = true;
        Ok(())
    }

    async fn leave(&mut self) -> bool {
        core::mem::take(&mut self.joined)
    }

    fn association(&self) -> Option<Association> {
        None
    }
}

#[test]
fn urc_caused_during_a_synchronous_command_follows_its_final_result() {
    let mut settings = fresh_settings();
    let link = BrokerLink::default();
    let mut network = link.clone();
    let mut wifi = JoinWhileMessageArrives {
        link: link.clone(),
        joined: false,
    };
    let mut rx = ScriptedRx {
        chunks: [
            &b"AT+TCDEVINFOSET=0,\"PID0000001\",\"dev1\",\"k3Zq8cB1vP+Lx0T2mY9wRg==\"\r\n"[..],
            b"AT+TCMQTTCONN=0,5000,240,1,0\r\n",
            b"AT+TCMQTTSUB=\"PID0000001/dev1/data\",0\r\n",
            b"AT+CWJAP=\"lab\",\"secret123\"\r\n",
        ]
        .iter()
        .map(|chunk| chunk.to_vec())
        .collect(),
    };
    let tx = RecordingTx::default();
    let mut writer = tx.clone();
    let board = board();
    let urc = b"+TCMQTTRCVPUB:\"PID0000001/dev1/data\",2,\"hi\"\r\n";
    block_on(async {
        let module = Module {
            settings: &mut settings,
            wifi: &mut wifi,
            board: &board,
        };
        let cloud = command_core::Cloud {
            network: &mut network,
            clock: &command_core::Offline,
            random: &mut command_core::Offline,
            certificates: &command_core::Offline,
        };
        let finished = async {
            while !tx.output().ends_with(urc) {
                tx.written.wait().await;
            }
        };
        let runner = command_core::run_with(&mut rx, &mut writer, module, cloud);
        if let Either::First(exit) = select(runner, finished).await {
            panic!("runner exited: {exit:?}");
        }
    });
    let output = String::from_utf8(tx.output()).unwrap();
    let command = output.find("AT+CWJAP=").expect("CWJAP echoed");
    assert_eq!(
        &output[command..],
        "AT+CWJAP=\"lab\",\"secret123\"\r\nWIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n\
         +TCMQTTRCVPUB:\"PID0000001/dev1/data\",2,\"hi\"\r\n",
        "whole output: {output:?}"
    );
}
