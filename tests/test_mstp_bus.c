/*
 * MS/TP on the virtual RS-485 bus: many masters (meters and a test master) on one
 * simulated wire at 76.8 k. The ring forms from scattered MACs, survives nodes leaving
 * and joining, token loss, a second token, collisions and line noise; a test master
 * reads every object of every meter. Every answer on the wire must start within
 * Treply_delay (250 ms) of its request; the worst is printed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sim.h"

#define BAUD 76800u
#define N_METERS 32

/* 32 scattered MACs over 1..127 (the test master takes 0). */
static const uint8_t macs[N_METERS] = {3,   7,   12,  18,  19,  25,  31,  34,  40,  44,  51,
                                       53,  58,  64,  66,  71,  77,  80,  85,  90,  93,  99,
                                       101, 104, 110, 112, 115, 118, 121, 124, 125, 127};

static uint32_t worst_reply_us; /* over every test, printed at the end */

static void note_stats(const sim_bus_t *b)
{
    sim_bus_stats_t st;
    sim_bus_stats(b, &st);
    assert_true(st.reply_max_us <= MSTP_TREPLY_DELAY_US);
    if (st.reply_max_us > worst_reply_us)
        worst_reply_us = st.reply_max_us;
}

static sim_bus_t *ring(int *client, uint8_t client_mif)
{
    sim_bus_t *b = sim_bus_new(BAUD, 42);
    assert_non_null(b);
    for (int i = 0; i < N_METERS; i++)
        assert_int_equal(sim_bus_add_meter(b, macs[i], 127), i);
    if (client)
        *client = sim_bus_add_client(b, 0, 127, client_mif);
    return b;
}

/* Every powered node's successor is the next powered MAC up (wrapping). */
static bool ring_ok(sim_bus_t *b, const bool *on)
{
    int n = sim_bus_nodes(b);
    for (int i = 0; i < n; i++) {
        if (on && !on[i])
            continue;
        mstp_t *m = sim_bus_mstp(b, i);
        int best = -1, lowest = -1;
        for (int j = 0; j < n; j++) {
            if (j == i || (on && !on[j]))
                continue;
            int mac = sim_bus_mstp(b, j)->cfg.mac;
            if (mac > m->cfg.mac && (best < 0 || mac < best))
                best = mac;
            if (lowest < 0 || mac < lowest)
                lowest = mac;
        }
        int want = best >= 0 ? best : lowest;
        if (m->ns != want) {
            printf("node %d (MAC %d): NS %d, expected %d\n", i, m->cfg.mac, m->ns, want);
            return false;
        }
    }
    return true;
}

/* The physical floor of a token rotation: each hop is a token frame (8 octets) after
 * the turnaround (40 bit times). */
static uint32_t min_rotation_us(int nodes)
{
    return (uint32_t)((uint64_t)nodes * (80u + 40u) * 1000000u / BAUD);
}

