// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A node's part in a gossip cluster: links to every member, heartbeats, the election. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/addr.h"
#include "cluster/members.h"
#include "cluster/vote_file.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "net/ws_client.h"
#include "roles/gossip.h"

#define GOSSIP_HB_MS 500
#define GOSSIP_TICK_MS 50

struct gossip_peer {
	char id[LEASE_ID_MAX];
	struct ws_link *link;
};

struct gossip {
	struct gossip_cfg cfg;
	struct gossip_callbacks cb;
	void *ctx;
	char self[LEASE_ID_MAX];
	char group[GOSSIP_GROUP_MAX];
	char *token;
	char *vote_file;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool thread_started, stop, left;

	/* Under lock. */
	struct lease *lease;
	struct members *members;
	struct ws_client *client;
	struct gossip_peer peers[GOSSIP_MAX_MEMBERS];
	size_t npeers;
	uint64_t next_hb;
	unsigned long long token_refused_seen;
	struct gossip_msg in, out; /* scratch: large */
	struct buf wire;
};

static int link_path(void *ctx, struct buf *path)
{
	(void)ctx;
	return buf_puts(path, "/cluster/gossip");
}

/* Messages come in on our own server; a link only carries ours out. */
static int link_message(void *ctx, const void *data, size_t len, int binary)
{
	(void)ctx;
	(void)data;
	(void)len;
	(void)binary;
	return 0;
}

static int peer_open(struct gossip *g, const char *id)
{
	struct ws_link_callbacks cb = { .path = link_path, .message = link_message };
	struct ws_link_config lc = { .token = g->token, .max_message = GOSSIP_MSG_MAX };
	char host[ADDR_HOST_MAX];
	struct gossip_peer *p;
	const char *why;
	int port;

	if (g->npeers == GOSSIP_MAX_MEMBERS || addr_parse(id, host, &port, &why))
		return -EINVAL;
	p = &g->peers[g->npeers];
	lc.host = host;
	lc.port = port;
	snprintf(p->id, sizeof(p->id), "%s", id);
	p->link = ws_link_new(g->client, &lc, &cb, g);
	if (!p->link)
		return -errno;
	g->npeers++;
	return 0;
}

/* One link per member that has not left; none for the rest. */
static void peers_sync(struct gossip *g)
{
	for (size_t i = 0; i < g->npeers;) {
		const struct member *m = members_find(g->members, g->peers[i].id);

		if (m && m->state != MEMBER_LEFT) {
			i++;
			continue;
		}
		ws_link_free(g->peers[i].link);
		g->peers[i] = g->peers[--g->npeers];
	}
	for (size_t i = 0; i < members_count(g->members); i++) {
		const struct member *m = members_at(g->members, i);
		bool linked = false;

		for (size_t k = 0; k < g->npeers && !linked; k++)
			linked = !strcmp(g->peers[k].id, m->id);
		if (!linked && m->state != MEMBER_LEFT)
			peer_open(g, m->id);
	}
}

static void msg_head(struct gossip *g, struct gossip_msg *m, uint64_t now)
{
	/* Seqs only in heartbeats (fill_seqs): a lease message carrying stale ones, or an
	 * emitted end without its seqs, would make a standby resume from the wrong place. */
	m->nseqs = m->nmembers = 0;
	m->emitted_end_ms = 0;
	memset(&m->lease, 0, sizeof(m->lease));
	m->leaving = false;
	m->to[0] = '\0';
	snprintf(m->group, sizeof(m->group), "%s", g->group);
	snprintf(m->from, sizeof(m->from), "%s", g->self);
	m->role = g->cfg.role;
	m->rank = g->cfg.rank;
	m->term = lease_term(g->lease);
	snprintf(m->leader, sizeof(m->leader), "%s", lease_leader(g->lease, now));
}

static void send_msg(struct gossip *g, const struct gossip_msg *m)
{
	g->wire.len = 0;
	if (gossip_msg_write(m, &g->wire))
		return;
	for (size_t i = 0; i < g->npeers; i++)
		if (!m->to[0] || !strcmp(m->to, g->peers[i].id))
			ws_link_send(g->peers[i].link, g->wire.data, g->wire.len, 0);
}

