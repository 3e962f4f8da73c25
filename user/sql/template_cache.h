/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Remembered templates of statement texts that repeat, so repeats skip the lexer. */
#ifndef MP_TEMPLATE_CACHE_H
#define MP_TEMPLATE_CACHE_H

#include <stddef.h>

#include "sql/template.h"

/*
 * A prepared statement's text arrives with every execute, and short texts such as COMMIT
 * repeat verbatim: templating them again gives the same result every time. The cache is
 * direct-mapped by a hash of the text and compares the whole text before it answers, so a
 * hit is always right; a miss only costs the hash and a copy. One per thread.
 */
struct template_cache;

/*
 * slots is rounded up to a power of two; texts longer than max_text are templated but not
 * remembered; o (copied; NULL for defaults) is passed to template_make.
 * Returns NULL with errno set.
 */
struct template_cache *template_cache_new(unsigned slots, size_t max_text, const struct template_opts *o);

/* Accepts NULL. */
void template_cache_free(struct template_cache *c);

/*
 * The template of sql[0..len) as template_make() gives it, with *ti filled the same way.
 * The returned text is NUL-terminated and valid until the next call on c. Returns NULL
 * with errno set when template_make fails (EINVAL) or memory runs out (ENOMEM).
 */
const char *template_cache_make(struct template_cache *c, const char *sql, size_t len,
			    struct template_info *ti);

/* Hits and misses so far (misses include texts too long to keep). */
void template_cache_stats(const struct template_cache *c, unsigned long long *hits,
		      unsigned long long *misses);

#endif /* MP_TEMPLATE_CACHE_H */
