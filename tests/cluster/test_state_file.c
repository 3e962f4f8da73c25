// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests node addresses and the master's state file: parse, errors with the line, round trip. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cluster/addr.h"
#include "cluster/state_file.h"

static void test_addr(void **unused)
{
	static const struct {
		const char *in, *host;
		int port;
	} good[] = {
		{ "10.0.0.2:8667", "10.0.0.2", 8667 },
		{ "db-1.example.com:1", "db-1.example.com", 1 },
		{ "[fd00::2]:65535", "fd00::2", 65535 },
	};
	static const char *const bad[] = {
		"", "10.0.0.2", "10.0.0.2:", ":8667", "10.0.0.2:0", "10.0.0.2:65536", "h:12x",
		"fd00::2:8667", "[fd00::2]8667", "[nothex]:1", "a b:1", "h/x:1", "-h:1",
		"10.0.0.2:99999999999999999999",
	};
	char host[ADDR_HOST_MAX];
	const char *why;
	int port;

	(void)unused;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(addr_parse(good[i].in, host, &port, &why), 0);
		assert_string_equal(host, good[i].host);
		assert_int_equal(port, good[i].port);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_int_equal(addr_parse(bad[i], host, &port, &why), -EINVAL);
		assert_non_null(why);
	}
}

static void parse_fails(const char *text, const char *want)
{
	struct cluster_state st = { 0 };
	char err[128] = "";

	assert_int_equal(state_parse(text, strlen(text), &st, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, want);
	assert_null(st.slaves);
}

static void test_parse(void **unused)
{
	static const char text[] = "# comment\nseq 12\n\nslave 10.0.0.2:8667 1700000000000 42\n"
				   "slave [fd00::3]:8667 0 0\n";
	struct cluster_state st = { 0 };
	char err[128];

	(void)unused;
	assert_int_equal(state_parse(text, strlen(text), &st, err, sizeof(err)), 0);
	assert_int_equal(st.seq, 12);
	assert_int_equal(st.nslaves, 2);
	assert_string_equal(st.slaves[0].addr, "10.0.0.2:8667");
	assert_int_equal(st.slaves[0].started_ms, 1700000000000ull);
	assert_int_equal(st.slaves[0].seq, 42);
	assert_string_equal(st.slaves[1].addr, "[fd00::3]:8667");
	cluster_state_free(&st);
	parse_fails("seq 1\nbogus\n", "line 2: unknown line (expected seq or slave)");
	parse_fails("seq x\n", "line 1: seq: expected one decimal number");
	parse_fails("seq 99999999999999999999\n", "line 1: seq: expected one decimal number");
	parse_fails("slave h:1 1\n", "line 1: slave: expected ADDRESS STARTED_MS SEQ");
	parse_fails("slave h:1 1 2 3\n", "line 1: slave: expected ADDRESS STARTED_MS SEQ");
	parse_fails("slave h:0 1 2\n", "line 1: port must be a number from 1 to 65535");
	parse_fails("slave h:1 1 2\nslave h:1 3 4\n", "line 2: slave listed twice");
}

static void test_round_trip(void **unused)
{
	char dir[] = "/tmp/mp-test-state-XXXXXX", path[64], err[128];
	struct cluster_state st = { 0 }, back = { 0 };

	(void)unused;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state", dir);
	assert_int_equal(state_read(path, &back, err, sizeof(err)), -ENOENT);
	st.seq = 7;
	assert_int_equal(state_add(&st, "a:1", 5, 6), 0);
	assert_int_equal(state_add(&st, "b:2", 0, 0), 0);
	assert_int_equal(state_write(path, &st), 0);
	assert_int_equal(state_read(path, &back, err, sizeof(err)), 0);
	assert_int_equal(back.seq, 7);
	assert_int_equal(back.nslaves, 2);
	assert_string_equal(back.slaves[1].addr, "b:2");
	assert_int_equal(back.slaves[0].seq, 6);
	cluster_state_free(&st);
	cluster_state_free(&back);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0); /* no temporary file left behind */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
