// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The watcher's snapshot: PROCESSLIST HOST values, lookups by client address, self, generations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "watcher/procs.h"

static void test_parse_host(void **state)
{
	static const struct {
		const char *host;
		int ok;
		uint8_t family;
		const char *ip;
		uint16_t port;
	} cases[] = {
		{ "127.0.0.1:45678", 1, 4, "127.0.0.1", 45678 },
		{ "10.1.2.3:1", 1, 4, "10.1.2.3", 1 },
		{ "::1:3306", 1, 6, "::1", 3306 },
		{ "[fd00::7]:65535", 1, 6, "fd00::7", 65535 },
		{ "::ffff:192.168.0.9:4000", 1, 4, "192.168.0.9", 4000 }, /* IPv4-mapped */
		{ "localhost", 0 },				    /* a Unix socket */
		{ "localhost:4000", 0 },			    /* a name: the watcher resolves it */
		{ "127.0.0.1:", 0 },
		{ "127.0.0.1:0", 0 },
		{ "127.0.0.1:65536", 0 },
		{ "127.0.0.1:123456", 0 },
		{ "127.0.0.1:12a", 0 },
		{ ":3306", 0 },
		{ "", 0 },
		{ "[]:3306", 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct proc_entry e;
		uint8_t want[16] = { 0 };
		int r = procs_parse_host(cases[i].host, strlen(cases[i].host), &e);

		if (!cases[i].ok) {
			assert_int_equal(r, -EINVAL);
			continue;
		}
		assert_int_equal(r, 0);
		assert_int_equal(e.family, cases[i].family);
		assert_int_equal(e.port, cases[i].port);
		assert_int_equal(inet_pton(cases[i].family == 4 ? AF_INET : AF_INET6, cases[i].ip,
					   want), 1);
		assert_memory_equal(e.addr, want, 16);
	}
}

static struct proc_entry entry(const char *host, uint64_t id, const char *user, const char *db)
{
	struct proc_entry e = { 0 };

	assert_int_equal(procs_parse_host(host, strlen(host), &e), 0);
	e.id = id;
	e.user_len = (uint16_t)strlen(user);
	memcpy(e.user, user, e.user_len);
	e.db_null = !db;
	e.db_len = db ? (uint16_t)strlen(db) : 0;
	if (db)
		memcpy(e.db, db, e.db_len);
	return e;
}

static void test_lookup_and_self(void **state)
{
	struct procs *p = procs_new();
	struct proc_entry v[3], out;
	uint64_t gen, taken = 0;

	(void)state;
	assert_non_null(p);
	v[0] = entry("10.0.0.2:5000", 12, "app", "shop");
	v[1] = entry("10.0.0.1:5000", 11, "app", NULL);
	v[2] = entry("[fd00::1]:5000", 13, "ops", "mysql");
	gen = procs_gen(p);
	assert_int_equal(procs_lookup(p, v[0].addr, 4, 5000, &out, &taken), -ENOENT);
	assert_int_equal(procs_publish(p, v, 3, 777), 0);
	assert_true(procs_gen(p) > gen);
	assert_int_equal(procs_lookup(p, v[1].addr, 4, 5000, &out, &taken), 0);
	assert_int_equal(out.id, 11);
	assert_int_equal(out.db_null, 1);
	assert_int_equal(taken, 777);
	assert_int_equal(procs_lookup(p, v[2].addr, 6, 5000, &out, &taken), 0);
	assert_int_equal(out.id, 13);
	assert_memory_equal(out.db, "mysql", 5);
	/* Same address, other port or family: not the same connection. */
	assert_int_equal(procs_lookup(p, v[0].addr, 4, 5001, &out, &taken), -ENOENT);
	assert_int_equal(procs_lookup(p, v[0].addr, 6, 5000, &out, &taken), -ENOENT);
	/* A new snapshot replaces the old one whole. */
	assert_int_equal(procs_publish(p, v, 1, 888), 0);
	assert_int_equal(procs_lookup(p, v[1].addr, 4, 5000, &out, &taken), -ENOENT);
	assert_int_equal(procs_lookup(p, v[0].addr, 4, 5000, &out, &taken), 0);
	assert_int_equal(taken, 888);
	/* Self. */
	assert_false(procs_is_self(p, v[0].addr, 4, 5000));
	gen = procs_gen(p);
	procs_set_self(p, v[0].addr, 4, 5000);
	assert_true(procs_gen(p) > gen);
	assert_true(procs_is_self(p, v[0].addr, 4, 5000));
	assert_false(procs_is_self(p, v[1].addr, 4, 5000));
	assert_false(procs_is_self(p, v[0].addr, 4, 5001));
	assert_int_equal(procs_publish(p, NULL, 0, 999), 0);
	assert_int_equal(procs_lookup(p, v[0].addr, 4, 5000, &out, &taken), -ENOENT);
	procs_free(p);
	procs_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_host),
		cmocka_unit_test(test_lookup_and_self),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
