// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The Kafka sink: a report bus output producing one message per stats row (librdkafka). */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>

#include "lib/clock.h"
#include "lib/jbuf.h"
#include "lib/log.h"
#include "sinks/kafka_msg.h"
#include "sinks/kafka_sink.h"
#include "sinks/ratelog.h"

#define KAFKA_TICK_MS 100
/* A worker serves the delivery reports waiting for it every this many events it produces. */
#define KAFKA_POLL_EVERY 256

enum kafka_kind { KAFKA_STATS = 0, KAFKA_EVENTS = 1, KAFKA_KINDS };
enum kafka_log { KAFKA_LOG_DELIVERY, KAFKA_LOG_BROKER, KAFKA_LOG_LIB, KAFKA_LOG_MAX };

/*
 * Counters with one writer at a time: that writer adds with a plain load and store (no locked
 * instruction), readers (/metrics, free()) see whole values. Those written per message sit on
 * cache lines of their own, so two threads do not pass a line back and forth for every event.
 */

/* The delivery reports one polling thread served, per kind; failed includes purged. */
struct kafka_dr {
	_Atomic uint64_t delivered[KAFKA_KINDS], failed[KAFKA_KINDS], purged;
};

struct kafka_slot {
	_Alignas(64) _Atomic uint64_t produced, dropped; /* events of one worker */
	struct kafka_dr dr; /* reports this worker's polls served */
};

/* While a worker polls: its slot's counters, for on_delivery (which runs inside the poll). */
static _Thread_local struct kafka_dr *dr_here;

struct kafka_sink {
	struct kafka_sink_config cfg;
	struct bus *bus;
	struct bus_reader *reader;
	rd_kafka_t *rk;
	/* Topic handles made once: producing by name looks the topic up under the client's lock
	 * for every message. */
	rd_kafka_topic_t *rkt, *rkt_events;
	pthread_t thread;
	struct jbuf value, row;
	/* Callbacks run in whichever thread polls: the sink's, and the workers' (on_delivery). */
	pthread_mutex_t log_lock;
	struct ratelog logs[KAFKA_LOG_MAX];

	atomic_bool busy; /* holds a report it has not produced yet */
	atomic_bool stop; /* free(): stop waiting for queue room */
	/* Stats rows: written by the sink's thread. */
	_Atomic uint64_t produced, dropped, reports;
	/* Delivery reports served by the sink's thread, then by free() after joining it. */
	_Alignas(64) struct kafka_dr dr;
	int nslots;
	struct kafka_slot *slots; /* events, one per worker */
};

static inline void count_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

static inline uint64_t count_get(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* Events of every worker: outcome produced (0) or dropped (1). */
static uint64_t events_sum(struct kafka_sink *k, int dropped)
{
	uint64_t n = 0;

	for (int i = 0; i < k->nslots; i++)
		n += count_get(dropped ? &k->slots[i].dropped : &k->slots[i].produced);
	return n;
}

struct kafka_dr_sum {
	uint64_t delivered[KAFKA_KINDS], failed[KAFKA_KINDS], purged;
};

static void dr_add(struct kafka_dr_sum *t, struct kafka_dr *d)
{
	for (int i = 0; i < KAFKA_KINDS; i++) {
		t->delivered[i] += count_get(&d->delivered[i]);
		t->failed[i] += count_get(&d->failed[i]);
	}
	t->purged += count_get(&d->purged);
}

/* Delivery reports of every polling thread. */
static void dr_sum(struct kafka_sink *k, struct kafka_dr_sum *t)
{
	memset(t, 0, sizeof(*t));
	dr_add(t, &k->dr);
	for (int i = 0; i < k->nslots; i++)
		dr_add(t, &k->slots[i].dr);
}

static void kafka_warn(struct kafka_sink *k, enum kafka_log which, const char *what,
		       const char *why)
{
	uint64_t quiet;
	bool due;

	pthread_mutex_lock(&k->log_lock);
	due = ratelog_due(&k->logs[which], &quiet);
	pthread_mutex_unlock(&k->log_lock);
	if (due)
		pr_warn("kafka: %s: %s (%llu more since the last such message)\n", what, why,
			(unsigned long long)quiet);
}

/*
 * Delivery reports, served by rd_kafka_poll/flush: in the sink's thread, in free(), and in a
 * worker every KAFKA_POLL_EVERY events it produced (kafka_sink_event), each into its own
 * counters.
 */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct kafka_sink *k = opaque;
	struct kafka_dr *d = dr_here ? dr_here : &k->dr;
	int kind = m->_private ? KAFKA_EVENTS : KAFKA_STATS;

	if (!m->err) {
		count_add(&d->delivered[kind], 1);
		return;
	}
	count_add(&d->failed[kind], 1);
	if (m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
		count_add(&d->purged, 1);
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
		count_add(&k->dropped, 1);
		return;
	}
	for (;;) {
		err = rd_kafka_producev(k->rk, RD_KAFKA_V_RKT(k->rkt),
					RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
					RD_KAFKA_V_KEY(key, klen),
					RD_KAFKA_V_VALUE(k->value.out.data, k->value.out.len),
					RD_KAFKA_V_HEADER("term", term, -1), RD_KAFKA_V_END);
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || atomic_load(&k->stop))
			break;
		rd_kafka_poll(k->rk, KAFKA_TICK_MS);
	}
	if (!err) {
		count_add(&k->produced, 1);
		return;
	}
	count_add(&k->dropped, 1);
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
	count_add(&k->reports, 1);
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

