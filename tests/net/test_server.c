// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of the control-plane server: real sockets on 127.0.0.1, lws websocket clients. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libwebsockets.h>
#include <snappy-c.h>

#include "lib/clock.h"
#include "lib/buf.h"
#include "net/server.h"
#include "report/bus.h"

#define WAIT_MS 10000 /* generous: the suite also runs under ASan on a shared machine */
#define TOKEN "s3cret-token"

/* ---- the application side: stub callbacks ---- */

struct test_report {
	unsigned seq;
	size_t pad; /* bytes of pseudo-random letters, to make big messages snappy cannot shrink */
	struct report_wire *wire; /* NULL: as a report that failed to render */
};

/* Reports the bus freed (its free_obj has no context). */
static atomic_uint frees;

struct test_app {
	struct bus *bus;
	atomic_uint opens, opens_json, closes, renders, period_calls;
	atomic_uint period_ms;
	int fail_render;
	int big_metrics; /* lines of extra metrics, to make a body of many HTTP chunks */
};

struct test_client_state {
	int json;
};

static void *app_client_open(void *ctx, int json_format)
{
	struct test_app *app = ctx;
	struct test_client_state *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->json = json_format;
	atomic_fetch_add(&app->opens, 1);
	if (json_format)
		atomic_fetch_add(&app->opens_json, 1);
	return st;
}

static void app_client_close(void *ctx, void *state)
{
	struct test_app *app = ctx;

	atomic_fetch_add(&app->closes, 1);
	free(state);
}

/* The text a report renders to; the receiving side rebuilds it to compare. */
static int render_text(const struct test_report *r, uint64_t lost, struct buf *out)
{
	uint64_t x = 0x9e3779b97f4a7c15ull ^ r->seq;
	size_t i;
	int err = lost ? buf_printf(out, "{\"lost\":%llu,", (unsigned long long)lost)
		       : buf_puts(out, "{");

	err = err ?: buf_printf(out, "\"seq\":%u,\"pad\":\"", r->seq);

	for (i = 0; !err && i < r->pad; i++) {
		char c;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		c = (char)('a' + x % 26);
		err = buf_append(out, &c, 1);
	}
	return err ? err : buf_puts(out, "\"}");
}

static const struct report_wire *app_wire(void *ctx, const void *report)
{
	struct test_app *app = ctx;

	atomic_fetch_add(&app->renders, 1);
	return ((const struct test_report *)report)->wire;
}

static void app_report_free(void *report)
{
	atomic_fetch_add(&frees, 1);
	report_wire_free(((struct test_report *)report)->wire);
	free(report);
}

static int app_set_period(void *ctx, unsigned ms)
{
	struct test_app *app = ctx;

	atomic_store(&app->period_ms, ms);
	atomic_fetch_add(&app->period_calls, 1);
	return 0;
}

static int app_metrics(void *ctx, struct buf *out)
{
	struct test_app *app = ctx;
	int i, err = buf_puts(out, "# HELP mysqlprobe_test_things_total Things the test counted.\n"
				    "# TYPE mysqlprobe_test_things_total counter\n"
				    "mysqlprobe_test_things_total 42\n");

	if (!err && app->big_metrics)
		err = buf_puts(out, "# HELP mysqlprobe_test_big A gauge with many series.\n"
				     "# TYPE mysqlprobe_test_big gauge\n");
	for (i = 0; !err && i < app->big_metrics; i++)
		err = buf_printf(out, "mysqlprobe_test_big{n=\"%d\"} %d\n", i, i);
	return err;
}

static int app_status(void *ctx, struct buf *out)
{
	return buf_puts(out, "\"role\":\"slave\",\"report_period_ms\":1000");
}

/* POST /enrich/update: keeps the last body; "bad" in it is a refused line. */
static char enrich_got[256];
static size_t enrich_len;

static int app_enrich(void *ctx, const char *body, size_t len, struct buf *out)
{
	(void)ctx;
	if (memmem(body, len, "bad", 3))
		return buf_puts(out, "body:2: bad CIDR 'bad'") ?: -EINVAL;
	enrich_len = len;
	snprintf(enrich_got, sizeof(enrich_got), "%.*s", (int)(len < 200 ? len : 200), body);
	return buf_printf(out, "\"prefixes\":%zu", len);
}

static const struct server_callbacks app_cb = {
	.enrich_update = app_enrich,
	.client_open = app_client_open,
	.client_close = app_client_close,
	.wire = app_wire,
	.set_report_period_ms = app_set_period,
	.metrics = app_metrics,
	.status = app_status,
};

#define HISTORY 4 /* reports the test bus keeps */

static struct server *start(struct test_app *app, const char *token, unsigned queue_len,
			    size_t max_message)
{
	struct bus_config bc = { .history = HISTORY, .free_obj = app_report_free };
	struct server_config cfg = {
		.bind = "127.0.0.1",
		.port = 0,
		.max_message = max_message,
		.queue_len = queue_len,
		.token = token,
	};
	struct server *s;

	atomic_store(&frees, 0);
	if (!app->bus)
		app->bus = bus_new(&bc);
	assert_non_null(app->bus);
	cfg.bus = app->bus;
	s = server_new(&cfg, &app_cb, app);
	assert_non_null(s);
	assert_true(server_port(s) > 0);
	return s;
}

/* server_free(), then the bus (every client's reader is gone with the server). */
static void stop(struct server *s, struct test_app *app)
{
	server_free(s);
	bus_free(app->bus);
	app->bus = NULL;
}

