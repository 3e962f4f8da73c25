// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests the spool: FIFO order, the byte bound, files that survive a restart, stray files. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "sinks/spool.h"

static void expect_head(struct spool *s, const char *table, size_t rows, const char *data)
{
	struct buf b = { 0 };
	const char *t;
	size_t r;

	assert_int_equal(spool_peek(s, &t, &r, &b), 0);
	assert_string_equal(t, table);
	assert_int_equal(r, rows);
	assert_int_equal(b.len, strlen(data));
	assert_memory_equal(b.data, data, b.len);
	buf_free(&b);
}

static void fill_and_drain(struct spool *s)
{
	struct buf b = { 0 };
	const char *t;
	size_t r;

	assert_int_equal(spool_put(s, "metrics", 2, "aaaa", 4), 0);
	assert_int_equal(spool_put(s, "slow", 1, "bb", 2), 0);
	assert_int_equal(spool_put(s, "metrics", 3, "cccc", 4), 0);
	assert_int_equal(spool_bytes(s), 10);
	assert_int_equal(spool_rows(s), 6);
	assert_int_equal(spool_batches(s), 3);
	/* 10 of 12 bytes used: 3 more do not fit, nothing is kept. */
	assert_int_equal(spool_put(s, "metrics", 1, "ddd", 3), -ENOSPC);
	assert_int_equal(spool_batches(s), 3);
	expect_head(s, "metrics", 2, "aaaa");
	assert_int_equal(spool_pop(s), 2);
	expect_head(s, "slow", 1, "bb");
	assert_int_equal(spool_pop(s), 1);
	assert_int_equal(spool_put(s, "metrics", 1, "ddd", 3), 0);
	expect_head(s, "metrics", 3, "cccc");
	assert_int_equal(spool_pop(s), 3);
	expect_head(s, "metrics", 1, "ddd");
	assert_int_equal(spool_pop(s), 1);
	assert_int_equal(spool_peek(s, &t, &r, &b), -ENOENT);
	assert_int_equal(spool_pop(s), 0);
	assert_int_equal(spool_bytes(s), 0);
	assert_int_equal(spool_rows(s), 0);
}

static void test_memory(void **state)
{
	struct spool *s = spool_open(NULL, 12);

	(void)state;
	assert_non_null(s);
	fill_and_drain(s);
	assert_int_equal(spool_put(s, "Bad", 1, "x", 1), -EINVAL);
	assert_int_equal(spool_put(s, "a.b", 1, "x", 1), -EINVAL);
	assert_int_equal(spool_put(s, "", 1, "x", 1), -EINVAL);
	spool_close(s);
}

static void test_directory_survives_restart(void **state)
{
	char dir[] = "/tmp/mp-spool-XXXXXX", path[256];
	struct spool *s;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	s = spool_open(dir, 12);
	assert_non_null(s);
	fill_and_drain(s);
	assert_int_equal(spool_put(s, "metrics", 5, "first", 5), 0);
	assert_int_equal(spool_put(s, "slow", 6, "second", 6), 0);
	spool_close(s);
	/* A half-written temporary and a stranger's file are not batches. */
	snprintf(path, sizeof(path), "%s/.tmp-0000000000000099", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/README", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	close(fd);

	s = spool_open(dir, 100);
	assert_non_null(s);
	assert_int_equal(spool_batches(s), 2);
	assert_int_equal(spool_bytes(s), 11);
	assert_int_equal(spool_rows(s), 11);
	/* New batches go after the old ones. */
	assert_int_equal(spool_put(s, "metrics", 1, "third", 5), 0);
	expect_head(s, "metrics", 5, "first");
	spool_pop(s);
	expect_head(s, "slow", 6, "second");
	spool_pop(s);
	expect_head(s, "metrics", 1, "third");
	spool_pop(s);
	spool_close(s);
	unlink(path);
	snprintf(path, sizeof(path), "%s/.tmp-0000000000000099", dir);
	unlink(path);
	assert_int_equal(rmdir(dir), 0); /* every batch file was removed */
}

static void test_unusable_directory(void **state)
{
	(void)state;
	errno = 0;
	assert_null(spool_open("/proc/version/spool", 100));
	assert_true(errno != 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memory),
		cmocka_unit_test(test_directory_survives_restart),
		cmocka_unit_test(test_unusable_directory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
