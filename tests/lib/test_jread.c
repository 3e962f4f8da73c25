// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests the JSON reader: strictness, walks in and out of order, big objects, node release. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/buf.h"
#include "lib/jread.h"

static int load(const char *json)
{
	struct jread r;
	int err = jread_load(&r, json, strlen(json));

	jread_free(&r);
	return err;
}

static void test_strict(void **state)
{
	(void)state;
	assert_int_equal(load("{\"a\":1,\"b\":[1,2,{\"c\":true}]}"), 0);
	assert_int_equal(load(""), -EINVAL);
	assert_int_equal(load("{\"a\":1"), -EINVAL);
	assert_int_equal(load("{\"a\":1} x"), -EINVAL);
	assert_int_equal(load("{\"a\":1,\"a\":2}"), -EINVAL);
	assert_int_equal(load("[{\"x\":{\"k\":1,\"j\":2,\"k\":3}}]"), -EINVAL);
	assert_int_equal(load("{\"n\":9223372036854775807}"), 0);
	assert_int_equal(load("{\"n\":9223372036854775808}"), -EINVAL);
	assert_int_equal(load("{\"n\":123456789012345678901234567890}"), -EINVAL);
	assert_int_equal(load("{\"s\":\"\xff\"}"), -EINVAL); /* not UTF-8 */
}

static void test_values(void **state)
{
	const char *json = "{\"u\":7,\"neg\":-1,\"f\":1.5,\"s\":\"a\\u0000b\",\"t\":true,\"q\":\"7\"}";
	struct jread r;
	jnode_t *root;
	uint64_t v;
	size_t len;
	int b;

	(void)state;
	assert_int_equal(jread_load(&r, json, strlen(json)), 0);
	root = jread_root(&r);
	assert_true(jread_is_obj(root));
	assert_int_equal(jread_obj_len(root), 6);
	assert_int_equal(jread_u64(jread_get(&r, root, "u"), &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(jread_u64(jread_get(&r, root, "neg"), &v), -EINVAL);
	assert_int_equal(jread_u64(jread_get(&r, root, "f"), &v), -EINVAL);
	assert_int_equal(jread_u64(jread_get(&r, root, "q"), &v), -EINVAL);
	assert_int_equal(jread_u64(jread_get(&r, root, "none"), &v), -EINVAL);
	assert_memory_equal(jread_str(jread_get(&r, root, "s"), &len), "a\0b", 4);
	assert_int_equal(len, 3);
	assert_null(jread_str(jread_get(&r, root, "u"), NULL));
	assert_int_equal(jread_bool(jread_get(&r, root, "t"), &b), 0);
	assert_int_equal(b, 1);
	assert_null(jread_get(&r, jread_get(&r, root, "u"), "x"));
	jread_free(&r);
}

/* Items in order, backwards and skipping; pairs likewise. */
static void test_walks(void **state)
{
	const char *json = "{\"arr\":[10,11,12,13,14],\"obj\":{\"a\":0,\"b\":1,\"c\":2}}";
	struct jread r;
	jnode_t *root, *arr, *obj, *val;
	const char *key;
	uint64_t v;
	size_t order[] = { 0, 1, 2, 3, 4, 2, 0, 4, 3 };

	(void)state;
	assert_int_equal(jread_load(&r, json, strlen(json)), 0);
	root = jread_root(&r);
	arr = jread_get(&r, root, "arr");
	assert_int_equal(jread_len(arr), 5);
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		assert_int_equal(jread_u64(jread_at(&r, arr, order[i]), &v), 0);
		assert_int_equal(v, 10 + order[i]);
	}
	assert_null(jread_at(&r, arr, 5));
	obj = jread_get(&r, root, "obj");
	for (size_t i = 0; i < 3; i++) {
		size_t k = 2 - i;

		assert_int_equal(jread_pair(&r, obj, k, &key, NULL, &val), 0);
		assert_int_equal(key[0], 'a' + (int)k);
		assert_int_equal(jread_u64(val, &v), 0);
		assert_int_equal(v, k);
	}
	assert_int_equal(jread_pair(&r, obj, 3, &key, NULL, &val), -EINVAL);
	jread_free(&r);
}

/* An object of many keys (a report's templates) is found through its index; duplicates fail. */
static void test_big_object(void **state)
{
	struct buf b = { 0 };
	struct jread r;
	jnode_t *root, *big;
	uint64_t v;
	char key[32];

	(void)state;
	buf_puts(&b, "{\"first\":1,\"big\":{");
	for (int i = 0; i < 5000; i++)
		buf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i, i);
	buf_puts(&b, "},\"last\":2}");
	assert_int_equal(jread_load(&r, b.data, b.len), 0);
	root = jread_root(&r);
	big = jread_get(&r, root, "big");
	assert_int_equal(jread_obj_len(big), 5000);
	for (int i = 4999; i >= 0; i -= 7) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(jread_u64(jread_get(&r, big, key), &v), 0);
		assert_int_equal(v, (uint64_t)i);
	}
	assert_null(jread_get(&r, big, "k5000"));
	assert_int_equal(jread_u64(jread_get(&r, root, "last"), &v), 0);
	jread_free(&r);
	/* The same object with one key twice, far apart. */
	b.len = 0;
	buf_puts(&b, "{\"big\":{");
	for (int i = 0; i < 5000; i++)
		buf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i == 4321 ? 17 : i, i);
	buf_puts(&b, "}}");
	assert_int_equal(jread_load(&r, b.data, b.len), -EINVAL);
	jread_free(&r);
	buf_free(&b);
}

/* Releasing each item's nodes keeps earlier nodes (the array walked) valid. */
static void test_release(void **state)
{
	struct buf b = { 0 };
	struct jread r;
	jnode_t *arr;
	uint64_t v, sum = 0;

	(void)state;
	buf_puts(&b, "{\"rows\":[");
	for (int i = 0; i < 20000; i++)
		buf_printf(&b, "%s{\"n\":%d,\"m\":{\"x\":1}}", i ? "," : "", i);
	buf_puts(&b, "]}");
	assert_int_equal(jread_load(&r, b.data, b.len), 0);
	arr = jread_get(&r, jread_root(&r), "rows");
	for (size_t i = 0; i < jread_len(arr); i++) {
		size_t mark = jread_mark(&r);
		jnode_t *row = jread_at(&r, arr, i);

		assert_int_equal(jread_u64(jread_get(&r, row, "n"), &v), 0);
		assert_int_equal(jread_u64(jread_get(&r, jread_get(&r, row, "m"), "x"), &sum), 0);
		assert_int_equal(v, i);
		jread_release(&r, mark);
		assert_int_equal(jread_mark(&r), mark);
	}
	jread_free(&r);
	/* A reader reused after a release and a free reads the next document whole. */
	assert_int_equal(load("{\"a\":[1,2,3]}"), 0);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strict),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_walks),
		cmocka_unit_test(test_big_object),
		cmocka_unit_test(test_release),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
