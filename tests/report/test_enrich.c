// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The CIDR table: longest prefix, IPv4 and IPv6, the text format's errors, patches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "report/enrich.h"

/* The app of a textual address, or "(none)". */
static const char *app(const struct enrich *e, const char *ip)
{
	static char out[ENRICH_APP_MAX + 1];
	uint8_t a[16] = { 0 };
	int fam = strchr(ip, ':') ? AF_INET6 : AF_INET;
	const char *s;
	size_t len = 0;

	assert_int_equal(inet_pton(fam, ip, a), 1);
	s = enrich_lookup(e, (uint8_t)fam, a, &len);
	if (!s)
		return "(none)";
	memcpy(out, s, len);
	out[len] = 0;
	return out;
}

static struct enrich *parse(const char *text, int patch)
{
	struct enrich *e = NULL;
	char err[256];

	if (enrich_parse(text, strlen(text), "t", patch, &e, err, sizeof(err)))
		fail_msg("unexpected error: %s", err);
	return e;
}

static void test_longest_prefix(void **state)
{
	struct enrich *e = parse("# apps\n"
				 "0.0.0.0/0 world\n"
				 "10.0.0.0/8      ten   # comment\n"
				 "\n"
				 "  10.1.0.0/16\tflight.search\r\n"
				 "10.1.2.0/24 flight.admin\n"
				 "10.1.2.3 one.host\n"
				 "2001:db8::/32 hotel.api\n"
				 "2001:db8:1::/48 hotel.pay\n"
				 "::1 local6\n",
				 0);

	(void)state;
	assert_int_equal(enrich_count(e), 8);
	assert_string_equal(app(e, "10.1.2.3"), "one.host");
	assert_string_equal(app(e, "10.1.2.4"), "flight.admin");
	assert_string_equal(app(e, "10.1.3.4"), "flight.search");
	assert_string_equal(app(e, "10.2.3.4"), "ten");
	assert_string_equal(app(e, "192.168.1.1"), "world");
	assert_string_equal(app(e, "2001:db8:1:2::5"), "hotel.pay");
	assert_string_equal(app(e, "2001:db8:2::5"), "hotel.api");
	assert_string_equal(app(e, "2001:db9::1"), "(none)"); /* /0 is IPv4's */
	assert_string_equal(app(e, "::1"), "local6");
	/* A v4-mapped IPv6 address is looked up as IPv4. */
	assert_string_equal(app(e, "::ffff:10.1.2.3"), "one.host");
	enrich_put(e);
	/* No table, an empty one: no match. */
	assert_null(enrich_lookup(NULL, AF_INET, (const uint8_t *)"\x0a\0\0\1", &(size_t){ 0 }));
	e = enrich_empty();
	assert_string_equal(app(e, "10.0.0.1"), "(none)");
	enrich_put(e);
}

/* Prefix lengths that are not byte multiples. */
static void test_odd_lengths(void **state)
{
	struct enrich *e = parse("10.64.0.0/10 a\n10.96.0.0/11 b\n10.100.0.0/15 c\n"
				 "2001:db8:8000::/33 d\n",
				 0);

	(void)state;
	assert_string_equal(app(e, "10.127.255.255"), "b");
	assert_string_equal(app(e, "10.95.0.1"), "a");
	assert_string_equal(app(e, "10.101.0.1"), "c");
	assert_string_equal(app(e, "10.128.0.1"), "(none)");
	assert_string_equal(app(e, "2001:db8:ffff::1"), "d");
	assert_string_equal(app(e, "2001:db8:7fff::1"), "(none)");
	enrich_put(e);
}