static void test_ring_forms(void **state)
{
    (void)state;
    sim_bus_t *b = ring(NULL, 1);
    /* From a cold start: Tno_token, the lowest MAC's slot, then a poll-for-master walk
     * by each node in turn. */
    sim_bus_run(b, 5000000);
    assert_true(ring_ok(b, NULL));
    /* Exactly one token was generated (by the lowest MAC), no node is sole master. */
    uint32_t generated = 0;
    for (int i = 0; i < N_METERS; i++) {
        generated += sim_bus_mstp(b, i)->c.tokens_generated;
        assert_int_equal(sim_bus_mstp(b, i)->c.sole_master, 0);
    }
    assert_int_equal(generated, 1);
    assert_int_equal(sim_bus_mstp(b, 0)->c.tokens_generated, 1);
    /* Steady state: everyone gets the token, the rotation stays within bounds. */
    uint32_t before[N_METERS];
    for (int i = 0; i < N_METERS; i++)
        before[i] = sim_bus_mstp(b, i)->c.tokens_received;
    sim_bus_reset_stats(b);
    sim_bus_run(b, 20000000);
    sim_bus_stats_t st;
    sim_bus_stats(b, &st);
    for (int i = 0; i < N_METERS; i++)
        assert_true(sim_bus_mstp(b, i)->c.tokens_received - before[i] > 100);
    assert_int_equal(st.garbled_frames, 0);
    assert_int_equal(st.unanswered, 0);
    double mean = (double)st.rotation_sum_us / (double)st.rotations;
    /* The fastest rotation is the wire's floor plus a little; the slowest is the one
     * where every node also polls one empty address (Tusage_timeout each, plus the
     * poll frame and up to a tick). */
    uint32_t floor_us = min_rotation_us(N_METERS);
    uint32_t worst_us = floor_us + N_METERS * (MSTP_USAGE_TIMEOUT_MIN_US + 1042u + 1000u);
    printf("32 masters: rotation min %.1f ms (floor %.1f), mean %.1f ms, max %.1f ms "
           "(bound %.1f)\n", st.rotation_min_us / 1e3, floor_us / 1e3, mean / 1e3,
           st.rotation_max_us / 1e3, worst_us / 1e3);
    assert_true(st.rotation_min_us >= floor_us);
    assert_true(st.rotation_min_us <= floor_us * 11 / 10);
    assert_true(st.rotation_max_us <= worst_us);
    note_stats(b);
    sim_bus_free(b);
}

/* Run until node i has received k more tokens (or give up after limit_us). */
static bool until_tokens(sim_bus_t *b, int i, uint32_t k, uint64_t limit_us)
{
    uint32_t want = sim_bus_mstp(b, i)->c.tokens_received + k;
    for (uint64_t t = 0; t < limit_us; t += 10000) {
        sim_bus_run(b, 10000);
        if (sim_bus_mstp(b, i)->c.tokens_received >= want)
            return true;
    }
    return false;
}

static void test_leave_and_join(void **state)
{
    (void)state;
    sim_bus_t *b = ring(NULL, 1);
    sim_bus_run(b, 5000000);
    assert_true(ring_ok(b, NULL));
    bool on[N_METERS];
    for (int i = 0; i < N_METERS; i++)
        on[i] = true;
    /* MAC 40 leaves: its predecessor (34) retries once, then polls and finds 44. */
    const int gone = 8;
    assert_int_equal(macs[gone], 40);
    sim_bus_power(b, gone, false);
    on[gone] = false;
    sim_bus_run(b, 2000000);
    assert_true(ring_ok(b, on));
    assert_true(sim_bus_mstp(b, gone - 1)->c.successor_failed >= 1);
    uint32_t lost = 0;
    for (int i = 0; i < N_METERS; i++)
        lost += sim_bus_mstp(b, i)->c.lost_tokens;
    assert_int_equal(lost, N_METERS); /* only the cold start's: the token was never lost */
    assert_true(until_tokens(b, 0, 20, 5000000));
    /* It comes back: found by its predecessor's maintenance poll within Npoll tokens. */
    sim_bus_power(b, gone, true);
    on[gone] = true;
    assert_true(until_tokens(b, gone, 1, 20000000));
    sim_bus_run(b, 1000000); /* its own first token: it polls for its successor */
    assert_true(ring_ok(b, on));
    /* A new station joins at a free MAC and is found the same way. */
    int newcomer = sim_bus_add_meter(b, 60, 127);
    assert_true(newcomer > 0);
    assert_true(until_tokens(b, newcomer, 5, 20000000));
    sim_bus_run(b, 1000000);
    assert_true(ring_ok(b, NULL));
    /* And the test master at MAC 0 joins the ring too. */
    int client = sim_bus_add_client(b, 0, 127, 1);
    assert_true(until_tokens(b, client, 5, 20000000));
    sim_bus_run(b, 1000000);
    assert_true(ring_ok(b, NULL));
    note_stats(b);
    sim_bus_free(b);
}

