// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The leader election and lease of a gossip cluster (DESIGN §8.4): a pure state machine. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/lease.h"

struct lease_round {
	uint64_t round;
	uint64_t sent_ms;
	uint64_t acks; /* bit per peer slot */
};

struct lease {
	struct lease_cfg cfg;
	char self[LEASE_ID_MAX];
	enum lease_role role;
	uint64_t term;
	struct lease_vote vote;
	unsigned nvoters;
	unsigned spread_ms;

	/* The view of a voter: no vote for anyone but `leader` before quiet_until. */
	char leader[LEASE_ID_MAX];
	uint64_t quiet_until;

	/* A candidate asking for (pre-)votes for elect_term since elect_ms. */
	bool pre;
	uint64_t elect_term, elect_ms, retry_at;
	uint64_t reask_at; /* a pre-vote asked again then (0: not) */
	uint64_t granted, refused;

	/* A leader. */
	uint64_t round, next_round_ms, lease_until;
	struct lease_round rounds[LEASE_ROUNDS];

	/* Peers seen, so votes and acks are counted once each. */
	char peers[LEASE_MAX_VOTERS][LEASE_ID_MAX];
	unsigned npeers;

	/* What the last ROLE action said. */
	enum lease_role said_role;
	uint64_t said_term;
	char said_leader[LEASE_ID_MAX];
};

static const char *const role_names[] = {
	[LEASE_VOTER] = "voter",     [LEASE_STANDBY] = "standby", [LEASE_STANDING] = "candidate",
	[LEASE_LEADER] = "leader",   [LEASE_LEFT] = "left",
};

static const char *const msg_names[] = {
	[LEASE_MSG_HB] = "hb",         [LEASE_MSG_HB_ACK] = "hb_ack", [LEASE_MSG_VOTE_REQ] = "vote_req",
	[LEASE_MSG_VOTE] = "vote",     [LEASE_MSG_LEAVE] = "leave",
};

const char *lease_role_name(enum lease_role r)
{
	return (unsigned)r <= LEASE_LEFT ? role_names[r] : "?";
}

const char *lease_msg_name(uint32_t kind)
{
	return kind && kind < LEASE_MSG_KIND_MAX ? msg_names[kind] : "?";
}

static void set_id(char dst[LEASE_ID_MAX], const char *src)
{
	snprintf(dst, LEASE_ID_MAX, "%s", src);
}

/* The slot of peer id, added on first sight; -1 when the table is full. */
static int peer_slot(struct lease *l, const char *id)
{
	for (unsigned i = 0; i < l->npeers; i++)
		if (!strcmp(l->peers[i], id))
			return (int)i;
	if (l->npeers == LEASE_MAX_VOTERS)
		return -1;
	set_id(l->peers[l->npeers], id);
	return (int)l->npeers++;
}

static unsigned majority(const struct lease *l)
{
	return l->nvoters / 2 + 1;
}

/* Self counts as one on top of the peer bits. */
static unsigned count(uint64_t bits)
{
	return 1 + (unsigned)__builtin_popcountll(bits);
}

static struct lease_action *push(struct lease_out *out, enum lease_act_kind kind)
{
	struct lease_action *a;

