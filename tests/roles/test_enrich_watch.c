// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* enrich.file reloads: a valid change is put in force, a bad one refused (old one kept). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "lib/clock.h"
#include "roles/enrich_watch.h"

static char dir[] = "/tmp/mp-enrich-watch-XXXXXX";
static char path[64];

/* Replaces the file at once (a new inode), as an operator's tool should. */
static void write_file(const char *text)
{
	char tmp[80];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/tmp", dir);
	f = fopen(tmp, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(rename(tmp, path), 0);
}

static const char *app_now(struct enrich_watch *w, const char *ip)
{
	static char out[ENRICH_APP_MAX + 1];
	struct enrich *e = enrich_watch_get(w);
	uint8_t a[16] = { 0 };
	const char *s;
	size_t len = 0;

	assert_int_equal(inet_pton(AF_INET, ip, a), 1);
	s = enrich_lookup(e, AF_INET, a, &len);
	snprintf(out, sizeof(out), "%.*s", s ? (int)len : 6, s ? s : "(none)");
	enrich_put(e);
	return out;
}

/* Polls (every 20 ms, at most 5 s) until ip's app is want. */
static int wait_app(struct enrich_watch *w, const char *ip, const char *want)
{
	uint64_t until = mono_ms() + 5000;

	while (strcmp(app_now(w, ip), want)) {
		if (mono_ms() > until)
			return -1;
		usleep(20000);
	}
	return 0;
}

static void test_reload(void **state)
{
	unsigned long long applied, refused;
	struct enrich_watch *w;
	char err[256] = "";
	struct buf out = { 0 };
	size_t n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/apps", dir);
	write_file("10.0.0.0/8 ten\n10.1.0.0/16 one\n");
	w = enrich_watch_new(path, err, sizeof(err));
	assert_non_null(w);
	assert_string_equal(app_now(w, "10.1.2.3"), "one");

	/* A valid change: in force within a poll or two. */
	write_file("10.0.0.0/8 ten\n10.1.0.0/16 moved\n");
	assert_int_equal(wait_app(w, "10.1.2.3", "moved"), 0);

	/* A malformed line: refused, the previous mapping stays. */
	write_file("10.0.0.0/8 ten\n10.1.0.0/16 broken\n10.2.0.0/16\n");
	{
		uint64_t until = mono_ms() + 5000;

		do {
			enrich_watch_stats(w, &applied, &refused, &n);
			usleep(20000);
		} while (!refused && mono_ms() < until);
	}
	assert_int_equal(refused, 1);
	assert_string_equal(app_now(w, "10.1.2.3"), "moved");

	/* A patch on top of the mapping in force; a bad one changes nothing. */
	assert_int_equal(enrich_watch_patch(w, "10.1.0.0/16 patched\n", 20, &out), 0);
	assert_non_null(strstr(out.data, "\"prefixes\":2"));
	assert_string_equal(app_now(w, "10.1.2.3"), "patched");
	buf_reset(&out);
	assert_int_equal(enrich_watch_patch(w, "10.1.0.0/16 x\nnope y\n", 21, &out), -EINVAL);
	assert_string_equal(out.data, "body:2: bad CIDR 'nope': not an IPv4 or IPv6 address");
	assert_string_equal(app_now(w, "10.1.2.3"), "patched");

	/* The file fixed: it replaces the mapping, patch included. */
	write_file("10.1.0.0/16 fixed\n");
	assert_int_equal(wait_app(w, "10.1.2.3", "fixed"), 0);
	assert_string_equal(app_now(w, "10.3.0.1"), "(none)");
	enrich_watch_free(w);
	unlink(path);
	buf_free(&out);
	rmdir(dir);
}

static void test_bad_at_start(void **state)
{
	char d[] = "/tmp/mp-enrich-watch-XXXXXX", p[64], err[256] = "";
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(d));
	snprintf(p, sizeof(p), "%s/apps", d);
	f = fopen(p, "w");
	fputs("# ok\n10.0.0.0/8 ten\n10.0.0.1/8 x\n", f);
	fclose(f);
	assert_null(enrich_watch_new(p, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "/apps:3: bad CIDR '10.0.0.1/8': address has bits set"));
	unlink(p);
	rmdir(d);
	/* No file: an empty mapping that POST can fill. */
	{
		struct enrich_watch *w = enrich_watch_new("", err, sizeof(err));
		struct buf out = { 0 };

		assert_non_null(w);
		assert_string_equal(app_now(w, "10.0.0.1"), "(none)");
		assert_int_equal(enrich_watch_patch(w, "10.0.0.0/8 ten", 14, &out), 0);
		assert_string_equal(app_now(w, "10.0.0.1"), "ten");
		buf_free(&out);
		enrich_watch_free(w);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_bad_at_start),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
