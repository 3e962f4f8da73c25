// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of the templater: every rule of docs/TEMPLATES.md, table-driven, plus properties. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sql/template.h"

struct tpl_case {
	const char *in;
	const char *out;
};

static const struct tpl_case cases[] = {
	{ "SELECT 1",
	  "SELECT ?" },
	{ "SELECT 42, 3.14, 1e10, 1.5E-3, .5, 0.",
	  "SELECT ?, ..." },
	{ "SELECT 0x1F, 0xdeadBEEF, X'0A', x'ff', b'101', B'1', 0b1101",
	  "SELECT ?, ..." },
	{ "SELECT 0xZZ, 0b2, 1abc, 12e, 1e5x FROM t",
	  "SELECT 0xZZ, 0b2, 1abc, 12e, ? x FROM t" },
	{ "SELECT 'abc', \"dq\", 'it''s', 'a\\'b', \"x\"\"y\", 'c:\\\\'",
	  "SELECT ?, ..." },
	{ "SELECT _utf8mb4'x', _latin1\"y\", _binary'z', N'n', n'm'",
	  "SELECT ?, ..." },
	{ "SELECT 'a' 'b' 'c'",
	  "SELECT ?" },
	{ "SELECT a FROM t WHERE a = -1",
	  "SELECT a FROM t WHERE a = ?" },
	{ "SELECT a FROM t WHERE a=-1",
	  "SELECT a FROM t WHERE a = ?" },
	{ "SELECT a FROM t WHERE a = +1.5",
	  "SELECT a FROM t WHERE a = ?" },
	{ "SELECT a-1 FROM t",
	  "SELECT a - ? FROM t" },
	{ "SELECT a - 1, a -1, a- 1 FROM t",
	  "SELECT a - ?, a - ?, a - ? FROM t" },
	{ "SELECT a--1 FROM t",
	  "SELECT a - ? FROM t" },
	{ "SELECT a - -1 FROM t",
	  "SELECT a - ? FROM t" },
	{ "SELECT --1",
	  "SELECT - ?" },
	{ "SELECT -a, - a FROM t",
	  "SELECT - a, - a FROM t" },
	{ "SELECT (a)-1, f(a)-1, 'x'-1, ?-1 FROM t",
	  "SELECT (a) - ?, f(a) - ?, ... - ?, ... - ? FROM t" },
	{ "SELECT CASE WHEN a THEN -1 END -1 FROM t",
	  "SELECT CASE WHEN a THEN ? END - ? FROM t" },
	{ "SELECT 1 -- comment here",
	  "SELECT ?" },
	{ "SELECT 1 --",
	  "SELECT ?" },
	{ "SELECT 1 --\ttab",
	  "SELECT ?" },
	{ "SELECT 1 # hash comment",
	  "SELECT ?" },
	{ "SELECT 1 /* c */ + /* d */ 2",
	  "SELECT ? + ?" },
	{ "SELECT /* one */ 1 /* two */",
	  "SELECT ?" },
	{ "/* lead */ SELECT 1",
	  "SELECT ?" },
	{ "SELECT /*+ MAX_EXECUTION_TIME(1000)   BKA(t1) */ a FROM t1",
	  "SELECT /*+ MAX_EXECUTION_TIME(1000) BKA(t1) */ a FROM t1" },
	{ "/*!40101 SET NAMES utf8mb4 */",
	  "SET NAMES utf8mb4" },
	{ "/*!SET @a = 1*/",
	  "SET @a = ?" },
	{ "SELECT /*!50000 STRAIGHT_JOIN */ a FROM t",
	  "SELECT STRAIGHT_JOIN a FROM t" },
	{ "/*M!100101 SET x = 1 */",
	  "SET x = ?" },
	{ "SELECT a FROM t WHERE b IS NULL AND c IS NOT NULL AND d = NULL AND e <=> NULL",
	  "SELECT a FROM t WHERE b IS NULL AND c IS NOT NULL AND d = ? AND e <=> ?" },
	{ "SELECT NULL, null FROM t",
	  "SELECT ?, ... FROM t" },
	{ "SELECT a FROM t WHERE b IN (NULL, 1)",
	  "SELECT a FROM t WHERE b IN (...)" },
	{ "SELECT a FROM t WHERE b = TRUE OR c = false",
	  "SELECT a FROM t WHERE b = TRUE OR c = FALSE" },
	{ "SELECT a FROM t WHERE b IN (1)",
	  "SELECT a FROM t WHERE b IN (...)" },
	{ "SELECT a FROM t WHERE b IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)",
	  "SELECT a FROM t WHERE b IN (...)" },
	{ "SELECT a FROM t WHERE b IN ('x', \"y\", -3, 0x1, ?)",
	  "SELECT a FROM t WHERE b IN (...)" },
	{ "SELECT a FROM t WHERE (b, c) IN ((1, 2), (3, 4), (5, 6))",
	  "SELECT a FROM t WHERE (b, c) IN (...)" },
	{ "SELECT a FROM t WHERE b IN (((1)))",
	  "SELECT a FROM t WHERE b IN (...)" },
	{ "SELECT a FROM t WHERE b IN (SELECT c FROM u)",
	  "SELECT a FROM t WHERE b IN (SELECT c FROM u)" },
	{ "SELECT a FROM t WHERE b IN (SELECT c FROM u WHERE d IN (1, 2))",
	  "SELECT a FROM t WHERE b IN (SELECT c FROM u WHERE d IN (...))" },
	{ "SELECT a FROM t WHERE b IN (c, 1)",
	  "SELECT a FROM t WHERE b IN (c, ?)" },
	{ "SELECT a FROM t WHERE b IN (1, NOW())",
	  "SELECT a FROM t WHERE b IN (?, NOW())" },
	{ "SELECT a FROM t WHERE b NOT IN (1, 2)",
	  "SELECT a FROM t WHERE b NOT IN (...)" },
	{ "SELECT a FROM t WHERE b IN ()",
	  "SELECT a FROM t WHERE b IN ()" },
	{ "INSERT INTO t (a, b) VALUES (1, 'x')",
	  "INSERT INTO t (a, b) VALUES (...)" },
	{ "INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z')",
	  "INSERT INTO t (a, b) VALUES (...)" },
	{ "INSERT INTO t (a, b) VALUES (1, NOW()), (2, CONCAT('a', 'b'))",
	  "INSERT INTO t (a, b) VALUES (...)" },
	{ "INSERT INTO t(a,b) VALUES(1,2),(3,4)",
	  "INSERT INTO t (a, b) VALUES (...)" },
	{ "insert into t values (1),(2)",
	  "INSERT INTO t VALUES (...)" },
	{ "INSERT INTO t VALUE (1), (2)",
	  "INSERT INTO t VALUE (...)" },
	{ "REPLACE INTO t (a) VALUES (?), (?)",
	  "REPLACE INTO t (a) VALUES (...)" },
	{ "INSERT INTO t (a) VALUES (1) ON DUPLICATE KEY UPDATE a = VALUES(a) + 1",
	  "INSERT INTO t (a) VALUES (...) ON DUPLICATE KEY UPDATE a = VALUES(a) + ?" },
	{ "INSERT INTO t (a) VALUES ((SELECT 1)), ((SELECT 2))",
	  "INSERT INTO t (a) VALUES (...)" },
	{ "INSERT INTO t SET a = 1, b = 'x'",
	  "INSERT INTO t SET a = ?, b = ?" },
	{ "SELECT a FROM t WHERE b = ? AND c IN (?, ?) LIMIT ?",
	  "SELECT a FROM t WHERE b = ? AND c IN (...) LIMIT ?" },
	{ "SELECT a FROM t LIMIT 10",
	  "SELECT a FROM t LIMIT ?" },
	{ "SELECT a FROM t LIMIT 10, 20",
	  "SELECT a FROM t LIMIT ?, ?" },
	{ "SELECT a FROM t LIMIT 10 OFFSET 20",
	  "SELECT a FROM t LIMIT ? OFFSET ?" },
	{ "SELECT 1, 2, 3",
	  "SELECT ?, ..." },
	{ "SELECT a, 1, 2, b, 3 FROM t",
	  "SELECT a, ?, ..., b, ? FROM t" },
	{ "SELECT FIELD(id, 3, 1, 2) FROM t",
	  "SELECT FIELD(id, ?, ...) FROM t" },
	{ "SELECT f(1, 2), g(1) FROM t",
	  "SELECT f(?, ...), g(?) FROM t" },
	{ "SELECT a FROM t;",
	  "SELECT a FROM t" },
	{ "SELECT a FROM t ;  ;",
	  "SELECT a FROM t" },
	{ "SELECT 1; SELECT 2",
	  "SELECT ?; SELECT ?" },
	{ "select a from t where b = 1 order by c desc",
	  "SELECT a FROM t WHERE b = ? ORDER BY c DESC" },
	{ "SELECT MyCol, mycol FROM MyTable",
	  "SELECT MyCol, mycol FROM MyTable" },
	{ "SELECT `a`, `my col`, `select`, `status`, `1a`, `a-b`, `` FROM `t`",
	  "SELECT a, `my col`, `select`, `status`, `1a`, `a-b`, `` FROM t" },
	{ "SELECT `t`.`select`, `db`.`t`.`status` FROM `db`.`t`",
	  "SELECT t.select, db.t.status FROM db.t" },
	{ "SELECT `a``b` FROM t",
	  "SELECT `a``b` FROM t" },
	{ "SELECT t1.a, t2.b FROM t1 JOIN t2 ON t1.id = t2.id",
	  "SELECT t1.a, t2.b FROM t1 JOIN t2 ON t1.id = t2.id" },
	{ "SELECT COUNT(*), count(*), COUNT (*), Count(DISTINCT a) FROM t",
	  "SELECT COUNT(*), COUNT(*), COUNT(*), COUNT(DISTINCT a) FROM t" },
	{ "SELECT count FROM t",
	  "SELECT count FROM t" },
	{ "SELECT concat(a, b), CONCAT(a, b), length FROM t",
	  "SELECT CONCAT(a, b), CONCAT(a, b), length FROM t" },
	{ "SELECT NOW(), now(), CURRENT_TIMESTAMP, current_timestamp() FROM t",
	  "SELECT NOW(), NOW(), CURRENT_TIMESTAMP, CURRENT_TIMESTAMP() FROM t" },
	{ "SELECT * FROM t WHERE d > NOW() - INTERVAL 1 DAY",
	  "SELECT * FROM t WHERE d > NOW() - INTERVAL ? DAY" },
	{ "SELECT CAST(a AS CHAR(10)), CONVERT(b USING utf8mb4) FROM t",
	  "SELECT CAST(a AS CHAR(?)), CONVERT(b USING utf8mb4) FROM t" },
	{ "SELECT IF(a, b, c), LEFT(a, 2), REPLACE(a, 'x', 'y') FROM t",
	  "SELECT IF(a, b, c), LEFT(a, ?), REPLACE(a, ?, ...) FROM t" },
	{ "CREATE TABLE t (id INT NOT NULL AUTO_INCREMENT, c VARCHAR(255) DEFAULT NULL, PRIMARY KEY (id)) ENGINE=InnoDB",
	  "CREATE TABLE t (id INT NOT NULL AUTO_INCREMENT, c VARCHAR(?) DEFAULT ?, PRIMARY KEY (id)) ENGINE = InnoDB" },
	{ "CREATE TABLE IF NOT EXISTS t1 (id INT)",
	  "CREATE TABLE IF NOT EXISTS t1 (id INT)" },
	{ "CREATE INDEX idx ON t (a, b)",
	  "CREATE INDEX idx ON t(a, b)" },
	{ "SELECT @a, @@session.autocommit, @@GLOBAL.max_connections, @'q v', @`x`",
	  "SELECT @a, @@session.autocommit, @@GLOBAL.max_connections, @'q v', @`x`" },
	{ "SET @a := 5",
	  "SET @a := ?" },
	{ "SET autocommit = 1",
	  "SET autocommit = ?" },
	{ "UPDATE sbtest1 SET k=k+1 WHERE id=5012",
	  "UPDATE sbtest1 SET k = k + ? WHERE id = ?" },
	{ "UPDATE t SET c = 'abc' WHERE id BETWEEN 10 AND 20",
	  "UPDATE t SET c = ? WHERE id BETWEEN ? AND ?" },
	{ "DELETE FROM sbtest1 WHERE id=7",
	  "DELETE FROM sbtest1 WHERE id = ?" },
	{ "SELECT SUM(k) FROM sbtest1 WHERE id BETWEEN 1 AND 100",
	  "SELECT SUM(k) FROM sbtest1 WHERE id BETWEEN ? AND ?" },
	{ "SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN 1 AND 100 ORDER BY c",
	  "SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN ? AND ? ORDER BY c" },
	{ "SELECT a FROM t WHERE b LIKE 'x%' ESCAPE '!'",
	  "SELECT a FROM t WHERE b LIKE ? ESCAPE ?" },
	{ "SELECT a FROM t WHERE b = 'héllo wörld' AND c = '日本'",
	  "SELECT a FROM t WHERE b = ? AND c = ?" },
	{ "SELECT naïve, `日本 語` FROM t",
	  "SELECT naïve, `日本 語` FROM t" },
	{ "SELECT a FROM t WHERE b = ?",
	  "SELECT a FROM t WHERE b = ?" },
	{ "SELECT ? , ?",
	  "SELECT ?, ..." },
	{ "CALL p(1, 'x')",
	  "CALL p(?, ...)" },
	{ "SELECT * FROM t WHERE a = 1 FOR UPDATE",
	  "SELECT * FROM t WHERE a = ? FOR UPDATE" },
	{ "SELECT a->'$.b', a->>'$.c' FROM t",
	  "SELECT a -> ?, a ->> ? FROM t" },
	{ "SELECT a FROM t WHERE b <> 1 AND c != 2 AND d <= 3 AND e >= 4 AND f << 1",
	  "SELECT a FROM t WHERE b <> ? AND c != ? AND d <= ? AND e >= ? AND f << ?" },
	{ "SELECT 1 || 2 && 3",
	  "SELECT ? || ? && ?" },
	{ "SELECT t.* FROM t",
	  "SELECT t.* FROM t" },
	{ "SELECT (SELECT 1) + (2)",
	  "SELECT (SELECT ?) + (?)" },
	{ "WITH x AS (SELECT 1) SELECT * FROM x",
	  "WITH x AS (SELECT ?) SELECT * FROM x" },
	{ "SELECT a FROM t UNION ALL SELECT b FROM u",
	  "SELECT a FROM t UNION ALL SELECT b FROM u" },
	{ "SHOW TABLES",
	  "SHOW TABLES" },
	{ "SHOW VARIABLES LIKE 'max%'",
	  "SHOW VARIABLES LIKE ?" },
	{ "BEGIN",
	  "BEGIN" },
	{ "COMMIT",
	  "COMMIT" },
	{ "USE mp",
	  "USE mp" },
	{ "SELECT a FROM t WHERE b = 'multi",
	  "SELECT a FROM t WHERE b = ?" },
	/* Non-reserved keywords used as names keep their case; used as keywords they do not. */
	{ "select id, name, Status from users where status = 1 order by name",
	  "SELECT id, name, Status FROM users WHERE status = ? ORDER BY name" },
	{ "SELECT * FROM user u JOIN status ON u.id = status.id",
	  "SELECT * FROM user u JOIN status ON u.id = status.id" },
	{ "UPDATE status SET name = 'x', data = 2 WHERE id IN (1, 2)",
	  "UPDATE status SET name = ?, data = ? WHERE id IN (...)" },
	{ "INSERT INTO user (name, status) VALUES (1, 2) ON DUPLICATE KEY UPDATE status = VALUES(status)",
	  "INSERT INTO user (name, status) VALUES (...) ON DUPLICATE KEY UPDATE status = VALUES(status)" },
	{ "SELECT COUNT(DISTINCT status), MAX(id) AS max_id, name AS status FROM t GROUP BY status WITH rollup",
	  "SELECT COUNT(DISTINCT status), MAX(id) AS max_id, name AS status FROM t GROUP BY status WITH ROLLUP" },
	{ "SELECT CASE WHEN level = 1 THEN name ELSE status END FROM t",
	  "SELECT CASE WHEN level = ? THEN name ELSE status END FROM t" },
	{ "show global status like 'x'", "SHOW GLOBAL STATUS LIKE ?" },
	{ "show status", "SHOW STATUS" },
	{ "SHOW TABLE STATUS FROM db LIKE 'x'", "SHOW TABLE STATUS FROM db LIKE ?" },
	{ "SHOW FULL PROCESSLIST", "SHOW FULL PROCESSLIST" },
	{ "start transaction", "START TRANSACTION" },
	{ "rollback", "ROLLBACK" },
	{ "set session transaction isolation level read committed",
	  "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED" },
	{ "SET names utf8mb4", "SET NAMES utf8mb4" },
	{ "SET timestamp = 1", "SET timestamp = ?" },
	{ "flush tables", "FLUSH TABLES" },
	{ "SELECT name FROM t LOCK IN SHARE MODE", "SELECT name FROM t LOCK IN SHARE MODE" },
	{ "SELECT EXTRACT(day FROM created), TIMESTAMPDIFF(second, a, b), CAST(x AS date), date(created) FROM t",
	  "SELECT EXTRACT(DAY FROM created), TIMESTAMPDIFF(SECOND, a, b), CAST(x AS DATE), DATE(created) FROM t" },
	{ "SELECT date '2020-01-01', a + interval 1 day FROM t", "SELECT DATE ?, a + INTERVAL ? DAY FROM t" },
	{ "SELECT SQL_NO_CACHE id FROM t", "SELECT SQL_NO_CACHE id FROM t" },
	{ "EXPLAIN FORMAT=JSON SELECT name FROM t", "EXPLAIN FORMAT = JSON SELECT name FROM t" },
	{ "DESC status", "DESC status" },
	{ "CREATE TABLE t (id INT, name VARCHAR(10))", "CREATE TABLE t (id INT, name VARCHAR(?))" },
	/* Rules the generated rows above do not show on their own. */
	{ "SELECT a FROM t WHERE b = 'x' -- trailing", "SELECT a FROM t WHERE b = ?" },
	{ "SELECT 1 --1", "SELECT ? - ?" },
	{ "SELECT 1--\n+1", "SELECT ? + ?" },
	{ "SELECT 1 #x\n, 2", "SELECT ?, ..." },
	{ "SELECT a\r\n\tFROM\n\n t", "SELECT a FROM t" },
	{ "  SELECT 1  ", "SELECT ?" },
	{ "", "" },
	{ "   ", "" },
	{ "/* only a comment */", "" },
	{ ";", "" },
	{ "SELECT a FROM t WHERE b IN (1,\n2,\t3)", "SELECT a FROM t WHERE b IN (...)" },
	{ "SELECT a FROM t WHERE b IN ( 'a' /* c */ , 'b' )", "SELECT a FROM t WHERE b IN (...)" },
	{ "SELECT a FROM t WHERE b IN (1, f(2))", "SELECT a FROM t WHERE b IN (?, f(?))" },
	{ "SELECT a FROM t WHERE b IN (1, 2) AND c IN (SELECT d FROM u)",
	  "SELECT a FROM t WHERE b IN (...) AND c IN (SELECT d FROM u)" },
	{ "SELECT a FROM t WHERE b IN (-1, +2, - 3)", "SELECT a FROM t WHERE b IN (...)" },
	{ "SELECT a FROM t WHERE b IN (-c, 1)", "SELECT a FROM t WHERE b IN (- c, ?)" },
	{ "INSERT INTO t VALUES (1, -2, 'x', NULL, 0x1)", "INSERT INTO t VALUES (...)" },
	{ "INSERT INTO t VALUES (1, 'a;b'), (2, ')')", "INSERT INTO t VALUES (...)" },
	{ "INSERT INTO t (a) SELECT 1", "INSERT INTO t (a) SELECT ?" },
	{ "SELECT a FROM t WHERE a = 1e+5 AND b = 2E5 AND c = 1.e3",
	  "SELECT a FROM t WHERE a = ? AND b = ? AND c = ?" },
	{ "SELECT 1.5.3", "SELECT ? ?" },
	{ "SELECT t1.2col, t1.1e5 FROM t1", "SELECT t1.2col, t1.1e5 FROM t1" },
	{ "SELECT a FROM t WHERE b = -0x10", "SELECT a FROM t WHERE b = ?" },
	{ "SELECT a FROM t WHERE b = - 'x'", "SELECT a FROM t WHERE b = - ?" },
	{ "SELECT a * -1, a / -1, a % -1, (-1), f(-1)", "SELECT a * ?, a / ?, a % ?, (?), f(?)" },
	{ "SELECT a FROM t LIMIT -1", "SELECT a FROM t LIMIT ?" },
	{ "SELECT 5-3", "SELECT ? - ?" },
	{ "SELECT a FROM t WHERE b=1AND c=2", "SELECT a FROM t WHERE b = 1AND c = ?" },
	{ "SELECT `a b`.`c d` FROM `a b`", "SELECT `a b`.`c d` FROM `a b`" },
	{ "SELECT `Select`, `FROM`, `from_x` FROM t", "SELECT `Select`, `FROM`, from_x FROM t" },
	{ "SELECT `count`, `count`(a) FROM t", "SELECT count, `count`(a) FROM t" },
	{ "SELECT `a$b`, `_x`, `é` FROM t", "SELECT a$b, _x, é FROM t" },
	{ "SELECT `unterminated", "SELECT `unterminated" },
	{ "SELECT 'unterminated", "SELECT ?" },
	{ "SELECT \"unterminated", "SELECT ?" },
	{ "SELECT 1 /* unterminated", "SELECT ?" },
	{ "SELECT /*+ unterminated", "SELECT /*+ unterminated */" },
	{ "SELECT ((((1", "SELECT ((((?" },
	{ "SELECT 1))) FROM t", "SELECT ?))) FROM t" },
	{ "SELECT a FROM t WHERE b = 'x''", "SELECT a FROM t WHERE b = ?" },
	{ "SELECT a FROM t WHERE b = 'x\\'", "SELECT a FROM t WHERE b = ?" },
	{ "SELECT 'a\\\\' , 'b'", "SELECT ?, ..." },
	{ "SELECT \"it\"\"s\" FROM t", "SELECT ? FROM t" },
	{ "SELECT _utf8mb4 'x'", "SELECT _utf8mb4 ?" },
	{ "SELECT _utf8mb4'x' COLLATE utf8mb4_bin", "SELECT ? COLLATE utf8mb4_bin" },
	{ "SELECT a FROM t WHERE b = x'4142' OR c = X'' OR d = b''",
	  "SELECT a FROM t WHERE b = ? OR c = ? OR d = ?" },
	{ "SELECT x, b, n FROM t", "SELECT x, b, n FROM t" },
	{ "SELECT a FROM t WHERE b IS NOT NULL", "SELECT a FROM t WHERE b IS NOT NULL" },
	{ "SELECT a FROM t WHERE b is null", "SELECT a FROM t WHERE b IS NULL" },
	{ "SELECT a FROM t WHERE b IS /* c */ NULL", "SELECT a FROM t WHERE b IS NULL" },
	{ "UPDATE t SET a = NULL WHERE b IS NULL", "UPDATE t SET a = ? WHERE b IS NULL" },
	{ "SELECT TRUE, FALSE, true", "SELECT TRUE, FALSE, TRUE" },
	{ "SELECT a FROM t WHERE b = ? AND c = ?", "SELECT a FROM t WHERE b = ? AND c = ?" },
	{ "SELECT a FROM t WHERE b = :name", "SELECT a FROM t WHERE b = : name" },
	{ "/*!50001 CREATE ALGORITHM=UNDEFINED */ "
	  "/*!50013 DEFINER=`root`@`%` SQL SECURITY DEFINER */",
	  "CREATE ALGORITHM = UNDEFINED DEFINER = root @`%` SQL SECURITY DEFINER" },
	{ "SELECT /*! STRAIGHT_JOIN */ 1", "SELECT STRAIGHT_JOIN ?" },
	{ "SELECT /*!1234 x */ 1", "SELECT ? x ?" },
	{ "SELECT /*+ a */ /*+ b */ 1", "SELECT /*+ a */ /*+ b */ ?" },
	{ "SELECT /*+ NO_INDEX(t idx) */ -1", "SELECT /*+ NO_INDEX(t idx) */ ?" },
	{ "SELECT 1 ; SELECT 2 ; ", "SELECT ?; SELECT ?" },
	{ "SELECT ';'", "SELECT ?" },
	{ "SELECT a FROM t WHERE b = 'a' /* x */ 'b'", "SELECT a FROM t WHERE b = ?" },
	{ "DROP TABLE IF EXISTS t", "DROP TABLE IF EXISTS t" },
	{ "SELECT * FROM t1 LEFT JOIN t2 ON t1.a = t2.a WHERE t2.b IS NULL",
	  "SELECT * FROM t1 LEFT JOIN t2 ON t1.a = t2.a WHERE t2.b IS NULL" },
	{ "SELECT a FROM t ORDER BY FIELD(a, 'x', 'y')",
	  "SELECT a FROM t ORDER BY FIELD(a, ?, ...)" },
	{ "SELECT a FROM t WHERE b = 1 -- c\nAND c = 2", "SELECT a FROM t WHERE b = ? AND c = ?" },
	{ "select DATE(created_at), YEAR(d) from t group by 1",
	  "SELECT DATE(created_at), YEAR(d) FROM t GROUP BY ?" },
	{ "SELECT\x01" "a\x7f", "SELECT a \x7f" },
};

