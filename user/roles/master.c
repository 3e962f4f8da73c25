// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The master role: pulls every slave's reports, merges them per period, publishes the merge. */
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster/addr.h"
#include "cluster/state_file.h"
#include "lib/log.h"
#include "roles/master_int.h"
#include "roles/sink_outs.h"
#include "roles/stdout_out.h"

/* The slave's reports are about one period apart: three silent periods (at least 3 s) is a
 * link that died without a FIN. */
#define MASTER_IDLE_PERIODS 3
#define MASTER_IDLE_MIN_MS 3000
/* Template texts kept for the rows of later reports (texts are sent once per link). */
#define MASTER_TEMPLATE_BYTES (256u << 20)

uint64_t master_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void report_free(struct slave_report *r)
{
	if (!r)
		return;
	agg_free(r->a);
	report_wire_free(r->wire);
	free((void *)r->h.nodes);
	free(r);
}

static void bus_free_report(void *obj)
{
	report_free(obj);
}

static struct mslave *slave_find(struct master *m, const char *addr)
{
	for (size_t i = 0; i < m->nslaves; i++)
		if (!strcmp(m->slaves[i]->addr, addr))
			return m->slaves[i];
	return NULL;
}

/* --- puller callbacks (client thread) --- */

static bool pl_since(void *ctx, const char *addr, uint64_t *seq, uint64_t *started_ms)
{
	struct master *m = ctx;
	struct merge_node_info info;
	bool known = false;

	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < merge_node_count(m->merge); i++) {
		if (!merge_node_at(m->merge, i, &info) && !strcmp(info.name, addr)) {
			/* Everything the slave still holds after what was merged: nothing is lost
			 * across a reconnect, and a restarted slave (seq from 1) replays all it has. */
			*seq = info.merged_seq;
			*started_ms = info.merged_started_ms;
			known = true;
			break;
		}
	}
	pthread_mutex_unlock(&m->lock);
	return known;
}

static const char *store_text(void *ctx, uint64_t id, size_t *len)
{
	return template_store_get(ctx, id, len);
}

/* One report of node addr into the merge; m->lock held. */
static void offer_locked(struct master *m, const char *addr, const struct report_msg *msg)
{
	const struct report_header *h = &msg->h;
	const char *text;
	uint64_t id;
	size_t len;
	int ret;

	for (size_t i = 0; i < report_msg_template_count(msg); i++)
		if (!report_msg_template_at(msg, i, &id, &text, &len))
			template_store_put(m->store, id, text, len);
	ret = merge_offer(m->merge, addr, msg, store_text, m->store);
	if (ret == MERGE_MERGED)
		m->n.merged++;
	else if (ret == MERGE_LATE)
		m->n.late++;
	else if (ret == MERGE_DUPLICATE)
		m->n.duplicates++;
	else if (ret < 0)
		m->n.merge_errors++;
	m->n.lost += h->lost;
}

static void pl_report(void *ctx, const char *addr, const struct report_msg *msg)
{
	const struct report_header *h = &msg->h;
	struct master *m = ctx;

	pthread_mutex_lock(&m->lock);
	offer_locked(m, addr, msg);
	pthread_mutex_unlock(&m->lock);
	if (h->lost)
		pr_warn("master: slave %s: %llu report(s) no longer held by it were lost\n", addr,
			(unsigned long long)h->lost);
}

static void pl_state(void *ctx, const char *addr, bool up, int http_status, const char *why)
{
	struct master *m = ctx;
	struct mslave *s;
	bool changed = false;

	pthread_mutex_lock(&m->lock);
	merge_node_set_up(m->merge, addr, up);
	s = slave_find(m, addr);
	if (s) {
		changed = s->up != up || s->http_status != http_status;
		s->up = up;
		s->http_status = http_status;
		s->since_ms = master_now_ms();
		snprintf(s->why, sizeof(s->why), "%s", why);
		if (up)
			s->connects++;
	}
	pthread_mutex_unlock(&m->lock);
	/* One line per change, not per retry: a slave down for an hour is one line. */
	if (!changed)
		return;
	if (up)
		pr_info("master: slave %s connected\n", addr);
	else if (http_status == 401)
		pr_warn("master: slave %s refused the pull: 401 (cluster.token missing or wrong)\n",
			addr);
	else if (http_status)
		pr_warn("master: slave %s refused the pull: HTTP %d\n", addr, http_status);
	else
		pr_warn("master: slave %s down: %s\n", addr, why);
}

