// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests the report bus: fan-out, bounded queues with exact loss counts, history and replay. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/clock.h"
#include "report/bus.h"

static atomic_uint freed;

static void free_obj(void *obj)
{
	atomic_fetch_add(&freed, 1);
	free(obj);
}

static struct bus *new_bus(size_t history, size_t history_bytes)
{
	struct bus_config c = { .history = history, .history_bytes = history_bytes,
				.free_obj = free_obj };
	struct bus *b = bus_new(&c);

	assert_non_null(b);
	atomic_store(&freed, 0);
	return b;
}

static void publish(struct bus *b, uint64_t seq, size_t bytes)
{
	uint64_t *o = malloc(sizeof(*o));

	assert_non_null(o);
	*o = seq;
	assert_int_equal(bus_publish(b, seq, o, bytes), 0);
}

static struct bus_reader *reader_of(struct bus *b, const char *kind, unsigned queue,
				    enum bus_start start, uint64_t since, const void *owner)
{
	struct bus_reader_config c = { .kind = kind, .queue = queue, .start = start,
				       .since = since, .owner = owner };
	struct bus_reader *r = bus_reader_new(b, &c);

	assert_non_null(r);
	return r;
}

static struct bus_reader *reader(struct bus *b, const char *kind, unsigned queue,
				 enum bus_start start, uint64_t since)
{
	return reader_of(b, kind, queue, start, since, NULL);
}

/* Reads one report and checks its seq and what was lost before it. */
static void expect(struct bus *b, struct bus_reader *r, uint64_t seq, uint64_t lost)
{
	struct bus_item *it;
	uint64_t l;

	assert_int_equal(bus_read(r, &it, &l), 0);
	assert_int_equal(bus_item_seq(it), seq);
	assert_int_equal(*(uint64_t *)bus_item_obj(it), seq);
	assert_int_equal(l, lost);
	bus_item_put(b, it);
}

static void expect_none(struct bus_reader *r)
{
	struct bus_item *it;
	uint64_t l;

	assert_int_equal(bus_read(r, &it, &l), -EAGAIN);
}

static void test_fan_out(void **unused)
{
	struct bus *b = new_bus(4, 0);
	struct bus_reader *x = reader(b, "x", 8, BUS_START_LIVE, 0);
	struct bus_reader *y = reader(b, "y", 8, BUS_START_LIVE, 0);
	uint64_t i;

	for (i = 1; i <= 3; i++)
		publish(b, i, 10);
	for (i = 1; i <= 3; i++)
		expect(b, x, i, 0);
	expect_none(x);
	expect(b, y, 1, 0);
	/* A reader joining live starts with the next report, not the history. */
	bus_reader_free(y);
	y = reader(b, "y", 8, BUS_START_LIVE, 0);
	expect_none(y);
	publish(b, 4, 10);
	expect(b, x, 4, 0);
	expect(b, y, 4, 0);
	assert_int_equal(bus_pending(b, NULL), 0);
	bus_reader_free(x);
	bus_reader_free(y);
	bus_free(b);
	assert_int_equal(freed, 4);
}

struct blocked {
	struct bus *b;
	struct bus_reader *r;
	pthread_mutex_t gate; /* held by the test: the reader blocks "forever" on it */
	atomic_int got_first;
};

/* An output that takes one report and then blocks (a dead socket, a stuck disk). */
static void *blocked_output(void *arg)
{
	struct blocked *o = arg;
	struct bus_item *it;
	uint64_t lost;

	assert_int_equal(bus_read_wait(o->r, &it, &lost, 10000), 0);
	atomic_store(&o->got_first, 1);
	pthread_mutex_lock(&o->gate);
	pthread_mutex_unlock(&o->gate);
	bus_item_put(o->b, it);
	return NULL;
}

struct fast {
	struct bus *b;
	struct bus_reader *r;
	unsigned delay_us; /* per report: a slow but live output */
	uint64_t got, last, lost;
};

static void *fast_output(void *arg)
{
	struct fast *o = arg;
	struct bus_item *it;
	uint64_t lost;

	while (bus_read_wait(o->r, &it, &lost, 10000) == 0) {
		if (o->delay_us)
			usleep(o->delay_us);
		o->got++;
		o->lost += lost;
		o->last = bus_item_seq(it);
		bus_item_put(o->b, it);
	}
	return NULL;
}

/*
 * The acceptance test of the bus: an output that blocks forever neither delays publishing
 * nor the other output, and loses exactly what its queue cannot hold.
 */
