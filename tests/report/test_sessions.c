// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Connection and login counts per (user, client): keys, codes, the overflow row, merging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "report/sessions.h"

static void ip4(uint8_t *a, int last)
{
	memset(a, 0, 16);
	a[0] = 10;
	a[3] = (uint8_t)last;
}

static void test_keys_and_overflow(void **state)
{
	struct sess_table *t = sess_new(3);
	uint8_t a[16];

	(void)state;
	assert_non_null(t);
	for (int i = 0; i < 5; i++) {
		ip4(a, i);
		assert_int_equal(sess_add(t, SESS_OPENED, 0, "app", 3, a, AF_INET), 0);
		assert_int_equal(sess_add(t, SESS_LOGIN_FAILED, (uint16_t)(1045 - i), "app", 3, a,
					  AF_INET), 0);
	}
	ip4(a, 0);
	assert_int_equal(sess_add(t, SESS_CLOSED, 0, NULL, 0, a, AF_INET), 0); /* user "" */
	/* 3 keys, then everything else in "other": (app, .3), (app, .4), ("", .0). */
	assert_int_equal(sess_count(t), 4);
	assert_int_equal(sess_at(t, 0)->opened, 1);
	assert_int_equal(sess_at(t, 0)->err_code[0], 1045);
	assert_true(sess_at(t, 3)->is_other);
	assert_int_equal(sess_at(t, 3)->opened, 2);
	assert_int_equal(sess_at(t, 3)->failed, 2);
	assert_int_equal(sess_at(t, 3)->closed, 1);
	assert_int_equal(sess_at(t, 3)->err_n, 2);
	assert_int_equal(sess_at(t, 3)->err_code[0], 1041);
	assert_null(sess_at(t, 4));
	sess_reset(t);
	assert_int_equal(sess_count(t), 0);
	sess_free(t);
	assert_null(sess_new(0));
}

/* Merging tables in any grouping gives the table of all the events. */
static void test_merge(void **state)
{
	struct sess_table *x = sess_new(1000), *y = sess_new(1000), *all = sess_new(1000);
	uint8_t a[16];

	(void)state;
	for (int i = 0; i < 200; i++) {
		struct sess_table *t = i % 3 ? x : y;
		enum sess_kind k = (enum sess_kind)(i % 4);
		uint16_t code = (uint16_t)(1000 + i % 20);

		ip4(a, i % 7);
		assert_int_equal(sess_add(t, k, code, "u", 1, a, AF_INET), 0);
		assert_int_equal(sess_add(all, k, code, "u", 1, a, AF_INET), 0);
	}
	assert_int_equal(sess_merge(x, y), 0);
	assert_int_equal(sess_count(x), sess_count(all));
	for (size_t i = 0; i < sess_count(all); i++) {
		const struct sess_row *w = sess_at(all, i), *g = NULL;

		for (size_t j = 0; j < sess_count(x); j++)
			if (!memcmp(sess_at(x, j)->addr, w->addr, 16))
				g = sess_at(x, j);
		assert_non_null(g);
		assert_int_equal(g->opened, w->opened);
		assert_int_equal(g->failed, w->failed);
		assert_int_equal(g->err_n, w->err_n);
		assert_memory_equal(g->err_code, w->err_code, sizeof(w->err_code));
		assert_memory_equal(g->err_count, w->err_count, sizeof(w->err_count));
		assert_int_equal(g->err_other, w->err_other);
	}
	sess_free(x);
	sess_free(y);
	sess_free(all);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_and_overflow),
		cmocka_unit_test(test_merge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
