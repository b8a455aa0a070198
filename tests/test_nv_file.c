/* The NV store in a file: create, reopen, someone else's file, wrong sizes, truncation,
 * a damaged header, the lock, and a process killed with SIGKILL at random instants. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nv/nv.h"
#include "port.h"

static char dir[64], path[128];
static char err[512];
static lx_nv_file_t file;
static nv_port_t port;
static nv_store_t st;
static const nv_layout_t layout = {.slot_size = 4096, .logs = 3, .log_capacity = 100,
                                   .log_payload = NV_TL_RECORD_SIZE};
static uint32_t msize;

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/test_nv_file.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/meter.nv", dir);
    msize = nv_medium_size(&layout);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    lx_nv_close(&file);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static int open_store(void)
{
    int rc = lx_nv_open(&file, path, msize, &port, err, sizeof err);
    if (rc >= 0)
        assert_int_equal(nv_open(&st, &port, &layout), NV_OK);
    return rc;
}

static off_t file_size(void)
{
    struct stat s;
    assert_int_equal(stat(path, &s), 0);
    return s.st_size;
}

static void write_file(const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static mtr_nv_t meter;
static obj_identity_t ident;

static void state_of(uint32_t k)
{
    memset(&meter, 0, sizeof meter);
    meter.e[0].j = k;
    meter.pulses = k;
    obj_identity_default(&ident, "FILE");
}

static void save(uint32_t k)
{
    state_of(k);
    nv_image_t img = {.meter = &meter, .identity = &ident};
    assert_int_equal(nv_save(&st, &img), NV_OK);
}

/* The pulses of the loaded state (the k of state_of), or -rc. */
static long load_k(nv_load_info_t *info)
{
    memset(&meter, 0, sizeof meter);
    nv_image_t img = {.meter = &meter, .identity = &ident};
    int rc = nv_load(&st, &img, info);
    return rc == NV_OK ? (long)meter.pulses : -(long)rc - 1000;
}

static void append(unsigned log, uint32_t v)
{
    tl_record_t r = {.t = v, .value = (float)v, .kind = TL_REC_REAL};
    uint8_t rec[NV_TL_RECORD_SIZE];
    nv_tl_record_put(rec, v, &r);
    assert_int_equal(nv_log_append(&st, log, rec, sizeof rec), NV_OK);
}

typedef struct {
    uint32_t n, first, last, last_seq;
    bool in_order; /* log sequence numbers without a gap, values rising */
} logsum_t;

static int sum_fn(void *arg, uint32_t seq, const void *rec, size_t len)
{
    logsum_t *s = arg;
    uint32_t v;
    tl_record_t r;
    assert_true(nv_tl_record_get(rec, len, &v, &r));
    if (s->n && (seq != s->last_seq + 1 || v <= s->last))
        s->in_order = false;
    if (!s->n)
        s->first = v;
    s->last = v;
    s->last_seq = seq;
    s->n++;
    return 0;
}

