/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A walk over the lines of a small config-like text, numbered for "file:line: reason" errors. */
#ifndef MP_LINES_H
#define MP_LINES_H

#include <stddef.h>

/* Cut each line at its first '#', then spaces and tabs around what is left and CRs after it. */
#define LINES_TRIM 1u

/*
 * Over text held in memory, which must outlive the walk. Lines end at '\n' (the last one may
 * lack it). Without LINES_TRIM a comment is a line whose first byte is '#', and a line of
 * blanks is passed to the caller as it is.
 */
struct lines {
	const char *p, *end;
	unsigned flags;
	unsigned no; /* the number of the line last read, from 1; blank and comment lines count */
};

void lines_init(struct lines *l, const char *text, size_t len, unsigned flags);
/*
 * The next line that is neither empty nor a comment, without its '\n', in *s and *n.
 * Returns 1, 0 after the last line, or -EINVAL for a line holding a NUL byte (text files
 * hold none; checked before the line is cut or passed over). l->no is that line's number.
 */
int lines_next(struct lines *l, const char **s, size_t *n);

/* Parses one line (s, n as lines_next gives them): 0, or -errno with *why set for -EINVAL. */
typedef int (*lines_fn)(void *ctx, const char *s, size_t n, const char **why);
/*
 * Calls fn on each line lines_next() gives until one fails. Returns 0 or fn's error; for
 * -EINVAL, fn's or a NUL byte's, err gets "line N: reason". l->no is then the failing line's
 * number, else the number of lines.
 */
int lines_each(struct lines *l, lines_fn fn, void *ctx, char *err, size_t errlen);

#endif /* MP_LINES_H */
