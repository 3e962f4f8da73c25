// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests the line walk: what is passed over, what is cut, how lines are numbered, NUL bytes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lib/lines.h"

/* Walks text and writes "NO:line|" for each line given, then "end" or "nul@NO". */
static void walk(const char *text, size_t len, unsigned flags, char *out, size_t outlen)
{
	struct lines l;
	const char *s;
	size_t n, o = 0;
	int ret;

	lines_init(&l, text, len, flags);
	while ((ret = lines_next(&l, &s, &n)) > 0)
		o += (size_t)snprintf(out + o, outlen - o, "%u:%.*s|", l.no, (int)n, s);
	snprintf(out + o, outlen - o, ret ? "nul@%u" : "end", l.no);
}

#define WALK(text, flags, want)                                        \
	do {                                                           \
		char got_[256];                                        \
		walk(text, sizeof(text) - 1, flags, got_, sizeof(got_)); \
		assert_string_equal(got_, want);                       \
	} while (0)

static void test_plain(void **state)
{
	(void)state;
	WALK("", 0, "end");
	WALK("a", 0, "1:a|end");
	WALK("a\n", 0, "1:a|end");
	/* Empty and '#' lines are passed over but counted; the rest is given as it is. */
	WALK("# c\n\na\n  \n b # x\r\n#\n", 0, "3:a|4:  |5: b # x\r|end");
	WALK("\n\n\nlast", 0, "4:last|end");
}

static void test_trim(void **state)
{
	(void)state;
	WALK("# c\n\na\n  \n b # x\r\n\t#\n", LINES_TRIM, "3:a|5:b|end");
	WALK("10.0.0.0/8\tapp \t\r\r\n", LINES_TRIM, "1:10.0.0.0/8\tapp|end");
	/* A CR is cut only at the end. */
	WALK("\ra\n", LINES_TRIM, "1:\ra|end");
}

static void test_nul(void **state)
{
	(void)state;
	/* Found on the line it is in, also in a comment, before anything is cut. */
	WALK("a\nb\0c\nd\n", 0, "1:a|nul@2");
	WALK("a\n#\0\n", 0, "1:a|nul@2");
	WALK("a # \0\n", LINES_TRIM, "nul@1");
}

static int fail_on_b(void *ctx, const char *s, size_t n, const char **why)
{
	unsigned *seen = ctx;

	(*seen)++;
	if (n == 1 && *s == 'b')
		return *why = "b", -EINVAL;
	if (n == 5 && !memcmp(s, "nomem", 5))
		return -ENOMEM;
	return 0;
}

static void test_each(void **state)
{
	unsigned seen = 0;
	struct lines l;
	char err[64] = "";

	(void)state;
	lines_init(&l, "a\n\nb\nc\n", 7, 0);
	assert_int_equal(lines_each(&l, fail_on_b, &seen, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 3: b");
	assert_int_equal(l.no, 3);
	assert_int_equal(seen, 2);

	lines_init(&l, "a\nc\0\n", 5, 0);
	assert_int_equal(lines_each(&l, fail_on_b, &seen, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 2: NUL byte");
	assert_int_equal(l.no, 2);

	/* A failure other than -EINVAL is the caller's to say. */
	lines_init(&l, "nomem\n", 6, 0);
	err[0] = '\0';
	assert_int_equal(lines_each(&l, fail_on_b, &seen, err, sizeof(err)), -ENOMEM);
	assert_string_equal(err, "");

	lines_init(&l, "a\n#b\n\n", 6, 0);
	assert_int_equal(lines_each(&l, fail_on_b, &seen, err, sizeof(err)), 0);
	assert_int_equal(l.no, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_trim),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_each),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
