/*
 * The NV store in a file: a fixed-size file, a header page that says whose file it is,
 * then the medium that src/core/nv formats. write = pwrite, sync = fdatasync.
 */
#define _GNU_SOURCE
#include "port.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* The file header: written once when the file is created, never again. Two copies
 * (offsets 0 and 2048), so one damaged sector does not make the store unreadable.
 *   0  magic "S4100-NV" (8)   8 file format u32 (1)   12 header bytes u32 (4096)
 *  16  medium bytes u32      20 CRC-32 of bytes 0..19
 * The medium starts at 4096: a page, so slot writes do not share a page with it. */
#define HDR_SIZE 4096u
#define HDR_COPY 2048u
#define HDR_LEN 24u
#define FILE_FORMAT 1u
static const char magic[8] = {'S', '4', '1', '0', '0', '-', 'N', 'V'};

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void make_header(uint8_t h[HDR_LEN], uint32_t size)
{
    memcpy(h, magic, 8);
    put32(h + 8, FILE_FORMAT);
    put32(h + 12, HDR_SIZE);
    put32(h + 16, size);
    put32(h + 20, nv_crc32(0, h, 20));
}

/* Full pread. What lies past the end of a short (truncated) file reads as 0xA5: missing
 * data must look damaged, never blank, or a cut-off slot A beside a vanished slot B would
 * pass for an interrupted first save (an empty store). The loader still finds whatever
 * is intact before the cut. */
