/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* One ClickHouse HTTP connection (libcurl easy handle, kept alive): statements and inserts. */
#ifndef MP_CH_HTTP_H
#define MP_CH_HTTP_H

#include <stdatomic.h>
#include <stddef.h>

#include "lib/buf.h"

struct ch_http;

/* Copies url, user and password. *abort set: a transfer in progress ends at once. */
struct ch_http *ch_http_new(const char *url, const char *user, const char *password,
			    const atomic_bool *abort);
void ch_http_free(struct ch_http *h);

/*
 * POSTs body; query (NULL = none) goes in the URL's "query" parameter, as ClickHouse wants
 * for an INSERT whose rows are the body. Returns 0 on HTTP 200; otherwise -EIO with a
 * one-line reason in why (the transport error, or the HTTP status and the start of
 * ClickHouse's message: never the URL or the credentials), or -ENOMEM.
 */
int ch_http_post(struct ch_http *h, const char *query, const char *body, size_t len,
		 char *why, size_t whylen);

/* ClickHouse's error code in the last failed response ("Code: N"), 0 when none. */
int ch_http_last_code(const struct ch_http *h);

#endif /* MP_CH_HTTP_H */
