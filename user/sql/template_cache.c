// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Direct-mapped cache of templates keyed by the statement text. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "sql/template_cache.h"

#define NO_COMMENT SIZE_MAX

struct tc_entry {
	uint64_t hash;
	char *mem;	    /* the text, then the template and its NUL */
	size_t mem_cap;
	size_t sql_len;
	struct template_info ti; /* comment is NULL here: comment_off says where */
	size_t comment_off;	 /* into the text; NO_COMMENT when there is none */
	int used;
};

struct template_cache {
	struct template_opts opts;
	size_t max_text;
	uint32_t mask;
	struct tc_entry *e;
	char *scratch; /* template of a text too long to keep */
	size_t scratch_cap;
	unsigned long long hits, misses;
};

struct template_cache *template_cache_new(unsigned slots, size_t max_text, const struct template_opts *o)
{
	struct template_cache *c = calloc(1, sizeof(*c));
	uint32_t n = 1;

	if (!c)
		return NULL;
	while (n < slots && n < (1u << 24))
		n <<= 1;
	if (o)
		c->opts = *o;
	c->max_text = max_text;
	c->mask = n - 1;
	/* Room for the longest template template_make writes, and its NUL. */
	c->scratch_cap = (c->opts.max_len ? c->opts.max_len : 4096) + 1;
	c->e = calloc(n, sizeof(*c->e));
	c->scratch = malloc(c->scratch_cap);
	if (!c->e || !c->scratch) {
		template_cache_free(c);
		errno = ENOMEM;
		return NULL;
	}
	return c;
}

void template_cache_free(struct template_cache *c)
{
	if (!c)
		return;
	if (c->e)
		for (uint32_t i = 0; i <= c->mask; i++)
			free(c->e[i].mem);
	free(c->e);
	free(c->scratch);
	free(c);
}

static const char *hit(struct tc_entry *e, const char *sql, struct template_info *ti)
{
	*ti = e->ti;
	/* The comment points into the caller's text, as template_make's would. */
	if (e->comment_off != NO_COMMENT)
		ti->comment = sql + e->comment_off;
	return e->mem + e->sql_len;
}

const char *template_cache_make(struct template_cache *c, const char *sql, size_t len,
			    struct template_info *ti)
{
	int keep = len <= c->max_text;
	struct tc_entry *e = NULL;
	uint64_t h = 0;
	size_t need;
	char *mem;

	if (!sql && len) {
		errno = EINVAL;
		return NULL;
	}
	if (keep) {
		h = XXH3_64bits(sql, len);
		e = &c->e[h & c->mask];
		if (e->used && e->hash == h && e->sql_len == len && !memcmp(e->mem, sql, len)) {
			c->hits++;
			return hit(e, sql, ti);
		}
	}
	c->misses++;
	if (template_make(sql, len, c->scratch, c->scratch_cap, &c->opts, ti)) {
		errno = EINVAL;
		return NULL;
	}
	if (!keep)
		return c->scratch;
	need = len + ti->len + 1;
	if (need > e->mem_cap) {
		mem = realloc(e->mem, need);
		if (!mem)
			return c->scratch; /* not remembered, still answered */
		e->mem = mem;
		e->mem_cap = need;
	}
	memcpy(e->mem, sql, len);
	memcpy(e->mem + len, c->scratch, ti->len + 1);
	e->hash = h;
	e->sql_len = len;
	e->ti = *ti;
	e->ti.comment = NULL;
	e->comment_off = ti->comment ? (size_t)(ti->comment - sql) : NO_COMMENT;
	e->used = 1;
	return e->mem + len;
}

void template_cache_stats(const struct template_cache *c, unsigned long long *hits,
		      unsigned long long *misses)
{
	*hits = c->hits;
	*misses = c->misses;
}