/* In order; a vote that could not be written is not sent (nor anything after it). */
static void run_actions(struct gossip *g, const struct lease_out *out, uint64_t now)
{
	for (size_t i = 0; i < out->n; i++) {
		const struct lease_action *a = &out->a[i];
		struct lease_vote v = { .term = a->term };
		int err;

		switch (a->kind) {
		case LEASE_ACT_PERSIST: {
			uint64_t t0 = mono_ms(), took;

			snprintf(v.voted_for, sizeof(v.voted_for), "%s", a->id);
			err = vote_write(g->vote_file, &v);
			if (err) {
				pr_warn("gossip: failed to write vote file %s: %s\n", g->vote_file,
					strerror(-err));
				return;
			}
			/* Our own election counts from now, when its requests go out. */
			took = mono_ms() - t0;
			lease_persisted(g->lease, a->term, t0 + took);
			if (took >= 250)
				pr_warn("gossip: writing the vote for term %llu took %llu ms\n",
					(unsigned long long)a->term, (unsigned long long)took);
			break;
		}
		case LEASE_ACT_SEND:
			pr_debug("gossip: %llu send %s term %llu round %llu%s%s to %s\n",
				 (unsigned long long)now, lease_msg_name(a->msg.kind),
				 (unsigned long long)a->msg.term, (unsigned long long)a->msg.round,
				 a->msg.pre ? " pre" : "", a->msg.ok ? " ok" : "",
				 a->to[0] ? a->to : "all");
			msg_head(g, &g->out, now);
			snprintf(g->out.to, sizeof(g->out.to), "%s", a->to);
			g->out.lease = a->msg;
			g->out.leaving = a->msg.kind == LEASE_MSG_LEAVE;
			send_msg(g, &g->out);
			break;
		case LEASE_ACT_ROLE:
			pr_info("gossip: %s, term %llu, leader %s\n", lease_role_name(a->role),
				(unsigned long long)a->term, a->id[0] ? a->id : "none");
			if (g->cb.changed)
				g->cb.changed(g->ctx, a->role, a->term, a->id);
			break;
		default:
			break;
		}
	}
}

static void heartbeat(struct gossip *g, uint64_t now)
{
	msg_head(g, &g->out, now);
	members_fill(g->members, &g->out);
	if (lease_role(g->lease) == LEASE_LEADER && g->cb.fill_seqs)
		g->cb.fill_seqs(g->ctx, &g->out);
	send_msg(g, &g->out);
}

static void tick(struct gossip *g, uint64_t now)
{
	struct lease_out out = { 0 };

	members_tick(g->members, now);
	peers_sync(g);
	lease_set_voters(g->lease, members_voters(g->members));
	lease_tick(g->lease, now, &out);
	run_actions(g, &out, now);
	if (now >= g->next_hb) {
		heartbeat(g, now);
		g->next_hb = now + GOSSIP_HB_MS;
	}
}

