// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A master's template texts by id: a slave sends each text once per link, later rows only the id. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/template_store.h"

struct slot {
	uint64_t id;
	char *text; /* NULL: empty slot */
	size_t len;
};

struct template_store {
	struct slot *slots;
	size_t cap; /* power of two */
	size_t count, bytes, max_bytes;
	uint64_t refused;
};

struct template_store *template_store_new(size_t max_bytes)
{
	struct template_store *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->cap = 1024;
	t->max_bytes = max_bytes;
	t->slots = calloc(t->cap, sizeof(*t->slots));
	if (!t->slots) {
		free(t);
		return NULL;
	}
	return t;
}

void template_store_free(struct template_store *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->cap; i++)
		free(t->slots[i].text);
	free(t->slots);
	free(t);
}

/* Ids are XXH64 values already: their low bits spread well. */
static struct slot *find(const struct template_store *t, uint64_t id)
{
	size_t i = (size_t)id & (t->cap - 1);

	while (t->slots[i].text && t->slots[i].id != id)
		i = (i + 1) & (t->cap - 1);
	return &t->slots[i];
}

static int grow(struct template_store *t)
{
	struct template_store old = *t;

	t->cap *= 2;
	t->slots = calloc(t->cap, sizeof(*t->slots));
	if (!t->slots) {
		*t = old;
		return -ENOMEM;
	}
	for (size_t i = 0; i < old.cap; i++)
		if (old.slots[i].text)
			*find(t, old.slots[i].id) = old.slots[i];
	free(old.slots);
	return 0;
}

int template_store_put(struct template_store *t, uint64_t id, const char *text, size_t len)
{
	struct slot *s = find(t, id);

	if (s->text)
		return 0;
	if (t->bytes + len + sizeof(*s) > t->max_bytes) {
		t->refused++;
		return -ENOSPC;
	}
	if ((t->count + 1) * 2 > t->cap) {
		if (grow(t))
			return -ENOMEM;
		s = find(t, id);
	}
	s->text = malloc(len + 1);
	if (!s->text)
		return -ENOMEM;
	memcpy(s->text, text, len);
	s->text[len] = '\0';
	s->len = len;
	s->id = id;
	t->count++;
	t->bytes += len + sizeof(*s);
	return 0;
}

const char *template_store_get(const struct template_store *t, uint64_t id, size_t *len)
{
	const struct slot *s = find(t, id);

	if (!s->text)
		return NULL;
	*len = s->len;
	return s->text;
}

void template_store_get_stats(const struct template_store *t, struct template_store_stats *out)
{
	out->count = t->count;
	out->bytes = t->bytes;
	out->refused = t->refused;
}
