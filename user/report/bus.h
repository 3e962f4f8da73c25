/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The report bus: closed reports by seq in a bounded history each output reads at its own pace. */
#ifndef MP_BUS_H
#define MP_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One publisher (the thread that closes periods) appends immutable, refcounted reports; every
 * output (stdout, each /collector client, later the pusher and the sinks) is a reader with its
 * own cursor into the history. A reader's queue is the reports after its cursor: when it lags
 * more than its `queue` reports, or a report it has not read leaves the history, that report is
 * lost for it and counted (per reader and per kind). Publishing therefore never waits for an
 * output — except for a `lossless` reader, used only where nothing is live (offline replay).
 * The history (the newest `history` reports, at most `history_bytes`, the newest always kept)
 * is also the replay buffer: a reader may start after any seq it still holds.
 *
 * Threads: every function is thread-safe. Readers are read by one thread each.
 */
struct bus;
struct bus_reader;
struct bus_item;

struct bus_config {
	size_t history; /* reports kept (>= 1) */
	size_t history_bytes; /* and at most these bytes (the newest is always kept); 0 = no cap */
	void (*free_obj)(void *obj); /* frees a report once no one holds it; may be NULL */
};

/* Returns NULL with errno set (EINVAL, ENOMEM). */
struct bus *bus_new(const struct bus_config *cfg);

/* Frees the history. Every reader must be freed first, and no item held. Accepts NULL. */
void bus_free(struct bus *b);

/*
 * Appends obj as report seq (greater than every earlier seq; a skipped seq is a report lost
 * before the bus, and readers are told so). bytes is what obj costs in memory, for the history
 * bound. Then evicts what leaves the history and wakes every reader. Never blocks, except for
 * a lossless reader lagging its whole queue. Ownership of obj passes to the bus in every case.
 * Returns 0, -EINVAL (seq not increasing), -ESHUTDOWN (after bus_close()), -ENOMEM.
 */
int bus_publish(struct bus *b, uint64_t seq, void *obj, size_t bytes);

/* No more reports: readers waiting in bus_read_wait() return -ESHUTDOWN once drained. */
void bus_close(struct bus *b);

/* Where a new reader starts. */
enum bus_start {
	BUS_START_LIVE, /* with the next report published */
	BUS_START_AFTER, /* after seq `since`, from what the history still holds (replay) */
};

struct bus_reader_config {
	const char *kind; /* e.g. "stdout", "collector": drops are totalled per kind (< 16 bytes) */
	unsigned queue; /* reports it may lag before the oldest are lost for it; 0 = whole history */
	bool lossless; /* publishing waits for this reader instead (needs queue >= 1) */
	enum bus_start start;
	uint64_t since; /* BUS_START_AFTER: the last seq the reader already has */
	/*
	 * Called after every publish, in the publisher's thread with the bus lock held: it must
	 * not block nor call the bus (e.g. lws_cancel_service()). NULL: the reader waits in
	 * bus_read_wait() instead.
	 */
	void (*wake)(void *ctx);
	void *ctx;
	const void *owner; /* groups readers for bus_pending(); may be NULL */
};

/*
 * A reader starting as cfg says. Since a seq later than every report of this run (the client
 * followed an earlier run of the process; seqs start over at each start) means from the first
 * report still held. Returns NULL with errno set (EINVAL, ENOMEM, ENOSPC: too many kinds).
 */
struct bus_reader *bus_reader_new(struct bus *b, const struct bus_reader_config *cfg);

/* Accepts NULL. Items it read stay valid until put. */
void bus_reader_free(struct bus_reader *r);

/*
 * The next report for r: 0 with *item (hold it until bus_item_put()) and *lost, the reports
 * this reader will never get between the previous one it read (or its since) and this one.
 * -EAGAIN when there is none yet; -ESHUTDOWN when there is none and the bus is closed.
 */
int bus_read(struct bus_reader *r, struct bus_item **item, uint64_t *lost);

/* bus_read(), waiting up to timeout_ms for a report: also -ETIMEDOUT. */
int bus_read_wait(struct bus_reader *r, struct bus_item **item, uint64_t *lost,
		  unsigned timeout_ms);

void *bus_item_obj(const struct bus_item *it);
uint64_t bus_item_seq(const struct bus_item *it);
/* What the report costs in memory, as given to bus_publish(). */
size_t bus_item_bytes(const struct bus_item *it);
/* Releases a read item; the last holder frees the report. Accepts NULL. */
void bus_item_put(struct bus *b, struct bus_item *it);

/* Reports not yet read by the readers of owner (all readers when owner is NULL). */
uint64_t bus_pending(struct bus *b, const void *owner);

/* Per kind of output, since bus_new(). */
#define BUS_MAX_KINDS 8
#define BUS_KIND_LEN 16
struct bus_kind_stats {
	char kind[BUS_KIND_LEN];
	uint64_t readers; /* readers of this kind now */
	uint64_t dropped; /* reports lost by readers of this kind (lag or history) */
	uint64_t delivered; /* reports read */
};

struct bus_stats {
	uint64_t published;
	uint64_t last_seq; /* 0 before the first report */
	uint64_t oldest_seq; /* oldest report in the history, 0 when empty */
	size_t held; /* reports in the history */
	size_t held_bytes;
	size_t nkinds;
	struct bus_kind_stats kinds[BUS_MAX_KINDS];
};

void bus_get_stats(struct bus *b, struct bus_stats *out);

/*
 * Counts n reports the reader's output lost after reading them (its own bound, e.g. the
 * pusher's spool), with the bus's drops of its kind: they appear in the next report's outputs.
 */
void bus_reader_count_lost(struct bus_reader *r, uint64_t n);

/* Per reader: reports it lost so far, and reports held that it has not read. */
uint64_t bus_reader_dropped(struct bus_reader *r);
uint64_t bus_reader_lag(struct bus_reader *r);

#endif /* MP_BUS_H */
