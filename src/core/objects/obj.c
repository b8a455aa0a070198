#include "obj.h"

const obj_def_t *obj_find(uint8_t type, uint32_t instance)
{
    for (size_t k = 0; k < obj_def_count; k++)
        if (obj_defs[k].type == type && obj_defs[k].instance == instance)
            return &obj_defs[k];
    return NULL;
}
