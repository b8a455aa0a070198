/*
 * s4100 BACnet codec: the application-layer encoding of ASHRAE 135 clause 20 (tags,
 * primitive values, APDU headers) and the NPDU of clause 6.
 *
 * Portable core: no heap, no OS calls, no stdio, no mutable globals. Every call works
 * on a bac_buf_t cursor that the caller owns. See docs/bacnet-codec.md.
 *
 * Conventions (nanopb-style bounded stream):
 *  - A cursor has an explicit length, a position and a sticky error. The first error
 *    sticks; every later call on that cursor is a no-op that returns it again, so a
 *    sequence of encodes or decodes can be checked once at the end.
 *  - Calls return the number of octets written or consumed (>= 0) or a negative
 *    BAC_E_... code. A failed call leaves the position where it started, and writes
 *    nothing beyond the buffer's end.
 *  - Decoders never trust a length from the wire and fill their outputs only on
 *    success. Octet and character strings are returned as views into the input.
 *  - Buffers are limited to BAC_BUF_MAX octets so that every length fits the return.
 */
#ifndef S4100_BAC_H
#define S4100_BAC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------------------
 * Errors. Negative so they can share the return value with lengths.
 */
enum {
    BAC_OK = 0,
    BAC_E_NOSPACE = -1,   /* writer: the element does not fit in the buffer */
    BAC_E_TRUNCATED = -2, /* reader: the input ends inside an element */
    BAC_E_TAG = -3,       /* not the tag expected (class, number, type, open/close) */
    BAC_E_LENGTH = -4,    /* a length not legal for the type (REAL not 4, ...) */
    BAC_E_RANGE = -5,     /* legal BACnet this codec cannot hold (Unsigned > 32 bits,
                             bit string > BAC_BITS_MAX, MAC > BAC_MAC_MAX), or a
                             caller's value the wire cannot carry (instance > 22 bits) */
    BAC_E_VALUE = -6,     /* content that is never legal (Boolean 2, NPDU version 2,
                             unused bits > 7, SLEN 0, reserved PDU type) */
    BAC_E_CHARSET = -7,   /* a character string in a set other than ANSI X3.4 (0) */
    BAC_E_NESTING = -8,   /* opening/closing tags unbalanced or nested too deep */
    BAC_E_ARG = -9,       /* caller misuse: NULL, tag number 255, read on a writer */
};

/* A short constant name for an error code, for logs and test messages. */
const char *bac_err_str(int err);

/* The Reject reason a server sends when decoding a request failed with err. A default
 * mapping; a service may choose differently (e.g. WriteProperty turns a decodable value
 * of the wrong type into Error property/INVALID_DATA_TYPE, BAC_E_CHARSET into
 * CHARACTER_SET_NOT_SUPPORTED; a value that cannot be decoded is still a Reject). */
uint8_t bac_reject_reason(int err);

/* ------------------------------------------------------------------------------------
 * The cursor.
 */
#define BAC_BUF_MAX 0x7FFFFFFFu

typedef struct {
    const uint8_t *rd; /* input of a reader, NULL for a writer */
    uint8_t *wr;       /* output of a writer, NULL for a reader */
    size_t len;        /* octets of input, or capacity of the output */
    size_t pos;        /* next octet to read or write; never above len */
    int err;           /* first error, BAC_OK while none */
} bac_buf_t;

/* A reader over len octets (data may be NULL when len is 0), a writer over cap octets
 * (data never NULL). An unusable buffer gives a cursor already failed with BAC_E_ARG. */
void bac_buf_reader(bac_buf_t *b, const uint8_t *data, size_t len);
void bac_buf_writer(bac_buf_t *b, uint8_t *data, size_t cap);

static inline size_t bac_pos(const bac_buf_t *b) { return b->pos; }
static inline size_t bac_left(const bac_buf_t *b) { return b->len - b->pos; }
/* The Reject for a request whose decoding stopped at cursor req: its error's reason
 * (bac_reject_reason), or, decoded without error, too many arguments when octets are
 * left and a missing one when none are. */
uint8_t bac_reject_for(const bac_buf_t *req);
static inline int bac_err(const bac_buf_t *b) { return b->err; }
/* True when a reader has consumed everything without an error. */
static inline bool bac_done(const bac_buf_t *b) { return b->err == BAC_OK && b->pos == b->len; }

/* Record err as the cursor's error unless one is already stuck; returns the stuck one.
 * For service decoders that find a semantic problem mid-stream. */
int bac_fail(bac_buf_t *b, int err);

/* Move a writer back to an earlier position (a value of bac_pos) and clear its error:
 * the one way to unstick an error, for replies that stop at the last element that
 * fits (ReadRange). Returns BAC_OK or BAC_E_ARG (mark beyond pos, or a reader). */
int bac_rewind(bac_buf_t *b, size_t mark);