static void pl_garbage(void *ctx, const char *addr, const char *why)
{
	struct master *m = ctx;
	uint64_t now = master_now_ms();
	bool log;

	pthread_mutex_lock(&m->lock);
	m->n.garbage++;
	log = now - m->garbage_logged_ms >= 60000;
	if (log)
		m->garbage_logged_ms = now;
	pthread_mutex_unlock(&m->lock);
	if (log)
		pr_warn("master: slave %s sent a message that is %s: refused (counted in "
			"mysqlprobe_master_reports_refused_total)\n",
			addr, why);
}

static const struct puller_callbacks puller_cb = {
	.since = pl_since,
	.report = pl_report,
	.state = pl_state,
	.garbage = pl_garbage,
};

/* --- pushed reports (/push, the server thread) --- */

/* What a /push connection remembers: the node its reports came from. */
struct push_conn {
	char node[256]; /* as struct report_header */
};

/* The pushing node's entry, added on its first report; m->lock held. NULL: no memory. */
static struct mslave *push_node_locked(struct master *m, const char *node)
{
	struct mslave *s = slave_find(m, node), **v;

	if (s)
		return s;
	s = calloc(1, sizeof(*s));
	v = realloc(m->slaves, (m->nslaves + 1) * sizeof(*v));
	if (v)
		m->slaves = v;
	if (!s || !v || merge_node_add(m->merge, node, 0, 0)) {
		free(s);
		return NULL;
	}
	snprintf(s->addr, sizeof(s->addr), "%s", node);
	s->pushed = true;
	m->slaves[m->nslaves++] = s;
	return s;
}

static void push_state_locked(struct master *m, struct mslave *s, bool up, const char *why)
{
	merge_node_set_up(m->merge, s->addr, up);
	if (up && !s->up)
		s->connects++;
	s->up = up;
	s->since_ms = master_now_ms();
	snprintf(s->why, sizeof(s->why), "%s", why);
}

int master_push(void *ctx, void **state, const void *data, size_t len, int binary,
		uint64_t *ack)
{
	struct master *m = ctx;
	struct push_conn *pc = *state;
	const struct report_msg *msg;
	const struct report_header *h;
	const char *why;
	struct mslave *s;
	bool first;
	int err;

	err = report_read_msg(&m->push_rd, data, len, binary, &msg, &why);
	if (err) {
		pl_garbage(m, pc ? pc->node : "(a pusher)", why);
		return err == -ENOMEM ? -ENOMEM : 0;
	}
	h = &msg->h;
	if (!pc) {
		pc = calloc(1, sizeof(*pc));
		if (!pc)
			return -ENOMEM;
		*state = pc;
	}
	pthread_mutex_lock(&m->lock);
	/*
	 * After the last emission a report would be merged into a period that never goes out:
	 * no ack, the connection closes and the pusher sends it elsewhere.
	 */
	if (m->finishing) {
		pthread_mutex_unlock(&m->lock);
		return -ESHUTDOWN;
	}
	first = !slave_find(m, h->node);
	s = push_node_locked(m, h->node);
	if (s && s->pushed) {
		push_state_locked(m, s, true, "pushing");
		s->pushed_ms = master_now_ms();
	}
	if (s) {
		m->n.pushed++;
		offer_locked(m, h->node, msg);
	}
	pthread_mutex_unlock(&m->lock);
	if (!s)
		return -ENOMEM;
	snprintf(pc->node, sizeof(pc->node), "%s", h->node);
	if (first)
		pr_info("master: node %s pushes its reports\n", h->node);
	if (h->lost)
		pr_warn("master: node %s: %llu report(s) it could not push were lost\n", h->node,
			(unsigned long long)h->lost);
	*ack = h->seq;
	return 1;
}

int master_push_busy(void *ctx)
{
	struct master *m = ctx;
	int busy;

	pthread_mutex_lock(&m->lock);
	busy = m->finishing;
	pthread_mutex_unlock(&m->lock);
	return busy;
}

