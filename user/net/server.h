/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The control-plane server: one port, the /collector websocket and the HTTP API, own thread. */
#ifndef MP_SERVER_H
#define MP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "net/http_api.h"
#include "report/bus.h"
#include "report/report_wire.h"

struct server;

struct server_config {
	const char *bind; /* address or interface; NULL, "" or "0.0.0.0" = every address */
	int port; /* 0 = let the kernel choose (see server_port()) */
	size_t max_message; /* websocket.maxmessagesize: larger messages are not sent; 0 = no cap */
	/*
	 * websocket.queue: reports a live client may lag before its oldest are dropped for it
	 * (counted); 0 = 8. A client that asked since= is bound by the bus history instead.
	 */
	unsigned queue_len;
	/*
	 * http.client_queue_mb: bytes of messages queued for one client past which it takes no
	 * further report until it drains (one message is always allowed); 0 = 16 MiB.
	 */
	size_t client_queue_bytes;
	/*
	 * http.queue_mb: bytes of the reports every client's queue holds (each report counted
	 * once, however many clients hold it) past which the clients holding the oldest are
	 * disconnected; 0 = 64 MiB.
	 */
	size_t queue_bytes;
	struct bus *bus; /* the reports /collector serves; borrowed, must outlive the server */
	const char *token; /* http.token: NULL or "" = no authentication; copied, never logged */
	/*
	 * cluster.token: when set, /collector also takes it (a master pulling), and with either
	 * token set a /collector client must send one of them. /push takes only this one (or
	 * http.token when this one is not set). Copied, never logged.
	 */
	const char *cluster_token;
};

/*
 * Threading contract: every callback below runs in the server thread (or, at teardown, in the
 * thread calling server_free() after the server thread has ended), never two at once.
 * Callbacks that read state shared with other threads (counters, the template store) must do
 * so thread-safely. ctx is the pointer given to server_new().
 *
 * Reports come from the bus: each /collector client is a bus reader of kind "collector".
 * The server renders nothing: each report was rendered once, before it was published
 * (report/report_wire.h), and a client's message is spliced from those shared pieces, so the
 * thread answering HTTP never spends a report's size of work on one client. A client's queue
 * holds at most two messages and client_queue_bytes; what it cannot take waits in the bus and
 * is lost for it (counted, and told with "lost") when it lags further.
 */