static int topics_new(struct kafka_sink *k)
{
	k->rkt = rd_kafka_topic_new(k->rk, k->cfg.topic, NULL);
	if (k->rkt && k->cfg.events_topic)
		k->rkt_events = rd_kafka_topic_new(k->rk, k->cfg.events_topic, NULL);
	if (!k->rkt || (k->cfg.events_topic && !k->rkt_events)) {
		pr_warn("kafka: cannot create a topic handle: %s\n",
			rd_kafka_err2str(rd_kafka_last_error()));
		return -EINVAL;
	}
	return 0;
}

/*
 * The events stream allocates one message per statement and frees it when its delivery
 * report is served; a burst the brokers have not taken yet is hundreds of MiB. glibc gives
 * freed heap back to the kernel above 128 KiB at its top (and mmaps, then unmaps,
 * librdkafka's ~1 MB batch buffers), so the next burst faulted every page in again: page
 * faults were among the largest costs per event (perf, bench/bench_sinks.py). Keep up to
 * 128 MiB of freed heap, grow it 64 MiB at a time, and serve blocks under 4 MiB from it.
 * Process-wide, hence only when events are on; the bus's malloc_trim() after freeing large
 * reports still gives memory back.
 */
static void heap_keep(void)
{
	mallopt(M_MMAP_THRESHOLD, 4 << 20);
	mallopt(M_TRIM_THRESHOLD, 128 << 20);
	mallopt(M_TOP_PAD, 64 << 20);
}

static void kafka_sink_release(struct kafka_sink *k)
{
	bus_reader_free(k->reader);
	if (k->rkt)
		rd_kafka_topic_destroy(k->rkt);
	if (k->rkt_events)
		rd_kafka_topic_destroy(k->rkt_events);
	if (k->rk)
		rd_kafka_destroy(k->rk);
	jbuf_free(&k->value);
	jbuf_free(&k->row);
	pthread_mutex_destroy(&k->log_lock);
	free(k->slots);
	free(k);
}

struct kafka_sink *kafka_sink_new(struct bus *b, const struct kafka_sink_config *cfg)
{
	struct bus_reader_config rc = {
		.kind = "kafka",
		.queue = cfg->queue,
		.start = BUS_START_LIVE,
	};
	/* Aligned: the per-message counters have cache lines of their own. */
	struct kafka_sink *k = aligned_alloc(_Alignof(struct kafka_sink), sizeof(*k));
	int err = -ENOMEM;

	if (!k)
		return NULL;
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->log_lock, NULL);
	k->cfg = *cfg;
	k->bus = b;
	jbuf_init(&k->value);
	jbuf_init(&k->row);
	if (!cfg->view || !cfg->brokers || !*cfg->brokers || !cfg->topic || !*cfg->topic) {
		err = -EINVAL;
		goto fail;
	}
	k->nslots = cfg->workers > 0 ? cfg->workers : 1;
	k->slots = aligned_alloc(_Alignof(struct kafka_slot),
				 (size_t)k->nslots * sizeof(*k->slots));
	if (!k->slots)
		goto fail;
	memset(k->slots, 0, (size_t)k->nslots * sizeof(*k->slots));
	k->rk = producer_new(k);
	if (!k->rk) {
		err = -errno;
		goto fail;
	}
	err = topics_new(k);
	if (err)
		goto fail;
	k->reader = bus_reader_new(b, &rc);
	if (!k->reader) {
		err = -errno;
		goto fail;
	}
	if (cfg->events_topic)
		heap_keep();
	err = -pthread_create(&k->thread, NULL, kafka_thread, k);
	if (!err)
		return k;
