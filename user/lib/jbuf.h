/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* JSON writer over a struct buf: commas, string escaping, numbers, one error check. */
#ifndef MP_JBUF_H
#define MP_JBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/*
 * A JSON writer that never fails mid-document: the first allocation failure is remembered in
 * err and every later call is a no-op, so callers check once, at jbuf_error().
 * Commas are automatic: a value written after another value in the same container gets one.
 */
struct jbuf {
	struct buf out; /* the document so far: out.data, out.len (NUL-terminated) */
	int err; /* 0 or -ENOMEM */
	bool comma; /* the next value or key needs a leading ',' */
};

void jbuf_init(struct jbuf *b);
/* Frees the storage; the buffer can be reused after jbuf_init(). Accepts NULL. */
void jbuf_free(struct jbuf *b);
/* Empties the buffer (keeps the storage) and clears the error. */
void jbuf_reset(struct jbuf *b);
/* Returns 0, or -ENOMEM if any write since the last reset failed. */
int jbuf_error(const struct jbuf *b);

void jbuf_obj_open(struct jbuf *b);
void jbuf_obj_close(struct jbuf *b);
void jbuf_arr_open(struct jbuf *b);
void jbuf_arr_close(struct jbuf *b);
/* Writes "key": — the next call writes its value. key is escaped like any string. */
void jbuf_key(struct jbuf *b, const char *key);
/* Writes a string value. NULL is written as "". */
void jbuf_str(struct jbuf *b, const char *s);
/*
 * Writes n bytes as a JSON string. Invalid UTF-8 (stray continuation bytes, overlong forms,
 * surrogates, code points above U+10FFFF, truncated sequences) becomes U+FFFD per bad byte;
 * control characters, DEL, C1 controls, U+2028/U+2029 and U+FFFE/U+FFFF are \u-escaped so the
 * output is also valid YAML 1.1 (any YAML reader can read a report too).
 */
void jbuf_strn(struct jbuf *b, const char *s, size_t n);
/* Whether n bytes are valid UTF-8 (RFC 3629: no overlongs, surrogates or > U+10FFFF). */
bool jbuf_utf8_valid(const char *s, size_t n);
void jbuf_u64(struct jbuf *b, uint64_t v);
void jbuf_i64(struct jbuf *b, int64_t v);
void jbuf_bool(struct jbuf *b, bool v);
void jbuf_null(struct jbuf *b);
/* Writes a 64-bit id as a string of 16 lower-case hex digits (template ids). */
void jbuf_hex64(struct jbuf *b, uint64_t v);
/* Appends raw bytes with no comma handling and no escaping (pre-formatted JSON, newlines). */
void jbuf_raw(struct jbuf *b, const char *s, size_t n);

#endif /* MP_JBUF_H */
