/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What `mysqlprobe top` shows: the last reports, ranked per template and command (no I/O). */
#ifndef MP_TOP_MODEL_H
#define MP_TOP_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "report/agg.h"
#include "report/report.h"

/* Reports kept: the window the numbers cover, as the dashboard's default. */
#define TOP_KEEP 60
#define TOP_FILTER_MAX 128

enum top_sort { TOP_SORT_LOAD, TOP_SORT_COUNT, TOP_SORT_P99, TOP_SORT_ERRORS };

/* One line of the overview: every row of one (template, command) over the window. */
struct top_row {
	const struct agg_stat *s; /* merged: counts, histogram, error codes; owned by the model */
	const char *text; /* template text, or NULL when never received */
	double load; /* total latency / window: statements in flight on average */
	double rate; /* per second */
	double mean_us;
	uint64_t p99_us;
	uint64_t rows; /* rows sent + rows affected */
};

/* Sums over the window (health). */
struct top_health {
	size_t periods, complete; /* complete: no drop, gap, stall or detached device */
	struct report_capture c;
	uint64_t lost; /* reports this client never got */
};

/*
 * Single-threaded: the caller serialises top_model_add() (report thread) and the readers (UI)
 * with its own lock. Rows and the last header stay valid until the next add or view call.
 */
struct top_model;

/* Returns NULL with errno set. */
struct top_model *top_model_new(void);
void top_model_free(struct top_model *m);

/* Keeps a copy of one report (the oldest beyond TOP_KEEP goes). Returns 0 or -ENOMEM. */
int top_model_add(struct top_model *m, const struct report_header *h,
		  const struct report_capture *c, const struct agg *a);

/*
 * Rebuilds the view: rows whose template text, db, user or client contains filter (NULL or ""
 * = all), grouped by (template, command) over the window, ranked by sort (ties: count, then
 * id). Returns 0 or -ENOMEM.
 */
int top_model_view(struct top_model *m, enum top_sort sort, const char *filter);
size_t top_model_rows(const struct top_model *m);
const struct top_row *top_model_row(const struct top_model *m, size_t i);
/* Slow samples of the window of one template (newest last), i < top_model_slow_count(). */
size_t top_model_slow(const struct top_model *m, uint64_t template_id,
		      const struct agg_slow **out, size_t max);
void top_model_health(const struct top_model *m, struct top_health *out);
/* The newest report's header, or NULL before the first. */
const struct report_header *top_model_last(const struct top_model *m);
/* Window length in seconds (sum of the kept periods). */
double top_model_seconds(const struct top_model *m);

#endif /* MP_TOP_MODEL_H */
