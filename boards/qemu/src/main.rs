//! The riscv32 `virt` executable: everything, `_start` included, is in the library.

#![no_std]
#![no_main]

use tc_at_qemu as _;
