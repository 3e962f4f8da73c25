// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests the pusher's queue (memory then spool, order, the byte bound, a restart), its choice
 * of server and its reading of acks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "sinks/push_queue.h"
#include "sinks/pusher.h"

static void expect_head(struct push_queue *q, uint64_t seq, const char *data)
{
	struct buf b = { 0 };
	uint64_t s = 0;

	assert_int_equal(push_queue_peek(q, &s, &b), 0);
	assert_int_equal(s, seq);
	assert_int_equal(b.len, strlen(data));
	assert_memory_equal(b.data, data, b.len);
	buf_free(&b);
}

static void put(struct push_queue *q, uint64_t seq, int dropped)
{
	char m[16];

	snprintf(m, sizeof(m), "msg%02llu", (unsigned long long)seq); /* 5 bytes */
	assert_int_equal(push_queue_put(q, seq, m, strlen(m)), dropped);
}

static void head_is(struct push_queue *q, uint64_t seq)
{
	char m[16];

	snprintf(m, sizeof(m), "msg%02llu", (unsigned long long)seq);
	expect_head(q, seq, m);
}

/* Two in memory, then a spool of 3 messages (8 + 5 bytes each = 13; bound 40). */
static void test_order_and_bound(void **state)
{
	struct push_queue *q = push_queue_open(NULL, 40, 2);
	struct buf b = { 0 };
	uint64_t s;

	(void)state;
	assert_non_null(q);
	assert_int_equal(push_queue_peek(q, &s, &b), -ENOENT);
	for (uint64_t i = 1; i <= 5; i++)
		put(q, i, 0);
	assert_int_equal(push_queue_len(q), 5);
	assert_int_equal(push_queue_spool_bytes(q), 39);
	/* Full: 6 pushes 4 into the spool, which drops 1 (the oldest) to make room. */
	put(q, 6, 1);
	assert_int_equal(push_queue_len(q), 5);
	for (uint64_t i = 2; i <= 6; i++) {
		head_is(q, i);
		push_queue_pop(q);
	}
	assert_int_equal(push_queue_len(q), 0);
	assert_int_equal(push_queue_peek(q, &s, &b), -ENOENT);
	/* Memory lost at close without a dir. */
	put(q, 7, 0);
	put(q, 8, 0);
	put(q, 9, 0);
	assert_int_equal(push_queue_close(q), 3);
}

/* A message larger than the whole bound is dropped itself once it must be spooled. */
static void test_too_large(void **state)
{
	struct push_queue *q = push_queue_open(NULL, 10, 1);
	char big[64];

	(void)state;
	memset(big, 'x', sizeof(big));
	assert_int_equal(push_queue_put(q, 1, big, sizeof(big)), 0);
	put(q, 2, 1);
	assert_int_equal(push_queue_len(q), 1);
	head_is(q, 2);
	assert_int_equal(push_queue_close(q), 1);
}

/* With a directory, what is waiting at close is there at the next open, in order. */
static void test_restart(void **state)
{
	char dir[] = "/tmp/mp-pushq-XXXXXX", cmd[64];
	struct push_queue *q;

	(void)state;
	assert_non_null(mkdtemp(dir));
	q = push_queue_open(dir, 1 << 20, 2);
	for (uint64_t i = 1; i <= 4; i++)
		put(q, i, 0);
	push_queue_pop(q);
	assert_int_equal(push_queue_close(q), 0);
	q = push_queue_open(dir, 1 << 20, 2);
	assert_non_null(q);
	assert_int_equal(push_queue_len(q), 3);
	put(q, 9, 0);
	head_is(q, 2);
	push_queue_pop(q);
	head_is(q, 3);
	push_queue_pop(q);
	head_is(q, 4);
	push_queue_pop(q);
	head_is(q, 9);
	push_queue_pop(q);
	assert_int_equal(push_queue_len(q), 0);
	assert_int_equal(push_queue_close(q), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* The first server that is up, in the configured order. */
static void test_pick(void **state)
{
	bool up[3] = { false, false, false };

	(void)state;
	assert_int_equal(pusher_pick(up, 3), -1);
	up[2] = true;
	assert_int_equal(pusher_pick(up, 3), 2);
	up[1] = true;
	assert_int_equal(pusher_pick(up, 3), 1);
	up[0] = true; /* the first is back: it wins again */
	assert_int_equal(pusher_pick(up, 3), 0);
	up[0] = false;
	assert_int_equal(pusher_pick(up, 3), 1);
	assert_int_equal(pusher_pick(up, 0), -1);
}

static void test_ack(void **state)
{
	uint64_t s = 0;

	(void)state;
	assert_int_equal(pusher_parse_ack("ack 42", 6, &s), 0);
	assert_int_equal(s, 42);
	assert_int_equal(pusher_parse_ack("ack 18446744073709551615", 24, &s), 0);
	assert_true(s == UINT64_MAX);
	assert_int_equal(pusher_parse_ack("ack 18446744073709551616", 24, &s), -EINVAL);
	assert_int_equal(pusher_parse_ack("ack ", 4, &s), -EINVAL);
	assert_int_equal(pusher_parse_ack("ack -1", 6, &s), -EINVAL);
	assert_int_equal(pusher_parse_ack("ack 1 ", 6, &s), -EINVAL);
	assert_int_equal(pusher_parse_ack("nak 1", 5, &s), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_bound),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_restart),
		cmocka_unit_test(test_pick),
		cmocka_unit_test(test_ack),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
