/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The slave's state, shared by slave.c (periods, reports) and slave_http.c (server side). */
#ifndef MP_SLAVE_INT_H
#define MP_SLAVE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "report/agg.h"
#include "report/bus.h"
#include "lib/jbuf.h"
#include "report/report.h"
#include "roles/role_report.h"
#include "roles/slave.h"
#include "roles/sink_outs.h"
#include "roles/stdout_out.h"


/* Cumulative counters, as of the last snapshot; what /metrics and /status show. */
struct slave_totals {
	__u64 cap[MP_CNT_MAX];		/* the source's counters */
	struct pipeline_counters pl;	/* flows and decoder */
	uint64_t packets, bytes;	/* segments and payload bytes delivered */
	uint64_t reports;		/* periods closed */
	uint64_t statements;		/* statements in closed periods */
	uint64_t keys_overflow, slow_dropped;
	/* Connections and logins in closed periods (the reports' "connections", summed). */
	struct sess_row logins;
	uint64_t period_ms;
	/* Live BPF sources: each device and whether it is attached now; ndevs < 0: not known. */
	struct source_dev devs[SRC_MAX_DEVICES];
	int ndevs;
};

#define SLAVE_MAX_STALLS 16

/* Per worker, written by that worker only: when its current period started, and statements
 * that completed before that (they came after their own period was closed). */
struct slave_worker {
	uint64_t start_ms;
	uint64_t late;
};

struct slave {
	struct slave_config sc;
	struct watcher *watcher; /* live with watcher.uname, or NULL; under snap_lock */
	struct agg_config acfg;
	struct pipeline *pl;
	struct source *src;
	struct bus *bus; /* closed reports to every output; its history is the replay buffer */
	struct stdout_out *out; /* -o report, or NULL */
	struct sink_outs *sinks; /* sinks.*: ClickHouse, Kafka */
	char node[256];

	/* Per worker: the aggregator the worker fills and a spare, swapped at period end. */
	struct agg **cur;
	struct agg **spare;
	struct slave_worker *w;
	uint64_t late_reported; /* sum of w[].late at the last report */
	struct agg *merge; /* capture thread: the workers' rows meet here, reused every period */
	unsigned int keys; /* report.keys (agg_dim bits) */

	/* Capture thread only. */
	uint64_t period_ms;
	uint64_t start_ms, end_ms; /* current period; end_ms 0 until the first segment (replay) */
	/* Times the capture loop did not run (slave_stalled()), not yet reported. */
	struct { uint64_t from_ms, to_ms; } stalls[SLAVE_MAX_STALLS];
	int nstalls;
	uint64_t last_seg_ms;
	uint64_t packets, bytes;
	struct slave_totals prev;  /* totals at the start of the current period */
	struct slave_totals now;
	uint64_t seq; /* of the last report closed: 1 for the first of this run */
	uint64_t kind_dropped[BUS_MAX_KINDS]; /* bus drops per kind at the last report */

	/* Set by the server thread (/config/update), applied from the next period. */
	atomic_uint next_period_ms;

	/* Server thread reads, capture thread writes. */
	pthread_mutex_t snap_lock;
	struct slave_totals snap;
	const char *mode_in_use;   /* source_name() once attached, NULL before */
	uint64_t started_ms;
	/* started_ms in reports: the process start live, the first segment's time in a replay */
	uint64_t incarnation_ms;
	struct role_wire wire;	   /* capture thread: renders each report for the clients */
};

/* Accepts NULL. */
void slave_report_free(struct slave_report *r);
/* Reports ever closed, the last seq, the buffer's size: for /metrics and /status. */
void slave_bus_stats(struct slave *s, struct bus_stats *out);

#endif /* MP_SLAVE_INT_H */
