// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer target for the flow table: random segment sequences over a few connections. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flow/flow.h"

/*
 * Input: 8-byte records, one segment each.
 *   b0: bits 0-1 connection, bit 2 dir, bit 3 IPv6, bit 4 call expire after, 0xe0 = bad family
 *   b1: bit 0 SYN, bit 1 FIN, bits 2+3 both = RST, bit 4 seq offset x16, bit 5 len up to 64K
 *   b2-3: seq offset from the direction's base; b4-5: len; b6: >= 200 truncates; b7: ms later
 * Every stream byte is the low byte of its sequence number, so the consumer can check that
 * what it gets is in order and that gaps are counted exactly (modulo 256), without knowing
 * the sequence numbers: never guessed, never duplicated, never reordered.
 */

#define FZ_MAX_CONN 3
#define FZ_OOO 8192
#define FZ_OOO_TOTAL 16384

struct fz_dir {
	int known;
	uint8_t expect;
};

struct fz_flow {
	struct fz_dir d[2];
	int closed;
};

struct fz {
	uint64_t fed_caplen;
	uint64_t delivered;
	uint64_t opened, closed;
};

static void *fz_open(void *ctx, const struct flow_key *k, uint64_t ts, int midstream)
{
	struct fz *z = ctx;

	z->opened++;
	return calloc(1, sizeof(struct fz_flow));
}

static void fz_data(void *ctx, void *user, int dir, const uint8_t *data, size_t len, uint64_t ts)
{
	struct fz *z = ctx;
	struct fz_flow *f = user;
	struct fz_dir *d;
	size_t i;

	if (!f || f->closed || !len || (dir != 0 && dir != 1))
		abort();
	d = &f->d[dir];
	for (i = 0; i < len; i++) {
		if (d->known && data[i] != d->expect)
			abort();
		d->known = 1;
		d->expect = data[i] + 1;
	}
	z->delivered += len;
}

static void fz_gap(void *ctx, void *user, int dir, uint64_t missing, uint64_t ts)
{
	struct fz_flow *f = user;

	if (!f || f->closed || !missing || (dir != 0 && dir != 1))
		abort();
	f->d[dir].expect += (uint8_t)missing;
}

static void fz_close(void *ctx, void *user, uint64_t ts, int reason)
{
	struct fz *z = ctx;
	struct fz_flow *f = user;

	if (!f || f->closed)
		abort();
	z->closed++;
	free(f);
}

static const struct flow_callbacks fz_cb = {
	.on_open = fz_open, .on_data = fz_data, .on_gap = fz_gap, .on_close = fz_close,
};

static uint8_t payload[MP_MAX_CAPLEN];

static void fz_seg(struct mp_seg_hdr *h, const uint8_t *b, uint64_t ts)
{
	int conn = b[0] & 3, dir = (b[0] >> 2) & 1, v6 = (b[0] >> 3) & 1;
	uint32_t base = 0xffff8000u + (uint32_t)conn * 0x01000000u + (uint32_t)dir * 0x10000000u;
	uint32_t off = (uint32_t)b[2] | (uint32_t)b[3] << 8;
	uint32_t len = (uint32_t)b[4] | (uint32_t)b[5] << 8;

	memset(h, 0, sizeof(*h));
	h->family = (b[0] & 0xe0) == 0xe0 ? 5 : v6 ? 6 : 4;
	h->saddr[0] = dir ? 2 : 1;
	h->daddr[0] = dir ? 1 : 2;
	h->saddr[15] = h->daddr[15] = (uint8_t)conn;
	h->sport = dir ? 3306 : 40000 + conn;
	h->dport = dir ? 40000 + conn : 3306;
	h->dir = dir;
	h->seq = base + (b[1] & 0x10 ? off * 16 : off);
	h->len = b[1] & 0x20 ? len : len % 3000;
	h->caplen = b[6] >= 200 ? (uint32_t)((uint64_t)h->len * (b[6] - 200) / 56) : h->len;
	h->tcp_flags = MP_TCP_ACK | (b[1] & 1 ? MP_TCP_SYN : 0) | (b[1] & 2 ? MP_TCP_FIN : 0) |
		       ((b[1] & 0x0c) == 0x0c ? MP_TCP_RST : 0);
	h->ts_ns = ts;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct flow_config cfg = {
		.max_connections = FZ_MAX_CONN,
		.max_ooo_bytes = FZ_OOO,
		.max_ooo_total = FZ_OOO_TOTAL,
		.idle_timeout_ns = 2000000000ull,
		.hole_timeout_ns = 50000000ull,
	};
	struct fz z = { 0 };
	struct flow_table *t = flow_table_new(&cfg, &fz_cb, &z);
	const struct flow_counters *k;
	uint64_t ts = 1000000000ull;
	size_t i, mem_bound;

	if (!t)
		abort();
	k = flow_table_counters(t);
	/* Table, buckets (next power of two), one slab, the whole buffer pool. */
	mem_bound = flow_table_mem(t) + 256 * 512 + FZ_OOO_TOTAL;
	for (i = 0; i + 8 <= size; i += 8) {
		const uint8_t *b = data + i;
		struct mp_seg_hdr h;
		uint32_t j;

		ts += b[7] == 255 ? -10000000ull : b[7] * 1000000ull;
		fz_seg(&h, b, ts);
		/* Stream byte at sequence s is (uint8_t)s; SYN data starts at seq + 1. */
		for (j = 0; j < h.caplen; j++)
			payload[j] = (uint8_t)(h.seq + (h.tcp_flags & MP_TCP_SYN ? 1 : 0) + j);
		if (h.family != 5)
			z.fed_caplen += h.caplen;
		flow_table_feed(t, &h, payload);
		if (b[0] & 0x10)
			flow_table_expire(t, ts);
		if (z.delivered > z.fed_caplen || k->delivered_bytes != z.delivered)
			abort();
		if (k->active > FZ_MAX_CONN || k->ooo_mem > FZ_OOO_TOTAL ||
		    flow_table_mem(t) > mem_bound)
			abort();
	}
	flow_table_free(t);
	if (z.opened != z.closed)
		abort();
	return 0;
}
