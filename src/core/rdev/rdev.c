/*
 * The router as a BACnet device: a Device object and one Network_Port object per router
 * port, as ASHRAE 135-2016 has them (clauses 12.11 and 12.56), and the services a
 * client uses to find and read them (clauses 15.5, 15.7, 15.9, 16.9, 16.10). The object
 * model is one table, a row per property; the services walk it.
 *
 * Replies never exceed the cap given, Max_APDU_Length_Accepted nor the client's
 * max-APDU: one that would is an Abort segmentation-not-supported, as the meter's
 * server does (DECISIONS P3); a segmented request gets the same Abort. Nothing is
 * writable. Malformed requests get a Reject, or nothing where no reply is possible.
 */
#include <string.h>

#include "rdev/rdev.h"

/* Property identifiers bac.h lacks: Network_Port's (clause 12.56; numbers from the
 * BACnetPropertyIdentifier production of clause 21). */
enum {
    PROP_APDU_LENGTH = 399,            /* 12.56.16 */
    PROP_IP_ADDRESS = 400,             /* 12.56.27 */
    PROP_BACNET_IP_MODE = 408,         /* 12.56.26 */
    PROP_IP_SUBNET_MASK = 411,         /* 12.56.29 */
    PROP_BACNET_IP_UDP_PORT = 412,     /* 12.56.28 */
    PROP_CHANGES_PENDING = 416,        /* 12.56.13 */
    PROP_LINK_SPEED = 420,             /* 12.56.17 */
    PROP_MAC_ADDRESS = 423,            /* 12.56.15 */
    PROP_NETWORK_NUMBER = 425,         /* 12.56.11 */
    PROP_NETWORK_NUMBER_QUALITY = 426, /* 12.56.12 */
    PROP_NETWORK_TYPE = 427,           /* 12.56.7 */
    PROP_PROTOCOL_LEVEL = 482,         /* 12.56.8 */
};

/* BACnetNetworkNumberQuality (12.56.12). */
enum { NNQ_UNKNOWN = 0, NNQ_LEARNED = 1, NNQ_LEARNED_CONFIGURED = 2, NNQ_CONFIGURED = 3 };
/* BACnetProtocolLevel (12.56.8): a router's ports carry BACnet up to the application. */
#define PROTOCOL_LEVEL_BACNET_APPLICATION 2u

/* Bit string lengths at protocol revision 19 (135-2016): 44 services (0..43), 60 object
 * types (0..59: lift is the last). */
#define SERVICES_BITS_REV19 44u
#define OBJECT_TYPES_BITS_REV19 60u

/* The largest NPDU header between stations with 6-octet MACs (2 + DNET 3 + DADR 6 +
 * SNET 3 + SADR 6 + hop count 1): B/IP's 1497 less it is 1476, MS/TP's 501 less it 480. */
#define NPDU_HEADER_MAX 21u

#define NAME_MAX_LEN 24u /* "Network Port 4194303" and its NUL */

/* ---- objects ------------------------------------------------------------------------- */

/* One object of the device: the Device itself, or the Network_Port of a router port. */
typedef struct {
    const rdev_t *d;
    bool device;
    unsigned port;
} obj_t;

static unsigned nports(const rdev_t *d)
{
    return d->router ? d->router->nports : 0;
}

static bac_oid_t oid_of(const obj_t *o)
{
    if (o->device)
        return (bac_oid_t){BAC_OBJ_DEVICE, o->d->instance};
    return (bac_oid_t){RDEV_OBJ_NETWORK_PORT, o->port + 1u};
}

/* Device 4194303 is the wildcard for "the device I am talking to" (clause 12.11.1). */
static bool resolve(const rdev_t *d, bac_oid_t id, obj_t *o)
{
    o->d = d;
    o->device = id.type == BAC_OBJ_DEVICE;
    o->port = 0;
    if (o->device)
        return id.instance == d->instance || id.instance == BAC_MAX_INSTANCE;
    if (id.type != RDEV_OBJ_NETWORK_PORT || id.instance < 1 || id.instance > nports(d))
        return false;
    o->port = id.instance - 1u;
    return true;
}

static const net_port_t *np(const obj_t *o)
{
    return &o->d->router->ports[o->port];
}

static const rdev_port_t *info(const obj_t *o)
{
    static const rdev_port_t none; /* ports beyond RDEV_MAX_PORTS: nothing known */

    return o->port < RDEV_MAX_PORTS ? &o->d->port[o->port] : &none;
}

