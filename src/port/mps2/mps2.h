/*
 * The s4100 firmware's board: QEMU's mps2-an386 (ARM MPS2+ with the AN386 FPGA image, a
 * Cortex-M4 with FPU). Register addresses and IRQ numbers as QEMU 7.2 models them
 * (hw/arm/mps2.c, hw/char/cmsdk-apb-uart.c) and as ARM documents the CMSDK APB UART
 * (DDI0479) and the ARMv7-M system control space (DDI0403). Written for this port; no
 * vendor header is used. docs/firmware.md has the memory map and the reasons.
 */
#ifndef S4100_MPS2_H
#define S4100_MPS2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MPS2_SYSCLK_HZ 25000000u /* the FPGA's system clock: CPU, SysTick, APB */

/* ---- registers ---------------------------------------------------------------------- */

#define MPS2_REG(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* CMSDK APB UART: a one-octet buffer each way, always 8N1. */
#define UART0_BASE 0x40004000u
#define UART_DATA(b) MPS2_REG((b) + 0x00u)
#define UART_STATE(b) MPS2_REG((b) + 0x04u) /* 0 TX full, 1 RX full, 2/3 overruns (W1C) */
#define UART_CTRL(b) MPS2_REG((b) + 0x08u)
#define UART_INTSTATUS(b) MPS2_REG((b) + 0x0Cu) /* W1C */
#define UART_BAUDDIV(b) MPS2_REG((b) + 0x10u)   /* >= 16 */
#define UART_STATE_TXFULL 1u
#define UART_STATE_RXFULL 2u
#define UART_STATE_TXOVR 4u
#define UART_STATE_RXOVR 8u
#define UART_CTRL_TXEN 1u
#define UART_CTRL_RXEN 2u
#define UART_CTRL_RXIE 8u
#define UART_CTRL_RXOIE 32u
#define UART_INT_RX 2u
#define UART_INT_RXO 8u
/* UART0's interrupts: RX 0, TX 1; UARTs 0..2 overruns ORed into 12. */
#define UART0_RX_IRQ 0u
#define UART_OVF_IRQ 12u

/* ARMv7-M system control space. */
#define SYST_CSR MPS2_REG(0xE000E010u)
#define SYST_RVR MPS2_REG(0xE000E014u)
#define SYST_CVR MPS2_REG(0xE000E018u)
#define NVIC_ISER(n) MPS2_REG(0xE000E100u + 4u * (n))
#define NVIC_IPR8(irq) (*(volatile uint8_t *)(uintptr_t)(0xE000E400u + (irq)))
#define SCB_SHPR3 MPS2_REG(0xE000ED20u) /* bits 31..24: SysTick's priority */
#define SCB_CPACR MPS2_REG(0xE000ED88u)
#define SCB_ICSR MPS2_REG(0xE000ED04u)
#define SCB_ICSR_PENDSTSET (1u << 26)

/* ---- the port ------------------------------------------------------------------------ */

/* SysTick: 1 ms interrupts from the 25 MHz CPU clock. */
void systick_init(void);
uint32_t systick_ms(void);
/* Microseconds since start (wraps after 71 minutes, like the MS/TP clock). */
uint32_t systick_us(void);

/* UART0: RX by interrupt into a ring of (octet, microsecond) pairs; TX by polling. */
void uart0_init(uint32_t baud);
void uart0_set_baud(uint32_t baud);
/* The oldest octet received and when it completed: false when none waits. */
bool uart0_get(uint8_t *octet, uint32_t *t_us);
void uart0_write(const uint8_t *p, size_t n);
uint32_t uart0_overruns(void); /* octets lost: the ring full or the UART overrun */

/* ARM semihosting (the debugger's calls, served by QEMU -semihosting). */
int sh_open(const char *path, int mode); /* mode: SH_RB, SH_RPB, SH_WPB; -1 failure */
#define SH_RB 1
#define SH_RPB 3
#define SH_WPB 7
int sh_close(int fd);
long sh_flen(int fd);
int sh_seek(int fd, uint32_t pos);            /* 0 */
int sh_write(int fd, const void *p, size_t n); /* 0: all written */
int sh_read(int fd, void *p, size_t n);        /* 0: all read */
int sh_cmdline(char *buf, size_t cap);         /* 0: buf holds the command line */
void sh_puts(const char *s);                   /* debug console (QEMU's stdout) */
void sh_printf(const char *fmt, ...);          /* %s %u %d %x %c only */
void sh_exit(int status) __attribute__((noreturn));

/* Cortex-M interrupt masking. */
static inline void irq_off(void) { __asm volatile("cpsid i" ::: "memory"); }
static inline void irq_on(void) { __asm volatile("cpsie i" ::: "memory"); }
static inline void cpu_wfi(void) { __asm volatile("wfi"); }

#endif
