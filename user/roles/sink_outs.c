// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The sinks a role's settings ask for (sinks.clickhouse.*, sinks.kafka.*), as report bus outputs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "roles/role_report.h"
#include "roles/sink_outs.h"
#include "mysql/event_json.h"
#include "sinks/ch_sink.h"
#include "sinks/kafka_sink.h"
#include "sinks/pusher.h"

/* Reports a sink may lag before the oldest are lost for it: it keeps reading while it backs
 * off, so only a thread that cannot keep up at all ever gets there. */
#define SINK_QUEUE 64

struct sink_outs {
#ifndef MP_NO_CLICKHOUSE
	struct ch_sink *ch;
#endif
#ifndef MP_NO_KAFKA
	struct kafka_sink *kafka;
	unsigned kafka_flush_ms;
	struct buf *event; /* per worker: one event's JSON (sinks.kafka.events) */
	int workers;
#endif
	struct pusher *pusher;
};

static __attribute__((unused)) const struct agg *report_view(const void *obj,
								const struct report_header **h)
{
	const struct slave_report *r = obj;

	*h = &r->h;
	return r->a;
}

/* Rendered once when the report was published (role_report_render()). */
static const struct report_wire *report_wire_of(const void *obj)
{
	return ((const struct slave_report *)obj)->wire;
}

static int pusher_start(struct sink_outs *o, const struct mp_config *c, struct bus *b)
{
	struct pusher_config pc = {
		.servers = (const char *const *)c->pusher_servers.v,
		.nservers = c->pusher_servers.n,
		.path = c->pusher_path,
		.token = c->cluster_token,
		.preconnect = c->pusher_preconnect,
		.spool_dir = c->pusher_spool_dir,
		.spool_bytes = (uint64_t)c->pusher_spool_mb << 20,
		.queue = SINK_QUEUE,
		.wire = report_wire_of,
	};

	if (!c->pusher_servers.n)
		return 0;
	o->pusher = pusher_new(b, &pc);
	if (!o->pusher) {
		if (errno != EINVAL)
			pr_warn("pusher: cannot start: %s\n", strerror(errno));
		return -errno;
	}
	return 0;
}

static int clickhouse_new(struct sink_outs *o, const struct mp_config *c, struct bus *b)
{
#ifndef MP_NO_CLICKHOUSE
	struct ch_sink_config cc = {
		.url = c->sinks_clickhouse_url,
		.database = c->sinks_clickhouse_database,
		.user = c->sinks_clickhouse_user,
		.password = c->sinks_clickhouse_password,
		.spool_dir = c->sinks_clickhouse_spool_dir,
		.spool_bytes = (uint64_t)c->sinks_clickhouse_spool_mb << 20,
		.batch_rows = (unsigned)c->sinks_clickhouse_batch_rows,
		.flush_ms = (unsigned)c->sinks_clickhouse_flush_ms,
		.queue = SINK_QUEUE,
		.view = report_view,
	};

	if (!*c->sinks_clickhouse_url)
		return 0;
	o->ch = ch_sink_new(b, &cc);
	if (!o->ch) {
		pr_warn("clickhouse: cannot start the sink: %s\n",
			errno == EINVAL ? "bad sinks.clickhouse.url or database" : strerror(errno));
		return -errno;
	}
	return 0;
#else
	if (!*c->sinks_clickhouse_url)
		return 0;
	pr_warn("clickhouse: sinks.clickhouse.url is set but this build has no ClickHouse sink "
		"(built with NO_CLICKHOUSE=1)\n");
	return -ENOTSUP;
#endif
}

