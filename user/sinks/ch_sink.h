/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The ClickHouse sink: a report bus output that inserts rows over HTTP (libcurl) in its own thread. */
#ifndef MP_CH_SINK_H
#define MP_CH_SINK_H

#include <stdint.h>

#include "lib/buf.h"
#include "report/agg.h"
#include "report/bus.h"
#include "report/report.h"

/*
 * Reads every report from the bus (its own reader, kind "clickhouse") and turns it into rows
 * of the metrics and slow tables (sinks/ch_rows.h). Rows wait in one batch per table until
 * it holds batch_rows rows or is flush_ms old; then one INSERT ... FORMAT JSONEachRow is sent,
 * never two at once. A failed insert (unreachable, HTTP error, timeout) puts the batch in the
 * spool and starts a backoff (0.5 s doubling to 30 s); while the spool is not empty new
 * batches queue behind it, and it is replayed oldest first once an insert succeeds again.
 * A full spool drops the batch, counted. Problems are logged at most once a minute each.
 *
 * Retries may deliver a batch twice (an insert that timed out after ClickHouse stored it):
 * the tables are ReplacingMergeTree keyed on each row's identity, so SELECT ... FINAL sees
 * every row once.
 *
 * The thread alone talks to ClickHouse: a slow or dead server delays nothing but this sink,
 * whose bus reader loses reports (counted by the bus) only when it lags `queue` reports,
 * which a stalled insert cannot cause since the thread keeps reading while it backs off.
 */
struct ch_sink;

struct ch_sink_config {
	const char *url; /* http://host:8123/ (query parameters kept) */
	const char *database; /* [A-Za-z0-9_]+; created if missing */
	const char *user; /* "" = ClickHouse's default user */
	const char *password; /* secret: never logged */
	const char *spool_dir; /* "" = in memory */
	uint64_t spool_bytes;
	unsigned batch_rows; /* send when a table's batch has this many rows (>= 1) */
	unsigned flush_ms; /* or when its oldest row waited this long */
	unsigned queue; /* reports the bus reader may lag */
	/* The report's header and aggregator from a bus object (the role owns the type). */
	const struct agg *(*view)(const void *report, const struct report_header **h);
};

/* Starts the thread. Returns NULL with errno set (EINVAL for a bad url or database). */
struct ch_sink *ch_sink_new(struct bus *b, const struct ch_sink_config *cfg);

/*
 * Sends every row of the reports published so far (batches are cut at once), waiting up to
 * timeout_ms. Returns 0, or -ETIMEDOUT (what is left stays in the spool).
 */
int ch_sink_flush(struct ch_sink *k, unsigned timeout_ms);

/*
 * Call after bus_close() (and ch_sink_flush(), the bounded wait): ends the thread at once,
 * spooling what is left. What was not delivered stays in a spool directory for the next
 * start; returns the rows lost (an in-memory spool's, and every dropped row). Accepts NULL.
 */
uint64_t ch_sink_free(struct ch_sink *k);

/* Appends the sink's Prometheus counters to out. Returns 0 or -ENOMEM. Any thread. */
int ch_sink_metrics(struct ch_sink *k, struct buf *out);

#endif /* MP_CH_SINK_H */
