// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* One direction's MySQL packet framing: headers, >16 MiB joins, compression, resync. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "mysql/mysql_packet.h"
#include "mysql/mysql_proto.h"

/* Inflate output is fed to the plain layer in pieces of this size. */
#define ZOUT_SIZE (16 * 1024)
/* A packet buffer grown past this by one large packet is freed after it. */
#define BODY_SHRINK (64 * 1024)

static void dispatch(struct mysql_framer *f, const uint8_t *data, size_t len, uint64_t ts);
static size_t raw_feed(struct mysql_framer *f, const uint8_t *d, size_t n, uint64_t ts);

void mysql_framer_init(struct mysql_framer *f, const struct mysql_framer_ops *ops, void *ctx,
		       int dir, size_t keep)
{
	memset(f, 0, sizeof(*f));
	f->ops = ops;
	f->ctx = ctx;
	f->dir = dir;
	f->keep = keep;
	f->resync = 1; /* until told otherwise nothing is known about alignment */
}

void mysql_framer_free(struct mysql_framer *f)
{
	if (!f)
		return;
	if (f->zs) {
		inflateEnd(f->zs);
		free(f->zs);
	}
	free(f->zout);
	buf_free(&f->body);
	f->zs = NULL;
	f->zout = NULL;
}

void mysql_framer_resync(struct mysql_framer *f)
{
	f->hdr_have = 0;
	f->cont = 0;
	f->win_have = 0;
	buf_reset(&f->body);
	f->resync = 1;
	/* A compressed stream has no markers inside: it realigns at a chunk (segment) start
	 * that begins with a verified compressed packet, and its packets are looked for there. */
	if (f->compress)
		f->zsync = 1;
}

/* A plain header rejected inside a compressed payload: only the plain layer rescans. */
static void plain_resync(struct mysql_framer *f)
{
	f->hdr_have = 0;
	f->cont = 0;
	f->win_have = 0;
	buf_reset(&f->body);
	f->resync = 1;
}

/* Plain packet headers in u[0..have) chain up to ulen (the last may run past it: a packet
 * continued in the next compressed packet). whole: have == ulen, the chain must reach it. */
static int chain_ok(const uint8_t *u, size_t have, uint32_t ulen, int whole)
{
	size_t off = 0;
	int n = 0;

	while (off + MYSQL_HDR_LEN <= have) {
		size_t next = off + MYSQL_HDR_LEN + mp_u24(u + off);

		n++;
		if (next >= ulen)
			return 1;
		off = next;
	}
	return n > 0 && !whole;
}

/* Inflates the start of a zlib payload into f->zout; returns the bytes out, -1 if not zlib. */
static long comp_probe_inflate(struct mysql_framer *f, const uint8_t *z, size_t avail,
			       uint32_t clen, uint32_t ulen)
{
	z_stream zs;
	size_t have;
	int r;

	/* RFC 1950 header: deflate, and the check bits make it a multiple of 31. */
	if (avail < 2 || z[0] != 0x78 || ((z[0] << 8) | z[1]) % 31)
		return -1;
	if (!f->zout && !(f->zout = malloc(ZOUT_SIZE)))
		return -1;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit(&zs) != Z_OK)
		return -1;
	zs.next_in = (Bytef *)z;
	zs.avail_in = avail;
	zs.next_out = f->zout;
	zs.avail_out = ZOUT_SIZE;
	r = inflate(&zs, Z_SYNC_FLUSH);
	have = ZOUT_SIZE - zs.avail_out;
	inflateEnd(&zs);
	if ((r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR) || have > ulen)
		return -1;
	/* All of it here and small enough: it must inflate to exactly ulen. */
	if (avail == clen && ulen <= ZOUT_SIZE && (r != Z_STREAM_END || have != ulen))
		return -1;
	return (long)have;
}

int mysql_framer_comp_probe(struct mysql_framer *f, const uint8_t *d, size_t n, int inner)
{
	uint32_t clen, ulen;
	size_t avail, have;
	const uint8_t *u;
	long got;

	if (n < MYSQL_COMP_HDR_LEN + MYSQL_HDR_LEN)
		return 0;
	clen = mp_u24(d);
	ulen = mp_u24(d + 4);
	if (clen < MYSQL_HDR_LEN)
		return 0;
	avail = n - MYSQL_COMP_HDR_LEN < clen ? n - MYSQL_COMP_HDR_LEN : clen;
	if (!ulen) {
		/* Sent as is (short payloads): plain packets right after the header. */
		u = d + MYSQL_COMP_HDR_LEN;
		have = avail;
		ulen = clen;
	} else {
		got = comp_probe_inflate(f, d + MYSQL_COMP_HDR_LEN, avail, clen, ulen);
		if (got < 0)
			return 0;
		u = f->zout;
		have = got;
	}
	if (!chain_ok(u, have, ulen, have == ulen))
		return 0;
	if (inner) {
		size_t k = have < MP_PROBE_WIN ? have : MP_PROBE_WIN;

		return f->ops->probe(f->ctx, f->dir, u, k) == MP_PROBE_YES;
	}
	return 1;
}

