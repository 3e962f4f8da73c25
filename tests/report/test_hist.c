// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests the latency histogram: bucket maths, percentile precision, merge, sparse round trip. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "report/hist.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	/* xorshift64*: deterministic, so a failure reproduces. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static double rnd01(void)
{
	return (double)(rnd() >> 11) / (double)(1ull << 53);
}

static void test_bucket_bounds(void **state)
{
	unsigned int i;

	(void)state;
	assert_int_equal(hist_bucket_lower(0), 0);
	for (i = 0; i < HIST_BUCKETS; i++) {
		uint64_t lo = hist_bucket_lower(i), hi = hist_bucket_upper(i);

		assert_true(lo <= hi);
		if (i)
			assert_int_equal(lo, hist_bucket_upper(i - 1) + 1);
		assert_int_equal(hist_bucket(lo), i);
		assert_int_equal(hist_bucket(hi), i);
		/* Width bounds the relative error: at most lower/64 (exact below 128). */
		if (i >= 2 * HIST_SUB)
			assert_true((hi - lo + 1) * HIST_SUB <= lo);
		else
			assert_int_equal(lo, hi);
	}
	assert_int_equal(hist_bucket_upper(HIST_BUCKETS - 1), HIST_MAX_US);
	assert_int_equal(hist_bucket(HIST_MAX_US + 1), HIST_BUCKETS - 1);
	assert_int_equal(hist_bucket(UINT64_MAX), HIST_BUCKETS - 1);
	/* Spot checks of the documented formula. */
	assert_int_equal(hist_bucket(127), 127);
	assert_int_equal(hist_bucket(128), 128);
	assert_int_equal(hist_bucket(129), 128);
	assert_int_equal(hist_bucket(130), 129);
	assert_int_equal(hist_bucket_upper(128), 129);
	assert_int_equal(hist_bucket(1000000), 64 * 13 + (1000000 >> 13)); /* g = 19 - 5 */
}

