// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The Kafka sink: a report bus output producing one message per stats row (librdkafka). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>

#include "lib/jbuf.h"
#include "lib/log.h"
#include "sinks/kafka_msg.h"
#include "sinks/kafka_sink.h"
#include "sinks/ratelog.h"

#define KAFKA_TICK_MS 100

enum kafka_kind { KAFKA_STATS = 0, KAFKA_EVENTS = 1, KAFKA_KINDS };
enum kafka_log { KAFKA_LOG_DELIVERY, KAFKA_LOG_BROKER, KAFKA_LOG_LIB, KAFKA_LOG_MAX };

struct kafka_sink {
	struct kafka_sink_config cfg;
	char *topic, *events_topic;
	struct bus *bus;
	struct bus_reader *reader;
	rd_kafka_t *rk;
	pthread_t thread;
	struct jbuf value, row;
	struct ratelog logs[KAFKA_LOG_MAX]; /* the polling thread's: callbacks run there */

	atomic_bool busy; /* holds a report it has not produced yet */
	atomic_bool stop; /* free(): stop waiting for queue room */
	/* Per kind: produced, delivered, failed (incl. purged), dropped before librdkafka. */
	_Atomic uint64_t produced[KAFKA_KINDS], delivered[KAFKA_KINDS], failed[KAFKA_KINDS];
	_Atomic uint64_t dropped[KAFKA_KINDS], purged, reports;
};

static void kafka_warn(struct kafka_sink *k, enum kafka_log which, const char *what,
		       const char *why)
{
	uint64_t quiet;

	if (ratelog_due(&k->logs[which], &quiet))
		pr_warn("kafka: %s: %s (%llu more since the last such message)\n", what, why,
			(unsigned long long)quiet);
}

/* Delivery reports, served by rd_kafka_poll/flush in the sink's thread or in free(). */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct kafka_sink *k = opaque;
	int kind = m->_private ? KAFKA_EVENTS : KAFKA_STATS;

	if (!m->err) {
		atomic_fetch_add(&k->delivered[kind], 1);
		return;
	}
	atomic_fetch_add(&k->failed[kind], 1);
	if (m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
		atomic_fetch_add(&k->purged, 1);
	else
		kafka_warn(k, KAFKA_LOG_DELIVERY, "message not delivered", rd_kafka_err2str(m->err));
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	kafka_warn(opaque, KAFKA_LOG_BROKER, "brokers", reason);
}

/* librdkafka's own log lines, forwarded to the poll queue (log.queue) so one thread logs. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	struct kafka_sink *k = rd_kafka_opaque(rk);

	if (level <= LOG_WARNING)
		kafka_warn(k, KAFKA_LOG_LIB, fac, buf);
}

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
	char err[256];

	if (rd_kafka_conf_set(conf, name, value, err, sizeof(err)) == RD_KAFKA_CONF_OK)
		return 0;
	pr_warn("kafka: %s: %s\n", name, err);
	return -EINVAL;
}

static rd_kafka_t *producer_new(struct kafka_sink *k)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char err[512];
	rd_kafka_t *rk;

	if (!conf)
		return NULL;
	/* Idempotent: librdkafka's retries neither duplicate nor reorder a partition's rows. */
	if (conf_set(conf, "bootstrap.servers", k->cfg.brokers) ||
	    conf_set(conf, "enable.idempotence", "true") ||
	    conf_set(conf, "linger.ms", "50") || conf_set(conf, "compression.type", "lz4") ||
	    conf_set(conf, "log.queue", "true") ||
	    /*
	     * The events stream (one message per statement) comes in bursts of the database's
	     * rate: librdkafka's default 100,000 messages is 4 s of a busy server, after which
	     * events are dropped. Bound the queue by bytes instead (256 MiB, about 600,000
	     * events), which is what memory cares about.
	     */
	    conf_set(conf, "queue.buffering.max.messages", "10000000") ||
	    conf_set(conf, "queue.buffering.max.kbytes", "262144")) {
		rd_kafka_conf_destroy(conf);
		errno = EINVAL;
		return NULL;
	}
	rd_kafka_conf_set_opaque(conf, k);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_error_cb(conf, on_error);
	rd_kafka_conf_set_log_cb(conf, on_log);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!rk) {
		pr_warn("kafka: cannot create the producer: %s\n", err);
		rd_kafka_conf_destroy(conf);
		errno = EINVAL;
		return NULL;
	}
	rd_kafka_set_log_queue(rk, NULL); /* to the main queue, served by rd_kafka_poll */
	return rk;
}

