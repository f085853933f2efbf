//! Our own declarations of the ESP8266_NONOS_SDK functions this board calls (checked against
//! the SDK's `include/` headers; docs/hardware.md names the commit). Nothing of the SDK is
//! vendored: the application link finds the SDK through `ESP8266_NONOS_SDK`, and the RAM gate
//! link gives every symbol below a placeholder address (`ram-gate.ld`).

#![allow(non_camel_case_types)]

use core::ffi::c_void;

/// `ETSTimer` of `ets_sys.h`: the SDK links armed timers through `timer_next`.
#[repr(C)]
pub struct EtsTimer {
    pub next: *mut EtsTimer,
    pub expire: u32,
    pub period: u32,
    pub function: Option<unsafe extern "C" fn(*mut c_void)>,
    pub argument: *mut c_void,
}

/// `ETSEvent`: one queued task message.
#[repr(C)]
pub struct EtsEvent {
    pub signal: u32,
    pub parameter: u32,
}

/// `struct station_config` of `user_interface.h` (SDK 3.0).
#[repr(C)]
pub struct StationConfig {
    pub ssid: [u8; 32],
    pub password: [u8; 64],
    pub channel: u8,
    pub bssid_set: u8,
    pub bssid: [u8; 6],
    /// `wifi_fast_scan_threshold_t`: RSSI floor, then the weakest accepted `AUTH_MODE`.
    pub threshold_rssi: i8,
    pub threshold_authmode: u32,
    pub open_and_wep_mode_disable: bool,
    pub all_channel_scan: bool,
}

/// `struct softap_config` of `user_interface.h`.
#[repr(C)]
pub struct SoftApConfig {
    pub ssid: [u8; 32],
    pub password: [u8; 64],
    pub ssid_length: u8,
    pub channel: u8,
    /// `AUTH_MODE`.
    pub authmode: u32,
    pub ssid_hidden: u8,
    pub max_connection: u8,
    pub beacon_interval: u16,
}

/// `struct ip_info`: address, netmask, gateway in network byte order.
#[repr(C)]
pub struct IpInfo {
    pub ip: [u8; 4],
    pub netmask: [u8; 4],
    pub gateway: [u8; 4],
}

/// `partition_item_t`: one entry of the flash layout the SDK must be told in `user_pre_init`.
#[repr(C)]
pub struct PartitionItem {
    pub kind: u32,
    pub address: u32,
    pub size: u32,
}

/// lwIP's `struct pbuf` (Espressif's lwIP 1.4 adds `eb` at the end): one buffer of a chain.
#[repr(C)]
pub struct Pbuf {
    pub next: *mut Pbuf,
    pub payload: *mut c_void,
    /// Bytes in this buffer and all that follow it in the chain.
    pub total_length: u16,
    pub length: u16,
    pub kind: u8,
    pub flags: u8,
    pub reference: u16,
    pub eb: *mut c_void,
}

/// lwIP's `struct tcp_pcb`, only ever handled through a pointer.
#[repr(C)]
pub struct TcpPcb {
    _opaque: [u8; 0],
}

/// lwIP's `struct udp_pcb`, only ever handled through a pointer.
#[repr(C)]
pub struct UdpPcb {
    _opaque: [u8; 0],
}

/// lwIP `err_t` values.
pub const ERR_OK: i8 = 0;
pub const ERR_MEM: i8 = -1;
pub const ERR_INPROGRESS: i8 = -5;
/// `TCP_WRITE_FLAG_COPY`: lwIP copies the bytes, so the caller's buffer is free at return.
pub const TCP_WRITE_FLAG_COPY: u8 = 1;

