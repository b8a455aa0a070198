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
    for (;;) {
        uint32_t ms = ms_count, cvr = SYST_CVR;
        bool pending = (SCB_ICSR & SCB_ICSR_PENDSTSET) != 0;
        if (ms != ms_count)
            continue; /* the tick ran in between: read again */
        /* The counter reloaded but its interrupt has not been taken yet (interrupts
         * masked, or a higher priority running): that millisecond is over already. */
        if (pending && cvr > TICKS_PER_MS / 2u)
            ms++;
        return ms * 1000u + (TICKS_PER_MS - 1u - cvr) / (TICKS_PER_MS / 1000u);
    }
}
