/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* One direction's MySQL packet framing: headers, >16 MiB joins, compression, resync. */
#ifndef MP_MYSQL_PACKET_H
#define MP_MYSQL_PACKET_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/* A logical packet: physical packets of 0xffffff bytes joined with the next. */
struct mysql_pkt {
	const uint8_t *data; /* the first kept payload bytes */
	size_t kept;	     /* <= the framer's keep cap */
	uint64_t len;	     /* full payload length */
	uint64_t wire;	     /* bytes including every packet header */
	uint64_t ts_first;   /* ns, chunk holding the first header byte */
	uint64_t ts_last;    /* ns, chunk holding the last payload byte */
	uint8_t seq;	     /* sequence id of the first physical packet */
};

/* Verdicts of mysql_framer_ops.probe. */
#define MP_PROBE_NO 0	/* no packet starts at buf[0] */
#define MP_PROBE_YES 1	/* a packet starts at buf[0] */
#define MP_PROBE_MORE 2 /* need more bytes to decide (only while n < MP_PROBE_WIN) */
#define MP_PROBE_WIN 16

struct mysql_framer_ops {
	/* A complete logical packet; p->data is valid only during the call. */
	void (*packet)(void *ctx, int dir, const struct mysql_pkt *p);
	/* Header of a new logical packet: return 0 to reject (the framer resyncs). */
	int (*header_ok)(void *ctx, int dir, uint8_t seq, uint32_t len);
	/* While resynchronising: does a packet start at buf[0] (n bytes, n <= MP_PROBE_WIN)? */
	int (*probe)(void *ctx, int dir, const uint8_t *buf, size_t n);
};

struct mysql_framer {
	const struct mysql_framer_ops *ops;
	void *ctx;
	int dir;
	size_t keep; /* payload bytes kept per logical packet */
	int resync;  /* scanning for a plausible packet start */
	int stopped; /* no further decoding (TLS, fatal error) */
	int compress; /* compressed protocol framing is on */
	int zsync;    /* compressed, unaligned: waits for a chunk starting a compressed packet */
	/* plain packet layer */
	uint8_t hdr[4];
	uint8_t hdr_have;
	int cont; /* inside a logical packet made of several physical ones */
	uint32_t plen, pgot;
	struct mysql_pkt cur;
	struct buf body;
	/* resync window */
	uint8_t win[MP_PROBE_WIN];
	uint8_t win_have;
	/* compressed layer (Compressed Packet: 3-byte length, seq, 3-byte uncompressed length) */
	uint8_t chdr[7];
	uint8_t chdr_have;
	uint32_t clen, cgot, ulen, uout;
	void *zs; /* z_stream, allocated on first compressed packet */
	uint8_t *zout;
	/* counters */
	uint64_t skipped_bytes; /* bytes dropped while resynchronising */
	uint64_t errors;	/* framing errors (bad header, bad zlib) */
};

/* Prepares f for direction dir; keep caps the payload bytes buffered per packet. */
void mysql_framer_init(struct mysql_framer *f, const struct mysql_framer_ops *ops, void *ctx,
		       int dir, size_t keep);
/* Frees what the framer allocated; f may be zeroed. */
void mysql_framer_free(struct mysql_framer *f);
/* Feeds in-order bytes; packets come out through ops->packet. Never fails:
 * errors are counted and lead to a resync. */
void mysql_framer_feed(struct mysql_framer *f, const uint8_t *data, size_t len, uint64_t ts);
/* Drops any partial packet and scans for the next plausible packet start (compressed: the
 * next chunk that starts with a compressed packet mysql_framer_comp_probe accepts). */
void mysql_framer_resync(struct mysql_framer *f);

/*
 * Whether data[0..len), the start of a chunk (a TCP segment), starts with a compressed packet
 * (Compressed Packet header, then its payload as is or as a zlib stream) whose content reads
 * as MySQL packets: the zlib stream inflates (to exactly the announced length when the whole
 * packet is in the chunk and inflates to at most 16 KiB), and the packet headers inside chain
 * up to that length. inner: the first packet inside must also pass ops->probe. Returns 1 yes,
 * 0 no. Pure apart from f's inflate buffer; never fails (out of memory is a no).
 */
int mysql_framer_comp_probe(struct mysql_framer *f, const uint8_t *data, size_t len, int inner);

/* Switches f to compressed framing aligned at the start of the next byte fed (a chunk
 * mysql_framer_comp_probe accepted); the packets inside are looked for as after a resync. */
void mysql_framer_comp_start(struct mysql_framer *f);

#endif /* MP_MYSQL_PACKET_H */