	/* LEASE_OUT_MAX bounds what one event can do; the unit tests check the worst case. */
	if (out->n == LEASE_OUT_MAX)
		abort();
	a = &out->a[out->n++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	return a;
}

static void send(struct lease_out *out, const char *to, uint32_t kind, uint64_t term,
		 uint64_t round, bool pre, bool ok)
{
	struct lease_action *a = push(out, LEASE_ACT_SEND);

	set_id(a->to, to);
	a->msg.kind = kind;
	a->msg.term = term;
	a->msg.round = round;
	a->msg.pre = pre;
	a->msg.ok = ok;
}

static void persist_vote(struct lease *l, uint64_t term, const char *id, struct lease_out *out)
{
	struct lease_action *a = push(out, LEASE_ACT_PERSIST);

	l->vote.term = term;
	set_id(l->vote.voted_for, id);
	a->term = term;
	set_id(a->id, id);
}

/* A ROLE action when role, term or leader changed since the last one. */
static void announce(struct lease *l, uint64_t now, struct lease_out *out)
{
	const char *leader = lease_leader(l, now);
	struct lease_action *a;

	if (l->said_role == l->role && l->said_term == l->term && !strcmp(l->said_leader, leader))
		return;
	l->said_role = l->role;
	l->said_term = l->term;
	set_id(l->said_leader, leader);
	a = push(out, LEASE_ACT_ROLE);
	a->role = l->role;
	a->term = l->term;
	set_id(a->id, leader);
}

static void become_standby(struct lease *l, uint64_t now)
{
	if (l->role == LEASE_LEADER) {
		/* Nobody is seen any more: the old leader may stand again after its rank wait. */
		l->leader[0] = '\0';
		l->quiet_until = now;
		l->lease_until = 0;
	}
	if (l->role == LEASE_LEADER || l->role == LEASE_STANDING)
		l->role = LEASE_STANDBY;
	l->pre = false;
}

/* An election that cannot be won or took too long: back to standby, retry later. */
static void give_up(struct lease *l, uint64_t now)
{
	if (l->role == LEASE_STANDING)
		l->role = LEASE_STANDBY;
	l->pre = false;
	/*
	 * rank + 1 steps so that rank 0 does not spin and the order by rank holds on retries,
	 * plus a spread fixed by the node's id within one step: two candidates of one rank that
	 * split the votes do not meet again on every retry.
	 */
	l->retry_at = now + (uint64_t)(l->cfg.rank + 1) * l->cfg.rank_step_ms + l->spread_ms;
}

static bool electing(const struct lease *l)
{
	return l->pre || l->role == LEASE_STANDING;
}

/* A message of a higher term: a leader or candidate of an older term gives way. */
static void adopt_term(struct lease *l, uint64_t term, uint64_t now)
{
	if (term <= l->term)
		return;
	l->term = term;
	if (electing(l))
		give_up(l, now);
	become_standby(l, now);
}

/* Seeing a leader (or having voted for one) silences this node's own ambitions. */
static void see_leader(struct lease *l, const char *id, uint64_t now)
{
	set_id(l->leader, id);
	if (l->quiet_until < now + l->cfg.lease_ms)
		l->quiet_until = now + l->cfg.lease_ms;
	l->pre = false;
}

/* Whether a vote for `who` must be refused because another leader is seen. */
static bool sees_other(const struct lease *l, const char *who, uint64_t now)
{
	if (l->role == LEASE_LEADER && now < l->lease_until)
		return true;
	return now < l->quiet_until && strcmp(l->leader, who);
}

static void send_round(struct lease *l, uint64_t now, struct lease_out *out)
{
	struct lease_round *r = &l->rounds[++l->round % LEASE_ROUNDS];

	r->round = l->round;
	r->sent_ms = now;
	r->acks = 0;
	l->next_round_ms = now + l->cfg.renew_ms;
	if (count(0) >= majority(l))
		l->lease_until = now + l->cfg.lease_ms;
	send(out, "", LEASE_MSG_HB, l->term, l->round, false, false);
}

static void win(struct lease *l, uint64_t now, struct lease_out *out)
{
	l->role = LEASE_LEADER;
	set_id(l->leader, l->self);
	/* The voters' views started when they granted, after the request was sent. */
	l->lease_until = l->elect_ms + l->cfg.lease_ms;
	send_round(l, now, out);
}

static void stand(struct lease *l, uint64_t now, struct lease_out *out)
{
	l->role = LEASE_STANDING;
	l->pre = false;
	l->term++;
	persist_vote(l, l->term, l->self, out);
	l->elect_term = l->term;
	l->elect_ms = now;
	l->granted = l->refused = 0;
	send(out, "", LEASE_MSG_VOTE_REQ, l->term, 0, false, false);
	if (count(0) >= majority(l))
		win(l, now, out);
}

void lease_persisted(struct lease *l, uint64_t term, uint64_t now)
{
	/* Only later: elect_ms must not pass the moment the requests were sent (see win()). */
	if (l->role == LEASE_STANDING && term == l->elect_term && now > l->elect_ms)
		l->elect_ms = now;
}

static void pre_stand(struct lease *l, uint64_t now, struct lease_out *out)
{
	l->pre = true;
	l->reask_at = 0;
	l->elect_term = l->term + 1;
	l->elect_ms = now;
	l->granted = l->refused = 0;
	if (count(0) >= majority(l))
		return stand(l, now, out);
	send(out, "", LEASE_MSG_VOTE_REQ, l->elect_term, 0, true, false);
}

static uint64_t stand_at(const struct lease *l)
{
	uint64_t t = l->quiet_until + (uint64_t)l->cfg.rank * l->cfg.rank_step_ms;

	return t > l->retry_at ? t : l->retry_at;
}

/* What time alone decides, run before every event. */
static void expire(struct lease *l, uint64_t now)
{
	if (l->role == LEASE_LEADER && now >= l->lease_until)
		become_standby(l, now); /* fencing: no majority within the lease */
	if (electing(l) && now >= l->elect_ms + l->cfg.retry_ms)
		give_up(l, now);
}

void lease_tick(struct lease *l, uint64_t now, struct lease_out *out)
{
	if (l->role == LEASE_LEFT)
		return;
	expire(l, now);
	if (l->role == LEASE_LEADER && now >= l->next_round_ms)
		send_round(l, now, out);
	else if (l->role == LEASE_STANDBY && !l->pre && now >= stand_at(l))
		pre_stand(l, now, out);
	else if (l->pre && l->reask_at && now >= l->reask_at)
		pre_stand(l, now, out);
	announce(l, now, out);
}

uint64_t lease_next_ms(const struct lease *l)
{
	switch (l->role) {
	case LEASE_LEADER:
		return l->next_round_ms < l->lease_until ? l->next_round_ms : l->lease_until;
	case LEASE_STANDING:
		return l->elect_ms + l->cfg.retry_ms;
	case LEASE_STANDBY:
		if (!l->pre)
			return stand_at(l);
		if (l->reask_at && l->reask_at < l->elect_ms + l->cfg.retry_ms)
			return l->reask_at;
		return l->elect_ms + l->cfg.retry_ms;
	default:
		return UINT64_MAX;
	}
}

static void on_hb(struct lease *l, uint64_t now, const char *from, const struct lease_msg *m,
		  struct lease_out *out)
{
	if (m->term < l->term || (m->term == l->term && l->role == LEASE_LEADER)) {
		/* A stale leader learns the newer term from the refusal and steps down. */
		send(out, from, LEASE_MSG_HB_ACK, l->term, m->round, false, false);
		return;
	}
	adopt_term(l, m->term, now);
	if (l->role == LEASE_STANDING)
		become_standby(l, now); /* another candidate won this term */
	see_leader(l, from, now);
	send(out, from, LEASE_MSG_HB_ACK, l->term, m->round, false, true);
}

static void on_hb_ack(struct lease *l, int slot, const struct lease_msg *m, uint64_t now)
{
	struct lease_round *r = &l->rounds[m->round % LEASE_ROUNDS];

	adopt_term(l, m->term, now);
	if (l->role != LEASE_LEADER || m->term != l->term || !m->ok || slot < 0 ||
	    r->round != m->round || !m->round)
		return;
	r->acks |= 1ull << slot;
	if (count(r->acks) >= majority(l) && r->sent_ms + l->cfg.lease_ms > l->lease_until)
		l->lease_until = r->sent_ms + l->cfg.lease_ms;
}

static void on_vote_req(struct lease *l, uint64_t now, const char *from, const struct lease_msg *m,
			struct lease_out *out)
{
	uint64_t wait = 0;
	bool ok = false;

