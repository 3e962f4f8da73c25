/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* SQL templates: a statement with its literals removed, and the template's 64-bit id. */
#ifndef MP_TEMPLATE_H
#define MP_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

#define TEMPLATE_MAX_LEN_DEFAULT 4096

struct template_opts {
	size_t max_len; /* template_max_len: longest template in bytes; 0 means 4096 */
};

struct template_info {
	size_t len;	     /* bytes written to out, NUL excluded */
	uint64_t id;	     /* template_id(out, len) */
	int truncated;	     /* the template was cut at max_len (or at the buffer's size) */
	const char *comment; /* first comment of the statement (into the input), or NULL */
	size_t comment_len;  /* its length, delimiters included */
};

/*
 * Normalises sql[0..len) into out (cap bytes, always NUL-terminated) following the rules
 * of docs/TEMPLATES.md. o may be NULL (defaults). Every input, however malformed, gets a
 * template. Pure and thread-safe: no globals, no allocation.
 * Returns 0, or -EINVAL when out is NULL, cap is 0, info is NULL, or sql is NULL with len > 0.
 */
int template_make(const char *sql, size_t len, char *out, size_t cap,
		  const struct template_opts *o, struct template_info *info);

/* The template id: XXH64 of tmpl[0..len) with seed 0. */
uint64_t template_id(const char *tmpl, size_t len);

/* Writes id as 16 lower-case hex digits and a NUL. */
void template_id_hex(uint64_t id, char out[17]);

#endif
