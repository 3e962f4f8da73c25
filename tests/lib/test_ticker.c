// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests the ticker: a sleep lasts until its deadline, and a stop ends it at once, for good. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lib/clock.h"
#include "lib/ticker.h"

static void test_deadline(void **state)
{
	struct ticker t;
	uint64_t t0;

	(void)state;
	assert_int_equal(ticker_init(&t), 0);
	/* A deadline already past returns at once, not stopped. */
	t0 = mono_ms();
	assert_false(ticker_wait_until_or_stop(&t, 0));
	assert_false(ticker_wait_until_or_stop(&t, t0));
	/* A deadline ahead is slept to, not before. */
	t0 = mono_ms();
	assert_false(ticker_wait_until_or_stop(&t, t0 + 50));
	assert_true(mono_ms() >= t0 + 50);
	ticker_destroy(&t);
}

static void *sleeper(void *arg)
{
	struct ticker *t = arg;

	/* Far past any test's length: only the stop can end it in time. */
	return ticker_wait_until_or_stop(t, mono_ms() + 60000) ? t : NULL;
}

static void test_stop(void **state)
{
	struct ticker t;
	pthread_t thr;
	void *ret = NULL;
	uint64_t t0;

	(void)state;
	assert_int_equal(ticker_init(&t), 0);
	assert_int_equal(pthread_create(&thr, NULL, sleeper, &t), 0);
	/* Whether the sleeper is asleep yet or not, the stop reaches it. */
	t0 = mono_ms();
	ticker_stop(&t);
	assert_int_equal(pthread_join(thr, &ret), 0);
	assert_ptr_equal(ret, &t);
	assert_true(mono_ms() - t0 < 5000);
	/* Stopped for good: later waits return at once. */
	t0 = mono_ms();
	assert_true(ticker_wait_until_or_stop(&t, t0 + 60000));
	assert_true(mono_ms() - t0 < 5000);
	ticker_stop(&t);
	ticker_destroy(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