static int kafka_new(struct sink_outs *o, const struct mp_config *c, struct bus *b, int workers)
{
#ifndef MP_NO_KAFKA
	struct kafka_sink_config kc = {
		.brokers = c->sinks_kafka_brokers,
		.topic = c->sinks_kafka_topic,
		.events_topic = c->sinks_kafka_events && workers ? c->sinks_kafka_events_topic : NULL,
		.workers = workers,
		.queue = SINK_QUEUE,
		.view = report_view,
	};

	if (!*c->sinks_kafka_brokers)
		return 0;
	o->kafka_flush_ms = (unsigned)c->sinks_kafka_flush_ms;
	if (kc.events_topic) {
		o->event = calloc((size_t)workers, sizeof(*o->event));
		if (!o->event)
			return -ENOMEM;
		o->workers = workers;
	}
	o->kafka = kafka_sink_new(b, &kc);
	if (!o->kafka) {
		pr_warn("kafka: cannot start the sink: %s\n", strerror(errno));
		return -errno;
	}
	return 0;
#else
	if (!*c->sinks_kafka_brokers)
		return 0;
	pr_warn("kafka: sinks.kafka.brokers is set but this build has no Kafka sink "
		"(built with NO_KAFKA=1)\n");
	return -ENOTSUP;
#endif
}

struct sink_outs *sink_outs_new(const struct mp_config *c, struct bus *b, int workers)
{
	struct sink_outs *o = calloc(1, sizeof(*o));
	int err;

	if (!o)
		return NULL;
	err = clickhouse_new(o, c, b) ?: kafka_new(o, c, b, workers) ?: pusher_start(o, c, b);
	if (!err)
		return o;
	sink_outs_free(o);
	errno = -err;
	return NULL;
}

int sink_outs_flush(struct sink_outs *o, unsigned timeout_ms)
{
	int err = 0;

	if (!o)
		return 0;
	if (o->pusher && pusher_flush(o->pusher, timeout_ms)) {
		pr_warn("pusher: no server took the last reports within %u ms\n", timeout_ms);
		err = -ETIMEDOUT;
	}
#ifndef MP_NO_CLICKHOUSE
	if (o->ch && ch_sink_flush(o->ch, timeout_ms)) {
		pr_warn("clickhouse: did not take the last reports within %u ms\n", timeout_ms);
		err = -ETIMEDOUT;
	}
#endif
#ifndef MP_NO_KAFKA
	if (o->kafka && kafka_sink_flush(o->kafka, timeout_ms)) {
		pr_warn("kafka: the brokers did not take the last reports within %u ms\n",
			timeout_ms);
		err = -ETIMEDOUT;
	}
#endif
	return err;
}

void sink_outs_free(struct sink_outs *o)
{
	uint64_t lost;

	if (!o)
		return;
#ifndef MP_NO_CLICKHOUSE
	lost = ch_sink_free(o->ch);
	if (lost)
		pr_warn("clickhouse: %llu rows not delivered\n", (unsigned long long)lost);
#endif
#ifndef MP_NO_KAFKA
	lost = kafka_sink_free(o->kafka, o->kafka_flush_ms);
	if (lost)
		pr_warn("kafka: %llu messages not delivered\n", (unsigned long long)lost);
	for (int i = 0; o->event && i < o->workers; i++)
		buf_free(&o->event[i]);
	free(o->event);
#endif
	lost = pusher_free(o->pusher);
	if (lost)
		pr_warn("pusher: %llu report(s) not delivered\n", (unsigned long long)lost);
	free(o);
}

int sink_outs_metrics(struct sink_outs *o, struct buf *out)
{
	int err = 0;

	if (!o)
		return 0;
#ifndef MP_NO_CLICKHOUSE
	if (o->ch)
		err = ch_sink_metrics(o->ch, out);
#endif
#ifndef MP_NO_KAFKA
	if (!err && o->kafka)
		err = kafka_sink_metrics(o->kafka, out);
#endif
	if (!err && o->pusher)
		err = pusher_metrics(o->pusher, out);
	return err;
}

void sink_outs_event(struct sink_outs *o, int worker, const struct query_event *ev)
{
#ifndef MP_NO_KAFKA
	struct buf *b;

	if (!o || !o->event || worker < 0 || worker >= o->workers)
		return;
	b = &o->event[worker];
	buf_reset(b);
	/* The --output events line, without its newline: one message is one event. */
	if (!event_json_append(b, ev) && b->len > 1)
		kafka_sink_event(o->kafka, worker, ev->template_id, b->data, b->len - 1);
#endif
}
