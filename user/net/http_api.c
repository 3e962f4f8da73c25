// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The HTTP control API: route table, parameter validation and response bodies (no sockets). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "net/http_api.h"

/* Parameter names echoed back in errors are cut here so a hostile URI cannot grow a body. */
#define HTTP_API_NAME_ECHO_MAX 64

/*
 * Who may call a route. /healthz and /metrics (numbers only: liveness probes and Prometheus)
 * are open; whatever shows SQL or settings (/status, /collector) needs the token when one is
 * set; whatever changes state needs it too, and is refused outright on a port reachable from
 * the network when no token is set (a DBA's agent must not be reconfigured by anyone who can
 * reach it).
 */
enum route_flags {
	ROUTE_PRIVATE = 1, /* needs the bearer token when one is configured */
	ROUTE_CHANGES = 2, /* changes state: as PRIVATE, and refused when exposed without a token */
	ROUTE_POST = 4, /* POST with a body, not GET */
};

typedef int (*route_fn)(const struct http_api *api, const struct http_request *req,
			struct buf *body, const char **type);

struct route {
	const char *path;
	unsigned flags;
	route_fn fn;
};

void http_api_split_arg(char *frag, struct http_arg *out)
{
	char *eq = strchr(frag, '=');

	out->name = frag;
	out->value = NULL;
	if (eq) {
		*eq = '\0';
		out->value = eq + 1;
	}
}

int http_api_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	uint64_t v = 0;
	size_t i;

	if (!s || !*s)
		return -EINVAL;
	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		/* Keep scanning for non-digits so "99999999999x" is -EINVAL, not -ERANGE. */
		if (v <= UINT32_MAX)
			v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v < min || v > max)
		return -ERANGE;
	*out = (unsigned)v;
	return 0;
}

int http_api_token_ok(const char *authorization, const char *token)
{
	static const char prefix[] = "Bearer ";
	size_t plen = sizeof(prefix) - 1, tlen = strlen(token), alen, i;
	unsigned char diff;

	if (!authorization)
		return 0;
	alen = strlen(authorization);
	/* Touch every byte of the expected value whatever the input, so timing leaks no prefix. */
	diff = (unsigned char)(alen != plen + tlen);
	for (i = 0; i < plen + tlen; i++) {
		unsigned char want =
			i < plen ? (unsigned char)prefix[i] : (unsigned char)token[i - plen];
		unsigned char got = i < alen ? (unsigned char)authorization[i] : 0;

		diff |= want ^ got;
	}
	return diff == 0;
}

/* Appends s JSON-escaped without quotes, cut after max_len bytes ("..." marks the cut). */
static int json_escape(struct buf *out, const char *s, size_t max_len)
{
	size_t i;
	int err = 0;

	for (i = 0; !err && s[i] && i < max_len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			err = buf_printf(out, "\\%c", c);
		else if (c < 0x20)
			err = buf_printf(out, "\\u%04x", c);
		else if (c >= 0x80)
			err = buf_puts(out, "?"); /* keeps the body valid UTF-8 */
		else
			err = buf_append(out, &s[i], 1);
	}
	if (!err && s[i])
		err = buf_puts(out, "...");
	return err;
}

int http_api_json_str(struct buf *out, const char *s, size_t max_len)
{
	int err = buf_puts(out, "\"");

	if (!err)
		err = json_escape(out, s, max_len);
	return err ? err : buf_puts(out, "\"");
}

/* Appends {"error":"<what>: <why>"}; what may come from the client and is escaped and cut. */
static int http_error(struct buf *body, const char **type, int code, const char *what,
		      const char *why)
{
	int err = buf_puts(body, "{\"error\":\"");

	*type = HTTP_API_JSON;
	if (!err && what) {
		err = json_escape(body, what, HTTP_API_NAME_ECHO_MAX);
		if (!err)
			err = buf_puts(body, ": ");
	}
	if (!err)
		err = json_escape(body, why, SIZE_MAX);
	if (!err)
		err = buf_puts(body, "\"}\n");
	return err ? err : code;
}