/* Seqs start at 1 in the bus; the tests' seq 0 is published as 1 (seq + 1) and so on. */
static void publish_app(struct test_app *app, unsigned seq, size_t pad)
{
	struct test_report *r = malloc(sizeof(*r));

	assert_non_null(r);
	r->seq = seq;
	r->pad = pad;
	r->wire = NULL;
	if (!app->fail_render) {
		struct buf text = {};

		/* Rendered once as a role renders it, with no template texts. */
		assert_int_equal(render_text(r, 0, &text), 0);
		r->wire = report_wire_from_json(text.data, text.len, text.len - 1, text.len - 1,
						"{}", 2, 0);
		assert_non_null(r->wire);
		buf_free(&text);
	}
	assert_int_equal(bus_publish(app->bus, seq + 1, r, sizeof(*r) + pad), 0);
}

/* ---- a minimal HTTP/1.1 client: one request per connection ---- */

struct http_reply {
	int status;
	char head[2048];
	struct buf body;
};

/* Sends one raw request and reads the reply until the server closes. */
static void http_raw(int port, const char *req, struct http_reply *rep)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct buf raw = {};
	char buf[4096];
	uint64_t deadline = mono_ms() + WAIT_MS;
	int n = (int)strlen(req);
	char *sep;
	int fd;

	memset(rep, 0, sizeof(*rep));
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(write(fd, req, n), n);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		assert_true(mono_ms() < deadline);
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		assert_true(n >= 0);
		if (!n)
			break;
		assert_int_equal(buf_append(&raw, buf, n), 0);
	}
	close(fd);
	assert_non_null(raw.data);
	/* lws answers a refused upgrade in HTTP/1.0. */
	if (sscanf(raw.data, "HTTP/1.%*d %d", &rep->status) != 1)
		fail_msg("not an HTTP reply: %.200s", raw.data);
	sep = strstr(raw.data, "\r\n\r\n");
	assert_non_null(sep);
	snprintf(rep->head, sizeof(rep->head), "%.*s", (int)(sep - raw.data), raw.data);
	assert_int_equal(buf_append(&rep->body, sep + 4, raw.len - (sep + 4 - raw.data)), 0);
	buf_free(&raw);
}

static void http_req(int port, const char *method, const char *target, const char *auth,
		     struct http_reply *rep)
{
	char req[1024];

	snprintf(req, sizeof(req),
		 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s%sConnection: close\r\n\r\n", method,
		 target, auth ? "Authorization: " : "", auth ? auth : "", auth ? "\r\n" : "");
	http_raw(port, req, rep);
}

/* A websocket upgrade of target that the server is expected to refuse with a status. */
static int ws_upgrade_refused(int port, const char *target, struct buf *body)
{
	struct http_reply rep;
	char req[1024];

	snprintf(req, sizeof(req),
		 "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
		 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		 "Sec-WebSocket-Version: 13\r\n\r\n",
		 target);
	http_raw(port, req, &rep);
	*body = rep.body;
	return rep.status;
}

static int http_get(int port, const char *target, const char *auth, struct buf *body)
{
	struct http_reply rep;

	http_req(port, "GET", target, auth, &rep);
	if (body)
		*body = rep.body;
	else
		buf_free(&rep.body);
	return rep.status;
}

/* ---- a websocket client on its own lws context, serviced only when the test says so ---- */

#define WSC_MAX_MSGS 16

struct wsc {
	struct lws_context *ctx;
	struct lws *wsi;
	int established, closed, errored;
	struct buf cur;
	int nmsgs, binary[WSC_MAX_MSGS];
	struct buf msgs[WSC_MAX_MSGS];
	const char *auth; /* Authorization header of the upgrade, or NULL */
};