/* Waits for queue room (serving delivery reports meanwhile) unless free() is stopping. */
static void produce_row(struct kafka_sink *k, const struct report_header *h, const struct agg *a,
			const struct agg_stat *s, const char *term)
{
	char key[KAFKA_KEY_MAX];
	size_t klen = kafka_msg_key(key, s);
	rd_kafka_resp_err_t err;

	if (kafka_msg_value(&k->value, &k->row, h, a, s)) {
		atomic_fetch_add(&k->dropped[KAFKA_STATS], 1);
		return;
	}
	for (;;) {
		err = rd_kafka_producev(k->rk, RD_KAFKA_V_TOPIC(k->topic),
					RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
					RD_KAFKA_V_KEY(key, klen),
					RD_KAFKA_V_VALUE(k->value.out.data, k->value.out.len),
					RD_KAFKA_V_HEADER("term", term, -1), RD_KAFKA_V_END);
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || atomic_load(&k->stop))
			break;
		rd_kafka_poll(k->rk, KAFKA_TICK_MS);
	}
	if (!err) {
		atomic_fetch_add(&k->produced[KAFKA_STATS], 1);
		return;
	}
	atomic_fetch_add(&k->dropped[KAFKA_STATS], 1);
	kafka_warn(k, KAFKA_LOG_DELIVERY, "message not queued", rd_kafka_err2str(err));
}

static void produce_report(struct kafka_sink *k, const void *obj)
{
	const struct report_header *h;
	const struct agg *a = k->cfg.view(obj, &h);
	char term[24];
	size_t i;

	snprintf(term, sizeof(term), "%" PRIu64, h->term);
	for (i = 0; i < agg_stat_count(a); i++)
		produce_row(k, h, a, agg_stat_at(a, i), term);
	for (i = 0; i < AGG_CMD_COUNT; i++)
		if (agg_other(a, i))
			produce_row(k, h, a, agg_other(a, i), term);
	atomic_fetch_add(&k->reports, 1);
}

static void *kafka_thread(void *arg)
{
	struct kafka_sink *k = arg;
	struct bus_item *it;
	uint64_t lost;
	int err;

	for (;;) {
		err = bus_read_wait(k->reader, &it, &lost, KAFKA_TICK_MS);
		if (!err) {
			atomic_store(&k->busy, true);
			produce_report(k, bus_item_obj(it));
			bus_item_put(k->bus, it);
			atomic_store(&k->busy, false);
		} else if (err != -ETIMEDOUT && err != -EAGAIN) {
			break; /* -ESHUTDOWN: the bus is closed and drained */
		}
		rd_kafka_poll(k->rk, 0);
	}
	return NULL;
}

static void kafka_sink_release(struct kafka_sink *k)
{
	bus_reader_free(k->reader);
	if (k->rk)
		rd_kafka_destroy(k->rk);
	jbuf_free(&k->value);
	jbuf_free(&k->row);
	free(k->topic);
	free(k->events_topic);
	free(k);
}

struct kafka_sink *kafka_sink_new(struct bus *b, const struct kafka_sink_config *cfg)
{
	struct bus_reader_config rc = {
		.kind = "kafka",
		.queue = cfg->queue,
		.start = BUS_START_LIVE,
	};
	struct kafka_sink *k = calloc(1, sizeof(*k));
	int err = -ENOMEM;

	if (!k)
		return NULL;
	k->cfg = *cfg;
	k->bus = b;
	jbuf_init(&k->value);
	jbuf_init(&k->row);
	if (!cfg->view || !cfg->brokers || !*cfg->brokers || !cfg->topic || !*cfg->topic) {
		err = -EINVAL;
		goto fail;
	}
	k->topic = strdup(cfg->topic);
	k->events_topic = cfg->events_topic ? strdup(cfg->events_topic) : NULL;
	if (!k->topic || (cfg->events_topic && !k->events_topic))
		goto fail;
	k->rk = producer_new(k);
	k->reader = k->rk ? bus_reader_new(b, &rc) : NULL;
	if (!k->reader) {
		err = -errno;
		goto fail;
	}
	err = -pthread_create(&k->thread, NULL, kafka_thread, k);
	if (!err)
		return k;
fail:
	kafka_sink_release(k);
	errno = -err;
	return NULL;
}

