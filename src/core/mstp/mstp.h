/*
 * s4100 BACnet MS/TP data link (ASHRAE 135 Clause 9), as a master node.
 *
 * Three layers in one module, each usable on its own:
 *  - the frame codec: preamble 55 FF, header CRC-8, data CRC-16 (Annex G);
 *  - the Receive Frame state machine (mstp_rx_t), fed octet by octet with the time
 *    each octet finished arriving; also a promiscuous sniffer for captures;
 *  - the Master Node state machine (mstp_t): token passing, poll-for-master, token
 *    loss and recovery, replies within Treply_delay, Test_Request.
 *
 * The node meets the layer above at net/net.h, in both directions: NPDUs for it go up
 * through a net_upper_t, whose synchronous answer to a Data Expecting Reply is sent at
 * once (or Reply Postponed); NPDUs come down through the net_link_t of mstp_link and
 * wait for the token. It knows frames and stations, never the object model or the
 * server.
 *
 * Time is a uint32_t microsecond clock passed into every call (it wraps after 71
 * minutes: only signed differences are used). The host calls mstp_rx for each octet,
 * mstp_rx_error for each framing/overrun error, and mstp_tick at least every
 * millisecond. Frames leave through mstp_port_t.send, whole: the port owns the RS-485
 * driver enable, the turnaround before (Tturnaround, 40 bit times after the last octet
 * received) and the release after the stop bit (Tpostdrive). See docs/mstp.md.
 *
 * Portable core: no heap, no OS, no stdio, no mutable globals.
 */
#ifndef S4100_MSTP_H
#define S4100_MSTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/net.h"

/* ---- the frame ------------------------------------------------------------------- */

enum {
    MSTP_TOKEN = 0,
    MSTP_POLL_FOR_MASTER = 1,
    MSTP_REPLY_TO_PFM = 2,
    MSTP_TEST_REQUEST = 3,
    MSTP_TEST_RESPONSE = 4,
    MSTP_DATA_EXPECTING_REPLY = 5,
    MSTP_DATA_NOT_EXPECTING_REPLY = 6,
    MSTP_REPLY_POSTPONED = 7,
    /* 8..127 reserved (32..34: the COBS frames of 135-2016, never sent here), 128..255
     * proprietary: received and skipped, never answered. */
};

#define MSTP_BROADCAST 255u
#define MSTP_MAX_MASTER 127u   /* masters are 0..127 */
#define MSTP_MAX_DATA 501u     /* data octets of a frame */
#define MSTP_HEADER_LEN 8u     /* 55 FF type dst src lenHi lenLo hdrCRC */
#define MSTP_MAX_FRAME (MSTP_HEADER_LEN + MSTP_MAX_DATA + 2u)
#define MSTP_MAX_NPDU MSTP_MAX_DATA

/* One step of the header CRC-8 (x^8 + x^7 + 1, reflected, preset 0xFF) and of the data
 * CRC-16 (CCITT, reflected 0x8408, preset 0xFFFF). */
uint8_t mstp_crc8(uint8_t crc, uint8_t octet);
uint16_t mstp_crc16(uint16_t crc, uint8_t octet);
/* A receiver running the CRC over the header including its CRC octet ends here, and
 * over the data including both CRC octets ends at MSTP_CRC16_RESIDUE. */
#define MSTP_CRC8_RESIDUE 0x55u
#define MSTP_CRC16_RESIDUE 0xF0B8u

/* The CRC octet a sender puts after type, dst, src, lenHi, lenLo (ones-complement). */
uint8_t mstp_header_crc(const uint8_t hdr[5]);
/* The data CRC a sender appends (ones-complement), low octet first on the wire. */
uint16_t mstp_data_crc(const uint8_t *data, size_t n);

/* A whole frame into out: returns its length (8, or 8 + len + 2), or 0 when it does not
 * fit in cap or len > MSTP_MAX_DATA. data may be NULL when len is 0. */
size_t mstp_encode(uint8_t *out, size_t cap, uint8_t type, uint8_t dst, uint8_t src,
                   const uint8_t *data, size_t len);

typedef struct {
    uint8_t type, dst, src;
    uint16_t len;        /* data octets */
    const uint8_t *data; /* points into the decoded input */
} mstp_frame_t;

