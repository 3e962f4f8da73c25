// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests the pull reader: strictness on read and skipped values, walks, big objects. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/jpull.h"

/* Loads json and walks all of it unread: what every reader's unknown members go through. */
static int skip_all(const char *json)
{
	struct jpull *p = jpull_new();
	int err;

	assert_non_null(p);
	err = jpull_load(p, json, strlen(json));
	if (!err)
		err = jpull_skip(p);
	if (!err)
		err = jpull_end(p);
	jpull_free(p);
	return err;
}

/* Loads json and enters the root object, reading every member as the caller would not. */
static int members(const char *json, size_t *n)
{
	struct jpull *p = jpull_new();
	const char *key;
	size_t len;
	int ret;

	assert_non_null(p);
	*n = 0;
	ret = jpull_load(p, json, strlen(json));
	if (!ret)
		ret = jpull_obj(p);
	while (!ret && (ret = jpull_key(p, &key, &len)) == 1)
		(*n)++, ret = 0;
	if (!ret)
		ret = jpull_end(p);
	jpull_free(p);
	return ret;
}

static void test_strict(void **state)
{
	size_t n;

	(void)state;
	assert_int_equal(skip_all("{\"a\":1,\"b\":[1,2.5,{\"c\":true,\"d\":null}],\"e\":\"x\"}"), 0);
	assert_int_equal(skip_all("[1,2]"), 0);
	assert_int_equal(skip_all(""), -EINVAL);
	assert_int_equal(skip_all("{\"a\":1"), -EINVAL);
	assert_int_equal(skip_all("{\"a\":1} x"), -EINVAL);
	assert_int_equal(skip_all("{\"a\":1} {}"), -EINVAL);
	assert_int_equal(skip_all("{\"a\":1}}"), -EINVAL);
	assert_int_equal(skip_all("{\"a\":1}  \n"), 0);
	assert_int_equal(skip_all("{\"a\":1,\"a\":2}"), -EINVAL);
	assert_int_equal(skip_all("[{\"x\":{\"k\":1,\"j\":2,\"k\":3}}]"), -EINVAL);
	assert_int_equal(skip_all("{\"a\":1,\"\\u0061\":2}"), -EINVAL); /* the same key escaped */
	assert_int_equal(skip_all("{\"n\":9223372036854775807}"), 0);
	assert_int_equal(skip_all("{\"n\":9223372036854775808}"), -EINVAL);
	assert_int_equal(skip_all("{\"n\":123456789012345678901234567890}"), -EINVAL);
	assert_int_equal(skip_all("{\"s\":\"\xff\"}"), -EINVAL); /* not UTF-8 */
	assert_int_equal(skip_all("{\"a\":tru}"), -EINVAL);
	assert_int_equal(skip_all("{\"a\":[1,]}"), -EINVAL);
	assert_int_equal(skip_all("{\"a\":01}"), -EINVAL);
	/* Members the caller passes over are walked as strictly. */
	assert_int_equal(members("{\"a\":{\"x\":1},\"b\":[true]}", &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(members("{\"a\":{\"x\":1,\"x\":2}}", &n), -EINVAL);
	assert_int_equal(members("{\"a\":[9223372036854775808]}", &n), -EINVAL);
	assert_int_equal(members("{\"a\":1,\"b\":2,\"a\":3}", &n), -EINVAL);
}

static void test_values(void **state)
{
	const char *json = "{\"u\":42,\"s\":\"h\\u00e9\\u0000x\",\"b\":false,"
			   "\"arr\":[[1,2],[3]],\"neg\":-1,\"f\":1.5,\"str\":\"7\"}";
	struct jpull *p = jpull_new();
	enum jpull_type t;
	const char *key, *s;
	size_t len;
	uint64_t v;
	int b;

	(void)state;
	assert_non_null(p);
	assert_int_equal(jpull_load(p, json, strlen(json)), 0);
	assert_int_equal(jpull_obj(p), 0);
	assert_int_equal(jpull_key(p, &key, &len), 1);
	assert_true(len == 1 && key[0] == 'u');
	assert_int_equal(jpull_u64(p, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(jpull_key(p, &key, &len), 1);
	assert_int_equal(jpull_type(p, &t), 0);
	assert_int_equal(t, JPULL_STR);
	assert_int_equal(jpull_str(p, &s, &len), 0);
	assert_int_equal(len, 5); /* h, é (2 bytes), NUL, x */
	assert_memory_equal(s, "h\xc3\xa9\0x", 5);
	assert_int_equal(jpull_key(p, &key, &len), 1);
	assert_int_equal(jpull_bool(p, &b), 0);
	assert_int_equal(b, 0);
	assert_int_equal(jpull_key(p, &key, &len), 1);
	assert_int_equal(jpull_arr(p), 0);
	assert_int_equal(jpull_item(p), 1);
	assert_int_equal(jpull_arr(p), 0);
	assert_int_equal(jpull_item(p), 1);
	assert_int_equal(jpull_u64(p, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(jpull_item(p), 1); /* 2: not read, walked */
	assert_int_equal(jpull_item(p), 0);
	assert_int_equal(jpull_item(p), 1);
	assert_int_equal(jpull_skip(p), 0); /* [3] */
	assert_int_equal(jpull_item(p), 0);
	assert_int_equal(jpull_key(p, &key, &len), 1);
	assert_int_equal(jpull_u64(p, &v), -EINVAL); /* -1 is no count */
	/* after an error every call fails */
	assert_int_equal(jpull_key(p, &key, &len), -EINVAL);
	jpull_free(p);

	p = jpull_new();
	assert_non_null(p);
	json = "{\"f\":1.5}";
	assert_int_equal(jpull_load(p, json, strlen(json)), 0);
	assert_int_equal(jpull_obj(p), 0);
	assert_int_equal(jpull_key(p, &key, &len), 1);
	assert_int_equal(jpull_u64(p, &v), -EINVAL); /* a fraction is no count */
	json = "{\"s\":\"7\"}";
	assert_int_equal(jpull_load(p, json, strlen(json)), 0); /* a reader is reused */
	assert_int_equal(jpull_obj(p), 0);
	assert_int_equal(jpull_key(p, &key, &len), 1);
	assert_int_equal(jpull_u64(p, &v), -EINVAL); /* a string is no number */
	jpull_free(p);

	/* In place: the caller's padded buffer is read where it is; trailing text still refused. */
	for (int bad = 0; bad < 2; bad++) {
		char buf[64 + JPULL_PADDING] = { 0 };
		size_t n = (size_t)snprintf(buf, 64, "%s", bad ? "{\"k\":7} {}" : "{\"k\":7} ");

		p = jpull_new();
		assert_non_null(p);
		assert_int_equal(jpull_load_in_place(p, buf, n), 0);
		assert_int_equal(jpull_obj(p), 0);
		assert_int_equal(jpull_key(p, &key, &len), 1);
		assert_int_equal(jpull_u64(p, &v), 0);
		assert_int_equal(v, 7);
		assert_int_equal(jpull_key(p, &key, &len), 0);
		assert_int_equal(jpull_end(p), bad ? -EINVAL : 0);
		jpull_free(p);
	}
}

/* Objects past the small key list: a hash set catches the duplicate wherever it is. */
static void test_big_object(void **state)
{
	char json[8192];
	size_t off = 0, n;

	(void)state;
	for (int dup = 0; dup < 2; dup++) {
		off = (size_t)snprintf(json, sizeof(json), "{");
		for (int i = 0; i < 300; i++)
			off += (size_t)snprintf(json + off, sizeof(json) - off, "%s\"k%d\":%d",
						i ? "," : "", dup && i == 250 ? 17 : i, i);
		snprintf(json + off, sizeof(json) - off, "}");
		assert_int_equal(members(json, &n), dup ? -EINVAL : 0);
		if (!dup)
			assert_int_equal(n, 300);
		/* the same at a nested level, walked unread */
		assert_int_equal(skip_all(json), dup ? -EINVAL : 0);
	}
	/* After a big object, a small one at the same level starts afresh. */
	assert_int_equal(members("{\"a\":1,\"b\":2}", &n), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strict),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_big_object),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
