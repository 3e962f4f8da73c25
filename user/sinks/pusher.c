// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The pusher (DESIGN §9): every closed report to one of pusher.servers over a websocket. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/addr.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "net/ws_client.h"
#include "sinks/push_queue.h"
#include "sinks/pusher.h"
#include "sinks/ratelog.h"

#define PUSHER_ACK_MS_DEFAULT 10000u
#define PUSHER_TICK_MS 50u
/* How long the first dial of an earlier server is awaited before a later one is used. */
#define PUSHER_FIRST_DIAL_MS 2000u
/* A report whose every send ends with the connection closing (a receiver that cannot take
 * it, e.g. over its websocket.maxmessagesize) is dropped after this many, and counted. */
#define PUSHER_MAX_CLOSES 8
/* An ack is "ack SEQ": anything longer is not one. */
#define PUSHER_ACK_MAX 40

struct ptarget {
	struct pusher *p;
	int idx;
	char addr[300];
	char host[ADDR_HOST_MAX];
	int port;
	struct ws_link *link;
	atomic_ullong acked; /* seq of the last "ack SEQ" */
	atomic_uint closes; /* connections that ended: an in-flight report there is resent */
	atomic_int up;
	atomic_int settled; /* its first dial ended (up or not): the order can be judged */
	_Atomic uint64_t sent, acks;
	char why[128]; /* last close, client thread only until read under the pusher's lock */
};

struct pusher {
	struct pusher_config cfg;
	char *path;
	char *token;
	char *spool_dir;
	struct bus *bus;
	struct bus_reader *reader;
	struct ws_client *wc;
	struct ptarget *t;
	size_t nt;
	bool dialled;
	uint64_t dial_ms; /* when the links were first dialled */
	struct push_queue *q;
	struct buf msg; /* the head message */
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	atomic_bool stop, idle, closed;
	/* pusher_flush() asks; the thread clears it after a turn that began after the ask, read
	 * the bus and found nothing waiting: everything published before the ask was delivered. */
	atomic_bool flush_req;
	/* In flight: one report, on one target and connection. */
	bool inflight;
	uint64_t if_seq, if_ms;
	int if_target;
	unsigned if_closes;
	unsigned head_closes; /* sends of the head report that ended with a close */
	uint64_t if_acks; /* the target's acks when it was sent: an older ack of the same seq
			   * (a spooled report of an earlier run) does not count */
	int current; /* target reports go to, -1 none */
	_Atomic uint64_t queued, delivered, dropped, resent, failovers, timeouts, unrendered;
	struct ratelog log_drop, log_none;
};

int pusher_pick(const bool *up, size_t nservers)
{
	for (size_t i = 0; i < nservers; i++)
		if (up[i])
			return (int)i;
	return -1;
}

