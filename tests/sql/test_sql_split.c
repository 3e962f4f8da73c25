// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of the statement splitter and the CALL check. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "sql/sql_split.h"

#define MAX_STMTS 16

/* Splits sql and compares the statements with want (NULL-terminated). */
static void check_split(const char *sql, const char *const *want)
{
	struct sql_span spans[MAX_STMTS];
	int n, i, nwant = 0;

	while (want[nwant])
		nwant++;
	n = sql_split(sql, strlen(sql), spans, MAX_STMTS);
	if (n != nwant)
		fail_msg("[%s]: %d statements, want %d", sql, n, nwant);
	for (i = 0; i < n; i++) {
		if (spans[i].len != strlen(want[i]) ||
		    memcmp(sql + spans[i].off, want[i], spans[i].len))
			fail_msg("[%s]: statement %d is [%.*s], want [%s]", sql, i,
				 (int)spans[i].len, sql + spans[i].off, want[i]);
	}
}

#define SPLIT(sql, ...)                                               \
	do {                                                          \
		static const char *const w[] = { __VA_ARGS__, NULL }; \
		check_split(sql, w);                                  \
	} while (0)

static void test_simple(void **state)
{
	(void)state;
	SPLIT("SELECT 1", "SELECT 1");
	SPLIT("SELECT 1;", "SELECT 1");
	SPLIT("SELECT 1; SELECT 2", "SELECT 1", "SELECT 2");
	SPLIT("  SELECT 1 ;\n\n SELECT 2 ;  ", "SELECT 1", "SELECT 2");
	SPLIT("SELECT 1;;; ;SELECT 2", "SELECT 1", "SELECT 2");
	SPLIT("UPDATE t SET a = 1; DELETE FROM t WHERE b = 2; INSERT INTO t VALUES (1)",
	      "UPDATE t SET a = 1", "DELETE FROM t WHERE b = 2", "INSERT INTO t VALUES (1)");
}

static void test_quotes_comments(void **state)
{
	(void)state;
	SPLIT("SELECT 'a;b'; SELECT \"c;d\"", "SELECT 'a;b'", "SELECT \"c;d\"");
	SPLIT("SELECT 'it''s;'; SELECT 'x\\';'", "SELECT 'it''s;'", "SELECT 'x\\';'");
	SPLIT("SELECT `a;b` FROM t; SELECT 2", "SELECT `a;b` FROM t", "SELECT 2");
	SPLIT("SELECT 1 /* ; */; SELECT 2", "SELECT 1 /* ; */", "SELECT 2");
	SPLIT("SELECT 1 -- ;\n; SELECT 2", "SELECT 1 -- ;", "SELECT 2");
	SPLIT("SELECT 1 # ;\n; SELECT 2", "SELECT 1 # ;", "SELECT 2");
	SPLIT("/* app */ SELECT 1; /* x */ SELECT 2", "/* app */ SELECT 1", "/* x */ SELECT 2");
	/* A comment alone is no statement. */
	SPLIT("SELECT 1; -- the end", "SELECT 1");
	SPLIT("SELECT 1; /* c */ ; # x", "SELECT 1");
	SPLIT("SELECT 1--1; SELECT 2", "SELECT 1--1", "SELECT 2");
}

