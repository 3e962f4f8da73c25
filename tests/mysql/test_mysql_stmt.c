// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Prepared statement table: put/get/del against a reference array, limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mysql/mysql_stmt.h"

static void test_churn(void **state)
{
	enum { IDS = 300 };
	struct mysql_stmt_table t;
	int live[IDS] = { 0 };
	uint32_t x = 7;
	char txt[32];

	mysql_stmt_table_init(&t, IDS);
	for (int step = 0; step < 20000; step++) {
		uint32_t id;

		x = x * 1103515245 + 12345;
		id = (x >> 16) % IDS;
		snprintf(txt, sizeof(txt), "stmt %u", id);
		if ((x >> 8) & 1) {
			assert_int_equal(mysql_stmt_put(&t, id, txt, strlen(txt), 0), 0);
			live[id] = 1;
		} else {
			mysql_stmt_del(&t, id);
			live[id] = 0;
		}
		if (step % 97)
			continue;
		for (uint32_t i = 0; i < IDS; i++) {
			const struct mysql_stmt *s = mysql_stmt_get(&t, i);

			assert_int_equal(!!s, live[i]);
			if (s) {
				snprintf(txt, sizeof(txt), "stmt %u", i);
				assert_int_equal(s->text.len, strlen(txt));
				assert_memory_equal(s->text.data, txt, s->text.len);
			}
		}
	}
	mysql_stmt_clear(&t);
	assert_null(mysql_stmt_get(&t, 1));
	mysql_stmt_free(&t);
	mysql_stmt_free(&t);
}

static void test_limit(void **state)
{
	struct mysql_stmt_table t;

	mysql_stmt_table_init(&t, 2);
	assert_int_equal(mysql_stmt_put(&t, 1, "a", 1, 0), 0);
	assert_int_equal(mysql_stmt_put(&t, 2, "b", 1, 0), 0);
	assert_int_equal(mysql_stmt_put(&t, 3, "c", 1, 0), -ENOSPC);
	assert_int_equal(mysql_stmt_put(&t, 2, "bb", 2, 1), 0); /* replacing is fine */
	assert_int_equal(mysql_stmt_get(&t, 2)->text.len, 2);
	assert_true(mysql_stmt_get(&t, 2)->truncated);
	mysql_stmt_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_churn),
		cmocka_unit_test(test_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