static int wsc_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			size_t len)
{
	struct wsc *c = user;

	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		if (c && c->auth) {
			unsigned char **p = in, *end = *p + len;

			if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
							 (const unsigned char *)c->auth,
							 (int)strlen(c->auth), p, end))
				return -1;
		}
		break;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		c->established = 1;
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		assert_int_equal(buf_append(&c->cur, in, len), 0);
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
			assert_true(c->nmsgs < WSC_MAX_MSGS);
			c->binary[c->nmsgs] = lws_frame_is_binary(wsi);
			c->msgs[c->nmsgs++] = c->cur;
			memset(&c->cur, 0, sizeof(c->cur));
		}
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		c->errored = 1;
		c->closed = 1;
		c->wsi = NULL;
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		c->closed = 1;
		c->wsi = NULL;
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols wsc_protocols[] = {
	{ "collector-test", wsc_callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void wsc_connect_auth(struct wsc *c, int port, const char *path, const char *auth)
{
	struct lws_context_creation_info info = {};
	struct lws_client_connect_info ci = {};

	memset(c, 0, sizeof(*c));
	c->auth = auth;
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = wsc_protocols;
	c->ctx = lws_create_context(&info);
	assert_non_null(c->ctx);
	ci.context = c->ctx;
	ci.address = "127.0.0.1";
	ci.port = port;
	ci.path = path;
	ci.host = "127.0.0.1";
	ci.origin = "127.0.0.1";
	ci.userdata = c;
	ci.pwsi = &c->wsi;
	assert_non_null(lws_client_connect_via_info(&ci));
}

static void wsc_connect(struct wsc *c, int port, const char *path)
{
	wsc_connect_auth(c, port, path, NULL);
}

/* Services the client until *flag is set; fails the test after WAIT_MS. */
static void wsc_until(struct wsc *c, const int *flag)
{
	uint64_t deadline = mono_ms() + WAIT_MS;

	while (!*flag) {
		assert_true(mono_ms() < deadline);
		/* A negative timeout polls without waiting; the 1 ms pause keeps the loop cheap. */
		lws_service(c->ctx, -1);
		if (!*flag)
			usleep(1000);
	}
}

static void wsc_until_msgs(struct wsc *c, int n)
{
	uint64_t deadline = mono_ms() + WAIT_MS;

	while (c->nmsgs < n) {
		assert_true(mono_ms() < deadline);
		assert_false(c->closed);
		lws_service(c->ctx, -1);
		if (c->nmsgs < n)
			usleep(1000);
	}
}

static void wsc_free(struct wsc *c)
{
	int i;

	lws_context_destroy(c->ctx);
	for (i = 0; i < c->nmsgs; i++)
		buf_free(&c->msgs[i]);
	buf_free(&c->cur);
}

/* Polls the server's counters until fn says done; fails after WAIT_MS. */
static void stats_until(struct server *s,
			int (*fn)(const struct server_stats *, unsigned long long),
			unsigned long long arg)
{
	uint64_t deadline = mono_ms() + WAIT_MS;
	struct server_stats st;

	for (;;) {
		server_get_stats(s, &st);
		if (fn(&st, arg))
			return;
		assert_true(mono_ms() < deadline);
		usleep(1000);
	}
}

static int clients_are(const struct server_stats *st, unsigned long long n)
{
	return st->clients == n;
}

static void expect_text_lost(const struct buf *got, unsigned seq, size_t pad, int json,
			     uint64_t lost)
{
	struct test_report r = { .seq = seq, .pad = pad };
	struct buf want = {};

	(void)json; /* both formats carry the same text */
	assert_int_equal(render_text(&r, lost, &want), 0);
	assert_int_equal(got->len, want.len);
	assert_memory_equal(got->data, want.data, want.len);
	buf_free(&want);
}

static void expect_text(const struct buf *got, unsigned seq, size_t pad, int json)
{
	expect_text_lost(got, seq, pad, json, 0);
}

static void expect_snappy_lost(const struct buf *got, unsigned seq, size_t pad, uint64_t lost)
{
	struct buf plain = {};
	size_t n;

	assert_int_equal(snappy_uncompressed_length(got->data, got->len, &n), SNAPPY_OK);
	assert_int_equal(buf_reserve(&plain, n), 0);
	assert_int_equal(snappy_uncompress(got->data, got->len, plain.data, &n), SNAPPY_OK);
	plain.len = n;
	expect_text_lost(&plain, seq, pad, 0, lost);
	buf_free(&plain);
}

static void expect_snappy(const struct buf *got, unsigned seq, size_t pad)
{
	expect_snappy_lost(got, seq, pad, 0);
}

/* ---- tests ---- */

static void test_healthz_404_405(void **unused)
{
	struct test_app app = {};
	struct server *s = start(&app, NULL, 0, 0);
	struct http_reply rep;
	struct buf body = {};

	assert_int_equal(http_get(server_port(s), "/healthz", NULL, &body), 200);
	assert_string_equal(body.data, "ok");
	buf_free(&body);

	assert_int_equal(http_get(server_port(s), "/nope", NULL, &body), 404);
	assert_non_null(strstr(body.data, "{\"error\":"));
	buf_free(&body);

	http_req(server_port(s), "POST", "/healthz", NULL, &rep);
	assert_int_equal(rep.status, 405);
	assert_non_null(strcasestr(rep.head, "allow: GET"));
	buf_free(&rep.body);

	assert_int_equal(http_get(server_port(s), "/collector", NULL, &body), 426);
	buf_free(&body);
	stop(s, &app);
}

/* GET /config/update?<query>; returns the status and checks the error names its reason. */
static int config_update(struct server *s, const char *query, const char *reason)
{
	char target[256];
	struct buf body = {};
	int code;

	snprintf(target, sizeof(target), "/config/update%s", query);
	code = http_get(server_port(s), target, "Bearer " TOKEN, &body);
	if (reason) {
		assert_non_null(strstr(body.data, "{\"error\":"));
		if (!strstr(body.data, reason))
			fail_msg("%s: body %s does not say %s", query, body.data, reason);
	}
	buf_free(&body);
	return code;
}

static void test_config_update(void **unused)
{
	struct test_app app = {};
	struct server *s = start(&app, TOKEN, 0, 0);
	struct buf body = {};

	assert_int_equal(config_update(s, "?report_period_ms=500", NULL), 200);
	assert_int_equal(app.period_ms, 500);
	assert_int_equal(config_update(s, "?report_period_ms=100", NULL), 200);
	assert_int_equal(app.period_ms, 100);
	assert_int_equal(config_update(s, "?report_period_ms=3600000", NULL), 200);
	assert_int_equal(app.period_ms, 3600000);
	assert_int_equal(app.period_calls, 3);

	assert_int_equal(
		config_update(s, "?report_period_ms=99", "report_period_ms: must be between"), 400);
	assert_int_equal(config_update(s, "?report_period_ms=3600001", "between 100 and 3600000"),
			 400);
	assert_int_equal(config_update(s, "?report_period_ms=99999999999999999999", "between"),
			 400);
	assert_int_equal(
		config_update(s, "?report_period_ms=abc", "report_period_ms: must be a decimal"),
		400);
	assert_int_equal(config_update(s, "?report_period_ms=100x", "decimal integer"), 400);
	assert_int_equal(config_update(s, "?report_period_ms=-100", "decimal integer"), 400);
	assert_int_equal(config_update(s, "?report_period_ms=", "decimal integer"), 400);
	assert_int_equal(config_update(s, "?report_period_ms", "decimal integer"), 400);
	assert_int_equal(config_update(s, "", "report_period_ms: missing"), 400);
	assert_int_equal(config_update(s, "?foo=1&report_period_ms=500", "foo: unknown parameter"),
			 400);
	assert_int_equal(
		config_update(s, "?report_period_ms=500&report_period_ms=600", "more than once"),
		400);
	assert_int_equal(config_update(s, "?a%22b=1", "a\\\"b: unknown parameter"), 400);
	/* An empty fragment is skipped, never the end of the checks after it. */
	assert_int_equal(
		config_update(s, "?report_period_ms=500&&report_period_ms=99", "more than once"),
		400);
	assert_int_equal(config_update(s, "?&&foo=1&report_period_ms=500", "foo: unknown"), 400);
	assert_int_equal(config_update(s, "?report_period_ms=500&&&&&&&&&&&&&&&&&&&&x=1",
				       "x: unknown parameter"),
			 400);
	assert_int_equal(app.period_calls, 3);
	assert_int_equal(app.period_ms, 3600000);
	assert_int_equal(config_update(s, "?&&report_period_ms=200", NULL), 200);
	assert_int_equal(app.period_ms, 200);

	assert_int_equal(http_get(server_port(s), "/cluster/join?addr=10.0.0.1:8667",
				  "Bearer " TOKEN, &body),
			 409);
	assert_string_equal(body.data, "{\"error\":\"this node is not in a cluster\"}\n");
	buf_free(&body);
	assert_int_equal(http_get(server_port(s), "/cluster/listnodes", "Bearer " TOKEN, NULL),
			 409);
	stop(s, &app);
}

static void test_token(void **unused)
{
	struct test_app app = {};
	struct server *s = start(&app, TOKEN, 0, 0);
	int port = server_port(s);

	assert_int_equal(http_get(port, "/config/update?report_period_ms=500", NULL, NULL), 401);
	assert_int_equal(http_get(port, "/config/update?report_period_ms=500", "Bearer nope", NULL),
			 401);
	assert_int_equal(
		http_get(port, "/config/update?report_period_ms=500", "Bearer " TOKEN "x", NULL),
		401);
	assert_int_equal(
		http_get(port, "/config/update?report_period_ms=500", "Basic " TOKEN, NULL), 401);
	assert_int_equal(http_get(port, "/cluster/leave", NULL, NULL), 401);
	assert_int_equal(app.period_calls, 0);
	/* Numbers stay open (probes, Prometheus); what shows SQL or settings does not. */
	assert_int_equal(http_get(port, "/healthz", NULL, NULL), 200);
	assert_int_equal(http_get(port, "/metrics", NULL, NULL), 200);
	assert_int_equal(http_get(port, "/status", NULL, NULL), 401);
	assert_int_equal(http_get(port, "/status", "Bearer nope", NULL), 401);
	assert_int_equal(http_get(port, "/status", "Bearer " TOKEN, NULL), 200);
	assert_int_equal(http_get(port, "/collector", NULL, NULL), 401);
	assert_int_equal(http_get(port, "/cluster/listnodes", NULL, NULL), 401);
	assert_int_equal(
		http_get(port, "/config/update?report_period_ms=500", "Bearer " TOKEN, NULL), 200);
	assert_int_equal(app.period_calls, 1);
	stop(s, &app);

	/* Without a token configured, config is open on loopback... */
	s = start(&app, NULL, 0, 0);
	assert_int_equal(
		http_get(server_port(s), "/config/update?report_period_ms=700", NULL, NULL), 200);
	assert_int_equal(app.period_ms, 700);
	stop(s, &app);
}

/* ...and refused where the port reaches beyond loopback (every address here). */
static void test_exposed_without_token(void **unused)
{
	struct server_config cfg = { .bind = "0.0.0.0", .port = 0 };
	struct test_app app = {};
	struct buf body = {};
	struct server *s;
	int port;

	s = server_new(&cfg, &app_cb, &app);
	assert_non_null(s);
	port = server_port(s);
	assert_int_equal(http_get(port, "/config/update?report_period_ms=700", NULL, &body), 403);
	assert_non_null(strstr(body.data, "http.token is not set"));
	buf_free(&body);
	assert_int_equal(http_get(port, "/cluster/leave", NULL, NULL), 403);
	assert_int_equal(app.period_calls, 0);
	assert_int_equal(http_get(port, "/status", NULL, NULL), 200);
	assert_int_equal(http_get(port, "/metrics", NULL, &body), 200);
	assert_non_null(
		strstr(body.data, "mysqlprobe_server_http_requests_total{code=\"403\"} 2\n"));
	buf_free(&body);
	server_free(s);

	/* A token lifts the refusal for whoever has it. */
	cfg.token = TOKEN;
	s = server_new(&cfg, &app_cb, &app);
	assert_non_null(s);
	assert_int_equal(http_get(server_port(s), "/config/update?report_period_ms=700",
				  "Bearer " TOKEN, NULL),
			 200);
	assert_int_equal(app.period_ms, 700);
	server_free(s);
}

static void test_status(void **unused)
{
	struct test_app app = {};
	struct server *s = start(&app, NULL, 5, 1234);
	struct buf body = {};

	assert_int_equal(http_get(server_port(s), "/status", NULL, &body), 200);
	assert_non_null(
		strstr(body.data, "{\"role\":\"slave\",\"report_period_ms\":1000,\"server\":{"));
	assert_non_null(strstr(body.data, "\"queue_len\":5"));
	assert_non_null(strstr(body.data, "\"max_message\":1234"));
	buf_free(&body);
	stop(s, &app);
}

static void test_metrics(void **unused)
{
	struct test_app app = {};
	struct server *s = start(&app, TOKEN, 0, 0);
	int port = server_port(s);
	struct buf body = {};
	struct wsc c;
	char want[128];

	assert_int_equal(http_get(port, "/nope", NULL, NULL), 404);
	assert_int_equal(http_get(port, "/cluster/leave", NULL, NULL), 401);
	assert_int_equal(http_get(port, "/cluster/leave", NULL, NULL), 401);
	/* With a token, /collector (reports carry SQL) needs it too. */
	wsc_connect(&c, port, "/collector");
	wsc_until(&c, &c.closed);
	assert_false(c.established);
	wsc_free(&c);
	wsc_connect_auth(&c, port, "/collector", "Bearer " TOKEN);
	wsc_until(&c, &c.established);
	stats_until(s, clients_are, 1);

	assert_int_equal(http_get(port, "/metrics", NULL, &body), 200);
	assert_non_null(strstr(body.data, "mysqlprobe_test_things_total 42\n"));
	assert_non_null(
		strstr(body.data, "mysqlprobe_server_http_requests_total{code=\"404\"} 1\n"));
	/* Two /cluster/leave and the refused upgrade, answered 401 like any request. */
	assert_non_null(
		strstr(body.data, "mysqlprobe_server_http_requests_total{code=\"401\"} 3\n"));
	assert_non_null(strstr(body.data, "mysqlprobe_server_clients 1\n"));
	assert_non_null(strstr(body.data, "mysqlprobe_server_clients_unauthorized_total 1\n"));
	snprintf(want, sizeof(want), "mysqlprobe_server_client_queue_depth{client=\"127.0.0.1:");
	assert_non_null(strstr(body.data, want));
	snprintf(want, sizeof(want),
		 "mysqlprobe_server_client_reports_dropped{client=\"127.0.0.1:");
	assert_non_null(strstr(body.data, want));
	buf_free(&body);
	wsc_free(&c);
	stop(s, &app);
}

static void test_metrics_promtool(void **unused)
{
	struct test_app app = {};
	struct server *s;
	struct buf body = {};
	char path[] = "/tmp/test_server_metrics_XXXXXX", cmd[256];
	int fd, rc;

	if (system("command -v promtool >/dev/null 2>&1")) {
		print_message("# SKIP promtool not installed (Debian package prometheus)\n");
		skip();
	}
	s = start(&app, NULL, 0, 0);
	assert_int_equal(http_get(server_port(s), "/healthz", NULL, NULL), 200);
	assert_int_equal(http_get(server_port(s), "/metrics", NULL, &body), 200);
	stop(s, &app);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, body.data, body.len), (ssize_t)body.len);
	close(fd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s >&2", path);
	rc = system(cmd);
	unlink(path);
	buf_free(&body);
	assert_int_equal(rc, 0);
}

/* Two requests on one connection (HTTP/1.1 keep-alive), the first with a body of many chunks. */
static void test_keepalive_big_body(void **unused)
{
	struct test_app app = { .big_metrics = 20000 };
	struct server *s = start(&app, NULL, 0, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(server_port(s)) };
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
				  "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	struct timeval tv = { .tv_sec = WAIT_MS / 1000 };
	uint64_t deadline = mono_ms() + WAIT_MS;
	struct buf raw = {};
	char buf[65536], *second;
	int fd, n;

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	/* A server that never closes fails the read instead of hanging the suite. */
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(write(fd, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		assert_true(mono_ms() < deadline);
		assert_int_equal(buf_append(&raw, buf, n), 0);
	}
	assert_int_equal(n, 0);
	close(fd);
	assert_int_equal(strncmp(raw.data, "HTTP/1.1 200", 12), 0);
	assert_true(raw.len > 20000 * 25);
	assert_non_null(strstr(raw.data, "mysqlprobe_test_big{n=\"19999\"} 19999\n"));
	second = strstr(raw.data,
			"mysqlprobe_server_http_requests_total{code=\"other\"} 0\nHTTP/1.1 200");
	assert_non_null(second);
	assert_int_equal(strcmp(raw.data + raw.len - 4, "\r\nok"), 0);
	buf_free(&raw);
	stop(s, &app);
}

/* Writes req on a new connection and reads until the server closes (fails after WAIT_MS). */
static void raw_exchange(int port, const char *req, size_t len, struct buf *raw)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = WAIT_MS / 1000 };
	uint64_t deadline = mono_ms() + WAIT_MS;
	char buf[16384];
	int fd, n;

	memset(raw, 0, sizeof(*raw));
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(write(fd, req, len), (ssize_t)len);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		assert_true(mono_ms() < deadline);
		assert_int_equal(buf_append(raw, buf, n), 0);
	}
	assert_int_equal(n, 0); /* closed by the server, not timed out */
	close(fd);
	assert_non_null(raw->data);
}