/* Raw big-endian octets, for the NPDU, BVLC and other fixed layouts. */
int bac_put_u8(bac_buf_t *b, uint8_t v);
int bac_put_u16(bac_buf_t *b, uint16_t v);
int bac_put_u32(bac_buf_t *b, uint32_t v);
int bac_put_bytes(bac_buf_t *b, const uint8_t *p, size_t n);
int bac_get_u8(bac_buf_t *b, uint8_t *v);
int bac_get_u16(bac_buf_t *b, uint16_t *v);
int bac_get_u32(bac_buf_t *b, uint32_t *v);
int bac_get_bytes(bac_buf_t *b, uint8_t *dst, size_t n);
int bac_skip(bac_buf_t *b, size_t n);

/* ------------------------------------------------------------------------------------
 * Tags (clause 20.2.1).
 */
enum {
    BAC_APP_NULL = 0,
    BAC_APP_BOOLEAN = 1,
    BAC_APP_UNSIGNED = 2,
    BAC_APP_SIGNED = 3,
    BAC_APP_REAL = 4,
    BAC_APP_DOUBLE = 5,
    BAC_APP_OCTET_STRING = 6,
    BAC_APP_CHARACTER_STRING = 7,
    BAC_APP_BIT_STRING = 8,
    BAC_APP_ENUMERATED = 9,
    BAC_APP_DATE = 10,
    BAC_APP_TIME = 11,
    BAC_APP_OBJECT_ID = 12,
};

enum { BAC_TAG_PRIMITIVE = 0, BAC_TAG_OPENING = 1, BAC_TAG_CLOSING = 2 };

#define BAC_TAG_NUMBER_MAX 254u /* 255 is reserved */

typedef struct {
    bool context;   /* context-specific class; else application */
    uint8_t number; /* tag number 0..254 (application: the BAC_APP_ type) */
    uint8_t kind;   /* BAC_TAG_PRIMITIVE, _OPENING or _CLOSING */
    uint32_t lvt;   /* content length; for an application Boolean the value itself
                       (no content follows); 0 for opening and closing tags */
} bac_tag_t;

/* A tag header with a content length of len (the content is the caller's). */
int bac_enc_tag(bac_buf_t *b, bool context, uint8_t number, uint32_t len);
int bac_enc_opening(bac_buf_t *b, uint8_t number);
int bac_enc_closing(bac_buf_t *b, uint8_t number);

/* Decode one tag header; the content, if any, is left for the caller. Extended tag
 * numbers and lengths are accepted in non-minimal form; an application tag with LVT 6
 * or 7 (opening/closing exist only for context tags) or a reserved application tag
 * number (13 and above) is BAC_E_TAG, here and in every decoder, query and skip. */
int bac_dec_tag(bac_buf_t *b, bac_tag_t *t);
/* The same without consuming and without touching the cursor's error: a query for
 * optional and choice parameters. Returns the header length or an error. */
int bac_peek_tag(const bac_buf_t *b, bac_tag_t *t);
int bac_dec_opening(bac_buf_t *b, uint8_t number);
int bac_dec_closing(bac_buf_t *b, uint8_t number);

/* Is the next element ... ? False at the end, on an error, or on a malformed header. */
bool bac_is_context(const bac_buf_t *b, uint8_t number); /* primitive [number] */
bool bac_is_opening(const bac_buf_t *b, uint8_t number);
bool bac_is_closing(const bac_buf_t *b, uint8_t number);
bool bac_is_app(const bac_buf_t *b, uint8_t type);

/* Skip one element: one primitive value (either class) or a whole opening..closing
 * block with everything nested inside it. A closing tag is not an element
 * (BAC_E_NESTING): loop "while (!bac_is_closing(b, n)) bac_skip_element(b);". */
#define BAC_MAX_DEPTH 16u
int bac_skip_element(bac_buf_t *b);

/* ------------------------------------------------------------------------------------
 * Primitive values (clause 20.2.2 .. 20.2.14).
 */
typedef struct {
    const uint8_t *data; /* points into the decoded input */
    size_t len;
} bac_octets_t;

#define BAC_CHARSET_ANSI_X34 0u /* also UTF-8 from 135-2008 on */

typedef struct {
    const uint8_t *data; /* points into the decoded input; not NUL-terminated */
    size_t len;
    uint8_t charset;
} bac_str_t;

#define BAC_BITS_MAX 128u /* bits a bac_bits_t holds */

/* Bit 0 is the most significant bit of data[0] (the wire order). */
typedef struct {
    uint16_t nbits;
    uint8_t data[BAC_BITS_MAX / 8];
} bac_bits_t;

void bac_bits_init(bac_bits_t *bs, unsigned nbits); /* all clear; nbits <= BAC_BITS_MAX */
void bac_bits_set(bac_bits_t *bs, unsigned bit, bool on); /* ignored beyond nbits */
bool bac_bits_get(const bac_bits_t *bs, unsigned bit);    /* false beyond nbits */

#define BAC_ANY 0xFFu /* the "unspecified" wildcard of every Date and Time field */