void master_push_closed(void *ctx, void *state)
{
	struct master *m = ctx;
	struct push_conn *pc = state;
	struct mslave *s;

	if (!pc)
		return;
	pthread_mutex_lock(&m->lock);
	s = slave_find(m, pc->node);
	/* Down: the merge does not wait for it (it pushes elsewhere, or is gone). */
	if (s && s->pushed)
		push_state_locked(m, s, false, "push connection closed");
	pthread_mutex_unlock(&m->lock);
	free(pc);
}

/* --- the slave list --- */

/* Adds addr (valid) with what is known of it; m->lock held. Returns 0 or -errno. */
static int slave_add_locked(struct master *m, const char *addr, uint64_t started_ms,
			    uint64_t seq)
{
	struct mslave *s, **v;
	const char *why;
	int err;

	if (slave_find(m, addr))
		return -EEXIST;
	s = calloc(1, sizeof(*s));
	v = realloc(m->slaves, (m->nslaves + 1) * sizeof(*v));
	if (!s || !v) {
		free(s);
		if (v)
			m->slaves = v;
		return -ENOMEM;
	}
	m->slaves = v;
	snprintf(s->addr, sizeof(s->addr), "%s", addr);
	if (addr_parse(addr, s->host, &s->port, &why)) {
		free(s);
		return -EINVAL;
	}
	snprintf(s->why, sizeof(s->why), "connecting");
	s->since_ms = master_now_ms();
	err = merge_node_add(m->merge, addr, started_ms, seq);
	if (err) {
		free(s);
		return err;
	}
	m->slaves[m->nslaves++] = s;
	return 0;
}

int master_slave_start(struct master *m, struct mslave *s)
{
	struct puller_config pc = {
		.addr = s->addr,
		.host = s->host,
		.port = s->port,
		.token = m->cfg->cluster_token,
		.acfg = &m->acfg,
		.max_message = (size_t)m->cfg->websocket_maxmessagesize,
		.idle_ms = m->idle_ms,
		.term = m->gs.term,
	};

	s->p = puller_new(m->wc, &pc, &puller_cb, m);
	return s->p ? 0 : -errno;
}

int master_join(struct master *m, const char *addr)
{
	struct mslave *s;
	int err;

	pthread_mutex_lock(&m->lock);
	err = slave_add_locked(m, addr, 0, 0);
	s = err ? NULL : slave_find(m, addr);
	pthread_mutex_unlock(&m->lock);
	if (err)
		return err;
	/* A gossip master pulls only while it leads: its takeover starts the puller. */
	err = m->cfg->cluster_gossip ? 0 : master_slave_start(m, s);
	if (!err)
		master_save_state(m);
	return err;
}

/* Takes addr out of the list; its puller is freed outside the lock. -ENOENT if unknown. */
int master_remove(struct master *m, const char *addr)
{
	struct mslave *s = NULL;

	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->nslaves; i++) {
		if (!strcmp(m->slaves[i]->addr, addr)) {
			s = m->slaves[i];
			m->slaves[i] = m->slaves[--m->nslaves];
			merge_node_remove(m->merge, addr);
			break;
		}
	}
	pthread_mutex_unlock(&m->lock);
	if (!s)
		return -ENOENT;
	puller_free(s->p);
	free(s);
	master_save_state(m);
	return 0;
}

int master_leave(struct master *m)
{
	char addr[STATE_ADDR_MAX];

	for (;;) {
		pthread_mutex_lock(&m->lock);
		if (!m->nslaves) {
			pthread_mutex_unlock(&m->lock);
			return 0;
		}
		snprintf(addr, sizeof(addr), "%s", m->slaves[0]->addr);
		pthread_mutex_unlock(&m->lock);
		master_remove(m, addr);
	}
}

/* --- state file --- */