static void test_bucket_contains_random(void **state)
{
	unsigned int i, b;
	uint64_t v;

	(void)state;
	for (i = 0; i < 200000; i++) {
		v = rnd() >> (rnd() % 64);
		if (v > HIST_MAX_US)
			v &= HIST_MAX_US;
		b = hist_bucket(v);
		assert_true(b < HIST_BUCKETS);
		assert_true(hist_bucket_lower(b) <= v && v <= hist_bucket_upper(b));
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

enum dist { D_UNIFORM, D_LOGNORMAL, D_EXP, D_BIMODAL, D_CONST, D_SMALL, D_WIDE, D_COUNT };

static uint64_t sample(enum dist d)
{
	double u1 = rnd01() + 1e-12, u2 = rnd01(), z;

	switch (d) {
	case D_UNIFORM: return 1 + rnd() % 1000000;
	case D_LOGNORMAL:
		z = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
		return (uint64_t)exp(7 + 1.5 * z);
	case D_EXP: return (uint64_t)(-log(u1) * 2000);
	case D_BIMODAL: return rnd() % 10 ? 200 + rnd() % 100 : 500000 + rnd() % 100000;
	case D_CONST: return 4242;
	case D_SMALL: return rnd() % 300;
	case D_WIDE: return rnd() >> (32 + rnd() % 32);
	default: return 0;
	}
}

static void check_percentiles(const uint64_t *sorted, size_t n, const struct hist *h)
{
	static const double qs[] = { 0.001, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0 };
	uint64_t exact, got;
	size_t i, rank;

	for (i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		rank = (size_t)ceil(qs[i] * (double)n);
		if (rank < 1)
			rank = 1;
		exact = sorted[rank - 1];
		got = hist_percentile(h, qs[i]);
		if ((double)(got > exact ? got - exact : exact - got) > 0.01 * (double)exact) {
			print_error("q=%g n=%zu exact=%llu got=%llu\n", qs[i], n,
				    (unsigned long long)exact, (unsigned long long)got);
			fail();
		}
	}
}

static void test_percentile_precision(void **state)
{
	static const size_t sizes[] = { 1, 2, 3, 10, 99, 1000, 50000 };
	struct hist_pool pool = { 0 };
	struct hist h;
	uint64_t *v;
	size_t s, i;
	int d;

	(void)state;
	v = malloc(50000 * sizeof(*v));
	assert_non_null(v);
	for (d = 0; d < D_COUNT; d++) {
		for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			hist_init(&h);
			for (i = 0; i < sizes[s]; i++) {
				v[i] = sample(d);
				assert_int_equal(hist_add(&h, &pool, v[i]), 0);
			}
			qsort(v, sizes[s], sizeof(*v), cmp_u64);
			assert_int_equal(h.count, sizes[s]);
			assert_int_equal(h.min, v[0]);
			assert_int_equal(h.max, v[sizes[s] - 1]);
			check_percentiles(v, sizes[s], &h);
			hist_reset(&h, &pool);
		}
	}
	hist_init(&h);
	assert_int_equal(hist_percentile(&h, 0.5), 0);
	hist_pool_drain(&pool);
	free(v);
}

static void assert_hist_equal(const struct hist *a, const struct hist *b)
{
	unsigned int i;

	assert_int_equal(a->count, b->count);
	assert_int_equal(a->sum, b->sum);
	assert_int_equal(a->min, b->min);
	assert_int_equal(a->max, b->max);
	for (i = 0; i < HIST_BUCKETS; i++)
		assert_int_equal(hist_bucket_count(a, i), hist_bucket_count(b, i));
}

static void test_merge_is_union(void **state)
{
	struct hist a, b, u, empty;
	uint64_t v;
	int i;

	(void)state;
	hist_init(&a);
	hist_init(&b);
	hist_init(&u);
	hist_init(&empty);
	for (i = 0; i < 20000; i++) {
		v = sample(i % D_COUNT);
		assert_int_equal(hist_add(i % 3 ? &a : &b, NULL, v), 0);
		assert_int_equal(hist_add(&u, NULL, v), 0);
	}
	assert_int_equal(hist_merge(&a, NULL, &empty), 0);
	assert_int_equal(hist_merge(&a, NULL, &b), 0);
	assert_hist_equal(&a, &u);
	/* Merging into an empty histogram copies it, min included. */
	assert_int_equal(hist_merge(&empty, NULL, &u), 0);
	assert_hist_equal(&empty, &u);
	hist_reset(&a, NULL);
	hist_reset(&b, NULL);
	hist_reset(&u, NULL);
	hist_reset(&empty, NULL);
}

static void test_sparse_round_trip(void **state)
{
	struct hist h, back;
	struct jbuf b;
	int i;

	(void)state;
	hist_init(&h);
	hist_init(&back);
	jbuf_init(&b);
	for (i = 0; i < 5000; i++)
		assert_int_equal(hist_add(&h, NULL, sample(i % D_COUNT) + 1), 0);
	assert_int_equal(hist_add(&h, NULL, HIST_MAX_US + 12345), 0); /* clamped bucket */
	hist_write_json(&h, &b);
	assert_int_equal(jbuf_error(&b), 0);
	assert_int_equal(hist_parse_json(&back, NULL, b.out.data, b.out.len), 0);
	assert_hist_equal(&h, &back);
	/* The bare sparse array parses too, and parsing merges (counts add up). */
	jbuf_reset(&b);
	hist_write_sparse(&h, &b);
	assert_int_equal(hist_parse_json(&back, NULL, b.out.data, b.out.len), 0);
	assert_int_equal(back.count, 2 * h.count);
	hist_reset(&h, NULL);
	hist_reset(&back, NULL);
	jbuf_free(&b);
}

static void test_sparse_exact_text(void **state)
{
	struct hist h;
	struct jbuf b;

	(void)state;
	hist_init(&h);
	jbuf_init(&b);
	hist_write_json(&h, &b);
	assert_string_equal(b.out.data,
			    "{\"sum\":0,\"min\":0,\"max\":0,\"p50\":0,\"p95\":0,\"p99\":0,"
			    "\"hist\":[]}");
	assert_int_equal(hist_add(&h, NULL, 5), 0);
	assert_int_equal(hist_add(&h, NULL, 5), 0);
	assert_int_equal(hist_add(&h, NULL, 130), 0);
	jbuf_reset(&b);
	hist_write_sparse(&h, &b);
	assert_string_equal(b.out.data, "[[5,2],[131,1]]");
	hist_reset(&h, NULL);
	jbuf_free(&b);
}

static void test_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"[[128,1]]", /* 128 is a lower bound, not an upper one */
		"[[4294967296,1]]", /* beyond the last bucket */
		"[[5]]", "[[5,1,2]]", "[[-5,1]]", "[[\"5\",1]]", "[[5,x]]", "{\"hist\":[]}",
		"{\"sum\":1,\"min\":9,\"max\":2,\"hist\":[]}", "[[5,1]", "", "5",
		"[[18446744073709551616,1]]",
	};
	struct hist h;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		hist_init(&h);
		if (hist_parse_json(&h, NULL, bad[i], strlen(bad[i])) != -EINVAL) {
			print_error("accepted: %s\n", bad[i]);
			fail();
		}
		hist_reset(&h, NULL);
	}
}

static void test_pool_recycles(void **state)
{
	struct hist_pool pool = { 0 };
	struct hist h;

	(void)state;
	hist_init(&h);
	assert_int_equal(hist_add(&h, &pool, 1), 0);
	assert_int_equal(hist_add(&h, &pool, 1000000), 0);
	hist_reset(&h, &pool);
	assert_int_equal(pool.free_count, 2);
	assert_int_equal(hist_add(&h, &pool, 7), 0);
	assert_int_equal(pool.free_count, 1);
	/* A recycled group starts at zero. */
	assert_int_equal(hist_bucket_count(&h, 7), 1);
	assert_int_equal(hist_bucket_count(&h, 1), 0);
	hist_reset(&h, &pool);
	hist_pool_drain(&pool);
	assert_int_equal(pool.free_count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_bounds),
		cmocka_unit_test(test_bucket_contains_random),
		cmocka_unit_test(test_percentile_precision),
		cmocka_unit_test(test_merge_is_union),
		cmocka_unit_test(test_sparse_round_trip),
		cmocka_unit_test(test_sparse_exact_text),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_pool_recycles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
