/* Start file and CPU helpers of the lx106 QEMU harness (call0 ABI, assembled by GNU as). */

/* The `sim` machine starts at the core's reset vector, not at the ELF entry. */
    .section .reset_vector, "ax"
    .global _reset
_reset:
    j 1f
    .align 4
.Lentry:
    .word _start
1:  l32r a0, .Lentry
    jx a0

    .section .text.start, "ax"
    .literal_position
    .literal .Lstack_top, _stack_top
    .literal .Lbss_start, _bss_start
    .literal .Lbss_end, _bss_end
    .literal .Lmain, qemu_main
    .global _start
    .align 4
_start:
    l32r a1, .Lstack_top
    l32r a2, .Lbss_start
    l32r a3, .Lbss_end
    movi a4, 0
1:  bgeu a2, a3, 2f
    s32i a4, a2, 0
    addi a2, a2, 4
    j 1b
2:  l32r a0, .Lmain
    callx0 a0
3:  j 3b

    .section .text.semihosting_call, "ax"
    .global semihosting_call
    .align 4
semihosting_call:
    simcall
    ret

    .section .text.cycle_count, "ax"
    .global cycle_count
    .align 4
cycle_count:
    rsr.ccount a2
    ret

/* One of each load the ESP8266 board's LoadStoreError handler emulates, and two it must
 * refuse, at every alignment of the 3-byte instruction, for `check_load_emulation`
 * (src/xtensa.rs). Never executed: the emulation decodes them from memory. */
    .section .text.narrow_load_samples, "ax"
    .global narrow_load_samples
    .align 4
narrow_load_samples:
    l8ui a5, a3, 1
    l16ui a0, a3, 2
    l16si a12, a3, 2
    l8ui a15, a3, 3
    s8i a5, a3, 0
    l8ui a1, a3, 0
    l32i a6, a3, 0