/// lwIP callbacks (`tcp_connected_fn`, `tcp_err_fn`, `tcp_recv_fn`, `tcp_sent_fn`,
/// `dns_found_callback`); `ip_addr_t` is one `u32` in network byte order.
pub type TcpConnected = unsafe extern "C" fn(*mut c_void, *mut TcpPcb, i8) -> i8;
pub type TcpError = unsafe extern "C" fn(*mut c_void, i8);
pub type TcpReceive = unsafe extern "C" fn(*mut c_void, *mut TcpPcb, *mut Pbuf, i8) -> i8;
pub type TcpSent = unsafe extern "C" fn(*mut c_void, *mut TcpPcb, u16) -> i8;
pub type UdpReceive = unsafe extern "C" fn(*mut c_void, *mut UdpPcb, *mut Pbuf, *mut u32, u16);
/// `sc_callback_t`: a SmartConfig status and its data (`struct station_config *` at
/// `SC_STATUS_LINK`).
pub type SmartConfigCallback = unsafe extern "C" fn(u32, *mut c_void);
/// `wifi_event_handler_cb_t`: called with a `System_Event_t *` (only the wake-up is used).
pub type WifiEventCallback = unsafe extern "C" fn(*mut c_void);
pub type DnsFound = unsafe extern "C" fn(*const u8, *const u32, *mut c_void);

/// `pbuf_layer::PBUF_TRANSPORT` and `pbuf_type::PBUF_RAM`: a datagram to send, with room
/// for the UDP, IP and link headers in front.
pub const PBUF_TRANSPORT: u32 = 0;
pub const PBUF_RAM: u32 = 0;

/// `partition_type_t` values.
pub const PARTITION_BOOTLOADER: u32 = 1;
pub const PARTITION_OTA_1: u32 = 2;
pub const PARTITION_OTA_2: u32 = 3;
pub const PARTITION_RF_CAL: u32 = 4;
pub const PARTITION_PHY_DATA: u32 = 5;
pub const PARTITION_SYSTEM_PARAMETER: u32 = 6;
/// `FLASH_SIZE_16M_MAP_1024_1024`: 2 MB flash, two 1 MB application slots ("2MB-c1").
pub const FLASH_MAP_2MB_C1: u32 = 5;

/// `SpiFlashOpResult::SPI_FLASH_RESULT_OK`.
pub const SPI_FLASH_RESULT_OK: i32 = 0;
/// `wifi_station_get_connect_status` values.
pub const STATION_IDLE: u8 = 0;
pub const STATION_CONNECTING: u8 = 1;
pub const STATION_WRONG_PASSWORD: u8 = 2;
pub const STATION_NO_AP_FOUND: u8 = 3;
pub const STATION_GOT_IP: u8 = 5;
/// `STATION_IF` for `wifi_get_ip_info` and `wifi_get_macaddr`.
pub const STATION_IF: u8 = 0;
/// `STATION_MODE` and `SOFTAP_MODE` for `wifi_set_opmode_current`.
pub const STATION_MODE: u8 = 1;
pub const SOFTAP_MODE: u8 = 2;
/// `AUTH_MODE` values for the soft AP.
pub const AUTH_OPEN: u32 = 0;
pub const AUTH_WPA_WPA2_PSK: u32 = 4;
/// `sc_status::SC_STATUS_LINK`: the credentials arrived.
pub const SC_STATUS_LINK: u32 = 3;
/// `sc_type::SC_TYPE_ESPTOUCH_AIRKISS`: both apps' encodings.
pub const SC_TYPE_ESPTOUCH_AIRKISS: u32 = 2;
/// `ETS_UART_INUM`.
pub const UART_INTERRUPT: i32 = 5;
/// `USER_TASK_PRIO_0`: the engine's task.
pub const ENGINE_PRIORITY: u8 = 0;