static void test_token_loss(void **state)
{
    (void)state;
    int client;
    sim_bus_t *b = ring(&client, 1);
    sim_bus_run(b, 5000000);
    assert_true(ring_ok(b, NULL));
    /* The test master sends a request and dies while it holds the token: the meter
     * answers, then the wire falls silent. */
    uint8_t rq[32];
    size_t n = sim_bus_rp_npdu(rq, sizeof rq, 1, (bac_oid_t){OBJ_DEVICE, 100000u + macs[5]},
                               BAC_PROP_OBJECT_NAME);
    assert_int_equal(sim_bus_request(b, client, macs[5], rq, n), 0);
    mstp_t *cm = sim_bus_mstp(b, client);
    for (int i = 0; i < 200000 && cm->state != MSTP_ST_WAIT_FOR_REPLY; i++)
        sim_bus_run(b, 50);
    assert_int_equal(cm->state, MSTP_ST_WAIT_FOR_REPLY);
    sim_bus_power(b, client, false);
    /* The answer takes about 15 ms on the wire; then Tno_token (500 ms) plus the slot
     * of the lowest MAC left (3: 30 ms), and it regenerates the token. */
    sim_bus_run(b, 525000);
    assert_int_equal(sim_bus_mstp(b, 0)->c.tokens_generated, 0);
    sim_bus_run(b, 40000);
    assert_int_equal(sim_bus_mstp(b, 0)->c.tokens_generated, 1);
    for (int i = 1; i < N_METERS; i++) {
        assert_int_equal(sim_bus_mstp(b, i)->c.tokens_generated, 0);
        assert_int_equal(sim_bus_mstp(b, i)->c.lost_tokens, 2); /* cold start + this */
    }
    /* The ring re-forms without the dead master. */
    bool on[N_METERS + 1];
    for (int i = 0; i <= N_METERS; i++)
        on[i] = i != client;
    sim_bus_run(b, 3000000);
    assert_true(ring_ok(b, on));
    note_stats(b);
    sim_bus_free(b);
}

static void test_second_token_and_collisions(void **state)
{
    (void)state;
    sim_bus_t *b = ring(NULL, 1);
    sim_bus_run(b, 5000000);
    assert_true(ring_ok(b, NULL));
    /* A forged token to a node in the middle of the ring: two tokens circulate until
     * a node hears a frame it did not expect and drops its own, or they collide. */
    uint8_t tok[8];
    size_t n = mstp_encode(tok, sizeof tok, MSTP_TOKEN, macs[16], macs[15], NULL, 0);
    for (int k = 0; k < 5; k++) {
        sim_bus_inject(b, sim_bus_now_us(b) + 100, tok, n);
        sim_bus_run(b, 300000);
    }
    /* Noise bursts that overlap whatever is on the wire. */
    uint8_t junk[200];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 91 + 7);
    for (int k = 0; k < 5; k++) {
        sim_bus_inject(b, sim_bus_now_us(b) + 1000 + (uint64_t)k * 77, junk, sizeof junk);
        sim_bus_run(b, 400000);
    }
    sim_bus_stats_t st;
    sim_bus_stats(b, &st);
    assert_true(st.collision_octets > 0);
    uint32_t unexpected = 0;
    for (int i = 0; i < N_METERS; i++)
        unexpected += sim_bus_mstp(b, i)->c.unexpected + sim_bus_mstp(b, i)->c.invalid_frames;
    assert_true(unexpected > 0);
    /* Then the wire is quiet again: one token, the whole ring. */
    sim_bus_run(b, 5000000);
    assert_true(ring_ok(b, NULL));
    sim_bus_reset_stats(b);
    sim_bus_run(b, 5000000);
    sim_bus_stats(b, &st);
    assert_int_equal(st.garbled_frames, 0);
    assert_int_equal(st.collision_octets, 0);
    assert_true(st.rotation_min_us >= min_rotation_us(N_METERS));
    note_stats(b);
    sim_bus_free(b);
}

