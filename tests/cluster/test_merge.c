// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests the master's merge: N slaves' reports equal one aggregator; dedupe, late, missing. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "cluster/merge.h"
#include "cluster/template_store.h"
#include "report/report.h"
#include "report/template_seen.h"

#define PERIOD 1000
#define T0 1700000000000ull

static const struct agg_config acfg = {
	.max_keys = 100000, .max_slow = 8, .slow_threshold_us = 50000,
	.template_max_len = 4096, .sql_max_len = 4096,
};

static uint64_t rnd_state = 88172645463325252ull;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static const char *const templates[] = {
	"SELECT c FROM sbtest1 WHERE id = ?", "UPDATE sbtest1 SET k = k + ? WHERE id = ?",
	"INSERT INTO t VALUES (...)", "DELETE FROM t WHERE id = ?", "COMMIT", "BEGIN",
};
static const char *const dbs[] = { "shop", "sbtest", "" };
static const char *const users[] = { "app", "report" };
static const char *const ips[] = { "10.0.0.1", "10.0.0.2", "fd00::7" };
static const uint16_t codes[] = { 1062, 1146, 1213, 1205, 1045 };

/* A statement like those a server sees: some errors, a few slow ones (distinct latencies). */
static void statement(struct agg_input *in, unsigned i)
{
	const char *t = templates[rnd() % 6];

	memset(in, 0, sizeof(*in));
	in->template_text = t;
	in->template_len = strlen(t);
	in->template_id = 0x1000 + (uint64_t)(t - templates[0]) * 7919 + strlen(t);
	in->command = (enum agg_cmd)(rnd() % 3);
	in->sql = t;
	in->sql_len = strlen(t);
	in->db = dbs[rnd() % 3];
	in->db_len = strlen(in->db);
	in->user = users[rnd() % 2];
	in->user_len = strlen(in->user);
	in->family = strchr(ips[i % 3], ':') ? AF_INET6 : AF_INET;
	inet_pton(in->family, ips[i % 3], in->client_addr);
	in->client_port = (uint16_t)(30000 + i % 1000);
	in->ts_us = T0 * 1000 + i;
	in->latency_us = rnd() % 20 == 0 ? 50000 + i : rnd() % 5000;
	if (rnd() % 9 == 0) {
		in->status = AGG_STATUS_ERROR;
		in->error_code = codes[rnd() % 5];
	}
	in->rows_sent = rnd() % 10;
	in->rows_affected = rnd() % 3;
	in->bytes_in = 30 + rnd() % 50;
	in->bytes_out = 50 + rnd() % 500;
	in->no_index_used = rnd() % 7 == 0;
}

static int key_cmp(const void *a, const void *b)
{
	const struct agg_stat *x = *(const struct agg_stat *const *)a;
	const struct agg_stat *y = *(const struct agg_stat *const *)b;

	return memcmp(&x->key, &y->key, sizeof(x->key));
}

static int slow_cmp(const void *a, const void *b)
{
	const struct agg_slow *x = *(const struct agg_slow *const *)a;
	const struct agg_slow *y = *(const struct agg_slow *const *)b;

	return x->latency_us < y->latency_us ? -1 : x->latency_us > y->latency_us;
}

/* The same rows and samples in a fixed order, so two aggregators compare as text. */
static int sess_cmp(const void *a, const void *b)
{
	const struct sess_row *x = *(const struct sess_row *const *)a;
	const struct sess_row *y = *(const struct sess_row *const *)b;
	int c = memcmp(x->addr, y->addr, 16);

	if (c)
		return c;
	if (x->user_len != y->user_len)
		return x->user_len < y->user_len ? -1 : 1;
	return memcmp(x->user, y->user, x->user_len);
}

