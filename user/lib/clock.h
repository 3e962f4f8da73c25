/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The monotonic clock in milliseconds: for timeouts, intervals and rate limits, never dates. */
#ifndef MP_CLOCK_H
#define MP_CLOCK_H

#include <stdint.h>
#include <time.h>

/*
 * Milliseconds of CLOCK_MONOTONIC: steps of the wall clock (NTP, date -s) never stretch or
 * cut a wait. Its zero is arbitrary (about the boot): only differences mean anything.
 * Thread-safe.
 */
static inline uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#endif /* MP_CLOCK_H */