static void check_case(const struct tpl_case *c)
{
	struct template_info info;
	char out[4097];
	int err;

	err = template_make(c->in, strlen(c->in), out, sizeof(out), NULL, &info);
	assert_int_equal(err, 0);
	if (strcmp(out, c->out))
		fail_msg("input:    [%s]\nexpected: [%s]\ngot:      [%s]", c->in, c->out, out);
	assert_int_equal(info.len, strlen(out));
	assert_int_equal(info.truncated, 0);
	assert_true(info.id == template_id(out, info.len));
}

static void test_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_case(&cases[i]);
}

/* A template normalised again is itself: the output is made of what the lexer reads back. */
static void test_idempotent(void **state)
{
	char a[4097], b[4097];
	struct template_info ia, ib;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(template_make(cases[i].in, strlen(cases[i].in), a, sizeof(a), NULL,
					       &ia), 0);
		/* Rows whose output is not meant to read back the same. */
		if (strstr(a, "`unterminated") || strstr(a, "/*+ unterminated") ||
		    strstr(a, ": name") || strstr(a, "1AND") ||
		    strstr(a, "_utf8mb4 ?") || strstr(a, "\x7f"))
			continue;
		assert_int_equal(template_make(a, ia.len, b, sizeof(b), NULL, &ib), 0);
		if (strcmp(a, b))
			fail_msg("not idempotent:\n  [%s]\n  [%s]", a, b);
	}
}

