/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The HTTP control API: route table, parameter validation and response bodies (no sockets). */
#ifndef MP_HTTP_API_H
#define MP_HTTP_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/* Bounds of report_period_ms accepted by /config/update (100 ms .. 1 hour). */
#define HTTP_API_PERIOD_MIN_MS 100u
#define HTTP_API_PERIOD_MAX_MS 3600000u
/* More query parameters than this is a bad request: no route takes more than one. */
#define HTTP_API_MAX_ARGS 16

/* One decoded query parameter; value is NULL when the fragment had no '='. */
struct http_arg {
	const char *name;
	const char *value;
};

/* Largest request body a route that takes one (POST /enrich/update) accepts. */
#define HTTP_API_BODY_MAX (16u << 20)

/* One request as the transport decoded it; strings are NUL-terminated and borrowed. */
struct http_request {
	const char *path; /* without the query string */
	int is_get; /* 1 for GET, 0 for any other method */
	int is_post; /* 1 for POST */
	const char *body; /* POST: the whole body (not NUL-terminated), or NULL */
	size_t body_len;
	const struct http_arg *args;
	size_t nargs;
	const char *authorization; /* value of the Authorization header, or NULL */
};

/* The /cluster/... calls a role may serve. */
enum http_cluster_op {
	HTTP_CLUSTER_JOIN, /* addr given */
	HTTP_CLUSTER_REMOVE, /* addr given */
	HTTP_CLUSTER_LEAVE,
	HTTP_CLUSTER_LIST,
};

/*
 * What the API needs from the rest of the program. Each callback appends to out; a NULL
 * callback means "not available". Return 0 or -errno.
 * status() appends JSON object members without braces (e.g. "\"a\":1,\"b\":2") or nothing.
 */
struct http_api {
	const char *token; /* NULL or "" disables authentication */
	bool exposed; /* bound beyond loopback: without a token, state changes are refused */
	void *ctx;
	int (*set_report_period_ms)(void *ctx, unsigned ms);
	int (*metrics)(void *ctx, struct buf *out);
	int (*status)(void *ctx, struct buf *out);
	/* 0 healthy; > 0 unhealthy, with the reason appended to why; -errno. */
	int (*health)(void *ctx, struct buf *why);
	/*
	 * A cluster call: appends the JSON body and returns the HTTP status (200, 400 for a bad
	 * address, 404 for an unknown one, 409 where the role does not allow the call) or -errno.
	 * addr is NULL for leave and list. NULL callback: every call is 409.
	 */
	int (*cluster)(void *ctx, enum http_cluster_op op, const char *addr, struct buf *body);
	/*
	 * POST /enrich/update: patches the IP -> application mapping with body (report/enrich.h's
	 * line format). Returns 0 with JSON object members appended to out, -EINVAL with the
	 * reason (plain text) in out, or another -errno. NULL: 409.
	 */
	int (*enrich_update)(void *ctx, const char *body, size_t len, struct buf *out);
};

/* Media types of the bodies http_api_handle() produces. */
#define HTTP_API_JSON "application/json"
#define HTTP_API_TEXT "text/plain; charset=utf-8"
#define HTTP_API_PROMETHEUS "text/plain; version=0.0.4; charset=utf-8"

/*
 * Serves one request: appends the response body to body and sets *content_type.
 * Returns the HTTP status code (200, 400, 401, 403, 404, 405, 409, 426 or 500); errors carry a JSON
 * body {"error":"..."} naming the parameter and the reason. Returns -ENOMEM when the body could
 * not be built (the transport then answers 500 without a body).
 */
int http_api_handle(const struct http_api *api, const struct http_request *req, struct buf *body,
		    const char **content_type);

/*
 * Whether path is a route that takes a request body (POST). The transport reads the body of
 * such a request only after http_api_body_check() allowed it; any other body is refused.
 */
bool http_api_takes_body(const char *path);
/*
 * Before a body is read: method, token and query of a body route (req->body NULL). Returns 0
 * when the body may be read, or the status code with the error in body (as http_api_handle).
 */
int http_api_body_check(const struct http_api *api, const struct http_request *req,
			struct buf *body, const char **content_type);
/*
 * Splits a decoded "name=value" query fragment in place (the '=' becomes NUL).
 * A fragment without '=' gives value NULL.
 */
void http_api_split_arg(char *frag, struct http_arg *out);

/*
 * Parses a decimal integer made only of digits (no sign, space or trailing bytes) and checks
 * min <= value <= max. Returns 0, -EINVAL (empty or not a plain integer) or -ERANGE.
 */
int http_api_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out);

/* What a /collector client asked for in its upgrade request. */
struct http_collector_params {
	int json; /* format=json: text frames of plain JSON; default (format=snappy): binary */
	int has_since; /* since=SEQ given: replay the buffered reports after SEQ first */
	uint64_t since;
	/*
	 * started=MS: the started_ms of the report SEQ came from. When it is not this run's, SEQ
	 * belongs to an earlier run and the replay starts from the oldest report held.
	 */
	int has_started;
	uint64_t started;
	/*
	 * token=T: the bearer token for a client that cannot send headers (a browser's WebSocket
	 * cannot). Borrowed from the request; never logged nor echoed. NULL when absent.
	 */
	const char *token;
	/*
	 * term=T: a gossip master pulling as the leader of term T. A slave that knows a higher
	 * term refuses it (409), and closes the stream once it learns of one.
	 */
	int has_term;
	uint64_t term;
};

/*
 * Validates the query of a /collector upgrade (format=snappy|json, since=SEQ, started=MS,
 * token=T, term=T, each at most once, nothing else). Returns 0 with *out filled, or 400 with {"error":"..."} in body naming
 * the parameter and the reason, or -ENOMEM.
 */
int http_api_collector_params(const struct http_request *req, struct http_collector_params *out,
			      struct buf *body);

/* Compares a header value with "Bearer <token>" in time independent of where they differ. */
int http_api_token_ok(const char *authorization, const char *token);

/* Appends s as a JSON string body (quotes included): escapes controls, non-ASCII becomes '?'. */
int http_api_json_str(struct buf *out, const char *s, size_t max_len);

#endif /* MP_HTTP_API_H */
