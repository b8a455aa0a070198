/*
 * The millisecond clock: SysTick on the 25 MHz CPU clock, one interrupt a millisecond.
 * Microseconds come from the count within the millisecond, so MS/TP gets the resolution
 * its octet timestamps want without a second timer.
 */
#include "mps2.h"

#define TICKS_PER_MS (MPS2_SYSCLK_HZ / 1000u)

static volatile uint32_t ms_count;

void SysTick_Handler(void);
void SysTick_Handler(void)
{
    ms_count++;
}

void systick_init(void)
{
    SYST_RVR = TICKS_PER_MS - 1u;
    SYST_CVR = 0;
    /* Priority 0 (the highest): a UART interrupt taking time-stamps is preempted, so
     * the count it reads is never a millisecond stale. */
    SCB_SHPR3 &= 0x00FFFFFFu;
    SYST_CSR = 7u; /* enable, interrupt, processor clock */
}

uint32_t systick_ms(void)
{
    return ms_count;
}

/* Never behind an earlier reading: under QEMU the counter can reload before the tick's
 * pending bit shows, which would read a millisecond back (a gap of 2^32 us to MS/TP).
 * Read with interrupts masked, so the tick cannot run in between and the UART
 * interrupt and the main loop share last_us safely. */
static uint32_t last_us;

uint32_t systick_us(void)
{
    uint32_t primask;
    __asm volatile("mrs %0, primask\n"
                   "cpsid i" : "=r"(primask) : : "memory");
    uint32_t ms = ms_count, cvr = SYST_CVR;
    /* The counter reloaded but its interrupt has not been taken yet: that millisecond
     * is over already. */
    if ((SCB_ICSR & SCB_ICSR_PENDSTSET) != 0 && cvr > TICKS_PER_MS / 2u)
        ms++;
    uint32_t us = ms * 1000u + (TICKS_PER_MS - 1u - cvr) / (TICKS_PER_MS / 1000u);
    if ((int32_t)(us - last_us) < 0)
        us = last_us;
    last_us = us;
    __asm volatile("msr primask, %0" : : "r"(primask) : "memory");
    return us;
}
