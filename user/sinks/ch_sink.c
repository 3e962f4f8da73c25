// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The ClickHouse sink: a report bus output that inserts rows over HTTP (libcurl) in its own thread. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/jbuf.h"
#include "lib/log.h"
#include "sinks/ch_http.h"
#include "sinks/ch_rows.h"
#include "sinks/ch_sink.h"
#include "sinks/ratelog.h"
#include "sinks/spool.h"

#define CH_BACKOFF_MIN_MS 500
#define CH_BACKOFF_MAX_MS 30000
/* The thread looks at flush requests and batch ages at least this often. */
#define CH_TICK_MS 100
/* Spooled batches replayed per turn of the loop, so the bus keeps being read meanwhile. */
#define CH_DRAIN_PER_TURN 16
/* ClickHouse codes that mean the tables are gone (a server reset): create them again. */
#define CH_UNKNOWN_TABLE 60
#define CH_UNKNOWN_DATABASE 81

struct ch_batch {
	struct jbuf rows;
	size_t n;
	uint64_t first_ms; /* monotonic time its first row came */
};

enum ch_log { CH_LOG_INSERT, CH_LOG_SPOOL_FULL, CH_LOG_SPOOL_IO, CH_LOG_MAX };

struct ch_sink {
	struct ch_sink_config cfg;
	char *url, *database, *user, *password, *spool_dir;
	struct bus *bus;
	struct bus_reader *reader;
	struct ch_http *http;
	struct spool *spool;
	pthread_t thread;
	struct ch_batch batch[CH_TABLES];
	struct buf replay;
	struct buf ddl;
	bool tables_ok;
	uint64_t backoff_ms, retry_at_ms;
	struct ratelog logs[CH_LOG_MAX];

	atomic_bool flush_req; /* cut the batches now */
	atomic_bool idle; /* nothing in a batch nor in the spool, as of the last turn */
	atomic_bool abort; /* stop retrying and end transfers (ch_sink_free) */
	atomic_bool done; /* the thread has ended */
	/* Counters for /metrics. */
	_Atomic uint64_t rows_sent, inserts, failures, spooled, dropped_rows, reports;
};

static void ch_warn(struct ch_sink *k, enum ch_log which, const char *what, const char *why)
{
	uint64_t quiet;

	if (ratelog_due(&k->logs[which], &quiet))
		pr_warn("clickhouse: %s: %s (%llu more since the last such message)\n", what, why,
			(unsigned long long)quiet);
}

/* CREATE DATABASE and both tables: first insert, and again after the server lost them. */
static int ensure_tables(struct ch_sink *k, char *why, size_t whylen)
{
	int err;

	if (k->tables_ok)
		return 0;
	buf_reset(&k->ddl);
	err = ch_ddl_database(&k->ddl, k->database);
	err = err ?: ch_http_post(k->http, NULL, k->ddl.data, k->ddl.len, why, whylen);
	for (int t = 0; !err && t < CH_TABLES; t++) {
		buf_reset(&k->ddl);
		err = ch_ddl_table(&k->ddl, k->database, t);
		err = err ?: ch_http_post(k->http, NULL, k->ddl.data, k->ddl.len, why, whylen);
	}
	k->tables_ok = !err;
	return err;
}

static int insert(struct ch_sink *k, const char *table, size_t rows, const char *data, size_t len)
{
	char why[600], query[256];
	int err, code;

	if (atomic_load(&k->abort))
		return -ECANCELED;
	err = ensure_tables(k, why, sizeof(why));
	if (!err) {
		snprintf(query, sizeof(query), "INSERT INTO `%s`.%s FORMAT JSONEachRow", k->database,
			 table);
		err = ch_http_post(k->http, query, data, len, why, sizeof(why));
		code = ch_http_last_code(k->http);
		if (err && (code == CH_UNKNOWN_TABLE || code == CH_UNKNOWN_DATABASE))
			k->tables_ok = false;
	}
	if (err) {
		uint64_t now = mono_ms();

		atomic_fetch_add(&k->failures, 1);
		ch_warn(k, CH_LOG_INSERT, "insert failed, retrying with backoff", why);
		k->backoff_ms = k->backoff_ms ? k->backoff_ms * 2 : CH_BACKOFF_MIN_MS;
		if (k->backoff_ms > CH_BACKOFF_MAX_MS)
			k->backoff_ms = CH_BACKOFF_MAX_MS;
		k->retry_at_ms = now + k->backoff_ms;
		return err;
	}
	k->backoff_ms = 0;
	k->retry_at_ms = 0;
	atomic_fetch_add(&k->inserts, 1);
	atomic_fetch_add(&k->rows_sent, rows);
	return 0;
}

