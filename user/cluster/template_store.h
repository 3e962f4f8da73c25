/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A master's template texts by id: a slave sends each text once per link, later rows only the id. */
#ifndef MP_TEMPLATE_STORE_H
#define MP_TEMPLATE_STORE_H

#include <stddef.h>
#include <stdint.h>

/*
 * A /collector client gets each template text once; the master keeps every text it was sent
 * so the rows of later reports, which carry only the id, still have their text when merged
 * and forwarded. Ids are hashes of the texts, so one store serves every slave. Bounded in
 * bytes: past the bound new texts are not kept (counted) and their rows go out without a
 * text, never wrong. Not thread-safe.
 */
struct template_store;

/* Returns NULL with errno set. */
struct template_store *template_store_new(size_t max_bytes);
/* Accepts NULL. */
void template_store_free(struct template_store *t);
/* Keeps a copy of text unless id is known. Returns 0, -ENOSPC (over the bound) or -ENOMEM. */
int template_store_put(struct template_store *t, uint64_t id, const char *text, size_t len);
/* The text of id, or NULL. */
const char *template_store_get(const struct template_store *t, uint64_t id, size_t *len);

struct template_store_stats {
	size_t count, bytes;
	uint64_t refused; /* texts not kept: over the bound */
};

void template_store_get_stats(const struct template_store *t, struct template_store_stats *out);

#endif /* MP_TEMPLATE_STORE_H */