enum {
    MSTP_E_SHORT = -1,  /* the input ends inside the frame */
    MSTP_E_PREAMBLE = -2,
    MSTP_E_HEADER_CRC = -3,
    MSTP_E_DATA_CRC = -4,
    MSTP_E_TOO_LONG = -5, /* a data length above MSTP_MAX_DATA */
};
/* One whole frame at the start of p (tests, captures). Returns the octets it spans or
 * a negative MSTP_E_. */
int mstp_decode(const uint8_t *p, size_t n, mstp_frame_t *f);

/* ---- the Receive Frame state machine (9.5.4) ---------------------------------------- */

/* What an octet, an error or a timeout produced. */
enum {
    MSTP_RX_NONE = 0,    /* nothing complete yet */
    MSTP_RX_FRAME,       /* a valid frame for this node (or any, promiscuous) */
    MSTP_RX_NOT_FOR_US,  /* a valid header for another node; its data is skipped */
    MSTP_RX_BAD_HEADER,  /* header CRC error */
    MSTP_RX_BAD_DATA,    /* data CRC error */
    MSTP_RX_TOO_LONG,    /* for us, longer than MSTP_MAX_DATA (reported once skipped) */
    MSTP_RX_ABORTED,     /* Tframe_abort of silence inside a frame */
    MSTP_RX_ERROR,       /* a framing/overrun error inside a frame */
};

enum { MSTP_RS_IDLE, MSTP_RS_PREAMBLE, MSTP_RS_HEADER, MSTP_RS_DATA, MSTP_RS_SKIP_DATA };

typedef struct {
    uint32_t octets, errors;       /* every octet, every framing/overrun error */
    uint32_t frames, not_for_us;   /* valid frames for us, valid headers for others */
    uint32_t header_crc_errors, data_crc_errors, too_long, aborts, frame_errors;
} mstp_rx_counters_t;

typedef struct {
    uint8_t state;        /* MSTP_RS_ */
    uint8_t addr;         /* this station: frames to it and to 255 are ours */
    bool promiscuous;     /* every frame is ours (a sniffer) */
    bool too_long;        /* skipping the data of an over-long frame for us */
    uint32_t index;       /* header octet 0..5, or data octet (lengths to 65535 + 2) */
    uint8_t hdr_crc;
    uint16_t data_crc;
    uint32_t abort_us;    /* Tframe_abort */
    uint32_t last_us;     /* when the last octet or error arrived */
    mstp_frame_t frame;   /* the last frame completed (data in buf) */
    mstp_rx_counters_t c;
    uint8_t buf[MSTP_MAX_DATA + 2];
} mstp_rx_t;

void mstp_rx_init(mstp_rx_t *r, uint8_t addr, bool promiscuous, uint32_t abort_us);
/* Each returns MSTP_RX_. A gap longer than abort_us before an octet first aborts the
 * frame in progress (that is what is returned; the octet then starts afresh). */
int mstp_rx_octet(mstp_rx_t *r, uint8_t octet, uint32_t now_us);
int mstp_rx_error(mstp_rx_t *r, uint32_t now_us);
/* Tframe_abort without an octet: MSTP_RX_ABORTED if a frame was in progress. */
int mstp_rx_timeout(mstp_rx_t *r, uint32_t now_us);

/* ---- the Master Node state machine (9.5.6) ----------------------------------------- */

/* Clause 9 constants (the timers in microseconds). */
#define MSTP_NPOLL 50u
#define MSTP_NRETRY_TOKEN 1u
#define MSTP_NMIN_OCTETS 4u
#define MSTP_TNO_TOKEN_US 500000u
#define MSTP_TSLOT_US 10000u
#define MSTP_TREPLY_DELAY_US 250000u
#define MSTP_TURNAROUND_BITS 40u
#define MSTP_FRAME_ABORT_BITS 60u
#define MSTP_FRAME_ABORT_MAX_US 100000u
#define MSTP_USAGE_TIMEOUT_MIN_US 20000u
#define MSTP_USAGE_TIMEOUT_MAX_US 100000u
#define MSTP_REPLY_TIMEOUT_MIN_US 255000u
#define MSTP_REPLY_TIMEOUT_MAX_US 300000u

