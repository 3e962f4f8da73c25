// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Reads JSON documents (reports, histograms) through simdjson's DOM parser.
 *
 * Why simdjson: a master reads every slave's report of every period. jansson (before it,
 * libyaml) built a tree of separately allocated nodes, and building and freeing that tree was
 * 84% of the master's merge time (bench/merge_bench: 64,000 rows/s per core against a goal of
 * 1,000,000). simdjson writes the whole document into two flat buffers (a tape and its
 * strings) that one parser reuses from message to message. simdjson has only a C++ API, so
 * this file is the one C++ unit of the agent: it keeps jread.h's C interface.
 *
 * Handles: the C side holds jnode pointers. simdjson's elements are values (a document and a
 * tape index), so each node asked for is copied into an arena owned by the document and freed
 * with it. The DOM reaches array item i or object pair i by walking from the first, so a node
 * remembers where its last walk stopped: reading items in order (every caller's loop) costs
 * one step per item instead of i.
 *
 * Strictness (jansson's JSON_REJECT_DUPLICATES and 63-bit integers, kept): after the parse one
 * walk over the document refuses an object with a duplicate key and an integer above
 * INT64_MAX. Objects with many keys (a report's "templates") get a hash index in that walk,
 * which also serves jread_get on them.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <new>
#include <optional>

#include <simdjson.h>
#include <xxhash.h>

extern "C" {
#include "lib/jread.h"
}

using namespace simdjson;

/* Objects up to this many keys are checked pair by pair and searched linearly. */
#define JREAD_SMALL 16
#define JREAD_CHUNK 1024
/* A parser kept for the thread's next document only while its buffers stay below this. */
#define JREAD_KEEP_BYTES (8u << 20)

struct jnode {
	dom::element el;
	/* Where the last walk over this array/object stopped (pos: its index). */
	size_t pos;
	std::optional<dom::array::iterator> ait;
	std::optional<dom::object::iterator> oit;
	const struct jread_index *index; /* objects with more than JREAD_SMALL keys */
};

struct jread_chunk {
	struct jread_chunk *next;
	size_t used;
	alignas(struct jnode) unsigned char nodes[JREAD_CHUNK * sizeof(struct jnode)];
};

struct jread_slot {
	const char *key; /* NULL: empty */
	size_t key_len;
	dom::element val;
};

/* Open-addressing index of one big object, found again by its first key's address. */
struct jread_index {
	struct jread_index *next;
	const char *first_key;
	size_t mask;
	struct jread_slot *slots;
};

struct jread_doc {
	dom::parser parser;
	dom::element root;
	struct jread_chunk *chunks; /* newest first */
	struct jread_chunk *free_chunks; /* released, kept for the next nodes */
	size_t nodes; /* in use, over every chunk */
	struct jread_index *indexes;
};

/* One parser per thread, reused: its buffers are as large as the largest document read. */
struct jread_spare {
	struct jread_doc *doc = nullptr;
	~jread_spare() { delete doc; }
};
static thread_local struct jread_spare spare;

static void chunks_free(struct jread_chunk *c)
{
	while (c) {
		struct jread_chunk *next = c->next;

		free(c);
		c = next;
	}
}

static void doc_clear(struct jread_doc *d)
{
	chunks_free(d->chunks);
	chunks_free(d->free_chunks);
	d->chunks = d->free_chunks = NULL;
	d->nodes = 0;
	while (d->indexes) {
		struct jread_index *x = d->indexes;

		d->indexes = x->next;
		free(x->slots);
		free(x);
	}
}

static struct jnode *node_new(struct jread *r, dom::element el)
{
	struct jread_doc *d = r->doc;
	struct jread_chunk *c = d->chunks;
	struct jnode *n;

	if (!c || c->used == JREAD_CHUNK) {
		c = d->free_chunks;
		if (c)
			d->free_chunks = c->next;
		else
			c = (struct jread_chunk *)malloc(sizeof(*c));
		if (!c)
			return NULL;
		c->next = d->chunks;
		c->used = 0;
		d->chunks = c;
	}
	n = new (c->nodes + c->used++ * sizeof(struct jnode)) jnode();
	d->nodes++;
	n->el = el;
	n->pos = SIZE_MAX;
	n->index = NULL;
	return n;
}

static uint64_t key_hash(const char *k, size_t len)
{
	return XXH3_64bits(k, len);
}

static const struct jread_index *index_find(const struct jread_doc *d, const char *first_key)
{
	for (const struct jread_index *x = d->indexes; x; x = x->next)
		if (x->first_key == first_key)
			return x;
	return NULL;
}

/* Indexes a big object; -EINVAL on a duplicate key. */
static int index_build(struct jread_doc *d, dom::object o, size_t n)
{
	struct jread_index *x = (struct jread_index *)calloc(1, sizeof(*x));
	size_t cap = 64;

	if (!x)
		return -ENOMEM;
	while (cap < 2 * n)
		cap *= 2;
	x->slots = (struct jread_slot *)calloc(cap, sizeof(*x->slots));
	if (!x->slots) {
		free(x);
		return -ENOMEM;
	}
	x->mask = cap - 1;
	x->next = d->indexes;
	d->indexes = x;
	for (auto it = o.begin(); it != o.end(); ++it) {
		const char *k = it.key_c_str();
		size_t len = it.key_length(), i = key_hash(k, len) & x->mask;

		if (!x->first_key)
			x->first_key = k;
		while (x->slots[i].key) {
			if (x->slots[i].key_len == len && memcmp(x->slots[i].key, k, len) == 0)
				return -EINVAL;
			i = (i + 1) & x->mask;
		}
		x->slots[i].key = k;
		x->slots[i].key_len = len;
		x->slots[i].val = it.value();
	}
	return 0;
}

static size_t counted(size_t scope_count, dom::array a)
{
	size_t n = 0;

	/* The tape saturates its count at 0xFFFFFF: count such an array by walking it. */
	if (scope_count < 0xFFFFFF)
		return scope_count;
	for (auto it = a.begin(); it != a.end(); ++it)
		n++;
	return n;
}

static size_t counted_obj(dom::object o)
{
	size_t n = o.size();

	if (n < 0xFFFFFF)
		return n;
	n = 0;
	for (auto it = o.begin(); it != o.end(); ++it)
		n++;
	return n;
}

/* The strictness walk (see the top of the file). */
static int check(struct jread_doc *d, dom::element el)
{
	switch (el.type()) {
	case dom::element_type::ARRAY: {
		dom::array a = el.get_array().value_unsafe();

		for (dom::element item : a) {
			int err = check(d, item);

			if (err)
				return err;
		}
		return 0;
	}
	case dom::element_type::OBJECT: {
		dom::object o = el.get_object().value_unsafe();
		size_t n = counted_obj(o);

		if (n > JREAD_SMALL) {
			int err = index_build(d, o, n);

			if (err)
				return err;
		} else {
			const char *keys[JREAD_SMALL];
			size_t lens[JREAD_SMALL], k = 0;

			for (auto it = o.begin(); it != o.end(); ++it, k++) {
				keys[k] = it.key_c_str();
				lens[k] = it.key_length();
				for (size_t j = 0; j < k; j++)
					if (lens[j] == lens[k] && memcmp(keys[j], keys[k], lens[k]) == 0)
						return -EINVAL;
			}
		}
		for (auto it = o.begin(); it != o.end(); ++it) {
			int err = check(d, it.value());

			if (err)
				return err;
		}
		return 0;
	}
	case dom::element_type::UINT64:
		return -EINVAL; /* above INT64_MAX */
	default:
		return 0;
	}
}

extern "C" int jread_load(struct jread *r, const char *text, size_t len)
{
	struct jread_doc *d = spare.doc;
	error_code e;

	spare.doc = nullptr;
	if (!d)
		d = new (std::nothrow) jread_doc();
	r->doc = d;
	if (!d)
		return -ENOMEM;
	d->chunks = d->free_chunks = NULL;
	d->nodes = 0;
	d->indexes = NULL;
	if (!len)
		return -EINVAL;
	/* true: the input has no padding of ours, so simdjson reads a padded copy of it. */
	e = d->parser.parse(text, len, true).get(d->root);
	if (e)
		return e == MEMALLOC ? -ENOMEM : -EINVAL;
	return check(d, d->root);
}

extern "C" void jread_free(struct jread *r)
{
	struct jread_doc *d = r ? r->doc : NULL;

	if (!d)
		return;
	r->doc = NULL;
	doc_clear(d);
	if (!spare.doc && d->parser.capacity() <= JREAD_KEEP_BYTES) {
		spare.doc = d;
		return;
	}
	delete d;
}

extern "C" size_t jread_mark(struct jread *r)
{
	return r->doc ? r->doc->nodes : 0;
}

extern "C" void jread_release(struct jread *r, size_t mark)
{
	struct jread_doc *d = r->doc;

	if (!d)
		return;
	while (d->chunks && d->nodes - d->chunks->used >= mark) {
		struct jread_chunk *c = d->chunks;

		d->chunks = c->next;
		d->nodes -= c->used;
		c->next = d->free_chunks;
		d->free_chunks = c;
	}
	if (d->chunks && d->nodes > mark) {
		d->chunks->used -= d->nodes - mark;
		d->nodes = mark;
	}
}

extern "C" jnode_t *jread_root(struct jread *r)
{
	if (!r->doc)
		return NULL;
	return node_new(r, r->doc->root);
}

extern "C" bool jread_is_obj(const jnode_t *n)
{
	return n && n->el.is_object();
}

extern "C" bool jread_is_arr(const jnode_t *n)
{
	return n && n->el.is_array();
}

extern "C" size_t jread_obj_len(jnode_t *obj)
{
	return jread_is_obj(obj) ? counted_obj(obj->el.get_object().value_unsafe()) : 0;
}

extern "C" size_t jread_len(jnode_t *arr)
{
	dom::array a;

	if (!jread_is_arr(arr))
		return 0;
	a = arr->el.get_array().value_unsafe();
	return counted(a.size(), a);
}

extern "C" int jread_pair(struct jread *r, jnode_t *obj, size_t i, const char **key,
			  size_t *key_len, jnode_t **val)
{
	dom::object o;
	jnode_t *v;

	if (i >= jread_obj_len(obj))
		return -EINVAL;
	o = obj->el.get_object().value_unsafe();
	if (obj->pos == SIZE_MAX || i < obj->pos) {
		obj->oit.emplace(o.begin());
		obj->pos = 0;
	}
	while (obj->pos < i) {
		++*obj->oit;
		obj->pos++;
	}
	v = node_new(r, obj->oit->value());
	if (!v)
		return -ENOMEM;
	*key = obj->oit->key_c_str();
	if (key_len)
		*key_len = obj->oit->key_length();
	*val = v;
	return 0;
}

extern "C" jnode_t *jread_get(struct jread *r, jnode_t *obj, const char *key)
{
	dom::object o;
	dom::element v;
	size_t len = strlen(key);

	if (!jread_is_obj(obj))
		return NULL;
	o = obj->el.get_object().value_unsafe();
	if (counted_obj(o) > JREAD_SMALL) {
		if (!obj->index)
			obj->index = index_find(r->doc, o.begin().key_c_str());
		if (!obj->index)
			return NULL;
		for (size_t i = key_hash(key, len) & obj->index->mask; obj->index->slots[i].key;
		     i = (i + 1) & obj->index->mask) {
			const struct jread_slot *s = &obj->index->slots[i];

			if (s->key_len == len && memcmp(s->key, key, len) == 0)
				return node_new(r, s->val);
		}
		return NULL;
	}
	for (auto it = o.begin(); it != o.end(); ++it)
		if (it.key_length() == len && memcmp(it.key_c_str(), key, len) == 0)
			return node_new(r, it.value());
	return NULL;
}

extern "C" jnode_t *jread_at(struct jread *r, jnode_t *arr, size_t i)
{
	if (i >= jread_len(arr))
		return NULL;
	if (arr->pos == SIZE_MAX || i < arr->pos) {
		arr->ait.emplace(arr->el.get_array().value_unsafe().begin());
		arr->pos = 0;
	}
	while (arr->pos < i) {
		++*arr->ait;
		arr->pos++;
	}
	return node_new(r, **arr->ait);
}

extern "C" int jread_u64(jnode_t *n, uint64_t *v)
{
	int64_t i;

	/* A string is not a number, a fraction not a count. */
	if (!n || !n->el.is_int64())
		return -EINVAL;
	i = n->el.get_int64().value_unsafe();
	if (i < 0)
		return -EINVAL;
	*v = (uint64_t)i;
	return 0;
}

extern "C" int jread_bool(jnode_t *n, int *v)
{
	if (!n || !n->el.is_bool())
		return -EINVAL;
	*v = n->el.get_bool().value_unsafe();
	return 0;
}

extern "C" const char *jread_str(jnode_t *n, size_t *len)
{
	if (!n || !n->el.is_string())
		return NULL;
	if (len)
		*len = n->el.get_string_length().value_unsafe();
	return n->el.get_c_str().value_unsafe();
}