void master_save_state(struct master *m)
{
	struct cluster_state st = { 0 };
	struct merge_node_info info;
	int err = 0;

	if (!m->state_path)
		return;
	pthread_mutex_lock(&m->save_lock);
	pthread_mutex_lock(&m->lock);
	st.seq = m->seq_saved;
	for (size_t i = 0; !err && i < merge_node_count(m->merge); i++) {
		const struct mslave *s;

		if (merge_node_at(m->merge, i, &info))
			continue;
		/* A pushing node is not dialled: it comes back by pushing, and says from where. */
		s = slave_find(m, info.name);
		if (s && s->pushed)
			continue;
		err = state_add(&st, info.name, info.started_ms, info.last_seq);
	}
	pthread_mutex_unlock(&m->lock);
	err = err ?: state_write(m->state_path, &st);
	pthread_mutex_unlock(&m->save_lock);
	cluster_state_free(&st);
	if (err && !m->state_warned) {
		m->state_warned = true;
		pr_warn("master: failed to write %s: %s (a restart would replay or lose periods)\n",
			m->state_path, strerror(-err));
	}
}

static void *saver_main(void *arg)
{
	struct master *m = arg;

	pthread_mutex_lock(&m->saver_lock);
	for (;;) {
		while (!m->save_wanted && !m->saver_stop)
			pthread_cond_wait(&m->saver_cond, &m->saver_lock);
		if (m->saver_stop)
			break;
		/* Requests that come while writing fold into the next write of the newest state. */
		m->save_wanted = false;
		pthread_mutex_unlock(&m->saver_lock);
		master_save_state(m);
		pthread_mutex_lock(&m->saver_lock);
	}
	pthread_mutex_unlock(&m->saver_lock);
	return NULL;
}

void master_save_soon(struct master *m)
{
	if (!m->saver_running) {
		master_save_state(m);
		return;
	}
	pthread_mutex_lock(&m->saver_lock);
	m->save_wanted = true;
	pthread_cond_signal(&m->saver_cond);
	pthread_mutex_unlock(&m->saver_lock);
}

static void saver_stop(struct master *m)
{
	if (!m->saver_running)
		return;
	pthread_mutex_lock(&m->saver_lock);
	m->saver_stop = true;
	pthread_cond_signal(&m->saver_cond);
	pthread_mutex_unlock(&m->saver_lock);
	pthread_join(m->saver, NULL);
	m->saver_running = false;
}

/* The state file's path: cluster.state_file, or mysqlprobe.state beside -c FILE. */
static char *state_path(const struct master_config *mc)
{
	char *copy, *dir, *path = NULL;

	if (mc->cfg->cluster_state_file && *mc->cfg->cluster_state_file)
		return strdup(mc->cfg->cluster_state_file);
	if (!mc->config_path)
		return NULL;
	copy = strdup(mc->config_path);
	if (!copy)
		return NULL;
	dir = dirname(copy);
	if (asprintf(&path, "%s/mysqlprobe.state", dir) < 0)
		path = NULL;
	free(copy);
	return path;
}

/* Slaves from the state file (with how far they were emitted), then cluster.slaves. */
static int master_load_slaves(struct master *m)
{
	struct cluster_state st = { 0 };
	char err_line[128] = "";
	int err = 0;

	if (m->state_path) {
		err = state_read(m->state_path, &st, err_line, sizeof(err_line));
		if (err == -ENOENT) {
			err = 0;
		} else if (err) {
			fprintf(stderr, "mysqlprobe: %s: %s\n", m->state_path,
				err == -EINVAL ? err_line : strerror(-err));
			return err;
		}
	}
	m->seq = m->seq_saved = st.seq;
	for (size_t i = 0; !err && i < st.nslaves; i++)
		err = slave_add_locked(m, st.slaves[i].addr, st.slaves[i].started_ms,
				       st.slaves[i].seq);
	cluster_state_free(&st);
	for (size_t i = 0; !err && i < m->cfg->cluster_slaves.n; i++) {
		const char *a = m->cfg->cluster_slaves.v[i], *why;
		char host[ADDR_HOST_MAX];
		int port;

		if (addr_parse(a, host, &port, &why)) {
			fprintf(stderr, "mysqlprobe: cluster.slaves: %s: %s\n", a, why);
			return -EINVAL;
		}
		err = slave_add_locked(m, a, 0, 0);
		if (err == -EEXIST)
			err = 0;
	}
	if (err)
		fprintf(stderr, "mysqlprobe: cluster.slaves: %s\n", strerror(-err));
	return err;
}

/* --- periods --- */

