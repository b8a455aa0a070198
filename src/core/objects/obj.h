/*
 * s4100 object model: the meter's BACnet objects as data (DECISIONS O1..O8).
 * The table is generated from data/objects.csv, the datasheet's tables verbatim.
 */
#ifndef S4100_OBJ_H
#define S4100_OBJ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* BACnet object types this device has. */
enum { OBJ_AI = 0, OBJ_AV = 2, OBJ_BI = 3, OBJ_DEVICE = 8, OBJ_TL = 20 };
/* Binary Inputs have no Units property. */
#define OBJ_NO_UNITS_PROPERTY 0xFFFFu

typedef struct {
    uint8_t type;            /* OBJ_AI, OBJ_AV, OBJ_BI */
    uint8_t instance;        /* 1.. */
    const char *name;        /* Object_Name, verbatim (O5) */
    const char *description; /* Description */
    uint16_t units;          /* BACnet engineering units enumeration */
    bool nv;                 /* kept in non-volatile memory */
    bool writable;           /* Present_Value writable */
} obj_def_t;

extern const obj_def_t obj_defs[];
extern const size_t obj_def_count;

/* The definition of (type, instance), or NULL. */
const obj_def_t *obj_find(uint8_t type, uint32_t instance);

#endif
