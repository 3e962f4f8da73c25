/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* enrich.file: the mapping in force, reloaded when the file changes, patched by POST. */
#ifndef MP_ENRICH_WATCH_H
#define MP_ENRICH_WATCH_H

#include <stddef.h>

#include "lib/buf.h"
#include "report/enrich.h"

/*
 * Holds the IP -> application mapping in force. A thread of its own polls the file once a
 * second (inode, size, mtime, ctime): a change is read and parsed off the capture thread, and
 * replaces the mapping only when the whole file is valid; otherwise the reason
 * ("path:line: reason") is logged once per change and the previous mapping stays in force.
 * POST /enrich/update patches the mapping in force; the next change of the file replaces
 * both. Whoever closes a period takes the mapping with enrich_watch_get(), so a change applies
 * from the next period on.
 */
struct enrich_watch;

/*
 * Loads path (may be "" or NULL: no file, an empty mapping that POST can fill) and starts
 * the poller. Returns NULL with errno set; for a bad file err holds "path:line: reason".
 */
struct enrich_watch *enrich_watch_new(const char *path, char *err, size_t errlen);
/* Stops the poller. Accepts NULL. */
void enrich_watch_free(struct enrich_watch *w);
/* The mapping in force, referenced (enrich_put() it); NULL when w is NULL. Thread-safe. */
struct enrich *enrich_watch_get(struct enrich_watch *w);
/*
 * Patches the mapping in force with body (enrich.h's format; "CIDR -" removes a prefix).
 * Returns 0 with JSON members ("prefixes":N) appended to out, -EINVAL/-E2BIG with the reason
 * in out (the mapping unchanged), or -ENOMEM. Thread-safe.
 */
int enrich_watch_patch(struct enrich_watch *w, const char *body, size_t len, struct buf *out);
/* Mappings put in force (load, reloads, patches) and reloads refused, for /metrics. */
void enrich_watch_stats(struct enrich_watch *w, unsigned long long *applied,
			unsigned long long *refused, size_t *prefixes);

#endif /* MP_ENRICH_WATCH_H */
