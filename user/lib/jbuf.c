// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* JSON writer over a struct buf: commas, string escaping, numbers, one error check. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/jbuf.h"

void jbuf_init(struct jbuf *b)
{
	memset(b, 0, sizeof(*b));
}

void jbuf_free(struct jbuf *b)
{
	if (!b)
		return;
	buf_free(&b->out);
	memset(b, 0, sizeof(*b));
}

void jbuf_reset(struct jbuf *b)
{
	buf_reset(&b->out);
	b->err = 0;
	b->comma = false;
}

int jbuf_error(const struct jbuf *b)
{
	return b->err;
}

/* Makes room for n more bytes; the first failure is remembered and ends all writing. */
static bool jbuf_reserve(struct jbuf *b, size_t n)
{
	if (b->err)
		return false;
	if (buf_reserve(&b->out, n)) {
		b->err = -ENOMEM;
		return false;
	}
	return true;
}

void jbuf_raw(struct jbuf *b, const char *s, size_t n)
{
	if (jbuf_reserve(b, n))
		buf_append(&b->out, s, n); /* cannot fail: room is reserved */
}

static void jbuf_putc(struct jbuf *b, char c)
{
	jbuf_raw(b, &c, 1);
}

/* Emits the separating comma owed by the previous sibling, if any. */
static void jbuf_sep(struct jbuf *b)
{
	if (b->comma)
		jbuf_putc(b, ',');
	b->comma = false;
}

void jbuf_obj_open(struct jbuf *b)
{
	jbuf_sep(b);
	jbuf_putc(b, '{');
}

void jbuf_obj_close(struct jbuf *b)
{
	jbuf_putc(b, '}');
	b->comma = true;
}

void jbuf_arr_open(struct jbuf *b)
{
	jbuf_sep(b);
	jbuf_putc(b, '[');
}

void jbuf_arr_close(struct jbuf *b)
{
	jbuf_putc(b, ']');
	b->comma = true;
}

/*
 * Length of the valid UTF-8 sequence at s (1..4), or 0 if the bytes there are not one.
 * Follows RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF.
 */
static size_t utf8_seq_len(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t len, i;
	uint32_t v, min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xe0) == 0xc0) {
		len = 2, v = c & 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3, v = c & 0x0f, min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		len = 4, v = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

bool jbuf_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;
	uint32_t cp;

	while (i < n) {
		k = utf8_seq_len(p + i, n - i, &cp);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

/* Code points written as \uXXXX: JSON requires it below 0x20; YAML (our reader) for the rest. */
static bool needs_escape(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
	       cp == 0xfffe || cp == 0xffff;
}

static void jbuf_escape(struct jbuf *b, const unsigned char *s, size_t n)
{
	static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
	char esc[8];
	size_t i = 0, run = 0, k;
	uint32_t cp;

	while (i < n) {
		k = utf8_seq_len(s + i, n - i, &cp);
		if (k && !needs_escape(cp) && cp != '"' && cp != '\\') {
			i += k;
			run += k;
			continue;
		}
		jbuf_raw(b, (const char *)s + i - run, run);
		run = 0;
		if (!k) {
			jbuf_raw(b, replacement, 3);
			i++;
			continue;
		}
		i += k;
		switch (cp) {
		case '"': jbuf_raw(b, "\\\"", 2); break;
		case '\\': jbuf_raw(b, "\\\\", 2); break;
		case '\n': jbuf_raw(b, "\\n", 2); break;
		case '\r': jbuf_raw(b, "\\r", 2); break;
		case '\t': jbuf_raw(b, "\\t", 2); break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)cp);
			jbuf_raw(b, esc, 6);
		}
	}
	jbuf_raw(b, (const char *)s + i - run, run);
}

void jbuf_strn(struct jbuf *b, const char *s, size_t n)
{
	jbuf_sep(b);
	jbuf_putc(b, '"');
	if (s)
		jbuf_escape(b, (const unsigned char *)s, n);
	jbuf_putc(b, '"');
	b->comma = true;
}

void jbuf_str(struct jbuf *b, const char *s)
{
	jbuf_strn(b, s, s ? strlen(s) : 0);
}

void jbuf_key(struct jbuf *b, const char *key)
{
	jbuf_str(b, key);
	jbuf_putc(b, ':');
	b->comma = false;
}

static void jbuf_fmt_value(struct jbuf *b, const char *s, int n)
{
	jbuf_sep(b);
	if (n > 0)
		jbuf_raw(b, s, (size_t)n);
	b->comma = true;
}

void jbuf_u64(struct jbuf *b, uint64_t v)
{
	char tmp[24];

	jbuf_fmt_value(b, tmp, snprintf(tmp, sizeof(tmp), "%" PRIu64, v));
}

void jbuf_i64(struct jbuf *b, int64_t v)
{
	char tmp[24];

	jbuf_fmt_value(b, tmp, snprintf(tmp, sizeof(tmp), "%" PRId64, v));
}

void jbuf_bool(struct jbuf *b, bool v)
{
	jbuf_fmt_value(b, v ? "true" : "false", v ? 4 : 5);
}

void jbuf_null(struct jbuf *b)
{
	jbuf_fmt_value(b, "null", 4);
}

void jbuf_hex64(struct jbuf *b, uint64_t v)
{
	char tmp[24];

	jbuf_fmt_value(b, tmp, snprintf(tmp, sizeof(tmp), "\"%016" PRIx64 "\"", v));
}
