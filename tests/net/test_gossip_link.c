// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests gossip links: ws_link_send() to a server's /cluster/gossip, and the token check on it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "net/server.h"
#include "net/ws_client.h"

#define WAIT_MS 10000 /* generous: the suite also runs under ASan on a shared machine */

struct app {
	atomic_uint got;
	char last[128];
	atomic_int closed_status;
};

static const struct report_wire *app_wire(void *ctx, const void *report)
{
	(void)ctx;
	(void)report;
	return NULL;
}

/* Runs in the server thread; the test reads `last` only after `got` moved. */
static int app_gossip(void *ctx, const char *data, size_t len)
{
	struct app *a = ctx;

	snprintf(a->last, sizeof(a->last), "%.*s", (int)len, data);
	atomic_fetch_add(&a->got, 1);
	return 0;
}

static int link_path(void *ctx, struct buf *path)
{
	(void)ctx;
	return buf_puts(path, "/cluster/gossip");
}

static int link_message(void *ctx, const void *data, size_t len, int binary)
{
	(void)ctx;
	(void)data;
	(void)len;
	(void)binary;
	return 0;
}

static void link_closed(void *ctx, int status, const char *why)
{
	struct app *a = ctx;

	(void)why;
	if (status)
		atomic_store(&a->closed_status, status);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls cond (a condition on the app) for at most WAIT_MS. */
#define WAIT_FOR(cond)                                                  \
	do {                                                            \
		long long t0_ = now_ms();                               \
		while (!(cond) && now_ms() - t0_ < WAIT_MS)             \
			usleep(2000);                                   \
		assert_true(cond);                                      \
	} while (0)

static struct server *start(struct app *a, const char *token, bool gossip)
{
	struct server_config cfg = { .bind = "127.0.0.1", .cluster_token = token };
	struct server_callbacks cb = { .wire = app_wire, .gossip = gossip ? app_gossip : NULL };
	struct server *s = server_new(&cfg, &cb, a);

	assert_non_null(s);
	return s;
}

static struct ws_link *dial(struct ws_client *c, struct server *s, struct app *a,
			    const char *token)
{
	struct ws_link_config lc = { .host = "127.0.0.1", .port = server_port(s), .token = token };
	struct ws_link_callbacks cb = {
		.path = link_path, .message = link_message, .closed = link_closed,
	};
	struct ws_link *l = ws_link_new(c, &lc, &cb, a);

	assert_non_null(l);
	return l;
}

static bool connected(struct ws_link *l)
{
	struct ws_link_stats st;

	ws_link_get_stats(l, &st);
	return st.connected;
}

static void test_send(void **unused)
{
	struct app a = { 0 };
	struct server *s = start(&a, "tok", true);
	struct ws_client *c = ws_client_new();
	struct ws_link *l;
	struct ws_link_stats st;
	struct server_stats ss;

	(void)unused;
	assert_non_null(c);
	l = dial(c, s, &a, "tok");
	WAIT_FOR(connected(l));
	for (int i = 0; i < 20; i++) {
		char msg[32];

		snprintf(msg, sizeof(msg), "{\"n\":%d}", i);
		/* The outbox holds 64: a burst of 20 never overflows it. */
		assert_int_equal(ws_link_send(l, msg, strlen(msg), 0), 0);
	}
	WAIT_FOR(atomic_load(&a.got) == 20);
	assert_string_equal(a.last, "{\"n\":19}");
	ws_link_get_stats(l, &st);
	assert_int_equal(st.sent, 20);
	assert_int_equal(st.send_refused, 0);
	server_get_stats(s, &ss);
	assert_int_equal(ss.gossip_messages, 20);
	assert_int_equal(ss.clients, 0); /* a gossip link is not a /collector client */
	ws_link_free(l);
	ws_client_free(c);
	server_free(s);
}

static void test_refused(void **unused)
{
	struct app a = { 0 }, b = { 0 };
	struct server *s = start(&a, "tok", true), *off = start(&b, NULL, false);
	struct ws_client *c = ws_client_new();
	struct ws_link *l, *l2;
	struct server_stats ss;

	(void)unused;
	assert_non_null(c);
	/* Wrong token: 401, counted; nothing can be sent on it. */
	l = dial(c, s, &a, "wrong");
	WAIT_FOR(atomic_load(&a.closed_status) == 401);
	assert_int_equal(ws_link_send(l, "x", 1, 0), -ENOTCONN);
	server_get_stats(s, &ss);
	assert_true(ss.gossip_refused >= 1);
	assert_int_equal(ss.gossip_messages, 0);
	/* A node without gossip refuses the upgrade altogether. */
	l2 = dial(c, off, &b, NULL);
	WAIT_FOR(atomic_load(&b.closed_status) == 404);
	assert_false(connected(l2));
	ws_link_free(l);
	ws_link_free(l2);
	ws_client_free(c);
	server_free(s);
	server_free(off);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_send),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
