/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The sinks a role's settings ask for (sinks.clickhouse.*, sinks.kafka.*), as report bus outputs. */
#ifndef MP_SINK_OUTS_H
#define MP_SINK_OUTS_H

#include "cli/config.h"
#include "lib/buf.h"
#include "mysql/query_event.h"
#include "report/bus.h"

/*
 * Each sink reads the bus in a thread of its own (sinks/ch_sink.h, sinks/kafka_sink.h); this
 * module only starts them from the settings, waits for them at shutdown and shows their
 * counters. The bus's objects must be struct slave_report.
 */
struct sink_outs;

/*
 * Starts every configured sink (none is fine). workers: the decoder threads that will call
 * sink_outs_event() (0: none, a master). NULL with errno set; the reason is logged.
 */
struct sink_outs *sink_outs_new(const struct mp_config *c, struct bus *b, int workers);

/* Waits until each sink delivered the reports published so far, each within timeout_ms.
 * Returns 0 or -ETIMEDOUT. */
int sink_outs_flush(struct sink_outs *o, unsigned timeout_ms);

/* Call after bus_close(): ends the sinks; logs what could not be delivered. Accepts NULL. */
void sink_outs_free(struct sink_outs *o);

/* Appends the sinks' Prometheus counters. Returns 0 or -ENOMEM. Accepts NULL. */
int sink_outs_metrics(struct sink_outs *o, struct buf *out);

/* One query event for the Kafka events topic (sinks.kafka.events), from decoder worker
 * `worker` (each worker its own buffer). Never blocks. Accepts NULL. */
void sink_outs_event(struct sink_outs *o, int worker, const struct query_event *ev);

#endif /* MP_SINK_OUTS_H */