typedef struct {
    uint8_t year;  /* years since 1900 (as the wire, and struct tm), BAC_ANY */
    uint8_t month; /* 1..12, BAC_ANY (later revisions: 13 odd, 14 even) */
    uint8_t day;   /* 1..31, BAC_ANY (later revisions: 32 last, 33 odd, 34 even) */
    uint8_t wday;  /* 1 Monday .. 7 Sunday, BAC_ANY */
} bac_date_t;

typedef struct {
    uint8_t hour, min, sec, hundredths; /* each may be BAC_ANY */
} bac_time_t;

#define BAC_MAX_OBJECT_TYPE 1023u
#define BAC_MAX_INSTANCE 0x3FFFFFu

typedef struct {
    uint16_t type;     /* 0..1023 */
    uint32_t instance; /* 0..4194303 */
} bac_oid_t;

/* Application-tagged encoders. */
int bac_enc_null(bac_buf_t *b);
int bac_enc_bool(bac_buf_t *b, bool v);
int bac_enc_unsigned(bac_buf_t *b, uint32_t v);
int bac_enc_signed(bac_buf_t *b, int32_t v);
int bac_enc_real(bac_buf_t *b, float v); /* any NaN goes out as 7F C0 00 00 */
int bac_enc_double(bac_buf_t *b, double v); /* any NaN: 7F F8 00 .. 00 */
int bac_enc_octets(bac_buf_t *b, const uint8_t *p, size_t n);
int bac_enc_charstring(bac_buf_t *b, const char *s, size_t n); /* charset 0 */
int bac_enc_bits(bac_buf_t *b, const bac_bits_t *bs);
int bac_enc_enum(bac_buf_t *b, uint32_t v);
int bac_enc_date(bac_buf_t *b, bac_date_t d);
int bac_enc_time(bac_buf_t *b, bac_time_t t);
int bac_enc_oid(bac_buf_t *b, bac_oid_t id);

/* Context-tagged encoders: the same values under context tag [tag] (0..254). */
int bac_enc_ctx_null(bac_buf_t *b, uint8_t tag);
int bac_enc_ctx_bool(bac_buf_t *b, uint8_t tag, bool v);
int bac_enc_ctx_unsigned(bac_buf_t *b, uint8_t tag, uint32_t v);
int bac_enc_ctx_signed(bac_buf_t *b, uint8_t tag, int32_t v);
int bac_enc_ctx_real(bac_buf_t *b, uint8_t tag, float v);
int bac_enc_ctx_double(bac_buf_t *b, uint8_t tag, double v);
int bac_enc_ctx_octets(bac_buf_t *b, uint8_t tag, const uint8_t *p, size_t n);
int bac_enc_ctx_charstring(bac_buf_t *b, uint8_t tag, const char *s, size_t n);
int bac_enc_ctx_bits(bac_buf_t *b, uint8_t tag, const bac_bits_t *bs);
int bac_enc_ctx_enum(bac_buf_t *b, uint8_t tag, uint32_t v);
int bac_enc_ctx_date(bac_buf_t *b, uint8_t tag, bac_date_t d);
int bac_enc_ctx_time(bac_buf_t *b, uint8_t tag, bac_time_t t);
int bac_enc_ctx_oid(bac_buf_t *b, uint8_t tag, bac_oid_t id);

/* Application-tagged decoders. Each checks the tag and the length for its type:
 * Null 0, Unsigned/Enumerated 1..4 (5+ is BAC_E_RANGE), Signed 1..4, REAL 4,
 * Double 8, Date/Time/ObjectId 4, Character String >= 1, Bit String >= 1. */
int bac_dec_null(bac_buf_t *b);
int bac_dec_bool(bac_buf_t *b, bool *v);
int bac_dec_unsigned(bac_buf_t *b, uint32_t *v);
int bac_dec_signed(bac_buf_t *b, int32_t *v);
int bac_dec_real(bac_buf_t *b, float *v);
int bac_dec_double(bac_buf_t *b, double *v);
int bac_dec_octets(bac_buf_t *b, bac_octets_t *v);
/* A charset other than 0 fails with BAC_E_CHARSET; v->charset is set even then. */
int bac_dec_charstring(bac_buf_t *b, bac_str_t *v);
int bac_dec_bits(bac_buf_t *b, bac_bits_t *v);
int bac_dec_enum(bac_buf_t *b, uint32_t *v);
int bac_dec_date(bac_buf_t *b, bac_date_t *v);
int bac_dec_time(bac_buf_t *b, bac_time_t *v);
int bac_dec_oid(bac_buf_t *b, bac_oid_t *v);

