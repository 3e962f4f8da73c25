// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* TCP reassembly per connection: the flow table, sequence tracking and the out-of-order buffer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "flow/flow.h"

/* Flows come from slabs kept on a free list, so opening a flow in the steady state does not
 * call malloc; slabs are only returned by flow_table_free. */
#define FLOW_SLAB_FLOWS 256

/*
 * Out-of-order data lives in fixed-size chunks recycled through a free list: no malloc per
 * segment once the pool has grown, and memory is accounted in whole chunks, which is what
 * the bounds are about. 2 KiB holds one Ethernet-MTU segment; a 64 KiB GSO segment takes 33.
 */
#define OOO_CHUNK_SIZE 2048

/* A segment claiming more than this is not TCP from any NIC we know (BIG TCP included). */
#define FLOW_MAX_SEG_LEN (16u << 20)

#define FLOW_DEF_MAX_CONNECTIONS 65536
#define FLOW_DEF_MAX_OOO_BYTES (256u << 10)
#define FLOW_DEF_MAX_OOO_TOTAL (64ull << 20)
#define FLOW_DEF_IDLE_TIMEOUT_NS (300ull * 1000000000ull)
#define FLOW_DEF_HOLE_TIMEOUT_NS (1000000000ull)

struct ooo_chunk {
	struct ooo_chunk *next;
	uint64_t ts_ns; /* arrival of the segment this came from */
	uint32_t seq;
	uint32_t len;
	uint32_t lost; /* no data: these bytes were cut at the snap length */
	uint32_t pad;
	uint8_t data[];
};

#define OOO_CHUNK_DATA (OOO_CHUNK_SIZE - offsetof(struct ooo_chunk, data))

/* Intrusive circular list; a node linked to itself is in no list. */
struct dlist {
	struct dlist *prev, *next;
};

#define DIR_SYNCED 0x1 /* next_seq is valid */
#define DIR_FIN 0x2    /* FIN seen; fin_seq is valid */
#define DIR_DATA 0x4   /* payload seen: a SYN now means the 4-tuple was reused */

struct flow_dir {
	/* Sorted by seq, non-overlapping, every chunk strictly after next_seq. */
	struct ooo_chunk *ooo;
	uint64_t hole_since_ns; /* arrival of the oldest chunk still waiting */
	uint32_t next_seq;
	uint32_t fin_seq;
	uint32_t flags;
	uint32_t pad;
};

struct flow {
	struct flow *hnext;   /* hash chain, or free list */
	struct dlist lru;     /* table->lru, least recently seen first */
	struct dlist pending; /* table->pending while a hole or an unsettled FIN waits */
	void *user;
	uint64_t hash;
	uint64_t last_ts;
	uint64_t fin_ts; /* when the second FIN was seen */
	uint32_t ooo_mem;
	uint32_t pad;
	struct flow_key key;
	struct flow_dir dir[2];
};

struct flow_slab {
	struct flow_slab *next;
	struct flow flows[FLOW_SLAB_FLOWS];
};

/*
 * Connections closed by FIN or RST lately, by key hash: a data segment of theirs that reaches
 * the table after the close (the two directions can come through the capture in a different
 * order than they crossed the wire) is a straggler, not a connection joined mid-stream. A
 * reused 4-tuple starts with a SYN and is not affected.
 */
#define FLOW_CLOSED_SLOTS 256
#define FLOW_CLOSED_NS (2000ull * 1000000)

struct closed_slot {
	uint64_t hash, ts;
};

struct flow_table {
	struct flow_config cfg;
	struct flow_callbacks cb;
	void *ctx;
	struct flow **buckets;
	uint64_t mask;
	struct flow *free_flows;
	struct flow_slab *slabs;
	size_t nslabs;
	struct ooo_chunk *free_chunks;
	size_t nchunks; /* allocated, in use or free */
	struct dlist lru;
	struct dlist pending;
	struct flow_counters cnt;
	uint64_t now_ns; /* newest segment or expiry time seen: when a shutdown closes flows */
	struct closed_slot closed[FLOW_CLOSED_SLOTS];
};

