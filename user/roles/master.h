/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The master role: pulls every slave's reports, merges them per period, publishes the merge. */
#ifndef MP_MASTER_H
#define MP_MASTER_H

#include <stdint.h>
#include <stdio.h>

#include "cli/config.h"
#include "net/server.h"
#include "report/bus.h"
#include "roles/gossip.h"

/*
 * Data flows one way: each slave's /collector (a puller per slave, in the ws_client thread)
 * -> the period merge -> the report bus, which the same outputs as a slave's read (stdout,
 * /collector clients: a master can itself be pulled). The slave list comes from
 * cluster.slaves, the state file and /cluster/join; the state file also keeps how far each
 * slave was emitted, so a restarted master resumes every slave since= that seq.
 *
 * Threads: master_tick() and master_finish() from the main thread; the pullers' callbacks in
 * the client thread; the server callbacks in the server thread. One lock guards the merge.
 */
struct master;

struct master_config {
	const struct mp_config *cfg; /* borrowed; must outlive the master */
	FILE *report_out; /* -o report/table/auto: the reports, or NULL */
	bool report_table; /* report_out gets table_out's table instead of JSON lines */
	const char *config_path; /* -c FILE, for the default state file; may be NULL */
};

/* Returns NULL with errno set, after a message naming what failed. */
struct master *master_new(const struct master_config *mc);
/* Accepts NULL. Call after server_free(). */
void master_free(struct master *m);
struct bus *master_bus(struct master *m);
/* Emits every period due at now_ms (wall clock). Returns 0 or -errno. */
int master_tick(struct master *m, uint64_t now_ms);
/* At exit: emits what is open now, due or not. Returns 0 or -errno. */
int master_finish(struct master *m);
/* Waits until stdout has every report, or timeout_ms: 0 or -ETIMEDOUT. */
int master_flush(struct master *m, unsigned timeout_ms);

/*
 * With cluster.gossip: the node's gossip (NULL when it stops). Until it is set, and whenever
 * this master does not lead, it neither pulls nor emits. Call from the main thread.
 */
void master_set_gossip(struct master *m, struct gossip *g);
/* The master's part in the election: its seqs in heartbeats, the leader's remembered. */
extern const struct gossip_callbacks master_gossip_callbacks;

extern const struct server_callbacks master_server_callbacks;

#endif /* MP_MASTER_H */
