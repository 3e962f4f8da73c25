// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The dashboard's files, embedded at build time from user/web/assets/ (embed.sh). */
#include <string.h>

#include "web/assets.h"

struct web_file {
	const char *name;
	const unsigned char *data;
	size_t len;
};

/* Generated: the arrays and web_files[]. */
#include "web_assets.inc"

static const struct {
	const char *ext, *type;
} web_types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".svg", "image/svg+xml" },
};

static const char *web_type(const char *name)
{
	size_t n = strlen(name), i;

	for (i = 0; i < sizeof(web_types) / sizeof(web_types[0]); i++) {
		size_t e = strlen(web_types[i].ext);

		if (n > e && !strcmp(name + n - e, web_types[i].ext))
			return web_types[i].type;
	}
	return "application/octet-stream";
}

const struct web_asset *web_asset_find(const char *path, struct web_asset *out)
{
	size_t i;

	if (!path || path[0] != '/')
		return NULL;
	/* The page is "/"; every other file is served under its own name, one level only. */
	path = path[1] ? path + 1 : "index.html";
	for (i = 0; i < sizeof(web_files) / sizeof(web_files[0]); i++) {
		if (strcmp(path, web_files[i].name))
			continue;
		out->type = web_type(web_files[i].name);
		out->data = web_files[i].data;
		out->len = web_files[i].len;
		return out;
	}
	return NULL;
}
