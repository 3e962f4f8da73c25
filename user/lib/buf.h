/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The growable byte buffer: reused across calls so hot paths do not allocate. */
#ifndef MP_BUF_H
#define MP_BUF_H

#include <stddef.h>

/*
 * A zeroed struct is an empty buffer. Once it holds memory, data[len] is always a NUL (not
 * counted in len), so text built with buf_printf()/buf_puts() is also a C string.
 */
struct buf {
	char *data;
	size_t len;
	size_t cap;
};

/* Makes room for extra more bytes (plus the NUL). Returns 0 or -ENOMEM (buffer unchanged). */
int buf_reserve(struct buf *b, size_t extra);
/* Appends n bytes. Returns 0 or -ENOMEM (buffer unchanged). */
int buf_append(struct buf *b, const void *p, size_t n);
/* Appends a C string. Returns 0 or -ENOMEM. */
int buf_puts(struct buf *b, const char *s);
/* Appends formatted text (no NUL counted in len). Returns 0, -ENOMEM or -EINVAL. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Forgets the content, keeps the memory. */
static inline void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->cap)
		b->data[0] = '\0';
}
/* Empties b and gives its memory back if it grew beyond limit bytes (one
 * huge statement must not pin a huge buffer for the rest of a connection). */
static inline void buf_reset_shrink(struct buf *b, size_t limit);
/* Frees the memory; the buffer is empty and reusable. Accepts NULL, zeroed or freed. */
void buf_free(struct buf *b);
/* Gives back the capacity past the contents (and its NUL), for a buffer kept long. */
void buf_fit(struct buf *b);

static inline void buf_reset_shrink(struct buf *b, size_t limit)
{
	if (b->cap > limit)
		buf_free(b);
	buf_reset(b);
}

#endif /* MP_BUF_H */
