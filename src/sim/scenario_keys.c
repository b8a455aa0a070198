/* Which [meter] keys a scenario set, so the host can treat them as commissioning. */
#include "sim_int.h"

unsigned sim_scenario_meter_given(const sim_source_t *s)
{
    return s && s->kind == SIM_SRC_SCENARIO ? s->syn->meter_set : 0u;
}