/* Context-tagged decoders: the next element must be primitive context tag [tag]. */
int bac_dec_ctx_null(bac_buf_t *b, uint8_t tag);
int bac_dec_ctx_bool(bac_buf_t *b, uint8_t tag, bool *v);
int bac_dec_ctx_unsigned(bac_buf_t *b, uint8_t tag, uint32_t *v);
int bac_dec_ctx_signed(bac_buf_t *b, uint8_t tag, int32_t *v);
int bac_dec_ctx_real(bac_buf_t *b, uint8_t tag, float *v);
int bac_dec_ctx_double(bac_buf_t *b, uint8_t tag, double *v);
int bac_dec_ctx_octets(bac_buf_t *b, uint8_t tag, bac_octets_t *v);
int bac_dec_ctx_charstring(bac_buf_t *b, uint8_t tag, bac_str_t *v);
int bac_dec_ctx_bits(bac_buf_t *b, uint8_t tag, bac_bits_t *v);
int bac_dec_ctx_enum(bac_buf_t *b, uint8_t tag, uint32_t *v);
int bac_dec_ctx_date(bac_buf_t *b, uint8_t tag, bac_date_t *v);
int bac_dec_ctx_time(bac_buf_t *b, uint8_t tag, bac_time_t *v);
int bac_dec_ctx_oid(bac_buf_t *b, uint8_t tag, bac_oid_t *v);

/* ------------------------------------------------------------------------------------
 * NPDU (clause 6.2).
 */
#define BAC_NPDU_VERSION 1u
#define BAC_MAC_MAX 8u /* the longest DADR/SADR kept; every clause 6 link uses <= 7 */
#define BAC_NET_BROADCAST 0xFFFFu

enum {
    BAC_PRIO_NORMAL = 0,
    BAC_PRIO_URGENT = 1,
    BAC_PRIO_CRITICAL = 2,
    BAC_PRIO_LIFE_SAFETY = 3,
};

typedef struct {
    uint8_t len; /* 0 = broadcast (DADR only) */
    uint8_t addr[BAC_MAC_MAX];
} bac_mac_t;

typedef struct {
    bool network_msg;     /* a network-layer message: an application drops it */
    bool expecting_reply;
    uint8_t priority;     /* BAC_PRIO_ */
    bool has_dnet;
    uint16_t dnet;        /* BAC_NET_BROADCAST = global */
    bac_mac_t dadr;
    bool has_snet;
    uint16_t snet;
    bac_mac_t sadr;       /* len 1..BAC_MAC_MAX when has_snet */
    uint8_t hop_count;    /* present on the wire with DNET only */
    uint8_t msg_type;     /* network_msg only */
    uint16_t vendor_id;   /* network_msg with msg_type >= 0x80 only */
} bac_npdu_t;

/* Decoding stops after the header (for a network message, after the message type and
 * vendor id): the cursor is then at the APDU. */
int bac_npdu_encode(bac_buf_t *b, const bac_npdu_t *n);
int bac_npdu_decode(bac_buf_t *b, bac_npdu_t *n);
/* The NPDU of the reply to req: to the request's SNET/SADR (as DNET/DADR, hop count
 * 255) when it came through a router, else local; same priority, no reply expected. */
void bac_npdu_reply(const bac_npdu_t *req, bac_npdu_t *reply);

/* ------------------------------------------------------------------------------------
 * APDU headers (clause 20.1).
 */
enum {
    BAC_PDU_CONFIRMED_REQ = 0,
    BAC_PDU_UNCONFIRMED_REQ = 1,
    BAC_PDU_SIMPLE_ACK = 2,
    BAC_PDU_COMPLEX_ACK = 3,
    BAC_PDU_SEGMENT_ACK = 4,
    BAC_PDU_ERROR = 5,
    BAC_PDU_REJECT = 6,
    BAC_PDU_ABORT = 7,
};

typedef struct {
    uint8_t type;          /* BAC_PDU_ */
    bool segmented;        /* SEG: confirmed request, complex ACK */
    bool more_follows;     /* MOR: confirmed request, complex ACK */
    bool seg_accepted;     /* SA: confirmed request (segmented response accepted) */
    bool nak;              /* segment ACK */
    bool srv;              /* sent by a server: segment ACK, abort */
    uint8_t max_segs;      /* confirmed request: code 0..7 (0 unspecified, 7 > 64) */
    uint8_t max_apdu_code; /* confirmed request: code 0..15 */
    uint16_t max_apdu;     /* decode only: octets of max_apdu_code, 0 for a reserved code */
    uint8_t invoke_id;
    uint8_t seq;           /* sequence number: segmented, segment ACK */
    uint8_t window;        /* proposed or actual window size: segmented, segment ACK */
    uint8_t service;       /* service choice: requests, simple/complex ACK, error */
    uint8_t reason;        /* reject or abort reason */
} bac_apdu_t;

/* Max-APDU-length-accepted code <-> octets: 0 50, 1 128, 2 206, 3 480, 4 1024,
 * 5 1476; 6..15 reserved (0 octets). bac_max_apdu_code gives the largest size that
 * does not exceed octets (0 below 50). */
uint16_t bac_max_apdu_octets(uint8_t code);
uint8_t bac_max_apdu_code(size_t octets);

/* Any header; decoding stops at the service data (for Error: at the error class). */
int bac_apdu_encode(bac_buf_t *b, const bac_apdu_t *a);
int bac_apdu_decode(bac_buf_t *b, bac_apdu_t *a);

