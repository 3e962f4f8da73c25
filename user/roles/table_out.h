/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A period's report as a short table for a person at a terminal (-o table, or a tty). */
#ifndef MP_TABLE_OUT_H
#define MP_TABLE_OUT_H

#include "lib/buf.h"
#include "report/agg.h"
#include "report/report.h"

/* Templates shown per period: the rest are summed up in one line. */
#define TABLE_OUT_ROWS 10
/* Narrower terminals still get whole numbers; only the template text is cut. */
#define TABLE_OUT_MIN_WIDTH 60

/*
 * Appends one report: a title line (period, statements, rate), the templates with the most
 * load (total latency / period) with count, count/s, mean, p99 and errors, one line of
 * capture health, and an empty line. No line is wider than width columns (at least
 * TABLE_OUT_MIN_WIDTH). Returns 0 or -ENOMEM (out may hold part of the table).
 */
int table_out_write(struct buf *out, const struct report_header *h,
		    const struct report_capture *c, const struct agg *a, unsigned width);

#endif /* MP_TABLE_OUT_H */
