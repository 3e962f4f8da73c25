// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A connection's prepared statements: statement id -> prepared text. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mysql/mysql_stmt.h"

void mysql_stmt_table_init(struct mysql_stmt_table *t, size_t max)
{
	memset(t, 0, sizeof(*t));
	t->max = max;
}

static size_t slot_of(uint32_t id, size_t cap)
{
	/* Ids are small sequential numbers per server; a multiplicative hash spreads them. */
	return (size_t)(id * 2654435761u) & (cap - 1);
}

static struct mysql_stmt *find(const struct mysql_stmt_table *t, uint32_t id)
{
	if (!t->cap)
		return NULL;
	for (size_t i = slot_of(id, t->cap);; i = (i + 1) & (t->cap - 1)) {
		struct mysql_stmt *s = &t->slots[i];

		if (!s->used)
			return NULL;
		if (s->id == id)
			return s;
	}
}

static int grow(struct mysql_stmt_table *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 16;
	struct mysql_stmt *ns = calloc(ncap, sizeof(*ns)), *old = t->slots;
	size_t ocap = t->cap;

	if (!ns)
		return -ENOMEM;
	t->slots = ns;
	t->cap = ncap;
	for (size_t i = 0; i < ocap; i++) {
		struct mysql_stmt *d;
		size_t j;

		if (!old[i].used) {
			buf_free(&old[i].text);
			continue;
		}
		for (j = slot_of(old[i].id, ncap); ns[j].used; j = (j + 1) & (ncap - 1))
			;
		d = &ns[j];
		*d = old[i];
	}
	free(old);
	return 0;
}

int mysql_stmt_put(struct mysql_stmt_table *t, uint32_t id, const char *text, size_t len,
		   int truncated)
{
	struct mysql_stmt *s = find(t, id);

	if (!s) {
		size_t i;

		if (t->used >= t->max)
			return -ENOSPC;
		/* Keep the load factor at or below 1/2 so probes stay short. */
		if ((t->used + 1) * 2 > t->cap && grow(t))
			return -ENOMEM;
		for (i = slot_of(id, t->cap); t->slots[i].used; i = (i + 1) & (t->cap - 1))
			;
		s = &t->slots[i];
		s->used = 1;
		s->id = id;
		t->used++;
	}
	buf_reset(&s->text);
	s->truncated = truncated;
	if (buf_append(&s->text, text, len)) {
		s->truncated = 1;
		return -ENOMEM;
	}
	return 0;
}

const struct mysql_stmt *mysql_stmt_get(const struct mysql_stmt_table *t, uint32_t id)
{
	return find(t, id);
}

void mysql_stmt_del(struct mysql_stmt_table *t, uint32_t id)
{
	struct mysql_stmt *s = find(t, id);
	size_t i, j, mask = t->cap - 1;

	if (!s)
		return;
	/* Backward-shift deletion: no tombstones, lookups stop at the first hole. */
	i = (size_t)(s - t->slots);
	s->used = 0;
	t->used--;
	for (j = (i + 1) & mask; t->slots[j].used; j = (j + 1) & mask) {
		size_t home = slot_of(t->slots[j].id, t->cap);

		/* Move j into the hole at i if its home is not in (i, j]. */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			struct buf hole = t->slots[i].text;

			t->slots[i] = t->slots[j];
			t->slots[j].used = 0;
			t->slots[j].text = hole;
			i = j;
		}
	}
}

void mysql_stmt_clear(struct mysql_stmt_table *t)
{
	for (size_t i = 0; i < t->cap; i++)
		t->slots[i].used = 0;
	t->used = 0;
}

void mysql_stmt_free(struct mysql_stmt_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->cap; i++)
		buf_free(&t->slots[i].text);
	free(t->slots);
	t->slots = NULL;
	t->cap = t->used = 0;
}