extern "C" {
    pub fn system_os_task(
        task: unsafe extern "C" fn(*mut EtsEvent),
        priority: u8,
        queue: *mut EtsEvent,
        length: u8,
    ) -> bool;
    pub fn system_os_post(priority: u8, signal: u32, parameter: u32) -> bool;
    pub fn system_get_time() -> u32;
    pub fn system_restart();
    pub fn system_partition_table_regist(table: *const PartitionItem, count: u32, map: u32)
        -> bool;
    pub fn system_get_free_heap_size() -> u32;
    pub fn ets_timer_setfn(
        timer: *mut EtsTimer,
        function: unsafe extern "C" fn(*mut c_void),
        argument: *mut c_void,
    );
    pub fn ets_timer_arm_new(timer: *mut EtsTimer, time: u32, repeat: bool, milliseconds: bool);
    pub fn ets_timer_disarm(timer: *mut EtsTimer);
    pub fn ets_intr_lock();
    pub fn ets_intr_unlock();
    pub fn ets_isr_attach(
        number: i32,
        handler: unsafe extern "C" fn(*mut c_void),
        argument: *mut c_void,
    );
    pub fn ets_isr_unmask(mask: u32);
    /// The ROM's exception dispatch (xtos): installs a C-called handler for `cause` and
    /// returns the one it replaces (0 for none).
    pub fn _xtos_set_exception_handler(
        cause: u32,
        handler: unsafe extern "C" fn(*mut u32, u32),
    ) -> usize;
    pub fn os_get_random(buffer: *mut u8, length: usize) -> i32;
    pub fn dns_gethostbyname(
        name: *const u8,
        address: *mut u32,
        found: DnsFound,
        argument: *mut c_void,
    ) -> i8;
    pub fn tcp_new() -> *mut TcpPcb;
    pub fn tcp_arg(pcb: *mut TcpPcb, argument: *mut c_void);
    pub fn tcp_err(pcb: *mut TcpPcb, callback: Option<TcpError>);
    pub fn tcp_recv(pcb: *mut TcpPcb, callback: Option<TcpReceive>);
    pub fn tcp_sent(pcb: *mut TcpPcb, callback: Option<TcpSent>);
    pub fn tcp_connect(
        pcb: *mut TcpPcb,
        address: *mut u32,
        port: u16,
        connected: TcpConnected,
    ) -> i8;
    pub fn tcp_write(pcb: *mut TcpPcb, data: *const u8, length: u16, flags: u8) -> i8;
    pub fn tcp_output(pcb: *mut TcpPcb) -> i8;
    pub fn tcp_recved(pcb: *mut TcpPcb, length: u16);
    pub fn tcp_close(pcb: *mut TcpPcb) -> i8;
    pub fn tcp_abort(pcb: *mut TcpPcb);
    pub fn pbuf_copy_partial(
        chain: *mut Pbuf,
        destination: *mut u8,
        length: u16,
        offset: u16,
    ) -> u16;
    pub fn pbuf_cat(head: *mut Pbuf, tail: *mut Pbuf);
    pub fn pbuf_free(chain: *mut Pbuf) -> u8;
    pub fn spi_flash_read(source: u32, destination: *mut u32, size: u32) -> i32;
    pub fn spi_flash_write(destination: u32, source: *const u32, size: u32) -> i32;
    pub fn spi_flash_erase_sector(sector: u16) -> i32;
    pub fn wifi_set_opmode_current(mode: u8) -> bool;
    pub fn wifi_station_set_config_current(config: *mut StationConfig) -> bool;
    pub fn wifi_station_connect() -> bool;
    pub fn wifi_station_disconnect() -> bool;
    pub fn wifi_station_get_connect_status() -> u8;
    pub fn wifi_station_get_rssi() -> i8;
    pub fn wifi_get_channel() -> u8;
    pub fn wifi_get_ip_info(interface: u8, info: *mut IpInfo) -> bool;
    pub fn wifi_get_macaddr(interface: u8, mac: *mut u8) -> bool;
    pub fn wifi_set_event_handler_cb(callback: WifiEventCallback);
    pub fn wifi_station_get_config(config: *mut StationConfig) -> bool;
    pub fn wifi_softap_set_config_current(config: *mut SoftApConfig) -> bool;
    pub fn smartconfig_set_type(kind: u32) -> bool;
    /// Variadic in C (an optional log flag this board never passes).
    pub fn smartconfig_start(callback: SmartConfigCallback, ...) -> bool;
    pub fn smartconfig_stop() -> bool;
    pub fn udp_new() -> *mut UdpPcb;
    pub fn udp_remove(pcb: *mut UdpPcb);
    pub fn udp_bind(pcb: *mut UdpPcb, address: *mut u32, port: u16) -> i8;
    pub fn udp_recv(pcb: *mut UdpPcb, callback: Option<UdpReceive>, argument: *mut c_void);
    pub fn udp_sendto(pcb: *mut UdpPcb, datagram: *mut Pbuf, address: *mut u32, port: u16) -> i8;
    pub fn pbuf_alloc(layer: u32, length: u16, kind: u32) -> *mut Pbuf;
    pub fn pbuf_take(buffer: *mut Pbuf, data: *const u8, length: u16) -> i8;
}