	if (m->term < l->term) {
		/* Refused: the reply's term tells the candidate it is behind. */
	} else if (sees_other(l, from, now)) {
		/*
		 * Refused without adopting the term: a candidate that cannot win disturbs no one.
		 * The reply says how long this voter will still see the leader, so a candidate
		 * that stood a moment early (it heard the last heartbeat a little sooner) retries
		 * then rather than after the election timeout.
		 */
		wait = l->role == LEASE_LEADER ? l->lease_until - now : l->quiet_until - now;
	} else if (m->pre) {
		ok = m->term > l->term && m->term > l->vote.term;
	} else {
		adopt_term(l, m->term, now);
		ok = l->vote.term < m->term ||
		     (l->vote.term == m->term && !strcmp(l->vote.voted_for, from));
		if (ok) {
			persist_vote(l, m->term, from, out);
			see_leader(l, from, now);
		}
	}
	/*
	 * The term asked for, so the candidate can match the answer to its election; a higher
	 * term of ours instead when it is behind, which ends its election.
	 */
	send(out, from, LEASE_MSG_VOTE, m->term > l->term ? m->term : l->term, wait, m->pre, ok);
}

static void on_vote(struct lease *l, uint64_t now, int slot, const struct lease_msg *m,
		    struct lease_out *out)
{
	if (!m->ok && m->term > (electing(l) ? l->elect_term : l->term)) {
		adopt_term(l, m->term, now);
		return;
	}
	if (!electing(l) || slot < 0 || m->pre != l->pre || m->term != l->elect_term)
		return;
	if (m->ok)
		l->granted |= 1ull << slot;
	else
		l->refused |= 1ull << slot;
	if (!m->ok && m->pre && m->round && m->round <= l->cfg.lease_ms &&
	    (!l->reask_at || now + m->round + 1 < l->reask_at))
		/* A voter still sees the leader for m->round ms: ask again just after. */
		l->reask_at = now + m->round + 1;
	if (count(l->granted) >= majority(l))
		return l->pre ? stand(l, now, out) : win(l, now, out);
	/* Give up early once the refusals alone deny a majority. */
	if (l->nvoters - (unsigned)__builtin_popcountll(l->refused) < majority(l)) {
		uint64_t reask = l->reask_at;

		give_up(l, now);
		if (reask)
			l->retry_at = reask; /* they only still saw the leader a moment longer */
	}
}

static void on_leave(struct lease *l, uint64_t now, const char *from)
{
	/* The leader (or the one this node voted for) is gone: stop waiting for it. */
	if (!strcmp(l->leader, from) && l->quiet_until > now) {
		l->quiet_until = now;
		l->leader[0] = '\0';
		l->retry_at = 0;
	}
}

void lease_on_msg(struct lease *l, uint64_t now, const char *from, const struct lease_msg *m,
		  struct lease_out *out)
{
	int slot;

