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

uint32_t systick_us(void)
{
    uint32_t ms, cvr;
    do { /* a tick between the two reads: read again */
        ms = ms_count;
        cvr = SYST_CVR;
    } while (ms != ms_count);
    return ms * 1000u + (TICKS_PER_MS - 1u - cvr) / (TICKS_PER_MS / 1000u);
}