static int publish(struct master *m, struct merge_out *o)
{
	struct slave_report *r = calloc(1, sizeof(*r));

	if (!r) {
		merge_out_free(o);
		return -ENOMEM;
	}
	r->a = o->a;
	r->c = o->c;
	r->h.version = REPORT_VERSION;
	snprintf(r->h.node, sizeof(r->h.node), "%s", m->node);
	snprintf(r->h.role, sizeof(r->h.role), "master");
	r->h.seq = ++m->seq;
	r->h.term = m->gs.term; /* the term it is emitted under; 0 in a static cluster */
	r->h.started_ms = m->started_ms;
	r->h.period_start_ms = o->period_start_ms;
	r->h.period_end_ms = o->period_end_ms;
	r->h.late = o->late;
	r->h.nodes = o->nodes;
	r->h.nnodes = o->nnodes;
	master_fill_outputs(m, &r->h);
	m->n.reports++;
	m->n.late_reports += o->late;
	for (size_t i = 0; i < o->nnodes; i++)
		m->n.missing += o->nodes[i].status == REPORT_NODE_MISSING;
	/* Once for every /collector client, here rather than on the thread answering HTTP. */
	if (role_report_render(r, &m->wire))
		pr_warn("master: failed to render report %llu for clients: %s\n",
			(unsigned long long)r->h.seq, strerror(errno));
	return bus_publish(m->bus, r->h.seq, r, slave_report_bytes(r));
}

static int master_emit(struct master *m, uint64_t now_ms, bool all)
{
	struct merge_out o;
	int n, err = 0, emitted = 0;

	pthread_mutex_lock(&m->lock);
	while (!err && (n = all ? merge_poll_open(m->merge, &o) : merge_poll(m->merge, now_ms, &o))) {
		if (n > 0 && m->gs.g)
			master_gossip_announce(m);
		if (n < 0 || (err = publish(m, &o)) == 0)
			emitted++, err = n < 0 ? n : 0;
	}
	if (emitted)
		m->seq_saved = m->seq;
	pthread_mutex_unlock(&m->lock);
	/* After every emission: a master killed now resumes each slave after what went out. */
	if (emitted)
		master_save_soon(m);
	return err;
}

/*
 * A pushing node whose pushes stopped is not waited for: a pusher that went back to its first
 * server keeps its link to this one open (for the next failover) but sends nothing here.
 */
static void push_idle(struct master *m, uint64_t now_ms)
{
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->nslaves; i++) {
		struct mslave *s = m->slaves[i];

		if (s->pushed && s->up && now_ms > s->pushed_ms + m->idle_ms)
			push_state_locked(m, s, false, "no push for three periods");
	}
	pthread_mutex_unlock(&m->lock);
}

int master_tick(struct master *m, uint64_t now_ms)
{
	push_idle(m, now_ms);
	/* Fencing: a standby, or a leader whose lease ran out, holds what it has. */
	if (m->cfg->cluster_gossip && !master_gossip_tick(m, now_ms))
		return 0;
	return master_emit(m, now_ms, false);
}

int master_finish(struct master *m)
{
	int err = 0;

	pthread_mutex_lock(&m->lock);
	m->finishing = true; /* no push is taken (acknowledged) after the last emission */
	pthread_mutex_unlock(&m->lock);
	if (!m->cfg->cluster_gossip || master_gossip_tick(m, master_now_ms()))
		err = master_emit(m, 0, true);

	master_save_state(m); /* the last word, written before exit */
	return err;
}

/* --- life cycle --- */

static unsigned merge_wait_ms(const struct mp_config *c)
{
	uint64_t period = config_report_period_ms(c);

	if (c->cluster_merge_wait_ms)
		return (unsigned)c->cluster_merge_wait_ms;
	return period / 2 > 500 ? (unsigned)(period / 2) : 500;
}