/* The ReadProperty-ACK a meter must send for (oid, prop), as an NPDU. */
static size_t expected_ack(obj_device_t *d, uint8_t invoke, bac_oid_t oid, uint32_t prop,
                           uint8_t *out, size_t cap)
{
    bac_buf_t w;
    bac_buf_writer(&w, out, cap);
    bac_put_u8(&w, 1); /* NPDU: version 1, no control bits */
    bac_put_u8(&w, 0);
    bac_enc_complex_ack(&w, invoke, BAC_SVC_READ_PROPERTY);
    bac_enc_ctx_oid(&w, 0, oid);
    bac_enc_ctx_enum(&w, 1, prop);
    bac_enc_opening(&w, 3);
    obj_err_t err;
    assert_true(obj_read(d, oid, prop, OBJ_NO_INDEX, &w, &err) >= 0);
    bac_enc_closing(&w, 3);
    assert_int_equal(bac_err(&w), BAC_OK);
    return bac_pos(&w);
}

static uint32_t prop_for(bac_oid_t oid)
{
    /* Present_Value where there is one; Device and Trend Log objects: Object_Name. */
    return oid.type == OBJ_DEVICE || oid.type == OBJ_TL ? BAC_PROP_OBJECT_NAME
                                                         : BAC_PROP_PRESENT_VALUE;
}

/* Read one property with retries (under noise a request or its reply may be lost);
 * returns the attempts used, 0 if none succeeded. */
static int read_checked(sim_bus_t *b, int client, int meter, size_t index, uint8_t invoke,
                        int tries, uint64_t timeout_us)
{
    obj_device_t *d = sim_bus_device(b, meter);
    bac_oid_t oid = obj_at(d, index);
    uint32_t prop = prop_for(oid);
    uint8_t rq[64], reply[MSTP_MAX_DATA], want[MSTP_MAX_DATA];
    size_t n = sim_bus_rp_npdu(rq, sizeof rq, invoke, oid, prop);
    size_t wn = expected_ack(d, invoke, oid, prop, want, sizeof want);
    for (int k = 1; k <= tries; k++) {
        long got = sim_bus_transact(b, client, sim_bus_mstp(b, meter)->cfg.mac, rq, n, reply,
                                    sizeof reply, timeout_us);
        if (got < 0)
            continue;
        /* A reply that arrives is never corrupt: the data CRC stops a damaged one. */
        assert_int_equal(got, (long)wn);
        assert_memory_equal(reply, want, wn);
        return k;
    }
    return 0;
}

static void test_client_reads_every_object(void **state)
{
    (void)state;
    int client;
    sim_bus_t *b = ring(&client, 1);
    sim_bus_run(b, 5000000);
    sim_bus_reset_stats(b);
    uint64_t t0 = sim_bus_now_us(b);
    size_t reads = 0;
    uint8_t invoke = 0;
    for (int mtr = 0; mtr < N_METERS; mtr++) {
        obj_device_t *d = sim_bus_device(b, mtr);
        for (size_t i = 0; i < obj_count(d); i++) {
            assert_int_equal(read_checked(b, client, mtr, i, invoke++, 1, 3000000), 1);
            reads++;
        }
    }
    sim_bus_stats_t st;
    sim_bus_stats(b, &st);
    double secs = (double)(sim_bus_now_us(b) - t0) / 1e6;
    printf("read %zu properties of %d meters in %.1f s of bus time (%.1f/s); worst reply "
           "%.2f ms, mean %.2f ms\n", reads, N_METERS, secs, (double)reads / secs,
           st.reply_max_us / 1e3, (double)st.reply_sum_us / (double)st.replies / 1e3);
    assert_int_equal(reads, (size_t)N_METERS * 113u);
    assert_int_equal(st.requests, reads);
    assert_int_equal(st.replies, reads);
    assert_int_equal(st.postponed, 0);
    assert_int_equal(st.unanswered, 0);
    assert_int_equal(st.garbled_frames, 0);
    /* Every answer started one turnaround (40 bit times) after its request. */
    assert_true(st.reply_max_us <= 521 + 1);
    note_stats(b);
    sim_bus_free(b);
}