/* The replies a server sends. */
int bac_enc_simple_ack(bac_buf_t *b, uint8_t invoke_id, uint8_t service);
int bac_enc_complex_ack(bac_buf_t *b, uint8_t invoke_id, uint8_t service); /* header */
int bac_enc_error(bac_buf_t *b, uint8_t invoke_id, uint8_t service, uint32_t err_class,
                  uint32_t err_code); /* 50 id svc 91 class 91 code */
int bac_enc_reject(bac_buf_t *b, uint8_t invoke_id, uint8_t reason);
int bac_enc_abort(bac_buf_t *b, uint8_t invoke_id, uint8_t reason, bool server);
/* The error class and code of an Error PDU (or of any BACnet-Error sequence). */
int bac_dec_error(bac_buf_t *b, uint32_t *err_class, uint32_t *err_code);

/* ------------------------------------------------------------------------------------
 * Enumerations of the standard that the codec and the services share.
 */
typedef enum {
    BAC_SVC_ACKNOWLEDGE_ALARM = 0,
    BAC_SVC_CONFIRMED_COV_NOTIFICATION = 1,
    BAC_SVC_CONFIRMED_EVENT_NOTIFICATION = 2,
    BAC_SVC_GET_ALARM_SUMMARY = 3,
    BAC_SVC_GET_ENROLLMENT_SUMMARY = 4,
    BAC_SVC_SUBSCRIBE_COV = 5,
    BAC_SVC_ATOMIC_READ_FILE = 6,
    BAC_SVC_ATOMIC_WRITE_FILE = 7,
    BAC_SVC_ADD_LIST_ELEMENT = 8,
    BAC_SVC_REMOVE_LIST_ELEMENT = 9,
    BAC_SVC_CREATE_OBJECT = 10,
    BAC_SVC_DELETE_OBJECT = 11,
    BAC_SVC_READ_PROPERTY = 12,
    BAC_SVC_READ_PROPERTY_CONDITIONAL = 13,
    BAC_SVC_READ_PROPERTY_MULTIPLE = 14,
    BAC_SVC_WRITE_PROPERTY = 15,
    BAC_SVC_WRITE_PROPERTY_MULTIPLE = 16,
    BAC_SVC_DEVICE_COMMUNICATION_CONTROL = 17,
    BAC_SVC_CONFIRMED_PRIVATE_TRANSFER = 18,
    BAC_SVC_CONFIRMED_TEXT_MESSAGE = 19,
    BAC_SVC_REINITIALIZE_DEVICE = 20,
    BAC_SVC_VT_OPEN = 21,
    BAC_SVC_VT_CLOSE = 22,
    BAC_SVC_VT_DATA = 23,
    BAC_SVC_AUTHENTICATE = 24,
    BAC_SVC_REQUEST_KEY = 25,
    BAC_SVC_READ_RANGE = 26,
    BAC_SVC_LIFE_SAFETY_OPERATION = 27,
    BAC_SVC_SUBSCRIBE_COV_PROPERTY = 28,
    BAC_SVC_GET_EVENT_INFORMATION = 29,
} bac_confirmed_service_t;

typedef enum {
    BAC_USVC_I_AM = 0,
    BAC_USVC_I_HAVE = 1,
    BAC_USVC_COV_NOTIFICATION = 2,
    BAC_USVC_EVENT_NOTIFICATION = 3,
    BAC_USVC_PRIVATE_TRANSFER = 4,
    BAC_USVC_TEXT_MESSAGE = 5,
    BAC_USVC_TIME_SYNCHRONIZATION = 6,
    BAC_USVC_WHO_HAS = 7,
    BAC_USVC_WHO_IS = 8,
    BAC_USVC_UTC_TIME_SYNCHRONIZATION = 9,
    BAC_USVC_WRITE_GROUP = 10,
} bac_unconfirmed_service_t;

/* Bit positions of Protocol_Services_Supported (not the service choices). */
typedef enum {
    BAC_SSB_READ_PROPERTY = 12,
    BAC_SSB_READ_PROPERTY_MULTIPLE = 14,
    BAC_SSB_WRITE_PROPERTY = 15,
    BAC_SSB_DEVICE_COMMUNICATION_CONTROL = 17,
    BAC_SSB_REINITIALIZE_DEVICE = 20,
    BAC_SSB_I_AM = 26,
    BAC_SSB_I_HAVE = 27,
    BAC_SSB_TIME_SYNCHRONIZATION = 32,
    BAC_SSB_WHO_HAS = 33,
    BAC_SSB_WHO_IS = 34,
    BAC_SSB_READ_RANGE = 35,
    BAC_SSB_UTC_TIME_SYNCHRONIZATION = 36,
} bac_services_supported_bit_t;
#define BAC_SSB_COUNT_REV4 40u /* that bit string's length at protocol revision 4 */

