// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests the once-rendered report: spliced messages equal report_write()'s, texts never missed. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>
#include <snappy-c.h>

#include "report/report_wire.h"

static const struct agg_config cfg = {
	.max_keys = 100, .max_slow = 5, .slow_threshold_us = 1000,
	.template_max_len = 4096, .sql_max_len = 4096,
};

static struct report_header hdr = {
	.version = REPORT_VERSION, .node = "db1:8667", .role = "slave", .seq = 1,
	.period_start_ms = 1700000000000ull, .period_end_ms = 1700000001000ull,
};

static const struct report_capture cap = { .packets = 7 };

/* A report whose rows are the templates "SELECT <i>" for i in [from, to). */
static struct agg *agg_of(unsigned from, unsigned to)
{
	struct agg *a = agg_new(&cfg);
	char text[64];

	assert_non_null(a);
	for (unsigned i = from; i < to; i++) {
		struct agg_input in = { 0 };

		snprintf(text, sizeof(text), "SELECT %u", i);
		in.template_id = 1000 + i;
		in.template_text = text;
		in.template_len = strlen(text);
		in.family = AF_INET;
		inet_pton(AF_INET, "10.0.0.1", in.client_addr);
		in.latency_us = 5 + i;
		/* Slow ones too, so the part after the texts is not trivial. */
		in.sql = text;
		in.sql_len = in.template_len;
		in.latency_us += i % 2 ? 5000 : 0;
		assert_int_equal(agg_add(a, &in), 0);
	}
	return a;
}

/* The message as a client receives it: JSON text, snappy decoded when snappy. */
static char *message(const struct report_wire *w, bool snappy, uint64_t last, uint64_t lost)
{
	struct report_wire_msg m;
	char *raw, *plain;
	size_t n;

	assert_int_equal(report_wire_compose(w, snappy, last, lost, &m), 0);
	raw = malloc(m.len + 1);
	assert_non_null(raw);
	/* Copied in odd fragments, as the server writes them. */
	for (size_t off = 0; off < m.len; off += 7)
		report_wire_copy(&m, off, m.len - off < 7 ? m.len - off : 7, raw + off);
	raw[m.len] = '\0';
	if (!snappy)
		return raw;
	assert_int_equal(snappy_uncompressed_length(raw, m.len, &n), SNAPPY_OK);
	plain = malloc(n + 1);
	assert_non_null(plain);
	assert_int_equal(snappy_uncompress(raw, m.len, plain, &n), SNAPPY_OK);
	plain[n] = '\0';
	free(raw);
	return plain;
}

/* report_write()'s text with "lost" spliced in front, as the server used to render it. */
static char *expected(const struct agg *a, struct template_seen *seen, uint64_t lost)
{
	struct jbuf b;
	char *out;

	jbuf_init(&b);
	assert_int_equal(report_write(&b, &hdr, &cap, a, seen), 0);
	out = malloc(b.out.len + 64);
	assert_non_null(out);
	if (lost)
		sprintf(out, "{\"lost\":%llu,%s", (unsigned long long)lost, b.out.data + 1);
	else
		strcpy(out, b.out.data);
	jbuf_free(&b);
	return out;
}

static void test_splice_equals_render(void **state)
{
	struct template_seen *cur = template_seen_new(1000);
	struct agg *a = agg_of(0, 50);
	struct report_wire *w;

	(void)state;
	w = report_wire_new(&hdr, &cap, a, NULL, 0, cur);
	assert_non_null(w);
	assert_int_equal(template_seen_count(cur), 50);
	for (int snappy = 0; snappy < 2; snappy++) {
		for (uint64_t lost = 0; lost < 3; lost += 2) {
			char *got = message(w, snappy, 0, lost), *want = expected(a, NULL, lost);

			assert_string_equal(got, want);
			free(got);
			free(want);
		}
	}
	/* A huge lost still fits the head. */
	{
		char *got = message(w, true, 0, UINT64_MAX), *want = expected(a, NULL, UINT64_MAX);

		assert_string_equal(got, want);
		free(got);
		free(want);
	}
	report_wire_free(w);
	agg_free(a);
	template_seen_free(cur);
}

/*
 * Reports 1 (templates 0..9) and 2 (5..14): a client sent 1 whole gets only 10..14 with 2,
 * exactly what a per-client set of texts sent would give; any other client gets every text.
 */
static void test_new_texts_against_previous(void **state)
{
	struct template_seen *ids[2] = { template_seen_new(1000), template_seen_new(1000) };
	struct template_seen *client = template_seen_new(1000);
	struct agg *a1 = agg_of(0, 10), *a2 = agg_of(5, 15);
	struct report_wire *w1, *w2;
	char *got, *want;

	(void)state;
	hdr.seq = 1;
	w1 = report_wire_new(&hdr, &cap, a1, NULL, 0, ids[0]);
	hdr.seq = 2;
	w2 = report_wire_new(&hdr, &cap, a2, ids[0], 1, ids[1]);
	assert_non_null(w1);
	assert_non_null(w2);

	/* The client had report 1 (every text): report_write with its set gives the same. */
	free(expected(a1, client, 0));
	for (int snappy = 0; snappy < 2; snappy++) {
		got = message(w2, snappy, 1, 0);
		hdr.seq = 2;
		want = expected(a2, snappy ? NULL : client, 0);
		if (snappy) {
			/* Same as the JSON one. */
			free(want);
			want = message(w2, false, 1, 0);
		}
		assert_string_equal(got, want);
		assert_null(strstr(got, "\"SELECT 4\""));
		assert_null(strstr(got, "\"00000000000003ed\":\"SELECT 5\""));
		assert_non_null(strstr(got, "\"SELECT 14\""));
		free(got);
		free(want);
	}
	/* Did not get report 1 whole (last is another seq, or a loss): every text. */
	got = message(w2, false, 0, 0);
	assert_non_null(strstr(got, "\"SELECT 5\""));
	free(got);
	got = message(w2, false, 1, 1);
	assert_non_null(strstr(got, "\"SELECT 5\""));
	free(got);
	got = message(w2, false, 7, 0);
	assert_non_null(strstr(got, "\"SELECT 5\""));
	free(got);

	report_wire_free(w1);
	report_wire_free(w2);
	agg_free(a1);
	agg_free(a2);
	template_seen_free(ids[0]);
	template_seen_free(ids[1]);
	template_seen_free(client);
}

static void test_from_json_checks(void **state)
{
	(void)state;
	assert_null(report_wire_from_json("[]", 2, 1, 1, "{}", 2, 0));
	assert_null(report_wire_from_json("{}", 2, 1, 3, "{}", 2, 0));
	assert_null(report_wire_from_json("{}", 2, 1, 1, "", 0, 0));
	report_wire_free(report_wire_from_json("{}", 2, 1, 1, "{}", 2, 0));
	report_wire_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_splice_equals_render),
		cmocka_unit_test(test_new_texts_against_previous),
		cmocka_unit_test(test_from_json_checks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