static char *canonical_json(const struct agg *a)
{
	size_t n = agg_stat_count(a), ns = agg_slow_count(a), len;
	const struct agg_stat **rows = calloc(n + 1, sizeof(*rows));
	const struct agg_slow **slow = calloc(ns + 1, sizeof(*slow));
	struct agg *c = agg_new(&acfg);
	struct report_header h = { .version = REPORT_VERSION, .node = "x:1", .role = "master" };
	struct report_capture cap = { 0 };
	struct jbuf b;
	char *out;

	assert_non_null(c);
	for (size_t i = 0; i < n; i++)
		rows[i] = agg_stat_at(a, i);
	for (size_t i = 0; i < ns; i++)
		slow[i] = agg_slow_at(a, i);
	qsort(rows, n, sizeof(*rows), key_cmp);
	qsort(slow, ns, sizeof(*slow), slow_cmp);
	for (size_t i = 0; i < n; i++) {
		const char *t = agg_template(a, rows[i]->key.template_id, &len);

		assert_non_null(t); /* every text resolved, also those sent in earlier reports */
		assert_int_equal(agg_merge_stat(c, rows[i], t, len), 0);
	}
	for (size_t i = 0; i < ns; i++)
		agg_merge_slow(c, slow[i]);
	agg_add_slow_dropped(c, agg_slow_dropped(a));
	/* Running samples and connection rows, in a fixed order. */
	{
		const struct sess_table *t = agg_sessions_const(a);
		size_t nr = agg_running_count(a), nc = sess_count(t);
		const struct agg_slow **run = calloc(nr + 1, sizeof(*run));
		const struct sess_row **cs = calloc(nc + 1, sizeof(*cs));

		for (size_t i = 0; i < nr; i++)
			run[i] = agg_running_at(a, i);
		qsort(run, nr, sizeof(*run), slow_cmp);
		for (size_t i = 0; i < nr; i++)
			agg_merge_running(c, run[i]);
		for (size_t i = 0; i < nc; i++)
			cs[i] = sess_at(t, i);
		qsort(cs, nc, sizeof(*cs), sess_cmp);
		for (size_t i = 0; i < nc; i++)
			assert_int_equal(sess_merge_row(agg_sessions(c), cs[i]), 0);
		free(run);
		free(cs);
	}
	agg_set_keys(c, agg_keys(a));
	jbuf_init(&b);
	assert_int_equal(report_write(&b, &h, &cap, c, NULL), 0);
	out = strndup(b.out.data, b.out.len);
	jbuf_free(&b);
	agg_free(c);
	free(rows);
	free(slow);
	return out;
}

static const char *store_text(void *ctx, uint64_t id, size_t *len)
{
	return template_store_get(ctx, id, len);
}

/* A slave's report as the master reads it off the wire: written, then parsed back. */
static int offer(struct merge *m, struct template_store *ts, const char *node,
		 struct template_seen *seen, const struct agg *a, uint64_t started, uint64_t seq,
		 uint64_t start_ms, uint64_t end_ms, const struct report_capture *cap)
{
	struct report_header h = {
		.version = REPORT_VERSION, .role = "slave", .seq = seq, .started_ms = started,
		.period_start_ms = start_ms, .period_end_ms = end_ms,
	};
	struct report_msg msg;
	struct jbuf b;
	const char *text;
	uint64_t id;
	size_t len;
	int ret;

	snprintf(h.node, sizeof(h.node), "%s", node);
	jbuf_init(&b);
	assert_int_equal(report_msg_init(&msg, &acfg), 0);
	assert_int_equal(report_write(&b, &h, cap, a, seen), 0);
	assert_int_equal(report_msg_parse(&msg, b.out.data, b.out.len), 0);
	for (size_t i = 0; i < report_msg_template_count(&msg); i++)
		if (!report_msg_template_at(&msg, i, &id, &text, &len))
			template_store_put(ts, id, text, len);
	ret = merge_offer(m, node, &msg, store_text, ts);
	jbuf_free(&b);
	report_msg_free(&msg);
	return ret;
}

static struct merge *new_merge(void)
{
	struct merge_config cfg = { .acfg = acfg, .period_ms = PERIOD, .wait_ms = 500 };
	struct merge *m = merge_new(&cfg);

	assert_non_null(m);
	return m;
}

