// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A master in a gossip cluster: pulls and emits only while it leads; takes over without loss. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "roles/master_int.h"

/* How long a heartbeat may take to be written before a period goes out anyway. */
#define ANNOUNCE_WAIT_MS 20
/* At a takeover the periods already over wait this long (plus merge_wait_ms) for the
 * slaves' replays: the dials happen now. */
#define TAKEOVER_GRACE_MS 1000

void master_gossip_init(struct master *m)
{
	pthread_mutex_init(&m->gs.lock, NULL);
}

void master_gossip_destroy(struct master *m)
{
	pthread_mutex_destroy(&m->gs.lock);
}

void master_set_gossip(struct master *m, struct gossip *g)
{
	m->gs.g = g;
}

/* --- the gossip thread's side (gossip's lock held: take only m->gs.lock) --- */

static void gs_fill_seqs(void *ctx, struct gossip_msg *msg)
{
	struct master *m = ctx;

	pthread_mutex_lock(&m->gs.lock);
	memcpy(msg->seqs, m->gs.out, m->gs.nout * sizeof(msg->seqs[0]));
	msg->nseqs = m->gs.nout;
	msg->emitted_end_ms = m->gs.out_end;
	pthread_mutex_unlock(&m->gs.lock);
}

static void gs_leader_seqs(void *ctx, const struct gossip_msg *msg)
{
	struct master *m = ctx;

	pthread_mutex_lock(&m->gs.lock);
	/* A leader's heartbeats only move forward within a term; an older term's are stale. */
	if (msg->term >= m->gs.heard_term) {
		memcpy(m->gs.heard, msg->seqs, msg->nseqs * sizeof(msg->seqs[0]));
		m->gs.nheard = msg->nseqs;
		m->gs.heard_end = msg->emitted_end_ms;
		m->gs.heard_term = msg->term;
	}
	pthread_mutex_unlock(&m->gs.lock);
}

const struct gossip_callbacks master_gossip_callbacks = {
	.fill_seqs = gs_fill_seqs,
	.leader_seqs = gs_leader_seqs,
};

/* What the heartbeats carry from now on: where the merge stands. m->lock held. */
static void out_snapshot(struct master *m)
{
	struct merge_node_info info;
	size_t n = 0;

	pthread_mutex_lock(&m->gs.lock);
	for (size_t i = 0; i < merge_node_count(m->merge) && n < GOSSIP_MAX_SEQS; i++) {
		struct gossip_seq *q = &m->gs.out[n];

		if (merge_node_at(m->merge, i, &info) || strlen(info.name) >= sizeof(q->slave))
			continue;
		snprintf(q->slave, sizeof(q->slave), "%s", info.name);
		q->started_ms = info.started_ms;
		q->seq = info.last_seq;
		n++;
	}
	m->gs.nout = n;
	m->gs.out_end = merge_emitted_end(m->merge);
	pthread_mutex_unlock(&m->gs.lock);
}

void master_gossip_announce(struct master *m)
{
	out_snapshot(m);
	gossip_announce(m->gs.g, ANNOUNCE_WAIT_MS);
}

/* --- the main thread's side --- */

/* Hangs up on every slave; no puller callback runs once it returns. */
static void pullers_stop(struct master *m)
{
	struct puller **p;
	size_t n = 0;

	pthread_mutex_lock(&m->lock);
	p = calloc(m->nslaves ? m->nslaves : 1, sizeof(*p));
	for (size_t i = 0; p && i < m->nslaves; i++) {
		if (m->slaves[i]->p)
			p[n++] = m->slaves[i]->p;
		m->slaves[i]->p = NULL;
	}
	pthread_mutex_unlock(&m->lock);
	for (size_t i = 0; i < n; i++)
		puller_free(p[i]);
	free(p);
}

/* Where node name resumes: the leader's last heartbeat when it is newer, else our own merge. */
static void resume_point(const struct master *m, const char *name, bool heard, uint64_t *started,
			 uint64_t *seq)
{
	struct merge_node_info info;

	*started = *seq = 0;
	for (size_t i = 0; heard && i < m->gs.nheard; i++)
		if (!strcmp(m->gs.heard[i].slave, name)) {
			*started = m->gs.heard[i].started_ms;
			*seq = m->gs.heard[i].seq;
			return;
		}
	for (size_t i = 0; i < merge_node_count(m->merge); i++)
		if (!merge_node_at(m->merge, i, &info) && !strcmp(info.name, name)) {
			*started = info.started_ms;
			*seq = info.last_seq;
			return;
		}
}

