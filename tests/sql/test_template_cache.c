// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for the template cache: a hit gives exactly what template_make gives. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sql/template_cache.h"

/* The cached answer must equal template_make's, comment pointer into *this* text included. */
static void check_same(struct template_cache *c, const char *sql)
{
	struct template_opts o = { .max_len = 64 };
	struct template_info want, got;
	char out[65];
	const char *t;

	assert_int_equal(template_make(sql, strlen(sql), out, sizeof(out), &o, &want), 0);
	t = template_cache_make(c, sql, strlen(sql), &got);
	assert_non_null(t);
	assert_string_equal(t, out);
	assert_int_equal(got.len, want.len);
	assert_true(got.id == want.id);
	assert_int_equal(got.truncated, want.truncated);
	assert_ptr_equal(got.comment, want.comment);
	assert_int_equal(got.comment_len, want.comment_len);
}

static void test_hit_equals_template_make(void **state)
{
	struct template_opts o = { .max_len = 64 };
	struct template_cache *c = template_cache_new(16, 256, &o);
	const char *texts[] = {
		"SELECT c FROM sbtest1 WHERE id=?",
		"/* app=x */ SELECT 1",
		"COMMIT",
		"SELECT 'a very long literal list', 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13 FROM t "
		"WHERE a = 1 AND b = 2 AND c = 3", /* template cut at max_len */
	};
	unsigned long long hits, misses;
	char copy[256];

	assert_non_null(c);
	for (int round = 0; round < 3; round++)
		for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
			/* A fresh copy each time: a hit must point into the caller's text. */
			snprintf(copy, sizeof(copy), "%s", texts[i]);
			check_same(c, copy);
		}
	template_cache_stats(c, &hits, &misses);
	/* 16 slots for 4 texts may collide: every call is one or the other, and repeats hit. */
	assert_int_equal(hits + misses, 12);
	assert_true(hits >= 4);
	template_cache_free(c);
}

static void test_collisions_and_long_texts(void **state)
{
	/* One slot: every other text evicts; a text over max_text is never kept. */
	struct template_cache *c = template_cache_new(1, 16, NULL);
	unsigned long long hits, misses;

	assert_non_null(c);
	check_same(c, "SELECT 1");
	check_same(c, "SELECT 2");
	check_same(c, "SELECT 1"); /* same hash slot, different text: must not answer "2"'s */
	check_same(c, "SELECT 1");
	check_same(c, "SELECT * FROM a_rather_long_table_name");
	check_same(c, "SELECT * FROM a_rather_long_table_name");
	template_cache_stats(c, &hits, &misses);
	assert_int_equal(hits, 1);
	assert_int_equal(misses, 5);
	/* Texts of the same length and slot differ in one byte. */
	check_same(c, "SELECT a FROM t");
	check_same(c, "SELECT b FROM t");
	template_cache_stats(c, &hits, &misses);
	assert_int_equal(hits, 1);
	template_cache_free(c);
	template_cache_free(NULL);
}

static void test_empty_and_bad_input(void **state)
{
	struct template_cache *c = template_cache_new(8, 64, NULL);
	struct template_info ti;

	assert_non_null(c);
	check_same(c, "");
	check_same(c, "");
	errno = 0;
	assert_null(template_cache_make(c, NULL, 5, &ti));
	assert_int_equal(errno, EINVAL);
	template_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_equals_template_make),
		cmocka_unit_test(test_collisions_and_long_texts),
		cmocka_unit_test(test_empty_and_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
