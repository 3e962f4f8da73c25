// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer target: the MySQL decoder fed both directions, in chunks, with gaps. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mysql/mysql_fx.h"

/*
 * Input: a sequence of records. op = data[0]:
 *   op >= 0xc0: a gap in direction op & 1 of data[1] bytes;
 *   otherwise: a chunk for direction op & 1 of ((op >> 1) << 8 | data[1]) bytes
 *   that follow (cut at the end of the input).
 */
struct fuzz_ctx {
	struct buf json;
	size_t max_sql;
};

static void on_event(void *ctx, const struct query_event *ev)
{
	struct fuzz_ctx *f = ctx;
	volatile uint8_t sink = 0;

	/* Every pointer the event carries must be readable for its length. */
	for (size_t i = 0; i < ev->sql_len; i++)
		sink ^= ev->sql[i];
	for (size_t i = 0; i < ev->user_len; i++)
		sink ^= ev->user[i];
	for (size_t i = 0; i < ev->db_len; i++)
		sink ^= ev->db[i];
	for (size_t i = 0; i < ev->error_msg_len; i++)
		sink ^= ev->error_msg[i];
	(void)sink;
	if (ev->sql_len > f->max_sql || !ev->command)
		abort();
	buf_reset(&f->json);
	if (event_json_append(&f->json, ev))
		abort();
}

static void on_session(void *ctx, const struct mysql_session_event *ev)
{
	volatile uint8_t sink = 0;

	(void)ctx;
	for (size_t i = 0; i < ev->user_len; i++)
		sink ^= ev->user[i];
	(void)sink;
	if (ev->kind < MYSQL_SESSION_OPENED || ev->kind > MYSQL_SESSION_CLOSED)
		abort();
}

static const struct mysql_callbacks cb = { .on_event = on_event, .split_sql = fx_split,
					   .on_session = on_session };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mysql_limits lim = { .max_sql = 512, .max_pending = 8, .max_stmts = 16,
				    .max_split = 8 };
	struct fuzz_ctx f = { .max_sql = 512 };
	struct mysql_counters cnt = { 0 };
	struct mysql_conn *c = mysql_conn_new(&cb, &f, &lim, &cnt);
	uint64_t ts = 1000;
	struct query_event run;
	struct mysql_identity id = { .conn_id = 9, .user = "u", .user_len = 1, .db = "d",
				     .db_len = 1, .taken_ns = 5000 };

	if (!c)
		return 0;
	/* Half the inputs are connections seen from their SYN: the login path counts. */
	if (size & 1)
		mysql_conn_opened(c);
	while (size >= 2) {
		uint8_t op = data[0];
		size_t len = data[1];

		data += 2;
		size -= 2;
		ts += 1000;
		if (op >= 0xc0) {
			mysql_gap(c, op & 1, len, ts);
			continue;
		}
		len |= (size_t)(op >> 1) << 8;
		len = len < size ? len : size;
		mysql_feed(c, op & 1, data, len, ts);
		data += len;
		size -= len;
		/* What a period end and the watcher do between segments. */
		if (mysql_conn_running(c, ts + 500, &run) && run.sql_len > f.max_sql)
			abort();
		if (op == 0x3f)
			mysql_conn_learn(c, &id);
	}
	mysql_conn_close(c, ts + 1000);
	mysql_conn_free(c);
	buf_free(&f.json);
	return 0;
}