int kafka_sink_event(struct kafka_sink *k, uint64_t template_id, const char *json, size_t len)
{
	char key[KAFKA_KEY_MAX];
	rd_kafka_resp_err_t err;

	snprintf(key, sizeof(key), "%016llx", (unsigned long long)template_id);
	/* The opaque marks an event for on_delivery. */
	err = rd_kafka_producev(k->rk, RD_KAFKA_V_TOPIC(k->events_topic),
				RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				RD_KAFKA_V_KEY(key, KAFKA_KEY_MAX - 1), RD_KAFKA_V_VALUE((void *)json, len),
				RD_KAFKA_V_OPAQUE((void *)1), RD_KAFKA_V_END);
	if (err) {
		atomic_fetch_add(&k->dropped[KAFKA_EVENTS], 1);
		return -ENOBUFS;
	}
	atomic_fetch_add(&k->produced[KAFKA_EVENTS], 1);
	return 0;
}

int kafka_sink_flush(struct kafka_sink *k, unsigned timeout_ms)
{
	uint64_t end = ratelog_now_ms() + timeout_ms;
	int idle = 0;

	for (;;) {
		/* outq_len counts messages queued, in flight and awaiting their delivery report. */
		if (!bus_reader_lag(k->reader) && !atomic_load(&k->busy) && !rd_kafka_outq_len(k->rk))
			idle++;
		else
			idle = 0;
		/* Twice in a row: the thread may be between reading a report and marking busy. */
		if (idle >= 2)
			return 0;
		if (ratelog_now_ms() >= end)
			return -ETIMEDOUT;
		usleep(5000);
	}
}

uint64_t kafka_sink_free(struct kafka_sink *k, unsigned flush_ms)
{
	uint64_t lost = 0;
	int left;

	if (!k)
		return 0;
	/* The bus is closed: the thread ends once drained, without waiting for queue room. */
	atomic_store(&k->stop, true);
	pthread_join(k->thread, NULL);
	rd_kafka_flush(k->rk, (int)flush_ms);
	left = rd_kafka_outq_len(k->rk);
	if (left > 0) {
		/* What the brokers did not take in time: purge it, count it in the reports. */
		rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_poll(k->rk, 0);
	}
	for (int i = 0; i < KAFKA_KINDS; i++)
		lost += atomic_load(&k->failed[i]) + atomic_load(&k->dropped[i]);
	if (atomic_load(&k->purged))
		pr_warn("kafka: %llu messages not delivered within %u ms, purged\n",
			(unsigned long long)atomic_load(&k->purged), flush_ms);
	kafka_sink_release(k);
	return lost;
}

int kafka_sink_metrics(struct kafka_sink *k, struct buf *out)
{
	static const char *const kinds[KAFKA_KINDS] = { "stats", "events" };
	int err = buf_puts(out, "# HELP mysqlprobe_sink_kafka_messages_total Kafka messages per kind "
				"and outcome (produced, delivered, failed incl. purged, dropped: "
				"not queued).\n"
				"# TYPE mysqlprobe_sink_kafka_messages_total counter\n");

	for (int i = 0; !err && i < KAFKA_KINDS; i++)
		err = buf_printf(out,
				  "mysqlprobe_sink_kafka_messages_total{kind=\"%s\",outcome=\"produced\"} %llu\n"
				  "mysqlprobe_sink_kafka_messages_total{kind=\"%s\",outcome=\"delivered\"} %llu\n"
				  "mysqlprobe_sink_kafka_messages_total{kind=\"%s\",outcome=\"failed\"} %llu\n"
				  "mysqlprobe_sink_kafka_messages_total{kind=\"%s\",outcome=\"dropped\"} %llu\n",
				  kinds[i], (unsigned long long)atomic_load(&k->produced[i]), kinds[i],
				  (unsigned long long)atomic_load(&k->delivered[i]), kinds[i],
				  (unsigned long long)atomic_load(&k->failed[i]), kinds[i],
				  (unsigned long long)atomic_load(&k->dropped[i]));
	return err ?: buf_printf(out,
				  "# HELP mysqlprobe_sink_kafka_purged_total Messages purged at exit "
				  "(not delivered within sinks.kafka.flush_ms).\n"
				  "# TYPE mysqlprobe_sink_kafka_purged_total counter\n"
				  "mysqlprobe_sink_kafka_purged_total %llu\n"
				  "# HELP mysqlprobe_sink_kafka_reports_total Reports turned into messages.\n"
				  "# TYPE mysqlprobe_sink_kafka_reports_total counter\n"
				  "mysqlprobe_sink_kafka_reports_total %llu\n"
				  "# HELP mysqlprobe_sink_kafka_queued Messages in librdkafka's queue.\n"
				  "# TYPE mysqlprobe_sink_kafka_queued gauge\n"
				  "mysqlprobe_sink_kafka_queued %d\n",
				  (unsigned long long)atomic_load(&k->purged),
				  (unsigned long long)atomic_load(&k->reports), rd_kafka_outq_len(k->rk));
}