static logsum_t load_log(unsigned log)
{
    logsum_t s = {.in_order = true};
    assert_int_equal(nv_log_load(&st, log, sum_fn, &s, NULL), NV_OK);
    return s;
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_create_and_reopen(void **state)
{
    (void)state;
    assert_int_equal(open_store(), LX_NV_CREATED);
    assert_int_equal(file_size(), 4096 + msize);
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_equal(access(tmp, F_OK), -1); /* renamed into place */
    nv_load_info_t info;
    assert_int_equal(load_k(&info), -NV_EMPTY - 1000); /* a new file is empty, not corrupt */
    for (uint32_t k = 1; k <= 5; k++)
        save(k);
    for (uint32_t v = 1; v <= 130; v++)
        append(1, v);
    lx_nv_close(&file);

    assert_int_equal(open_store(), LX_NV_OPENED);
    assert_string_equal(err, "");
    assert_int_equal(load_k(&info), 5);
    assert_string_equal(ident.serial, "FILE");
    logsum_t s = load_log(1);
    assert_int_equal(s.n, 100);
    assert_int_equal(s.first, 31);
    assert_int_equal(s.last, 130);
    assert_true(s.in_order);
    assert_int_equal(load_log(0).n, 0);
    save(6); /* and it goes on */
    append(1, 131);
    lx_nv_close(&file);
    assert_int_equal(open_store(), LX_NV_OPENED);
    assert_int_equal(load_k(NULL), 6);
    assert_int_equal(load_log(1).last, 131);
    assert_int_equal(file_size(), 4096 + msize);
}

static void test_nosync(void **state)
{
    (void)state;
    assert_int_equal(open_store(), LX_NV_CREATED);
    file.nosync = true;
    save(1);
    lx_nv_close(&file);
    assert_int_equal(open_store(), LX_NV_OPENED);
    assert_int_equal(load_k(NULL), 1);
}

/* Group commit: a deferred sync waits for the flush; a second save of the same store
 * syncs the first one before it writes (never two saves in flight); one flush covers
 * every store on the file system; a save that is not deferred syncs at once. */
static void test_group_commit(void **state)
{
    (void)state;
    lx_nv_group_t g = {0};
    static lx_nv_file_t other;
    nv_port_t oport;
    nv_store_t ost;
    char opath[160];
    assert_int_equal(open_store(), LX_NV_CREATED);
    snprintf(opath, sizeof opath, "%s/other.nv", dir);
    assert_int_equal(lx_nv_open(&other, opath, msize, &oport, err, sizeof err), LX_NV_CREATED);
    assert_int_equal(nv_open(&ost, &oport, &layout), NV_OK);
    assert_int_equal(lx_nv_group_add(&g, &file), 0);
    assert_int_equal(lx_nv_group_add(&g, &other), 0);
    /* A new store's first save writes both slots and the ring markers, each synced in
     * its turn: made before deferring starts. */
    save(1);
    state_of(7);
    nv_image_t img = {.meter = &meter, .identity = &ident};
    assert_int_equal(nv_save(&ost, &img), NV_OK);
    file.defer = other.defer = true;
    save(2);
    state_of(8);
    assert_int_equal(nv_save(&ost, &img), NV_OK);
    assert_true(file.pending && other.pending);
    assert_int_equal(lx_nv_group_pending(&g), 2);
    assert_int_equal(g.forced, 0);
    save(3); /* the one before is still waiting: it is synced before this one writes */
    assert_int_equal(g.forced, 1);
    assert_true(file.pending); /* the second now waits in its turn */
    assert_int_equal(lx_nv_group_flush(&g), 0);
    assert_int_equal(g.flushes, 1); /* both stores, one file system: one syncfs */
    assert_int_equal(lx_nv_group_pending(&g), 0);
    assert_false(file.dirty || other.dirty);
    file.defer = false;
    save(4); /* not deferred: durable when it returns */
    assert_false(file.pending || file.dirty);
    assert_int_equal(lx_nv_group_flush(&g), 0);
    assert_int_equal(g.flushes, 1); /* nothing was pending */
    lx_nv_close(&other);
    lx_nv_group_free(&g);
    lx_nv_close(&file);
    assert_int_equal(open_store(), LX_NV_OPENED);
    assert_int_equal(load_k(NULL), 4);
}

static void test_foreign_file(void **state)
{
    (void)state;
    static uint8_t junk[8192 + 4096];
    memset(junk, 'x', sizeof junk);
    write_file(junk, sizeof junk);
    assert_int_equal(open_store(), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "not an s4100 NV store"));
    /* The file is left alone. */
    assert_int_equal(file_size(), sizeof junk);

    write_file("", 0);
    assert_int_equal(open_store(), -1);
    assert_non_null(strstr(err, "0 bytes, too short"));
    write_file("S4100-NV", 8);
    assert_int_equal(open_store(), -1);
    assert_non_null(strstr(err, "too short"));
}

