/* (to be merged into bac.h once the codec settles) The application-layer server. */
#ifndef S4100_BAC_SERVER_H
#define S4100_BAC_SERVER_H

#include "bac.h"

struct obj_device;

#define BAC_PASSWORD_MAX 20u

enum { BAC_DCC_ENABLE = 0, BAC_DCC_DISABLE = 1, BAC_DCC_DISABLE_INITIATION = 2 };
enum {
    BAC_REINIT_COLDSTART = 0,
    BAC_REINIT_WARMSTART = 1,
    BAC_REINIT_START_BACKUP = 2,
    BAC_REINIT_END_BACKUP = 3,
    BAC_REINIT_START_RESTORE = 4,
    BAC_REINIT_END_RESTORE = 5,
    BAC_REINIT_ABORT_RESTORE = 6,
};

/* The server state of one device: its objects, DeviceCommunicationControl, the
 * password (DECISIONS P2), and a restart the host must carry out. */
typedef struct {
    struct obj_device *dev;
    uint8_t dcc;           /* BAC_DCC_ */
    bool dcc_timed;
    uint32_t dcc_end_ms;
    char password[BAC_PASSWORD_MAX + 1]; /* empty: none required */
    bool reinit_pending;
    uint8_t reinit_state;
    uint32_t requests;
} bac_server_t;

void bac_server_init(bac_server_t *s, struct obj_device *dev, const char *password);

/* One received NPDU (received_as_broadcast: it came to a broadcast address). Writes at
 * most one reply NPDU into out and returns its length (0: nothing to send); *bcast
 * tells whether it goes to the local broadcast address (I-Am, I-Have) or back to the
 * sender. now_ms is a monotonic millisecond clock (DCC durations). */
size_t bac_server_handle(bac_server_t *s, uint32_t now_ms, const uint8_t *npdu, size_t len,
                         bool received_as_broadcast, uint8_t *out, size_t cap, bool *bcast);

/* The I-Am a device broadcasts when it starts (0 when DCC forbids initiating). */
size_t bac_server_i_am(bac_server_t *s, uint8_t *out, size_t cap);

/* Expire a timed DCC. */
void bac_server_tick(bac_server_t *s, uint32_t now_ms);

/* A ReinitializeDevice was acknowledged: true once, with its state; DCC is re-enabled. */
bool bac_server_reinit_requested(bac_server_t *s, uint8_t *state);

#endif