/*
 * A fresh merge that starts where the previous leader stopped: each slave after the seq it
 * last emitted of it, the periods after the last one it emitted. Our own merge (a term we
 * led before, or the state file) when no newer leader was heard. m->lock held.
 */
static int merge_take_over(struct master *m, uint64_t now_ms, uint64_t *end, uint64_t *from)
{
	struct merge *next = merge_new(&m->merge_cfg);
	bool heard;
	int err = next ? 0 : -ENOMEM;

	pthread_mutex_lock(&m->gs.lock);
	heard = m->gs.heard_term > m->gs.term;
	*from = heard ? m->gs.heard_term : 0;
	*end = heard ? m->gs.heard_end : merge_emitted_end(m->merge);
	for (size_t i = 0; !err && i < m->nslaves; i++) {
		struct mslave *s = m->slaves[i];
		uint64_t started, seq;

		resume_point(m, s->addr, heard, &started, &seq);
		err = merge_node_add(next, s->addr, started, seq);
		/* Expected from the start: a period is not complete until each one replayed. */
		if (!err)
			merge_node_set_up(next, s->addr, !s->pushed || s->up);
	}
	pthread_mutex_unlock(&m->gs.lock);
	if (!err && *end)
		err = merge_resume_after(next, *end, now_ms, TAKEOVER_GRACE_MS);
	/* The first term of a cluster (no end known) replays what the slaves hold: wait too. */
	merge_hold(next, now_ms + TAKEOVER_GRACE_MS + m->merge_cfg.wait_ms);
	if (err) {
		merge_free(next);
		return err;
	}
	merge_free(m->merge);
	m->merge = next;
	/* Not what an earlier term of ours emitted: a standby that hears it must resume here. */
	out_snapshot(m);
	return 0;
}

static void take_over(struct master *m, uint64_t term, uint64_t now_ms)
{
	uint64_t end = 0, from = 0;
	int err;

	pullers_stop(m); /* of an earlier term, if any */
	pthread_mutex_lock(&m->lock);
	err = merge_take_over(m, now_ms, &end, &from);
	if (!err) {
		m->gs.leading = true;
		m->gs.term = term;
	}
	pthread_mutex_unlock(&m->lock);
	if (err) {
		pr_warn("master: cannot take over as leader of term %llu: %s (retrying)\n",
			(unsigned long long)term, strerror(-err));
		return;
	}
	if (from)
		pr_info("master: leader of term %llu: pulling %zu slave(s) from where the leader of "
			"term %llu stopped (the period after %llu)\n",
			(unsigned long long)term, m->nslaves, (unsigned long long)from,
			(unsigned long long)end);
	else
		pr_info("master: leader of term %llu: pulling %zu slave(s) from where this master "
			"stopped (the period after %llu)\n",
			(unsigned long long)term, m->nslaves, (unsigned long long)end);
	for (size_t i = 0; i < m->nslaves; i++) {
		struct mslave *s = m->slaves[i];

		if (s->pushed)
			continue;
		err = master_slave_start(m, s);
		if (err)
			pr_warn("master: cannot dial %s: %s\n", s->addr, strerror(-err));
	}
}

static void step_down(struct master *m, uint64_t term)
{
	pullers_stop(m);
	pthread_mutex_lock(&m->lock);
	m->gs.leading = false;
	for (size_t i = 0; i < m->nslaves; i++)
		if (!m->slaves[i]->pushed)
			merge_node_set_up(m->merge, m->slaves[i]->addr, false);
	pthread_mutex_unlock(&m->lock);
	/* What was merged and not emitted is left to the new leader: it resumes before it. */
	pr_info("master: no longer leading (term %llu): not pulling, not emitting\n",
		(unsigned long long)term);
}

bool master_gossip_tick(struct master *m, uint64_t now_ms)
{
	uint64_t term = 0;
	bool lead;

	if (!m->gs.g)
		return false;
	lead = gossip_leading(m->gs.g, &term);
	if (lead && (!m->gs.leading || term != m->gs.term))
		take_over(m, term, now_ms);
	else if (!lead && m->gs.leading)
		step_down(m, term);
	return m->gs.leading && gossip_may_emit(m->gs.g);
}
