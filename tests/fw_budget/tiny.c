/* A tiny Cortex-M4F image for tests/test_fw_budget.sh: a vector table, calls through a
 * table of function pointers, and one computation in double. */
#include <stdint.h>

extern uint32_t _estack;
int main(void);

volatile double g_d = 1.5;
volatile float g_f;

void Reset_Handler(void)
{
    main();
    for (;;) {
    }
}

void SysTick_Handler(void)
{
    g_f = g_f + 1.0f;
}

__attribute__((noinline)) static float scale(float x)
{
    return (float)(g_d * x);
}

__attribute__((noinline)) static float twice(float x)
{
    return x + x;
}

static float (*const volatile g_op[])(float) = {scale, twice};

int main(void)
{
    float r = 0;
    for (unsigned i = 0; i < 2; i++)
        r += g_op[i](r + 1.0f);
    return (int)r;
}

/* A naked handler: its branch to the report is asm, absent from GCC's call graph. */
__attribute__((noinline, used)) void fault_report(unsigned x)
{
    volatile uint32_t words[30];
    for (unsigned i = 0; i < 30; i++)
        words[i] = x + i;
    g_f = (float)words[x % 30];
}

__attribute__((naked)) void HardFault_Handler(void)
{
    __asm volatile("mrs r0, msp\n"
                   "b fault_report\n");
}

__attribute__((section(".isr_vector"), used)) const void *const g_vectors[] = {
    &_estack, Reset_Handler, 0, HardFault_Handler, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    SysTick_Handler,
};