static void expect_error(const char *text, int patch, const char *want)
{
	struct enrich *e = (struct enrich *)1;
	char err[256] = "";

	assert_int_equal(enrich_parse(text, strlen(text), "f.txt", patch, &e, err, sizeof(err)),
			 -EINVAL);
	assert_null(e);
	if (strcmp(err, want))
		fail_msg("for %s: got '%s', want '%s'", text, err, want);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("10.0.0.0/8 a\n10.1.2.3/16 b\n", 0,
		     "f.txt:2: bad CIDR '10.1.2.3/16': address has bits set past the prefix length");
	expect_error("10.0.0.0/33 a\n", 0,
		     "f.txt:1: bad CIDR '10.0.0.0/33': prefix length must be 0..32");
	expect_error("::/129 a\n", 0, "f.txt:1: bad CIDR '::/129': prefix length must be 0..128");
	expect_error("10.0.0.0/ a\n", 0,
		     "f.txt:1: bad CIDR '10.0.0.0/': prefix length must be 0..32");
	expect_error("10.0.0.0/-1 a\n", 0,
		     "f.txt:1: bad CIDR '10.0.0.0/-1': prefix length must be 0..32");
	expect_error("# x\n\nhost.example a\n", 0,
		     "f.txt:3: bad CIDR 'host.example': not an IPv4 or IPv6 address");
	expect_error("10.0.0.0/8\n", 0, "f.txt:1: expected 'CIDR APP', got one field");
	expect_error("10.0.0.0/8 a b\n", 0,
		     "f.txt:1: expected 'CIDR APP', got more than two fields");
	expect_error("10.0.0.0/8 a\n10.0.0.0/8 b\n", 0,
		     "f.txt:2: prefix given twice (first on line 1)");
	expect_error("10.0.0.0/8 -\n", 0,
		     "f.txt:1: app '-' (delete) is for POST /enrich/update only");
	expect_error("10.0.0.0/8 a\"b\n", 0,
		     "f.txt:1: app name holds a control character, '\"' or '\\'");
	expect_error("10.0.0.0/8 \xff\xfe\n", 0, "f.txt:1: app name is not valid UTF-8");
	expect_error("10.0.0.0/8 "
		     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
		     0, "f.txt:1: app name longer than 64 bytes");
	{
		static const char nul[] = "10.0.0.0/8 a\n10.\0 b\n";
		struct enrich *e;
		char err[128];

		assert_int_equal(enrich_parse(nul, sizeof(nul) - 1, "f.txt", 0, &e, err,
					      sizeof(err)),
				 -EINVAL);
		assert_string_equal(err, "f.txt:2: NUL byte in the line");
	}
}

static void test_patch(void **state)
{
	struct enrich *base = parse("10.0.0.0/8 ten\n10.1.0.0/16 old\n", 0);
	struct enrich *patch = parse("10.1.0.0/16 new\n10.0.0.0/8 -\n10.2.0.0/16 two\n", 1);
	struct enrich *e;

	(void)state;
	assert_int_equal(enrich_apply(base, patch, &e), 0);
	assert_int_equal(enrich_count(e), 2);
	assert_string_equal(app(e, "10.1.0.1"), "new");
	assert_string_equal(app(e, "10.2.0.1"), "two");
	assert_string_equal(app(e, "10.3.0.1"), "(none)");
	/* The base is unchanged: a reader holding it still sees the old mapping. */
	assert_string_equal(app(base, "10.1.0.1"), "old");
	assert_string_equal(app(base, "10.3.0.1"), "ten");
	enrich_put(e);
	/* Onto nothing. */
	assert_int_equal(enrich_apply(NULL, patch, &e), 0);
	assert_int_equal(enrich_count(e), 2);
	enrich_put(e);
	enrich_put(patch);
	/* References: the last put frees. */
	assert_ptr_equal(enrich_ref(base), base);
	enrich_put(base);
	assert_string_equal(app(base, "10.1.0.1"), "old");
	enrich_put(base);
}

static void test_load_file(void **state)
{
	char path[] = "/tmp/mp-enrich-XXXXXX";
	struct enrich *e;
	char err[256];
	int fd = mkstemp(path);
	FILE *f;

	(void)state;
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("10.0.0.0/8 ten\n192.168.0.0/16 lan\n", f);
	fclose(f);
	assert_int_equal(enrich_load_file(path, &e, err, sizeof(err)), 0);
	assert_string_equal(app(e, "192.168.3.4"), "lan");
	enrich_put(e);
	f = fopen(path, "w");
	fputs("10.0.0.0/8 ten\nbad\n", f);
	fclose(f);
	assert_int_equal(enrich_load_file(path, &e, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":2: expected 'CIDR APP', got one field"));
	unlink(path);
	assert_int_equal(enrich_load_file(path, &e, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "No such file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_longest_prefix), cmocka_unit_test(test_odd_lengths),
		cmocka_unit_test(test_errors),	       cmocka_unit_test(test_patch),
		cmocka_unit_test(test_load_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
