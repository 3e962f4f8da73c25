/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Reads JSON documents (reports, histograms) through jansson. */
#ifndef MP_JREAD_H
#define MP_JREAD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A parsed document. Strict where a report must be: duplicate keys are an error, integers
 * must fit in 63 bits, strings may hold \u0000 (their length is returned).
 */
typedef json_t jnode_t;

struct jread {
	json_t *root;
};

/* Parses text. Returns 0, or -EINVAL (syntax error or empty input); always call jread_free. */
int jread_load(struct jread *r, const char *text, size_t len);
void jread_free(struct jread *r);
/* Root node, or NULL. */
jnode_t *jread_root(struct jread *r);
/* Value of key in an object node, or NULL (not an object, or no such key). */
jnode_t *jread_get(struct jread *r, jnode_t *obj, const char *key);
bool jread_is_obj(const jnode_t *n);
bool jread_is_arr(const jnode_t *n);
/* Number of items of an array node (0 if not an array). */
size_t jread_len(jnode_t *arr);
/* Item i of an array node, or NULL. */
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
 * Key (NUL-terminated, owned by the document) and value of pair i, in document order. Walks
 * from the first pair: meant for small objects. Returns 0 or -EINVAL.
 */
int jread_pair(struct jread *r, jnode_t *obj, size_t i, const char **key, size_t *key_len,
	       jnode_t **val);

#endif /* MP_JREAD_H */
