/* Which [meter] keys a scenario set (the host treats them as commissioning), and a
 * scenario with its noise drawn from another seed (a fleet of meters on one scenario). */
#include "sim_int.h"

unsigned sim_scenario_meter_given(const sim_source_t *s)
{
    return s && s->kind == SIM_SRC_SCENARIO ? s->syn->meter_set : 0u;
}

int sim_reseed(sim_source_t *s, uint64_t seed)
{
    if (!s || s->kind != SIM_SRC_SCENARIO || s->syn->n != 0)
        return -1; /* a recording, or a scenario already read from */
    sim_synth_start(s->syn, seed);
    return 0;
}
