// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Connection and login counts per (user, client address), one table per aggregator. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "report/sessions.h"

struct sess_table {
	struct sess_row *rows; /* insertion order; the "other" row is kept apart */
	uint32_t n, cap, max_rows;
	uint32_t *slots; /* 1 + row index, 0 = empty; open addressing */
	uint32_t mask;
	struct sess_row other;
	bool has_other;
};

void codes_add(uint16_t *code, uint64_t *count, uint8_t *n, uint64_t *other, unsigned max,
	       uint16_t c, uint64_t k)
{
	unsigned int i = 0, last;

	while (i < *n && code[i] < c)
		i++;
	if (i < *n && code[i] == c) {
		count[i] += k;
		return;
	}
	if (i == max) {
		*other += k;
		return;
	}
	if (*n == max) {
		*other += count[max - 1];
		(*n)--;
	}
	last = *n;
	memmove(&code[i + 1], &code[i], (last - i) * sizeof(code[0]));
	memmove(&count[i + 1], &count[i], (last - i) * sizeof(count[0]));
	code[i] = c;
	count[i] = k;
	(*n)++;
}

struct sess_table *sess_new(uint32_t max_rows)
{
	struct sess_table *t;

	if (!max_rows) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		errno = ENOMEM;
		return NULL;
	}
	t->max_rows = max_rows;
	t->other.is_other = true;
	return t;
}

void sess_free(struct sess_table *t)
{
	if (!t)
		return;
	free(t->rows);
	free(t->slots);
	free(t);
}

void sess_reset(struct sess_table *t)
{
	t->n = 0;
	if (t->slots)
		memset(t->slots, 0, (t->mask + 1) * sizeof(*t->slots));
	memset(&t->other, 0, sizeof(t->other));
	t->other.is_other = true;
	t->has_other = false;
}

static uint64_t key_hash(const uint8_t *addr, uint8_t family, const char *user, size_t len)
{
	return XXH3_64bits_withSeed(user, len, XXH3_64bits(addr, 16) ^ family);
}

/* Doubles the slots (load <= 1/2). Returns 0 or -ENOMEM. */
static int grow(struct sess_table *t)
{
	uint32_t size = t->slots ? 2 * (t->mask + 1) : 64, *s;

	s = calloc(size, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->n; i++) {
		const struct sess_row *r = &t->rows[i];
		uint32_t j = (uint32_t)key_hash(r->addr, r->family, r->user, r->user_len) & (size - 1);

		while (s[j])
			j = (j + 1) & (size - 1);
		s[j] = i + 1;
	}
	free(t->slots);
	t->slots = s;
	t->mask = size - 1;
	return 0;
}

/* The row of the key, created if there is room; the "other" row otherwise. */
static struct sess_row *lookup(struct sess_table *t, const uint8_t *addr16, uint8_t family,
			       const char *user, size_t len, int *err)
{
	uint32_t j;
	struct sess_row *r;

	if (!t->slots || 2 * (t->n + 1) > t->mask + 1) {
		if (t->n < t->max_rows && (*err = grow(t)))
			goto other;
	}
	if (!t->slots)
		goto other;
	j = (uint32_t)key_hash(addr16, family, user, len) & t->mask;
	for (; t->slots[j]; j = (j + 1) & t->mask) {
		r = &t->rows[t->slots[j] - 1];
		if (r->family == family && r->user_len == len && !memcmp(r->addr, addr16, 16) &&
		    !memcmp(r->user, user, len))
			return r;
	}
	if (t->n >= t->max_rows)
		goto other;
	if (t->n == t->cap) {
		uint32_t cap = t->cap ? 2 * t->cap : 16;
		struct sess_row *v = realloc(t->rows, cap * sizeof(*v));

		if (!v) {
			*err = -ENOMEM;
			goto other;
		}
		t->rows = v;
		t->cap = cap;
	}
	r = &t->rows[t->n];
	memset(r, 0, sizeof(*r));
	memcpy(r->addr, addr16, 16);
	r->family = family;
	r->user_len = (uint16_t)len;
	memcpy(r->user, user, len);
	t->slots[j] = ++t->n;
	return r;
other:
	t->has_other = true;
	return &t->other;
}

static void row_add(struct sess_row *d, const struct sess_row *s)
{
	d->opened += s->opened;
	d->logins += s->logins;
	d->failed += s->failed;
	d->closed += s->closed;
	for (unsigned i = 0; i < s->err_n && i < SESS_ERR_CODES; i++)
		codes_add(d->err_code, d->err_count, &d->err_n, &d->err_other, SESS_ERR_CODES,
			  s->err_code[i], s->err_count[i]);
	d->err_other += s->err_other;
}

int sess_merge_row(struct sess_table *t, const struct sess_row *s)
{
	size_t len = s->user_len < SESS_USER_MAX ? s->user_len : SESS_USER_MAX;
	struct sess_row *d;
	int err = 0;

	if (s->is_other) {
		t->has_other = true;
		d = &t->other;
	} else {
		d = lookup(t, s->addr, s->family, s->user, len, &err);
	}
	row_add(d, s);
	return err;
}

int sess_add(struct sess_table *t, enum sess_kind kind, uint16_t code, const char *user,
	     size_t user_len, const uint8_t *addr, uint8_t family)
{
	struct sess_row one = { 0 };

	if (family == AF_INET || family == AF_INET6) {
		memcpy(one.addr, addr, family == AF_INET ? 4 : 16);
		one.family = family;
	}
	one.user_len = (uint16_t)(user ? (user_len < SESS_USER_MAX ? user_len : SESS_USER_MAX) : 0);
	if (one.user_len)
		memcpy(one.user, user, one.user_len);
	switch (kind) {
	case SESS_OPENED:
		one.opened = 1;
		break;
	case SESS_LOGIN_OK:
		one.logins = 1;
		break;
	case SESS_LOGIN_FAILED:
		one.failed = 1;
		codes_add(one.err_code, one.err_count, &one.err_n, &one.err_other, SESS_ERR_CODES,
			  code, 1);
		break;
	case SESS_CLOSED:
		one.closed = 1;
		break;
	}
	return sess_merge_row(t, &one);
}

int sess_merge(struct sess_table *dst, const struct sess_table *src)
{
	int err = 0;

	for (size_t i = 0; i < sess_count(src); i++)
		err = sess_merge_row(dst, sess_at(src, i)) ?: err;
	return err;
}

size_t sess_count(const struct sess_table *t)
{
	return t->n + t->has_other;
}

const struct sess_row *sess_at(const struct sess_table *t, size_t i)
{
	if (i < t->n)
		return &t->rows[i];
	return i == t->n && t->has_other ? &t->other : NULL;
}
