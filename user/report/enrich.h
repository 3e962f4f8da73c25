/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* IP -> application enrichment: a CIDR table (longest prefix wins) and its text format. */
#ifndef MP_ENRICH_H
#define MP_ENRICH_H

#include <stddef.h>
#include <stdint.h>

/*
 * The text format, of enrich.file and of a POST /enrich/update body, one mapping a line:
 *
 *   # comment (from '#' to the end of the line)
 *   10.1.0.0/16      flight.search
 *   10.1.2.3         flight.admin      (no /len: one address, /32 or /128)
 *   2001:db8::/32    hotel.api
 *
 * Blank lines are skipped. APP is 1..ENRICH_APP_MAX bytes of printable UTF-8 without
 * spaces, '"' or '\'. A prefix with bits set past its length ("10.1.2.3/16") is refused rather
 * than silently cut: it usually means a typo. In a patch, APP "-" removes the prefix.
 */
#define ENRICH_APP_MAX 64
#define ENRICH_MAX_ENTRIES (1u << 20)

/* An immutable table; shared between threads by reference count (enrich_ref/enrich_put). */
struct enrich;

/*
 * Parses text (len bytes; need not be NUL-terminated) into a new table. name is what error
 * messages start with (the file's path, or "body"). patch != 0 allows APP "-" (delete).
 * Returns 0 with *out set (refcount 1), -EINVAL with "name:line: reason" in err, or -ENOMEM.
 */
int enrich_parse(const char *text, size_t len, const char *name, int patch, struct enrich **out,
		 char *err, size_t errlen);
/* Reads and parses a file. Returns as enrich_parse, or -errno of the read ("path: reason"). */
int enrich_load_file(const char *path, struct enrich **out, char *err, size_t errlen);
/*
 * A new table: base (may be NULL) with every line of patch applied: a prefix's app is set,
 * or, for "-", the prefix removed. Returns 0 with *out set, or -ENOMEM / -E2BIG (too many).
 */
int enrich_apply(const struct enrich *base, const struct enrich *patch, struct enrich **out);
/* An empty table (no prefix matches). NULL on ENOMEM. */
struct enrich *enrich_empty(void);

/* Takes a reference. Accepts NULL (returns NULL). */
struct enrich *enrich_ref(struct enrich *e);
/* Drops a reference, freeing the table with the last. Accepts NULL. */
void enrich_put(struct enrich *e);

/*
 * The application of an address (family AF_INET: 4 bytes at addr, AF_INET6: 16; a v4-mapped
 * v6 address is looked up as IPv4): the app of the longest prefix that contains it, with its
 * length in *len, or NULL when none does. Lock-free; e may be NULL (no match).
 */
const char *enrich_lookup(const struct enrich *e, uint8_t family, const uint8_t *addr,
			  size_t *len);
/* Prefixes in the table. */
size_t enrich_count(const struct enrich *e);

#endif /* MP_ENRICH_H */