/*
 * A GET with a body (every route takes its parameters in the query): 413 with a reason, the
 * connection closed, nothing leaked (the ASan build's LeakSanitizer checks at exit) — before,
 * such a request got headers and never a body, and leaked its response buffer.
 */
static void test_request_body(void **unused)
{
	static const char *const reqs[] = {
		"GET /status HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nZ",
		"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\nabc",
		"GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nZ\r\n",
	};
	static const char zero[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
				   "Connection: close\r\n\r\n";
	struct test_app app = {};
	struct server *s = start(&app, NULL, 0, 0);
	struct buf raw, body = {};
	int i;

	for (i = 0; i < 300; i++) {
		raw_exchange(server_port(s), reqs[i % 3], strlen(reqs[i % 3]), &raw);
		if (strncmp(raw.data, "HTTP/1.1 413", 12) ||
		    !strstr(raw.data, "{\"error\":\"request bodies are not accepted\"}\n"))
			fail_msg("request %d: %s", i % 3, raw.data);
		buf_free(&raw);
	}
	/* An empty body is no body. */
	raw_exchange(server_port(s), zero, sizeof(zero) - 1, &raw);
	assert_int_equal(strncmp(raw.data, "HTTP/1.1 200", 12), 0);
	buf_free(&raw);
	assert_int_equal(http_get(server_port(s), "/metrics", NULL, &body), 200);
	assert_non_null(
		strstr(body.data, "mysqlprobe_server_http_requests_total{code=\"413\"} 300\n"));
	buf_free(&body);
	stop(s, &app);
}

static void post_raw(int port, const char *auth, const char *body, size_t len, struct buf *raw)
{
	struct buf req = {};

	assert_int_equal(buf_printf(&req,
				    "POST /enrich/update HTTP/1.1\r\nHost: x\r\n%s%s%s"
				    "Content-Length: %zu\r\nConnection: close\r\n\r\n",
				    auth ? "Authorization: " : "", auth ? auth : "", auth ? "\r\n" : "",
				    len), 0);
	assert_int_equal(buf_append(&req, body, len), 0);
	raw_exchange(port, req.data, req.len, raw);
	buf_free(&req);
}

/*
 * POST /enrich/update, the one route with a body: the token is checked before the body is
 * read, a body in several reads arrives whole, a refused body is a 400 with the reason, GET
 * is a 405 naming POST, and other routes still refuse bodies.
 */
static void test_post_body(void **unused)
{
	struct test_app app = {};
	struct server *s = start(&app, TOKEN, 0, 0);
	struct buf raw;
	char *big;
	size_t n = 200000;

	post_raw(server_port(s), NULL, "10.0.0.0/8 a\n", 13, &raw);
	assert_int_equal(strncmp(raw.data, "HTTP/1.1 401", 12), 0);
	buf_free(&raw);
	post_raw(server_port(s), "Bearer " TOKEN, "10.0.0.0/8 a\n", 13, &raw);
	if (strncmp(raw.data, "HTTP/1.1 200", 12) || !strstr(raw.data, "{\"prefixes\":13}"))
		fail_msg("%s", raw.data);
	assert_string_equal(enrich_got, "10.0.0.0/8 a\n");
	buf_free(&raw);
	/* A body larger than lws's read size comes in pieces. */
	big = malloc(n);
	assert_non_null(big);
	memset(big, 'x', n);
	post_raw(server_port(s), "Bearer " TOKEN, big, n, &raw);
	assert_int_equal(strncmp(raw.data, "HTTP/1.1 200", 12), 0);
	assert_int_equal(enrich_len, n);
	buf_free(&raw);
	free(big);
	post_raw(server_port(s), "Bearer " TOKEN, "ok\nbad\n", 7, &raw);
	if (strncmp(raw.data, "HTTP/1.1 400", 12) ||
	    !strstr(raw.data, "{\"error\":\"body:2: bad CIDR 'bad'\"}"))
		fail_msg("%s", raw.data);
	buf_free(&raw);
	/* Over 16 MiB announced: 413 before a byte is read. */
	{
		static const char req[] = "POST /enrich/update HTTP/1.1\r\nHost: x\r\n"
					  "Authorization: Bearer " TOKEN "\r\n"
					  "Content-Length: 99999999\r\n\r\nabc";

		raw_exchange(server_port(s), req, sizeof(req) - 1, &raw);
		assert_int_equal(strncmp(raw.data, "HTTP/1.1 413", 12), 0);
		buf_free(&raw);
	}
	{
		struct http_reply rep;

		http_req(server_port(s), "GET", "/enrich/update", "Bearer " TOKEN, &rep);
		assert_int_equal(rep.status, 405);
		assert_non_null(strstr(rep.head, "allow: POST"));
		buf_free(&rep.body);
	}
	{
		static const char req[] = "POST /status HTTP/1.1\r\nHost: x\r\n"
					  "Content-Length: 1\r\n\r\nZ";

		raw_exchange(server_port(s), req, sizeof(req) - 1, &raw);
		assert_int_equal(strncmp(raw.data, "HTTP/1.1 413", 12), 0);
		buf_free(&raw);
	}
	stop(s, &app);
}

static void test_ws_snappy_and_json(void **unused)
{
	/* Bigger than one lws_write fragment and than a socket usually takes at once. */
	static const size_t pads[] = { 10, 300 * 1024, 0 };
	struct test_app app = {};
	struct server *s = start(&app, NULL, 0, 0);
	struct wsc bin, txt;
	unsigned i;

	wsc_connect(&bin, server_port(s), "/collector");
	wsc_connect(&txt, server_port(s), "/collector?format=json");
	wsc_until(&bin, &bin.established);
	wsc_until(&txt, &txt.established);
	stats_until(s, clients_are, 2);
	assert_int_equal(app.opens, 2);
	assert_int_equal(app.opens_json, 1);

	for (i = 0; i < 3; i++)
		publish_app(&app, i, pads[i]);
	wsc_until_msgs(&bin, 3);
	wsc_until_msgs(&txt, 3);
	assert_int_equal(server_flush(s, WAIT_MS), 0);
	assert_int_equal(app.renders, 6);
	for (i = 0; i < 3; i++) {
		assert_true(bin.binary[i]);
		expect_snappy(&bin.msgs[i], i, pads[i]);
		assert_false(txt.binary[i]);
		expect_text(&txt.msgs[i], i, pads[i], 1);
	}

	stop(s, &app);
	assert_int_equal(app.closes, 2);
	wsc_until(&bin, &bin.closed);
	wsc_until(&txt, &txt.closed);
	wsc_free(&bin);
	wsc_free(&txt);
}

static void test_ws_refused(void **unused)
{
	struct test_app app = {};
	struct server *s = start(&app, NULL, 0, 0);
	struct wsc a, b;

	wsc_connect(&a, server_port(s), "/elsewhere");
	wsc_connect(&b, server_port(s), "/collector?format=xml");
	wsc_until(&a, &a.closed);
	wsc_until(&b, &b.closed);
	assert_false(a.established);
	assert_false(b.established);
	assert_int_equal(app.opens, 0);
	wsc_free(&a);
	wsc_free(&b);
	stop(s, &app);
}

static void test_too_large(void **unused)
{
	struct test_app app = {};
	struct server *s = start(&app, NULL, 0, 4096);
	struct server_stats st;
	struct wsc c;

	wsc_connect(&c, server_port(s), "/collector?format=json");
	wsc_until(&c, &c.established);
	stats_until(s, clients_are, 1);
	publish_app(&app, 0, 8192);
	publish_app(&app, 1, 100);
	wsc_until_msgs(&c, 1);
	assert_int_equal(server_flush(s, WAIT_MS), 0);
	server_get_stats(s, &st);
	assert_int_equal(st.messages_too_large, 1);
	assert_int_equal(st.messages_sent, 1);
	/* The client never got the first report: the next says so. */
	expect_text_lost(&c.msgs[0], 1, 100, 1, 1);
	stop(s, &app);
	assert_int_equal(c.nmsgs, 1);
	wsc_free(&c);
}

static void test_render_error_counted(void **unused)
{
	struct test_app app = { .fail_render = 1 };
	struct server *s = start(&app, NULL, 0, 0);
	struct server_stats st;
	struct wsc c;

	wsc_connect(&c, server_port(s), "/collector");
	wsc_until(&c, &c.established);
	stats_until(s, clients_are, 1);
	publish_app(&app, 0, 10);
	assert_int_equal(server_flush(s, WAIT_MS), 0);
	server_get_stats(s, &st);
	assert_int_equal(st.render_errors, 1);
	assert_int_equal(st.messages_sent, 0);
	/* The client never got report 1: the next one it gets says so. */
	app.fail_render = 0;
	publish_app(&app, 1, 10);
	wsc_until_msgs(&c, 1);
	expect_snappy_lost(&c.msgs[0], 1, 10, 1);
	stop(s, &app);
	assert_int_equal(frees, 2);
	wsc_free(&c);
}

/*
 * A client that stops reading (never serviced) neither slows publishing nor the other client,
 * and stays connected: it loses reports, counted by the bus, and is told how many when it reads
 * again. Every report is accounted for: received by it or counted in a lost.
 */
static void test_slow_client_loses_reports(void **unused)
{
	enum { N = 100, Q = 2 };
	struct test_app app = {};
	struct server *s = start(&app, NULL, Q, 0);
	unsigned long long got = 0, lost = 0;
	struct bus_stats bs;
	uint64_t worst = 0;
	struct wsc slow, fast;
	unsigned i, last = 0;

	wsc_connect(&slow, server_port(s), "/collector");
	wsc_until(&slow, &slow.established);
	wsc_connect(&fast, server_port(s), "/collector?format=json");
	wsc_until(&fast, &fast.established);
	stats_until(s, clients_are, 2);

	/* slow is never serviced from here: kernel buffers fill, then it lags its queue. */
	for (i = 0; i < N; i++) {
		uint64_t t0 = mono_ms(), dt;

		publish_app(&app, i, 256 * 1024);
		dt = mono_ms() - t0;
		worst = dt > worst ? dt : worst;
		/* The fast client keeps up: it gets every report, nothing lost. */
		wsc_until_msgs(&fast, 1);
		expect_text(&fast.msgs[0], i, 256 * 1024, 1);
		buf_free(&fast.msgs[0]);
		fast.nmsgs = 0;
	}
	print_message("# slowest publish %llu ms\n", (unsigned long long)worst);
	bus_get_stats(app.bus, &bs);
	assert_string_equal(bs.kinds[0].kind, "collector");
	print_message("# slow client: %llu reports lost while stuck\n",
		      (unsigned long long)bs.kinds[0].dropped);
	/*
	 * Publishing only appends to the bus, it never waits for a client: the stuck client lost
	 * reports instead (a bus that waited would lose none, and the loop above would hang). Not
	 * a time bound: a loaded machine can stall any call for a second.
	 */
	assert_true(bs.kinds[0].dropped > 0);
	/* Taken from the bus by both (rendered) + lost + still waiting == published, twice. */
	assert_int_equal(bs.kinds[0].delivered + bs.kinds[0].dropped, N + N - Q);
	assert_false(slow.closed);

	/* Reading again, the slow client gets what it holds and the newest Q, told what it lost. */
	while (last != N - 1) {
		wsc_until_msgs(&slow, 1);
		for (int k = 0; k < slow.nmsgs; k++) {
			struct buf plain = {};
			unsigned seq;
			unsigned long long l;
			size_t n;

			assert_int_equal(snappy_uncompressed_length(slow.msgs[k].data,
								    slow.msgs[k].len, &n),
					 SNAPPY_OK);
			assert_int_equal(buf_reserve(&plain, n + 1), 0);
			assert_int_equal(snappy_uncompress(slow.msgs[k].data, slow.msgs[k].len,
							   plain.data, &n),
					 SNAPPY_OK);
			plain.data[n] = '\0';
			l = 0;
			if (sscanf(plain.data, "{\"lost\":%llu,\"seq\":%u", &l, &seq) != 2)
				assert_int_equal(sscanf(plain.data, "{\"seq\":%u", &seq), 1);
			got++;
			lost += l;
			last = seq;
			buf_free(&plain);
			buf_free(&slow.msgs[k]);
		}
		slow.nmsgs = 0;
	}
	print_message("# slow client: received %llu, told %llu lost\n", got, lost);
	assert_int_equal(got + lost, N);
	bus_get_stats(app.bus, &bs);
	assert_int_equal(lost, bs.kinds[0].dropped);
	assert_false(fast.closed);
	stop(s, &app);
	wsc_free(&slow);
	wsc_free(&fast);
}

/* since=SEQ: the buffered reports after SEQ, then live, with no gap or duplicate at the seam. */
static void test_since_replay(void **unused)
{
	struct test_app app = {};
	struct server *s = start(&app, NULL, 0, 0);
	struct buf body = {};
	struct wsc c, old;
	unsigned i;

	for (i = 0; i < 8; i++) /* bus seqs 1..8; the history keeps 5..8 */
		publish_app(&app, i, 10);
	wsc_connect(&c, server_port(s), "/collector?format=json&since=6");
	wsc_until_msgs(&c, 2);
	expect_text(&c.msgs[0], 6, 10, 1); /* bus seq 7 */
	expect_text(&c.msgs[1], 7, 10, 1);
	publish_app(&app, 8, 10);
	wsc_until_msgs(&c, 3);
	expect_text(&c.msgs[2], 8, 10, 1);
	/* Older than the buffer: what it holds, the first saying how many are gone. */
	wsc_connect(&old, server_port(s), "/collector?format=json&since=2");
	wsc_until_msgs(&old, HISTORY);
	expect_text_lost(&old.msgs[0], 5, 10, 1, 3); /* seqs 3, 4, 5 are gone */
	for (i = 1; i < HISTORY; i++)
		expect_text(&old.msgs[i], 5 + i, 10, 1);
	assert_int_equal(server_flush(s, WAIT_MS), 0);
	assert_int_equal(c.nmsgs, 3);

	/* Bad values: 400 with the reason, before any upgrade. */
	assert_int_equal(ws_upgrade_refused(server_port(s), "/collector?since=abc", &body), 400);
	assert_non_null(strstr(body.data, "since: must be a decimal report seq"));
	buf_free(&body);
	assert_int_equal(ws_upgrade_refused(server_port(s), "/collector?since=-1", &body), 400);
	buf_free(&body);
	assert_int_equal(
		ws_upgrade_refused(server_port(s), "/collector?since=99999999999999999999", &body),
		400);
	assert_non_null(strstr(body.data, "since: too large"));
	buf_free(&body);
	assert_int_equal(ws_upgrade_refused(server_port(s), "/collector?since=1&since=2", &body),
			 400);
	assert_non_null(strstr(body.data, "more than once"));
	buf_free(&body);
	assert_int_equal(ws_upgrade_refused(server_port(s), "/collector?format=xml", &body), 400);
	assert_non_null(strstr(body.data, "format: must be snappy or json"));
	buf_free(&body);
	stop(s, &app);
	wsc_free(&c);
	wsc_free(&old);
}

static void test_listen_errors(void **unused)
{
	struct test_app app = {};
	struct server *s = start(&app, NULL, 0, 0);
	struct server_config cfg = { .bind = "127.0.0.1", .port = server_port(s) };
	struct server *s2;

	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6,
				   .sin6_port = htons(server_port(s)),
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd;

	errno = 0;
	s2 = server_new(&cfg, &app_cb, &app);
	assert_null(s2);
	assert_int_equal(errno, EADDRINUSE);

	/* Bound to 127.0.0.1 means not listening on ::1 (lws would widen it to every address). */
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	if (fd >= 0) {
		assert_int_not_equal(connect(fd, (struct sockaddr *)&a6, sizeof(a6)), 0);
		close(fd);
	}
	stop(s, &app);

	/* TEST-NET-1 (RFC 5737) is on no interface here. */
	cfg.bind = "192.0.2.1";
	cfg.port = 0;
	errno = 0;
	assert_null(server_new(&cfg, &app_cb, &app));
	assert_int_equal(errno, EADDRNOTAVAIL);
}

static void test_publish_without_clients(void **unused)
{
	struct test_app app = {};
	struct server *s = start(&app, NULL, 1, 0);
	unsigned i;

	/* Nobody renders; the bus keeps its history and frees the rest at once. */
	for (i = 0; i < 50; i++)
		publish_app(&app, i, 10);
	assert_int_equal(server_flush(s, WAIT_MS), 0);
	assert_int_equal(frees, 50 - HISTORY);
	assert_int_equal(app.renders, 0);
	stop(s, &app);
	assert_int_equal(frees, 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_healthz_404_405),
		cmocka_unit_test(test_config_update),
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_exposed_without_token),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_metrics_promtool),
		cmocka_unit_test(test_keepalive_big_body),
		cmocka_unit_test(test_request_body),
		cmocka_unit_test(test_post_body),
		cmocka_unit_test(test_ws_snappy_and_json),
		cmocka_unit_test(test_ws_refused),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_render_error_counted),
		cmocka_unit_test(test_slow_client_loses_reports),
		cmocka_unit_test(test_since_replay),
		cmocka_unit_test(test_listen_errors),
		cmocka_unit_test(test_publish_without_clients),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
