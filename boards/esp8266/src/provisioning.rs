//! Wi-Fi provisioning over the SDK (`cloud.md` §6): the soft AP, SmartConfig, the two UDP
//! servers and the status LED.
//!
//! Like the TCP connections (`network.rs`), the UDP servers use lwIP's raw API and a received
//! datagram stays in the pbuf lwIP delivered it in until the engine takes it: one datagram
//! waits per server, and one that arrives while another waits is dropped (UDP's own loss,
//! as a full receive mailbox drops). SmartConfig credentials stay where the SDK puts them:
//! its callback hands them to the station config (`wifi_station_set_config_current`, as
//! Espressif's examples do), and the engine reads them back from there, so the board keeps
//! one flag rather than a 96-byte copy. Every callback runs in the SDK's task context, as
//! the engine does, and only updates these statics and posts the engine's task.
//!
//! The soft AP and station modes use the SDK's `_current` calls: nothing is written to the
//! SDK's own flash sectors, the engine persists what must survive a reboot.

use core::cell::Cell;
use core::ffi::c_void;

use command_core::{Peer, ProvisioningEvent, SoftApConfig, UdpError, UdpServer};

use crate::sdk::{self, Pbuf, UdpPcb};
use crate::{wake, TaskLocal};

/// The GPIO of the status LED, lit when driven low (GPIO2 is the blue LED of ESP-12 modules;
/// ESP-WROOM-02 has none, so a vendor wires one there or changes this). One of 0, 2, 4, 5,
/// 12, 13, 14, 15: a pin the AT UART and the flash do not use (docs/hardware.md).
const LED_GPIO: u32 = 2;
/// `PERIPHS_IO_MUX` and the GPIO output registers (ESP8266 technical reference).
const IO_MUX: usize = 0x6000_0800;
const GPIO_OUT_SET: usize = 0x6000_0304;
const GPIO_OUT_CLEAR: usize = 0x6000_0308;
const GPIO_ENABLE_SET: usize = 0x6000_0310;
/// The function field of a pin's IO_MUX register (`PERIPHS_IO_MUX_FUNC << 4`).
const MUX_FUNCTION_MASK: u32 = 0x13 << 4;

/// The IO_MUX register offset of `gpio` and the function number that makes it a GPIO.
/// Any other pin stops the build here.
const fn led_mux(gpio: u32) -> (usize, u32) {
    match gpio {
        0 => (0x34, 0),
        2 => (0x38, 0),
        4 => (0x3C, 0),
        5 => (0x40, 0),
        12 => (0x04, 3),
        13 => (0x08, 3),
        14 => (0x0C, 3),
        15 => (0x10, 3),
        _ => panic!("LED_GPIO must be 0, 2, 4, 5, 12, 13, 14 or 15"),
    }
}
const LED_MUX: (usize, u32) = led_mux(LED_GPIO);

/// A UDP server: its pcb while open, and the datagram waiting for the engine.
#[derive(Clone, Copy)]
struct UdpSlot {
    pcb: *mut UdpPcb,
    held: *mut Pbuf,
    /// The sender of `held` (lwIP's `ip_addr_t`, network byte order) and its port.
    from: u32,
    port: u16,
}

const CLOSED: UdpSlot = UdpSlot {
    pcb: core::ptr::null_mut(),
    held: core::ptr::null_mut(),
    from: 0,
    port: 0,
};

static SERVERS: TaskLocal<[UdpSlot; 2]> = TaskLocal(Cell::new([CLOSED; 2]));
/// SmartConfig put credentials into the station config and the engine has not taken them.
static CREDENTIALS: TaskLocal<bool> = TaskLocal(Cell::new(false));

fn index(server: UdpServer) -> usize {
    match server {
        UdpServer::Provisioning => 0,
        _ => 1,
    }
}

fn server_of(index: usize) -> UdpServer {
    if index == 0 {
        UdpServer::Provisioning
    } else {
        UdpServer::Log
    }
}

fn update(index: usize, change: impl FnOnce(&mut UdpSlot)) {
    let mut servers = SERVERS.0.get();
    change(&mut servers[index]);
    SERVERS.0.set(servers);
}

