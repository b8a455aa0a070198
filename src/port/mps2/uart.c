/*
 * UART0, the MS/TP line: octets are taken from the one-octet receive buffer in the
 * interrupt, stamped with the microsecond clock (MS/TP's frame timing needs when each
 * octet completed, not when the main loop got round to it) and kept in a ring; the main
 * loop drains the ring. Transmission is polled: mstp hands over whole frames and wants
 * them on the wire before it times anything from their end.
 */
#include "mps2.h"

#define RING 1024u /* a power of two; two of the longest MS/TP frames */

static struct {
    uint8_t octet[RING];
    uint32_t t[RING];
    volatile uint32_t head; /* written by the interrupt */
    volatile uint32_t tail; /* written by the main loop */
    volatile uint32_t lost;
} rx;

void UART0_RX_Handler(void);
void UART_OVF_Handler(void);

void UART0_RX_Handler(void)
{
    /* Clear first, then empty the buffer: an octet landing after the last look raises
     * the interrupt again instead of waiting unseen. */
    UART_INTSTATUS(UART0_BASE) = UART_INT_RX;
    while (UART_STATE(UART0_BASE) & UART_STATE_RXFULL) {
        uint8_t c = (uint8_t)UART_DATA(UART0_BASE);
        uint32_t h = rx.head;
        if (h - rx.tail >= RING) {
            rx.lost++;
            continue;
        }
        rx.octet[h % RING] = c;
        rx.t[h % RING] = systick_us();
        rx.head = h + 1u;
    }
}

void UART_OVF_Handler(void)
{
    UART_INTSTATUS(UART0_BASE) = UART_INT_RXO;
    rx.lost++;
}

void uart0_set_baud(uint32_t baud)
{
    UART_BAUDDIV(UART0_BASE) = (MPS2_SYSCLK_HZ + baud / 2u) / baud;
}

void uart0_init(uint32_t baud)
{
    UART_CTRL(UART0_BASE) = 0;
    uart0_set_baud(baud);
    UART_INTSTATUS(UART0_BASE) = 0xFu;
    UART_CTRL(UART0_BASE) = UART_CTRL_TXEN | UART_CTRL_RXEN | UART_CTRL_RXIE | UART_CTRL_RXOIE;
    NVIC_IPR8(UART0_RX_IRQ) = 0x40;
    NVIC_IPR8(UART_OVF_IRQ) = 0x40;
    NVIC_ISER(0) = 1u << UART0_RX_IRQ | 1u << UART_OVF_IRQ;
}

bool uart0_get(uint8_t *octet, uint32_t *t_us)
{
    uint32_t tl = rx.tail;
    if (tl == rx.head)
        return false;
    *octet = rx.octet[tl % RING];
    *t_us = rx.t[tl % RING];
    rx.tail = tl + 1u;
    return true;
}

void uart0_write(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        while (UART_STATE(UART0_BASE) & UART_STATE_TXFULL)
            ;
        UART_DATA(UART0_BASE) = p[i];
    }
    while (UART_STATE(UART0_BASE) & UART_STATE_TXFULL)
        ;
}

uint32_t uart0_overruns(void)
{
    return rx.lost;
}