static void spool_or_drop(struct ch_sink *k, const char *table, size_t rows, const char *data,
			  size_t len)
{
	int err = spool_put(k->spool, table, rows, data, len);

	if (!err) {
		atomic_fetch_add(&k->spooled, 1);
		return;
	}
	atomic_fetch_add(&k->dropped_rows, rows);
	ch_warn(k, err == -ENOSPC ? CH_LOG_SPOOL_FULL : CH_LOG_SPOOL_IO,
		"batch dropped, cannot spool it",
		err == -ENOSPC ? "spool full (sinks.clickhouse.spool_mb)" : strerror(-err));
}

/* A cut batch goes straight out only when nothing older waits and no backoff runs. */
static void send_batch(struct ch_sink *k, enum ch_table t)
{
	struct ch_batch *b = &k->batch[t];
	const char *table = ch_table_name(t);

	if (!b->n)
		return;
	if (jbuf_error(&b->rows)) {
		atomic_fetch_add(&k->dropped_rows, b->n);
		ch_warn(k, CH_LOG_SPOOL_IO, "batch dropped", "out of memory");
	} else if (spool_batches(k->spool) || mono_ms() < k->retry_at_ms ||
		   insert(k, table, b->n, b->rows.out.data, b->rows.out.len)) {
		spool_or_drop(k, table, b->n, b->rows.out.data, b->rows.out.len);
	}
	jbuf_reset(&b->rows);
	b->n = 0;
}

static void cut_due(struct ch_sink *k, bool now)
{
	uint64_t t_ms = mono_ms();

	for (int t = 0; t < CH_TABLES; t++) {
		struct ch_batch *b = &k->batch[t];

		if (b->n && (now || b->n >= k->cfg.batch_rows || t_ms - b->first_ms >= k->cfg.flush_ms))
			send_batch(k, t);
	}
}

/* Oldest first; stops at the first failure (the backoff then decides the next try). */
static void drain(struct ch_sink *k)
{
	for (int i = 0; i < CH_DRAIN_PER_TURN && spool_batches(k->spool); i++) {
		const char *table;
		size_t rows;
		int err;

		if (mono_ms() < k->retry_at_ms || atomic_load(&k->abort))
			return;
		err = spool_peek(k->spool, &table, &rows, &k->replay);
		if (err) {
			ch_warn(k, CH_LOG_SPOOL_IO, "cannot read a spooled batch, dropped it",
				strerror(-err));
			atomic_fetch_add(&k->dropped_rows, spool_pop(k->spool));
			continue;
		}
		if (insert(k, table, rows, k->replay.data, k->replay.len))
			return;
		spool_pop(k->spool);
	}
}

static void add_report(struct ch_sink *k, const void *obj)
{
	const struct report_header *h;
	const struct agg *a = k->cfg.view(obj, &h);
	struct ch_batch *m = &k->batch[CH_TABLE_METRICS], *s = &k->batch[CH_TABLE_SLOW];
	uint64_t now = mono_ms();
	size_t n;

	if (!m->n)
		m->first_ms = now;
	m->n += ch_rows_metrics(&m->rows, h, a);
	if (!s->n)
		s->first_ms = now;
	n = ch_rows_slow(&s->rows, h, a);
	s->n += n;
	atomic_fetch_add(&k->reports, 1);
}

static bool is_idle(struct ch_sink *k)
{
	return !k->batch[0].n && !k->batch[1].n && !spool_batches(k->spool);
}

static void *ch_thread(void *arg)
{
	struct ch_sink *k = arg;
	bool closing = false;

	for (;;) {
		struct bus_item *it;
		uint64_t lost;
		int err;

		if (!closing) {
			err = bus_read_wait(k->reader, &it, &lost, CH_TICK_MS);
			if (!err) {
				add_report(k, bus_item_obj(it));
				bus_item_put(k->bus, it);
			} else if (err == -ESHUTDOWN) {
				closing = true;
			}
		}
		cut_due(k, closing || atomic_exchange(&k->flush_req, false));
		drain(k);
		atomic_store(&k->idle, is_idle(k));
		/* Closing: one try for what waits; a failure leaves it in the spool. */
		if (closing && (is_idle(k) || k->retry_at_ms || atomic_load(&k->abort)))
			break;
	}
	atomic_store(&k->done, true);
	return NULL;
}

