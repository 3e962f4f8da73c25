/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The connection table: per-connection TCP reassembly that turns segments into ordered bytes. */
#ifndef MP_FLOW_H
#define MP_FLOW_H

#include <stddef.h>
#include <stdint.h>
#include "lib/compat.h"

#include "capture_abi.h"

/*
 * A connection, normalised by side: both directions of one connection build the same key
 * because the segment's `dir` says which end is the server. IPv4 addresses use the first
 * four bytes; the rest stays zero so keys compare with memcmp.
 */
struct flow_key {
	uint8_t client_addr[16];
	uint8_t server_addr[16];
	uint16_t client_port;
	uint16_t server_port;
	uint8_t family; /* 4 or 6 */
	uint8_t pad[3];
};

/* Why a flow ended; passed to on_close. */
enum flow_close_reason {
	FLOW_CLOSE_FIN = 0,   /* FIN seen from both sides and every byte before them settled */
	FLOW_CLOSE_RST,	      /* RST from either side */
	FLOW_CLOSE_EXPIRED,   /* idle longer than idle_timeout_ns (segment time) */
	FLOW_CLOSE_EVICTED,   /* a SYN reused the 4-tuple of a flow that carried data */
	FLOW_CLOSE_SHUTDOWN,  /* flow_table_free() */
};

/*
 * Every callback runs synchronously inside flow_table_feed/expire/free, in the caller's
 * thread. A callback must not call back into the same table. `dir` is MP_DIR_*.
 * Between two on_data calls of one direction either nothing is missing or on_gap calls
 * say how many stream bytes were skipped: the consumer never sees guessed bytes.
 */
struct flow_callbacks {
	/* A new connection is tracked; the return value is passed back as `user`. midstream is
	 * 1 when no SYN was seen (the stream starts at the first captured data). May be NULL. */
	void *(*on_open)(void *ctx, const struct flow_key *k, uint64_t ts_ns, int midstream);
	/* In-order payload bytes of one direction. */
	void (*on_data)(void *ctx, void *user, int dir, const uint8_t *data, size_t len,
			uint64_t ts_ns);
	/* missing_bytes of the stream were never seen (lost, or cut at the snap length). */
	void (*on_gap)(void *ctx, void *user, int dir, uint64_t missing_bytes, uint64_t ts_ns);
	/* The flow is gone; release `user`. reason is enum flow_close_reason. */
	void (*on_close)(void *ctx, void *user, uint64_t ts_ns, int reason);
};

/* Bounds. A zero field takes the default given beside it (flow_config_default). */
struct flow_config {
	uint32_t max_connections;  /* tracked flows; default 65536 */
	uint32_t max_ooo_bytes;	   /* out-of-order buffer memory per flow; default 256 KiB */
	uint64_t max_ooo_total;	   /* out-of-order buffer memory, whole table; default 64 MiB */
	uint64_t idle_timeout_ns;  /* flow expiry; default 300 s */
	uint64_t hole_timeout_ns;  /* a hole older than this becomes a gap; default 1 s */
};

/*
 * What happened to the segments fed. Nothing is dropped without a count: a segment is
 * delivered (now or after buffering), counted old (retransmits), or refused (untracked,
 * table_full, malformed); stream bytes never seen are counted in gap_bytes.
 */
struct flow_counters {
	uint64_t segments;	   /* every segment fed */
	uint64_t bytes;		   /* sum of wire payload lengths fed */
	uint64_t delivered_bytes;  /* bytes passed to on_data */
	uint64_t retransmits;	   /* segments whose payload was entirely old: dropped */
	uint64_t overlaps;	   /* segments partly old or overlapping buffered data: trimmed */
	uint64_t retrans_bytes;	   /* old or duplicate payload bytes dropped */
	uint64_t out_of_order;	   /* segments buffered ahead of a hole */
	uint64_t gaps;		   /* on_gap calls */
	uint64_t gap_bytes;	   /* sum of missing_bytes */
	uint64_t gaps_timeout;	   /* gaps declared because a hole outlived hole_timeout_ns */
	uint64_t gaps_overflow;	   /* gaps declared because an out-of-order bound was hit */
	uint64_t gaps_acked;	   /* gaps declared because the peer acknowledged the hole */
	uint64_t ooo_dropped;	   /* segments partly not buffered for lack of room */
	uint64_t truncated;	   /* segments with caplen < len */
	uint64_t untracked;	   /* no flow and nothing to open one (pure FIN/RST/ACK) */
	uint64_t table_full;	   /* segments of connections refused at max_connections */
	uint64_t malformed;	   /* bad family, dir or caplen > len */
	uint64_t opened;	   /* flows created */
	uint64_t midstream;	   /* ...of which without a SYN */
	uint64_t closed_fin;
	uint64_t closed_rst;
	uint64_t expired;
	uint64_t evicted;
	uint64_t active;	   /* gauge: flows tracked now */
	uint64_t ooo_mem;	   /* gauge: out-of-order buffer memory held now */
};

struct flow_table;

/* Fills *cfg with the defaults. */
void flow_config_default(struct flow_config *cfg);

/* Builds the side-normalised key of a segment. Returns 0, or -EINVAL for a bad family/dir. */
int flow_key_from_seg(const struct mp_seg_hdr *h, struct flow_key *k);

/* Creates a table (cfg may be NULL for the defaults; cb must have on_data and on_gap).
 * Returns NULL with errno set (EINVAL, ENOMEM). */
struct flow_table *flow_table_new(const struct flow_config *cfg, const struct flow_callbacks *cb,
				  void *ctx);

/* Feeds one segment (h then h->caplen payload bytes). Callbacks fire before it returns.
 * Returns 0 when the segment was accounted for (including dropped-and-counted ones),
 * -EINVAL for a malformed header (counted too). Never allocates in the steady state. */
int flow_table_feed(struct flow_table *t, const struct mp_seg_hdr *h, const uint8_t *payload);

/* Declares gaps for holes older than hole_timeout_ns and closes flows idle longer than
 * idle_timeout_ns, both measured against now_ns in segment time (deterministic on replay). */
void flow_table_expire(struct flow_table *t, uint64_t now_ns);

/* Flushes and closes every flow (reason FLOW_CLOSE_SHUTDOWN); the table stays usable. */
void flow_table_close_all(struct flow_table *t);

/* Calls fn(arg, user) for every open flow; fn must not feed, expire or close flows. */
void flow_table_each(struct flow_table *t, void (*fn)(void *arg, void *user), void *arg);

/* flow_table_close_all(), then frees. Accepts NULL. */
void flow_table_free(struct flow_table *t);

/* The table's counters; valid until flow_table_free. */
const struct flow_counters *flow_table_counters(const struct flow_table *t);

/* Bytes of memory the table holds now: flow slabs, hash buckets, out-of-order chunks. */
size_t flow_table_mem(const struct flow_table *t);

#endif /* MP_FLOW_H */
