/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* At most one log line per minute for a recurring sink problem, with how many were not said. */
#ifndef MP_RATELOG_H
#define MP_RATELOG_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/clock.h"

#define RATELOG_INTERVAL_MS 60000

/* One per kind of problem, used by one thread. A zeroed struct says the first one at once. */
struct ratelog {
	uint64_t last_ms; /* mono_ms() of the last line said; 0 = never */
	uint64_t quiet; /* occurrences not said since */
};

/* Whether to say this occurrence; *quiet gets how many were not said before it. */
static inline bool ratelog_due(struct ratelog *r, uint64_t *quiet)
{
	uint64_t now = mono_ms();

	if (r->last_ms && now - r->last_ms < RATELOG_INTERVAL_MS) {
		r->quiet++;
		return false;
	}
	*quiet = r->quiet;
	r->quiet = 0;
	r->last_ms = now ? now : 1;
	return true;
}

#endif /* MP_RATELOG_H */