void mysql_framer_comp_start(struct mysql_framer *f)
{
	f->compress = 1;
	f->zsync = 0;
	f->chdr_have = 0;
	plain_resync(f);
}

static void deliver(struct mysql_framer *f, const uint8_t *data, size_t kept, uint64_t ts)
{
	f->cur.data = data;
	f->cur.kept = kept;
	f->cur.ts_last = ts;
	f->hdr_have = 0;
	f->cont = 0;
	f->ops->packet(f->ctx, f->dir, &f->cur);
	buf_reset_shrink(&f->body, BODY_SHRINK);
}

/* Starts a physical packet from a complete header; 0, or -1 when rejected. */
static int start_packet(struct mysql_framer *f, const uint8_t *h, uint64_t ts)
{
	f->plen = mp_u24(h);
	f->pgot = 0;
	if (!f->cont) {
		if (!f->ops->header_ok(f->ctx, f->dir, h[3], f->plen)) {
			f->errors++;
			return -1;
		}
		f->cur.seq = h[3];
		f->cur.len = 0;
		f->cur.wire = 0;
		f->cur.ts_first = ts;
		buf_reset(&f->body);
	}
	f->cur.wire += MYSQL_HDR_LEN;
	return 0;
}

/* Rejected header: rescan from its second byte so no packet start is skipped. */
static void reject_header(struct mysql_framer *f, const uint8_t *h)
{
	plain_resync(f);
	f->skipped_bytes++;
	memcpy(f->win, h + 1, MYSQL_HDR_LEN - 1);
	f->win_have = MYSQL_HDR_LEN - 1;
}

/* Plain layer, aligned: consumes bytes of the current packet. Returns bytes used. */
static size_t parse_step(struct mysql_framer *f, const uint8_t *d, size_t n, uint64_t ts)
{
	size_t used = 0, take, room;

	if (f->hdr_have == 0 && !f->cont && n >= MYSQL_HDR_LEN) {
		/* Fast path: the whole packet is in this chunk, deliver it in place. */
		uint32_t plen = mp_u24(d);

		if (plen < MYSQL_MAX_PACKET && n - MYSQL_HDR_LEN >= plen) {
			if (start_packet(f, d, ts)) {
				reject_header(f, d);
				return MYSQL_HDR_LEN;
			}
			f->cur.len = plen;
			f->cur.wire += plen;
			deliver(f, d + MYSQL_HDR_LEN, plen < f->keep ? plen : f->keep, ts);
			return MYSQL_HDR_LEN + plen;
		}
	}
	if (f->hdr_have < MYSQL_HDR_LEN) {
		take = MYSQL_HDR_LEN - f->hdr_have;
		take = take < n ? take : n;
		memcpy(f->hdr + f->hdr_have, d, take);
		f->hdr_have += take;
		used = take;
		if (f->hdr_have < MYSQL_HDR_LEN)
			return used;
		if (start_packet(f, f->hdr, ts)) {
			uint8_t h[MYSQL_HDR_LEN];

			memcpy(h, f->hdr, sizeof(h));
			reject_header(f, h);
			return used;
		}
	}
	take = f->plen - f->pgot;
	take = take < n - used ? take : n - used;
	room = f->body.len < f->keep ? f->keep - f->body.len : 0;
	room = room < take ? room : take;
	/* Out of memory only shortens what is kept; the length stays exact. */
	if (room && buf_append(&f->body, d + used, room))
		f->errors++;
	f->pgot += take;
	f->cur.len += take;
	f->cur.wire += take;
	used += take;
	if (f->pgot == f->plen) {
		f->hdr_have = 0;
		if (f->plen == MYSQL_MAX_PACKET)
			f->cont = 1; /* Sending More Than 16Mb: the next packet continues */
		else
			deliver(f, (const uint8_t *)f->body.data, f->body.len, ts);
	}
	return used;
}

/* Plain layer, resynchronising: slides a window over the bytes until the probe
 * accepts a packet start, then replays the window through the aligned path. */
