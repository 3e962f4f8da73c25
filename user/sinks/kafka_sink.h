/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The Kafka sink: a report bus output producing one message per stats row (librdkafka). */
#ifndef MP_KAFKA_SINK_H
#define MP_KAFKA_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "report/agg.h"
#include "report/bus.h"
#include "report/report.h"

/*
 * An idempotent producer (enable.idempotence: no duplicates nor reordering from its own
 * retries), lz4, linger 50 ms. A thread of its own reads the bus (kind "kafka") and produces
 * one message per stats row to `topic` (sinks/kafka_msg.h: key = template id, JSON value,
 * header "term"), serving delivery reports as it goes. librdkafka buffers and retries while
 * the brokers are away; when its queue is full this thread waits (the bus then drops the
 * reports it lags, counted), capture never does.
 *
 * Query events (kafka_sink_event) are produced from the decoder workers without ever
 * waiting: an event that finds the queue full is dropped and counted. Each worker has a slot
 * of its own for its counters (no cache line shared between threads per message) and serves
 * delivery reports itself now and then, so messages are freed by the thread that allocated
 * them. With events on, the process keeps up to 128 MiB of freed heap (mallopt, see
 * kafka_sink.c): the queue's burst is allocated and freed one message at a time, and giving
 * it back to the kernel each time made page faults one of the largest costs per event.
 *
 * Delivery reports are counted per kind (stats, events) and outcome in /metrics; failures
 * and broker errors are logged at most once a minute.
 */
struct kafka_sink;

struct kafka_sink_config {
	const char *brokers; /* bootstrap list host:port,... */
	const char *topic;
	const char *events_topic; /* NULL: no events */
	int workers; /* threads calling kafka_sink_event(), each with its own slot (>= 1) */
	unsigned queue; /* reports the bus reader may lag */
	const struct agg *(*view)(const void *report, const struct report_header **h);
};

/* Starts the producer and the thread. NULL with errno set; EINVAL says why on stderr. */
struct kafka_sink *kafka_sink_new(struct bus *b, const struct kafka_sink_config *cfg);

/* Waits until every row of the reports published so far is acknowledged by the brokers (or
 * failed for good), up to timeout_ms. Returns 0 or -ETIMEDOUT. */
int kafka_sink_flush(struct kafka_sink *k, unsigned timeout_ms);

/*
 * Call after bus_close(): produces what the thread still holds, gives the brokers up to
 * flush_ms for everything queued, then purges the rest. Returns the messages not delivered
 * (purged or failed since the start, stats and events). Accepts NULL.
 */
uint64_t kafka_sink_free(struct kafka_sink *k, unsigned flush_ms);

/*
 * One query event (key = template id, value = the --output events JSON line without its
 * newline, copied). worker: the caller's slot, 0..workers-1, used by one thread at a time.
 * Every 256 events it also serves the delivery reports waiting (rd_kafka_poll with timeout 0:
 * counting, and freeing the delivered messages, in the caller's thread). Never waits.
 * Returns 0, -ENOBUFS (dropped, counted) or -EINVAL (no such slot).
 */
int kafka_sink_event(struct kafka_sink *k, int worker, uint64_t template_id, const char *json,
		     size_t len);

/* Appends the sink's Prometheus counters. Returns 0 or -ENOMEM. Any thread. */
int kafka_sink_metrics(struct kafka_sink *k, struct buf *out);

#endif /* MP_KAFKA_SINK_H */
