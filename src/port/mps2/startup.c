/*
 * Reset and the vector table for the mps2-an386 (Cortex-M4F). The table is ours: the 16
 * ARMv7-M system exceptions, then the 48 external interrupts QEMU 7.2 gives the board
 * (only UART0 RX and SysTick are used; the rest spin in a handler a debugger can see).
 */
#include <string.h>

#include "mps2.h"

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern uint32_t __stack_top[];

int main(void);
void Reset_Handler(void);
void Default_Handler(void);
void HardFault_Handler(void);
void SysTick_Handler(void);
void UART0_RX_Handler(void);
void UART_OVF_Handler(void);

void Default_Handler(void)
{
    for (;;)
        ;
}

/* A fault says where it happened on the debug console, then QEMU stops (a watchdog
 * reset on hardware). The handler is bare so that the stack it reads is the exception
 * frame itself, before any prologue moved it. */
void hard_fault_report(const uint32_t *frame);
void hard_fault_report(const uint32_t *frame)
{
    sh_printf("s4100-fw: HardFault at pc 0x%x lr 0x%x\n", frame[6], frame[5]);
    sh_exit(3);
}

__attribute__((naked)) void HardFault_Handler(void)
{
    __asm volatile("tst lr, #4\n"
                   "ite eq\n"
                   "mrseq r0, msp\n"
                   "mrsne r0, psp\n"
                   "b hard_fault_report\n");
}

#define MPS2_NIRQ 48

typedef void (*vector_t)(void);

__attribute__((section(".vectors"), used))
static const vector_t vectors[16 + MPS2_NIRQ] = {
    [0] = (vector_t)(uintptr_t)__stack_top,
    [1] = Reset_Handler,
    [2] = Default_Handler,   /* NMI */
    [3] = HardFault_Handler,
    [4] = HardFault_Handler, /* MemManage (disabled: escalates) */
    [5] = HardFault_Handler, /* BusFault */
    [6] = HardFault_Handler, /* UsageFault */
    [11] = Default_Handler,  /* SVCall */
    [12] = Default_Handler,  /* DebugMon */
    [14] = Default_Handler,  /* PendSV */
    [15] = SysTick_Handler,
    [16 + UART0_RX_IRQ] = UART0_RX_Handler,
    [16 + UART_OVF_IRQ] = UART_OVF_Handler,
};

/* Before C: the FPU on (CP10, CP11 full access) so that no compiled code, this
 * function's included, can meet a disabled coprocessor; then .data from flash, .bss
 * zeroed. */
__attribute__((noreturn))
void Reset_Handler(void)
{
    SCB_CPACR |= 0xFu << 20;
    __asm volatile("dsb\n isb" ::: "memory");
    size_t n = (size_t)((char *)__data_end - (char *)__data_start);
    memcpy(__data_start, __data_load, n);
    memset(__bss_start, 0, (size_t)((char *)__bss_end - (char *)__bss_start));
    sh_exit(main());
}