static void test_cannot_open(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "%s/no/such/dir/meter.nv", dir);
    assert_int_equal(open_store(), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "cannot create"));
    snprintf(path, sizeof path, "%s", dir); /* a directory */
    assert_int_equal(open_store(), -1);
    assert_non_null(strstr(err, dir));
    snprintf(path, sizeof path, "%s/meter.nv", dir);
}

static void test_wrong_size(void **state)
{
    (void)state;
    assert_int_equal(open_store(), LX_NV_CREATED);
    save(1);
    lx_nv_close(&file);
    /* Another layout (another build): refused, not reformatted. */
    assert_int_equal(lx_nv_open(&file, path, msize + 38, &port, err, sizeof err), -1);
    assert_non_null(strstr(err, "made for a"));
    assert_non_null(strstr(err, path));
    /* Longer than the layout: refused. */
    assert_int_equal(truncate(path, 4096 + msize + 1), 0);
    assert_int_equal(open_store(), -1);
    assert_non_null(strstr(err, "not opened"));
    assert_int_equal(truncate(path, 4096 + msize), 0);
    assert_int_equal(open_store(), LX_NV_OPENED);
    assert_int_equal(load_k(NULL), 1);
}

static void test_truncated(void **state)
{
    (void)state;
    assert_int_equal(open_store(), LX_NV_CREATED);
    for (uint32_t k = 1; k <= 4; k++)
        save(k); /* A: 1, B: 2, A: 3, B: 4 */
    for (uint32_t v = 1; v <= 50; v++)
        append(0, v); /* ring 0: slot 1 the first save's marker, then slots 2..51 */
    append(2, 1);
    lx_nv_close(&file);

    /* Cut inside ring 0, in slot 20: the checkpoint and records 1..18 remain. */
    off_t ring0 = 4096 + 2 * 4096;
    assert_int_equal(truncate(path, ring0 + 20 * 38 + 10), 0);
    assert_int_equal(open_store(), LX_NV_WARN);
    assert_non_null(strstr(err, "truncated"));
    assert_non_null(strstr(err, path));
    nv_load_info_t info;
    assert_int_equal(load_k(&info), 4);
    logsum_t s = load_log(0);
    assert_int_equal(s.n, 18);
    assert_int_equal(s.last, 18);
    assert_true(s.in_order);
    assert_int_equal(load_log(2).n, 0);
    /* Writing goes on and extends the file. */
    append(0, 19);
    save(5);
    assert_int_equal(load_log(0).last, 19);
    lx_nv_close(&file);

    /* Saves 1..5 went to A (seq 1) and B (2), then A, B, A, B: k = 5 is in B (seq 6),
     * k = 4 in A. Cut inside B: A remains. */
    assert_int_equal(open_store(), LX_NV_WARN);
    assert_int_equal(load_k(&info), 5);
    assert_int_equal(info.used, 1);
    lx_nv_close(&file);
    assert_int_equal(truncate(path, 4096 + 4096 + 100), 0);
    assert_int_equal(open_store(), LX_NV_WARN);
    assert_int_equal(load_k(&info), 4);
    assert_int_equal(info.used, 0);
    assert_int_equal(info.slot[1], NV_SLOT_TORN);
    lx_nv_close(&file);
    /* Cut inside A: both gone, and the loader says so. */
    assert_int_equal(truncate(path, 4096 + 100), 0);
    assert_int_equal(open_store(), LX_NV_WARN);
    assert_int_equal(load_k(&info), -NV_ECORRUPT - 1000);
}

