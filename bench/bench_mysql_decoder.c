// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Decoder throughput: statements per second on one core for a typical OLTP mix. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/types.h>

#include "lib/buf.h"
#include "capture_abi.h"
#include "mysql/event_json.h"
#include "mysql/mysql_decoder.h"

#define ROUNDS 200000 /* each round: a SELECT (2 columns, 3 rows) and an UPDATE */

struct seg {
	int dir;
	size_t off, len;
};

static void pkt(struct buf *b, uint8_t seq, const void *p, size_t n)
{
	uint8_t h[4] = { n & 0xff, (n >> 8) & 0xff, n >> 16, seq };

	buf_append(b, h, 4);
	buf_append(b, p, n);
}

static const char coldef[] = "\x03" "def\x02" "db\x01t\x01t\x01" "a\x01" "a\x0c\x21\x00\x0b\x00\x00\x00"
			     "\x03\x00\x00\x00\x00\x00";

/* One round's bytes: request segment, response segment, twice. */
static void build(struct buf *b, struct seg *segs)
{
	size_t o = b->len;

	pkt(b, 0, "\x03SELECT a, b FROM users WHERE id = 12345", 40);
	segs[0] = (struct seg){ MP_DIR_TO_SERVER, o, b->len - o };
	o = b->len;
	pkt(b, 1, "\x02", 1);
	pkt(b, 2, coldef, sizeof(coldef) - 1);
	pkt(b, 3, coldef, sizeof(coldef) - 1);
	pkt(b, 4, "\xfe\x00\x00\x02\x00", 5);
	for (int r = 0; r < 3; r++)
		pkt(b, 5 + r, "\x05" "12345\x05" "alice", 12);
	pkt(b, 8, "\xfe\x00\x00\x02\x00", 5);
	segs[1] = (struct seg){ MP_DIR_TO_CLIENT, o, b->len - o };
	o = b->len;
	pkt(b, 0, "\x03UPDATE users SET seen = NOW() WHERE id = 12345", 47);
	segs[2] = (struct seg){ MP_DIR_TO_SERVER, o, b->len - o };
	o = b->len;
	pkt(b, 1, "\x00\x01\x00\x02\x00\x00\x00", 7);
	segs[3] = (struct seg){ MP_DIR_TO_CLIENT, o, b->len - o };
}

struct ctx {
	uint64_t events;
	struct buf json;
	int format;
};

static void on_event(void *p, const struct query_event *ev)
{
	struct ctx *c = p;

	c->events++;
	if (c->format) {
		buf_reset(&c->json);
		event_json_append(&c->json, ev);
	}
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void run(int format)
{
	static const struct mysql_callbacks cb = { .on_event = on_event };
	struct ctx ctx = { .format = format };
	struct buf b = { 0 };
	struct seg segs[4];
	struct mysql_conn *c = mysql_conn_new(&cb, &ctx, NULL, NULL);
	double t0, dt;

	if (!c)
		exit(1);
	build(&b, segs);
	t0 = now();
	for (uint64_t i = 0; i < ROUNDS; i++)
		for (int s = 0; s < 4; s++)
			mysql_feed(c, segs[s].dir, (const uint8_t *)b.data + segs[s].off, segs[s].len,
				   i * 1000 + s);
	dt = now() - t0;
	printf("decoder%s: %llu statements in %.3f s = %.0f statements/s (%.0f ns each)\n",
	       format ? "+json" : "", (unsigned long long)ctx.events, dt, ctx.events / dt,
	       dt * 1e9 / ctx.events);
	mysql_conn_free(c);
	buf_free(&b);
	buf_free(&ctx.json);
}

int main(void)
{
	run(0);
	run(1);
	return 0;
}