static void assert_same(const char *x, const char *y)
{
	struct template_info ix, iy;
	char ox[4097], oy[4097];

	assert_int_equal(template_make(x, strlen(x), ox, sizeof(ox), NULL, &ix), 0);
	assert_int_equal(template_make(y, strlen(y), oy, sizeof(oy), NULL, &iy), 0);
	if (ix.id != iy.id)
		fail_msg("different ids:\n  [%s] -> [%s]\n  [%s] -> [%s]", x, ox, y, oy);
}

static void assert_differ(const char *x, const char *y)
{
	struct template_info ix, iy;
	char ox[4097], oy[4097];

	assert_int_equal(template_make(x, strlen(x), ox, sizeof(ox), NULL, &ix), 0);
	assert_int_equal(template_make(y, strlen(y), oy, sizeof(oy), NULL, &iy), 0);
	if (ix.id == iy.id)
		fail_msg("same id:\n  [%s] -> [%s]\n  [%s] -> [%s]", x, ox, y, oy);
}

/* Other literals, spacing, comments or keyword case: the same template id. */
static void test_same_id(void **state)
{
	(void)state;
	assert_same("SELECT c FROM sbtest1 WHERE id=1", "select c from sbtest1 where id = 99999");
	assert_same("SELECT c FROM sbtest1 WHERE id=1",
		    "SELECT  c\nFROM sbtest1 /* x */ WHERE id= -5 ;");
	assert_same("SELECT a FROM t WHERE b = 'x'", "SELECT a FROM t WHERE b = \"it's\" -- c");
	assert_same("SELECT a FROM t WHERE b IN (1)", "SELECT a FROM t WHERE b IN (1,2,3,4,5,6,7)");
	assert_same("SELECT a FROM t WHERE b IN (?)",
		    "SELECT a FROM t WHERE b IN ('a', 0x1, NULL)");
	assert_same("INSERT INTO t (a) VALUES (1)", "INSERT INTO t (a) VALUES (1), (2), (NOW())");
	assert_same("SELECT a FROM t WHERE b = 1.5", "SELECT a FROM t WHERE b = -1e10");
	assert_same("SELECT a FROM t WHERE b = 0x1F", "SELECT a FROM t WHERE b = X'1f'");
	assert_same("SELECT a FROM t WHERE b = b'1'", "SELECT a FROM t WHERE b = 0b1");
	assert_same("SELECT a FROM t WHERE b = _utf8mb4'x'", "SELECT a FROM t WHERE b = N'y'");
	assert_same("SELECT `a` FROM `t`", "SELECT a FROM t");
	assert_same("SELECT COUNT(*) FROM t", "select count( * ) from t");
	assert_same("/* app=1 */ SELECT 1", "SELECT 2 # other");
	assert_same("SELECT 1, 2", "SELECT 1, 2, 3, 4");
	assert_same("SELECT a-1 FROM t", "SELECT a - -1 FROM t");
}