/* Three slaves, two periods each, texts sent once per link: the merge equals one agent. */
static void test_merge_equals_one_agent(void **unused)
{
	static const char *const nodes[] = { "a:1", "b:1", "c:1" };
	struct template_seen *seen[3];
	struct agg *whole[2], *part[2][3];
	struct template_store *ts = template_store_new(1 << 20);
	struct merge *m = new_merge();
	struct report_capture cap = { .packets = 10, .bytes = 100, .gaps = 1 };
	struct merge_out o;
	struct agg_input in;

	(void)unused;
	for (int p = 0; p < 2; p++) {
		whole[p] = agg_new(&acfg);
		for (int k = 0; k < 3; k++)
			part[p][k] = agg_new(&acfg);
	}
	for (int k = 0; k < 3; k++) {
		seen[k] = template_seen_new(1000);
		assert_int_equal(merge_node_add(m, nodes[k], 0, 0), 0);
		assert_int_equal(merge_node_set_up(m, nodes[k], true), 0);
	}
	for (unsigned i = 0; i < 6000; i++) {
		int p = i < 3000 ? 0 : 1;

		struct agg *pa;

		statement(&in, i);
		agg_add(whole[p], &in);
		pa = part[p][rnd() % 3];
		agg_add(pa, &in);
		/* Logins and connections of the same clients, and a few running statements. */
		if (i % 7 == 0) {
			enum sess_kind k = (enum sess_kind)(rnd() % 4);
			uint16_t code = codes[rnd() % 5];

			assert_int_equal(sess_add(agg_sessions(whole[p]), k, code, in.user,
						  in.user_len, in.client_addr, in.family), 0);
			assert_int_equal(sess_add(agg_sessions(pa), k, code, in.user, in.user_len,
						  in.client_addr, in.family), 0);
		}
		if (i % 500 == 1) {
			in.latency_us = 1000000 + i; /* distinct: the kept set does not depend on order */
			agg_add_running(whole[p], &in);
			agg_add_running(pa, &in);
		}
	}
	for (int p = 0; p < 2; p++) {
		uint64_t end = T0 + (uint64_t)(p + 1) * PERIOD;
		char *want, *got;

		/* Nothing is due before every node delivered, however late the clock. */
		for (int k = 0; k < 3; k++) {
			assert_int_equal(merge_poll(m, end - 1, &o), 0);
			assert_int_equal(offer(m, ts, nodes[k], seen[k], part[p][k], 7, (uint64_t)p + 1,
					       end - PERIOD, end, &cap),
					 MERGE_MERGED);
		}
		assert_int_equal(merge_poll(m, end + 1, &o), 1);
		assert_false(o.late);
		assert_int_equal(o.period_end_ms, end);
		assert_int_equal(o.c.packets, 30);
		assert_int_equal(o.nnodes, 3);
		for (size_t k = 0; k < 3; k++)
			assert_int_equal(o.nodes[k].status, REPORT_NODE_OK);
		assert_int_equal(agg_statements(o.a), 3000);
		assert_true(sess_count(agg_sessions(o.a)) > 0);
		assert_int_equal(agg_running_count(o.a), 6);
		want = canonical_json(whole[p]);
		got = canonical_json(o.a);
		assert_string_equal(got, want);
		free(want);
		free(got);
		merge_out_free(&o);
	}
	for (int p = 0; p < 2; p++) {
		agg_free(whole[p]);
		for (int k = 0; k < 3; k++)
			agg_free(part[p][k]);
	}
	for (int k = 0; k < 3; k++)
		template_seen_free(seen[k]);
	template_store_free(ts);
	merge_free(m);
}

static const char *app_of_ip(const void *ctx, uint8_t family, const uint8_t *addr, size_t *len)
{
	(void)ctx;
	if (family != AF_INET)
		return NULL;
	*len = addr[3] == 1 ? 5 : 4;
	return addr[3] == 1 ? "shop1" : "shop";
}

/*
 * Slaves re-keyed by report.keys [app, command, template]: the master's merge of their rows
 * equals one agent's rows re-keyed alike (app, no client, db or user), and says its keys.
 */
