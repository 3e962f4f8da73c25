// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer target: HTTP API routing, query-parameter validation, token check, JSON escaping. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/http_api.h"

static unsigned last_ms;

static int fz_set_period(void *ctx, unsigned ms)
{
	if (ms < HTTP_API_PERIOD_MIN_MS || ms > HTTP_API_PERIOD_MAX_MS)
		abort();
	last_ms = ms;
	return 0;
}

static int fz_metrics(void *ctx, struct buf *out)
{
	return buf_puts(out, "x 1\n");
}

/* Reference: what the parser must accept, computed the slow obvious way. */
static void check_parse_uint(const char *s)
{
	unsigned v = 0;
	int ret = http_api_parse_uint(s, HTTP_API_PERIOD_MIN_MS, HTTP_API_PERIOD_MAX_MS, &v);
	size_t n = strlen(s), i;
	int digits = n > 0;
	char *end;
	unsigned long long ref;

	for (i = 0; i < n; i++)
		digits &= s[i] >= '0' && s[i] <= '9';
	if (!digits) {
		if (ret != -EINVAL)
			abort();
		return;
	}
	errno = 0;
	ref = strtoull(s, &end, 10);
	if (errno == ERANGE || ref < HTTP_API_PERIOD_MIN_MS || ref > HTTP_API_PERIOD_MAX_MS) {
		if (ret != -ERANGE)
			abort();
	} else if (ret != 0 || v != ref) {
		abort();
	}
}

/* The /collector query: accepted with a sane result, or refused with one JSON error object. */
static void check_collector(const struct http_request *req)
{
	struct http_collector_params p;
	struct buf body = {};
	int code = http_api_collector_params(req, &p, &body), token = 0;
	size_t i;

	if (code == 0 && (body.len || (p.json != 0 && p.json != 1)))
		abort();
	/* token= is taken (a browser's websocket has no headers), and only from token=. */
	for (i = 0; i < req->nargs; i++)
		token |= !strcmp(req->args[i].name, "token");
	if (code == 0 && token != (p.token != NULL))
		abort();
	if (code > 0 && (code != 400 || strncmp(body.data, "{\"error\":\"", 10) ||
			 strcmp(body.data + body.len - 3, "\"}\n")))
		abort();
	buf_free(&body);
}

/*
 * Input: byte 0 = flags (bit 0 GET, bit 1 token set, bit 2 Authorization present), then lines:
 * path, Authorization value, then one query fragment per line (as lws would decode them).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_arg args[HTTP_API_MAX_ARGS + 4];
	struct http_api api = { .set_report_period_ms = fz_set_period, .metrics = fz_metrics };
	struct http_request req = { .args = args };
	struct buf body = {};
	const char *type = NULL;
	char *buf, *line, *save = NULL;
	int code, n = 0;

	if (!size)
		return 0;
	buf = malloc(size);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	req.is_get = data[0] & 1;
	api.token = data[0] & 2 ? "tok" : NULL;

	line = strtok_r(buf, "\n", &save);
	req.path = line ? line : "";
	line = strtok_r(NULL, "\n", &save);
	if (data[0] & 4)
		req.authorization = line;
	while ((line = strtok_r(NULL, "\n", &save)) && n < HTTP_API_MAX_ARGS + 4) {
		check_parse_uint(line);
		http_api_split_arg(line, &args[n++]);
	}
	req.nargs = (size_t)n;
	if (req.authorization)
		http_api_token_ok(req.authorization, "tok");

	code = http_api_handle(&api, &req, &body, &type);
	if (code != -ENOMEM) {
		if (!type || body.len == 0)
			abort();
		/* Every error body is one JSON object with an error member. */
		if (code >= 400 && (strncmp(body.data, "{\"error\":\"", 10) ||
				    strcmp(body.data + body.len - 3, "\"}\n")))
			abort();
		if (code >= 400 && memchr(body.data, '\n', body.len - 1))
			abort();
	}
	buf_free(&body);
	check_collector(&req);
	free(buf);
	return 0;
}
