/*
 * Captures of MS/TP frames in pcap files, link type 165 (DLT_BACNET_MS_TP), through
 * libpcap: a "dead" handle for the link type and a dumper on the file.
 */
#define _GNU_SOURCE
#include "port.h"

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef DLT_BACNET_MS_TP
#define DLT_BACNET_MS_TP 165
#endif

struct lx_pcap {
    pcap_t *dead;
    pcap_dumper_t *dump;
    uint64_t frames;
};

lx_pcap_t *lx_pcap_open(const char *path, char *err, size_t errlen)
{
    lx_pcap_t *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    p->dead = pcap_open_dead(DLT_BACNET_MS_TP, 65535);
    if (!p->dead) {
        snprintf(err, errlen, "%s: pcap_open_dead failed", path);
        free(p);
        return NULL;
    }
    p->dump = pcap_dump_open(p->dead, path);
    if (!p->dump) {
        snprintf(err, errlen, "%s", pcap_geterr(p->dead));
        pcap_close(p->dead);
        free(p);
        return NULL;
    }
    return p;
}

void lx_pcap_frame(void *pcap, uint64_t t_us, const uint8_t *frame, size_t n)
{
    lx_pcap_t *p = pcap;
    struct pcap_pkthdr h;
    memset(&h, 0, sizeof h);
    h.ts.tv_sec = (time_t)(t_us / 1000000u);
    h.ts.tv_usec = (suseconds_t)(t_us % 1000000u);
    h.caplen = h.len = (bpf_u_int32)n;
    pcap_dump((u_char *)p->dump, &h, frame);
    /* Frames are few and small: flush each, so the file is whole whenever it stops. */
    pcap_dump_flush(p->dump);
    p->frames++;
}

uint64_t lx_pcap_frames(const lx_pcap_t *p)
{
    return p->frames;
}

void lx_pcap_close(lx_pcap_t *p)
{
    if (!p)
        return;
    pcap_dump_close(p->dump);
    pcap_close(p->dead);
    free(p);
}
