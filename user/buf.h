/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A growable byte buffer reused across calls so hot paths do not allocate. */
#ifndef MP_BUF_H
#define MP_BUF_H

#include <stddef.h>

struct buf {
	char *data; /* not NUL-terminated unless the caller appends one */
	size_t len;
	size_t cap;
};

/* Makes room for extra more bytes. Returns 0 or -ENOMEM (buffer unchanged). */
int buf_reserve(struct buf *b, size_t extra);
/* Appends n bytes. Returns 0 or -ENOMEM (buffer unchanged). */
int buf_append(struct buf *b, const void *p, size_t n);
/* Appends formatted text (no NUL counted in len). Returns 0, -ENOMEM or -EINVAL. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Forgets the content, keeps the memory. */
static inline void buf_reset(struct buf *b)
{
	b->len = 0;
}
/* Empties b and gives its memory back if it grew beyond limit bytes (one
 * huge statement must not pin a huge buffer for the rest of a connection). */
static inline void buf_reset_shrink(struct buf *b, size_t limit);
/* Frees the memory; accepts a zeroed or already freed buffer. */
void buf_free(struct buf *b);

static inline void buf_reset_shrink(struct buf *b, size_t limit)
{
	if (b->cap > limit)
		buf_free(b);
	b->len = 0;
}

#endif /* MP_BUF_H */
