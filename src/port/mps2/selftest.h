/* The emulated flash's self-test on the target (selftest.c): 0 when it passes. */
#ifndef S4100_MPS2_SELFTEST_H
#define S4100_MPS2_SELFTEST_H
#include "flash.h"

/* Runs on the caller's flash_t and nv_store_t (the meter's, unused yet). */
int selftest_flash(flash_t *f, nv_store_t *s);
#endif