/// Switches station mode off and the soft AP on (the SDK runs its DHCP server at
/// 192.168.4.1/24 in soft AP mode).
pub fn start_soft_ap(config: &SoftApConfig<'_>) -> Result<(), u8> {
    let mut sdk_config = sdk::SoftApConfig {
        ssid: [0; 32],
        password: [0; 64],
        ssid_length: 0,
        // The SDK needs a channel; 1 is its own default.
        channel: config.channel.max(1),
        authmode: if config.password.is_empty() {
            sdk::AUTH_OPEN
        } else {
            sdk::AUTH_WPA_WPA2_PSK
        },
        ssid_hidden: 0,
        // The SDK serves at most four stations.
        max_connection: config.max_stations.clamp(1, 4),
        beacon_interval: 100,
    };
    let ssid = sdk_config.ssid.get_mut(..config.ssid.len()).ok_or(7u8)?;
    ssid.copy_from_slice(config.ssid);
    sdk_config.ssid_length = config.ssid.len() as u8;
    let password = sdk_config
        .password
        .get_mut(..config.password.len())
        .ok_or(7u8)?;
    password.copy_from_slice(config.password);
    // SAFETY: plain SDK calls; `sdk_config` outlives the call and the SDK copies it.
    unsafe {
        if !sdk::wifi_set_opmode_current(sdk::SOFTAP_MODE) {
            return Err(8);
        }
        if !sdk::wifi_softap_set_config_current(&mut sdk_config) {
            return Err(7);
        }
    }
    Ok(())
}

/// Back to station mode (also when the soft AP was not on).
pub fn stop_soft_ap() {
    // SAFETY: plain SDK call.
    unsafe { sdk::wifi_set_opmode_current(sdk::STATION_MODE) };
}

/// Listens for ESP-TOUCH and AirKiss in station mode.
pub fn start_smartconfig() -> Result<(), u8> {
    CREDENTIALS.0.set(false);
    // SAFETY: plain SDK calls; the callback is a static function.
    unsafe {
        if !sdk::wifi_set_opmode_current(sdk::STATION_MODE) {
            return Err(6);
        }
        sdk::smartconfig_set_type(sdk::SC_TYPE_ESPTOUCH_AIRKISS);
        if !sdk::smartconfig_start(on_smartconfig) {
            return Err(13);
        }
    }
    Ok(())
}

/// Stops listening; credentials not yet taken are forgotten.
pub fn stop_smartconfig() {
    CREDENTIALS.0.set(false);
    // SAFETY: plain SDK call; stopping while stopped is harmless.
    unsafe { sdk::smartconfig_stop() };
}

unsafe extern "C" fn on_smartconfig(status: u32, data: *mut c_void) {
    if status != sdk::SC_STATUS_LINK || data.is_null() {
        return;
    }
    // SAFETY: at SC_STATUS_LINK the SDK passes its `struct station_config`; the SDK copies it.
    if unsafe { sdk::wifi_station_set_config_current(data.cast()) } {
        CREDENTIALS.0.set(true);
        wake();
    }
}

/// Opens (or reopens) `server` on every interface.
pub fn open_udp(server: UdpServer) -> Result<(), UdpError> {
    close_udp(server);
    let slot = index(server);
    let port = match server {
        UdpServer::Provisioning => 8266,
        _ => 9876,
    };
    // SAFETY: lwIP calls from the task context; the pcb is ours until `udp_remove`, and its
    // callback finds the slot through the argument.
    unsafe {
        let pcb = sdk::udp_new();
        if pcb.is_null() {
            return Err(UdpError::Bind);
        }
        // `IP_ADDR_ANY`: lwIP copies the address.
        let mut any = 0u32;
        if sdk::udp_bind(pcb, &mut any, port) != sdk::ERR_OK {
            sdk::udp_remove(pcb);
            return Err(UdpError::Bind);
        }
        sdk::udp_recv(pcb, Some(on_datagram), slot as *mut c_void);
        update(slot, |udp| udp.pcb = pcb);
    }
    Ok(())
}

/// Closes `server` and drops the datagram waiting on it.
pub fn close_udp(server: UdpServer) {
    let slot = index(server);
    let udp = SERVERS.0.get()[slot];
    // SAFETY: the pcb and the chain are ours; after `udp_remove` lwIP never calls back.
    unsafe {
        if !udp.pcb.is_null() {
            sdk::udp_remove(udp.pcb);
        }
        if !udp.held.is_null() {
            sdk::pbuf_free(udp.held);
        }
    }
    update(slot, |udp| *udp = CLOSED);
}

unsafe extern "C" fn on_datagram(
    argument: *mut c_void,
    _pcb: *mut UdpPcb,
    datagram: *mut Pbuf,
    from: *mut u32,
    port: u16,
) {
    let slot = argument as usize;
    if datagram.is_null() {
        return;
    }
    if slot >= 2 || !SERVERS.0.get()[slot].held.is_null() || from.is_null() {
        // SAFETY: the chain is ours to free when it is not kept.
        unsafe { sdk::pbuf_free(datagram) };
        return;
    }
    // SAFETY: lwIP passes the sender's address for the duration of the call.
    let address = unsafe { *from };
    update(slot, |udp| {
        udp.held = datagram;
        udp.from = address;
        udp.port = port;
    });
    wake();
}