typedef enum {
    BAC_REJECT_OTHER = 0,
    BAC_REJECT_BUFFER_OVERFLOW = 1,
    BAC_REJECT_INCONSISTENT_PARAMETERS = 2,
    BAC_REJECT_INVALID_PARAMETER_DATA_TYPE = 3,
    BAC_REJECT_INVALID_TAG = 4,
    BAC_REJECT_MISSING_REQUIRED_PARAMETER = 5,
    BAC_REJECT_PARAMETER_OUT_OF_RANGE = 6,
    BAC_REJECT_TOO_MANY_ARGUMENTS = 7,
    BAC_REJECT_UNDEFINED_ENUMERATION = 8,
    BAC_REJECT_UNRECOGNIZED_SERVICE = 9,
} bac_reject_reason_t;

typedef enum {
    BAC_ABORT_OTHER = 0,
    BAC_ABORT_BUFFER_OVERFLOW = 1,
    BAC_ABORT_INVALID_APDU_IN_THIS_STATE = 2,
    BAC_ABORT_PREEMPTED_BY_HIGHER_PRIORITY_TASK = 3,
    BAC_ABORT_SEGMENTATION_NOT_SUPPORTED = 4,
} bac_abort_reason_t;

typedef enum {
    BAC_ERRCLASS_DEVICE = 0,
    BAC_ERRCLASS_OBJECT = 1,
    BAC_ERRCLASS_PROPERTY = 2,
    BAC_ERRCLASS_RESOURCES = 3,
    BAC_ERRCLASS_SECURITY = 4,
    BAC_ERRCLASS_SERVICES = 5,
    BAC_ERRCLASS_VT = 6,
    BAC_ERRCLASS_COMMUNICATION = 7,
} bac_error_class_t;

typedef enum {
    BAC_ERR_OTHER = 0,
    BAC_ERR_CONFIGURATION_IN_PROGRESS = 2,
    BAC_ERR_DEVICE_BUSY = 3,
    BAC_ERR_INCONSISTENT_PARAMETERS = 7,
    BAC_ERR_INCONSISTENT_SELECTION_CRITERION = 8,
    BAC_ERR_INVALID_DATA_TYPE = 9,
    BAC_ERR_MISSING_REQUIRED_PARAMETER = 16,
    BAC_ERR_NO_SPACE_TO_WRITE_PROPERTY = 20,
    BAC_ERR_PROPERTY_IS_NOT_A_LIST = 22,
    BAC_ERR_OPERATIONAL_PROBLEM = 25,
    BAC_ERR_PASSWORD_FAILURE = 26,
    BAC_ERR_READ_ACCESS_DENIED = 27,
    BAC_ERR_SERVICE_REQUEST_DENIED = 29,
    BAC_ERR_TIMEOUT = 30,
    BAC_ERR_UNKNOWN_OBJECT = 31,
    BAC_ERR_UNKNOWN_PROPERTY = 32,
    BAC_ERR_UNSUPPORTED_OBJECT_TYPE = 36,
    BAC_ERR_VALUE_OUT_OF_RANGE = 37,
    BAC_ERR_WRITE_ACCESS_DENIED = 40,
    BAC_ERR_CHARACTER_SET_NOT_SUPPORTED = 41,
    BAC_ERR_INVALID_ARRAY_INDEX = 42,
    BAC_ERR_OPTIONAL_FUNCTIONALITY_NOT_SUPPORTED = 45,
    BAC_ERR_DATATYPE_NOT_SUPPORTED = 47,
    BAC_ERR_DUPLICATE_NAME = 48,
    BAC_ERR_PROPERTY_IS_NOT_AN_ARRAY = 50,
} bac_error_code_t;

typedef enum {
    BAC_OBJ_ANALOG_INPUT = 0,
    BAC_OBJ_ANALOG_OUTPUT = 1,
    BAC_OBJ_ANALOG_VALUE = 2,
    BAC_OBJ_BINARY_INPUT = 3,
    BAC_OBJ_BINARY_OUTPUT = 4,
    BAC_OBJ_BINARY_VALUE = 5,
    BAC_OBJ_DEVICE = 8,
    BAC_OBJ_TREND_LOG = 20,
} bac_object_type_t;
#define BAC_OBJ_TYPE_COUNT_REV4 25u /* Protocol_Object_Types_Supported length, rev 4 */