static void pusher_signal(struct pusher *p)
{
	pthread_mutex_lock(&p->lock);
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* --- link callbacks (the ws_client thread) --- */

static int pt_path(void *ctx, struct buf *path)
{
	struct ptarget *t = ctx;

	return buf_puts(path, t->p->path);
}

static void pt_opened(void *ctx)
{
	struct ptarget *t = ctx;

	atomic_store(&t->up, 1);
	atomic_store(&t->settled, 1);
	pusher_signal(t->p);
}

int pusher_parse_ack(const void *data, size_t len, uint64_t *seq)
{
	const unsigned char *d = data;
	uint64_t v = 0;

	if (len < 5 || len > PUSHER_ACK_MAX || memcmp(d, "ack ", 4))
		return -EINVAL;
	for (size_t i = 4; i < len; i++) {
		if (d[i] < '0' || d[i] > '9' || v > (UINT64_MAX - (d[i] - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (d[i] - '0');
	}
	*seq = v;
	return 0;
}

static int pt_message(void *ctx, const void *data, size_t len, int binary)
{
	struct ptarget *t = ctx;
	uint64_t seq;

	/* Not an ack: a receiver may say other things; nothing to do with them. */
	if (binary || pusher_parse_ack(data, len, &seq))
		return 0;
	atomic_store(&t->acked, seq);
	atomic_fetch_add(&t->acks, 1);
	pusher_signal(t->p);
	return 0;
}

static void pt_closed(void *ctx, int http_status, const char *why)
{
	struct ptarget *t = ctx;
	bool was = atomic_exchange(&t->up, 0);

	atomic_fetch_add(&t->closes, 1);
	atomic_store(&t->settled, 1);
	pthread_mutex_lock(&t->p->lock);
	if (http_status == 401)
		snprintf(t->why, sizeof(t->why), "401: cluster.token missing or wrong");
	else if (http_status)
		snprintf(t->why, sizeof(t->why), "HTTP %d", http_status);
	else
		snprintf(t->why, sizeof(t->why), "%s", why);
	pthread_cond_signal(&t->p->cond);
	pthread_mutex_unlock(&t->p->lock);
	if (was)
		pr_warn("pusher: %s: connection lost (%s)\n", t->addr, why);
}

/* --- the pusher thread --- */

static int dial_all(struct pusher *p)
{
	static const struct ws_link_callbacks cb = {
		.path = pt_path, .opened = pt_opened, .message = pt_message, .closed = pt_closed,
	};

	for (size_t i = 0; i < p->nt; i++) {
		struct ws_link_config lc = {
			.host = p->t[i].host,
			.port = p->t[i].port,
			.token = p->token,
			.max_message = 4096, /* acks only */
		};

		p->t[i].link = ws_link_new(p->wc, &lc, &cb, &p->t[i]);
		if (!p->t[i].link)
			return -errno;
	}
	p->dialled = true;
	p->dial_ms = mono_ms();
	return 0;
}

/* Reads what the bus has for the pusher into the queue. Returns -ESHUTDOWN once it is closed
 * and drained, else 0. */
static int take_reports(struct pusher *p)
{
	struct report_wire_msg wm;
	struct bus_item *it;
	const struct report_wire *w;
	uint64_t lost, quiet;
	struct buf m = {};
	int ret, dropped;

	while ((ret = bus_read(p->reader, &it, &lost)) == 0) {
		w = p->cfg.wire(bus_item_obj(it));
		/* Every text in every message: the next one may go to another server. */
		if (!w || report_wire_compose(w, true, 0, lost, &wm) ||
		    buf_reserve(&m, wm.len)) {
			atomic_fetch_add(&p->unrendered, 1);
			bus_reader_count_lost(p->reader, 1);
			bus_item_put(p->bus, it);
			continue;
		}
		report_wire_copy(&wm, 0, wm.len, m.data);
		m.len = wm.len;
		dropped = push_queue_put(p->q, bus_item_seq(it), m.data, m.len);
		bus_item_put(p->bus, it);
		if (dropped < 0) {
			dropped = 1;
		} else {
			atomic_fetch_add(&p->queued, 1);
		}
		if (dropped) {
			atomic_fetch_add(&p->dropped, (uint64_t)dropped);
			bus_reader_count_lost(p->reader, (uint64_t)dropped);
			if (ratelog_due(&p->log_drop, &quiet))
				pr_warn("pusher: queue full (pusher.spool_mb): %d oldest report(s) "
					"dropped (%llu more times since the last line)\n",
					dropped, (unsigned long long)quiet);
		}
	}
	buf_free(&m);
	return ret == -ESHUTDOWN ? -ESHUTDOWN : 0;
}

/* The target to send to, saying when it changes: -1 none is up, -2 wait for first dials. */
static int choose(struct pusher *p)
{
	bool up[64];
	size_t n = p->nt < 64 ? p->nt : 64;
	int now, earlier;

	for (size_t i = 0; i < n; i++)
		up[i] = atomic_load(&p->t[i].up);
	now = pusher_pick(up, n);
	/*
	 * Just after the links were dialled a later server may answer first: wait (a little)
	 * until every earlier one has answered too, or the pusher starts on the wrong one. With
	 * none up yet, every first dial is still "earlier": no "unreachable" before they ended.
	 */
	earlier = now < 0 ? (int)n : now;
	for (int i = 0; i < earlier && mono_ms() - p->dial_ms < PUSHER_FIRST_DIAL_MS; i++)
		if (!atomic_load(&p->t[i].settled))
			return -2;
	if (now != p->current) {
		if (now >= 0 && p->current >= 0)
			atomic_fetch_add(&p->failovers, 1);
		if (now >= 0)
			pr_info("pusher: pushing to %s\n", p->t[now].addr);
		p->current = now;
	}
	return now;
}

/*
 * Pops the head if it is still report seq: while it was in flight the queue's bound may have
 * dropped it (counted then), and the head is now another report, not sent yet. Returns
 * whether it popped.
 */
static bool pop_if_head(struct pusher *p, uint64_t seq)
{
	uint64_t head;

	if (push_queue_peek(p->q, &head, &p->msg) || head != seq)
		return false;
	push_queue_pop(p->q);
	return true;
}

/* One step: settle the report in flight, or send the next. */
static void step(struct pusher *p)
{
	uint64_t now = mono_ms(), seq, quiet;
	struct ptarget *t;
	int target, err;

	if (p->inflight) {
		t = &p->t[p->if_target];
		if (atomic_load(&t->acks) > p->if_acks && atomic_load(&t->acked) == p->if_seq) {
			pop_if_head(p, p->if_seq);
			atomic_fetch_add(&p->delivered, 1);
			p->inflight = false;
			p->head_closes = 0;
		} else if (atomic_load(&t->closes) != p->if_closes) {
			p->inflight = false;
			if (++p->head_closes >= PUSHER_MAX_CLOSES) {
				pr_warn("pusher: report %llu closed the connection %u times in a row: "
					"dropped (too large for the receiver?)\n",
					(unsigned long long)p->if_seq, p->head_closes);
				if (pop_if_head(p, p->if_seq)) {
					atomic_fetch_add(&p->dropped, 1);
					bus_reader_count_lost(p->reader, 1);
				}
				p->head_closes = 0;
			} else {
				atomic_fetch_add(&p->resent, 1); /* the connection ended: resend */
			}
		} else if (now - p->if_ms >= p->cfg.ack_ms) {
			/* A peer that takes reports and never says so: try the next one. */
			atomic_fetch_add(&p->timeouts, 1);
			atomic_fetch_add(&p->resent, 1);
			atomic_store(&t->up, 0);
			pr_warn("pusher: %s: no ack within %u ms: trying the next server\n",
				t->addr, p->cfg.ack_ms);
			p->inflight = false;
		} else {
			return;
		}
	}
	if (!push_queue_len(p->q))
		return;
	if (!p->dialled && dial_all(p)) {
		pr_warn("pusher: cannot dial: %s\n", strerror(errno));
		return;
	}
	target = choose(p);
	if (target == -2)
		return;
	if (target < 0) {
		if (ratelog_due(&p->log_none, &quiet))
			pr_warn("pusher: no server of pusher.servers is reachable; %llu report(s) "
				"wait\n",
				(unsigned long long)push_queue_len(p->q));
		return;
	}
	err = push_queue_peek(p->q, &seq, &p->msg);
	if (err == -ENOENT)
		return;
	if (err) { /* unreadable (a damaged spool file): lost */
		push_queue_pop(p->q);
		atomic_fetch_add(&p->dropped, 1);
		bus_reader_count_lost(p->reader, 1);
		return;
	}
	t = &p->t[target];
	p->if_closes = atomic_load(&t->closes);
	p->if_acks = atomic_load(&t->acks);
	if (ws_link_send(t->link, p->msg.data, p->msg.len, 1))
		return; /* not connected any more, or busy: the next step retries */
	atomic_fetch_add(&t->sent, 1);
	p->inflight = true;
	p->if_seq = seq;
	p->if_target = target;
	p->if_ms = now;
}

static void *pusher_main(void *arg)
{
	struct pusher *p = arg;
	struct timespec ts;
	bool closed = false;

	if (p->cfg.preconnect && dial_all(p))
		pr_warn("pusher: cannot dial: %s\n", strerror(errno));
	while (!atomic_load(&p->stop)) {
		bool req = atomic_load(&p->flush_req), idle;

		if (!closed && take_reports(p) == -ESHUTDOWN)
			closed = true;
		step(p);
		idle = !p->inflight && !push_queue_len(p->q);
		atomic_store(&p->idle, idle);
		atomic_store(&p->closed, closed);
		if (req && idle)
			atomic_store(&p->flush_req, false);
		pthread_mutex_lock(&p->lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += PUSHER_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (!atomic_load(&p->stop))
			pthread_cond_timedwait(&p->cond, &p->lock, &ts);
		pthread_mutex_unlock(&p->lock);
	}
	return NULL;
}

/* The bus's publish (its lock held): only a signal. */
static void pusher_wake(void *ctx)
{
	pusher_signal(ctx);
}

static void pusher_release(struct pusher *p)
{
	for (size_t i = 0; i < p->nt; i++)
		ws_link_free(p->t[i].link);
	ws_client_free(p->wc);
	bus_reader_free(p->reader);
	free(p->t);
	free(p->path);
	if (p->token)
		explicit_bzero(p->token, strlen(p->token));
	free(p->token);
	free(p->spool_dir);
	buf_free(&p->msg);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

struct pusher *pusher_new(struct bus *b, const struct pusher_config *cfg)
{
	struct bus_reader_config rc = {
		.kind = "pusher",
		.queue = cfg->queue,
		.start = BUS_START_LIVE,
		.wake = pusher_wake,
	};
	struct pusher *p;
	const char *why;
	int err;

	if (!cfg->nservers || !cfg->wire || !cfg->path || cfg->path[0] != '/') {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->cfg = *cfg;
	p->bus = b;
	p->current = -1;
	if (!p->cfg.ack_ms)
		p->cfg.ack_ms = PUSHER_ACK_MS_DEFAULT;
	p->path = strdup(cfg->path);
	p->token = cfg->token && *cfg->token ? strdup(cfg->token) : NULL;
	p->spool_dir = strdup(cfg->spool_dir ? cfg->spool_dir : "");
	p->t = calloc(cfg->nservers, sizeof(*p->t));
	p->nt = cfg->nservers;
	if (!p->path || !p->spool_dir || !p->t || (cfg->token && *cfg->token && !p->token))
		goto nomem;
	p->cfg.path = p->path;
	p->cfg.spool_dir = p->spool_dir;
	for (size_t i = 0; i < p->nt; i++) {
		struct ptarget *t = &p->t[i];

		t->p = p;
		t->idx = (int)i;
		snprintf(t->addr, sizeof(t->addr), "%s", cfg->servers[i]);
		if (addr_parse(cfg->servers[i], t->host, &t->port, &why)) {
			pr_warn("pusher: pusher.servers: %s: %s\n", cfg->servers[i], why);
			pusher_release(p);
			errno = EINVAL;
			return NULL;
		}
	}
	p->q = push_queue_open(p->spool_dir, cfg->spool_bytes, PUSHER_MEM_REPORTS);
	if (!p->q) {
		err = errno;
		pr_warn("pusher: cannot open pusher.spool_dir %s: %s\n", p->spool_dir,
			strerror(err));
		pusher_release(p);
		errno = err;
		return NULL;
	}
	if (push_queue_len(p->q))
		pr_info("pusher: %llu report(s) from an earlier run in %s\n",
			(unsigned long long)push_queue_len(p->q), p->spool_dir);
	p->wc = ws_client_new();
	rc.ctx = p;
	p->reader = p->wc ? bus_reader_new(b, &rc) : NULL;
	if (!p->reader)
		goto fail;
	err = pthread_create(&p->thread, NULL, pusher_main, p);
	if (err) {
		errno = err;
		goto fail;
	}
	p->started = true;
	return p;
nomem:
	errno = ENOMEM;
fail:
	err = errno;
	push_queue_close(p->q);
	pusher_release(p);
	errno = err;
	return NULL;
}

int pusher_flush(struct pusher *p, unsigned timeout_ms)
{
	uint64_t end = mono_ms() + timeout_ms;

	atomic_store(&p->flush_req, true);
	for (;;) {
		if (!atomic_load(&p->flush_req))
			return 0;
		if (mono_ms() >= end)
			return -ETIMEDOUT;
		pusher_signal(p);
		usleep(5000);
	}
}

uint64_t pusher_free(struct pusher *p)
{
	uint64_t lost, left;

	if (!p)
		return 0;
	atomic_store(&p->stop, true);
	pusher_signal(p);
	if (p->started)
		pthread_join(p->thread, NULL);
	/* What the bus still held for the pusher never reached its queue. */
	lost = bus_reader_lag(p->reader);
	left = push_queue_len(p->q);
	lost += push_queue_close(p->q);
	if (*p->spool_dir && left > lost)
		pr_warn("pusher: %llu report(s) left in %s for the next start\n",
			(unsigned long long)(left - lost), p->spool_dir);
	pusher_release(p);
	return lost;
}

int pusher_metrics(struct pusher *p, struct buf *out)
{
	int err;

	err = buf_printf(
		out,
		"# HELP mysqlprobe_pusher_reports_total Reports of the pusher, by outcome: queued, "
		"delivered (acknowledged), resent, dropped (at the queue's bounds), unrendered.\n"
		"# TYPE mysqlprobe_pusher_reports_total counter\n"
		"mysqlprobe_pusher_reports_total{outcome=\"queued\"} %llu\n"
		"mysqlprobe_pusher_reports_total{outcome=\"delivered\"} %llu\n"
		"mysqlprobe_pusher_reports_total{outcome=\"resent\"} %llu\n"
		"mysqlprobe_pusher_reports_total{outcome=\"dropped\"} %llu\n"
		"mysqlprobe_pusher_reports_total{outcome=\"unrendered\"} %llu\n"
		"# HELP mysqlprobe_pusher_queue_reports Reports waiting (memory and spool).\n"
		"# TYPE mysqlprobe_pusher_queue_reports gauge\n"
		"mysqlprobe_pusher_queue_reports %llu\n"
		"# HELP mysqlprobe_pusher_spool_bytes Bytes in the pusher's spool.\n"
		"# TYPE mysqlprobe_pusher_spool_bytes gauge\n"
		"mysqlprobe_pusher_spool_bytes %llu\n"
		"# HELP mysqlprobe_pusher_failovers_total Changes of the server pushed to.\n"
		"# TYPE mysqlprobe_pusher_failovers_total counter\n"
		"mysqlprobe_pusher_failovers_total %llu\n"
		"# HELP mysqlprobe_pusher_ack_timeouts_total Reports a server did not acknowledge "
		"in time.\n"
		"# TYPE mysqlprobe_pusher_ack_timeouts_total counter\n"
		"mysqlprobe_pusher_ack_timeouts_total %llu\n"
		"# HELP mysqlprobe_pusher_server_up Whether the pusher's link to a server is up.\n"
		"# TYPE mysqlprobe_pusher_server_up gauge\n",
		(unsigned long long)atomic_load(&p->queued),
		(unsigned long long)atomic_load(&p->delivered),
		(unsigned long long)atomic_load(&p->resent),
		(unsigned long long)atomic_load(&p->dropped),
		(unsigned long long)atomic_load(&p->unrendered),
		(unsigned long long)push_queue_len(p->q),
		(unsigned long long)push_queue_spool_bytes(p->q),
		(unsigned long long)atomic_load(&p->failovers),
		(unsigned long long)atomic_load(&p->timeouts));
	for (size_t i = 0; !err && i < p->nt; i++)
		err = buf_printf(out, "mysqlprobe_pusher_server_up{server=\"%s\"} %d\n",
				 p->t[i].addr, atomic_load(&p->t[i].up));
	for (size_t i = 0; !err && i < p->nt; i++)
		err = buf_printf(out, "mysqlprobe_pusher_server_reports_total{server=\"%s\"} %llu\n",
				 p->t[i].addr, (unsigned long long)atomic_load(&p->t[i].acks));
	return err;
}
