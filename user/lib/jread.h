/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Reads JSON documents (reports, histograms) through libyaml: JSON is YAML flow syntax. */
#ifndef MP_JREAD_H
#define MP_JREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

/*
 * Only what jbuf writes is promised to read back: libyaml implements YAML 1.1, whose flow
 * syntax covers JSON objects, arrays, strings with \-escapes (no surrogate pairs), and numbers.
 * Keys longer than 1024 bytes are not recognised as keys (a YAML simple-key limit).
 */
struct jread {
	yaml_document_t doc;
	bool loaded;
};

/* Parses text. Returns 0, or -EINVAL (syntax error or empty input); always call jread_free. */
int jread_load(struct jread *r, const char *text, size_t len);
void jread_free(struct jread *r);
/* Root node, or NULL. */
yaml_node_t *jread_root(struct jread *r);
/* Value of key in an object node, or NULL (not an object, or no such key). */
yaml_node_t *jread_get(struct jread *r, yaml_node_t *obj, const char *key);
/* Number of items of an array node (0 if not an array). */
size_t jread_len(yaml_node_t *arr);
/* Item i of an array node, or NULL. */
yaml_node_t *jread_at(struct jread *r, yaml_node_t *arr, size_t i);
/* Unsigned integer value of a number node. Returns 0 or -EINVAL. */
int jread_u64(yaml_node_t *n, uint64_t *v);
/* String value (NUL-terminated, owned by the document) and its length, or NULL if not a scalar. */
const char *jread_str(yaml_node_t *n, size_t *len);
/* Iterates an object: key and value of pair i (i < jread_obj_len). Returns 0 or -EINVAL. */
size_t jread_obj_len(yaml_node_t *obj);
int jread_pair(struct jread *r, yaml_node_t *obj, size_t i, yaml_node_t **key, yaml_node_t **val);

#endif /* MP_JREAD_H */