static void test_damaged_header(void **state)
{
    (void)state;
    assert_int_equal(open_store(), LX_NV_CREATED);
    save(7);
    lx_nv_close(&file);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "\x01", 1, 17), 1); /* the medium size in copy 1 */
    assert_int_equal(open_store(), LX_NV_WARN);
    assert_non_null(strstr(err, "header copy damaged"));
    assert_int_equal(load_k(NULL), 7);
    lx_nv_close(&file);
    assert_int_equal(pwrite(fd, "\x01", 1, 2048 + 17), 1); /* and copy 2 */
    assert_int_equal(open_store(), -1);
    assert_non_null(strstr(err, "header damaged"));
    /* A newer file format: refused. */
    uint8_t h[24] = {'S', '4', '1', '0', '0', '-', 'N', 'V', 2, 0, 0, 0, 0, 0x10, 0, 0};
    memcpy(h + 16, &msize, 4); /* little-endian host */
    uint32_t c = nv_crc32(0, h, 20);
    memcpy(h + 20, &c, 4);
    assert_int_equal(pwrite(fd, h, 24, 0), 24);
    assert_int_equal(open_store(), -1);
    assert_non_null(strstr(err, "format 2 not supported"));
    close(fd);
}

static void test_locked(void **state)
{
    (void)state;
    assert_int_equal(open_store(), LX_NV_CREATED);
    lx_nv_file_t second;
    nv_port_t p2;
    assert_int_equal(lx_nv_open(&second, path, msize, &p2, err, sizeof err), -1);
    assert_non_null(strstr(err, "in use by another process"));
    lx_nv_close(&file);
    assert_int_equal(lx_nv_open(&second, path, msize, &p2, err, sizeof err), LX_NV_OPENED);
    lx_nv_close(&second);
}

static void test_port_bounds(void **state)
{
    (void)state;
    assert_int_equal(open_store(), LX_NV_CREATED);
    uint8_t b[8] = {0};
    assert_int_equal(lx_nv_read(&file, msize - 4, b, 8), -1);
    assert_int_equal(lx_nv_write(&file, msize - 4, b, 8), -1);
    assert_int_equal(lx_nv_write(&file, msize - 8, b, 8), 0);
    assert_int_equal(lx_nv_sync(&file), 0);
}

/* ---- killed at random instants ------------------------------------------------------------ */

/* The child: load, then save k+1, k+2, ... and append them to log 0, telling the parent
 * each acknowledged one through the pipe, until it is killed. */
static void child(int wfd)
{
    lx_nv_file_t f;
    nv_port_t p;
    nv_store_t s;
    char e[256];
    if (lx_nv_open(&f, path, msize, &p, e, sizeof e) < 0 || nv_open(&s, &p, &layout))
        _exit(2);
    mtr_nv_t m = {0};
    obj_identity_t id;
    obj_identity_default(&id, "KILL");
    nv_image_t img = {.meter = &m, .identity = &id};
    int rc = nv_load(&s, &img, NULL);
    if (rc != NV_OK && rc != NV_EMPTY)
        _exit(3);
    for (uint32_t k = m.pulses + 1;; k++) {
        m.pulses = k;
        m.e[0].j = k;
        if (nv_save(&s, &img) != NV_OK)
            _exit(4);
        uint32_t msg[2] = {'S', k};
        if (write(wfd, msg, sizeof msg) != sizeof msg)
            _exit(5);
        tl_record_t r = {.t = k, .value = (float)k};
        uint8_t rec[NV_TL_RECORD_SIZE];
        nv_tl_record_put(rec, k, &r);
        if (nv_log_append(&s, 0, rec, sizeof rec) != NV_OK)
            _exit(6);
        msg[0] = 'L';
        if (write(wfd, msg, sizeof msg) != sizeof msg)
            _exit(7);
    }
}

/* The file's blocks are allocated when it is created, and again when an old sparse one
 * is opened: a disk that fills up later cannot fail a save (ext4, xfs, tmpfs). */