static int master_parts_new(struct master *m, const struct master_config *mc)
{
	const struct mp_config *c = mc->cfg;
	uint64_t period = config_report_period_ms(c);
	struct merge_config *cfg = &m->merge_cfg;
	struct bus_config bc = {
		.history = (size_t)c->cluster_buffer_periods,
		.history_bytes = (size_t)c->cluster_buffer_mb << 20,
		.free_obj = bus_free_report,
	};

	m->acfg = (struct agg_config){
		.max_keys = (uint32_t)c->max_keys,
		.max_slow = (uint32_t)c->max_slow,
		.slow_threshold_us = (uint64_t)c->slowthresholdms * 1000,
		.template_max_len = (uint32_t)c->template_max_len,
		.sql_max_len = MASTER_SLOW_SQL_MAX,
	};
	*cfg = (struct merge_config){
		.acfg = m->acfg, .period_ms = period, .wait_ms = merge_wait_ms(c),
	};
	m->idle_ms = period * MASTER_IDLE_PERIODS > MASTER_IDLE_MIN_MS
			     ? (unsigned)(period * MASTER_IDLE_PERIODS)
			     : MASTER_IDLE_MIN_MS;
	m->merge = merge_new(cfg);
	m->store = template_store_new(MASTER_TEMPLATE_BYTES);
	m->bus = bus_new(&bc);
	if (!m->merge || !m->store || !m->bus)
		return -ENOMEM;
	if (mc->report_out) {
		m->out = stdout_out_new(m->bus, mc->report_out, false, mc->report_table);
		if (!m->out)
			return -errno;
	}
	m->sinks = sink_outs_new(c, m->bus, 0);
	if (!m->sinks)
		return -errno;
	m->wc = ws_client_new();
	if (!m->wc)
		return -errno;
	if (report_read_init(&m->push_rd, &m->acfg, (size_t)c->websocket_maxmessagesize))
		return -ENOMEM;
	return role_wire_init(&m->wire, (size_t)c->max_keys);
}

struct master *master_new(const struct master_config *mc)
{
	struct master *m = calloc(1, sizeof(*m));
	char host[256] = "";
	int err;

	if (!m)
		return NULL;
	m->cfg = mc->cfg;
	pthread_mutex_init(&m->lock, NULL);
	pthread_mutex_init(&m->save_lock, NULL);
	pthread_mutex_init(&m->saver_lock, NULL);
	pthread_cond_init(&m->saver_cond, NULL);
	master_gossip_init(m);
	m->started_ms = master_now_ms();
	gethostname(host, sizeof(host) - 1);
	snprintf(m->node, sizeof(m->node), "%s:%lld", host, (long long)mc->cfg->serverport);
	m->state_path = state_path(mc);
	err = master_parts_new(m, mc);
	if (err) {
		fprintf(stderr, "mysqlprobe: master: failed to start: %s\n", strerror(-err));
		goto fail;
	}
	err = master_load_slaves(m);
	if (err)
		goto fail;
	/* A gossip master dials its slaves when it wins an election (master_gossip.c). */
	for (size_t i = 0; !mc->cfg->cluster_gossip && i < m->nslaves; i++) {
		err = master_slave_start(m, m->slaves[i]);
		if (err) {
			fprintf(stderr, "mysqlprobe: master: cannot dial %s: %s\n",
				m->slaves[i]->addr, strerror(-err));
			goto fail;
		}
	}
	master_save_state(m);
	if (m->state_path && !pthread_create(&m->saver, NULL, saver_main, m))
		m->saver_running = true; /* else each emission writes the state itself */
	return m;
fail:
	master_free(m);
	errno = -err;
	return NULL;
}

struct bus *master_bus(struct master *m)
{
	return m->bus;
}

int master_flush(struct master *m, unsigned timeout_ms)
{
	int err = sink_outs_flush(m->sinks, timeout_ms);

	return (m->out ? stdout_out_flush(m->out, timeout_ms) : 0) ?: err;
}

void master_free(struct master *m)
{
	if (!m)
		return;
	saver_stop(m);
	for (size_t i = 0; i < m->nslaves; i++) {
		puller_free(m->slaves[i]->p);
		free(m->slaves[i]);
	}
	free(m->slaves);
	ws_client_free(m->wc);
	if (m->bus)
		bus_close(m->bus);
	if (stdout_out_free(m->out) == -EBUSY)
		m->bus = NULL; /* its thread is stuck in a write: leave the bus to the exit */
	sink_outs_free(m->sinks);
	bus_free(m->bus);
	merge_free(m->merge);
	template_store_free(m->store);
	report_read_free(&m->push_rd);
	free(m->state_path);
	role_wire_free(&m->wire);
	master_gossip_destroy(m);
	pthread_cond_destroy(&m->saver_cond);
	pthread_mutex_destroy(&m->saver_lock);
	pthread_mutex_destroy(&m->save_lock);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