static void *gossip_thread(void *arg)
{
	struct gossip *g = arg;
	struct timespec ts;

	pthread_mutex_lock(&g->lock);
	while (!g->stop) {
		uint64_t now = mono_ms(), next;

		if (!g->left)
			tick(g, now);
		next = now + GOSSIP_TICK_MS;
		if (lease_next_ms(g->lease) < next)
			next = lease_next_ms(g->lease) > now ? lease_next_ms(g->lease) : now + 1;
		ts.tv_sec = (time_t)(next / 1000);
		ts.tv_nsec = (long)(next % 1000) * 1000000;
		pthread_cond_timedwait(&g->cond, &g->lock, &ts);
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

int gossip_on_message(struct gossip *g, const char *data, size_t len)
{
	struct lease_out out = { 0 };
	const char *why;
	uint64_t now = mono_ms();
	int ret = 0;

	pthread_mutex_lock(&g->lock);
	if (g->left)
		goto unlock;
	if (gossip_msg_parse(data, len, &g->in, &why)) {
		members_refused(g->members, MEMBER_REFUSED_BAD);
		pr_debug("gossip: refused a message: %s\n", why);
		goto unlock;
	}
	if (members_on_msg(g->members, &g->in, now) == -EPERM) {
		ret = -1; /* another group: close the link */
		goto unlock;
	}
	if (g->in.to[0] && strcmp(g->in.to, g->self))
		goto unlock;
	if ((g->in.nseqs || g->in.emitted_end_ms) && g->cb.leader_seqs &&
	    !strcmp(g->in.from, g->in.leader) &&
	    lease_role(g->lease) != LEASE_LEADER)
		g->cb.leader_seqs(g->ctx, &g->in);
	if (g->in.lease.kind) {
		pr_debug("gossip: %llu recv %s term %llu round %llu%s%s from %s\n",
			 (unsigned long long)now, lease_msg_name(g->in.lease.kind),
			 (unsigned long long)g->in.lease.term, (unsigned long long)g->in.lease.round,
			 g->in.lease.pre ? " pre" : "", g->in.lease.ok ? " ok" : "", g->in.from);
		lease_set_voters(g->lease, members_voters(g->members));
		lease_on_msg(g->lease, now, g->in.from, &g->in.lease, &out);
		run_actions(g, &out, now);
	}
unlock:
	pthread_mutex_unlock(&g->lock);
	return ret;
}

void gossip_announce(struct gossip *g, unsigned wait_ms)
{
	uint64_t sent[GOSSIP_MAX_MEMBERS] = { 0 }, now = mono_ms(), until = now + wait_ms;
	struct ws_link_stats st;
	bool waiting = true;

	pthread_mutex_lock(&g->lock);
	if (g->left || lease_role(g->lease) != LEASE_LEADER)
		goto unlock;
	for (size_t i = 0; i < g->npeers; i++) {
		ws_link_get_stats(g->peers[i].link, &st);
		sent[i] = st.connected ? st.sent : UINT64_MAX;
	}
	heartbeat(g, now);
	/*
	 * Until every connected link wrote it: a standby must know of a period before any
	 * consumer can have it, or a kill between the two would make the winner emit it again.
	 * The wait is short (a local write); a link that takes longer is not waited for.
	 */
	while (waiting && mono_ms() < until) {
		struct timespec ts = { 0, 1000000L };

		waiting = false;
		for (size_t i = 0; i < g->npeers && !waiting; i++) {
			ws_link_get_stats(g->peers[i].link, &st);
			waiting = sent[i] != UINT64_MAX && st.connected && st.sent == sent[i];
		}
		if (waiting)
			nanosleep(&ts, NULL);
	}
unlock:
	pthread_mutex_unlock(&g->lock);
}

bool gossip_leading(struct gossip *g, uint64_t *term)
{
	bool lead;

	pthread_mutex_lock(&g->lock);
	lead = !g->left && lease_role(g->lease) == LEASE_LEADER;
	*term = lease_term(g->lease);
	pthread_mutex_unlock(&g->lock);
	return lead;
}

int gossip_join(struct gossip *g, const char *addr)
{
	int ret;

	pthread_mutex_lock(&g->lock);
	ret = members_add(g->members, addr, mono_ms());
	if (!ret)
		peers_sync(g);
	pthread_mutex_unlock(&g->lock);
	return ret;
}

int gossip_remove(struct gossip *g, const char *addr)
{
	int ret;

	pthread_mutex_lock(&g->lock);
	ret = members_remove(g->members, addr);
	if (!ret)
		peers_sync(g);
	pthread_mutex_unlock(&g->lock);
	return ret;
}

void gossip_leave(struct gossip *g)
{
	struct lease_out out = { 0 };
	uint64_t now = mono_ms();

	pthread_mutex_lock(&g->lock);
	if (!g->left) {
		lease_leave(g->lease, now, &out);
		run_actions(g, &out, now);
		g->left = true;
	}
	pthread_mutex_unlock(&g->lock);
}

int gossip_listnodes(struct gossip *g, struct buf *out)
{
	struct members_self self;
	uint64_t now = mono_ms();
	int ret;

	pthread_mutex_lock(&g->lock);
	self.role = g->cfg.role;
	self.lease = lease_role_name(lease_role(g->lease));
	self.term = lease_term(g->lease);
	self.leader = lease_leader(g->lease, now);
	ret = members_listnodes(g->members, &self, now, out);
	pthread_mutex_unlock(&g->lock);
	return ret;
}

bool gossip_may_emit(struct gossip *g)
{
	bool ok;

	pthread_mutex_lock(&g->lock);
	ok = lease_may_emit(g->lease, mono_ms());
	pthread_mutex_unlock(&g->lock);
	return ok;
}

uint64_t gossip_term(struct gossip *g)
{
	uint64_t t;

	pthread_mutex_lock(&g->lock);
	t = lease_term(g->lease);
	pthread_mutex_unlock(&g->lock);
	return t;
}

void gossip_count_refused_token(struct gossip *g, unsigned long long total)
{
	pthread_mutex_lock(&g->lock);
	for (; g->token_refused_seen < total; g->token_refused_seen++)
		members_refused(g->members, MEMBER_REFUSED_TOKEN);
	pthread_mutex_unlock(&g->lock);
}

static int gossip_load_vote(struct gossip *g, struct lease_vote *v, bool *have)
{
	char err[128];
	int ret = vote_read(g->vote_file, v, err, sizeof(err));

	*have = !ret;
	if (ret == -ENOENT)
		return 0;
	if (ret == -EINVAL)
		pr_warn("gossip: %s: %s\n", g->vote_file, err);
	else if (ret)
		pr_warn("gossip: failed to read vote file %s: %s\n", g->vote_file, strerror(-ret));
	return ret;
}

static int gossip_init(struct gossip *g, uint64_t now)
{
	struct members_cfg mc = {
		.self = g->self, .group = g->group, .hb_ms = GOSSIP_HB_MS, .suspect_missed = 3,
		.dead_ms = 2500,
	};
	struct lease_cfg lc = {
		.self = g->self, .candidate = g->cfg.role == GOSSIP_CANDIDATE, .rank = g->cfg.rank,
		.lease_ms = 2000, .renew_ms = GOSSIP_HB_MS, .rank_step_ms = 300, .retry_ms = 1000,
	};
	struct lease_vote v;
	bool have;
	int ret = gossip_load_vote(g, &v, &have);

	if (ret)
		return ret;
	g->members = members_new(&mc);
	g->lease = g->members ? lease_new(&lc, have ? &v : NULL, now) : NULL;
	g->client = g->lease ? ws_client_new() : NULL;
	if (!g->client)
		return -errno;
	for (size_t i = 0; i < g->cfg.nseeds; i++)
		if (strcmp(g->cfg.seeds[i], g->self))
			members_add(g->members, g->cfg.seeds[i], now);
	peers_sync(g);
	return 0;
}

struct gossip *gossip_new(const struct gossip_cfg *cfg, const struct gossip_callbacks *cb,
			  void *ctx)
{
	struct gossip *g = calloc(1, sizeof(*g));
	pthread_condattr_t ca;
	int ret;

	if (!g)
		return NULL;
	g->cfg = *cfg;
	g->cb = cb ? *cb : (struct gossip_callbacks){ 0 };
	g->ctx = ctx;
	snprintf(g->self, sizeof(g->self), "%s", cfg->advertise);
	snprintf(g->group, sizeof(g->group), "%s", cfg->group);
	g->token = cfg->token && *cfg->token ? strdup(cfg->token) : NULL;
	g->vote_file = strdup(cfg->vote_file);
	pthread_mutex_init(&g->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->cond, &ca);
	pthread_condattr_destroy(&ca);
	ret = g->vote_file ? gossip_init(g, mono_ms()) : -ENOMEM;
	if (!ret) {
		ret = -pthread_create(&g->thread, NULL, gossip_thread, g);
		g->thread_started = !ret;
	}
	if (ret) {
		gossip_free(g);
		errno = -ret;
		return NULL;
	}
	return g;
}

void gossip_free(struct gossip *g)
{
	if (!g)
		return;
	if (g->lease)
		gossip_leave(g);
	pthread_mutex_lock(&g->lock);
	g->stop = true;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
	if (g->thread_started)
		pthread_join(g->thread, NULL);
	/*
	 * The LEAVE just queued may be cut by the close: then the others see the lease run out as
	 * after a crash. /cluster/leave (links still open) is the graceful way.
	 */
	for (size_t i = 0; i < g->npeers; i++)
		ws_link_free(g->peers[i].link);
	ws_client_free(g->client);
	lease_free(g->lease);
	members_free(g->members);
	buf_free(&g->wire);
	if (g->token)
		explicit_bzero(g->token, strlen(g->token));
	free(g->token);
	free(g->vote_file);
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
	free(g);
}