/* Decimal digits of v into p; returns their count. */
static size_t put_decimal(char *p, uint32_t v)
{
    char t[10];
    size_t n = 0, k = 0;

    do {
        t[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (n)
        p[k++] = t[--n];
    return k;
}

static const char NP_NAME_PREFIX[] = "Network Port ";
#define NP_NAME_PREFIX_LEN (sizeof NP_NAME_PREFIX - 1u)

/* Object_Name: the host's for the Device; "Network Port <instance>" for a port, built
 * here so that a thousand ports carry no strings. */
static size_t name_of(const obj_t *o, char buf[NAME_MAX_LEN], const char **s)
{
    if (o->device) {
        *s = o->d->name ? o->d->name : "";
        return strlen(*s);
    }
    memcpy(buf, NP_NAME_PREFIX, NP_NAME_PREFIX_LEN);
    *s = buf;
    return NP_NAME_PREFIX_LEN + put_decimal(buf + NP_NAME_PREFIX_LEN, o->port + 1u);
}

/* ---- the property table -------------------------------------------------------------- */

enum { K_DEV = 1, K_NP = 2 };        /* which object type a row belongs to */
enum { F_REQ = 1, F_OPT = 2, F_ARRAY = 4 };

/* A value: for an array the element i (1-based), else i is 0. */
typedef int (*enc_fn)(const obj_t *o, uint32_t i, bac_buf_t *b);

typedef struct {
    uint16_t id;
    uint8_t kind;
    uint8_t flags;
    enc_fn enc;
    bool (*has)(const obj_t *o);        /* NULL: always there */
    uint32_t (*count)(const obj_t *o);  /* arrays: their size */
} prop_t;

static int enc_str(bac_buf_t *b, const char *s)
{
    if (!s)
        s = "";
    return bac_enc_charstring(b, s, strlen(s));
}

/* -- common -- */

static int p_object_identifier(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    (void)i;
    return bac_enc_oid(b, oid_of(o));
}

static int p_object_name(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    char buf[NAME_MAX_LEN];
    const char *s;
    size_t n = name_of(o, buf, &s);

    (void)i;
    return bac_enc_charstring(b, s, n);
}

static int p_object_type(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    (void)i;
    return bac_enc_enum(b, oid_of(o).type);
}

static int p_property_list(const obj_t *o, uint32_t i, bac_buf_t *b);
static uint32_t n_property_list(const obj_t *o);

/* -- Device (12.11) -- */

static int d_system_status(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    (void)o, (void)i;
    return bac_enc_enum(b, BAC_STATUS_OPERATIONAL);
}

static int d_vendor_name(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    (void)i;
    return enc_str(b, o->d->vendor_name);
}

static int d_vendor_id(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    (void)i;
    return bac_enc_unsigned(b, o->d->vendor_id);
}

static int d_model(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    (void)i;
    return enc_str(b, o->d->model);
}

static int d_firmware(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    (void)i;
    return enc_str(b, o->d->firmware);
}

static int d_app_version(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    (void)i;
    return enc_str(b, o->d->app_version);
}

static int d_location(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    (void)i;
    return enc_str(b, o->d->location);
}

static int d_description(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    (void)i;
    return enc_str(b, o->d->description);
}

static bool has_location(const obj_t *o)
{
    return o->d->location != NULL;
}

static bool has_description(const obj_t *o)
{
    return o->d->description != NULL;
}

static int d_protocol_version(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    (void)o, (void)i;
    return bac_enc_unsigned(b, 1);
}

static int d_protocol_revision(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    (void)o, (void)i;
    return bac_enc_unsigned(b, RDEV_PROTOCOL_REVISION);
}

/* Bit positions of BACnetServicesSupported (clause 21), not the service choices. */
static int d_services(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    static const uint8_t bits[] = {BAC_SSB_READ_PROPERTY, BAC_SSB_READ_PROPERTY_MULTIPLE,
                                   BAC_SSB_WRITE_PROPERTY, BAC_SSB_I_AM, BAC_SSB_I_HAVE,
                                   BAC_SSB_WHO_HAS, BAC_SSB_WHO_IS};
    bac_bits_t bs;

    (void)o, (void)i;
    bac_bits_init(&bs, SERVICES_BITS_REV19);
    for (size_t k = 0; k < sizeof bits; k++)
        bac_bits_set(&bs, bits[k], true);
    return bac_enc_bits(b, &bs);
}

static int d_object_types(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    bac_bits_t bs;

    (void)o, (void)i;
    bac_bits_init(&bs, OBJECT_TYPES_BITS_REV19);
    bac_bits_set(&bs, BAC_OBJ_DEVICE, true);
    bac_bits_set(&bs, RDEV_OBJ_NETWORK_PORT, true);
    return bac_enc_bits(b, &bs);
}

/* Object_List: the Device first, then the ports in order. */
static int d_object_list(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    obj_t e = {o->d, i == 1, i >= 2 ? i - 2u : 0};

    return bac_enc_oid(b, oid_of(&e));
}

static uint32_t n_object_list(const obj_t *o)
{
    return 1u + nports(o->d);
}

static uint16_t max_apdu(const rdev_t *d)
{
    if (d->max_apdu == 0)
        return RDEV_MAX_APDU_DEFAULT;
    return d->max_apdu < 50 ? 50 : d->max_apdu > 1476 ? 1476 : d->max_apdu;
}

static int d_max_apdu(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    (void)i;
    return bac_enc_unsigned(b, max_apdu(o->d));
}

static int d_segmentation(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    (void)o, (void)i;
    return bac_enc_enum(b, BAC_SEGMENTATION_NONE);
}

static int d_apdu_timeout(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    (void)i;
    return bac_enc_unsigned(b, o->d->apdu_timeout_ms);
}

static int d_apdu_retries(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    (void)i;
    return bac_enc_unsigned(b, o->d->apdu_retries);
}

/* Device_Address_Binding: the router device binds no addresses, an empty list. */
static int d_address_binding(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    (void)o, (void)i;
    return bac_err(b);
}

static int d_database_revision(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    (void)i;
    return bac_enc_unsigned(b, o->d->database_revision);
}

/* -- Network_Port (12.56) -- */

static int n_status_flags(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    bac_bits_t bs;

    (void)o, (void)i;
    bac_bits_init(&bs, BAC_SF_COUNT); /* no alarm, no fault (Reliability), in service */
    return bac_enc_bits(b, &bs);
}

static int n_reliability(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    (void)o, (void)i;
    return bac_enc_enum(b, BAC_RELIABILITY_NO_FAULT_DETECTED);
}

static int n_false(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    (void)o, (void)i;
    return bac_enc_bool(b, false);
}

static int n_network_type(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    (void)i;
    return bac_enc_enum(b, info(o)->network_type);
}

static int n_protocol_level(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    (void)o, (void)i;
    return bac_enc_enum(b, PROTOCOL_LEVEL_BACNET_APPLICATION);
}

/* Network_Number: 0 while a port has neither been told nor learned its number. */
static int n_network_number(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    (void)i;
    return bac_enc_unsigned(b, np(o)->net);
}

static int n_network_number_quality(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    const net_port_t *p = np(o);

    (void)i;
    return bac_enc_enum(b, p->net == 0 ? NNQ_UNKNOWN : p->configured ? NNQ_CONFIGURED : NNQ_LEARNED);
}

/* APDU_Length: the largest APDU the port's link carries, a standard size (the router
 * device answers with nothing in between). */
static int n_apdu_length(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    uint16_t m = np(o)->link.max_npdu;
    size_t n = m > NPDU_HEADER_MAX ? m - NPDU_HEADER_MAX : 0;

    (void)i;
    return bac_enc_unsigned(b, bac_max_apdu_octets(bac_max_apdu_code(n)));
}

static int n_link_speed(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    (void)i;
    return bac_enc_real(b, info(o)->link_speed);
}

/* MAC_Address: the router's own address on the port (B/IP: IP and port, 6 octets). */
static int n_mac_address(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    const net_addr_t *m = &np(o)->mac;

    (void)i;
    return bac_enc_octets(b, m->mac, m->len <= NET_ADDR_MAX ? m->len : 0);
}

static bool is_mstp(const obj_t *o)
{
    return info(o)->network_type == RDEV_NET_MSTP;
}

static bool is_bip(const obj_t *o)
{
    return info(o)->network_type == RDEV_NET_IPV4;
}

static int n_max_master(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    (void)i;
    return bac_enc_unsigned(b, info(o)->max_master);
}

static int n_max_info_frames(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    (void)i;
    return bac_enc_unsigned(b, info(o)->max_info_frames);
}

static int n_ip_mode(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    (void)i;
    return bac_enc_enum(b, info(o)->ip_mode);
}

static int n_ip_address(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    (void)i;
    return bac_enc_octets(b, info(o)->ip, 4);
}

static int n_udp_port(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    (void)i;
    return bac_enc_unsigned(b, info(o)->udp_port);
}

static int n_subnet_mask(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    (void)i;
    return bac_enc_octets(b, info(o)->mask, 4);
}

/* The object model. Device: the required properties of 135-2016 Table 12-13 (Protocol_
 * Revision 19 needs no Structured_Object_List: it is optional there), then the optional
 * ones the host gave. Network_Port: Table 12-71's required properties, then those the
 * table requires of a BACnet-application port of that Network_Type (footnotes: MS/TP
 * Max_Master, Max_Info_Frames; IPv4 BACnet_IP_Mode, IP_Address, BACnet_IP_UDP_Port,
 * IP_Subnet_Mask). The order is the order ALL and Property_List give. */
static const prop_t PROPS[] = {
    {BAC_PROP_OBJECT_IDENTIFIER, K_DEV, F_REQ, p_object_identifier, NULL, NULL},
    {BAC_PROP_OBJECT_NAME, K_DEV, F_REQ, p_object_name, NULL, NULL},
    {BAC_PROP_OBJECT_TYPE, K_DEV, F_REQ, p_object_type, NULL, NULL},
    {BAC_PROP_SYSTEM_STATUS, K_DEV, F_REQ, d_system_status, NULL, NULL},
    {BAC_PROP_VENDOR_NAME, K_DEV, F_REQ, d_vendor_name, NULL, NULL},
    {BAC_PROP_VENDOR_IDENTIFIER, K_DEV, F_REQ, d_vendor_id, NULL, NULL},
    {BAC_PROP_MODEL_NAME, K_DEV, F_REQ, d_model, NULL, NULL},
    {BAC_PROP_FIRMWARE_REVISION, K_DEV, F_REQ, d_firmware, NULL, NULL},
    {BAC_PROP_APPLICATION_SOFTWARE_VERSION, K_DEV, F_REQ, d_app_version, NULL, NULL},
    {BAC_PROP_PROTOCOL_VERSION, K_DEV, F_REQ, d_protocol_version, NULL, NULL},
    {BAC_PROP_PROTOCOL_REVISION, K_DEV, F_REQ, d_protocol_revision, NULL, NULL},
    {BAC_PROP_PROTOCOL_SERVICES_SUPPORTED, K_DEV, F_REQ, d_services, NULL, NULL},
    {BAC_PROP_PROTOCOL_OBJECT_TYPES_SUPPORTED, K_DEV, F_REQ, d_object_types, NULL, NULL},
    {BAC_PROP_OBJECT_LIST, K_DEV, F_REQ | F_ARRAY, d_object_list, NULL, n_object_list},
    {BAC_PROP_MAX_APDU_LENGTH_ACCEPTED, K_DEV, F_REQ, d_max_apdu, NULL, NULL},
    {BAC_PROP_SEGMENTATION_SUPPORTED, K_DEV, F_REQ, d_segmentation, NULL, NULL},
    {BAC_PROP_APDU_TIMEOUT, K_DEV, F_REQ, d_apdu_timeout, NULL, NULL},
    {BAC_PROP_NUMBER_OF_APDU_RETRIES, K_DEV, F_REQ, d_apdu_retries, NULL, NULL},
    {BAC_PROP_DEVICE_ADDRESS_BINDING, K_DEV, F_REQ, d_address_binding, NULL, NULL},
    {BAC_PROP_DATABASE_REVISION, K_DEV, F_REQ, d_database_revision, NULL, NULL},
    {BAC_PROP_PROPERTY_LIST, K_DEV, F_REQ | F_ARRAY, p_property_list, NULL, n_property_list},
    {BAC_PROP_LOCATION, K_DEV, F_OPT, d_location, has_location, NULL},
    {BAC_PROP_DESCRIPTION, K_DEV, F_OPT, d_description, has_description, NULL},

    {BAC_PROP_OBJECT_IDENTIFIER, K_NP, F_REQ, p_object_identifier, NULL, NULL},
    {BAC_PROP_OBJECT_NAME, K_NP, F_REQ, p_object_name, NULL, NULL},
    {BAC_PROP_OBJECT_TYPE, K_NP, F_REQ, p_object_type, NULL, NULL},
    {BAC_PROP_PROPERTY_LIST, K_NP, F_REQ | F_ARRAY, p_property_list, NULL, n_property_list},
    {BAC_PROP_STATUS_FLAGS, K_NP, F_REQ, n_status_flags, NULL, NULL},
    {BAC_PROP_RELIABILITY, K_NP, F_REQ, n_reliability, NULL, NULL},
    {BAC_PROP_OUT_OF_SERVICE, K_NP, F_REQ, n_false, NULL, NULL},
    {PROP_NETWORK_TYPE, K_NP, F_REQ, n_network_type, NULL, NULL},
    {PROP_PROTOCOL_LEVEL, K_NP, F_REQ, n_protocol_level, NULL, NULL},
    {PROP_NETWORK_NUMBER, K_NP, F_REQ, n_network_number, NULL, NULL},
    {PROP_NETWORK_NUMBER_QUALITY, K_NP, F_REQ, n_network_number_quality, NULL, NULL},
    {PROP_CHANGES_PENDING, K_NP, F_REQ, n_false, NULL, NULL},
    {PROP_APDU_LENGTH, K_NP, F_REQ, n_apdu_length, NULL, NULL},
    {PROP_LINK_SPEED, K_NP, F_REQ, n_link_speed, NULL, NULL},
    {PROP_MAC_ADDRESS, K_NP, F_REQ, n_mac_address, NULL, NULL},
    {BAC_PROP_MAX_MASTER, K_NP, F_REQ, n_max_master, is_mstp, NULL},
    {BAC_PROP_MAX_INFO_FRAMES, K_NP, F_REQ, n_max_info_frames, is_mstp, NULL},
    {PROP_BACNET_IP_MODE, K_NP, F_REQ, n_ip_mode, is_bip, NULL},
    {PROP_IP_ADDRESS, K_NP, F_REQ, n_ip_address, is_bip, NULL},
    {PROP_BACNET_IP_UDP_PORT, K_NP, F_REQ, n_udp_port, is_bip, NULL},
    {PROP_IP_SUBNET_MASK, K_NP, F_REQ, n_subnet_mask, is_bip, NULL},
};
#define NPROPS (sizeof PROPS / sizeof PROPS[0])

static bool row_of(const obj_t *o, const prop_t *p)
{
    return p->kind == (o->device ? K_DEV : K_NP) && (!p->has || p->has(o));
}

static const prop_t *find_prop(const obj_t *o, uint32_t id)
{
    for (size_t k = 0; k < NPROPS; k++)
        if (PROPS[k].id == id && row_of(o, &PROPS[k]))
            return &PROPS[k];
    return NULL;
}

/* Property_List leaves out the four every object has (clause 12.1.1.4.1). */
static bool listed(const prop_t *p)
{
    return p->id != BAC_PROP_OBJECT_IDENTIFIER && p->id != BAC_PROP_OBJECT_NAME &&
           p->id != BAC_PROP_OBJECT_TYPE && p->id != BAC_PROP_PROPERTY_LIST;
}

static uint32_t n_property_list(const obj_t *o)
{
    uint32_t n = 0;

    for (size_t k = 0; k < NPROPS; k++)
        n += row_of(o, &PROPS[k]) && listed(&PROPS[k]);
    return n;
}

static int p_property_list(const obj_t *o, uint32_t i, bac_buf_t *b)
{
    for (size_t k = 0; k < NPROPS; k++)
        if (row_of(o, &PROPS[k]) && listed(&PROPS[k]) && --i == 0)
            return bac_enc_enum(b, PROPS[k].id);
    return bac_fail(b, BAC_E_ARG); /* never: i is within n_property_list */
}

/* The value of property p (or its element index) into b. False with *e set for an
 * error the standard names; a full cursor is the caller's to find. */
static bool read_value(const obj_t *o, const prop_t *p, bool has_index, uint32_t index,
                       bac_buf_t *b, bac_error_t *e)
{
    uint32_t n;

    if (!(p->flags & F_ARRAY)) {
        if (has_index) {
            *e = (bac_error_t){BAC_ERRCLASS_PROPERTY, BAC_ERR_PROPERTY_IS_NOT_AN_ARRAY};
            return false;
        }
        p->enc(o, 0, b);
        return true;
    }
    n = p->count(o);
    if (!has_index) {
        for (uint32_t i = 1; i <= n && bac_err(b) == BAC_OK; i++)
            p->enc(o, i, b);
        return true;
    }
    if (index > n) {
        *e = (bac_error_t){BAC_ERRCLASS_PROPERTY, BAC_ERR_INVALID_ARRAY_INDEX};
        return false;
    }
    if (index == 0)
        bac_enc_unsigned(b, n); /* element 0: the size */
    else
        p->enc(o, index, b);
    return true;
}

/* ---- replies --------------------------------------------------------------------------- */

typedef struct {
    bac_buf_t a; /* the APDU, after the NPDU header in the caller's out */
    uint8_t invoke_id;
    uint8_t service;
} reply_t;

static void reply_reject(reply_t *r, uint8_t reason)
{
    bac_rewind(&r->a, 0);
    bac_enc_reject(&r->a, r->invoke_id, reason);
}

static void reply_abort(reply_t *r, uint8_t reason)
{
    bac_rewind(&r->a, 0);
    bac_enc_abort(&r->a, r->invoke_id, reason, true);
}

static void reply_error(reply_t *r, bac_error_t e)
{
    bac_rewind(&r->a, 0);
    bac_enc_error(&r->a, r->invoke_id, r->service, e.cls, e.code);
}

/* An ACK that ran out of room would have needed segments. */
static void reply_check_fit(reply_t *r)
{
    if (bac_err(&r->a) == BAC_E_NOSPACE)
        reply_abort(r, BAC_ABORT_SEGMENTATION_NOT_SUPPORTED);
}


/* ---- ReadProperty (15.5) ---------------------------------------------------------------- */

typedef struct {
    bac_oid_t oid;
    uint32_t prop;
    bool has_index;
    uint32_t index;
} ref_t;

/* objectIdentifier [0], propertyIdentifier [1], propertyArrayIndex [2] OPTIONAL. */
static void dec_ref(bac_buf_t *req, ref_t *ref)
{
    ref->index = 0;
    bac_dec_ctx_oid(req, 0, &ref->oid);
    bac_dec_ctx_enum(req, 1, &ref->prop);
    ref->has_index = bac_is_context(req, 2);
    if (ref->has_index)
        bac_dec_ctx_unsigned(req, 2, &ref->index);
}

/* The object and property ref names, or the error that they do not exist. */
static bool lookup(const rdev_t *d, const ref_t *ref, obj_t *o, const prop_t **p, bac_error_t *e)
{
    if (!resolve(d, ref->oid, o)) {
        *e = (bac_error_t){BAC_ERRCLASS_OBJECT, BAC_ERR_UNKNOWN_OBJECT};
        return false;
    }
    *p = find_prop(o, ref->prop);
    if (!*p) {
        *e = (bac_error_t){BAC_ERRCLASS_PROPERTY, BAC_ERR_UNKNOWN_PROPERTY};
        return false;
    }
    return true;
}

static void svc_read_property(const rdev_t *d, bac_buf_t *req, reply_t *r)
{
    ref_t ref;
    obj_t o;
    const prop_t *p;
    bac_error_t e;
    bac_buf_t *a = &r->a;

    dec_ref(req, &ref);
    if (!bac_done(req)) {
        reply_reject(r, bac_reject_for(req));
        return;
    }
    if (!lookup(d, &ref, &o, &p, &e)) {
        reply_error(r, e);
        return;
    }
    bac_enc_complex_ack(a, r->invoke_id, r->service);
    bac_enc_ctx_oid(a, 0, oid_of(&o)); /* the wildcard Device answers as itself */
    bac_enc_ctx_enum(a, 1, ref.prop);
    if (ref.has_index)
        bac_enc_ctx_unsigned(a, 2, ref.index);
    bac_enc_opening(a, 3);
    if (!read_value(&o, p, ref.has_index, ref.index, a, &e)) {
        reply_error(r, e);
        return;
    }
    bac_enc_closing(a, 3);
    reply_check_fit(r);
}

/* ---- ReadPropertyMultiple (15.7) ------------------------------------------------------- */

/* One result: propertyIdentifier [2], propertyArrayIndex [3], then the value [4] or
 * the error [5]. p NULL: the error e. */
static void rpm_result(const obj_t *o, const prop_t *p, uint32_t id, bool has_index,
                       uint32_t index, bac_error_t e, bac_buf_t *ack)
{
    size_t mark;

    bac_enc_ctx_enum(ack, 2, id);
    if (has_index)
        bac_enc_ctx_unsigned(ack, 3, index);
    mark = bac_pos(ack);
    bac_enc_opening(ack, 4);
    if (p && read_value(o, p, has_index, index, ack, &e)) {
        bac_enc_closing(ack, 4);
        return;
    }
    if (bac_err(ack) != BAC_OK)
        return; /* out of room: the caller aborts */
    bac_rewind(ack, mark);
    bac_enc_opening(ack, 5);
    bac_enc_enum(ack, e.cls);
    bac_enc_enum(ack, e.code);
    bac_enc_closing(ack, 5);
}

/* One property reference of a request; ALL, REQUIRED and OPTIONAL expand over the
 * table (an index with them is an error; an unknown object answers for the id asked). */
static void rpm_property(const obj_t *o, bool known, uint32_t id, bool has_index,
                         uint32_t index, bac_buf_t *ack)
{
    uint8_t which = id == BAC_PROP_ALL ? F_REQ | F_OPT
                    : id == BAC_PROP_REQUIRED ? F_REQ
                    : id == BAC_PROP_OPTIONAL ? F_OPT : 0;
    bac_error_t e = {BAC_ERRCLASS_PROPERTY, BAC_ERR_UNKNOWN_PROPERTY};

    if (!known) {
        e = (bac_error_t){BAC_ERRCLASS_OBJECT, BAC_ERR_UNKNOWN_OBJECT};
        rpm_result(o, NULL, id, has_index, index, e, ack);
        return;
    }
    if (!which) {
        rpm_result(o, find_prop(o, id), id, has_index, index, e, ack);
        return;
    }
    if (has_index) {
        e = (bac_error_t){BAC_ERRCLASS_PROPERTY, BAC_ERR_INVALID_ARRAY_INDEX};
        rpm_result(o, NULL, id, has_index, index, e, ack);
        return;
    }
    for (size_t k = 0; k < NPROPS && bac_err(ack) == BAC_OK; k++)
        if (row_of(o, &PROPS[k]) && (PROPS[k].flags & which))
            rpm_result(o, &PROPS[k], PROPS[k].id, false, 0, e, ack);
}

/* One pass over the request, encoding the results into ack as it goes; stops at the
 * first error of either cursor. */
static void rpm_pass(const rdev_t *d, bac_buf_t *req, bac_buf_t *ack)
{
    int specs = 0;

    while (bac_left(req) && bac_err(req) == BAC_OK && bac_err(ack) == BAC_OK) {
        bac_oid_t id;
        obj_t o;
        int props = 0;

        bac_dec_ctx_oid(req, 0, &id);
        bac_dec_opening(req, 1);
        if (bac_err(req) != BAC_OK)
            return;
        bool known = resolve(d, id, &o);
        bac_enc_ctx_oid(ack, 0, known ? oid_of(&o) : id);
        bac_enc_opening(ack, 1);
        while (bac_err(req) == BAC_OK && bac_err(ack) == BAC_OK && !bac_is_closing(req, 1)) {
            uint32_t prop, index = 0;
            bool has_index;

            if (bac_dec_ctx_enum(req, 0, &prop) < 0)
                break;
            has_index = bac_is_context(req, 1);
            if (has_index && bac_dec_ctx_unsigned(req, 1, &index) < 0)
                break;
            props++;
            rpm_property(&o, known, prop, has_index, index, ack);
        }
        if (bac_err(ack) != BAC_OK)
            return;
        bac_dec_closing(req, 1);
        if (props == 0)
            bac_fail(req, BAC_E_TAG); /* an empty property list is not a request */
        bac_enc_closing(ack, 1);
        specs++;
    }
    if (specs == 0)
        bac_fail(req, BAC_E_TRUNCATED);
}

static void svc_read_property_multiple(const rdev_t *d, bac_buf_t *req, reply_t *r)
{
    /* Reads change nothing, so a request found malformed halfway is answered by
     * rewinding the ACK into a Reject. */
    bac_enc_complex_ack(&r->a, r->invoke_id, r->service);
    rpm_pass(d, req, &r->a);
    if (bac_err(&r->a) == BAC_E_NOSPACE) {
        reply_abort(r, BAC_ABORT_SEGMENTATION_NOT_SUPPORTED);
        return;
    }
    if (!bac_done(req))
        reply_reject(r, bac_reject_for(req));
}

/* ---- WriteProperty (15.9): nothing is writable ------------------------------------------ */

static void svc_write_property(const rdev_t *d, bac_buf_t *req, reply_t *r)
{
    ref_t ref;
    obj_t o;
    const prop_t *p;
    bac_error_t e = {BAC_ERRCLASS_PROPERTY, BAC_ERR_WRITE_ACCESS_DENIED};
    uint32_t priority = 1;
    size_t start, end;

    dec_ref(req, &ref);
    bac_dec_opening(req, 3);
    start = bac_pos(req);
    while (bac_err(req) == BAC_OK && !bac_is_closing(req, 3))
        if (bac_skip_element(req) < 0)
            break;
    end = bac_pos(req);
    bac_dec_closing(req, 3);
    if (bac_is_context(req, 4))
        bac_dec_ctx_unsigned(req, 4, &priority);
    if (!bac_done(req) || end == start) {
        reply_reject(r, end == start && bac_err(req) == BAC_OK ? BAC_REJECT_MISSING_REQUIRED_PARAMETER
                                                               : bac_reject_for(req));
        return;
    }
    if (priority < 1 || priority > 16) {
        reply_reject(r, BAC_REJECT_PARAMETER_OUT_OF_RANGE);
        return;
    }
    lookup(d, &ref, &o, &p, &e);
    reply_error(r, e);
}

/* ---- Who-Is (16.10), Who-Has (16.9) ------------------------------------------------------ */

/* deviceInstanceRangeLowLimit [0], HighLimit [1], both or neither: is d within? */
static bool in_range(const rdev_t *d, bac_buf_t *req)
{
    uint32_t lo, hi;

    if (!bac_is_context(req, 0))
        return true;
    bac_dec_ctx_unsigned(req, 0, &lo);
    bac_dec_ctx_unsigned(req, 1, &hi);
    if (bac_err(req) != BAC_OK || lo > BAC_MAX_INSTANCE || hi > BAC_MAX_INSTANCE)
        return false;
    return d->instance >= lo && d->instance <= hi;
}

static void unconfirmed_header(bac_buf_t *a, uint8_t service)
{
    bac_apdu_t h = {.type = BAC_PDU_UNCONFIRMED_REQ, .service = service};

    bac_apdu_encode(a, &h);
}

/* I-Am (16.1): iAmDeviceIdentifier, maxAPDULengthAccepted, segmentationSupported,
 * vendorID. */
static void enc_i_am(const rdev_t *d, bac_buf_t *a)
{
    unconfirmed_header(a, BAC_USVC_I_AM);
    bac_enc_oid(a, (bac_oid_t){BAC_OBJ_DEVICE, d->instance});
    bac_enc_unsigned(a, max_apdu(d));
    bac_enc_enum(a, BAC_SEGMENTATION_NONE);
    bac_enc_unsigned(a, d->vendor_id);
}

static bool svc_who_is(const rdev_t *d, bac_buf_t *req, bac_buf_t *a)
{
    if (!in_range(d, req) || !bac_done(req))
        return false;
    enc_i_am(d, a);
    return true;
}

/* The object named s (n octets): the Device, or "Network Port <k>" for a port. */
static bool by_name(const rdev_t *d, const uint8_t *s, size_t n, obj_t *o)
{
    char buf[NAME_MAX_LEN];
    const char *name;
    uint32_t k = 0;

    *o = (obj_t){d, true, 0};
    if (n == name_of(o, buf, &name) && memcmp(s, name, n) == 0)
        return true;
    if (n <= NP_NAME_PREFIX_LEN || n > NP_NAME_PREFIX_LEN + 7u ||
        memcmp(s, NP_NAME_PREFIX, NP_NAME_PREFIX_LEN) != 0)
        return false;
    for (size_t i = NP_NAME_PREFIX_LEN; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        k = k * 10u + (uint32_t)(s[i] - '0');
    }
    /* The name must be the one the port has: no leading zeros, an existing port. */
    if (!resolve(d, (bac_oid_t){RDEV_OBJ_NETWORK_PORT, k}, o))
        return false;
    return n == name_of(o, buf, &name) && memcmp(s, name, n) == 0;
}

/* objectIdentifier [2] or objectName [3]; I-Have (16.8) when we have it. */
static bool svc_who_has(const rdev_t *d, bac_buf_t *req, bac_buf_t *a)
{
    obj_t o;
    bac_oid_t id;
    bac_str_t name;
    char buf[NAME_MAX_LEN];
    const char *s;
    size_t n;

    if (!in_range(d, req))
        return false;
    if (bac_is_context(req, 2)) {
        if (bac_dec_ctx_oid(req, 2, &id) < 0 || !bac_done(req) || !resolve(d, id, &o))
            return false;
    } else if (bac_dec_ctx_charstring(req, 3, &name) < 0 || !bac_done(req) ||
               !by_name(d, name.data, name.len, &o)) {
        return false;
    }
    n = name_of(&o, buf, &s);
    unconfirmed_header(a, BAC_USVC_I_HAVE);
    bac_enc_oid(a, (bac_oid_t){BAC_OBJ_DEVICE, d->instance});
    bac_enc_oid(a, oid_of(&o));
    bac_enc_charstring(a, s, n);
    return true;
}

/* ---- dispatch ------------------------------------------------------------------------------- */

void rdev_init(rdev_t *d, const net_router_t *router, uint32_t instance, const char *name)
{
    memset(d, 0, sizeof *d);
    d->instance = instance <= BAC_MAX_INSTANCE ? instance : BAC_MAX_INSTANCE - 1u;
    d->name = name ? name : "s4100 router";
    d->vendor_name = "Leviton Mfg.";
    d->vendor_id = 133;
    d->model = "s4100 router";
    d->firmware = "0";
    d->app_version = "0";
    d->max_apdu = RDEV_MAX_APDU_DEFAULT;
    d->apdu_timeout_ms = 10000;
    d->apdu_retries = 3;
    d->router = router;
}

bool rdev_port_mstp(rdev_t *d, unsigned k, float speed, uint8_t max_master,
                    uint8_t max_info_frames)
{
    if (k >= RDEV_MAX_PORTS)
        return false;
    memset(&d->port[k], 0, sizeof d->port[k]);
    d->port[k].network_type = RDEV_NET_MSTP;
    d->port[k].link_speed = speed;
    d->port[k].max_master = max_master;
    d->port[k].max_info_frames = max_info_frames;
    return true;
}

bool rdev_port_bip(rdev_t *d, unsigned k, float speed, const uint8_t ip[4],
                   const uint8_t mask[4], uint16_t udp_port, uint8_t ip_mode)
{
    if (k >= RDEV_MAX_PORTS)
        return false;
    memset(&d->port[k], 0, sizeof d->port[k]);
    d->port[k].network_type = RDEV_NET_IPV4;
    d->port[k].link_speed = speed;
    if (ip)
        memcpy(d->port[k].ip, ip, 4);
    if (mask)
        memcpy(d->port[k].mask, mask, 4);
    d->port[k].udp_port = udp_port;
    d->port[k].ip_mode = ip_mode;
    return true;
}

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* NPDU header n into out, then a writer for the APDU after it, at most apdu_cap octets.
 * Returns the header's length, 0 when even that does not fit. */
static size_t start_reply(const bac_npdu_t *n, uint8_t *out, size_t cap, size_t apdu_cap,
                          bac_buf_t *a)
{
    bac_buf_t o;
    size_t hl;

    bac_buf_writer(&o, out, cap);
    if (bac_npdu_encode(&o, n) < 0 || bac_pos(&o) >= cap)
        return 0;
    hl = bac_pos(&o);
    bac_buf_writer(a, out + hl, min_size(cap - hl, apdu_cap));
    return hl;
}

/* I-Am and I-Have go to everyone: a global broadcast (DNET 0xFFFF, hop count 255). */
static size_t unconfirmed(const rdev_t *d, uint8_t service, bac_buf_t *req, uint8_t *out,
                          size_t cap, bool *reply_bcast)
{
    bac_npdu_t n = {.has_dnet = true, .dnet = BAC_NET_BROADCAST, .hop_count = 255};
    bac_buf_t a;
    size_t hl = start_reply(&n, out, cap, max_apdu(d), &a);
    bool answer = false;

    if (hl == 0)
        return 0;
    if (service == BAC_USVC_WHO_IS)
        answer = svc_who_is(d, req, &a);
    else if (service == BAC_USVC_WHO_HAS)
        answer = svc_who_has(d, req, &a);
    if (!answer || bac_err(&a) != BAC_OK)
        return 0;
    *reply_bcast = true;
    return hl + bac_pos(&a);
}

static size_t confirmed(const rdev_t *d, const bac_npdu_t *n, const bac_apdu_t *h,
                        bac_buf_t *req, uint8_t *out, size_t cap)
{
    bac_npdu_t rn;
    reply_t r = {.invoke_id = h->invoke_id, .service = h->service};
    size_t client = h->max_apdu ? h->max_apdu : 50; /* a reserved code: assume the least */
    size_t hl;

    bac_npdu_reply(n, &rn); /* to the SNET/SADR it came from, if it came through a router */
    hl = start_reply(&rn, out, cap, min_size(client, max_apdu(d)), &r.a);
    if (hl == 0)
        return 0;
    if (h->segmented)
        reply_abort(&r, BAC_ABORT_SEGMENTATION_NOT_SUPPORTED);
    else if (h->service == BAC_SVC_READ_PROPERTY)
        svc_read_property(d, req, &r);
    else if (h->service == BAC_SVC_READ_PROPERTY_MULTIPLE)
        svc_read_property_multiple(d, req, &r);
    else if (h->service == BAC_SVC_WRITE_PROPERTY)
        svc_write_property(d, req, &r);
    else
        reply_reject(&r, BAC_REJECT_UNRECOGNIZED_SERVICE);
    return bac_err(&r.a) == BAC_OK ? hl + bac_pos(&r.a) : 0;
}

size_t rdev_receive(rdev_t *d, const net_addr_t *src, bool bcast, const uint8_t *npdu,
                    size_t len, uint8_t *out, size_t cap, bool *reply_bcast)
{
    bool ignored;
    bac_buf_t req;
    bac_npdu_t n;
    bac_apdu_t h;

    (void)src; /* replies go back to the link source; the router knows it */
    if (!reply_bcast)
        reply_bcast = &ignored;
    *reply_bcast = false;
    if (!d || !npdu || !out || cap == 0)
        return 0;
    bac_buf_reader(&req, npdu, len);
    if (bac_npdu_decode(&req, &n) < 0 || n.network_msg)
        return 0; /* network messages are the router's own business */
    if (n.has_dnet && n.dnet != BAC_NET_BROADCAST)
        return 0; /* the router strips the DNET of what is for us */
    if (bac_apdu_decode(&req, &h) < 0)
        return 0; /* no invoke id we could trust to reject */
    d->requests++;
    if (h.type == BAC_PDU_UNCONFIRMED_REQ)
        return unconfirmed(d, h.service, &req, out, cap, reply_bcast);
    /* We serve only; a confirmed request by broadcast is discarded (clause 5.4.5.1). */
    if (h.type != BAC_PDU_CONFIRMED_REQ || bcast || n.has_dnet)
        return 0;
    return confirmed(d, &n, &h, &req, out, cap);
}

static size_t upper_receive(void *ctx, const net_addr_t *src, bool bcast, const uint8_t *npdu,
                            size_t len, uint8_t *out, size_t cap, bool *reply_bcast)
{
    return rdev_receive(ctx, src, bcast, npdu, len, out, cap, reply_bcast);
}

net_upper_t rdev_upper(rdev_t *d)
{
    net_upper_t u = {d, upper_receive};

    return u;
}

size_t rdev_i_am(const rdev_t *d, uint8_t *out, size_t cap)
{
    bac_npdu_t n = {.has_dnet = true, .dnet = BAC_NET_BROADCAST, .hop_count = 255};
    bac_buf_t a;
    size_t hl;

    if (!d || !out || cap == 0)
        return 0;
    hl = start_reply(&n, out, cap, max_apdu(d), &a);
    if (hl == 0)
        return 0;
    enc_i_am(d, &a);
    return bac_err(&a) == BAC_OK ? hl + bac_pos(&a) : 0;
}
