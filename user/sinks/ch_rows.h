/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A report as ClickHouse rows: JSONEachRow lines for the metrics and slow tables, and their DDL. */
#ifndef MP_CH_ROWS_H
#define MP_CH_ROWS_H

#include <stddef.h>

#include "lib/jbuf.h"
#include "report/agg.h"
#include "report/report.h"

/*
 * Every row carries (agent, started_ms, seq, row_no): the report's identity and the row's
 * place in it. The tables are ReplacingMergeTree ordered by exactly that, so a batch sent twice
 * (a retry after a timeout that had in fact succeeded, a spool replayed) collapses to one copy
 * under FINAL. The same report always yields the same rows in the same order, so a retry
 * re-derives the same row_no.
 *
 * Pure functions: no I/O, no globals.
 */

/* Appends one JSON line per stats row (the "other" rows last). Returns the rows written. */
size_t ch_rows_metrics(struct jbuf *b, const struct report_header *h, const struct agg *a);
/* Appends one JSON line per slow sample. Returns the rows written. */
size_t ch_rows_slow(struct jbuf *b, const struct report_header *h, const struct agg *a);

enum ch_table { CH_TABLE_METRICS = 0, CH_TABLE_SLOW = 1 };
#define CH_TABLES 2

/* "metrics" or "slow". */
const char *ch_table_name(enum ch_table t);

/* CREATE DATABASE / CREATE TABLE IF NOT EXISTS statements for db (18.16-compatible). */
int ch_ddl_database(struct buf *out, const char *db);
int ch_ddl_table(struct buf *out, const char *db, enum ch_table t);

#endif /* MP_CH_ROWS_H */