typedef enum {
    BAC_PROP_ACKED_TRANSITIONS = 0,
    BAC_PROP_ACTIVE_TEXT = 4,
    BAC_PROP_ALL = 8,
    BAC_PROP_APDU_SEGMENT_TIMEOUT = 10,
    BAC_PROP_APDU_TIMEOUT = 11,
    BAC_PROP_APPLICATION_SOFTWARE_VERSION = 12,
    BAC_PROP_NOTIFICATION_CLASS = 17,
    BAC_PROP_COV_INCREMENT = 22,
    BAC_PROP_DAYLIGHT_SAVINGS_STATUS = 24,
    BAC_PROP_DEADBAND = 25,
    BAC_PROP_DESCRIPTION = 28,
    BAC_PROP_DEVICE_ADDRESS_BINDING = 30,
    BAC_PROP_DEVICE_TYPE = 31,
    BAC_PROP_EVENT_ENABLE = 35,
    BAC_PROP_EVENT_STATE = 36,
    BAC_PROP_FIRMWARE_REVISION = 44,
    BAC_PROP_HIGH_LIMIT = 45,
    BAC_PROP_INACTIVE_TEXT = 46,
    BAC_PROP_LIMIT_ENABLE = 52,
    BAC_PROP_LOCAL_DATE = 56,
    BAC_PROP_LOCAL_TIME = 57,
    BAC_PROP_LOCATION = 58,
    BAC_PROP_LOW_LIMIT = 59,
    BAC_PROP_MAX_APDU_LENGTH_ACCEPTED = 62,
    BAC_PROP_MAX_INFO_FRAMES = 63,
    BAC_PROP_MAX_MASTER = 64,
    BAC_PROP_MAX_PRES_VALUE = 65,
    BAC_PROP_MIN_PRES_VALUE = 69,
    BAC_PROP_MODEL_NAME = 70,
    BAC_PROP_NOTIFY_TYPE = 72,
    BAC_PROP_NUMBER_OF_APDU_RETRIES = 73,
    BAC_PROP_OBJECT_IDENTIFIER = 75,
    BAC_PROP_OBJECT_LIST = 76,
    BAC_PROP_OBJECT_NAME = 77,
    BAC_PROP_OBJECT_TYPE = 79,
    BAC_PROP_OPTIONAL = 80,
    BAC_PROP_OUT_OF_SERVICE = 81,
    BAC_PROP_POLARITY = 84,
    BAC_PROP_PRESENT_VALUE = 85,
    BAC_PROP_PRIORITY_ARRAY = 87,
    BAC_PROP_PROTOCOL_OBJECT_TYPES_SUPPORTED = 96,
    BAC_PROP_PROTOCOL_SERVICES_SUPPORTED = 97,
    BAC_PROP_PROTOCOL_VERSION = 98,
    BAC_PROP_RELIABILITY = 103,
    BAC_PROP_RELINQUISH_DEFAULT = 104,
    BAC_PROP_REQUIRED = 105,
    BAC_PROP_RESOLUTION = 106,
    BAC_PROP_SEGMENTATION_SUPPORTED = 107,
    BAC_PROP_STATUS_FLAGS = 111,
    BAC_PROP_SYSTEM_STATUS = 112,
    BAC_PROP_TIME_DELAY = 113,
    BAC_PROP_TIME_SYNCHRONIZATION_RECIPIENTS = 116,
    BAC_PROP_UNITS = 117,
    BAC_PROP_UPDATE_INTERVAL = 118,
    BAC_PROP_UTC_OFFSET = 119,
    BAC_PROP_VENDOR_IDENTIFIER = 120,
    BAC_PROP_VENDOR_NAME = 121,
    BAC_PROP_BUFFER_SIZE = 126,
    BAC_PROP_EVENT_TIME_STAMPS = 130,
    BAC_PROP_LOG_BUFFER = 131,
    BAC_PROP_LOG_DEVICE_OBJECT_PROPERTY = 132,
    BAC_PROP_LOG_ENABLE = 133, /* renamed Enable in 135-2004 addendum b */
    BAC_PROP_LOG_INTERVAL = 134,
    BAC_PROP_PROTOCOL_REVISION = 139,
    BAC_PROP_RECORDS_SINCE_NOTIFICATION = 140,
    BAC_PROP_RECORD_COUNT = 141,
    BAC_PROP_START_TIME = 142,
    BAC_PROP_STOP_TIME = 143,
    BAC_PROP_STOP_WHEN_FULL = 144,
    BAC_PROP_TOTAL_RECORD_COUNT = 145,
    BAC_PROP_ACTIVE_COV_SUBSCRIPTIONS = 152,
    BAC_PROP_DATABASE_REVISION = 155,
    BAC_PROP_MAX_SEGMENTS_ACCEPTED = 167,
    BAC_PROP_PROFILE_NAME = 168,
    BAC_PROP_ALIGN_INTERVALS = 193,
    BAC_PROP_INTERVAL_OFFSET = 195,
    BAC_PROP_LAST_RESTART_REASON = 196,
    BAC_PROP_LOGGING_TYPE = 197,
    BAC_PROP_TIME_OF_DEVICE_RESTART = 203,
    BAC_PROP_TRIGGER = 205,
    BAC_PROP_UTC_TIME_SYNCHRONIZATION_RECIPIENTS = 206,
    BAC_PROP_PROPERTY_LIST = 371,
    BAC_PROP_SERIAL_NUMBER = 372,
} bac_property_id_t;