/// Sends `datagram` from `server` through a pbuf lwIP allocates and frees.
pub fn send_udp(server: UdpServer, to: Peer, datagram: &[u8]) -> Result<(), UdpError> {
    let pcb = SERVERS.0.get()[index(server)].pcb;
    let length = u16::try_from(datagram.len()).map_err(|_| UdpError::Send)?;
    if pcb.is_null() {
        return Err(UdpError::Send);
    }
    // SAFETY: our open pcb; the pbuf is ours until freed here, `udp_sendto` does not keep it.
    unsafe {
        let buffer = sdk::pbuf_alloc(sdk::PBUF_TRANSPORT, length, sdk::PBUF_RAM);
        if buffer.is_null() {
            return Err(UdpError::Send);
        }
        let mut address = u32::from_ne_bytes(to.address);
        let sent = sdk::pbuf_take(buffer, datagram.as_ptr(), length) == sdk::ERR_OK
            && sdk::udp_sendto(pcb, buffer, &mut address, to.port) == sdk::ERR_OK;
        sdk::pbuf_free(buffer);
        if sent {
            Ok(())
        } else {
            Err(UdpError::Send)
        }
    }
}

/// A waiting datagram or SmartConfig's credentials, moved into `buffer` in this one call
/// (so a dropped wait loses nothing); `None` when nothing waits.
pub fn take_event(buffer: &mut [u8]) -> Option<ProvisioningEvent> {
    for slot in 0..2 {
        let udp = SERVERS.0.get()[slot];
        if udp.held.is_null() {
            continue;
        }
        // SAFETY: the chain is ours; lwIP copies at most the buffer's length (truncating).
        let length = unsafe {
            let wanted = buffer.len().min(usize::from(u16::MAX)) as u16;
            let copied = sdk::pbuf_copy_partial(udp.held, buffer.as_mut_ptr(), wanted, 0);
            sdk::pbuf_free(udp.held);
            copied
        };
        update(slot, |udp| udp.held = core::ptr::null_mut());
        return Some(ProvisioningEvent::Datagram {
            server: server_of(slot),
            from: Peer {
                address: udp.from.to_ne_bytes(),
                port: udp.port,
            },
            length: usize::from(length),
        });
    }
    if CREDENTIALS.0.replace(false) {
        return credentials(buffer);
    }
    None
}

/// The SSID and password SmartConfig left in the station config, into `buffer`.
fn credentials(buffer: &mut [u8]) -> Option<ProvisioningEvent> {
    let mut config = sdk::StationConfig {
        ssid: [0; 32],
        password: [0; 64],
        channel: 0,
        bssid_set: 0,
        bssid: [0; 6],
        threshold_rssi: 0,
        threshold_authmode: 0,
        open_and_wep_mode_disable: false,
        all_channel_scan: false,
    };
    // SAFETY: the SDK fills `config`.
    if !unsafe { sdk::wifi_station_get_config(&mut config) } {
        return None;
    }
    // The SDK's strings are NUL-terminated unless they fill the field.
    let ssid = until_nul(&config.ssid);
    let password = until_nul(&config.password);
    let total = ssid.len() + password.len();
    if ssid.is_empty() || total > buffer.len() {
        return None;
    }
    buffer[..ssid.len()].copy_from_slice(ssid);
    buffer[ssid.len()..total].copy_from_slice(password);
    Some(ProvisioningEvent::SmartConfigCredentials {
        ssid_length: ssid.len(),
        password_length: password.len(),
    })
}

fn until_nul(field: &[u8]) -> &[u8] {
    let end = field
        .iter()
        .position(|&byte| byte == 0)
        .unwrap_or(field.len());
    &field[..end]
}

/// Drives the LED pin (active-low), making it a GPIO output first.
pub fn set_led(lit: bool) {
    let (offset, function) = LED_MUX;
    let mux = (IO_MUX + offset) as *mut u32;
    let field = (((function & 4) << 2) | (function & 3)) << 4;
    let pin = 1 << LED_GPIO;
    // SAFETY: the ESP8266's memory-mapped IO_MUX and GPIO registers; the pin is the LED's.
    unsafe {
        let current = core::ptr::read_volatile(mux);
        core::ptr::write_volatile(mux, (current & !MUX_FUNCTION_MASK) | field);
        core::ptr::write_volatile(GPIO_ENABLE_SET as *mut u32, pin);
        let register = if lit { GPIO_OUT_CLEAR } else { GPIO_OUT_SET };
        core::ptr::write_volatile(register as *mut u32, pin);
    }
}

/// The SDK's Wi-Fi events only wake the engine: a poll of the provisioning wait then looks
/// at the station's status itself (`wifi.rs`).
pub unsafe extern "C" fn on_wifi_event(_event: *mut c_void) {
    wake();
}