/* Finds a parameter; any parameter not listed in allowed makes the request a 400. */
static int http_args_check(const struct http_request *req, const char *const *allowed,
			   struct buf *body, const char **type)
{
	size_t i, j;

	if (req->nargs > HTTP_API_MAX_ARGS)
		return http_error(body, type, 400, NULL, "too many parameters");
	for (i = 0; i < req->nargs; i++) {
		for (j = 0; allowed[j]; j++)
			if (!strcmp(req->args[i].name, allowed[j]))
				break;
		if (!allowed[j])
			return http_error(body, type, 400, req->args[i].name, "unknown parameter");
		/* A repeated parameter is ambiguous: which one would we apply? */
		for (j = 0; j < i; j++)
			if (!strcmp(req->args[i].name, req->args[j].name))
				return http_error(body, type, 400, req->args[i].name,
						  "given more than once");
	}
	return 0;
}

static const char *http_arg_get(const struct http_request *req, const char *name, int *present)
{
	size_t i;

	*present = 0;
	for (i = 0; i < req->nargs; i++) {
		if (!strcmp(req->args[i].name, name)) {
			*present = 1;
			return req->args[i].value;
		}
	}
	return NULL;
}

static int route_config_update(const struct http_api *api, const struct http_request *req,
			       struct buf *body, const char **type)
{
	static const char *const allowed[] = { "report_period_ms", NULL };
	const char *v;
	unsigned ms;
	int present, ret;

	ret = http_args_check(req, allowed, body, type);
	if (ret)
		return ret;
	v = http_arg_get(req, "report_period_ms", &present);
	if (!present)
		return http_error(body, type, 400, "report_period_ms", "missing");
	ret = http_api_parse_uint(v, HTTP_API_PERIOD_MIN_MS, HTTP_API_PERIOD_MAX_MS, &ms);
	if (ret == -EINVAL)
		return http_error(body, type, 400, "report_period_ms",
				  "must be a decimal integer (milliseconds)");
	if (ret)
		return http_error(body, type, 400, "report_period_ms",
				  "must be between 100 and 3600000");
	if (!api->set_report_period_ms)
		return http_error(body, type, 409, "report_period_ms", "not settable in this role");
	ret = api->set_report_period_ms(api->ctx, ms);
	if (ret)
		return http_error(body, type, 500, "report_period_ms", strerror(-ret));
	*type = HTTP_API_JSON;
	ret = buf_printf(body, "{\"report_period_ms\":%u}\n", ms);
	return ret ? ret : 200;
}

static int cluster_call(const struct http_api *api, const struct http_request *req,
			struct buf *body, const char **type, enum http_cluster_op op)
{
	static const char *const with_addr[] = { "addr", NULL }, *const none[] = { NULL };
	bool wants_addr = op == HTTP_CLUSTER_JOIN || op == HTTP_CLUSTER_REMOVE;
	const char *addr = NULL;
	int present, ret;

	ret = http_args_check(req, wants_addr ? with_addr : none, body, type);
	if (ret)
		return ret;
	if (wants_addr) {
		addr = http_arg_get(req, "addr", &present);
		if (!present || !addr || !*addr)
			return http_error(body, type, 400, "addr", "missing (expected HOST:PORT)");
	}
	if (!api->cluster)
		return http_error(body, type, 409, NULL, "this node is not in a cluster");
	*type = HTTP_API_JSON;
	ret = api->cluster(api->ctx, op, addr, body);
	/* The role said why in its own words; a bare failure still gets a JSON body. */
	if (ret < 0)
		return http_error(body, type, 500, NULL, strerror(-ret));
	return ret;
}

static int route_cluster_join(const struct http_api *api, const struct http_request *req,
			      struct buf *body, const char **type)
{
	return cluster_call(api, req, body, type, HTTP_CLUSTER_JOIN);
}

static int route_cluster_remove(const struct http_api *api, const struct http_request *req,
				struct buf *body, const char **type)
{
	return cluster_call(api, req, body, type, HTTP_CLUSTER_REMOVE);
}