static size_t resync_step(struct mysql_framer *f, const uint8_t *d, size_t n, uint64_t ts)
{
	size_t take = MP_PROBE_WIN - f->win_have;
	uint8_t replay[MP_PROBE_WIN];

	take = take < n ? take : n;
	memcpy(f->win + f->win_have, d, take);
	f->win_have += take;
	while (f->win_have) {
		int v = f->ops->probe(f->ctx, f->dir, f->win, f->win_have);

		if (f->stopped)
			return n;
		if (v == MP_PROBE_YES) {
			size_t k = f->win_have;

			memcpy(replay, f->win, k);
			f->win_have = 0;
			f->resync = 0;
			f->hdr_have = 0;
			f->cont = 0;
			/* Compressed: these are inflated bytes already, for the plain layer. */
			if (f->compress)
				raw_feed(f, replay, k, ts);
			else
				dispatch(f, replay, k, ts);
			return take;
		}
		if (v == MP_PROBE_MORE && f->win_have < MP_PROBE_WIN)
			return take;
		memmove(f->win, f->win + 1, --f->win_have);
		f->skipped_bytes++;
	}
	return take;
}

/* Plain layer entry: returns bytes used, which is less than n only when the
 * decoder switched compression on (the rest is compressed) or stopped. */
static size_t raw_feed(struct mysql_framer *f, const uint8_t *d, size_t n, uint64_t ts)
{
	size_t off = 0;
	int compress = f->compress;

	while (off < n && !f->stopped && f->compress == compress) {
		if (f->resync)
			off += resync_step(f, d + off, n - off, ts);
		else
			off += parse_step(f, d + off, n - off, ts);
	}
	return f->stopped ? n : off;
}

static int zinit(struct mysql_framer *f)
{
	z_stream *zs;

	if (f->zs)
		return inflateReset(f->zs) == Z_OK ? 0 : -1;
	zs = calloc(1, sizeof(*zs));
	if (!f->zout)
		f->zout = malloc(ZOUT_SIZE); /* mysql_framer_comp_probe may have made it */
	if (!zs || !f->zout || inflateInit(zs) != Z_OK) {
		free(zs);
		return -1;
	}
	f->zs = zs;
	return 0;
}

/* Inflates part of a compressed payload and feeds the output to the plain layer. */
static int inflate_chunk(struct mysql_framer *f, const uint8_t *d, size_t n, uint64_t ts)
{
	z_stream *zs = f->zs;

	zs->next_in = (Bytef *)d;
	zs->avail_in = n;
	do {
		int r;
		size_t out;

		zs->next_out = f->zout;
		zs->avail_out = ZOUT_SIZE;
		r = inflate(zs, Z_NO_FLUSH);
		out = ZOUT_SIZE - zs->avail_out;
		if (r != Z_OK && r != Z_STREAM_END && !(r == Z_BUF_ERROR && !out))
			return -1;
		if (out > f->ulen - f->uout)
			return -1; /* more than the header announced */
		f->uout += out;
		raw_feed(f, f->zout, out, ts);
		if (f->stopped)
			return 0;
		if (r == Z_STREAM_END && zs->avail_in)
			return -1;
		if (!out && !zs->avail_in)
			break;
	} while (zs->avail_in || zs->avail_out == 0);
	return 0;
}

/* Compressed layer: consumes everything it is given. */
static void comp_feed(struct mysql_framer *f, const uint8_t *d, size_t n, uint64_t ts)
{
	while (n && !f->stopped) {
		size_t take;

		if (f->chdr_have < MYSQL_COMP_HDR_LEN) {
			take = MYSQL_COMP_HDR_LEN - f->chdr_have;
			take = take < n ? take : n;
			memcpy(f->chdr + f->chdr_have, d, take);
			f->chdr_have += take;
			d += take;
			n -= take;
			if (f->chdr_have < MYSQL_COMP_HDR_LEN)
				return;
			f->clen = mp_u24(f->chdr);
			f->ulen = mp_u24(f->chdr + 4);
			f->cgot = f->uout = 0;
			if (f->ulen && zinit(f)) {
				f->errors++;
				f->stopped = 1;
				return;
			}
		}
		take = f->clen - f->cgot;
		take = take < n ? take : n;
		/* An uncompressed length of 0 means the payload was sent as is. */
		if (!f->ulen)
			raw_feed(f, d, take, ts);
		else if (take && inflate_chunk(f, d, take, ts)) {
			f->errors++;
			f->stopped = 1;
			return;
		}
		f->cgot += take;
		d += take;
		n -= take;
		if (f->cgot == f->clen)
			f->chdr_have = 0;
	}
}

static void dispatch(struct mysql_framer *f, const uint8_t *data, size_t len, uint64_t ts)
{
	while (len && !f->stopped) {
		size_t used;

		if (f->compress) {
			comp_feed(f, data, len, ts);
			return;
		}
		used = raw_feed(f, data, len, ts);
		data += used;
		len -= used;
	}
}

void mysql_framer_feed(struct mysql_framer *f, const uint8_t *data, size_t len, uint64_t ts)
{
	if (f->zsync) {
		if (!mysql_framer_comp_probe(f, data, len, 0)) {
			f->skipped_bytes += len;
			return;
		}
		mysql_framer_comp_start(f);
	}
	dispatch(f, data, len, ts);
}
