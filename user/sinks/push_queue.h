/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The pusher's queue: the newest reports in memory, the older ones in a bounded spool. */
#ifndef MP_PUSH_QUEUE_H
#define MP_PUSH_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/*
 * A FIFO of (seq, message). The newest mem_max messages stay in memory; older ones move to a
 * spool (sinks/spool.c: files in dir, or memory without one) bounded by spool_bytes. Whatever
 * is spooled is older than whatever is in memory, so the head is the spool's oldest while
 * there is one. Past the bound the oldest messages are dropped, and counted.
 *
 * Threads: one thread uses a queue; push_queue_len() may be read from any.
 */
struct push_queue;

/* dir NULL or "": the spool is in memory. A dir holding a previous run's messages queues them
 * first. NULL with errno set. */
struct push_queue *push_queue_open(const char *dir, uint64_t spool_bytes, size_t mem_max);

/* With a dir, the messages in memory are spooled first (for the next start) when they fit.
 * Returns the messages lost (not kept). Accepts NULL. */
uint64_t push_queue_close(struct push_queue *q);

/* Appends a message (copied). Returns the messages dropped at the bounds to make room (the
 * oldest; possibly this one when it cannot fit at all), or -ENOMEM. */
int push_queue_put(struct push_queue *q, uint64_t seq, const void *data, size_t len);

/* The oldest message: 0 with *seq and msg (replaced), -ENOENT when empty, or a read error (the
 * message is then unreadable: pop it). */
int push_queue_peek(struct push_queue *q, uint64_t *seq, struct buf *msg);

/* Drops the oldest message. */
void push_queue_pop(struct push_queue *q);

/* Messages waiting (memory and spool), and the spool's bytes. */
uint64_t push_queue_len(const struct push_queue *q);
uint64_t push_queue_spool_bytes(const struct push_queue *q);

#endif /* MP_PUSH_QUEUE_H */
