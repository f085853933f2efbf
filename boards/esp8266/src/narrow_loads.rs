//! `.rodata` in flash: byte and half-word loads from the flash window, emulated.
//!
//! The data RAM is the ESP8266's scarcest resource (docs/hardware.md, "RAM map"), so this
//! board keeps its constants in the flash-mapped irom0 segment, where the cache answers
//! aligned 32-bit loads only. Word loads (jump tables, literal pools, aligned copies) run at
//! cache speed; `l8ui`/`l16ui`/`l16si` raise LoadStoreError and are completed by the
//! handler in `load-store-error.S` (our own assembly, IRAM-resident), which is installed
//! first thing at boot, before any code reads a constant byte-wise.

use crate::sdk;

/// EXCCAUSE of a load or store the memory cannot serve at that width.
const LOAD_STORE_ERROR: u32 = 3;

extern "C" {
    /// The handler (`load-store-error.S`).
    fn tcat_load_store_error(frame: *mut u32, cause: u32);
    /// Where the handler finds the SDK's own handler for everything it does not emulate.
    static mut tcat_previous_load_store_handler: usize;
}

/// Installs the handler. Must run before the first byte-wise read of a constant.
pub fn install() {
    // SAFETY: the ROM call swaps one table entry; `tcat_previous_load_store_handler` is read
    // only by the handler, which cannot run before this call returns the value it needs.
    unsafe {
        let previous = sdk::_xtos_set_exception_handler(LOAD_STORE_ERROR, tcat_load_store_error);
        core::ptr::addr_of_mut!(tcat_previous_load_store_handler).write_volatile(previous);
    }
}
