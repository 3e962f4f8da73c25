// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Reads JSON documents (reports, histograms) through libyaml: JSON is YAML flow syntax. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/jread.h"

int jread_load(struct jread *r, const char *text, size_t len)
{
	yaml_parser_t parser;
	int ret = 0;

	memset(r, 0, sizeof(*r));
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &r->doc)) {
		ret = parser.error == YAML_MEMORY_ERROR ? -ENOMEM : -EINVAL;
		goto cleanup;
	}
	r->loaded = true;
	if (!yaml_document_get_root_node(&r->doc))
		ret = -EINVAL;
cleanup:
	yaml_parser_delete(&parser);
	return ret;
}

void jread_free(struct jread *r)
{
	if (r && r->loaded) {
		yaml_document_delete(&r->doc);
		r->loaded = false;
	}
}

yaml_node_t *jread_root(struct jread *r)
{
	return r->loaded ? yaml_document_get_root_node(&r->doc) : NULL;
}

size_t jread_obj_len(yaml_node_t *obj)
{
	if (!obj || obj->type != YAML_MAPPING_NODE)
		return 0;
	return (size_t)(obj->data.mapping.pairs.top - obj->data.mapping.pairs.start);
}

int jread_pair(struct jread *r, yaml_node_t *obj, size_t i, yaml_node_t **key, yaml_node_t **val)
{
	yaml_node_pair_t *p;

	if (i >= jread_obj_len(obj))
		return -EINVAL;
	p = obj->data.mapping.pairs.start + i;
	*key = yaml_document_get_node(&r->doc, p->key);
	*val = yaml_document_get_node(&r->doc, p->value);
	return *key && *val ? 0 : -EINVAL;
}

yaml_node_t *jread_get(struct jread *r, yaml_node_t *obj, const char *key)
{
	yaml_node_t *k, *v;
	size_t i, n = jread_obj_len(obj);

	for (i = 0; i < n; i++) {
		if (jread_pair(r, obj, i, &k, &v))
			continue;
		if (k->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)k->data.scalar.value, key) == 0)
			return v;
	}
	return NULL;
}

size_t jread_len(yaml_node_t *arr)
{
	if (!arr || arr->type != YAML_SEQUENCE_NODE)
		return 0;
	return (size_t)(arr->data.sequence.items.top - arr->data.sequence.items.start);
}

yaml_node_t *jread_at(struct jread *r, yaml_node_t *arr, size_t i)
{
	if (i >= jread_len(arr))
		return NULL;
	return yaml_document_get_node(&r->doc, arr->data.sequence.items.start[i]);
}

int jread_u64(yaml_node_t *n, uint64_t *v)
{
	const char *s;
	char *end;

	/* A quoted scalar is a JSON string, not a number. */
	if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return -EINVAL;
	s = (const char *)n->data.scalar.value;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	return 0;
}

const char *jread_str(yaml_node_t *n, size_t *len)
{
	if (!n || n->type != YAML_SCALAR_NODE)
		return NULL;
	if (len)
		*len = n->data.scalar.length;
	return (const char *)n->data.scalar.value;
}