static void test_merge_keyed_rows(void **unused)
{
	static const char *const nodes[] = { "a:1", "b:1" };
	const struct agg_project pr = { .keys = AGG_DIM_APP | AGG_DIM_COMMAND | AGG_DIM_TEMPLATE,
					.app = app_of_ip };
	struct agg *whole = agg_new(&acfg), *wk = agg_new(&acfg), *part[2], *pk[2];
	struct template_store *ts = template_store_new(1 << 20);
	struct merge *m = new_merge();
	struct report_capture cap = { 0 };
	struct template_seen *seen[2];
	struct merge_out o;
	struct agg_input in;
	char *want, *got;

	(void)unused;
	for (int k = 0; k < 2; k++) {
		part[k] = agg_new(&acfg);
		pk[k] = agg_new(&acfg);
		seen[k] = template_seen_new(1000);
		assert_int_equal(merge_node_add(m, nodes[k], 0, 0), 0);
		assert_int_equal(merge_node_set_up(m, nodes[k], true), 0);
	}
	for (unsigned i = 0; i < 4000; i++) {
		statement(&in, i);
		agg_add(whole, &in);
		agg_add(part[rnd() % 2], &in);
	}
	assert_int_equal(agg_merge_keyed(wk, whole, &pr), 0);
	for (int k = 0; k < 2; k++) {
		assert_int_equal(agg_merge_keyed(pk[k], part[k], &pr), 0);
		assert_int_equal(offer(m, ts, nodes[k], seen[k], pk[k], 7, 1, T0, T0 + PERIOD, &cap),
				 MERGE_MERGED);
	}
	assert_int_equal(merge_poll(m, T0 + PERIOD + 1, &o), 1);
	assert_int_equal(agg_keys(o.a), pr.keys);
	assert_int_equal(agg_statements(o.a), 4000);
	want = canonical_json(wk);
	got = canonical_json(o.a);
	assert_non_null(strstr(got, "\"app\":\"shop1\""));
	assert_string_equal(got, want);
	free(want);
	free(got);
	merge_out_free(&o);
	for (int k = 0; k < 2; k++) {
		agg_free(part[k]);
		agg_free(pk[k]);
		template_seen_free(seen[k]);
	}
	agg_free(whole);
	agg_free(wk);
	template_store_free(ts);
	merge_free(m);
}

static struct agg *one_statement_agg(unsigned i)
{
	struct agg *a = agg_new(&acfg);
	struct agg_input in;

	statement(&in, i);
	agg_add(a, &in);
	return a;
}

/* A seq again is a duplicate; a restarted slave (higher started_ms, seq from 1) is not. */
static void test_dedupe_and_restart(void **unused)
{
	struct template_store *ts = template_store_new(1 << 20);
	struct merge *m = new_merge();
	struct agg *a = one_statement_agg(1);
	struct report_capture cap = { 0 };
	struct merge_node_info info;
	struct merge_out o;
	uint64_t end = T0 + PERIOD;

	(void)unused;
	assert_int_equal(merge_node_add(m, "a:1", 0, 0), 0);
	assert_int_equal(merge_node_add(m, "a:1", 0, 0), -EEXIST);
	merge_node_set_up(m, "a:1", true);
	assert_int_equal(offer(m, ts, "a:1", NULL, a, 100, 5, T0, end, &cap), MERGE_MERGED);
	assert_int_equal(offer(m, ts, "a:1", NULL, a, 100, 5, T0, end, &cap), MERGE_DUPLICATE);
	assert_int_equal(offer(m, ts, "a:1", NULL, a, 99, 6, T0, end, &cap), MERGE_DUPLICATE);
	/* Restarted mid-period: its first report ends inside the same period and adds to it. */
	assert_int_equal(offer(m, ts, "a:1", NULL, a, 200, 1, T0 + 600, end, &cap), MERGE_MERGED);
	assert_int_equal(offer(m, ts, "nobody:1", NULL, a, 1, 1, T0, end, &cap), MERGE_UNKNOWN);
	assert_int_equal(merge_poll(m, end + 1, &o), 1);
	assert_int_equal(agg_statements(o.a), 2);
	assert_int_equal(o.nodes[0].reports, 2);
	assert_int_equal(o.nodes[0].seq, 1);
	merge_out_free(&o);
	assert_int_equal(merge_node_at(m, 0, &info), 0);
	assert_int_equal(info.duplicates, 2);
	assert_int_equal(info.started_ms, 200);
	assert_int_equal(info.last_seq, 1);
	agg_free(a);
	template_store_free(ts);
	merge_free(m);
}

