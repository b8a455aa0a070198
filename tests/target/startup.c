/*
 * The test-only runtime for QEMU's mps2-an386 (Cortex-M4F): a vector table, a reset
 * handler that turns the FPU on before any C code can use it, and fault handlers that
 * report through semihosting and exit non-zero, so a fault in a test fails the run
 * instead of hanging it until the timeout. Misaligned accesses trap (CCR.UNALIGN_TRP,
 * with strict.c's memcpy), as they would on a Cortex-M0 and do here for LDRD/LDM; an MPU
 * region guards the stack. The firmware has its own startup in src/port/mps2; this one
 * only hosts the unit tests (newlib + librdimon for stdio, the command line, exit).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target.h"

int main(void);
void Reset_Handler(void);
void Fault_Handler(void);
void initialise_monitor_handles(void);
void __libc_init_array(void);

/* From target.ld. */
extern uint32_t __stack_top[], __data_load[], __data_start[], __data_end[];
extern uint32_t __bss_start[], __bss_end[], __stack_limit[], __stack_guard[];
/* librdimon's: _sbrk grows the heap up to it (newlib's crt0 would set it). */
extern unsigned int __heap_limit;

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define SCB_CCR (*(volatile uint32_t *)0xE000ED14u)
#define SCB_CFSR (*(volatile uint32_t *)0xE000ED28u)
#define SCB_HFSR (*(volatile uint32_t *)0xE000ED2Cu)
#define SCB_MMFAR (*(volatile uint32_t *)0xE000ED34u)
#define SCB_BFAR (*(volatile uint32_t *)0xE000ED38u)
#define SCB_SHCSR (*(volatile uint32_t *)0xE000ED24u)
#define MPU_CTRL (*(volatile uint32_t *)0xE000ED94u)
#define MPU_RNR (*(volatile uint32_t *)0xE000ED98u)
#define MPU_RBAR (*(volatile uint32_t *)0xE000ED9Cu)
#define MPU_RASR (*(volatile uint32_t *)0xE000EDA0u)

/* Semihosting: the operations used here, and the call (BKPT 0xAB on M-profile). */
#define SH_WRITE0 0x04
#define SH_GET_CMDLINE 0x15
#define SH_EXIT 0x18
#define SH_EXIT_EXTENDED 0x20
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

static uint32_t sh_call(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static void sh_puts(const char *s)
{
    sh_call(SH_WRITE0, s);
}

static void sh_hex(const char *name, uint32_t v)
{
    char buf[24] = " ", *p = buf + 1;
    while (*name)
        *p++ = *name++;
    *p++ = '=';
    for (int i = 28; i >= 0; i -= 4)
        *p++ = "0123456789abcdef"[(v >> i) & 0xFu];
    *p = 0;
    sh_puts(buf);
}

int target_cmdline(char *buf, size_t len)
{
    struct {
        char *buf;
        uint32_t len;
    } block = {buf, (uint32_t)len};
    if (len == 0 || sh_call(SH_GET_CMDLINE, &block) != 0) {
        if (len)
            buf[0] = 0;
        return -1;
    }
    buf[block.len < len ? block.len : len - 1] = 0;
    return 0;
}

/* Exit with status 1 without newlib (a fault may have hit it in an inconsistent state). */
static void sh_fail_exit(void)
{
    uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, 1};
    sh_call(SH_EXIT_EXTENDED, block);
    sh_call(SH_EXIT, (const void *)0x20023u); /* an old host: ADP_Stopped_RunTimeErrorUnknown */
    for (;;)
        ;
}

/* Where the fault happened: the stacked frame (PC, LR) and the fault status registers.
 * CFSR bit 24 (UNALIGNED) or 25 (DIVBYZERO) names the usual suspects. */
static void fault_report(const uint32_t *frame)
{
    sh_puts("\n[  FAULT   ] target fault:");
    sh_hex("pc", frame[6]);
    sh_hex("lr", frame[5]);
    sh_hex("cfsr", SCB_CFSR);
    sh_hex("hfsr", SCB_HFSR);
    sh_hex("mmfar", SCB_MMFAR);
    sh_hex("bfar", SCB_BFAR);
    uint32_t guard = (uint32_t)(uintptr_t)__stack_guard;
    if ((SCB_CFSR & 0x80u) && SCB_MMFAR - guard < 256u) /* MMARVALID, in the guard */
        sh_puts(" (stack overflow)");
    sh_puts("\n");
    sh_fail_exit();
}

__attribute__((naked)) void Fault_Handler(void)
{
    __asm__ volatile("tst lr, #4\n"
                     "ite eq\n"
                     "mrseq r0, msp\n"
                     "mrsne r0, psp\n"
                     "b %0\n" ::"i"(fault_report));
}

/* __libc_init_array calls these (crti/crtn are not linked: -nostartfiles). */
void _init(void);
void _fini(void);
void _init(void)
{
}
void _fini(void)
{
}

/* The C environment: .data copied, .bss cleared, semihosting stdio, constructors. */
__attribute__((noreturn, noinline)) static void start_c(void)
{
    memcpy(__data_start, __data_load, (size_t)((char *)__data_end - (char *)__data_start));
    memset(__bss_start, 0, (size_t)((char *)__bss_end - (char *)__bss_start));
    __heap_limit = (unsigned int)(uintptr_t)__stack_guard;
    initialise_monitor_handles();
    __libc_init_array();
    exit(main());
}

/* A stack that overflows would run through the heap and .bss into the board's unmapped
 * space below the RAM, which QEMU reads as zero and ignores writes to: no fault, only
 * corrupted data. An MPU region with no access just below the stack (target.ld's
 * 256-octet __stack_guard) makes the overflow a MemManage fault; the default memory map
 * stays in force elsewhere (PRIVDEFENA). */
static void stack_guard(void)
{
    MPU_RNR = 0;
    MPU_RBAR = (uint32_t)(uintptr_t)__stack_guard;
    MPU_RASR = 1u << 28 /* XN */ | 0u << 24 /* no access */ | 7u << 1 /* 2^(7+1) */ | 1u;
    MPU_CTRL = 1u << 2 /* PRIVDEFENA */ | 1u;
}

void Reset_Handler(void)
{
    /* CP10 and CP11 full access: the hard-float ABI uses the FPU from the first call. */
    SCB_CPACR |= 0xFu << 20;
    /* Separate handlers for MemManage, BusFault and UsageFault (all reported the same). */
    SCB_SHCSR |= 7u << 16;
    /* Misaligned halfword/word accesses fault (UsageFault, CFSR.UNALIGNED): the tests are
     * built with -mno-unaligned-access, so only a misaligned pointer in C can cause one. */
    SCB_CCR |= 1u << 3;
    stack_guard();
    __asm__ volatile("dsb\n isb" ::: "memory");
    start_c();
}

/* Cortex-M4: 16 system exceptions; no interrupt is used, so none are listed. */
typedef union {
    void (*handler)(void);
    void *sp;
} vector_t;

__attribute__((section(".vectors"), used)) static const vector_t vectors[16] = {
    {.sp = __stack_top},
    {Reset_Handler},
    {Fault_Handler}, /* NMI */
    {Fault_Handler}, /* HardFault */
    {Fault_Handler}, /* MemManage */
    {Fault_Handler}, /* BusFault */
    {Fault_Handler}, /* UsageFault */
    {0}, {0}, {0}, {0},
    {Fault_Handler}, /* SVCall */
    {Fault_Handler}, /* DebugMonitor */
    {0},
    {Fault_Handler}, /* PendSV */
    {Fault_Handler}, /* SysTick */
};