struct server_callbacks {
	/*
	 * A /collector client connected; json_format is 1 for ?format=json (text frames of plain
	 * JSON), 0 for snappy-compressed binary frames. Returns the client's opaque state, or
	 * NULL with errno set to refuse the client. NULL callback: state is NULL.
	 */
	void *(*client_open)(void *ctx, int json_format);
	/* The client is gone (closed, dropped, or server_free()); release its state. */
	void (*client_close)(void *ctx, void *client_state);
	/*
	 * The rendered pieces of report (a bus item's object), valid as long as the report; NULL
	 * when it could not be rendered (clients skip it: counted, and added to their next
	 * report's lost). Required.
	 */
	const struct report_wire *(*wire)(void *ctx, const void *report);
	/* GET /config/update: applies from the next period. Returns 0 or -errno. May be NULL. */
	int (*set_report_period_ms)(void *ctx, unsigned ms);
	/* GET /metrics: appends the application's Prometheus text. 0 or -errno. May be NULL. */
	int (*metrics)(void *ctx, struct buf *out);
	/*
	 * GET /status: appends JSON object members without the braces, e.g.
	 * "\"role\":\"slave\",\"report_period_ms\":1000", or nothing. The server adds a "server"
	 * member after them. Returns 0 or -errno. May be NULL.
	 */
	int (*status)(void *ctx, struct buf *out);
	/* GET /healthz: 0 healthy; > 0 not, with the reason appended to why; -errno. May be NULL. */
	int (*health)(void *ctx, struct buf *why);
	/* GET /cluster/...: as struct http_api's cluster (net/http_api.h). NULL: 409. */
	int (*cluster)(void *ctx, enum http_cluster_op op, const char *addr, struct buf *body);
	/* POST /enrich/update: as struct http_api's enrich_update (net/http_api.h). NULL: 409. */
	int (*enrich_update)(void *ctx, const char *body, size_t len, struct buf *out);
	/*
	 * One whole message on a /cluster/gossip websocket (another node's heartbeat or vote, at
	 * most 64 KiB; the link carried cluster.token when one is set). Returning nonzero closes
	 * that link. NULL: /cluster/gossip upgrades are refused.
	 */
	int (*gossip)(void *ctx, const char *data, size_t len);
	/*
	 * The started_ms this run puts in its reports. A /collector?since=SEQ&started=MS client
	 * with another MS resumes from the oldest report held: its SEQ is an earlier run's. May be
	 * NULL (started= is then ignored).
	 */
	uint64_t (*started_ms)(void *ctx);
	/*
	 * One whole message received on a /push websocket (a pusher, DESIGN §9). *state is the
	 * connection's (NULL at first), kept between messages. Returns 1 to acknowledge *ack (the
	 * seq of the report now taken: the pusher sends its next), 0 to acknowledge nothing (a
	 * refused message), -errno to close the connection. NULL: /push is refused (404).
	 */
	int (*push)(void *ctx, void **state, const void *data, size_t len, int binary,
		    uint64_t *ack);
	/* Whether /push upgrades are taken now (0) or refused with 503 (nonzero: the role is
	 * shutting down, so a pusher goes elsewhere at once). May be NULL (always taken). */
	int (*push_busy)(void *ctx);
	/* A /push connection is gone. May be NULL. */
	void (*push_closed)(void *ctx, void *state);
	/*
	 * Nonzero when a gossip leader of term is no longer served: this node knows a later term.
	 * A /collector?term=T upgrade is then refused with 409, and an open one closed at the
	 * next report. May be NULL (every term served); plain clients (no term=) never ask.
	 */
	int (*stale_term)(void *ctx, uint64_t term);
};

/* Counters since server_new(); a consistent-enough snapshot for tests and logs. */
struct server_stats {
	unsigned long long clients; /* connected /collector clients now */
	unsigned long long clients_total; /* accepted since start */
	unsigned long long messages_sent; /* whole messages handed to the socket */
	unsigned long long bytes_sent; /* payload bytes of those messages */
	unsigned long long messages_too_large;
	unsigned long long render_errors;
	unsigned long long reports_rendered; /* reports rendered for a client (replays too) */
	unsigned long long http_requests;
	unsigned long long clients_dropped; /* disconnected: the clients' queues over queue_bytes */
	unsigned long long queue_bytes; /* reports the clients' queues hold now (each once) */
	unsigned long long gossip_refused; /* /cluster/gossip links refused: no or a wrong token */
	unsigned long long gossip_messages; /* messages received on /cluster/gossip links */
};

/*
 * Starts listening on cfg->bind:cfg->port and the server thread. Returns NULL with errno set
 * (EADDRINUSE, EADDRNOTAVAIL, EACCES, EINVAL, ENOMEM, ...) after a pr_warn naming the address.
 */
struct server *server_new(const struct server_config *cfg, const struct server_callbacks *cb,
			  void *ctx);

/* The TCP port actually listened on (useful with port 0). */
int server_port(const struct server *s);

/*
 * Waits until every client has read every report published on the bus so far and every queued
 * message has been written to its client's socket, or timeout_ms passes. Returns 0 or -ETIMEDOUT. Thread-safe; used at
 * shutdown so the final report reaches every client.
 */
int server_flush(struct server *s, unsigned timeout_ms);

/* Copies the counters. Thread-safe. */
void server_get_stats(struct server *s, struct server_stats *out);

/*
 * Stops the thread, closes every connection (client_close for each; their bus readers are
 * freed) and frees the server. Call server_flush() first to deliver queued messages, and only
 * once no thread publishes on the bus any more (a publish wakes the server). Accepts NULL.
 */
void server_free(struct server *s);

#endif /* MP_SERVER_H */
