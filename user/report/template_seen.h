/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Per-client set of template ids already sent, so each text goes to a client once. */
#ifndef MP_TEMPLATE_SEEN_H
#define MP_TEMPLATE_SEEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Bounded by reset, not LRU: when the set holds `limit` ids it is emptied and starts over.
 * Forgetting is always safe — the next report merely re-sends texts the client already has —
 * while remembering wrongly would leave the client without a text, so the server must also
 * call template_seen_clear() whenever it drops a report queued for that client.
 */
struct template_seen;

/* Returns an empty set holding at most limit ids (>= 1), or NULL with errno set. */
struct template_seen *template_seen_new(size_t limit);
/* Accepts NULL. */
void template_seen_free(struct template_seen *s);
void template_seen_clear(struct template_seen *s);
bool template_seen_has(const struct template_seen *s, uint64_t id);
/*
 * Adds id. Returns 1 if added, 0 if already present, or -ENOMEM. Adding to a full set first
 * empties it (counted in template_seen_resets).
 */
int template_seen_add(struct template_seen *s, uint64_t id);
size_t template_seen_count(const struct template_seen *s);
uint64_t template_seen_resets(const struct template_seen *s);

#endif /* MP_TEMPLATE_SEEN_H */
