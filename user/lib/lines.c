// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A walk over the lines of a small config-like text, numbered for "file:line: reason" errors. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/lines.h"

void lines_init(struct lines *l, const char *text, size_t len, unsigned flags)
{
	l->p = text;
	l->end = text + len;
	l->flags = flags;
	l->no = 0;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static void trim(const char **s, size_t *n)
{
	const char *hash = memchr(*s, '#', *n);

	if (hash)
		*n = (size_t)(hash - *s);
	/* A CR only at the end: what a CRLF file leaves there. */
	while (*n && (is_blank((*s)[*n - 1]) || (*s)[*n - 1] == '\r'))
		(*n)--;
	while (*n && is_blank(**s)) {
		(*s)++;
		(*n)--;
	}
}

int lines_next(struct lines *l, const char **s, size_t *n)
{
	while (l->p < l->end) {
		const char *b = l->p, *nl = memchr(b, '\n', (size_t)(l->end - b));
		size_t len = nl ? (size_t)(nl - b) : (size_t)(l->end - b);

		l->p = nl ? nl + 1 : l->end;
		l->no++;
		if (memchr(b, '\0', len))
			return -EINVAL;
		if (l->flags & LINES_TRIM)
			trim(&b, &len);
		else if (len && *b == '#')
			len = 0;
		if (!len)
			continue;
		*s = b;
		*n = len;
		return 1;
	}
	return 0;
}

int lines_each(struct lines *l, lines_fn fn, void *ctx, char *err, size_t errlen)
{
	const char *s, *why;
	size_t n;
	int ret;

	while ((ret = lines_next(l, &s, &n)) > 0) {
		why = NULL;
		ret = fn(ctx, s, n, &why);
		if (ret == -EINVAL)
			snprintf(err, errlen, "line %u: %s", l->no, why ? why : "malformed");
		if (ret)
			return ret;
	}
	if (ret)
		snprintf(err, errlen, "line %u: NUL byte", l->no);
	return ret;
}
