/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The slave's reporting side: per-worker aggregators, report periods, reports out. */
#ifndef MP_SLAVE_H
#define MP_SLAVE_H

#include "roles/enrich_watch.h"
#include <stdint.h>
#include <stdio.h>

#include "cli/config.h"
#include "pipeline/pipeline.h"
#include "watcher/watcher.h"
#include "mysql/query_event.h"
#include "capture/segment.h"
#include "net/server.h"
#include "report/bus.h"
#include "capture/source.h"

/*
 * Threads: slave_on_event() runs in the workers, each on its own aggregator (no lock per
 * statement). Everything else runs in the capture thread, except the server callbacks
 * (slave_server_callbacks), which run in the server thread and only read snapshots taken
 * under a lock. Reports flow one way: workers -> period merge -> the report bus, which every
 * output (stdout in a thread of its own, each /collector client) reads at its own pace; the
 * bus's history is the buffer /collector?since= replays.
 */
struct slave;

struct slave_config {
	const struct mp_config *cfg; /* borrowed; must outlive the slave */
	int workers;		     /* the pipeline's worker count */
	FILE *report_out;	     /* -o report/table/auto: the reports, or NULL */
	bool report_table;	     /* report_out gets table_out's table instead of JSON lines */
	int replay;		     /* periods follow segment time instead of the clock */
	const char *mode;	     /* capture mode asked for ("tc", "xdp", "pcap", "file") */
	struct enrich_watch *enrich; /* the IP -> application mapping (borrowed), or NULL */
};

/* Returns NULL with errno set (ENOMEM, EINVAL). */
struct slave *slave_new(const struct slave_config *sc);

/* Accepts NULL. Closes the bus, ends the stdout output; call after server_free(). */
void slave_free(struct slave *s);

/* The bus the slave publishes its reports on (give it to server_new()). */
struct bus *slave_bus(struct slave *s);

/* Waits until stdout has written every report closed so far, or timeout_ms: 0 or -ETIMEDOUT. */
int slave_flush(struct slave *s, unsigned timeout_ms);

/* The callbacks to give server_new() with the slave as ctx. */
extern const struct server_callbacks slave_server_callbacks;

/* Wires the parts the slave reads from (borrowed). Call once, before the first segment. From
 * then on /status reports source_name(src), the mode in use after any fallback, beside the
 * mode asked for. */
void slave_attach(struct slave *s, struct pipeline *pl, struct source *src);

/* The watcher whose counters /metrics and /status show (NULL: none). Accepts a NULL slave.
 * Clear it before stopping the watcher. */
void slave_set_watcher(struct slave *s, struct watcher *w);

/* pipeline_session_fn: counts a login or a connection's end in worker's aggregator. */
void slave_on_session(void *ctx, int worker, const struct mysql_session_event *ev,
		      const struct qe_addr *client);

/* pipeline_event_fn: counts one statement in worker's aggregator. */
void slave_on_event(void *ctx, int worker, const struct query_event *ev);

/*
 * seg_sink: counts the segment and routes it to the pipeline. In replay mode a segment past
 * the period's end first closes the period (and any empty ones after it). Returns 0 or -errno.
 */
int slave_sink(void *ctx, const struct mp_seg_hdr *h, const __u8 *payload);

/* Wall clock, ms since the epoch: the clock live periods follow. */
uint64_t slave_now_ms(void);

/* Live mode: milliseconds until the current period ends (0 when it is due). */
unsigned slave_ms_to_period_end(const struct slave *s, uint64_t now_ms);

/* Live mode: closes the period if now_ms reached its end. Returns 0 or -errno. */
int slave_tick(struct slave *s, uint64_t now_ms);

/* Copies the counters behind /metrics and the period report into the snapshot the server
 * thread reads (call after pipeline_sync()). */
void slave_snapshot(struct slave *s);

/*
 * The capture loop did not run from from_ms to to_ms (wall clock): the process was stopped,
 * starved or busy. Each report says how much of its period that covered
 * (capture.stalled_ms). Capture thread.
 */
void slave_stalled(struct slave *s, uint64_t from_ms, uint64_t to_ms);

/*
 * The final, partial period: call after pipeline_close() (every connection closed, every
 * event counted). end_ms 0 = now (live) or the last segment's time (replay). Publishes it
 * on the bus. Returns 0 or -errno.
 */
int slave_finish(struct slave *s, uint64_t end_ms);

#endif /* MP_SLAVE_H */