static void test_allocated(void **state)
{
    (void)state;
    struct stat sb;
    assert_int_equal(open_store(), LX_NV_CREATED);
    assert_int_equal(fstat(file.fd, &sb), 0);
    assert_true((uint64_t)sb.st_blocks * 512 >= 4096ull + msize);
    save(3);
    lx_nv_close(&file);
    /* Punch the rings out (as a store made before, or copied sparse): allocated again. */
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 3 * 4096,
                  (off_t)msize - 2 * 4096) == 0) {
        assert_int_equal(fstat(fd, &sb), 0);
        assert_true((uint64_t)sb.st_blocks * 512 < 4096ull + msize);
        close(fd);
        assert_int_equal(open_store(), LX_NV_OPENED);
        assert_int_equal(fstat(file.fd, &sb), 0);
        assert_true((uint64_t)sb.st_blocks * 512 >= 4096ull + msize);
        assert_int_equal(load_k(NULL), 3);
    } else {
        close(fd); /* a file system without holes: nothing to show */
    }
}

/* A full disk is told apart from other I/O errors: NV_ENOSPC through the core, and the
 * errno kept for the message. /dev/full fails every write with ENOSPC. */
static void test_disk_full(void **state)
{
    (void)state;
    lx_nv_file_t f = {.fd = open("/dev/full", O_RDWR), .size = msize};
    assert_true(f.fd >= 0);
    uint8_t buf[64] = {1};
    assert_int_equal(lx_nv_write(&f, 0, buf, sizeof buf), NV_ENOSPC);
    assert_int_equal(f.err, ENOSPC);
    nv_port_t p = {.ctx = &f, .read = lx_nv_read, .write = lx_nv_write, .sync = lx_nv_sync,
                   .size = msize};
    assert_int_equal(nv_open(&st, &p, &layout), NV_OK);
    state_of(1);
    nv_image_t img = {.meter = &meter, .identity = &ident};
    assert_int_equal(nv_save(&st, &img), NV_ENOSPC);
    assert_int_equal(nv_log_append(&st, 0, buf, NV_TL_RECORD_SIZE), NV_ENOSPC);
    /* Other failures stay I/O errors. */
    f.err = 0;
    close(f.fd);
    f.fd = open("/dev/null", O_RDONLY);
    assert_int_equal(lx_nv_write(&f, 0, buf, sizeof buf), -1);
    assert_int_equal(f.err, EBADF);
    assert_int_equal(nv_save(&st, &img), NV_EIO);
    close(f.fd);
}

static void test_sigkill(void **state)
{
    (void)state;
    srand(4100);
    uint32_t last_loaded = 0, last_log = 0;
    for (int round = 0; round < 60; round++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child(fds[1]);
        }
        close(fds[1]);
        struct timespec ts = {0, (long)(rand() % 20000) * 1000}; /* 0..20 ms */
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status)); /* it did not fail on its own */
        uint32_t acked_save = 0, acked_log = 0, msg[2];
        while (read(fds[0], msg, sizeof msg) == sizeof msg)
            *(msg[0] == 'S' ? &acked_save : &acked_log) = msg[1];
        close(fds[0]);

        assert_true(open_store() >= 0);
        long k = load_k(NULL);
        if (round == 0 && k == -NV_EMPTY - 1000)
            k = 0; /* killed before the first save completed */
        assert_true(k >= 0);
        /* Nothing acknowledged is lost, nothing unsaved appears, never backwards. */
        if (acked_save) {
            assert_true((uint32_t)k >= acked_save);
            assert_true((uint32_t)k <= acked_save + 1);
        }
        assert_true((uint32_t)k >= last_loaded);
        last_loaded = (uint32_t)k;
        logsum_t s = load_log(0);
        assert_true(s.in_order);
        if (acked_log)
            assert_true(s.last >= acked_log && s.last <= acked_log + 1);
        assert_true(s.last >= last_log);
        last_log = s.last;
        lx_nv_close(&file);
    }
    printf("sigkill: 60 kills, %u saves and %u log records survived in order\n", last_loaded, last_log);
    assert_true(last_loaded > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nosync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cannot_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_locked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_port_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allocated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigkill, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
