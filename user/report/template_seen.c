// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Per-client set of template ids already sent, so each text goes to a client once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "report/template_seen.h"

/*
 * Open addressing over ids; id 0 marks an empty slot, so the (rare) template id 0 is kept in
 * a flag of its own. The table grows by doubling up to twice the limit.
 */
struct template_seen {
	uint64_t *slots;
	size_t mask;
	size_t count;
	size_t limit;
	bool has_zero;
	uint64_t resets;
};

struct template_seen *template_seen_new(size_t limit)
{
	struct template_seen *s;

	if (!limit || limit > (SIZE_MAX >> 4)) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		goto fail;
	s->limit = limit;
	s->mask = 63;
	s->slots = calloc(s->mask + 1, sizeof(*s->slots));
	if (!s->slots)
		goto fail;
	return s;
fail:
	template_seen_free(s);
	errno = ENOMEM;
	return NULL;
}

void template_seen_free(struct template_seen *s)
{
	if (!s)
		return;
	free(s->slots);
	free(s);
}

void template_seen_clear(struct template_seen *s)
{
	memset(s->slots, 0, (s->mask + 1) * sizeof(*s->slots));
	s->count = 0;
	s->has_zero = false;
}

static size_t find(const uint64_t *slots, size_t mask, uint64_t id)
{
	size_t i = (size_t)XXH3_64bits(&id, sizeof(id)) & mask;

	while (slots[i] && slots[i] != id)
		i = (i + 1) & mask;
	return i;
}

bool template_seen_has(const struct template_seen *s, uint64_t id)
{
	if (!id)
		return s->has_zero;
	return s->slots[find(s->slots, s->mask, id)] == id;
}

/* Doubles the table, keeping the load factor at most 1/2. */
static int grow(struct template_seen *s)
{
	size_t n = (s->mask + 1) * 2, i;
	uint64_t *slots = calloc(n, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (i = 0; i <= s->mask; i++)
		if (s->slots[i])
			slots[find(slots, n - 1, s->slots[i])] = s->slots[i];
	free(s->slots);
	s->slots = slots;
	s->mask = n - 1;
	return 0;
}

int template_seen_add(struct template_seen *s, uint64_t id)
{
	size_t i;
	int err;

	if (template_seen_has(s, id))
		return 0;
	if (s->count >= s->limit) {
		template_seen_clear(s);
		s->resets++;
	}
	s->count++;
	if (!id) {
		s->has_zero = true;
		return 1;
	}
	if (2 * s->count > s->mask + 1) {
		err = grow(s);
		if (err) {
			s->count--;
			return err;
		}
	}
	i = find(s->slots, s->mask, id);
	s->slots[i] = id;
	return 1;
}

size_t template_seen_count(const struct template_seen *s)
{
	return s->count;
}

uint64_t template_seen_resets(const struct template_seen *s)
{
	return s->resets;
}
