// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* enrich.file: the mapping in force, reloaded when the file changes, patched by POST. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/ticker.h"
#include "roles/enrich_watch.h"

#define POLL_MS 1000

/* What tells a changed file: a rename gives a new inode, an edit a new size or time. */
struct file_id {
	bool exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

struct enrich_watch {
	char *path; /* NULL: no file */
	pthread_mutex_t lock; /* guards cur and the counters */
	struct enrich *cur;
	unsigned long long applied, refused;

	pthread_t thread;
	bool running;
	struct ticker tick; /* the poller's wait; stopped by enrich_watch_free() */
	struct file_id last; /* poller only */
	int last_errno; /* poller only: the stat error last logged */
};

static void file_id_of(const char *path, struct file_id *id, int *err)
{
	struct stat st;

	memset(id, 0, sizeof(*id));
	*err = 0;
	if (stat(path, &st)) {
		*err = errno;
		return;
	}
	id->exists = true;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	id->size = st.st_size;
	id->mtime = st.st_mtim;
	id->ctime = st.st_ctim;
}

static bool file_id_eq(const struct file_id *a, const struct file_id *b)
{
	return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
	       a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec && a->ctime.tv_sec == b->ctime.tv_sec &&
	       a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static void put_in_force(struct enrich_watch *w, struct enrich *e)
{
	struct enrich *old;

	pthread_mutex_lock(&w->lock);
	old = w->cur;
	w->cur = e;
	w->applied++;
	pthread_mutex_unlock(&w->lock);
	enrich_put(old);
}

/* One poll: reload when the file changed. */
static void poll_once(struct enrich_watch *w)
{
	struct file_id id;
	struct enrich *e;
	char err[320];
	int serr, ret;

	file_id_of(w->path, &id, &serr);
	if (file_id_eq(&id, &w->last) && serr == w->last_errno)
		return;
	w->last = id;
	if (serr) {
		if (serr != w->last_errno)
			pr_warn("enrich: %s: %s; the previous mapping stays in force\n", w->path,
				strerror(serr));
		w->last_errno = serr;
		return;
	}
	w->last_errno = 0;
	ret = enrich_load_file(w->path, &e, err, sizeof(err));
	if (ret) {
		pthread_mutex_lock(&w->lock);
		w->refused++;
		pthread_mutex_unlock(&w->lock);
		pr_warn("enrich: %s; the previous mapping stays in force\n",
			ret == -ENOMEM ? "out of memory" : err);
		return;
	}
	pr_info("enrich: %s: %zu prefixes, in force from the next period\n", w->path,
		enrich_count(e));
	put_in_force(w, e);
}

static void *poller(void *arg)
{
	struct enrich_watch *w = arg;

	while (!ticker_wait_until_or_stop(&w->tick, mono_ms() + POLL_MS))
		poll_once(w);
	return NULL;
}

struct enrich_watch *enrich_watch_new(const char *path, char *err, size_t errlen)
{
	struct enrich_watch *w = calloc(1, sizeof(*w));
	int serr, ret;

	if (!w)
		return NULL;
	pthread_mutex_init(&w->lock, NULL);
	ret = ticker_init(&w->tick);
	if (ret) {
		pthread_mutex_destroy(&w->lock);
		free(w);
		errno = -ret;
		return NULL;
	}
	if (!path || !*path) {
		w->cur = enrich_empty();
		if (!w->cur)
			goto nomem;
		return w;
	}
	w->path = strdup(path);
	if (!w->path)
		goto nomem;
	/* The identity first: a change between it and the read is seen at the first poll. */
	file_id_of(path, &w->last, &serr);
	ret = enrich_load_file(path, &w->cur, err, errlen);
	if (ret) {
		enrich_watch_free(w);
		errno = -ret;
		return NULL;
	}
	w->applied = 1;
	ret = pthread_create(&w->thread, NULL, poller, w);
	if (ret) {
		enrich_watch_free(w);
		errno = ret;
		return NULL;
	}
	w->running = true;
	return w;
nomem:
	enrich_watch_free(w);
	errno = ENOMEM;
	return NULL;
}

void enrich_watch_free(struct enrich_watch *w)
{
	if (!w)
		return;
	if (w->running) {
		ticker_stop(&w->tick);
		pthread_join(w->thread, NULL);
	}
	enrich_put(w->cur);
	ticker_destroy(&w->tick);
	pthread_mutex_destroy(&w->lock);
	free(w->path);
	free(w);
}

struct enrich *enrich_watch_get(struct enrich_watch *w)
{
	struct enrich *e;

	if (!w)
		return NULL;
	pthread_mutex_lock(&w->lock);
	e = enrich_ref(w->cur);
	pthread_mutex_unlock(&w->lock);
	return e;
}

int enrich_watch_patch(struct enrich_watch *w, const char *body, size_t len, struct buf *out)
{
	struct enrich *patch, *base, *e;
	char err[320];
	size_t n = 0;
	int ret;

	ret = enrich_parse(body, len, "body", 1, &patch, err, sizeof(err));
	if (ret)
		return ret == -EINVAL ? buf_puts(out, err) ?: -EINVAL : ret;
	/* Under the lock: two patches at once must not both start from the same base. */
	pthread_mutex_lock(&w->lock);
	base = w->cur;
	ret = enrich_apply(base, patch, &e);
	if (!ret) {
		w->cur = e;
		w->applied++;
		n = enrich_count(e);
	}
	pthread_mutex_unlock(&w->lock);
	enrich_put(patch);
	if (ret == -E2BIG)
		return buf_printf(out, "more than %u prefixes", ENRICH_MAX_ENTRIES) ?: -E2BIG;
	if (ret)
		return ret;
	enrich_put(base);
	pr_info("enrich: POST /enrich/update: %zu prefixes, in force from the next period\n", n);
	return buf_printf(out, "\"prefixes\":%zu,\"applies\":\"from the next period\"", n);
}

void enrich_watch_stats(struct enrich_watch *w, unsigned long long *applied,
			unsigned long long *refused, size_t *prefixes)
{
	pthread_mutex_lock(&w->lock);
	*applied = w->applied;
	*refused = w->refused;
	*prefixes = enrich_count(w->cur);
	pthread_mutex_unlock(&w->lock);
}