static void test_blocked_output(void **unused)
{
	enum { N = 200, Q = 8, HISTORY = 120 };
	struct bus *b = new_bus(HISTORY, 0);
	struct blocked bl = { .b = b, .r = reader(b, "stuck", Q, BUS_START_LIVE, 0) };
	struct fast f = { .b = b };
	pthread_t tb, tf;
	struct bus_stats st;
	uint64_t worst = 0;
	uint64_t i;

	f.r = reader_of(b, "fast", Q, BUS_START_LIVE, 0, &f);
	pthread_mutex_init(&bl.gate, NULL);
	pthread_mutex_lock(&bl.gate);
	assert_int_equal(pthread_create(&tb, NULL, blocked_output, &bl), 0);
	assert_int_equal(pthread_create(&tf, NULL, fast_output, &f), 0);
	publish(b, 1, 100);
	while (!atomic_load(&bl.got_first))
		usleep(1000);
	for (i = 2; i <= N; i++) {
		uint64_t t0 = mono_ms(), dt;

		publish(b, i, 100);
		dt = mono_ms() - t0;
		worst = dt > worst ? dt : worst;
		/* The fast output takes each report while the other stays stuck. */
		t0 = mono_ms();
		while (bus_pending(b, &f))
			assert_true(mono_ms() - t0 < 10000);
	}
	bus_close(b);
	assert_int_equal(pthread_join(tf, NULL), 0);
	print_message("# slowest publish %llu ms\n", (unsigned long long)worst);
	/*
	 * That publishing never waited for the stuck output is shown by what it lost (below), not
	 * by a time bound: a loaded machine can stall any call for a while. A bus that waited
	 * would hang here, the stuck output holding its gate.
	 */
	/* The fast output got everything, in order, nothing lost. */
	assert_int_equal(f.got, N);
	assert_int_equal(f.last, N);
	assert_int_equal(f.lost, 0);
	assert_int_equal(bus_reader_dropped(f.r), 0);
	/* The stuck one read report 1 and holds Q more: the rest is lost, counted exactly. */
	assert_int_equal(bus_reader_dropped(bl.r), N - 1 - Q);
	bus_get_stats(b, &st);
	assert_int_equal(st.published, N);
	assert_int_equal(st.nkinds, 2);
	assert_string_equal(st.kinds[0].kind, "stuck");
	assert_int_equal(st.kinds[0].dropped, N - 1 - Q);
	assert_int_equal(st.kinds[0].delivered, 1);
	assert_string_equal(st.kinds[1].kind, "fast");
	assert_int_equal(st.kinds[1].dropped, 0);
	assert_int_equal(st.kinds[1].delivered, N);
	/* Unblocked, it gets the newest Q, told how many it lost before them. */
	pthread_mutex_unlock(&bl.gate);
	assert_int_equal(pthread_join(tb, NULL), 0);
	expect(b, bl.r, N - Q + 1, N - 1 - Q);
	for (i = N - Q + 2; i <= N; i++)
		expect(b, bl.r, i, 0);
	bus_reader_free(bl.r);
	bus_reader_free(f.r);
	bus_free(b);
	assert_int_equal(freed, N);
	pthread_mutex_destroy(&bl.gate);
}

static void test_history_and_since(void **unused)
{
	struct bus *b = new_bus(10, 0);
	struct bus_reader *r;
	struct bus_stats st;
	uint64_t i;

	for (i = 1; i <= 30; i++)
		publish(b, i, 1);
	bus_get_stats(b, &st);
	assert_int_equal(st.held, 10);
	assert_int_equal(st.oldest_seq, 21);
	assert_int_equal(freed, 20);

	/* Within the history: exactly the reports after since. */
	r = reader(b, "c", 0, BUS_START_AFTER, 25);
	for (i = 26; i <= 30; i++)
		expect(b, r, i, 0);
	expect_none(r);
	bus_reader_free(r);
	/* Older than the history: what is held, and how many it can no longer have. */
	r = reader(b, "c", 0, BUS_START_AFTER, 5);
	expect(b, r, 21, 15);
	bus_reader_free(r);
	r = reader(b, "c", 0, BUS_START_AFTER, 0);
	expect(b, r, 21, 20);
	bus_reader_free(r);
	/* A seq from an earlier run (seqs start over at 1): everything held. */
	r = reader(b, "c", 0, BUS_START_AFTER, 1000);
	expect(b, r, 21, 20);
	bus_reader_free(r);
	/* Up to date: nothing now, then live, no duplicate and no gap at the seam. */
	r = reader(b, "c", 0, BUS_START_AFTER, 30);
	expect_none(r);
	publish(b, 31, 1);
	expect(b, r, 31, 0);
	/* A reader bound by the history only loses what leaves it. */
	for (i = 32; i <= 45; i++)
		publish(b, i, 1);
	expect(b, r, 36, 4);
	assert_int_equal(bus_reader_dropped(r), 4);
	bus_reader_free(r);
	/* A skipped seq is a report lost before the bus; readers are told. */
	publish(b, 47, 1);
	r = reader(b, "c", 0, BUS_START_AFTER, 45);
	expect(b, r, 47, 1);
	assert_int_equal(bus_publish(b, 47, malloc(1), 1), -EINVAL);
	bus_reader_free(r);
	bus_free(b);
	assert_int_equal(freed, 47);
}