	if (l->role == LEASE_LEFT || !strcmp(from, l->self))
		return;
	expire(l, now);
	slot = peer_slot(l, from);
	switch (m->kind) {
	case LEASE_MSG_HB:
		on_hb(l, now, from, m, out);
		break;
	case LEASE_MSG_HB_ACK:
		on_hb_ack(l, slot, m, now);
		break;
	case LEASE_MSG_VOTE_REQ:
		on_vote_req(l, now, from, m, out);
		break;
	case LEASE_MSG_VOTE:
		on_vote(l, now, slot, m, out);
		break;
	case LEASE_MSG_LEAVE:
		on_leave(l, now, from);
		break;
	default:
		break;
	}
	announce(l, now, out);
}

void lease_leave(struct lease *l, uint64_t now, struct lease_out *out)
{
	if (l->role == LEASE_LEFT)
		return;
	l->role = LEASE_LEFT;
	l->lease_until = 0;
	l->pre = false;
	l->leader[0] = '\0';
	l->quiet_until = 0;
	send(out, "", LEASE_MSG_LEAVE, l->term, 0, false, false);
	announce(l, now, out);
}

void lease_set_voters(struct lease *l, unsigned n)
{
	l->nvoters = n ? n : 1;
}

bool lease_may_emit(const struct lease *l, uint64_t now)
{
	return l->role == LEASE_LEADER && now < l->lease_until;
}

enum lease_role lease_role(const struct lease *l)
{
	return l->role;
}

uint64_t lease_term(const struct lease *l)
{
	return l->term;
}

const char *lease_leader(const struct lease *l, uint64_t now)
{
	if (l->role == LEASE_LEADER)
		return l->self;
	if (l->role == LEASE_STANDING || now >= l->quiet_until)
		return "";
	return l->leader;
}

struct lease *lease_new(const struct lease_cfg *cfg, const struct lease_vote *vote, uint64_t now)
{
	struct lease *l;

	if (!cfg->self || !*cfg->self || strlen(cfg->self) >= LEASE_ID_MAX || !cfg->lease_ms ||
	    !cfg->renew_ms || cfg->renew_ms >= cfg->lease_ms || !cfg->retry_ms || !cfg->rank_step_ms ||
	    cfg->lease_ms / cfg->renew_ms >= LEASE_ROUNDS) {
		errno = EINVAL;
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->cfg = *cfg;
	set_id(l->self, cfg->self);
	l->cfg.self = l->self;
	l->role = cfg->candidate ? LEASE_STANDBY : LEASE_VOTER;
	l->said_role = l->role;
	l->nvoters = 1;
	for (const char *p = l->self; *p; p++)
		l->spread_ms = (l->spread_ms * 31 + (unsigned char)*p) % 1000003u;
	l->spread_ms = l->spread_ms * 97 % cfg->rank_step_ms;
	if (vote) {
		l->vote = *vote;
		l->vote.voted_for[LEASE_ID_MAX - 1] = '\0';
		l->term = vote->term;
	}
	l->said_term = l->term;
	/* It may have acked a leader just before it stopped: a full lease before any vote. */
	l->quiet_until = now + cfg->lease_ms;
	return l;
}

void lease_free(struct lease *l)
{
	free(l);
}
