/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A bounded FIFO of batches waiting for a sink: files in a directory, or memory without one. */
#ifndef MP_SPOOL_H
#define MP_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/*
 * Each batch is one file "<16 hex digits of order>.<table>.<rows>" written to a temporary
 * name and renamed, so a crash leaves whole batches only; a spool reopened on the same
 * directory (the next start) finds them in their order and replays them. Without a
 * directory the batches stay in memory under the same byte bound (lost at exit).
 *
 * Threads: one thread uses a spool; spool_bytes() and spool_batches() may be read from any.
 */
struct spool;

/* dir NULL or "": in memory. Creates dir (0700) if missing. NULL with errno set. */
struct spool *spool_open(const char *dir, uint64_t max_bytes);
/* Accepts NULL. Files stay for the next start. */
void spool_close(struct spool *s);

/*
 * Appends a batch of rows for table (a short name of [a-z_]). Returns 0, -ENOSPC when it
 * would pass the bound (nothing kept), -EINVAL, -ENOMEM or a write error.
 */
int spool_put(struct spool *s, const char *table, size_t rows, const void *data, size_t len);

/* The oldest batch: its table (valid until spool_pop), rows and data (replaced in *data).
 * Returns 0, -ENOENT when empty, or a read error (the batch is then dropped: spool_pop). */
int spool_peek(struct spool *s, const char **table, size_t *rows, struct buf *data);
/* Removes the oldest batch. Returns its rows (0 when empty). */
size_t spool_pop(struct spool *s);

uint64_t spool_bytes(const struct spool *s);
uint64_t spool_batches(const struct spool *s);
/* Rows in the spool now. */
uint64_t spool_rows(const struct spool *s);

#endif /* MP_SPOOL_H */
