// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A worker thread's sleep until its next tick, which another thread can cut short to stop it. */
#include <errno.h>
#include <time.h>

#include "lib/ticker.h"

int ticker_init(struct ticker *t)
{
	pthread_condattr_t ca;
	int err;

	t->stop = false;
	err = pthread_condattr_init(&ca);
	if (err)
		return -err;
	/* The deadlines are mono_ms(): the wait must measure on the same clock. */
	err = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (!err)
		err = pthread_cond_init(&t->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (err)
		return -err;
	err = pthread_mutex_init(&t->lock, NULL);
	if (err) {
		pthread_cond_destroy(&t->cond);
		return -err;
	}
	return 0;
}

bool ticker_wait_until_or_stop(struct ticker *t, uint64_t until_ms)
{
	struct timespec ts = {
		.tv_sec = (time_t)(until_ms / 1000),
		.tv_nsec = (long)(until_ms % 1000) * 1000000,
	};
	bool stop;

	pthread_mutex_lock(&t->lock);
	/* A spurious wake-up sleeps again; only the deadline (ETIMEDOUT) or the stop ends it. */
	while (!t->stop && !pthread_cond_timedwait(&t->cond, &t->lock, &ts))
		;
	stop = t->stop;
	pthread_mutex_unlock(&t->lock);
	return stop;
}

void ticker_stop(struct ticker *t)
{
	pthread_mutex_lock(&t->lock);
	t->stop = true;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

void ticker_destroy(struct ticker *t)
{
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
}