static void line_noise(double ber, int reads, int tries)
{
    int client;
    sim_bus_t *b = ring(&client, 1);
    sim_bus_run(b, 5000000);
    assert_true(ring_ok(b, NULL));
    sim_bus_reset_stats(b);
    sim_bus_set_ber(b, ber);
    int attempts = 0, worst = 0;
    uint8_t invoke = 0;
    for (int k = 0; k < reads; k++) {
        int mtr = (k * 7) % N_METERS;
        size_t idx = (size_t)(k * 13) % 113u;
        int a = read_checked(b, client, mtr, idx, invoke++, tries, 15000000);
        assert_true(a > 0);
        attempts += a;
        if (a > worst)
            worst = a;
    }
    sim_bus_stats_t st;
    sim_bus_stats(b, &st);
    uint32_t lost = 0, retries = 0;
    for (int i = 0; i <= N_METERS; i++) {
        lost += sim_bus_mstp(b, i)->c.lost_tokens;
        retries += sim_bus_mstp(b, i)->c.token_retries;
    }
    printf("BER %.0e: %d reads, %d attempts (worst %d); %llu bit errors, %llu garbled of %llu "
           "frames, %u token retries, %u token losses (incl. 33 at start); worst reply "
           "%.2f ms\n", ber, reads, attempts, worst, (unsigned long long)st.bit_errors,
           (unsigned long long)st.garbled_frames, (unsigned long long)st.frames, retries, lost,
           st.reply_max_us / 1e3);
    assert_true(st.bit_errors > 0);
    note_stats(b);
    /* The noise stops: the ring is whole again. */
    sim_bus_set_ber(b, 0);
    sim_bus_run(b, 10000000);
    assert_true(ring_ok(b, NULL));
    sim_bus_free(b);
}

static void test_line_noise_1e4(void **state)
{
    (void)state;
    line_noise(1e-4, 300, 10);
}

static void test_line_noise_1e3(void **state)
{
    (void)state;
    line_noise(1e-3, 200, 40);
}

static void test_baud_rates(void **state)
{
    (void)state;
    /* The same ring at every rate the meter offers: the rotation scales with the bit
     * time, the answers stay within one turnaround. */
    const uint32_t rates[] = {9600, 19200, 38400, 76800, 115200};
    for (size_t r = 0; r < 5; r++) {
        sim_bus_t *b = sim_bus_new(rates[r], 7);
        for (int i = 0; i < 8; i++)
            sim_bus_add_meter(b, macs[i], 127);
        int client = sim_bus_add_client(b, 0, 127, 1);
        sim_bus_run(b, 5000000);
        assert_true(ring_ok(b, NULL));
        sim_bus_reset_stats(b);
        for (int k = 0; k < 8; k++)
            assert_int_equal(read_checked(b, client, k, (size_t)k * 9, (uint8_t)k, 1, 3000000), 1);
        sim_bus_stats_t st;
        sim_bus_stats(b, &st);
        uint32_t turn = (uint32_t)((40u * 1000000u + rates[r] - 1) / rates[r]);
        assert_true(st.reply_max_us <= turn + 1);
        note_stats(b);
        sim_bus_free(b);
    }
}

static int report(void **state)
{
    (void)state;
    printf("worst answer on the wire in all tests: %.3f ms after its request (limit %u ms)\n",
           worst_reply_us / 1e3, MSTP_TREPLY_DELAY_US / 1000u);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_forms),
        cmocka_unit_test(test_leave_and_join),
        cmocka_unit_test(test_token_loss),
        cmocka_unit_test(test_second_token_and_collisions),
        cmocka_unit_test(test_client_reads_every_object),
        cmocka_unit_test(test_line_noise_1e4),
        cmocka_unit_test(test_line_noise_1e3),
        cmocka_unit_test(test_baud_rates),
    };
    return cmocka_run_group_tests(tests, NULL, report);
}
