// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Reads JSON documents (reports, histograms) through jansson. It replaced a libyaml document
 * loader (JSON is YAML flow syntax): a master parses every slave's report, and libyaml read
 * them at about 7 MB/s (50 us per report row), far below one period's worth of a fleet.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/jread.h"

int jread_load(struct jread *r, const char *text, size_t len)
{
	json_error_t e;

	r->root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY, &e);
	if (!r->root)
		return json_error_code(&e) == json_error_out_of_memory ? -ENOMEM : -EINVAL;
	return 0;
}

void jread_free(struct jread *r)
{
	if (r && r->root) {
		json_decref(r->root);
		r->root = NULL;
	}
}

jnode_t *jread_root(struct jread *r)
{
	return r->root;
}

bool jread_is_obj(const jnode_t *n)
{
	return n && json_is_object(n);
}

bool jread_is_arr(const jnode_t *n)
{
	return n && json_is_array(n);
}

size_t jread_obj_len(jnode_t *obj)
{
	return jread_is_obj(obj) ? json_object_size(obj) : 0;
}

int jread_pair(struct jread *r, jnode_t *obj, size_t i, const char **key, size_t *key_len,
	       jnode_t **val)
{
	void *it;

	(void)r;
	if (i >= jread_obj_len(obj))
		return -EINVAL;
	it = json_object_iter(obj);
	while (it && i--)
		it = json_object_iter_next(obj, it);
	if (!it)
		return -EINVAL;
	*key = json_object_iter_key(it);
	if (key_len)
		*key_len = json_object_iter_key_len(it);
	*val = json_object_iter_value(it);
	return 0;
}

jnode_t *jread_get(struct jread *r, jnode_t *obj, const char *key)
{
	(void)r;
	return jread_is_obj(obj) ? json_object_get(obj, key) : NULL;
}

size_t jread_len(jnode_t *arr)
{
	return jread_is_arr(arr) ? json_array_size(arr) : 0;
}

jnode_t *jread_at(struct jread *r, jnode_t *arr, size_t i)
{
	(void)r;
	return jread_is_arr(arr) ? json_array_get(arr, i) : NULL;
}

int jread_u64(jnode_t *n, uint64_t *v)
{
	json_int_t i;

	/* A string is not a number, a fraction not a count. */
	if (!n || !json_is_integer(n))
		return -EINVAL;
	i = json_integer_value(n);
	if (i < 0)
		return -EINVAL;
	*v = (uint64_t)i;
	return 0;
}

int jread_bool(jnode_t *n, int *v)
{
	if (!n || !json_is_boolean(n))
		return -EINVAL;
	*v = json_is_true(n);
	return 0;
}

const char *jread_str(jnode_t *n, size_t *len)
{
	if (!n || !json_is_string(n))
		return NULL;
	if (len)
		*len = json_string_length(n);
	return json_string_value(n);
}