static bool database_ok(const char *db)
{
	return *db && strlen(db) < 64 &&
	       strspn(db, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") ==
		       strlen(db);
}

static int copy_config(struct ch_sink *k, const struct ch_sink_config *cfg)
{
	k->cfg = *cfg;
	if (!cfg->view || !cfg->batch_rows || !cfg->url || !*cfg->url || !database_ok(cfg->database))
		return -EINVAL;
	k->url = strdup(cfg->url);
	k->database = strdup(cfg->database);
	k->user = strdup(cfg->user ? cfg->user : "");
	k->password = strdup(cfg->password ? cfg->password : "");
	k->spool_dir = strdup(cfg->spool_dir ? cfg->spool_dir : "");
	if (!k->url || !k->database || !k->user || !k->password || !k->spool_dir)
		return -ENOMEM;
	return 0;
}

static void ch_sink_release(struct ch_sink *k)
{
	bus_reader_free(k->reader);
	ch_http_free(k->http);
	spool_close(k->spool);
	for (int t = 0; t < CH_TABLES; t++)
		jbuf_free(&k->batch[t].rows);
	buf_free(&k->replay);
	buf_free(&k->ddl);
	if (k->password)
		explicit_bzero(k->password, strlen(k->password));
	free(k->url);
	free(k->database);
	free(k->user);
	free(k->password);
	free(k->spool_dir);
	free(k);
}

struct ch_sink *ch_sink_new(struct bus *b, const struct ch_sink_config *cfg)
{
	struct bus_reader_config rc = {
		.kind = "clickhouse",
		.queue = cfg->queue,
		.start = BUS_START_LIVE,
	};
	struct ch_sink *k = calloc(1, sizeof(*k));
	int err;

	if (!k)
		return NULL;
	k->bus = b;
	for (int t = 0; t < CH_TABLES; t++)
		jbuf_init(&k->batch[t].rows);
	err = copy_config(k, cfg);
	if (err)
		goto fail;
	k->http = ch_http_new(k->url, k->user, k->password, &k->abort);
	k->spool = k->http ? spool_open(k->spool_dir, cfg->spool_bytes) : NULL;
	k->reader = k->spool ? bus_reader_new(b, &rc) : NULL;
	if (!k->reader) {
		err = -errno;
		goto fail;
	}
	if (spool_batches(k->spool))
		pr_info("clickhouse: %llu spooled batches from an earlier run to replay\n",
			(unsigned long long)spool_batches(k->spool));
	err = -pthread_create(&k->thread, NULL, ch_thread, k);
	if (!err)
		return k;
fail:
	ch_sink_release(k);
	errno = -err;
	return NULL;
}

int ch_sink_flush(struct ch_sink *k, unsigned timeout_ms)
{
	uint64_t end = mono_ms() + timeout_ms;

	atomic_store(&k->flush_req, true);
	for (;;) {
		/* idle is written after the turn that read the last report: lag 0 then idle. */
		if (!bus_reader_lag(k->reader) && !atomic_load(&k->flush_req) &&
		    atomic_load(&k->idle))
			return 0;
		if (atomic_load(&k->done) || mono_ms() >= end)
			return -ETIMEDOUT;
		usleep(5000);
	}
}

uint64_t ch_sink_free(struct ch_sink *k)
{
	uint64_t lost = 0;

	if (!k)
		return 0;
	/* The bounded wait was ch_sink_flush(): now what is left goes to the spool at once. */
	atomic_store(&k->abort, true);
	pthread_join(k->thread, NULL);
	if (!*k->spool_dir)
		lost = spool_rows(k->spool);
	else if (spool_rows(k->spool))
		pr_warn("clickhouse: %llu rows left in %s for the next start\n",
			(unsigned long long)spool_rows(k->spool), k->spool_dir);
	lost += atomic_load(&k->dropped_rows);
	ch_sink_release(k);
	return lost;
}

int ch_sink_metrics(struct ch_sink *k, struct buf *out)
{
	static const struct {
		const char *name, *type, *help;
	} m[] = {
		{ "rows_total", "counter", "Rows ClickHouse acknowledged, per table batch." },
		{ "inserts_total", "counter", "INSERTs that succeeded." },
		{ "failures_total", "counter", "INSERTs (or table creations) that failed." },
		{ "spooled_batches_total", "counter", "Batches put in the spool to retry." },
		{ "dropped_rows_total", "counter", "Rows lost: spool full or unreadable." },
		{ "reports_total", "counter", "Reports turned into rows." },
		{ "spool_rows", "gauge", "Rows waiting in the spool." },
		{ "spool_bytes", "gauge", "Bytes waiting in the spool." },
	};
	uint64_t v[] = {
		atomic_load(&k->rows_sent),	atomic_load(&k->inserts),
		atomic_load(&k->failures),	atomic_load(&k->spooled),
		atomic_load(&k->dropped_rows), atomic_load(&k->reports),
		spool_rows(k->spool),		spool_bytes(k->spool),
	};
	int err = 0;

	for (size_t i = 0; !err && i < sizeof(m) / sizeof(m[0]); i++)
		err = buf_printf(out,
				  "# HELP mysqlprobe_sink_clickhouse_%s %s\n"
				  "# TYPE mysqlprobe_sink_clickhouse_%s %s\n"
				  "mysqlprobe_sink_clickhouse_%s %llu\n",
				  m[i].name, m[i].help, m[i].name, m[i].type, m[i].name,
				  (unsigned long long)v[i]);
	return err;
}
