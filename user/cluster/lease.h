/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The leader election and lease of a gossip cluster (DESIGN §8.4): a pure state machine. */
#ifndef MP_LEASE_H
#define MP_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * No I/O and no clock: every event takes `now` (monotonic ms) and appends the actions it
 * decides to a struct lease_out, which the caller executes in order. The caller owns links,
 * files and timers; it calls lease_tick() no later than lease_next_ms(). Single-threaded:
 * one object per node, driven by one thread.
 *
 * Every node (slave, witness, candidate) is a voter; only candidates (`slave: false`) stand.
 * Protocol, per term:
 *   - a leader sends HB(round) every renew_ms; a voter acks the rounds of the leader of the
 *     highest term it knows. The leader holds its lease until (send time of the last round a
 *     majority acked) + lease_ms and must emit nothing once it expired; it then steps down.
 *   - a voter "sees" a leader for lease_ms after its last HB (or after granting it a vote),
 *     and meanwhile grants no vote to anyone else: since a leader's lease starts when it sent
 *     the round and a voter's view when it received it, a majority that granted a new leader
 *     has outlived the old leader's lease (same-rate monotonic clocks assumed).
 *   - a candidate whose view of the lease expired waits rank * rank_step_ms, asks a pre-vote
 *     for term+1 (no one changes state) and stands only if a majority no longer sees a
 *     leader: a broken link between leader and standby alone never raises the term.
 *   - one vote per term, persisted (LEASE_ACT_PERSIST) before the answer that follows it.
 *   - any message of a higher term turns a leader or candidate into a follower.
 *   - a node leaving says so (LEAVE); voters stop seeing it at once, so a leader's leave
 *     hands over without waiting for the lease.
 */

#define LEASE_ID_MAX 256   /* a node id is its cluster.advertise HOST:PORT */
#define LEASE_MAX_VOTERS 64
#define LEASE_OUT_MAX 8
#define LEASE_ROUNDS 8     /* heartbeat rounds remembered: > lease_ms / renew_ms */

enum lease_role {
	LEASE_VOTER,     /* a slave or a witness: votes and acks, never stands */
	LEASE_STANDBY,   /* a candidate following a leader (or waiting for one) */
	LEASE_STANDING,  /* a candidate asking for votes */
	LEASE_LEADER,
	LEASE_LEFT,      /* left the cluster: answers nothing */
};

enum lease_msg_kind {
	LEASE_MSG_HB = 1,   /* leader → all: term, round */
	LEASE_MSG_HB_ACK,   /* voter → leader: term, round, ok */
	LEASE_MSG_VOTE_REQ, /* candidate → all: term, pre */
	LEASE_MSG_VOTE,     /* voter → candidate: term, pre, ok; refused: round = ms it still
			     * sees a leader (0: refused for another reason) */
	LEASE_MSG_LEAVE,    /* leaving node → all */
	LEASE_MSG_KIND_MAX,
};

struct lease_msg {
	uint64_t term;
	uint64_t round;
	uint32_t kind; /* enum lease_msg_kind */
	uint8_t pre;   /* VOTE_REQ/VOTE: a pre-vote, which changes nobody's state */
	uint8_t ok;    /* HB_ACK/VOTE: granted */
};

enum lease_act_kind {
	LEASE_ACT_PERSIST = 1, /* write term + voted_for durably; on failure drop the rest */
	LEASE_ACT_SEND,        /* send msg to `to` ("" = every member) */
	LEASE_ACT_ROLE,        /* role, term or leader changed: see lease_role() etc. */
};

struct lease_action {
	uint32_t kind; /* enum lease_act_kind */
	char to[LEASE_ID_MAX];
	struct lease_msg msg;
	/* PERSIST: what to write. ROLE: the new role and term, and the leader ("" = none). */
	uint64_t term;
	char id[LEASE_ID_MAX];
	uint32_t role;
};

struct lease_out {
	struct lease_action a[LEASE_OUT_MAX];
	size_t n;
};

struct lease_cfg {
	const char *self;     /* this node's id */
	bool candidate;       /* master-eligible: may stand */
	unsigned rank;        /* cluster.rank: lower stands first */
	unsigned lease_ms;    /* 2000 */
	unsigned renew_ms;    /* 500 */
	unsigned rank_step_ms; /* 300 */
	unsigned retry_ms;    /* an election not won by then is given up: 1000 */
};

/* What the vote file holds: the highest term this node voted in and for whom. */
struct lease_vote {
	uint64_t term;
	char voted_for[LEASE_ID_MAX];
};

struct lease;

/*
 * A node starting at `now` with its persisted vote (NULL: none). Waits one lease before
 * standing, so a restarted node hears the current leader first. NULL with errno on error.
 */
struct lease *lease_new(const struct lease_cfg *cfg, const struct lease_vote *vote, uint64_t now);
void lease_free(struct lease *l);

/*
 * Voters counted for a majority: every member that has not left, dead ones included (a
 * partition must not shrink the quorum). n >= 1; self included.
 */
void lease_set_voters(struct lease *l, unsigned n);

/* Timers: heartbeat rounds, lease expiry, standing. */
void lease_tick(struct lease *l, uint64_t now, struct lease_out *out);
/* A message from member `from`. Unknown kinds are ignored. */
void lease_on_msg(struct lease *l, uint64_t now, const char *from, const struct lease_msg *m,
		  struct lease_out *out);
/* This node leaves: a leader stops at once and everyone is told. */
void lease_leave(struct lease *l, uint64_t now, struct lease_out *out);

/*
 * The vote a LEASE_ACT_PERSIST asked for is on disk at now. A node standing for term counts its
 * election from here: its requests go out after the write, and a slow disk (an fsync of
 * seconds on a busy database host) must not make it give up a term its voters granted.
 */
void lease_persisted(struct lease *l, uint64_t term, uint64_t now);
/* When lease_tick() is next due (ms, same clock as now). */
uint64_t lease_next_ms(const struct lease *l);
/* True only for a leader whose lease holds at now: emit nothing otherwise. */
bool lease_may_emit(const struct lease *l, uint64_t now);
enum lease_role lease_role(const struct lease *l);
uint64_t lease_term(const struct lease *l);
/* The leader this node follows or is ("" if none seen within the lease). */
const char *lease_leader(const struct lease *l, uint64_t now);
const char *lease_role_name(enum lease_role r);
const char *lease_msg_name(uint32_t kind);

#endif /* MP_LEASE_H */
