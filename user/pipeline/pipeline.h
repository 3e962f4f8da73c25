/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The slave's data path after capture: workers, flows, MySQL decoding, templates, event output. */
#ifndef MP_PIPELINE_H
#define MP_PIPELINE_H

#include <stdint.h>
#include <stdio.h>

#include "flow/flow.h"
#include "mysql/mysql_decoder.h"
#include "mysql/query_event.h"
#include "capture/segment.h"
#include "watcher/procs.h"

struct pipeline;

/* Called in a worker thread for every completed statement (templated, addressed). */
typedef void (*pipeline_event_fn)(void *ctx, int worker, const struct query_event *ev);
/* Called in a worker thread for a connection's login and end (mysql_callbacks.on_session). */
typedef void (*pipeline_session_fn)(void *ctx, int worker, const struct mysql_session_event *ev,
				    const struct qe_addr *client);

struct pipeline_config {
	int workers;		 /* >= 2: worker threads; 0 or 1: decode in the caller's thread */
	size_t queue_bytes;	 /* per-worker segment queue */
	struct flow_config flow;
	struct mysql_limits limits;
	size_t template_max_len; /* 0: 4096 */
	FILE *events_out;	 /* --output events: one JSON line per statement, or NULL */
	pipeline_event_fn on_event; /* optional consumer (the aggregator) */
	pipeline_session_fn on_session; /* optional, same ctx */
	void *on_event_ctx;
	/* Optional: the watcher's view of the server's connections (borrowed). Connections the
	 * wire did not introduce get their id, user and db from it; the watcher's own connection
	 * gives no events and counts in no statistic. */
	struct procs *procs;
};

/* Totals over every worker, as of the last pipeline_sync(). */
struct pipeline_counters {
	struct flow_counters flow;
	struct mysql_counters mysql;
	uint64_t worker_waits; /* times the capture thread waited for a full worker queue */
	uint64_t identified;   /* connections given an identity (or a db) by the watcher */
};

/* Starts the workers. Returns NULL with errno set. */
struct pipeline *pipeline_new(const struct pipeline_config *cfg);

/* Routes one segment to its connection's worker (capture thread only). Returns 0 or -errno. */
int pipeline_segment(struct pipeline *p, const struct mp_seg_hdr *h, const __u8 *payload);

/* Ends a capture batch: wakes workers holding segments they were not woken for. */
void pipeline_kick(struct pipeline *p);

/*
 * Waits until every worker has processed what was routed before the call,
 * writes their buffered event lines, expires idle flows (now_ns on the
 * segments' clock, 0 to skip) and refreshes the counters. Returns 0 or -errno.
 */
int pipeline_sync(struct pipeline *p, uint64_t now_ns);

/*
 * pipeline_sync() that also runs fn(ctx, worker) inside each worker once that worker has
 * processed everything routed before the call, in the same barrier as the counter snapshot:
 * what fn sees (e.g. the worker's aggregator) and the counters describe the same statements.
 */
int pipeline_sync_each(struct pipeline *p, uint64_t now_ns, void (*fn)(void *ctx, int worker),
		       void *ctx);

/*
 * From inside fn of pipeline_sync_each() only (that worker's thread): calls fn(ctx, worker,
 * ev) for every statement of the worker's connections still waiting for its response at
 * now_ns (segment clock), templated and addressed, ev->latency_us the time so far.
 */
void pipeline_running(struct pipeline *p, int worker, uint64_t now_ns, pipeline_event_fn fn,
		      void *ctx);

/* Copies the counters gathered by the last pipeline_sync(). */
void pipeline_counters(const struct pipeline *p, struct pipeline_counters *out);

/*
 * Closes every connection (reporting what can be reported: on_event still fires), writes the
 * remaining output and stops the workers. Afterwards pipeline_counters() gives the final
 * totals and no callback runs any more. Idempotent. now_ns (segment clock; 0: the newest
 * segment seen) is when the connections end: requests still waiting for a response are
 * reported unanswered after waiting until then.
 */
void pipeline_close_at(struct pipeline *p, uint64_t now_ns);
/* pipeline_close_at(p, 0). */
void pipeline_close(struct pipeline *p);

/* pipeline_close() if not done yet, then frees. Accepts NULL. */
void pipeline_free(struct pipeline *p);

#endif /* MP_PIPELINE_H */