fail:
	kafka_sink_release(k);
	errno = -err;
	return NULL;
}

int kafka_sink_event(struct kafka_sink *k, int worker, uint64_t template_id, const char *json,
		     size_t len)
{
	char key[KAFKA_KEY_MAX];
	struct kafka_slot *slot;

	if (!k->rkt_events || worker < 0 || worker >= k->nslots)
		return -EINVAL;
	slot = &k->slots[worker];
	kafka_msg_key_id(key, template_id);
	/*
	 * Copied (F_COPY): librdkafka then allocates the message and its value in one block.
	 * Lending it a pooled buffer instead (no copy) measured no faster: the cost per event
	 * is the memory the queued message occupies, not the 413-byte copy. The opaque marks an
	 * event for on_delivery.
	 */
	if (rd_kafka_produce(k->rkt_events, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
			     (void *)json, len, key, KAFKA_KEY_MAX - 1, (void *)1)) {
		count_add(&slot->dropped, 1);
		return -ENOBUFS;
	}
	count_add(&slot->produced, 1);
	/*
	 * Serve the delivery reports waiting (never waits: timeout 0) here rather than only in
	 * the sink's thread every 100 ms: librdkafka frees each delivered message in the thread
	 * that serves its report, and a message freed in the thread that allocated it goes back
	 * to that thread's cache and arena, warm, instead of through a lock and a cache line
	 * passed between two threads per message.
	 */
	if (!(count_get(&slot->produced) % KAFKA_POLL_EVERY)) {
		dr_here = &slot->dr;
		rd_kafka_poll(k->rk, 0);
		dr_here = NULL;
	}
	return 0;
}

int kafka_sink_flush(struct kafka_sink *k, unsigned timeout_ms)
{
	uint64_t end = mono_ms() + timeout_ms;
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
		if (mono_ms() >= end)
			return -ETIMEDOUT;
		usleep(5000);
	}
}

uint64_t kafka_sink_free(struct kafka_sink *k, unsigned flush_ms)
{
	struct kafka_dr_sum dr;
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
	dr_sum(k, &dr);
	for (int i = 0; i < KAFKA_KINDS; i++)
		lost += dr.failed[i];
	lost += count_get(&k->dropped) + events_sum(k, 1);
	if (dr.purged)
		pr_warn("kafka: %llu messages not delivered within %u ms, purged\n",
			(unsigned long long)dr.purged, flush_ms);
	kafka_sink_release(k);
	return lost;
}

int kafka_sink_metrics(struct kafka_sink *k, struct buf *out)
{
	static const char *const kinds[KAFKA_KINDS] = { "stats", "events" };
	uint64_t produced[KAFKA_KINDS] = { count_get(&k->produced), events_sum(k, 0) };
	uint64_t dropped[KAFKA_KINDS] = { count_get(&k->dropped), events_sum(k, 1) };
	struct kafka_dr_sum dr;
	int err = buf_puts(out, "# HELP mysqlprobe_sink_kafka_messages_total Kafka messages per kind "
				"and outcome (produced, delivered, failed incl. purged, dropped: "
				"not queued).\n"
				"# TYPE mysqlprobe_sink_kafka_messages_total counter\n");

	dr_sum(k, &dr);
	for (int i = 0; !err && i < KAFKA_KINDS; i++)
		err = buf_printf(out,
				  "mysqlprobe_sink_kafka_messages_total{kind=\"%s\",outcome=\"produced\"} %llu\n"
				  "mysqlprobe_sink_kafka_messages_total{kind=\"%s\",outcome=\"delivered\"} %llu\n"
				  "mysqlprobe_sink_kafka_messages_total{kind=\"%s\",outcome=\"failed\"} %llu\n"
				  "mysqlprobe_sink_kafka_messages_total{kind=\"%s\",outcome=\"dropped\"} %llu\n",
				  kinds[i], (unsigned long long)produced[i], kinds[i],
				  (unsigned long long)dr.delivered[i], kinds[i],
				  (unsigned long long)dr.failed[i], kinds[i],
				  (unsigned long long)dropped[i]);
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
				  (unsigned long long)dr.purged,
				  (unsigned long long)count_get(&k->reports), rd_kafka_outq_len(k->rk));
}
