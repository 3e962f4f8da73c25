/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The stdout output: a bus reader in its own thread, one JSON line (or a table) per report. */
#ifndef MP_STDOUT_OUT_H
#define MP_STDOUT_OUT_H

#include <stdbool.h>
#include <stdio.h>

#include "report/bus.h"

/*
 * Live, a stuck stdout (a full pipe nobody reads) loses reports once it lags STDOUT_OUT_QUEUE
 * of them, counted under the bus kind "stdout"; it never holds back the period clock. Offline
 * (replay) nothing is live to protect, so it is lossless: publishing waits for it.
 * The bus's objects must be struct slave_report.
 */
#define STDOUT_OUT_QUEUE 16

struct stdout_out;

/*
 * Starts the thread. table: each report as table_out's table for a person (-o table, or
 * -o auto on a terminal) instead of one JSON line. Returns NULL with errno set.
 */
struct stdout_out *stdout_out_new(struct bus *b, FILE *f, bool lossless, bool table);

/* Waits until every report published so far is written, or timeout_ms. 0 or -ETIMEDOUT. */
int stdout_out_flush(struct stdout_out *o, unsigned timeout_ms);

/*
 * Call after bus_close(): the thread writes what is left and ends. Returns 0, or -EBUSY when
 * the thread is stuck in a write after a failed stdout_out_flush(): it is then left running
 * (and the bus must not be freed) since the process is about to exit. Accepts NULL.
 */
int stdout_out_free(struct stdout_out *o);

#endif /* MP_STDOUT_OUT_H */
