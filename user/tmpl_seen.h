/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Per-client set of template ids already sent, so each text goes to a client once. */
#ifndef MP_TMPL_SEEN_H
#define MP_TMPL_SEEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Bounded by reset, not LRU: when the set holds `limit` ids it is emptied and starts over.
 * Forgetting is always safe — the next report merely re-sends texts the client already has —
 * while remembering wrongly would leave the client without a text, so the server must also
 * call tmpl_seen_clear() whenever it drops a report queued for that client.
 */
struct tmpl_seen;

/* Returns an empty set holding at most limit ids (>= 1), or NULL with errno set. */
struct tmpl_seen *tmpl_seen_new(size_t limit);
/* Accepts NULL. */
void tmpl_seen_free(struct tmpl_seen *s);
void tmpl_seen_clear(struct tmpl_seen *s);
bool tmpl_seen_has(const struct tmpl_seen *s, uint64_t id);
/*
 * Adds id. Returns 1 if added, 0 if already present, or -ENOMEM. Adding to a full set first
 * empties it (counted in tmpl_seen_resets).
 */
int tmpl_seen_add(struct tmpl_seen *s, uint64_t id);
size_t tmpl_seen_count(const struct tmpl_seen *s);
uint64_t tmpl_seen_resets(const struct tmpl_seen *s);

#endif /* MP_TMPL_SEEN_H */
