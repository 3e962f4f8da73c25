/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The control-plane server: one port, the /collector websocket and the HTTP API, own thread. */
#ifndef MP_SERVER_H
#define MP_SERVER_H

#include <stddef.h>

#include "lib/buf.h"

struct server;

struct server_config {
	const char *bind; /* address or interface; NULL, "" or "0.0.0.0" = every address */
	int port; /* 0 = let the kernel choose (see server_port()) */
	size_t max_message; /* websocket.maxmessagesize: larger messages are not sent; 0 = no cap */
	unsigned queue_len; /* websocket.queue: messages per client before it is dropped; 0 = 8 */
	const char *token; /* http.token: NULL or "" = no authentication; copied, never logged */
};

/*
 * Threading contract: every callback below runs in the server thread (or, at teardown, in the
 * thread calling server_free() after the server thread has ended), never two at once — except
 * report_free, which also runs in the publisher's thread for a report the server never
 * rendered (refused by server_publish() or dropped because the server thread fell behind).
 * Callbacks that read state shared with other threads (counters, the template store) must do
 * so thread-safely. ctx is the pointer given to server_new().
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
	 * Serialises report for one client into out (empty on entry), e.g. JSON including only the
	 * template texts this client still needs. Returns 0 or -errno (the client skips this
	 * report; counted). Required.
	 */
	int (*render)(void *ctx, const void *report, void *client_state, struct buf *out);
	/*
	 * After each successful render(): queued is 1 when the message went into the client's send
	 * queue, 0 when it was discarded (over max_message, encoding failure, or the client was
	 * dropped for a full queue). Lets the report builder forget templates it marked as sent
	 * to this client in a message the client will never see. May be NULL.
	 */
	void (*render_result)(void *ctx, void *client_state, int queued);
	/* Frees a report given to server_publish() once every client rendered it. May be NULL. */
	void (*report_free)(void *ctx, void *report);
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
};

/* Counters since server_new(); a consistent-enough snapshot for tests and logs. */
struct server_stats {
	unsigned long long clients; /* connected /collector clients now */
	unsigned long long clients_total; /* accepted since start */
	unsigned long long clients_dropped; /* closed because their queue overflowed */
	unsigned long long messages_sent; /* whole messages handed to the socket */
	unsigned long long bytes_sent; /* payload bytes of those messages */
	unsigned long long messages_too_large;
	unsigned long long render_errors;
	unsigned long long reports_published;
	unsigned long long reports_dropped; /* server thread too far behind the publisher */
	unsigned long long http_requests;
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
 * Hands a report to the server: ownership passes to the server in every case, success or not;
 * the server calls report_free(ctx, report) after rendering it for every client connected when
 * it is processed (or at once when there are none, or on error). The report must stay
 * unchanged until then. Never blocks on clients: it queues and wakes the server thread.
 * Returns 0, -ENOMEM, or -ESHUTDOWN after server_free() started (on error the report is
 * already freed).
 * If the server thread falls more than queue_len reports behind, the oldest pending report is
 * freed unsent and counted in reports_dropped. Thread-safe.
 */
int server_publish(struct server *s, void *report);

/*
 * Waits until every published report is rendered and every queued message has been written to
 * its client's socket, or timeout_ms passes. Returns 0 or -ETIMEDOUT. Thread-safe; used at
 * shutdown so the final report reaches every client.
 */
int server_flush(struct server *s, unsigned timeout_ms);

/* Copies the counters. Thread-safe. */
void server_get_stats(struct server *s, struct server_stats *out);

/*
 * Stops the thread, closes every connection (client_close for each), frees pending reports
 * (report_free) and the server. Call server_flush() first to deliver queued messages, and only
 * once no other thread can call server_publish() any more. Accepts NULL.
 */
void server_free(struct server *s);

#endif /* MP_SERVER_H */