enum {
    MSTP_ST_INITIALIZE,
    MSTP_ST_IDLE,
    MSTP_ST_USE_TOKEN,
    MSTP_ST_WAIT_FOR_REPLY,
    MSTP_ST_DONE_WITH_TOKEN,
    MSTP_ST_PASS_TOKEN,
    MSTP_ST_NO_TOKEN,
    MSTP_ST_POLL_FOR_MASTER,
    MSTP_ST_ANSWER_DATA_REQUEST,
};

typedef struct {
    void *ctx;
    /* Send one whole frame (preamble to data CRC); the port waits out the turnaround.
     * Returns 0, or a negative error (counted, not retried). */
    int (*send)(void *ctx, const uint8_t *frame, size_t n);
    /* Optional (NULL: none): the data of a Test_Response for this node, the echo of a
     * Test_Request (a test master checks it). It is no NPDU, so it does not go up. */
    void (*test_response)(void *ctx, uint8_t src, const uint8_t *data, size_t len);
} mstp_port_t;

typedef struct {
    uint8_t mac;             /* This Station, 0..127 */
    uint8_t max_master;      /* mac..127 */
    uint8_t max_info_frames; /* >= 1 */
    uint32_t baud;           /* 9600, 19200, 38400, 57600, 76800 or 115200 */
    uint32_t frame_abort_us; /* 0: 60 bit times; at most 100 ms */
    uint32_t usage_timeout_us; /* 20..100 ms */
    uint32_t reply_timeout_us; /* 255..300 ms */
} mstp_config_t;

/* The datasheet defaults (MAC 1, Max_Master 127, Max_Info_Frames 1, 76800 baud) and
 * the shortest Clause 9 timers. A meter's host then sets MAC, Max_Master,
 * Max_Info_Frames and baud from the device's settings, which are their record. */
void mstp_config_default(mstp_config_t *c);

typedef struct {
    uint32_t tx_frames, tx_octets, send_errors;
    uint32_t tokens_received, tokens_sent, token_retries;
    uint32_t pfm_sent, pfm_replies_sent, successors_found;
    uint32_t lost_tokens;     /* entered NO_TOKEN: Tno_token of silence */
    uint32_t tokens_generated; /* won the NO_TOKEN slot */
    uint32_t successor_failed; /* NS did not take the token twice: FindNewSuccessor */
    uint32_t sole_master;     /* declared sole master */
    uint32_t unexpected;      /* dropped the token on an unexpected frame (two tokens) */
    uint32_t unwanted;        /* valid frames ignored (broadcast DER/token, unknown) */
    uint32_t invalid_frames;  /* bad CRC, too long, aborted, framing error */
    uint32_t npdu_in, npdu_out;
    uint32_t requests;        /* DER frames for us */
    uint32_t replies;         /* answered at once (DNER) */
    uint32_t postponed;       /* answered with Reply Postponed */
    uint32_t reply_timeouts;  /* our DER/Test_Request got no reply in Treply_timeout */
    uint32_t replies_received;
    uint32_t test_requests, test_responses;
    uint32_t queued, queue_full;
    /* Reply latency: from the last octet of a DER (or Test_Request) for us to the
     * first octet of the answer on the wire (the turnaround included). */
    uint32_t reply_latency_max_us;
    uint32_t reply_latency_count;
    uint64_t reply_latency_sum_us;
    /* Token rotation: time between two tokens received. */
    uint32_t rotation_last_us, rotation_max_us;
} mstp_counters_t;

#ifndef MSTP_TXQ_LEN
#define MSTP_TXQ_LEN 4u /* frames waiting for the token */
#endif

typedef struct {
    uint8_t type, dst;
    uint16_t len;
    uint8_t data[MSTP_MAX_DATA];
} mstp_pending_t;

typedef struct {
    mstp_port_t port;
    net_upper_t up;      /* the layer above; receive NULL: nothing goes up */
    mstp_config_t cfg;   /* cfg.mac is This Station (TS) */

    /* The Master Node state machine's variables, named as in Clause 9. */
    uint8_t state;       /* MSTP_ */
    uint8_t ns, ps;      /* Next Station, Poll Station */
    uint8_t token_count, frame_count, retry_count;
    bool sole_master;
    bool valid_frame, invalid_frame; /* ReceivedValidFrame, ReceivedInvalidFrame */
    uint32_t event_count;
    uint32_t silence_us; /* SilenceTimer starts here: the last octet in or out */
    uint32_t last_rx_us; /* when the last octet (or error) arrived */
    uint32_t tx_end_us;  /* when our last frame leaves the wire (estimated) */
    uint32_t token_us;   /* when we last received the token */
    bool have_token_us;

    mstp_rx_t rx;
    mstp_pending_t txq[MSTP_TXQ_LEN];
    uint8_t txq_head, txq_count;
    mstp_counters_t c;
    uint8_t txbuf[MSTP_MAX_FRAME];
} mstp_t;