static void test_history_bytes(void **unused)
{
	struct bus *b = new_bus(100, 350);
	struct bus_stats st;

	for (uint64_t i = 1; i <= 10; i++)
		publish(b, i, 100);
	bus_get_stats(b, &st);
	assert_int_equal(st.held, 3);
	assert_int_equal(st.held_bytes, 300);
	/* One report over the cap: the newest is always kept. */
	publish(b, 11, 1000);
	bus_get_stats(b, &st);
	assert_int_equal(st.held, 1);
	assert_int_equal(st.oldest_seq, 11);
	bus_free(b);
	assert_int_equal(freed, 11);
}

/* Offline replay: stdout must get every report, so publishing waits for it instead. */
static void test_lossless(void **unused)
{
	struct bus *b = new_bus(1, 0);
	struct bus_reader_config c = { .kind = "stdout", .queue = 2, .lossless = true };
	struct fast o = { .b = b, .r = bus_reader_new(b, &c), .delay_us = 500 };
	struct bus_reader_config bad = { .kind = "stdout", .lossless = true };
	pthread_t t;

	assert_non_null(o.r);
	assert_null(bus_reader_new(b, &bad));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(pthread_create(&t, NULL, fast_output, &o), 0);
	for (uint64_t i = 1; i <= 50; i++)
		publish(b, i, 1);
	bus_close(b);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(o.got, 50);
	assert_int_equal(o.lost, 0);
	assert_int_equal(bus_reader_dropped(o.r), 0);
	assert_int_equal(bus_publish(b, 51, malloc(1), 1), -ESHUTDOWN);
	bus_reader_free(o.r);
	bus_free(b);
	assert_int_equal(freed, 51);
}

/* A report an output still holds outlives the history; the last holder frees it. */
static void test_refcount(void **unused)
{
	struct bus *b = new_bus(1, 0);
	struct bus_reader *r = reader(b, "x", 0, BUS_START_LIVE, 0);
	struct bus_item *it;
	uint64_t lost;

	publish(b, 1, 1);
	assert_int_equal(bus_read(r, &it, &lost), 0);
	publish(b, 2, 1);
	assert_int_equal(freed, 0);
	assert_int_equal(*(uint64_t *)bus_item_obj(it), 1);
	bus_item_put(b, it);
	assert_int_equal(freed, 1);
	bus_reader_free(r);
	bus_free(b);
	assert_int_equal(freed, 2);
}

/* An output's own losses after reading (the pusher's spool bound) count like the bus's. */
static void test_count_lost(void **unused)
{
	struct bus *b = new_bus(4, 0);
	struct bus_reader *r = reader(b, "pusher", 4, BUS_START_LIVE, 0);
	struct bus_stats st;

	bus_reader_count_lost(r, 3);
	assert_int_equal(bus_reader_dropped(r), 3);
	bus_get_stats(b, &st);
	assert_int_equal(st.nkinds, 1);
	assert_string_equal(st.kinds[0].kind, "pusher");
	assert_int_equal(st.kinds[0].dropped, 3);
	bus_reader_free(r);
	bus_free(b);
}

static void test_kinds_bounded(void **unused)
{
	struct bus *b = new_bus(1, 0);
	struct bus_reader *r[BUS_MAX_KINDS + 1];
	char name[8];
	int i;

	for (i = 0; i < BUS_MAX_KINDS; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		r[i] = reader(b, name, 1, BUS_START_LIVE, 0);
	}
	struct bus_reader_config c = { .kind = "one-too-many" };
	assert_null(bus_reader_new(b, &c));
	assert_int_equal(errno, ENOSPC);
	c.kind = "k0";
	r[i] = bus_reader_new(b, &c);
	assert_non_null(r[i]);
	for (i = 0; i <= BUS_MAX_KINDS; i++)
		bus_reader_free(r[i]);
	bus_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fan_out),
		cmocka_unit_test(test_blocked_output),
		cmocka_unit_test(test_history_and_since),
		cmocka_unit_test(test_history_bytes),
		cmocka_unit_test(test_lossless),
		cmocka_unit_test(test_refcount),
		cmocka_unit_test(test_kinds_bounded),
		cmocka_unit_test(test_count_lost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
