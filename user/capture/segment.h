/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The segment record every source delivers, the sink it is delivered to, and its text forms. */
#ifndef MP_SEGMENT_H
#define MP_SEGMENT_H

#include <stddef.h>
#include <stdio.h>
#include "lib/compat.h"

#include "capture_abi.h"

/*
 * Where a source delivers segments. payload holds hdr->caplen bytes and, like
 * hdr, is valid only during the call. ts_ns is CLOCK_REALTIME by then (sources
 * convert). Returns 0 or -errno; an error stops the source's current poll.
 */
struct seg_sink {
	int (*fn)(void *ctx, const struct mp_seg_hdr *hdr, const __u8 *payload);
	void *ctx;
};

/* Counter names as printed and exported, indexed by enum mp_counter. */
extern const char *const mp_counter_names[MP_CNT_MAX];

/* Formats "ip:port" ("[v6]:port" for IPv6) into buf; returns buf. */
char *seg_addr_str(const __u8 *addr, __u8 family, __u16 port, char *buf, size_t len);

/* TCP flags as tcpdump letters (F S R P U, '.' for ACK); returns buf. */
char *seg_flags_str(__u8 flags, char *buf, size_t len);

/* Writes one JSON line describing the segment (--output segments). Returns 0 or -EIO. */
int seg_print_json(FILE *out, const struct mp_seg_hdr *hdr);

/* Prints "capture: seen=N kept=N ..." on one line. */
void seg_print_counters(FILE *out, const char *prefix, const __u64 cnt[MP_CNT_MAX]);

#endif /* MP_SEGMENT_H */