typedef enum {
    BAC_UNITS_AMPERES = 3,
    BAC_UNITS_VOLTS = 5,
    BAC_UNITS_KILOVOLT_AMPERES = 9,
    BAC_UNITS_KILOVOLT_AMPERES_REACTIVE = 12,
    BAC_UNITS_POWER_FACTOR = 15,
    BAC_UNITS_KILOWATT_HOURS = 19,
    BAC_UNITS_HERTZ = 27,
    BAC_UNITS_WATTS = 47,
    BAC_UNITS_KILOWATTS = 48,
    BAC_UNITS_NO_UNITS = 95,
    BAC_UNITS_PERCENT = 98,
} bac_units_t;

/* Status_Flags bit positions (a 4-bit string). */
enum {
    BAC_SF_IN_ALARM = 0,
    BAC_SF_FAULT = 1,
    BAC_SF_OVERRIDDEN = 2,
    BAC_SF_OUT_OF_SERVICE = 3,
    BAC_SF_COUNT = 4,
};

typedef enum {
    BAC_EVENT_STATE_NORMAL = 0,
    BAC_EVENT_STATE_FAULT = 1,
    BAC_EVENT_STATE_OFFNORMAL = 2,
    BAC_EVENT_STATE_HIGH_LIMIT = 3,
    BAC_EVENT_STATE_LOW_LIMIT = 4,
} bac_event_state_t;

typedef enum {
    BAC_RELIABILITY_NO_FAULT_DETECTED = 0,
    BAC_RELIABILITY_NO_SENSOR = 1,
    BAC_RELIABILITY_OVER_RANGE = 2,
    BAC_RELIABILITY_UNDER_RANGE = 3,
    BAC_RELIABILITY_OPEN_LOOP = 4,
    BAC_RELIABILITY_SHORTED_LOOP = 5,
    BAC_RELIABILITY_NO_OUTPUT = 6,
    BAC_RELIABILITY_UNRELIABLE_OTHER = 7,
    BAC_RELIABILITY_PROCESS_ERROR = 8,
    BAC_RELIABILITY_CONFIGURATION_ERROR = 10,
} bac_reliability_t;

typedef enum {
    BAC_SEGMENTATION_BOTH = 0,
    BAC_SEGMENTATION_TRANSMIT = 1,
    BAC_SEGMENTATION_RECEIVE = 2,
    BAC_SEGMENTATION_NONE = 3,
} bac_segmentation_t;

typedef enum {
    BAC_STATUS_OPERATIONAL = 0,
    BAC_STATUS_OPERATIONAL_READ_ONLY = 1,
    BAC_STATUS_DOWNLOAD_REQUIRED = 2,
    BAC_STATUS_DOWNLOAD_IN_PROGRESS = 3,
    BAC_STATUS_NON_OPERATIONAL = 4,
    BAC_STATUS_BACKUP_IN_PROGRESS = 5,
} bac_device_status_t;

enum { BAC_BINARY_INACTIVE = 0, BAC_BINARY_ACTIVE = 1 };
enum { BAC_POLARITY_NORMAL = 0, BAC_POLARITY_REVERSE = 1 };

/* ------------------------------------------------------------------------------------
 * The application-layer server (bac_server.c): services executed for one device.
 */
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

/* A BACnet Error to answer with: class and code (bac_error_class_t, bac_error_code_t).
 * The same two fields as objects' obj_err_t, which this header cannot name. */
typedef struct {
    uint8_t cls;
    uint8_t code;
} bac_error_t;

/* The server state of one device: its objects, DeviceCommunicationControl, the
 * password (DECISIONS P2), and a restart the host must carry out. */
typedef struct {
    struct obj_device *dev;
    uint8_t dcc;           /* BAC_DCC_ */
    bool dcc_timed;
    /* A timed DCC counts down: an end time would need a signed difference over up to
     * 65535 minutes (3.9e9 ms), beyond 2^31. Correct while ticks come less than 49 days
     * apart (every request ticks, and the host ticks it from its loop). */
    uint32_t dcc_left_ms;
    uint32_t dcc_last_ms;
    char password[BAC_PASSWORD_MAX + 1]; /* empty: none required */
    bool reinit_pending;
    uint8_t reinit_state;
    uint32_t requests;
    /* Called after obj_write accepted a WriteProperty, before its acknowledgement is
     * encoded: the host makes the write durable here, so nothing acknowledged is ever
     * lost. Returns 0 when it is durable (the server answers Simple-ACK), or -1 when it
     * could not be saved: the host has already restored its state as before the write,
     * and the server answers Error(err->cls, err->code) instead. err comes filled with
     * device / operational-problem, for a hook that has nothing better to say (disk
     * full: resources / no-space-to-write-property). NULL: no hook, always an ACK. */
    int (*on_write)(void *ctx, bac_error_t *err);
    void *on_write_ctx;
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

/* Count a timed DCC down to now_ms and expire it. Call at least once every 49 days
 * (the ms clock may wrap any number of times). */
void bac_server_tick(bac_server_t *s, uint32_t now_ms);

/* A ReinitializeDevice was acknowledged: true once, with its state; DCC is re-enabled. */
bool bac_server_reinit_requested(bac_server_t *s, uint8_t *state);

#endif /* S4100_BAC_H */
