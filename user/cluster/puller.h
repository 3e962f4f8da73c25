/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A master's link to one slave: /collector?since=SEQ, each message read back into rows. */
#ifndef MP_PULLER_H
#define MP_PULLER_H

#include <stdbool.h>
#include <stdint.h>

#include "net/ws_client.h"
#include "report/agg.h"
#include "report/report.h"
#include "report/report_msg.h"

/*
 * Dials ws://HOST:PORT/collector?since=SEQ (snappy frames), SEQ asked from the owner at each
 * dial, so a reconnect resumes where the merge left off. Every message is decompressed and
 * read whole (report_msg_parse) before it is handed to report(); a message that is not a
 * valid report is counted and dropped, the link stays. Callbacks run in the ws_client thread.
 */
struct puller;

struct puller_callbacks {
	/*
	 * The seq to resume after and the started_ms of the run it came from (0: unknown);
	 * false: no since= (live only, no replay).
	 */
	bool (*since)(void *ctx, const char *addr, uint64_t *seq, uint64_t *started_ms);
	/* One report read (header msg->h, capture msg->c); msg is valid during the call only. */
	void (*report)(void *ctx, const char *addr, const struct report_msg *msg);
	/* Connected (up) or not; http_status and why say why not (0 and "closed", say). */
	void (*state)(void *ctx, const char *addr, bool up, int http_status, const char *why);
	/* A message that was not a report: why (static string). */
	void (*garbage)(void *ctx, const char *addr, const char *why);
};

struct puller_config {
	const char *addr; /* "host:port" as the operator wrote it; copied */
	const char *host;
	int port;
	const char *token; /* cluster.token or NULL */
	const struct agg_config *acfg;
	size_t max_message;
	unsigned idle_ms;
	uint64_t term; /* a gossip leader's term, sent as term= (0: a static master, none) */
};

/* Returns NULL with errno set. */
struct puller *puller_new(struct ws_client *wc, const struct puller_config *cfg,
			  const struct puller_callbacks *cb, void *ctx);
/* Hangs up; no callback runs once it returns. Accepts NULL. */
void puller_free(struct puller *p);
const char *puller_addr(const struct puller *p);
void puller_link_stats(struct puller *p, struct ws_link_stats *out);

#endif /* MP_PULLER_H */