static int route_cluster_leave(const struct http_api *api, const struct http_request *req,
			       struct buf *body, const char **type)
{
	return cluster_call(api, req, body, type, HTTP_CLUSTER_LEAVE);
}

static int route_cluster_list(const struct http_api *api, const struct http_request *req,
			      struct buf *body, const char **type)
{
	return cluster_call(api, req, body, type, HTTP_CLUSTER_LIST);
}

static int route_metrics(const struct http_api *api, const struct http_request *req,
			 struct buf *body, const char **type)
{
	static const char *const allowed[] = { NULL };
	int ret = http_args_check(req, allowed, body, type);

	if (ret)
		return ret;
	*type = HTTP_API_PROMETHEUS;
	ret = api->metrics ? api->metrics(api->ctx, body) : 0;
	return ret ? ret : 200;
}

static int route_healthz(const struct http_api *api, const struct http_request *req,
			 struct buf *body, const char **type)
{
	int ret;

	*type = HTTP_API_TEXT;
	/* 503 with the reason while the agent runs but cannot see everything it should. */
	ret = api->health ? api->health(api->ctx, body) : 0;
	if (ret)
		return ret < 0 ? ret : 503;
	ret = buf_puts(body, "ok");
	return ret ? ret : 200;
}

static int route_status(const struct http_api *api, const struct http_request *req,
			struct buf *body, const char **type)
{
	int ret;

	*type = HTTP_API_JSON;
	ret = buf_puts(body, "{");
	if (!ret && api->status)
		ret = api->status(api->ctx, body);
	if (!ret)
		ret = buf_puts(body, "}\n");
	return ret ? ret : 200;
}

/* A plain GET of the websocket endpoint: tell the client what it forgot. */
static int route_collector(const struct http_api *api, const struct http_request *req,
			   struct buf *body, const char **type)
{
	return http_error(body, type, 426, NULL, "/collector needs a websocket upgrade");
}

/* Digits only, at most UINT64_MAX. Returns 0, -EINVAL or -ERANGE. */
static int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	int range = 0;
	size_t i;

	if (!s || !*s)
		return -EINVAL;
	for (i = 0; s[i]; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - d) / 10)
			range = 1;
		else
			v = v * 10 + d;
	}
	if (range)
		return -ERANGE;
	*out = v;
	return 0;
}

int http_api_collector_params(const struct http_request *req, struct http_collector_params *out,
			      struct buf *body)
{
	static const char *const allowed[] = { "format", "since", "started", "token", "term",
					       NULL };
	const char *type;
	size_t i;
	int ret = http_args_check(req, allowed, body, &type);

	memset(out, 0, sizeof(*out));
	if (ret)
		return ret;
	for (i = 0; i < req->nargs; i++) {
		const char *v = req->args[i].value;

		if (!strcmp(req->args[i].name, "format")) {
			if (v && !strcmp(v, "json"))
				out->json = 1;
			else if (!v || strcmp(v, "snappy"))
				return http_error(body, &type, 400, "format",
						  "must be snappy or json");
			continue;
		}
		if (!strcmp(req->args[i].name, "started")) {
			ret = parse_u64(v, &out->started);
			if (ret)
				return http_error(body, &type, 400, "started",
						  ret == -ERANGE ? "too large (at most 18446744073709551615)"
								 : "must be decimal milliseconds");
			out->has_started = 1;
			continue;
		}
		if (!strcmp(req->args[i].name, "token")) {
			out->token = v ? v : "";
			continue;
		}
		if (!strcmp(req->args[i].name, "term")) {
			ret = parse_u64(v, &out->term);
			if (ret || !out->term)
				return http_error(body, &type, 400, "term",
						  "must be a gossip term (1 to 18446744073709551615)");
			out->has_term = 1;
			continue;
		}
		ret = parse_u64(v, &out->since);
		if (ret)
			return http_error(body, &type, 400, "since",
					  ret == -ERANGE ? "too large (at most 18446744073709551615)"
							 : "must be a decimal report seq");
		out->has_since = 1;
	}
	if (out->has_started && !out->has_since)
		return http_error(body, &type, 400, "started", "only with since=");
	return 0;
}

