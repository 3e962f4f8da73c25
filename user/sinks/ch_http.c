// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* One ClickHouse HTTP connection (libcurl easy handle, kept alive): statements and inserts. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "sinks/ch_http.h"

/* An answer's text kept for the log line: ClickHouse's first line says what went wrong. */
#define CH_HTTP_REPLY_MAX 512
#define CH_HTTP_CONNECT_MS 2000
#define CH_HTTP_TIMEOUT_MS 30000

struct ch_http {
	CURL *c;
	char *url;
	const atomic_bool *abort;
	struct buf reply;
	struct buf full_url;
	int last_code;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

/* curl_global_init is not thread-safe: once per process, before any handle. */
static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_reply(char *p, size_t size, size_t n, void *ctx)
{
	struct ch_http *h = ctx;
	size_t len = size * n;
	size_t room = CH_HTTP_REPLY_MAX - h->reply.len;

	buf_append(&h->reply, p, len < room ? len : room);
	return len;
}

static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct ch_http *h = ctx;

	return h->abort && atomic_load(h->abort);
}

struct ch_http *ch_http_new(const char *url, const char *user, const char *password,
			    const atomic_bool *abort)
{
	struct ch_http *h;

	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		errno = EIO;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->abort = abort;
	h->url = strdup(url);
	h->c = curl_easy_init();
	if (!h->url || !h->c)
		goto fail;
	curl_easy_setopt(h->c, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
	curl_easy_setopt(h->c, CURLOPT_CONNECTTIMEOUT_MS, (long)CH_HTTP_CONNECT_MS);
	curl_easy_setopt(h->c, CURLOPT_TIMEOUT_MS, (long)CH_HTTP_TIMEOUT_MS);
	curl_easy_setopt(h->c, CURLOPT_WRITEFUNCTION, on_reply);
	curl_easy_setopt(h->c, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(h->c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h->c, CURLOPT_XFERINFODATA, h);
	curl_easy_setopt(h->c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h->c, CURLOPT_PROTOCOLS_STR, "http,https");
	if (user && *user)
		curl_easy_setopt(h->c, CURLOPT_USERNAME, user);
	if (password && *password)
		curl_easy_setopt(h->c, CURLOPT_PASSWORD, password);
	return h;
fail:
	ch_http_free(h);
	errno = ENOMEM;
	return NULL;
}

void ch_http_free(struct ch_http *h)
{
	if (!h)
		return;
	if (h->c)
		curl_easy_cleanup(h->c);
	free(h->url);
	buf_free(&h->reply);
	buf_free(&h->full_url);
	free(h);
}

static int build_url(struct ch_http *h, const char *query)
{
	char *q;
	int err;

	buf_reset(&h->full_url);
	err = buf_puts(&h->full_url, h->url);
	if (err || !query)
		return err;
	q = curl_easy_escape(h->c, query, 0);
	if (!q)
		return -ENOMEM;
	err = buf_printf(&h->full_url, "%squery=%s", strchr(h->url, '?') ? "&" : "?", q);
	curl_free(q);
	return err;
}

/* "HTTP 500: Code: 60, e.displayText() = ..." cut at the first line end. */
static void say_reply(struct ch_http *h, long status, char *why, size_t whylen)
{
	const char *r = h->reply.len ? h->reply.data : "";
	const char *code = strstr(r, "Code: ");

	h->last_code = code ? atoi(code + 6) : 0;
	snprintf(why, whylen, "HTTP %ld: %.*s", status, (int)strcspn(r, "\r\n"), r);
}

int ch_http_post(struct ch_http *h, const char *query, const char *body, size_t len,
		 char *why, size_t whylen)
{
	long status = 0;
	CURLcode rc;

	h->last_code = 0;
	if (build_url(h, query))
		return -ENOMEM;
	buf_reset(&h->reply);
	curl_easy_setopt(h->c, CURLOPT_URL, h->full_url.data);
	curl_easy_setopt(h->c, CURLOPT_POST, 1L);
	curl_easy_setopt(h->c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h->c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	rc = curl_easy_perform(h->c);
	if (rc != CURLE_OK) {
		snprintf(why, whylen, "%s", curl_easy_strerror(rc));
		return -EIO;
	}
	curl_easy_getinfo(h->c, CURLINFO_RESPONSE_CODE, &status);
	if (status == 200)
		return 0;
	say_reply(h, status, why, whylen);
	return -EIO;
}

int ch_http_last_code(const struct ch_http *h)
{
	return h->last_code;
}
