// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests the dashboard's embedded files: found by path, with their type, nothing else served. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "web/assets.h"

static int has(const struct web_asset *a, const char *s)
{
	return memmem(a->data, a->len, s, strlen(s)) != NULL;
}

static void test_found(void **state)
{
	struct web_asset a;

	assert_non_null(web_asset_find("/", &a));
	assert_string_equal(a.type, "text/html; charset=utf-8");
	assert_true(has(&a, "<script src=\"app.js\""));
	assert_non_null(web_asset_find("/index.html", &a));
	assert_non_null(web_asset_find("/app.js", &a));
	assert_string_equal(a.type, "text/javascript; charset=utf-8");
	assert_true(has(&a, "/collector"));
	assert_non_null(web_asset_find("/app.css", &a));
	assert_string_equal(a.type, "text/css; charset=utf-8");
}

/* The page must not need the network: nothing it loads comes from another host (the SVG
 * namespace URI in app.js is a name, never fetched). */
static void test_self_contained(void **state)
{
	static const char *const files[] = { "/", "/app.js", "/app.css" };
	struct web_asset a;
	size_t i;

	for (i = 0; i < 3; i++) {
		assert_non_null(web_asset_find(files[i], &a));
		assert_false(has(&a, "src=\"http"));
		assert_false(has(&a, "href=\"http"));
		assert_false(has(&a, "src=\"//"));
		assert_false(has(&a, "href=\"//"));
		assert_false(has(&a, "url(http"));
		assert_false(has(&a, "@import"));
		assert_false(has(&a, "cdn"));
	}
}

static void test_not_found(void **state)
{
	struct web_asset a;

	assert_null(web_asset_find("", &a));
	assert_null(web_asset_find(NULL, &a));
	assert_null(web_asset_find("app.js", &a));
	assert_null(web_asset_find("/nope.js", &a));
	assert_null(web_asset_find("/../Makefile", &a));
	assert_null(web_asset_find("/assets/app.js", &a));
	assert_null(web_asset_find("/status", &a)); /* the API answers that */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_found),
		cmocka_unit_test(test_self_contained),
		cmocka_unit_test(test_not_found),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
