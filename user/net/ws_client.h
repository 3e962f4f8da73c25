/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Outgoing websocket links (libwebsockets client): dial, reconnect with backoff, whole messages. */
#ifndef MP_WS_CLIENT_H
#define MP_WS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/*
 * One ws_client owns a libwebsockets client context and the thread that services it; each
 * ws_link is one peer it keeps a connection to. A link dials at once, and after every failure
 * or close again after a backoff (0.5 s doubling to 10 s, reset by a connection that carried
 * a message), until ws_link_free(). A connection that stays silent for idle_ms is closed and
 * dialled again: a peer that vanished without a FIN is noticed.
 *
 * Threads: ws_client_new/free and ws_link_new/free may be called from any thread. Every
 * callback runs in the client thread, one at a time; after ws_link_free() returns none runs
 * for that link again.
 */
struct ws_client;
struct ws_link;

struct ws_link_callbacks {
	/*
	 * Before each dial: appends the request path (with its query, e.g.
	 * "/collector?since=42") to path. Returns 0 or -errno (the dial is skipped and retried).
	 */
	int (*path)(void *ctx, struct buf *path);
	/* The upgrade succeeded. May be NULL. */
	void (*opened)(void *ctx);
	/* One whole message (binary or text). Returning nonzero closes the connection. */
	int (*message)(void *ctx, const void *data, size_t len, int binary);
	/*
	 * The connection failed or ended: http_status is the peer's HTTP answer to the upgrade
	 * when it refused it (e.g. 401), else 0; why is a short reason. May be NULL.
	 */
	void (*closed)(void *ctx, int http_status, const char *why);
};

struct ws_link_config {
	const char *host; /* name or address; copied */
	int port;
	const char *token; /* sent as "Authorization: Bearer <token>"; NULL = none; copied */
	size_t max_message; /* a larger message closes the connection (counted); 0 = 256 MiB */
	unsigned idle_ms; /* 0 = never */
};

/* Returns NULL with errno set. */
struct ws_client *ws_client_new(void);
/* Every link must be freed first. Accepts NULL. */
void ws_client_free(struct ws_client *c);

/* Returns NULL with errno set (EINVAL, ENOMEM). The link dials from the client thread. */
struct ws_link *ws_link_new(struct ws_client *c, const struct ws_link_config *cfg,
			    const struct ws_link_callbacks *cb, void *ctx);
/* Closes the connection and waits until no callback of the link runs. Accepts NULL. */
void ws_link_free(struct ws_link *l);

/* Counters of one link since ws_link_new(). Thread-safe. */
struct ws_link_stats {
	uint64_t dials;
	uint64_t connects;
	uint64_t messages;
	uint64_t bytes;
	uint64_t too_large; /* messages over max_message */
	int connected; /* 1 while upgraded */
	uint64_t sent; /* whole messages written */
	/*
	 * Messages ws_link_send() refused (not connected, the outbox full, no memory): the
	 * caller still holds each, so what became of it is the caller's to count (the pusher
	 * sends it again, gossip lets it go).
	 */
	uint64_t send_refused;
};

void ws_link_get_stats(struct ws_link *l, struct ws_link_stats *out);

/*
 * Queues one whole message (copied) to send on the link's connection; the client thread writes
 * the queue in order, each message in fragments. The queue holds 64 messages and 1 MiB, but
 * takes one message of any size when empty (a report). Returns 0, -ENOTCONN when the link is
 * not connected (the message is not kept across a reconnect: the caller decides what to
 * resend), -ENOBUFS when the queue is full, or -ENOMEM. A connection that closes drops what
 * waits. Thread-safe.
 */
int ws_link_send(struct ws_link *l, const void *data, size_t len, int binary);

#endif /* MP_WS_CLIENT_H */