/* A different identifier is a different template. */
static void test_different_id(void **state)
{
	(void)state;
	assert_differ("SELECT a FROM t1", "SELECT a FROM t2");
	assert_differ("SELECT a FROM t", "SELECT b FROM t");
	assert_differ("SELECT a FROM t", "SELECT A FROM t");
	assert_differ("SELECT a FROM t WHERE b = 1", "SELECT a FROM t WHERE b > 1");
	assert_differ("SELECT a FROM t WHERE b IS NULL", "SELECT a FROM t WHERE b IS NOT NULL");
	assert_differ("SELECT a FROM t WHERE b = TRUE", "SELECT a FROM t WHERE b = FALSE");
	assert_differ("SELECT a FROM t WHERE b IN (1)", "SELECT a FROM t WHERE b IN (SELECT 1)");
	assert_differ("SELECT a FROM t LIMIT 1", "SELECT a FROM t LIMIT 1, 2");
	assert_differ("SELECT /*+ BKA(t) */ a FROM t", "SELECT a FROM t");
	assert_differ("SELECT `status` FROM t", "SELECT status FROM t");
	assert_differ("SELECT a FROM db1.t", "SELECT a FROM db2.t");
}

static void test_truncation(void **state)
{
	struct template_opts o = { .max_len = 10 };
	struct template_info info;
	char out[64], small[5], big[8192];
	size_t i;

	(void)state;
	assert_int_equal(template_make("SELECT a FROM t WHERE b = 1", 27, out, sizeof(out), &o,
				       &info), 0);
	assert_string_equal(out, "SELECT a F");
	assert_int_equal(info.len, 10);
	assert_int_equal(info.truncated, 1);
	assert_true(info.id == template_id("SELECT a F", 10));

	/* Exactly max_len is not truncated. */
	assert_int_equal(template_make("SELECT abc", 10, out, sizeof(out), &o, &info), 0);
	assert_string_equal(out, "SELECT abc");
	assert_int_equal(info.truncated, 0);

	/* The buffer is the cap when it is smaller than max_len. */
	assert_int_equal(template_make("SELECT a FROM t", 15, small, sizeof(small), NULL, &info),
			 0);
	assert_string_equal(small, "SELE");
	assert_int_equal(info.truncated, 1);

	/* Never cut inside a UTF-8 sequence: "SELECT é" is 9 bytes. */
	o.max_len = 8;
	assert_int_equal(template_make("SELECT é", strlen("SELECT é"), out, sizeof(out), &o,
				       &info), 0);
	assert_string_equal(out, "SELECT ");
	assert_int_equal(info.truncated, 1);

	/* A long IN list collapses: a 10 KiB statement gives a short template, not truncated. */
	i = (size_t)snprintf(big, sizeof(big), "SELECT a FROM t WHERE b IN (");
	while (i < sizeof(big) - 20)
		i += (size_t)snprintf(big + i, sizeof(big) - i, "%zu, ", i);
	i += (size_t)snprintf(big + i, sizeof(big) - i, "1)");
	assert_int_equal(template_make(big, i, out, sizeof(out), NULL, &info), 0);
	assert_string_equal(out, "SELECT a FROM t WHERE b IN (...)");
	assert_int_equal(info.truncated, 0);

	/* The default cap is 4096. */
	{
		char *sql = malloc(10000), *o2 = malloc(10000);

		assert_non_null(sql);
		assert_non_null(o2);
		memcpy(sql, "SELECT ", 7);
		for (i = 7; i < 9000; i += 2)
			memcpy(sql + i, "a+", 2);
		sql[i] = 'a';
		assert_int_equal(template_make(sql, i + 1, o2, 10000, NULL, &info), 0);
		assert_int_equal(info.len, 4096);
		assert_int_equal(info.truncated, 1);
		assert_int_equal(strlen(o2), 4096);
		free(sql);
		free(o2);
	}
}