/* A node that does not deliver is missing at the deadline; what it sends later is late. */
static void test_missing_then_late(void **unused)
{
	struct template_store *ts = template_store_new(1 << 20);
	struct merge *m = new_merge();
	struct agg *a = one_statement_agg(2);
	struct report_capture cap = { .packets = 4 };
	struct merge_out o;
	uint64_t end = T0 + PERIOD;

	(void)unused;
	merge_node_add(m, "a:1", 0, 0);
	merge_node_add(m, "b:1", 0, 0);
	merge_node_set_up(m, "a:1", true);
	merge_node_set_up(m, "b:1", true);
	assert_int_equal(merge_poll(m, T0 + 10, &o), 0);
	assert_int_equal(offer(m, ts, "a:1", NULL, a, 1, 1, T0, end, &cap), MERGE_MERGED);
	assert_int_equal(merge_poll(m, end + 499, &o), 0); /* b is up: wait for it */
	assert_int_equal(merge_poll(m, end + 500, &o), 1);
	assert_int_equal(o.period_end_ms, end);
	assert_int_equal(o.nnodes, 2);
	assert_string_equal(o.nodes[0].name, "a:1");
	assert_int_equal(o.nodes[0].status, REPORT_NODE_OK);
	assert_string_equal(o.nodes[1].name, "b:1");
	assert_int_equal(o.nodes[1].status, REPORT_NODE_MISSING);
	merge_out_free(&o);
	assert_int_equal(offer(m, ts, "b:1", NULL, a, 1, 1, T0, end, &cap), MERGE_LATE);
	assert_int_equal(merge_poll(m, end + 501, &o), 1);
	assert_true(o.late);
	assert_int_equal(o.period_end_ms, end);
	assert_int_equal(o.nnodes, 1);
	assert_int_equal(o.nodes[0].status, REPORT_NODE_LATE);
	assert_int_equal(agg_statements(o.a), 1);
	assert_int_equal(o.c.packets, 4);
	merge_out_free(&o);
	/* A node that is down is not waited for; every period comes out, empty or not. */
	merge_node_set_up(m, "b:1", false);
	assert_int_equal(offer(m, ts, "a:1", NULL, a, 1, 2, end, end + PERIOD, &cap),
			 MERGE_MERGED);
	assert_int_equal(merge_poll(m, end + PERIOD + 1, &o), 1);
	assert_int_equal(o.nodes[1].status, REPORT_NODE_MISSING);
	merge_out_free(&o);
	assert_int_equal(merge_poll(m, end + 3 * PERIOD + 600, &o), 1);
	assert_int_equal(o.period_end_ms, end + 2 * PERIOD);
	assert_int_equal(agg_statements(o.a), 0);
	merge_out_free(&o);
	assert_int_equal(merge_emitted_end(m), end + 2 * PERIOD);
	agg_free(a);
	template_store_free(ts);
	merge_free(m);
}

/*
 * A takeover: the new leader's merge starts after the old leader's last period, resumes the
 * node after the seq the old one emitted, and emits every period from there on once, the
 * empty ones too; what the old leader already emitted is a duplicate here.
 */