#define flow_of(ptr, member) ((struct flow *)((char *)(ptr) - offsetof(struct flow, member)))

static void dl_init(struct dlist *n)
{
	n->prev = n->next = n;
}

static int dl_linked(const struct dlist *n)
{
	return n->next != n;
}

static void dl_del(struct dlist *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	dl_init(n);
}

static void dl_add_tail(struct dlist *head, struct dlist *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

/* Sequence numbers wrap at 2^32: compare by the sign of the 32-bit difference (RFC 793 §3.3). */
static inline int seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static inline int seq_leq(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}

static inline uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* Segment time may step back a little (per-CPU ring buffers); never let that look like ages. */
static inline int elapsed(uint64_t now, uint64_t since, uint64_t limit)
{
	return now > since && now - since >= limit;
}

void flow_config_default(struct flow_config *cfg)
{
	cfg->max_connections = FLOW_DEF_MAX_CONNECTIONS;
	cfg->max_ooo_bytes = FLOW_DEF_MAX_OOO_BYTES;
	cfg->max_ooo_total = FLOW_DEF_MAX_OOO_TOTAL;
	cfg->idle_timeout_ns = FLOW_DEF_IDLE_TIMEOUT_NS;
	cfg->hole_timeout_ns = FLOW_DEF_HOLE_TIMEOUT_NS;
}

int flow_key_from_seg(const struct mp_seg_hdr *h, struct flow_key *k)
{
	const uint8_t *ca, *sa;
	uint16_t cp, sp;
	size_t alen;

	if (h->family == 4)
		alen = 4;
	else if (h->family == 6)
		alen = 16;
	else
		return -EINVAL;
	if (h->dir == MP_DIR_TO_SERVER) {
		ca = h->saddr, cp = h->sport;
		sa = h->daddr, sp = h->dport;
	} else if (h->dir == MP_DIR_TO_CLIENT) {
		ca = h->daddr, cp = h->dport;
		sa = h->saddr, sp = h->sport;
	} else {
		return -EINVAL;
	}
	memset(k, 0, sizeof(*k));
	memcpy(k->client_addr, ca, alen);
	memcpy(k->server_addr, sa, alen);
	k->client_port = cp;
	k->server_port = sp;
	k->family = h->family;
	return 0;
}

/* ---- callbacks out ---- */

static void emit_data(struct flow_table *t, struct flow *f, int dir, const uint8_t *data,
		      uint32_t len, uint64_t ts)
{
	if (!len)
		return;
	t->cnt.delivered_bytes += len;
	t->cb.on_data(t->ctx, f->user, dir, data, len, ts);
}

static void emit_gap(struct flow_table *t, struct flow *f, int dir, uint32_t len, uint64_t ts)
{
	if (!len)
		return;
	t->cnt.gaps++;
	t->cnt.gap_bytes += len;
	t->cb.on_gap(t->ctx, f->user, dir, len, ts);
}

/* ---- out-of-order chunks ---- */

static struct ooo_chunk *chunk_get(struct flow_table *t)
{
	struct ooo_chunk *c = t->free_chunks;

	if (c) {
		t->free_chunks = c->next;
		return c;
	}
	c = malloc(OOO_CHUNK_SIZE);
	if (c)
		t->nchunks++;
	return c;
}

static void chunk_put(struct flow_table *t, struct flow *f, struct ooo_chunk *c)
{
	f->ooo_mem -= OOO_CHUNK_SIZE;
	t->cnt.ooo_mem -= OOO_CHUNK_SIZE;
	c->next = t->free_chunks;
	t->free_chunks = c;
}

static void hole_since_refresh(struct flow_dir *d)
{
	struct ooo_chunk *c;

	d->hole_since_ns = UINT64_MAX;
	for (c = d->ooo; c; c = c->next)
		if (c->ts_ns < d->hole_since_ns)
			d->hole_since_ns = c->ts_ns;
}

/* Delivers every buffered chunk that next_seq has reached; chunks fully behind it are
 * duplicates of bytes already delivered. */
static void ooo_drain(struct flow_table *t, struct flow *f, int dir)
{
	struct flow_dir *d = &f->dir[dir];
	struct ooo_chunk *c;
	int drained = 0;

	while ((c = d->ooo) && seq_leq(c->seq, d->next_seq)) {
		uint32_t end = c->seq + c->len;

		d->ooo = c->next;
		drained = 1;
		if (seq_lt(d->next_seq, end)) {
			uint32_t off = d->next_seq - c->seq;

			if (c->lost)
				emit_gap(t, f, dir, end - d->next_seq, c->ts_ns);
			else
				emit_data(t, f, dir, c->data + off, c->len - off, c->ts_ns);
			d->next_seq = end;
		} else {
			t->cnt.retrans_bytes += c->len;
		}
		chunk_put(t, f, c);
	}
	if (drained && d->ooo)
		hole_since_refresh(d);
}

/* Moves next_seq up to `to`: buffered bytes on the way are delivered, the rest is a gap. */
static void advance_to(struct flow_table *t, struct flow *f, int dir, uint32_t to, uint64_t ts)
{
	struct flow_dir *d = &f->dir[dir];

	while (seq_lt(d->next_seq, to)) {
		struct ooo_chunk *c = d->ooo;
		uint32_t stop;

		if (c && seq_leq(c->seq, d->next_seq)) {
			ooo_drain(t, f, dir);
			continue;
		}
		stop = (c && seq_lt(c->seq, to)) ? c->seq : to;
		emit_gap(t, f, dir, stop - d->next_seq, ts);
		d->next_seq = stop;
	}
	ooo_drain(t, f, dir);
}

/* Gives up on the first hole of a direction: a gap up to the first buffered byte. */
static void skip_hole(struct flow_table *t, struct flow *f, int dir, uint64_t ts)
{
	struct flow_dir *d = &f->dir[dir];

	if (!d->ooo)
		return;
	emit_gap(t, f, dir, d->ooo->seq - d->next_seq, ts);
	d->next_seq = d->ooo->seq;
	ooo_drain(t, f, dir);
}

static int dir_settled(const struct flow_dir *d)
{
	return !(d->flags & DIR_SYNCED) || seq_leq(d->fin_seq, d->next_seq);
}

static int flow_fin_both(const struct flow *f)
{
	return (f->dir[0].flags & DIR_FIN) && (f->dir[1].flags & DIR_FIN);
}

/* Keeps f on table->pending exactly while expire() may have something to do for it beyond
 * idleness: a hole to time out, or FINs waiting for their data. */
static void pending_track(struct flow_table *t, struct flow *f)
{
	int want = f->dir[0].ooo || f->dir[1].ooo ||
		   (flow_fin_both(f) && !(dir_settled(&f->dir[0]) && dir_settled(&f->dir[1])));

	if (want && !dl_linked(&f->pending))
		dl_add_tail(&t->pending, &f->pending);
	else if (!want && dl_linked(&f->pending))
		dl_del(&f->pending);
}

/* Inserts one chunk before *link; data NULL marks bytes known to be lost. */
static int ooo_put(struct flow_table *t, struct flow *f, struct ooo_chunk ***link, uint32_t seq,
		   uint32_t len, const uint8_t *data, uint64_t ts)
{
	struct ooo_chunk *c;

	/* The reservation is an estimate (pieces split around existing chunks can take more);
	 * the bounds themselves are never exceeded. */
	if (f->ooo_mem + OOO_CHUNK_SIZE > t->cfg.max_ooo_bytes ||
	    t->cnt.ooo_mem + OOO_CHUNK_SIZE > t->cfg.max_ooo_total)
		return -ENOBUFS;
	c = chunk_get(t);
	if (!c)
		return -ENOMEM;
	c->seq = seq;
	c->len = len;
	c->lost = !data;
	c->ts_ns = ts;
	if (data)
		memcpy(c->data, data, len);
	c->next = **link;
	**link = c;
	*link = &c->next;
	f->ooo_mem += OOO_CHUNK_SIZE;
	t->cnt.ooo_mem += OOO_CHUNK_SIZE;
	return 0;
}

/* Buffers [from, to) of a segment starting at s whose captured bytes end at cap_end. */
static int ooo_put_range(struct flow_table *t, struct flow *f, struct ooo_chunk ***link,
			 uint32_t from, uint32_t to, uint32_t s, uint32_t cap_end,
			 const uint8_t *payload, uint64_t ts)
{
	uint32_t p = from;

	while (seq_lt(p, to) && seq_lt(p, cap_end)) {
		uint32_t n = min_u32(min_u32(to - p, cap_end - p), OOO_CHUNK_DATA);

		if (ooo_put(t, f, link, p, n, payload + (p - s), ts))
			return -ENOBUFS;
		p += n;
	}
	if (seq_lt(p, to))
		return ooo_put(t, f, link, p, to - p, NULL, ts);
	return 0;
}

/* Buffers a segment ahead of next_seq; bytes already buffered win over the new copy. */
static void ooo_insert(struct flow_table *t, struct flow *f, int dir, uint32_t s, uint32_t e,
		       uint32_t cap_end, const uint8_t *payload, uint64_t ts)
{
	struct flow_dir *d = &f->dir[dir];
	struct ooo_chunk **link = &d->ooo;
	uint32_t pos = s;
	int trimmed = 0;

	if (!d->ooo)
		d->hole_since_ns = ts;
	while (seq_lt(pos, e)) {
		struct ooo_chunk *c = *link;

		if (!c || seq_lt(pos, c->seq)) {
			uint32_t to = (c && seq_lt(c->seq, e)) ? c->seq : e;

			if (ooo_put_range(t, f, &link, pos, to, s, cap_end, payload, ts)) {
				/* The rest stays a hole, which becomes a counted gap later. */
				t->cnt.ooo_dropped++;
				break;
			}
			pos = to;
		} else {
			uint32_t cend = c->seq + c->len;

			if (seq_lt(pos, cend)) {
				trimmed = 1;
				t->cnt.retrans_bytes += (seq_lt(e, cend) ? e : cend) - pos;
				pos = cend;
			}
			link = &c->next;
		}
	}
	if (trimmed)
		t->cnt.overlaps++;
	if (d->ooo && ts < d->hole_since_ns)
		d->hole_since_ns = ts;
}

static uint32_t ooo_need(uint32_t s, uint32_t e, uint32_t cap_end)
{
	uint32_t data = seq_lt(s, cap_end) ? cap_end - s : 0;
	uint32_t chunks = (data + OOO_CHUNK_DATA - 1) / OOO_CHUNK_DATA;

	if (seq_lt(cap_end, e))
		chunks++;
	return chunks * OOO_CHUNK_SIZE;
}

static void flow_check_pending(struct flow_table *t, struct flow *f, uint64_t ts);

/* The flow holding the out-of-order data that has waited longest (the pending list is in
 * order of first hole, roughly oldest first). */
static struct flow *oldest_ooo_flow(struct flow_table *t)
{
	struct dlist *n;

	for (n = t->pending.next; n != &t->pending; n = n->next) {
		struct flow *g = flow_of(n, pending);

		if (g->dir[0].ooo || g->dir[1].ooo)
			return g;
	}
	return NULL;
}

/*
 * Makes room for `need` bytes of buffer in f: first by giving up on f's own holes (this
 * direction, then the other), then, for the table-wide bound, on the oldest holes of any
 * flow. Returns 0 when the room is there, -ENOBUFS when it cannot be made.
 */
static int ooo_reserve(struct flow_table *t, struct flow *f, int dir, uint32_t need, uint64_t ts)
{
	while (f->ooo_mem + need > t->cfg.max_ooo_bytes) {
		int victim = f->dir[dir].ooo ? dir : f->dir[!dir].ooo ? !dir : -1;

		if (victim < 0)
			return -ENOBUFS;
		t->cnt.gaps_overflow++;
		skip_hole(t, f, victim, ts);
	}
	while (t->cnt.ooo_mem + need > t->cfg.max_ooo_total) {
		struct flow *g = oldest_ooo_flow(t);

		if (!g)
			return -ENOBUFS;
		t->cnt.gaps_overflow++;
		skip_hole(t, g, g->dir[0].ooo ? 0 : 1, ts);
		if (g != f)
			flow_check_pending(t, g, ts);
	}
	return 0;
}

/* One segment's payload into one direction; s is the sequence number of its first byte. */
static void dir_segment(struct flow_table *t, struct flow *f, int dir, uint32_t s,
			const struct mp_seg_hdr *h, const uint8_t *payload)
{
	struct flow_dir *d = &f->dir[dir];
	uint32_t e = s + h->len, cap_end = s + h->caplen;
	uint64_t ts = h->ts_ns;

	d->flags |= DIR_DATA;
	if (!(d->flags & DIR_SYNCED)) {
		/* Joined mid-stream (or the SYN was not captured): start here, guess nothing. */
		d->next_seq = s;
		d->flags |= DIR_SYNCED;
	}
	if (seq_leq(e, d->next_seq))
		goto old;
	if (seq_lt(d->next_seq, s)) {
		t->cnt.out_of_order++;
		if (!ooo_reserve(t, f, dir, ooo_need(s, e, cap_end), ts) &&
		    seq_lt(d->next_seq, s)) {
			ooo_insert(t, f, dir, s, e, cap_end, payload, ts);
			return;
		}
		if (seq_lt(d->next_seq, s)) {
			/* No room to wait for the hole even with nothing buffered: skip it now. */
			t->cnt.gaps_overflow++;
			advance_to(t, f, dir, s, ts);
		}
		if (seq_leq(e, d->next_seq))
			goto old;
	}
	if (seq_lt(s, d->next_seq)) {
		t->cnt.overlaps++;
		t->cnt.retrans_bytes += d->next_seq - s;
	}
	if (seq_lt(d->next_seq, cap_end)) {
		emit_data(t, f, dir, payload + (d->next_seq - s), cap_end - d->next_seq, ts);
		d->next_seq = cap_end;
	}
	/* A tail cut at the snap length is a gap, unless buffered bytes cover part of it. */
	advance_to(t, f, dir, e, ts);
	return;
old:
	t->cnt.retransmits++;
	t->cnt.retrans_bytes += h->len;
}

/* ---- flows ---- */

static struct flow *flow_lookup(struct flow_table *t, const struct flow_key *k, uint64_t hash)
{
	struct flow *f;

	for (f = t->buckets[hash & t->mask]; f; f = f->hnext)
		if (f->hash == hash && !memcmp(&f->key, k, sizeof(*k)))
			return f;
	return NULL;
}

static struct flow *flow_alloc(struct flow_table *t)
{
	struct flow *f;

	if (!t->free_flows) {
		struct flow_slab *s = calloc(1, sizeof(*s));
		int i;

		if (!s)
			return NULL;
		s->next = t->slabs;
		t->slabs = s;
		t->nslabs++;
		for (i = FLOW_SLAB_FLOWS - 1; i >= 0; i--) {
			s->flows[i].hnext = t->free_flows;
			t->free_flows = &s->flows[i];
		}
	}
	f = t->free_flows;
	t->free_flows = f->hnext;
	memset(f, 0, sizeof(*f));
	return f;
}

static void flow_unlink(struct flow_table *t, struct flow *f)
{
	struct flow **pp = &t->buckets[f->hash & t->mask];

	while (*pp != f)
		pp = &(*pp)->hnext;
	*pp = f->hnext;
	dl_del(&f->lru);
	if (dl_linked(&f->pending))
		dl_del(&f->pending);
	t->cnt.active--;
	f->hnext = t->free_flows;
	t->free_flows = f;
}

/* Delivers what is buffered (gaps for the holes), tells the consumer, and frees f. */
static void flow_close(struct flow_table *t, struct flow *f, uint64_t ts, int reason)
{
	int dir;

	for (dir = 0; dir < 2; dir++)
		while (f->dir[dir].ooo)
			skip_hole(t, f, dir, ts);
	/* At shutdown a flow ends now, not at its last segment: a request still waiting for
	 * its response has waited until the capture stopped. */
	if (reason == FLOW_CLOSE_SHUTDOWN && t->now_ns > ts)
		ts = t->now_ns;
	if (t->cb.on_close)
		t->cb.on_close(t->ctx, f->user, ts, reason);
	if (reason == FLOW_CLOSE_FIN || reason == FLOW_CLOSE_RST) {
		t->closed[f->hash & (FLOW_CLOSED_SLOTS - 1)] = (struct closed_slot){ f->hash, ts };
	}
	switch (reason) {
	case FLOW_CLOSE_FIN:
		t->cnt.closed_fin++;
		break;
	case FLOW_CLOSE_RST:
		t->cnt.closed_rst++;
		break;
	case FLOW_CLOSE_EXPIRED:
		t->cnt.expired++;
		break;
	case FLOW_CLOSE_EVICTED:
		t->cnt.evicted++;
		break;
	default:
		break;
	}
	flow_unlink(t, f);
}

static struct flow *flow_open(struct flow_table *t, const struct flow_key *k, uint64_t hash,
			      uint64_t ts, int midstream)
{
	struct flow *f;

	if (t->cnt.active >= t->cfg.max_connections) {
		/* Reclaim the least recently seen flow only if it is idle anyway. */
		struct flow *old;

		if (t->lru.next == &t->lru)
			return NULL;
		old = flow_of(t->lru.next, lru);
		if (!elapsed(ts, old->last_ts, t->cfg.idle_timeout_ns))
			return NULL;
		flow_close(t, old, ts, FLOW_CLOSE_EXPIRED);
	}
	f = flow_alloc(t);
	if (!f)
		return NULL;
	f->key = *k;
	f->hash = hash;
	f->last_ts = ts;
	dl_init(&f->pending);
	dl_add_tail(&t->lru, &f->lru);
	f->hnext = t->buckets[hash & t->mask];
	t->buckets[hash & t->mask] = f;
	t->cnt.active++;
	t->cnt.opened++;
	t->cnt.midstream += !!midstream;
	if (t->cb.on_open)
		f->user = t->cb.on_open(t->ctx, &f->key, ts, midstream);
	return f;
}

/*
 * Finds or opens the flow a segment belongs to. Only a SYN or payload opens a flow: a lone
 * FIN/RST/ACK of a connection we do not track says nothing worth tracking.
 */
static struct flow *flow_for_segment(struct flow_table *t, const struct mp_seg_hdr *h,
				     const struct flow_key *k)
{
	uint64_t hash = XXH3_64bits(k, sizeof(*k));
	struct flow *f = flow_lookup(t, k, hash);
	int syn = h->tcp_flags & MP_TCP_SYN;

	/* A SYN on a direction that already carried data: the 4-tuple was reused. */
	if (f && syn && (f->dir[h->dir].flags & DIR_DATA)) {
		flow_close(t, f, h->ts_ns, FLOW_CLOSE_EVICTED);
		f = NULL;
	}
	if (f)
		return f;
	if (!syn && (!h->len || (h->tcp_flags & MP_TCP_RST))) {
		t->cnt.untracked++;
		return NULL;
	}
	if (!syn) {
		const struct closed_slot *c = &t->closed[hash & (FLOW_CLOSED_SLOTS - 1)];

		if (c->hash == hash && c->ts && h->ts_ns < c->ts + FLOW_CLOSED_NS) {
			t->cnt.untracked++;
			return NULL;
		}
	}
	f = flow_open(t, k, hash, h->ts_ns, !syn);
	if (!f)
		t->cnt.table_full++;
	return f;
}

static void flow_touch(struct flow_table *t, struct flow *f, uint64_t ts)
{
	if (ts > f->last_ts)
		f->last_ts = ts;
	dl_del(&f->lru);
	dl_add_tail(&t->lru, &f->lru);
}

/* Times out old holes, settles FINs, closes the flow when both sides are done. */
static void flow_check_pending(struct flow_table *t, struct flow *f, uint64_t ts)
{
	int dir;

	for (dir = 0; dir < 2; dir++) {
		struct flow_dir *d = &f->dir[dir];

		while (d->ooo && elapsed(ts, d->hole_since_ns, t->cfg.hole_timeout_ns)) {
			t->cnt.gaps_timeout++;
			skip_hole(t, f, dir, ts);
		}
	}
	if (flow_fin_both(f)) {
		int settled = dir_settled(&f->dir[0]) && dir_settled(&f->dir[1]);

		if (!settled && elapsed(ts, f->fin_ts, t->cfg.hole_timeout_ns)) {
			/* Bytes before a FIN that never came: a gap up to the FIN. */
			for (dir = 0; dir < 2; dir++) {
				struct flow_dir *d = &f->dir[dir];

				if (!dir_settled(d)) {
					t->cnt.gaps_timeout++;
					advance_to(t, f, dir, d->fin_seq, ts);
				}
			}
			settled = 1;
		}
		if (settled) {
			flow_close(t, f, ts, FLOW_CLOSE_FIN);
			return;
		}
	}
	pending_track(t, f);
}

/*
 * The peer acknowledged the other direction up to ack: bytes below it that were not seen are
 * never going to be, since the peer has them (only the capture lost them) and acknowledged
 * data is not sent again. Declaring the gap now, rather than after hole_timeout_ns, lets the
 * consumer resynchronise before it sees what the peer sends next (the next request after a
 * response with a hole). A FIN takes a sequence number but is no data: never a gap.
 */
static void ack_holes(struct flow_table *t, struct flow *f, int dir, uint32_t ack, uint64_t ts)
{
	struct flow_dir *d = &f->dir[dir];
	uint64_t gaps = t->cnt.gaps;

	if (!(d->flags & DIR_SYNCED) || !seq_lt(d->next_seq, ack))
		return;
	if ((d->flags & DIR_FIN) && seq_lt(d->fin_seq, ack))
		ack = d->fin_seq;
	advance_to(t, f, dir, ack, ts);
	if (t->cnt.gaps != gaps)
		t->cnt.gaps_acked++;
}

static int seg_valid(const struct mp_seg_hdr *h, const uint8_t *payload)
{
	return h->caplen <= h->len && h->caplen <= MP_MAX_CAPLEN && h->len <= FLOW_MAX_SEG_LEN &&
	       (payload || !h->caplen);
}

int flow_table_feed(struct flow_table *t, const struct mp_seg_hdr *h, const uint8_t *payload)
{
	struct flow_key k;
	struct flow *f;
	uint32_t s = h->seq;
	int dir = h->dir;

	t->cnt.segments++;
	t->cnt.bytes += h->len;
	if (h->ts_ns > t->now_ns)
		t->now_ns = h->ts_ns;
	if (!seg_valid(h, payload) || flow_key_from_seg(h, &k)) {
		t->cnt.malformed++;
		return -EINVAL;
	}
	if (h->caplen < h->len)
		t->cnt.truncated++;
	f = flow_for_segment(t, h, &k);
	if (!f)
		return 0;
	flow_touch(t, f, h->ts_ns);
	if (h->tcp_flags & MP_TCP_SYN) {
		/* The SYN takes one sequence number: data starts at ISN + 1 (TFO data too). */
		s++;
		f->dir[dir].next_seq = s;
		f->dir[dir].flags |= DIR_SYNCED;
	}
	if (h->tcp_flags & MP_TCP_ACK)
		ack_holes(t, f, !dir, h->ack, h->ts_ns);
	if (h->len)
		dir_segment(t, f, dir, s, h, payload);
	if ((h->tcp_flags & MP_TCP_FIN) && !(f->dir[dir].flags & DIR_FIN)) {
		f->dir[dir].fin_seq = s + h->len;
		f->dir[dir].flags |= DIR_FIN;
		if (flow_fin_both(f))
			f->fin_ts = h->ts_ns;
	}
	if (h->tcp_flags & MP_TCP_RST) {
		flow_close(t, f, h->ts_ns, FLOW_CLOSE_RST);
		return 0;
	}
	flow_check_pending(t, f, h->ts_ns);
	return 0;
}

void flow_table_expire(struct flow_table *t, uint64_t now_ns)
{
	struct dlist *n, *next;

	if (now_ns > t->now_ns)
		t->now_ns = now_ns;
	for (n = t->pending.next; n != &t->pending; n = next) {
		next = n->next;
		flow_check_pending(t, flow_of(n, pending), now_ns);
	}
	while (t->lru.next != &t->lru) {
		struct flow *f = flow_of(t->lru.next, lru);

		/* The list is in order of last activity, so the first live flow ends the walk. */
		if (!elapsed(now_ns, f->last_ts, t->cfg.idle_timeout_ns))
			break;
		flow_close(t, f, now_ns, FLOW_CLOSE_EXPIRED);
	}
}

struct flow_table *flow_table_new(const struct flow_config *cfg, const struct flow_callbacks *cb,
				  void *ctx)
{
	struct flow_table *t;
	uint64_t nb = 1;

	if (!cb || !cb->on_data || !cb->on_gap) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		goto nomem;
	flow_config_default(&t->cfg);
	if (cfg) {
		t->cfg.max_connections = cfg->max_connections ?: t->cfg.max_connections;
		t->cfg.max_ooo_bytes = cfg->max_ooo_bytes ?: t->cfg.max_ooo_bytes;
		t->cfg.max_ooo_total = cfg->max_ooo_total ?: t->cfg.max_ooo_total;
		t->cfg.idle_timeout_ns = cfg->idle_timeout_ns ?: t->cfg.idle_timeout_ns;
		t->cfg.hole_timeout_ns = cfg->hole_timeout_ns ?: t->cfg.hole_timeout_ns;
	}
	/* One bucket per tracked flow at most: chains stay short at the bound. */
	while (nb < t->cfg.max_connections)
		nb <<= 1;
	t->buckets = calloc(nb, sizeof(*t->buckets));
	if (!t->buckets)
		goto nomem;
	t->mask = nb - 1;
	t->cb = *cb;
	t->ctx = ctx;
	dl_init(&t->lru);
	dl_init(&t->pending);
	return t;
nomem:
	free(t);
	errno = ENOMEM;
	return NULL;
}

void flow_table_close_all(struct flow_table *t)
{
	while (t->lru.next != &t->lru) {
		struct flow *f = flow_of(t->lru.next, lru);

		flow_close(t, f, f->last_ts, FLOW_CLOSE_SHUTDOWN);
	}
}

void flow_table_each(struct flow_table *t, void (*fn)(void *arg, void *user), void *arg)
{
	for (struct dlist *n = t->lru.next; n != &t->lru; n = n->next)
		fn(arg, flow_of(n, lru)->user);
}

void flow_table_free(struct flow_table *t)
{
	struct ooo_chunk *c;

	if (!t)
		return;
	flow_table_close_all(t);
	while (t->slabs) {
		struct flow_slab *s = t->slabs;

		t->slabs = s->next;
		free(s);
	}
	while ((c = t->free_chunks)) {
		t->free_chunks = c->next;
		free(c);
	}
	free(t->buckets);
	free(t);
}

const struct flow_counters *flow_table_counters(const struct flow_table *t)
{
	return &t->cnt;
}

size_t flow_table_mem(const struct flow_table *t)
{
	return sizeof(*t) + (t->mask + 1) * sizeof(*t->buckets) +
	       t->nslabs * sizeof(struct flow_slab) + t->nchunks * OOO_CHUNK_SIZE;
}