/* Start a node (INITIALIZE -> IDLE). up may be NULL (nothing goes up). Every BACnet
 * data frame for this node or broadcast goes up, with the source as a 1-octet
 * net_addr_t: a Data Expecting Reply's answer is sent at once, as the reply (a unicast
 * answer) or Reply Postponed (none, or a broadcast one, which is queued); the answer to
 * a Data Not Expecting Reply is queued for the token. up->receive must not call back
 * into this node except through mstp_link (queueing is fine). Nothing is announced:
 * the layer above sends its I-Am through mstp_link. The config is checked: false (and
 * nothing started) when MAC, Max_Master, Max_Info_Frames, the baud rate or a timer is
 * out of range. */
bool mstp_init(mstp_t *m, const mstp_port_t *port, const mstp_config_t *cfg,
               const net_upper_t *up, uint32_t now_us);

/* One octet received, complete at now_us; one framing/overrun error. */
void mstp_rx(mstp_t *m, uint8_t octet, uint32_t now_us);
void mstp_rx_err(mstp_t *m, uint32_t now_us);
/* The same for a buffer of octets that arrived together (a read() of a tty): all get
 * the same timestamp. */
void mstp_rx_buf(mstp_t *m, const uint8_t *p, size_t n, uint32_t now_us);
/* The timers: call at least every millisecond. (The layer above keeps its own clock.) */
void mstp_tick(mstp_t *m, uint32_t now_us);

/* Queue a frame to send when this node holds the token (BACnet data either kind to a
 * station or 255, or Test_Request). Returns 0, or -1 when the queue is full or the
 * frame is not one a master may initiate. */
int mstp_queue(mstp_t *m, uint8_t type, uint8_t dst, const uint8_t *data, size_t len);
/* The link as the layer above sees it: send queues the NPDU as a Data Not Expecting
 * Reply (the device initiates no confirmed requests) to dst, a 1-octet address, or to
 * 255 for NULL / length 0 — or as a Data Expecting Reply when the NPDU expects one and
 * dst is a station; NET_ERR_BUSY when the queue is full (try later), -1 when dst is of
 * another length or the NPDU too long. */
net_link_t mstp_link(mstp_t *m);

/* Settings at run time, as the datasheet has them take effect: Max_Master (written
 * over BACnet or the command line) and Max_Info_Frames at once; a new MAC restarts the
 * node at the new address (the caller then announces the device again); a new baud
 * rate changes the timers (the host reprograms its UART). Each returns false and
 * changes nothing when out of range. */
bool mstp_set_max_master(mstp_t *m, uint8_t max_master);
bool mstp_set_max_info_frames(mstp_t *m, uint8_t n);
bool mstp_set_mac(mstp_t *m, uint8_t mac, uint32_t now_us);
bool mstp_set_baud(mstp_t *m, uint32_t baud);
/* Tusage_timeout, 20..100 ms: how long a token or Poll For Master passed waits for its
 * receiver to start; the longest suits a wire shared with a peer behind a USB adapter
 * or an emulator, whose first octet can come late. */
bool mstp_set_usage_timeout(mstp_t *m, uint32_t us);

/* What mstp_reconfigure changed. */
enum { MSTP_NEW_MAC = 1, MSTP_NEW_BAUD = 2 };
/* Apply whatever of MAC, Max_Master, Max_Info_Frames and baud differs in want (the
 * timers are not touched), in an order that keeps MAC <= Max_Master throughout; a
 * value out of range is left as it was. Returns MSTP_NEW_MAC (the node restarted: the
 * caller announces) and MSTP_NEW_BAUD (the host reprograms its UART) as they apply. */
unsigned mstp_reconfigure(mstp_t *m, const mstp_config_t *want, uint32_t now_us);

/* Wire time of n octets at the node's baud (10 bits each), in microseconds. */
uint32_t mstp_octets_us(const mstp_t *m, size_t n);
const char *mstp_state_name(uint8_t state);

#endif