static int pread_full(int fd, void *buf, size_t n, off_t off)
{
    uint8_t *p = buf;
    while (n) {
        ssize_t k = pread(fd, p, n, off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        if (k == 0) {
            memset(p, 0xA5, n);
            return 0;
        }
        p += k, n -= (size_t)k, off += k;
    }
    return 0;
}

static int pwrite_full(int fd, const void *buf, size_t n, off_t off)
{
    const uint8_t *p = buf;
    while (n) {
        ssize_t k = pwrite(fd, p, n, off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        if (k == 0) {
            errno = ENOSPC; /* pwrite of nothing: no room */
            return -1;
        }
        p += k, n -= (size_t)k, off += k;
    }
    return 0;
}

int lx_nv_read(void *ctx, uint32_t off, void *buf, size_t n)
{
    lx_nv_file_t *f = ctx;
    if (off > f->size || n > f->size - off)
        return -1;
    return pread_full(f->fd, buf, n, (off_t)HDR_SIZE + off);
}

/* A failed write or sync as the core sees it: a full disk (or quota) is NV_ENOSPC. */
static int failed(lx_nv_file_t *f)
{
    f->err = errno ? errno : EIO;
    return f->err == ENOSPC || f->err == EDQUOT ? NV_ENOSPC : -1;
}

static int sync_now(lx_nv_file_t *f)
{
    /* fdatasync: the data and the size; the timestamps need not reach the disk. With
     * delayed allocation a full disk may only show here. */
    while (fdatasync(f->fd) < 0) {
        if (errno != EINTR)
            return failed(f);
    }
    f->dirty = f->pending = false;
    return 0;
}

int lx_nv_write(void *ctx, uint32_t off, const void *buf, size_t n)
{
    lx_nv_file_t *f = ctx;
    if (off > f->size || n > f->size - off)
        return -1;
    /* A save must not start while the one before it still waits for the flush: the
     * format survives a cut in one save, not in two. */
    if (f->pending) {
        f->group->forced++;
        int rc = sync_now(f);
        if (rc < 0)
            return rc;
    }
    errno = 0;
    if (pwrite_full(f->fd, buf, n, (off_t)HDR_SIZE + off) < 0)
        return failed(f);
    f->dirty = true;
    return 0;
}

int lx_nv_sync(void *ctx)
{
    lx_nv_file_t *f = ctx;
    if (f->nosync)
        return 0;
    if (f->defer && f->group && !f->group->off) {
        if (f->dirty && !f->pending)
            f->pending = true, f->group->deferred++;
        return 0;
    }
    return sync_now(f);
}

int lx_nv_group_add(lx_nv_group_t *g, lx_nv_file_t *f)
{
    if (g->n == g->cap) {
        unsigned cap = g->cap ? 2 * g->cap : 16;
        lx_nv_file_t **p = realloc(g->files, cap * sizeof *p);
        if (!p)
            return -1;
        g->files = p, g->cap = cap;
    }
    g->files[g->n++] = f;
    f->group = g;
    return 0;
}

unsigned lx_nv_group_pending(const lx_nv_group_t *g)
{
    unsigned n = 0;
    for (unsigned k = 0; k < g->n; k++)
        n += g->files[k]->pending;
    return n;
}

int lx_nv_group_flush(lx_nv_group_t *g)
{
    dev_t done[8];
    unsigned ndone = 0;
    int rc = 0;
    for (unsigned k = 0; k < g->n; k++) {
        lx_nv_file_t *f = g->files[k];
        struct stat st;
        if (!f->pending || f->fd < 0 || fstat(f->fd, &st) < 0)
            continue;
        bool seen = false;
        for (unsigned j = 0; j < ndone; j++)
            seen |= done[j] == st.st_dev;
        if (seen)
            continue;
        /* One syncfs for every store on this file system; past 8 of them, each file
         * syncs on its own (a host does not spread meters that far). */
        int r = ndone < 8 ? syncfs(f->fd) : fdatasync(f->fd);
        g->flushes++;
        if (r < 0) {
            f->err = errno;
            g->failures++;
            g->off = true;
            rc = -1;
        } else if (ndone < 8) {
            done[ndone++] = st.st_dev;
        } else {
            f->pending = f->dirty = false;
        }
    }
    for (unsigned k = 0; rc == 0 && k < g->n; k++) {
        lx_nv_file_t *f = g->files[k];
        struct stat st;
        if (!f->pending || fstat(f->fd, &st) < 0)
            continue;
        for (unsigned j = 0; j < ndone; j++)
            if (done[j] == st.st_dev)
                f->pending = f->dirty = false;
    }
    return rc;
}

void lx_nv_group_free(lx_nv_group_t *g)
{
    for (unsigned k = 0; k < g->n; k++)
        g->files[k]->group = NULL;
    free(g->files);
    g->files = NULL;
    g->n = g->cap = 0;
}

/* Allocate the file's blocks now: a save must not need disk space the disk may no
 * longer have. keep_size: do not extend a truncated file (its missing part must keep
 * reading as damage). 0, or the errno (a file system without fallocate is not one). */
static int allocate(int fd, off_t len, bool keep_size)
{
    if (fallocate(fd, keep_size ? FALLOC_FL_KEEP_SIZE : 0, 0, len) == 0)
        return 0;
    return errno == EOPNOTSUPP || errno == ENOSYS ? 0 : errno;
}

/* Create the file atomically: a zero-filled temporary with its header, synced, then
 * renamed into place. A crash leaves either no file or a complete new one. */
static int create(const char *path, uint32_t size, char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot create the NV store: %s", tmp, strerror(errno));
        return -1;
    }
    uint8_t h[HDR_LEN];
    make_header(h, size);
    int e = 0;
    if (ftruncate(fd, (off_t)HDR_SIZE + size) < 0 ||
        (e = allocate(fd, (off_t)HDR_SIZE + size, false)) != 0 ||
        pwrite_full(fd, h, HDR_LEN, 0) < 0 || pwrite_full(fd, h, HDR_LEN, HDR_COPY) < 0 ||
        fsync(fd) < 0 || rename(tmp, path) < 0) {
        snprintf(err, errlen, "%s: cannot create the NV store (%u bytes): %s", path,
                 (unsigned)(HDR_SIZE + size), strerror(e ? e : errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    /* Make the rename itself durable: sync the directory. */
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return fd;
}

/* Check the header copy at off: 1 good, 0 not ours (no magic), -1 damaged. */
static int header_ok(int fd, off_t off, uint8_t h[HDR_LEN])
{
    if (pread_full(fd, h, HDR_LEN, off) < 0)
        return -1;
    if (memcmp(h, magic, 8) != 0)
        return 0;
    return nv_crc32(0, h, 20) == get32(h + 20) ? 1 : -1;
}

int lx_nv_open(lx_nv_file_t *f, const char *path, uint32_t size, nv_port_t *port, char *err,
               size_t errlen)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    if (err && errlen)
        err[0] = '\0';
    int status = LX_NV_OPENED;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        if ((fd = create(path, size, err, errlen)) < 0)
            return -1;
        status = LX_NV_CREATED;
    } else if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open the NV store: %s", path, strerror(errno));
        return -1;
    }
    /* One meter per store: a second process writing the same slots would interleave. */
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        snprintf(err, errlen, "%s: NV store in use by another process (%s)", path,
                 strerror(errno));
        close(fd);
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    uint64_t want = (uint64_t)HDR_SIZE + size;
    if (st.st_size < (off_t)HDR_LEN) {
        snprintf(err, errlen,
                 "%s: %lld bytes, too short to be an s4100 NV store (truncated?); "
                 "not opened: move it away to start a new store",
                 path, (long long)st.st_size);
        close(fd);
        return -1;
    }
    uint8_t h[HDR_LEN];
    int a = header_ok(fd, 0, h);
    if (a != 1) {
        uint8_t h2[HDR_LEN];
        int b = (uint64_t)st.st_size >= HDR_COPY + HDR_LEN ? header_ok(fd, HDR_COPY, h2) : 0;
        if (b == 1) {
            memcpy(h, h2, HDR_LEN);
            snprintf(err, errlen, "%s: first header copy damaged, using the second", path);
            status = LX_NV_WARN;
        } else if (a == 0 && b == 0) {
            snprintf(err, errlen, "%s: not an s4100 NV store (no S4100-NV magic); not opened",
                     path);
            close(fd);
            return -1;
        } else {
            snprintf(err, errlen, "%s: NV store header damaged (CRC); not opened", path);
            close(fd);
            return -1;
        }
    }
    if (get32(h + 8) != FILE_FORMAT || get32(h + 12) != HDR_SIZE) {
        snprintf(err, errlen, "%s: NV store file format %u not supported; not opened", path,
                 (unsigned)get32(h + 8));
        close(fd);
        return -1;
    }
    if (get32(h + 16) != size) {
        snprintf(err, errlen,
                 "%s: NV store made for a %u-byte medium, this build uses %u bytes; "
                 "not opened",
                 path, (unsigned)get32(h + 16), (unsigned)size);
        close(fd);
        return -1;
    }
    if ((uint64_t)st.st_size > want) {
        snprintf(err, errlen, "%s: %lld bytes, an NV store of this layout has %llu; not opened",
                 path, (long long)st.st_size, (unsigned long long)want);
        close(fd);
        return -1;
    }
    if ((uint64_t)st.st_size < want) {
        /* Truncated: keep going. What is missing reads as damaged (see pread_full), so
         * the loader takes the newest intact state that remains, or says both slots are
         * bad; the next writes extend the file. */
        size_t used = strlen(err); /* after a header warning, if any */
        snprintf(err + used, errlen - used,
                 "%s%s: truncated (%lld of %llu bytes): what was past the end is lost",
                 used ? "; " : "", path, (long long)st.st_size, (unsigned long long)want);
        status = LX_NV_WARN;
    }
    /* A store made before files were allocated up front, or copied sparse: allocate it
     * now, while there is room (without extending a truncated one). */
    int e = allocate(fd, (off_t)want, true);
    if (e) {
        size_t used = strlen(err);
        snprintf(err + used, errlen - used,
                 "%s%s: cannot allocate the store's blocks (%s): saves may fail when the disk "
                 "is full", used ? "; " : "", path, strerror(e));
        status = LX_NV_WARN;
    }
    f->fd = fd;
    f->size = size;
    *port = (nv_port_t){.ctx = f, .read = lx_nv_read, .write = lx_nv_write,
                        .sync = lx_nv_sync, .size = size};
    return status;
}

void lx_nv_close(lx_nv_file_t *f)
{
    if (f->fd >= 0)
        close(f->fd); /* also releases the lock */
    f->fd = -1;
}