static void test_comment(void **state)
{
	const char *sql = "SELECT /* first */ 1 -- second\n";
	struct template_info info;
	char out[64];

	(void)state;
	assert_int_equal(template_make(sql, strlen(sql), out, sizeof(out), NULL, &info), 0);
	assert_string_equal(out, "SELECT ?");
	assert_ptr_equal(info.comment, sql + 7);
	assert_int_equal(info.comment_len, strlen("/* first */"));

	sql = "SELECT 1 # hash\n";
	assert_int_equal(template_make(sql, strlen(sql), out, sizeof(out), NULL, &info), 0);
	assert_ptr_equal(info.comment, sql + 9);
	assert_int_equal(info.comment_len, strlen("# hash"));

	sql = "SELECT 1 -- dash";
	assert_int_equal(template_make(sql, strlen(sql), out, sizeof(out), NULL, &info), 0);
	assert_ptr_equal(info.comment, sql + 9);
	assert_int_equal(info.comment_len, strlen("-- dash"));

	/* Hints and executable comments are not the comment. */
	sql = "SELECT /*+ BKA(t) */ /*!50000 1 */ /* app:x */";
	assert_int_equal(template_make(sql, strlen(sql), out, sizeof(out), NULL, &info), 0);
	assert_string_equal(out, "SELECT /*+ BKA(t) */ ?");
	assert_non_null(info.comment);
	assert_int_equal(info.comment_len, strlen("/* app:x */"));
	assert_memory_equal(info.comment, "/* app:x */", info.comment_len);

	sql = "SELECT 1";
	assert_int_equal(template_make(sql, strlen(sql), out, sizeof(out), NULL, &info), 0);
	assert_null(info.comment);
	assert_int_equal(info.comment_len, 0);
}

