// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A bounded FIFO of batches waiting for a sink: files in a directory, or memory without one. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sinks/spool.h"

#define SPOOL_TABLE_MAX 32

struct spool_entry {
	uint64_t order;
	char table[SPOOL_TABLE_MAX];
	size_t rows;
	size_t len;
	char *mem; /* in-memory spool only */
};

struct spool {
	char *dir; /* NULL: in memory */
	uint64_t max_bytes;
	uint64_t next_order;
	struct spool_entry *v; /* a ring would save memmoves; a spool is tens of batches */
	size_t n, cap;
	_Atomic uint64_t bytes, rows;
};

static int entry_push(struct spool *s, const struct spool_entry *e)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		struct spool_entry *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = *e;
	atomic_fetch_add(&s->bytes, e->len);
	atomic_fetch_add(&s->rows, e->rows);
	return 0;
}

static int entry_cmp(const void *x, const void *y)
{
	const struct spool_entry *a = x, *b = y;

	return a->order < b->order ? -1 : a->order > b->order;
}

static void entry_path(const struct spool *s, const struct spool_entry *e, char *out, size_t len)
{
	snprintf(out, len, "%s/%016" PRIx64 ".%s.%zu", s->dir, e->order, e->table, e->rows);
}

/* A name this spool wrote: order.table.rows. Others (temporaries, strangers) are ignored. */
static int parse_name(const char *name, struct spool_entry *e)
{
	char table[SPOOL_TABLE_MAX];
	unsigned long long order;
	size_t rows;
	int end = 0;

	if (sscanf(name, "%16llx.%31[a-z_].%zu%n", &order, table, &rows, &end) != 3 ||
	    name[end] || strlen(name) < 16)
		return -EINVAL;
	e->order = order;
	snprintf(e->table, sizeof(e->table), "%s", table);
	e->rows = rows;
	return 0;
}

static int scan(struct spool *s)
{
	DIR *d = opendir(s->dir);
	struct dirent *de;
	int err = 0;

	if (!d)
		return -errno;
	while (!err && (de = readdir(d))) {
		struct spool_entry e = { 0 };
		struct stat st;

		if (parse_name(de->d_name, &e) || fstatat(dirfd(d), de->d_name, &st, 0))
			continue;
		e.len = (size_t)st.st_size;
		err = entry_push(s, &e);
		if (e.order >= s->next_order)
			s->next_order = e.order + 1;
	}
	closedir(d);
	if (s->n) /* qsort wants a pointer even for no entries */
		qsort(s->v, s->n, sizeof(*s->v), entry_cmp);
	return err;
}

struct spool *spool_open(const char *dir, uint64_t max_bytes)
{
	struct spool *s = calloc(1, sizeof(*s));
	int err = -ENOMEM;

	if (!s)
		return NULL;
	s->max_bytes = max_bytes;
	if (dir && *dir) {
		s->dir = strdup(dir);
		if (!s->dir)
			goto fail;
		if (mkdir(dir, 0700) && errno != EEXIST) {
			err = -errno;
			goto fail;
		}
		err = scan(s);
		if (err)
			goto fail;
	}
	return s;
fail:
	spool_close(s);
	errno = -err;
	return NULL;
}

void spool_close(struct spool *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].mem);
	free(s->v);
	free(s->dir);
	free(s);
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Write to a temporary, then rename: a crash never leaves half a batch under a batch name. */
static int put_file(struct spool *s, const struct spool_entry *e, const void *data)
{
	char path[4096], tmp[4200];
	int fd, err;

	entry_path(s, e, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s/.tmp-%016" PRIx64, s->dir, e->order);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	err = write_all(fd, data, e->len);
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

int spool_put(struct spool *s, const char *table, size_t rows, const void *data, size_t len)
{
	struct spool_entry e = { .order = s->next_order, .rows = rows, .len = len };
	int err;

	if (!*table || strlen(table) >= sizeof(e.table) || strspn(table, "abcdefghijklmnopqrstuvwxyz_") != strlen(table))
		return -EINVAL;
	if (atomic_load(&s->bytes) + len > s->max_bytes)
		return -ENOSPC;
	snprintf(e.table, sizeof(e.table), "%s", table);
	if (s->dir) {
		err = put_file(s, &e, data);
	} else {
		e.mem = malloc(len ? len : 1);
		err = e.mem ? 0 : -ENOMEM;
		if (e.mem)
			memcpy(e.mem, data, len);
	}
	if (!err)
		err = entry_push(s, &e);
	if (err) {
		free(e.mem);
		return err;
	}
	s->next_order++;
	return 0;
}

static int read_file(const char *path, size_t len, struct buf *data)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		return -errno;
	buf_reset(data);
	err = buf_reserve(data, len);
	while (!err && data->len < len) {
		ssize_t r = read(fd, data->data + data->len, len - data->len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = r < 0 ? -errno : -EIO;
			break;
		}
		data->len += (size_t)r;
	}
	close(fd);
	if (!err)
		data->data[data->len] = '\0';
	return err;
}

int spool_peek(struct spool *s, const char **table, size_t *rows, struct buf *data)
{
	const struct spool_entry *e;
	char path[4096];

	if (!s->n)
		return -ENOENT;
	e = &s->v[0];
	*table = e->table;
	*rows = e->rows;
	if (!s->dir) {
		buf_reset(data);
		return buf_append(data, e->mem, e->len);
	}
	entry_path(s, e, path, sizeof(path));
	return read_file(path, e->len, data);
}

size_t spool_pop(struct spool *s)
{
	struct spool_entry e;
	char path[4096];

	if (!s->n)
		return 0;
	e = s->v[0];
	if (s->dir) {
		entry_path(s, &e, path, sizeof(path));
		unlink(path);
	}
	free(e.mem);
	memmove(s->v, s->v + 1, (s->n - 1) * sizeof(*s->v));
	s->n--;
	atomic_fetch_sub(&s->bytes, e.len);
	atomic_fetch_sub(&s->rows, e.rows);
	return e.rows;
}

uint64_t spool_bytes(const struct spool *s)
{
	return atomic_load(&((struct spool *)s)->bytes);
}

uint64_t spool_rows(const struct spool *s)
{
	return atomic_load(&((struct spool *)s)->rows);
}

uint64_t spool_batches(const struct spool *s)
{
	/* n belongs to the spool's thread: another thread reads it as a gauge only. */
	return __atomic_load_n(&s->n, __ATOMIC_RELAXED);
}