/*
 * POST /enrich/update: the body patches the mapping in force (lines "CIDR APP", "CIDR -"
 * removes a prefix); the new mapping applies from the next period. 400 names the line.
 */
static int route_enrich_update(const struct http_api *api, const struct http_request *req,
			       struct buf *body, const char **type)
{
	static const char *const allowed[] = { NULL };
	struct buf out = { 0 };
	int ret = http_args_check(req, allowed, body, type);

	if (ret)
		return ret;
	if (!api->enrich_update)
		return http_error(body, type, 409, NULL, "enrichment is not available in this role");
	ret = api->enrich_update(api->ctx, req->body ? req->body : "", req->body ? req->body_len : 0,
				 &out);
	if (ret == -EINVAL || ret == -E2BIG) {
		ret = buf_reserve(&out, 1) ?: http_error(body, type, 400, NULL, out.data);
	} else if (ret) {
		ret = http_error(body, type, 500, NULL, strerror(-ret));
	} else {
		*type = HTTP_API_JSON;
		ret = buf_puts(body, "{") ?: buf_append(body, out.data, out.len) ?:
			buf_puts(body, "}\n") ?: 200;
	}
	buf_free(&out);
	return ret;
}

/* A new endpoint is one line here. */
static const struct route routes[] = {
	{ "/config/update", ROUTE_CHANGES, route_config_update },
	{ "/cluster/join", ROUTE_CHANGES, route_cluster_join },
	{ "/cluster/leave", ROUTE_CHANGES, route_cluster_leave },
	{ "/cluster/listnodes", ROUTE_PRIVATE, route_cluster_list },
	{ "/cluster/remove", ROUTE_CHANGES, route_cluster_remove },
	{ "/metrics", 0, route_metrics },
	{ "/healthz", 0, route_healthz },
	{ "/status", ROUTE_PRIVATE, route_status },
	{ "/collector", ROUTE_PRIVATE, route_collector },
	{ "/enrich/update", ROUTE_CHANGES | ROUTE_POST, route_enrich_update },
};

static const struct route *route_find(const char *path)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (!strcmp(path, routes[i].path))
			return &routes[i];
	return NULL;
}

bool http_api_takes_body(const char *path)
{
	const struct route *r = route_find(path);

	return r && (r->flags & ROUTE_POST);
}

/* Method, token and exposure: 0 when the route may run, else the status with its body. */
static int route_allowed(const struct http_api *api, const struct route *r,
			 const struct http_request *req, struct buf *body, const char **type)
{
	if ((r->flags & ROUTE_POST) && !req->is_post)
		return http_error(body, type, 405, NULL, "only POST is allowed");
	if (!(r->flags & ROUTE_POST) && !req->is_get)
		return http_error(body, type, 405, NULL, "only GET is allowed");
	if (r->flags && api->token && *api->token &&
	    !http_api_token_ok(req->authorization, api->token))
		return http_error(body, type, 401, NULL, "missing or wrong bearer token");
	if ((r->flags & ROUTE_CHANGES) && !(api->token && *api->token) && api->exposed)
		return http_error(body, type, 403, NULL,
				  "http.token is not set: endpoints that change state are refused "
				  "while http.bind reaches beyond loopback");
	return 0;
}

int http_api_body_check(const struct http_api *api, const struct http_request *req,
			struct buf *body, const char **content_type)
{
	static const char *const none[] = { NULL };
	const struct route *r = route_find(req->path);
	int ret;

	if (!r || !(r->flags & ROUTE_POST))
		return http_error(body, content_type, 404, NULL, "no such endpoint");
	ret = route_allowed(api, r, req, body, content_type);
	return ret ?: http_args_check(req, none, body, content_type);
}

int http_api_handle(const struct http_api *api, const struct http_request *req, struct buf *body,
		    const char **content_type)
{
	const struct route *r = route_find(req->path);
	int ret;

	if (!r)
		return http_error(body, content_type, 404, NULL, "no such endpoint");
	ret = route_allowed(api, r, req, body, content_type);
	return ret ?: r->fn(api, req, body, content_type);
}
