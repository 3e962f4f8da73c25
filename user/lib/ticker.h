/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A worker thread's sleep until its next tick, which another thread can cut short to stop it. */
#ifndef MP_TICKER_H
#define MP_TICKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * One sleeping thread, any number of stoppers. The condition variable waits on
 * CLOCK_MONOTONIC, so deadlines are lib/clock.h's mono_ms() and a step of the wall clock
 * never stretches a sleep. Embed it; its fields are the ticker's own.
 */
struct ticker {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
};

/* Sets t up, not stopped. Returns 0 or -errno. */
int ticker_init(struct ticker *t);
/*
 * Sleeps until mono_ms() reaches until_ms (a deadline already past, e.g. 0, does not sleep)
 * or ticker_stop() is called. Returns true once stopped, also when it was before the call.
 */
bool ticker_wait_until_or_stop(struct ticker *t, uint64_t until_ms);
/* Wakes the sleeper for good: this and every later wait return true. Thread-safe. */
void ticker_stop(struct ticker *t);
/* Frees what ticker_init() set up; nobody may wait on t any more (join the thread first). */
void ticker_destroy(struct ticker *t);

#endif /* MP_TICKER_H */