static void test_compound(void **state)
{
	(void)state;
	SPLIT("CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END; CALL p()",
	      "CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END", "CALL p()");
	SPLIT("CREATE DEFINER=`root`@`%` PROCEDURE p(IN a INT)\nBEGIN\n"
	      "  DECLARE x INT DEFAULT 0;\n  IF a > 0 THEN SET x = 1; ELSEIF a < 0 THEN SET x = 2;"
	      " ELSE SET x = 3; END IF;\n  WHILE x < 10 DO SET x = x + 1; END WHILE;\n"
	      "  lbl: LOOP SET x = x - 1; IF x = 0 THEN LEAVE lbl; END IF; END LOOP lbl;\n"
	      "  REPEAT SET x = x + 1; UNTIL x > 5 END REPEAT;\n"
	      "  CASE x WHEN 1 THEN SELECT 1; ELSE SELECT 2; END CASE;\n"
	      "  SELECT CASE WHEN x THEN 1 ELSE 2 END, IF(x, 1, 2);\n"
	      "  BEGIN SELECT 3; END;\nEND; SELECT 9",
	      "CREATE DEFINER=`root`@`%` PROCEDURE p(IN a INT)\nBEGIN\n"
	      "  DECLARE x INT DEFAULT 0;\n  IF a > 0 THEN SET x = 1; ELSEIF a < 0 THEN SET x = 2;"
	      " ELSE SET x = 3; END IF;\n  WHILE x < 10 DO SET x = x + 1; END WHILE;\n"
	      "  lbl: LOOP SET x = x - 1; IF x = 0 THEN LEAVE lbl; END IF; END LOOP lbl;\n"
	      "  REPEAT SET x = x + 1; UNTIL x > 5 END REPEAT;\n"
	      "  CASE x WHEN 1 THEN SELECT 1; ELSE SELECT 2; END CASE;\n"
	      "  SELECT CASE WHEN x THEN 1 ELSE 2 END, IF(x, 1, 2);\n"
	      "  BEGIN SELECT 3; END;\nEND",
	      "SELECT 9");
	SPLIT("CREATE FUNCTION f(a INT) RETURNS INT DETERMINISTIC BEGIN DECLARE CONTINUE HANDLER"
	      " FOR SQLEXCEPTION BEGIN SET a = 0; END; RETURN a + 1; END; SELECT f(1)",
	      "CREATE FUNCTION f(a INT) RETURNS INT DETERMINISTIC BEGIN DECLARE CONTINUE HANDLER"
	      " FOR SQLEXCEPTION BEGIN SET a = 0; END; RETURN a + 1; END",
	      "SELECT f(1)");
	SPLIT("CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.a = 1; SET NEW.b = 2;"
	      " END; INSERT INTO t VALUES (1)",
	      "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.a = 1; SET NEW.b = 2;"
	      " END",
	      "INSERT INTO t VALUES (1)");
	SPLIT("CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW IF NEW.a < 0 THEN SET NEW.a = 0;"
	      " END IF; SELECT 1",
	      "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW IF NEW.a < 0 THEN SET NEW.a = 0;"
	      " END IF",
	      "SELECT 1");
	SPLIT("CREATE EVENT e ON SCHEDULE EVERY 1 HOUR DO BEGIN DELETE FROM t; INSERT INTO u"
	      " VALUES (1); END; SELECT 2",
	      "CREATE EVENT e ON SCHEDULE EVERY 1 HOUR DO BEGIN DELETE FROM t; INSERT INTO u"
	      " VALUES (1); END",
	      "SELECT 2");
	SPLIT("BEGIN NOT ATOMIC SELECT 1; SELECT 2; END; SELECT 3",
	      "BEGIN NOT ATOMIC SELECT 1; SELECT 2; END", "SELECT 3");
	/* Without a body BEGIN is a transaction, and a one-statement routine ends at ";". */
	SPLIT("BEGIN; UPDATE t SET a = 1; COMMIT", "BEGIN", "UPDATE t SET a = 1", "COMMIT");
	SPLIT("CREATE PROCEDURE p() SELECT 1; SELECT 2", "CREATE PROCEDURE p() SELECT 1",
	      "SELECT 2");
	SPLIT("CREATE TABLE t (a INT); CREATE INDEX i ON t (a)", "CREATE TABLE t (a INT)",
	      "CREATE INDEX i ON t (a)");
	SPLIT("create procedure p() begin select 1; end; select 2",
	      "create procedure p() begin select 1; end", "select 2");
}

static void test_edges(void **state)
{
	struct sql_span spans[2];

	(void)state;
	assert_int_equal(sql_split("", 0, spans, 2), 0);
	assert_int_equal(sql_split("   ;  ; ", 8, spans, 2), 0);
	assert_int_equal(sql_split(NULL, 0, NULL, 0), 0);
	assert_int_equal(sql_split(NULL, 3, spans, 2), -EINVAL);
	assert_int_equal(sql_split("x", 1, NULL, 2), -EINVAL);
	/* More statements than spans: the count is still right, the first spans filled. */
	assert_int_equal(sql_split("a;b;c;d", 7, spans, 2), 4);
	assert_int_equal(spans[0].off, 0);
	assert_int_equal(spans[1].off, 2);
	assert_int_equal(sql_split("a;b;c;d", 7, NULL, 0), 4);
	/* Unbalanced: an unterminated quote or compound runs to the end. */
	SPLIT("SELECT 'a; SELECT 2", "SELECT 'a; SELECT 2");
	SPLIT("CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2",
	      "CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2");
	SPLIT("END; END IF; SELECT 1", "END", "END IF", "SELECT 1");
}

static void test_is_call(void **state)
{
	(void)state;
	assert_int_equal(sql_is_call("CALL p()", 8), 1);
	assert_int_equal(sql_is_call("call p", 6), 1);
	assert_int_equal(sql_is_call("  /* x */ CaLl p(1)", 19), 1);
	assert_int_equal(sql_is_call("-- c\nCALL db.p()", 16), 1);
	assert_int_equal(sql_is_call("/*!50000 CALL p() */", 20), 1);
	assert_int_equal(sql_is_call("SELECT 1", 8), 0);
	assert_int_equal(sql_is_call("CALLER", 6), 0);
	assert_int_equal(sql_is_call("`CALL` p", 8), 0);
	assert_int_equal(sql_is_call("", 0), 0);
	assert_int_equal(sql_is_call(NULL, 0), 0);
	assert_int_equal(sql_is_call("/* CALL */ SELECT 1", 19), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple),	 cmocka_unit_test(test_quotes_comments),
		cmocka_unit_test(test_compound), cmocka_unit_test(test_edges),
		cmocka_unit_test(test_is_call),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
