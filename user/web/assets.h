/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The dashboard's files (HTML, CSS, JavaScript), compiled into the binary and found by URL path. */
#ifndef MP_WEB_ASSETS_H
#define MP_WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
};

/*
 * The asset served at path ("/" is the page, "/app.js", ...), or NULL when path names none.
 * Static data: no allocation, safe from any thread.
 */
const struct web_asset *web_asset_find(const char *path, struct web_asset *out);

#endif /* MP_WEB_ASSETS_H */