static void test_errors(void **state)
{
	struct template_info info;
	char out[16];

	(void)state;
	assert_int_equal(template_make("x", 1, NULL, 16, NULL, &info), -EINVAL);
	assert_int_equal(template_make("x", 1, out, 0, NULL, &info), -EINVAL);
	assert_int_equal(template_make("x", 1, out, sizeof(out), NULL, NULL), -EINVAL);
	assert_int_equal(template_make(NULL, 1, out, sizeof(out), NULL, &info), -EINVAL);
	assert_int_equal(template_make(NULL, 0, out, sizeof(out), NULL, &info), 0);
	assert_string_equal(out, "");
	/* A cap of one byte still gives a NUL-terminated (empty, truncated) template. */
	assert_int_equal(template_make("SELECT 1", 8, out, 1, NULL, &info), 0);
	assert_string_equal(out, "");
	assert_int_equal(info.truncated, 1);
}

/* Bytes the lexer cannot classify (NUL included) still give a template. */
static void test_binary(void **state)
{
	char sql[256], out[1024];
	struct template_info info;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sql); i++)
		sql[i] = (char)i;
	assert_int_equal(template_make(sql, sizeof(sql), out, sizeof(out), NULL, &info), 0);
	assert_int_equal(strlen(out), info.len);
	assert_true(info.len > 0);
}

static void test_id(void **state)
{
	char hex[17];

	(void)state;
	/* XXH64 of the empty input with seed 0 (the xxHash reference value). */
	assert_true(template_id("", 0) == 0xef46db3751d8e999ull);
	template_id_hex(0xef46db3751d8e999ull, hex);
	assert_string_equal(hex, "ef46db3751d8e999");
	template_id_hex(0x1ull, hex);
	assert_string_equal(hex, "0000000000000001");
	assert_true(template_id("SELECT ?", 8) != template_id("SELECT ? ", 9));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),	   cmocka_unit_test(test_idempotent),
		cmocka_unit_test(test_same_id),	   cmocka_unit_test(test_different_id),
		cmocka_unit_test(test_truncation), cmocka_unit_test(test_comment),
		cmocka_unit_test(test_errors),	   cmocka_unit_test(test_binary),
		cmocka_unit_test(test_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
