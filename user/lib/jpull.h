/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Reads a JSON document front to back, strictly, without building a tree (jpull.cc). */
#ifndef MP_JPULL_H
#define MP_JPULL_H

#include <stddef.h>
#include <stdint.h>

/*
 * A pull reader over simdjson's On-Demand API: the caller walks the document in its own
 * order of members and items, and each value is read where it stands. Nothing is built: no
 * tree (jread.h builds one), so a reader that visits every value once pays for the text only.
 *
 * Strict as jread: a duplicate key in an object is an error, integers above INT64_MAX are
 * errors, and a value the caller does not read is still walked and checked (jpull_skip): a
 * document that jpull accepts is valid JSON throughout.
 *
 * Usage: jpull_load, then jpull_obj / jpull_key ... or jpull_arr / jpull_item ..., the value
 * readers on the value just reached, and jpull_end. Strings and keys stay valid until the
 * next jpull_load or jpull_free. Every call after an error returns -EINVAL.
 *
 * Threads: one thread uses a jpull. jpull_new hands out a reader kept by the thread from its
 * last jpull_free (its buffers reused) when there is one.
 */
struct jpull;

enum jpull_type {
	JPULL_NULL = 0,
	JPULL_BOOL,
	JPULL_NUM,
	JPULL_STR,
	JPULL_ARR,
	JPULL_OBJ,
};

/* Returns NULL with errno ENOMEM. */
struct jpull *jpull_new(void);
/* Accepts NULL. */
void jpull_free(struct jpull *p);
/* Starts reading text (copied). Returns 0, -EINVAL (empty, not UTF-8) or -ENOMEM. */
int jpull_load(struct jpull *p, const char *text, size_t len);
/*
 * Bytes after the text jpull_load_in_place reads (simdjson's padding): readable, and zero.
 * A _Static_assert in jpull.cc keeps it equal to SIMDJSON_PADDING.
 */
#define JPULL_PADDING 64
/* As jpull_load, reading text where it is (no copy): text[len .. len + JPULL_PADDING) must be
 * zero bytes the caller owns, and text stay unchanged until the next load or jpull_free. */
int jpull_load_in_place(struct jpull *p, const char *text, size_t len);
/* 0 when the root value has been read whole and nothing but blanks follows it, else -EINVAL. */
int jpull_end(struct jpull *p);

/* Type of the value reached. 0 or -EINVAL. */
int jpull_type(struct jpull *p, enum jpull_type *t);
/* Enters the object reached. 0 or -EINVAL (not an object). */
int jpull_obj(struct jpull *p);
/*
 * Reaches the next member of the object entered last: 1 with its key (unescaped, not
 * NUL-terminated) and its value reached; 0 after the last (the object is left); -EINVAL
 * (bad syntax, duplicate key). The previous member's value, if not read, is skipped.
 */
int jpull_key(struct jpull *p, const char **key, size_t *len);
/* A member name the reader expects (jpull_member). */
struct jpull_name {
	const char *s;
	size_t len;
};
#define JPULL_NAME(x) { x, sizeof(x) - 1 }

/*
 * As jpull_key, for objects whose members the caller knows by name (n <= 64, each name
 * shorter than JPULL_PADDING: it is compared in place in the padded text): 1 with *which
 * the index in names of the member's key, or n for a key not among them (*key and *len then
 * give it); 0 after the last; -EINVAL. Members usually come in one order, so names[*hint] is
 * tried first and *hint moves past each name found. Cheaper than jpull_key: a key is compared
 * where it stands in the text, and duplicates of known names are a bit mask.
 */
int jpull_member(struct jpull *p, const struct jpull_name *names, unsigned int n,
		 unsigned int *hint, unsigned int *which, const char **key, size_t *len);
/* What jpull_fields does with a member's value. */
enum jpull_kind {
	JPULL_K_U64 = 0, /* into u64, as jpull_u64 reads it */
	JPULL_K_STR,	 /* into s and len, as jpull_str reads it */
	JPULL_K_CALL,	 /* call(ctx, p, i) with the value reached: it reads it (or it is walked) */
	JPULL_K_WALK,	 /* walked: checked, not kept */
};

struct jpull_field {
	const char *s;
	size_t len;
	enum jpull_kind kind;
};
#define JPULL_FIELD(x, k) { x, sizeof(x) - 1, k }

struct jpull_val {
	uint64_t u64;
	const char *s;
	size_t len;
};

/*
 * Reads the object reached whole, in one call: member i named in fields (n <= 64, names as
 * for jpull_member) is read by
 * its kind into out[i] and sets bit i of *seen; members not named are walked. A reader of
 * many small objects (a report's rows) pays for the text only, not for a call per member.
 * Returns 0, -EINVAL (bad syntax, duplicate key, a value not of its kind), -ENOMEM, or the
 * first nonzero return of call.
 */
int jpull_fields(struct jpull *p, const struct jpull_field *fields, unsigned int n,
		 struct jpull_val *out, uint64_t *seen,
		 int (*call)(void *ctx, struct jpull *p, unsigned int i), void *ctx);
/* Enters the array reached. 0 or -EINVAL. */
int jpull_arr(struct jpull *p);
/* Reaches the next item of the array entered last: 1, 0 after the last (left), -EINVAL. */
int jpull_item(struct jpull *p);
/* Integer 0..INT64_MAX (not a string, not a fraction). 0 or -EINVAL. */
int jpull_u64(struct jpull *p, uint64_t *v);
/* true or false. 0 or -EINVAL. */
int jpull_bool(struct jpull *p, int *v);
/* A string, unescaped (may hold NUL bytes; not NUL-terminated). 0 or -EINVAL. */
int jpull_str(struct jpull *p, const char **s, size_t *len);
/* Walks the value reached, checking it as a whole. 0 or -EINVAL. */
int jpull_skip(struct jpull *p);

#endif /* MP_JPULL_H */
