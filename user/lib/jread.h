/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Reads JSON documents (reports, histograms) through simdjson (jread.cc). */
#ifndef MP_JREAD_H
#define MP_JREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A parsed document. Strict where a report must be: duplicate keys are an error, integers
 * must fit in 63 bits, strings may hold \u0000 (their length is returned).
 */
typedef struct jnode jnode_t;

struct jread {
	struct jread_doc *doc;
};

/* Parses text. Returns 0, or -EINVAL (syntax error or empty input); always call jread_free. */
int jread_load(struct jread *r, const char *text, size_t len);
void jread_free(struct jread *r);
/*
 * Nodes live until jread_free. A loop over many items can free each item's nodes before the
 * next: jread_release(r, m) frees every node handed out since m = jread_mark(r) (nodes from
 * before the mark, such as the array being walked, stay valid).
 */
size_t jread_mark(struct jread *r);
void jread_release(struct jread *r, size_t mark);
/* Root node, or NULL. */
jnode_t *jread_root(struct jread *r);
/* Value of key in an object node, or NULL (not an object, or no such key). */
jnode_t *jread_get(struct jread *r, jnode_t *obj, const char *key);
bool jread_is_obj(const jnode_t *n);
bool jread_is_arr(const jnode_t *n);
/* Number of items of an array node (0 if not an array). */
size_t jread_len(jnode_t *arr);
/* Item i of an array node, or NULL. Cheap when items are read in order. */
jnode_t *jread_at(struct jread *r, jnode_t *arr, size_t i);
/* Unsigned integer value of a number node (not a string, not a fraction). 0 or -EINVAL. */
int jread_u64(jnode_t *n, uint64_t *v);
/* Boolean value of a true/false node. Returns 0 or -EINVAL. */
int jread_bool(jnode_t *n, int *v);
/* String value (NUL-terminated, owned by the document) and its length, or NULL if not a string. */
const char *jread_str(jnode_t *n, size_t *len);
/* Pairs of an object. */
size_t jread_obj_len(jnode_t *obj);
/*
 * Key (NUL-terminated, owned by the document) and value of pair i, in document order. Cheap
 * when pairs are read in order. Returns 0, -EINVAL or -ENOMEM.
 */
int jread_pair(struct jread *r, jnode_t *obj, size_t i, const char **key, size_t *key_len,
	       jnode_t **val);

#endif /* MP_JREAD_H */
