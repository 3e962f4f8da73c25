/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A growable byte buffer for building HTTP bodies and report messages. */
#ifndef MP_SBUF_H
#define MP_SBUF_H

#include <stddef.h>

/*
 * data is always NUL-terminated when cap > 0 (the NUL is not counted in len), so text built
 * with sbuf_printf() can be used as a C string. A zeroed struct is an empty buffer.
 */
struct sbuf {
	char *data;
	size_t len;
	size_t cap;
};

/* Makes room for at least extra more bytes (plus the NUL). Returns 0 or -ENOMEM. */
int sbuf_reserve(struct sbuf *b, size_t extra);

/* Appends n bytes. Returns 0 or -ENOMEM (the buffer is unchanged on failure). */
int sbuf_append(struct sbuf *b, const void *p, size_t n);

/* Appends a C string. Returns 0 or -ENOMEM. */
int sbuf_puts(struct sbuf *b, const char *s);

/* Appends printf-formatted text. Returns 0, -ENOMEM or -EINVAL (bad format). */
int sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Empties the buffer and keeps its memory. */
void sbuf_reset(struct sbuf *b);

/* Releases the memory; the buffer is empty and reusable afterwards. Accepts NULL. */
void sbuf_free(struct sbuf *b);

#endif /* MP_SBUF_H */