static void test_resume_after(void **unused)
{
	struct template_store *ts = template_store_new(1 << 20);
	struct merge *m = new_merge();
	struct agg *a = one_statement_agg(3);
	struct report_capture cap = { 0 };
	struct merge_out o;
	uint64_t end = T0 + PERIOD;

	(void)unused;
	assert_int_equal(merge_node_add(m, "a:1", 100, 7), 0);
	merge_node_set_up(m, "a:1", true);
	/* Taking over at end + 2.5 periods: periods 2 and 3 wait until now + 1000 + 500. */
	assert_int_equal(merge_resume_after(m, end + 3, end + 2 * PERIOD + 500, 1000), 0);
	assert_int_equal(merge_emitted_end(m), end); /* rounded down to the grid */
	assert_int_equal(offer(m, ts, "a:1", NULL, a, 100, 7, T0, end, &cap), MERGE_DUPLICATE);
	/* The replay is slow: periods 2 and 3 wait for it past their own deadlines. */
	assert_int_equal(merge_poll(m, end + 2 * PERIOD + 1400, &o), 0);
	/* The replay: each period out as soon as it is complete, in order. */
	assert_int_equal(offer(m, ts, "a:1", NULL, a, 100, 8, end, end + PERIOD, &cap),
			 MERGE_MERGED);
	assert_int_equal(merge_poll(m, end + 2 * PERIOD + 1400, &o), 1);
	assert_int_equal(o.period_end_ms, end + PERIOD);
	assert_false(o.late);
	assert_int_equal(agg_statements(o.a), 1);
	merge_out_free(&o);
	assert_int_equal(merge_poll(m, end + 2 * PERIOD + 1400, &o), 0); /* period 3 waits */
	assert_int_equal(offer(m, ts, "a:1", NULL, a, 100, 9, end + PERIOD, end + 2 * PERIOD,
			       &cap), MERGE_MERGED);
	assert_int_equal(merge_poll(m, end + 2 * PERIOD + 1400, &o), 1);
	assert_int_equal(o.period_end_ms, end + 2 * PERIOD);
	merge_out_free(&o);
	/* A period nobody delivered still comes out, after its deadline. */
	assert_int_equal(merge_poll(m, end + 3 * PERIOD + 499, &o), 0);
	assert_int_equal(merge_poll(m, end + 3 * PERIOD + 500, &o), 1);
	assert_int_equal(o.period_end_ms, end + 3 * PERIOD);
	assert_int_equal(agg_statements(o.a), 0);
	merge_out_free(&o);
	assert_int_equal(merge_resume_after(m, end, end, 0), -EBUSY);
	merge_free(m);
	/* A hold: a period long over waits for every node that is up, until the hold ends. */
	m = new_merge();
	merge_node_add(m, "a:1", 0, 0);
	merge_node_add(m, "b:1", 0, 0);
	merge_node_set_up(m, "a:1", true);
	merge_node_set_up(m, "b:1", true);
	merge_hold(m, end + 5 * PERIOD);
	assert_int_equal(offer(m, ts, "a:1", NULL, a, 1, 1, T0, end, &cap), MERGE_MERGED);
	assert_int_equal(merge_poll(m, end + 4 * PERIOD, &o), 0);
	assert_int_equal(offer(m, ts, "b:1", NULL, a, 1, 1, T0, end, &cap), MERGE_MERGED);
	assert_int_equal(merge_poll(m, end + 4 * PERIOD, &o), 1);
	assert_int_equal(o.period_end_ms, end);
	assert_int_equal(agg_statements(o.a), 2);
	merge_out_free(&o);
	/* The next, which b never delivers, waits for the hold's end. */
	assert_int_equal(offer(m, ts, "a:1", NULL, a, 1, 2, end, end + PERIOD, &cap),
			 MERGE_MERGED);
	assert_int_equal(merge_poll(m, end + 5 * PERIOD - 1, &o), 0);
	assert_int_equal(merge_poll(m, end + 5 * PERIOD, &o), 1);
	assert_int_equal(o.period_end_ms, end + PERIOD);
	merge_out_free(&o);
	agg_free(a);
	template_store_free(ts);
	merge_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_equals_one_agent),
		cmocka_unit_test(test_merge_keyed_rows),
		cmocka_unit_test(test_dedupe_and_restart),
		cmocka_unit_test(test_missing_then_late),
		cmocka_unit_test(test_resume_after),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
