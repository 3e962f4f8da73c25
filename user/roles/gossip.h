/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A node's part in a gossip cluster: links to every member, heartbeats, the election. */
#ifndef MP_GOSSIP_H
#define MP_GOSSIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/gossip_msg.h"
#include "cluster/lease.h"
#include "lib/buf.h"

/*
 * Drives cluster/lease and cluster/members with real time and real links: one net/ws_client
 * link to each member's /cluster/gossip (messages out), and the server's /cluster/gossip
 * (messages in, gossip_on_message()). Its own thread ticks every 50 ms and sends a heartbeat
 * every 500 ms. Threads: every function is thread-safe (one lock); callbacks run with that
 * lock held and must not call back into gossip_*.
 */
struct gossip_cfg {
	const char *advertise; /* cluster.advertise: this node's id (HOST:PORT) */
	const char *group;     /* cluster.group */
	const char *token;     /* cluster.token or NULL; copied by the links, never logged */
	const char *const *seeds; /* cluster.seeds */
	size_t nseeds;
	uint32_t role;         /* enum gossip_node_role */
	unsigned rank;         /* cluster.rank */
	const char *vote_file; /* where the vote is persisted before it is answered */
};

struct gossip_callbacks {
	/* The lease role, term or leader changed. May be NULL. */
	void (*changed)(void *ctx, enum lease_role role, uint64_t term, const char *leader);
	/* A leader's heartbeat: fill m->seqs with what it merged and emitted. May be NULL. */
	void (*fill_seqs)(void *ctx, struct gossip_msg *m);
	/* The leader's seqs as the last heartbeat carried them (a standby). May be NULL. */
	void (*leader_seqs)(void *ctx, const struct gossip_msg *m);
};

struct gossip;

/* Reads the vote file, adds the seeds, starts the thread. NULL with errno set (a pr_warn says why). */
struct gossip *gossip_new(const struct gossip_cfg *cfg, const struct gossip_callbacks *cb,
			  void *ctx);
/* Leaves first if still a member (gossip_leave()). Accepts NULL. */
void gossip_free(struct gossip *g);

/* A whole message from the server's /cluster/gossip. Returns 0; nonzero closes the link. */
int gossip_on_message(struct gossip *g, const char *data, size_t len);
/* /cluster/join?addr=: 0, -EEXIST, -EINVAL, -ENOSPC. */
int gossip_join(struct gossip *g, const char *addr);
/* /cluster/remove?addr=: 0 or -ENOENT. */
int gossip_remove(struct gossip *g, const char *addr);
/* /cluster/leave: tells every member; a leader stops at once. */
void gossip_leave(struct gossip *g);
/* /cluster/listnodes JSON. 0 or -ENOMEM. */
int gossip_listnodes(struct gossip *g, struct buf *out);
/* Whether this node leads with a valid lease now (read before emitting). */
bool gossip_may_emit(struct gossip *g);
uint64_t gossip_term(struct gossip *g);
/* Whether this node is the leader (lease valid or not), and the current term. */
bool gossip_leading(struct gossip *g, uint64_t *term);
/*
 * A leader: sends a heartbeat now (with fill_seqs) and waits up to wait_ms until each
 * connected link has written it. Call before emitting a period, so that the standbys know
 * of it before anyone else can. Does nothing on other nodes.
 */
void gossip_announce(struct gossip *g, unsigned wait_ms);
/* Link refusals the server counted (wrong token), added to the table's counters. */
void gossip_count_refused_token(struct gossip *g, unsigned long long total);

#endif /* MP_GOSSIP_H */
