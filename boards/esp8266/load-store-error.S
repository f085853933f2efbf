/* Byte and half-word loads from flash on the ESP8266 (call0 ABI, assembled by GNU as).
 *
 * The ESP8266 maps its SPI flash at 0x40200000 (irom0) through a cache that answers only
 * aligned 32-bit loads; IRAM (0x40100000) is word-only as well. `l8ui`, `l16ui` and `l16si`
 * there raise EXCCAUSE 3 (LoadStoreError). The board keeps its `.rodata` in irom0 to save
 * data RAM and installs `tcat_load_store_error` for that cause through the ROM's
 * `_xtos_set_exception_handler`, whose C wrapper passes a frame holding the interrupted
 * EPC1, PS, SAR, vpri, a0 and a2..a15 (in that order, 4 bytes each) and restores all of them
 * on return. The handler reads the aligned word around the faulting address, extracts the
 * byte or half-word as the instruction would, writes it into the saved target register and
 * steps EPC1 over the 3-byte instruction. Everything else (a store, a load into a1, an
 * address outside the word-only windows) goes to the handler that was installed before.
 *
 * All of this is in IRAM (`.iram1.*`): it must run while the faulting code's cache line is
 * being fetched, and it touches no `.rodata`.
 *
 * Cost of an emulated load, our part: about 40 instructions (tcat_emulate_narrow_load
 * executes 29 for l8ui, 28 for l16ui into a0, 32 for l16si, single-stepped on QEMU's lx106;
 * the entry and exit add 11), straight-line, with 7 loads, 3 of them through the flash cache
 * (the two words holding the instruction, the word holding the operand); the ROM's vector
 * and C wrapper (saving and restoring the frame) come on top and are measurable only on a
 * chip.
 *
 * `tcat_emulate_narrow_load` is separate so that the QEMU lx106 harness can check the
 * decoding and extraction on the same CPU with a synthetic frame (`-M sim` maps no flash,
 * so it never raises LoadStoreError itself). */

/* Offsets in the ROM C wrapper's frame. */
    .equ FRAME_EPC, 0
    .equ FRAME_A0, 16
/* a2..a15 follow a0: the slot of register t >= 2 is 20 + 4 * (t - 2) = 12 + 4 * t. */
    .equ FRAME_AT_BASE, 12

    .section .iram1.tcat_emulate_narrow_load, "ax"
    .global tcat_emulate_narrow_load
    .type tcat_emulate_narrow_load, @function
    .align 4
/* u32 tcat_emulate_narrow_load(u32 *frame, u32 address): 1 when the instruction at the
 * frame's EPC is l8ui/l16ui/l16si and its result (the value at `address`) was written into
 * the frame and EPC stepped over it; 0 (frame untouched) otherwise. Uses a2..a9 only. */
tcat_emulate_narrow_load:
    mov a8, a2
    /* The instruction: 3 bytes at any alignment, fetched as two aligned words. */
    l32i a4, a8, FRAME_EPC
    movi a5, -4
    and a6, a4, a5
    l32i a7, a6, 0
    l32i a9, a6, 4
    ssa8l a4
    src a7, a9, a7
    /* RRI8: op0 in bits 0..3 (2 = the load/store group), t in 4..7, r in 12..15. */
    extui a4, a7, 0, 4
    bnei a4, 2, .Lnot_emulated
    extui a4, a7, 12, 4
    /* The aligned word holding the operand, shifted so the operand is in the low bits. A
     * half-word at offset 3 would have raised an alignment exception instead. */
    and a6, a3, a5
    l32i a6, a6, 0
    ssa8l a3
    srl a6, a6
    beqz a4, .Lbyte
    beqi a4, 1, .Lhalf_unsigned
    movi a5, 9
    beq a4, a5, .Lhalf_signed
    j .Lnot_emulated
.Lbyte:
    extui a6, a6, 0, 8
    j .Lstore
.Lhalf_unsigned:
    extui a6, a6, 0, 16
    j .Lstore
.Lhalf_signed:
    slli a6, a6, 16
    srai a6, a6, 16
.Lstore:
    extui a4, a7, 4, 4
    /* a1 (the stack pointer) is not in the frame: never a target we can write. */
    beqi a4, 1, .Lnot_emulated
    beqz a4, .Lregister_a0
    addx4 a5, a4, a8
    s32i a6, a5, FRAME_AT_BASE
    j .Lstep
.Lregister_a0:
    s32i a6, a8, FRAME_A0
.Lstep:
    l32i a4, a8, FRAME_EPC
    addi a4, a4, 3
    s32i a4, a8, FRAME_EPC
    movi a2, 1
    ret
.Lnot_emulated:
    movi a2, 0
    ret
    .size tcat_emulate_narrow_load, . - tcat_emulate_narrow_load

    .section .iram1.tcat_load_store_error, "ax"
    .literal_position
    .literal .Lwindow_start, 0x40100000
    .literal .Lwindow_size, 0x00200000
    .literal .Lprevious, tcat_previous_load_store_handler
    .global tcat_load_store_error
    .type tcat_load_store_error, @function
    .align 4
/* void tcat_load_store_error(u32 *frame, u32 cause): the LoadStoreError handler. */
tcat_load_store_error:
    rsr.excvaddr a3
    l32r a4, .Lwindow_start
    sub a4, a3, a4
    l32r a5, .Lwindow_size
    bgeu a4, a5, .Lchain
    mov a10, a2
    mov a11, a0
    call0 tcat_emulate_narrow_load
    mov a0, a11
    bnez a2, .Lhandled
    mov a2, a10
.Lchain:
    /* Not ours: the previous handler (the SDK's fatal-exception report) with the same
     * arguments, as a tail call. */
    movi a3, 3
    l32r a4, .Lprevious
    l32i a4, a4, 0
    beqz a4, .Lno_previous
    jx a4
.Lno_previous:
    /* Nothing to report to (cannot happen once installed): the watchdog restarts the chip. */
    j .Lno_previous
.Lhandled:
    ret
    .size tcat_load_store_error, . - tcat_load_store_error

    .section .bss.tcat_previous_load_store_handler, "aw", @nobits
    .global tcat_previous_load_store_handler
    .align 4
/* What `_xtos_set_exception_handler` returned when ours was installed. */
tcat_previous_load_store_handler:
    .space 4

/* No executable stack is needed (silences GNU ld's warning). */
    .section .note.GNU-stack, "", @progbits
