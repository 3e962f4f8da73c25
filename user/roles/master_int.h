/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The master's state, shared by master.c (slaves, periods) and master_http.c (server side). */
#ifndef MP_MASTER_INT_H
#define MP_MASTER_INT_H

#include <pthread.h>
#include <stdbool.h>

#include "cluster/addr.h"
#include "cluster/merge.h"
#include "cluster/puller.h"
#include "cluster/report_read.h"
#include "cluster/template_store.h"
#include "lib/jbuf.h"
#include "net/ws_client.h"
#include "roles/gossip.h"
#include "roles/master.h"
#include "roles/sink_outs.h"
#include "roles/role_report.h"

/* Statement text kept per slow sample: as much as a slave keeps. */
#define MASTER_SLOW_SQL_MAX 4096

/* One slave the master collects from. */
struct mslave {
	char addr[256]; /* as the operator wrote it: the node's name in reports */
	char host[ADDR_HOST_MAX];
	int port;
	struct puller *p;
	bool up;
	int http_status; /* of the last refused upgrade, 0 otherwise */
	char why[128]; /* last state change, for /cluster/listnodes */
	uint64_t since_ms; /* of that change */
	uint64_t connects;
	bool pushed; /* a node that pushes to this master (/push): no puller, not in the state file */
	uint64_t pushed_ms; /* wall clock of its last push */
};

/*
 * With cluster.gossip the election decides: only the leader pulls its slaves and merges, and
 * it emits only while its lease is valid (gossip_may_emit). Its heartbeats carry, per slave,
 * the seq of the last report in a period it emitted; a standby keeps the latest it heard, and
 * when it wins it resumes each slave since= that seq, after the last period emitted.
 */
struct master_gossip {
	struct gossip *g; /* NULL: a static cluster, or not set yet */
	/* The main thread's: */
	bool leading; /* pullers run, periods are merged */
	uint64_t term; /* the term led (or last led); 0 in a static cluster */
	pthread_mutex_t lock; /* what follows: the gossip thread reads and writes it */
	struct gossip_seq out[GOSSIP_MAX_SEQS]; /* leading: what went out */
	size_t nout;
	uint64_t out_end;
	struct gossip_seq heard[GOSSIP_MAX_SEQS]; /* standing by: the leader's last heartbeat */
	size_t nheard;
	uint64_t heard_end, heard_term;
};

/* Totals since start (m->lock). */
struct master_counters {
	uint64_t merged, late, duplicates, merge_errors; /* slave reports by outcome */
	uint64_t garbage; /* messages that were not reports */
	uint64_t pushed; /* reports received on /push (merged or not) */
	uint64_t lost; /* reports slaves no longer held when asked (their "lost") */
	uint64_t reports, late_reports; /* reports this master published */
	uint64_t missing; /* (period, slave) pairs emitted without the slave */
};

struct master {
	const struct mp_config *cfg;
	struct agg_config acfg;
	unsigned idle_ms;
	char node[256];
	uint64_t started_ms;
	char *state_path; /* NULL: no state kept */
	bool state_warned;
	pthread_mutex_t save_lock; /* one state_write at a time, in order */
	/*
	 * The state file is written by a thread of its own after each emission: a write with
	 * fsync can take seconds on a busy disk, and the tick thread must emit on time.
	 */
	pthread_t saver;
	bool saver_running;
	pthread_mutex_t saver_lock;
	pthread_cond_t saver_cond;
	bool save_wanted, saver_stop;

	struct master_gossip gs;
	struct merge_config merge_cfg;

	pthread_mutex_t lock; /* everything below */
	struct merge *merge;
	struct template_store *store;
	struct mslave **slaves;
	size_t nslaves;
	uint64_t seq, seq_saved;
	bool finishing; /* master_finish() began: pushes are refused */
	struct master_counters n;
	uint64_t garbage_logged_ms;
	uint64_t kind_dropped[REPORT_MAX_OUTPUTS];

	struct ws_client *wc;
	struct bus *bus;
	struct stdout_out *out;
	struct role_wire wire; /* the emitting thread: renders each report for the clients */
	struct sink_outs *sinks; /* sinks.*: ClickHouse, Kafka, the pusher */
	struct report_read push_rd; /* /push messages: the server thread only */
};

uint64_t master_now_ms(void);
/* The cluster calls. Return 0 or -errno (-EEXIST, -ENOENT, -EINVAL, -ENOMEM). */
int master_join(struct master *m, const char *addr);
int master_remove(struct master *m, const char *addr);
int master_leave(struct master *m);
/* Writes the state file (slaves and how far each was emitted), if there is one. */
void master_save_state(struct master *m);
/* Asks the saver thread to write the state file (or writes it now when there is none). */
void master_save_soon(struct master *m);
/*
 * A message received on /push (server thread): read strictly, merged like a pulled report
 * from the node it names, which becomes an expected node. Returns 1 with *ack = its seq, 0
 * when refused (counted), -errno. See struct server_callbacks.
 */
int master_push(void *ctx, void **state, const void *data, size_t len, int binary,
		uint64_t *ack);
void master_push_closed(void *ctx, void *state);
/* Nonzero once master_finish() began: /push upgrades are refused (503). */
int master_push_busy(void *ctx);
/* Starts the slave's puller (without m->lock: its callbacks take it). 0 or -errno. */
int master_slave_start(struct master *m, struct mslave *s);
/* Gossip (master_gossip.c), from the main thread: takes over or steps down as the election
 * says; true when this master may emit now. */
bool master_gossip_tick(struct master *m, uint64_t now_ms);
/* m->lock held, before publishing what the merge just gave out: tells the standbys. */
void master_gossip_announce(struct master *m);
void master_gossip_init(struct master *m);
void master_gossip_destroy(struct master *m);
/* The report's outputs: per kind, readers and drops since the previous report (m->lock). */
void master_fill_outputs(struct master *m, struct report_header *h);

#endif /* MP_MASTER_INT_H */
