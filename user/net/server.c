// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The control-plane server: one lws vhost serving /collector and the HTTP API in its own thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

#include <malloc.h>

#include <libwebsockets.h>

#include "net/http_api.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "net/lws_log.h"
#include "net/server.h"
#include "web/assets.h"

#define SERVER_DEFAULT_QUEUE 8
#define SERVER_DEFAULT_CLIENT_BYTES (16UL << 20)
#define SERVER_DEFAULT_TOTAL_BYTES (64UL << 20)
/*
 * Messages per client: one being written and one ready. Further reports stay in the bus until
 * the client has room, and a client that lags its websocket.queue loses the oldest.
 */
#define SERVER_RENDER_AHEAD 2
/*
 * Freed reports go back to the system (malloc_trim) once this much was let go, at most once
 * a second: glibc keeps freed memory of its thread arenas otherwise, so RSS stayed high after
 * the clients that held it had gone.
 */
#define SERVER_TRIM_BYTES (8UL << 20)
/*
 * Websocket fragment size: one lws_write per writeable callback. lws buffers whatever the kernel
 * refuses and holds back the next writeable callback until it drained, so a fragment of a size
 * the socket usually takes keeps that copy rare and small (lws-write.h "Truncated Writes").
 */
#define SERVER_WS_FRAGMENT (64 * 1024)
/* HTTP body chunk per writeable callback. */
#define SERVER_HTTP_CHUNK (16 * 1024)
/* Longest request path or query fragment we look at; longer gets 404 / 400. */
#define SERVER_URI_MAX 256
/* Authorization header bytes kept; a longer header cannot match a sane token. */
#define SERVER_AUTH_MAX 1024
/* Too-large messages and dropped clients are logged at most this often. */
#define SERVER_LOG_INTERVAL_MS 10000
/* HTTP status codes counted by /metrics; anything else is counted under "other". */
static const int server_http_codes[] = { 200, 400, 401, 403, 404, 405, 409, 413, 426, 500, 503 };
#define SERVER_NCODES (sizeof(server_http_codes) / sizeof(server_http_codes[0]))

/* A client's message: the report's shared pieces, held (with the report) until written. */
struct server_msg {
	struct server_msg *next;
	struct bus_item *it;
	struct report_wire_msg w;
};

/* A report some client's queue holds: the total bound counts each once. */
struct server_pin {
	const struct bus_item *it;
	unsigned long refs;
};

struct server_client {
	struct server_client *next, *prev;
	struct lws *wsi;
	void *state;
	int json;
	struct bus_reader *reader;
	uint64_t lost; /* reports skipped for this client (render errors) not yet told to it */
	struct server_msg *head, *tail;
	unsigned qlen;
	size_t qbytes; /* bytes of the queued messages not yet written */
	uint64_t last_seq; /* the last report queued whole for it; 0 = none (send every text) */
	bool dropped; /* over the total bound: its queue is gone, it is being closed */
	uint64_t wrote_ms; /* when its socket last took bytes (or it connected); mono_ms() */
	size_t off; /* bytes of head already written */
	unsigned owed; /* messages written whose bytes lws may still hold */
	uint64_t term; /* a gossip master's term=, 0 for any other client */
	char peer[INET6_ADDRSTRLEN + 8];
};

/*
 * A POST whose body is being read (http_api_takes_body routes): what the request said,
 * kept from LWS_CALLBACK_HTTP until the body is complete.
 */
struct server_post {
	char path[64];
	char auth[SERVER_AUTH_MAX];
	struct buf in;
};

/* lws per-session data: either a websocket client or one HTTP transaction. */
struct server_pss {
	struct server_client *client;
	struct buf body; /* an HTTP answer, or a /cluster/gossip message being received */
	size_t off;
	/* A /push connection: the message being received and the ack owed. */
	bool push;
	void *push_state;
	struct buf rx;
	uint64_t ack;
	bool ack_owed;
	struct server_post *post;
	bool gossip; /* a /cluster/gossip link: messages in, nothing out */
};

/* The websocket path of gossip links, and the largest message on one (cluster/gossip_msg). */
#define SERVER_GOSSIP_PATH "/cluster/gossip"
#define SERVER_GOSSIP_MAX (64u << 10)

struct server {
	struct server_config cfg;
	struct server_callbacks cb;
	void *ctx;
	struct http_api api;
	struct lws_context *lws;
	struct lws_vhost *vhost;
	pthread_t thread;
	bool thread_started;
	atomic_bool stop;

	pthread_mutex_t lock;
	/* Under lock: messages not yet fully on a socket, and reports being rendered. */
	unsigned long busy;

	/* Server thread only. */
	struct server_client *clients;
	unsigned char *frag; /* LWS_PRE + SERVER_WS_FRAGMENT: one fragment to write */
	struct server_pin *pins;
	size_t npins, pins_cap;
	size_t freed; /* pinned bytes let go since the last malloc_trim() */
	time_t trimmed;
	uint64_t dropped_logged_ms; /* mono_ms() of the last line said; 0 = never */
	unsigned long long dropped_unlogged;
	char arg_store[HTTP_API_MAX_ARGS][SERVER_URI_MAX];
	uint64_t too_large_logged_ms; /* mono_ms() of the last line said; 0 = never */
	unsigned long long too_large_unlogged;

	atomic_ullong n_clients, n_clients_total, n_sent, n_bytes, n_too_large, n_render_err,
		n_rendered, n_http, n_ws_unauthorized, n_gossip_refused, n_gossip_messages, n_not_http, n_conn_full, n_dropped,
		n_pinned;
	/* Connections lws holds now, and its table size (server_fd_limit()). Server thread. */
	unsigned long conns, conn_limit;
	bool conn_full;
	time_t conn_full_logged;
	atomic_ullong n_http_code[SERVER_NCODES + 1];
};

/*
 * lws stops accepting while its connection table is full and resumes as connections close;
 * past the process's own descriptor limit it instead spins on accept() failing with EMFILE
 * and logs every failure. So the table must fill before the process runs out: its size is
 * the descriptor limit less what the rest of the agent opens (BPF maps and links, pcap
 * handles, files), raised first to the hard limit where that is allowed.
 */
#define SERVER_FD_RESERVE 64
#define SERVER_FD_MAX 65536
static unsigned server_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 1024 - SERVER_FD_RESERVE;
	if (rl.rlim_cur < rl.rlim_max && rl.rlim_cur < SERVER_FD_MAX) {
		rlim_t want = rl.rlim_max < SERVER_FD_MAX ? rl.rlim_max : SERVER_FD_MAX;
		struct rlimit nl = { .rlim_cur = want, .rlim_max = rl.rlim_max };

		if (!setrlimit(RLIMIT_NOFILE, &nl))
			rl.rlim_cur = want;
	}
	if (rl.rlim_cur > SERVER_FD_MAX)
		rl.rlim_cur = SERVER_FD_MAX;
	if (rl.rlim_cur < 2 * SERVER_FD_RESERVE)
		return (unsigned)rl.rlim_cur / 2;
	return (unsigned)(rl.rlim_cur - SERVER_FD_RESERVE);
}


/* Messages reaching a socket change what server_flush() waits for. */
static void server_busy_sub(struct server *s, unsigned long n)
{
	if (!n)
		return;
	pthread_mutex_lock(&s->lock);
	s->busy -= n;
	pthread_mutex_unlock(&s->lock);
}

static void server_busy_add(struct server *s)
{
	pthread_mutex_lock(&s->lock);
	s->busy++;
	pthread_mutex_unlock(&s->lock);
}

/* A queue now holds it; counts its bytes in the total the first time. Returns 0 or -ENOMEM. */
static int pin_add(struct server *s, const struct bus_item *it)
{
	size_t i;

	for (i = 0; i < s->npins; i++)
		if (s->pins[i].it == it) {
			s->pins[i].refs++;
			return 0;
		}
	if (s->npins == s->pins_cap) {
		size_t cap = s->pins_cap ? 2 * s->pins_cap : 16;
		struct server_pin *v = realloc(s->pins, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->pins = v;
		s->pins_cap = cap;
	}
	s->pins[s->npins++] = (struct server_pin){ .it = it, .refs = 1 };
	atomic_fetch_add(&s->n_pinned, bus_item_bytes(it));
	return 0;
}

static void pin_del(struct server *s, const struct bus_item *it)
{
	for (size_t i = 0; i < s->npins; i++) {
		if (s->pins[i].it != it)
			continue;
		if (--s->pins[i].refs)
			return;
		s->pins[i] = s->pins[--s->npins];
		atomic_fetch_sub(&s->n_pinned, bus_item_bytes(it));
		s->freed += bus_item_bytes(it);
		return;
	}
}

/* Drops the head message: written, or the queue is going. */
static void client_pop(struct server *s, struct server_client *c)
{
	struct server_msg *m = c->head;

	c->head = m->next;
	if (!c->head)
		c->tail = NULL;
	c->qlen--;
	c->qbytes -= m->w.len;
	c->off = 0;
	pin_del(s, m->it);
	bus_item_put(s->cfg.bus, m->it);
	free(m);
}

static void client_queue_free(struct server *s, struct server_client *c)
{
	server_busy_sub(s, c->qlen + c->owed);
	while (c->head)
		client_pop(s, c);
	c->owed = 0;
}

/* Gives what the clients let go back to the system, at most once a second. */
static void server_trim(struct server *s)
{
	time_t now;

	if (s->freed < SERVER_TRIM_BYTES)
		return;
	now = time(NULL);
	if (now == s->trimmed)
		return;
	s->trimmed = now;
	s->freed = 0;
	malloc_trim(0);
}

static void server_log_too_large(struct server *s, size_t len)
{
	uint64_t now = mono_ms();

	s->too_large_unlogged++;
	if (s->too_large_logged_ms && now - s->too_large_logged_ms < SERVER_LOG_INTERVAL_MS)
		return;
	pr_warn("server: %llu message(s) over websocket.maxmessagesize (%zu) not sent, "
		"last %zu bytes\n",
		s->too_large_unlogged, s->cfg.max_message, len);
	s->too_large_logged_ms = now ? now : 1;
	s->too_large_unlogged = 0;
}

/* The client has room (client_pump() composes only then); m and its item go to the queue. */
static void client_enqueue(struct server *s, struct server_client *c, struct server_msg *m)
{
	if (c->tail)
		c->tail->next = m;
	else
		c->head = m;
	c->tail = m;
	c->qlen++;
	c->qbytes += m->w.len;
	server_busy_add(s);
	lws_callback_on_writable(c->wsi);
}

/*
 * Queues one report for c, spliced from the pieces rendered when it was published; a report
 * c will not get is added to its lost. Takes over the item.
 */
static void client_compose(struct server *s, struct server_client *c, struct bus_item *it,
			   uint64_t lost)
{
	const struct report_wire *w = s->cb.wire(s->ctx, bus_item_obj(it));
	struct server_msg *m = calloc(1, sizeof(*m));

	lost += c->lost;
	if (!m || !w || report_wire_compose(w, !c->json, c->last_seq, lost, &m->w) ||
	    pin_add(s, it)) {
		atomic_fetch_add(&s->n_render_err, 1);
		goto skip;
	}
	atomic_fetch_add(&s->n_rendered, 1);
	if (s->cfg.max_message && m->w.len > s->cfg.max_message) {
		atomic_fetch_add(&s->n_too_large, 1);
		server_log_too_large(s, m->w.len);
		pin_del(s, it);
		goto skip;
	}
	m->it = it;
	c->lost = 0;
	c->last_seq = bus_item_seq(it);
	client_enqueue(s, c, m);
	return;
skip:
	/* The next message it gets carries every text (it did not get this one's). */
	c->lost = lost + 1;
	c->last_seq = 0;
	bus_item_put(s->cfg.bus, it);
	free(m);
}

/* Room for one more message: two at most, and a second only under client_queue_bytes. */
static bool client_has_room(const struct server *s, const struct server_client *c)
{
	if (c->dropped || c->qlen >= SERVER_RENDER_AHEAD)
		return false;
	return !c->qlen || c->qbytes < s->cfg.client_queue_bytes;
}

static void server_log_dropped(struct server *s, const struct server_client *c)
{
	uint64_t now = mono_ms();

	s->dropped_unlogged++;
	if (s->dropped_logged_ms && now - s->dropped_logged_ms < SERVER_LOG_INTERVAL_MS)
		return;
	pr_warn("server: %llu client(s) disconnected, last %s: the reports queued for clients "
		"came to more than http.queue_mb (%zu MiB)\n",
		s->dropped_unlogged, c->peer, s->cfg.queue_bytes >> 20);
	s->dropped_logged_ms = now ? now : 1;
	s->dropped_unlogged = 0;
}

/*
 * Over the total: disconnects clients until the reports held come back under it, the one
 * whose socket has taken nothing for longest first (a client that never reads). A client
 * whose socket took bytes in the last SERVER_READING_MS is reading, and is chosen only past
 * twice the total and when its oldest message is more than websocket.queue reports behind
 * the newest (one reading a trickle must not hold old reports for good; one a report behind
 * is merely busy with a large report). A client whose oldest message is the newest report
 * held never is: dropping it would free nothing that others do not hold too.
 * Disconnecting rather than skipping reports: a message half written cannot be taken back
 * (the websocket frame is on the wire), so its report stays held until the client reads it
 * or goes.
 */
#define SERVER_READING_MS 1000
static void server_enforce_total(struct server *s)
{
	while (atomic_load(&s->n_pinned) > s->cfg.queue_bytes) {
		bool hard = atomic_load(&s->n_pinned) > 2 * s->cfg.queue_bytes;
		uint64_t now = mono_ms();
		struct server_client *c, *victim = NULL;
		uint64_t newest = 0;

		for (c = s->clients; c; c = c->next)
			if (c->tail && bus_item_seq(c->tail->it) > newest)
				newest = bus_item_seq(c->tail->it);
		for (c = s->clients; c; c = c->next) {
			if (c->dropped || !c->head || bus_item_seq(c->head->it) >= newest)
				continue;
			if (now - c->wrote_ms < SERVER_READING_MS &&
			    (!hard || newest - bus_item_seq(c->head->it) <= s->cfg.queue_len))
				continue;
			if (!victim || c->wrote_ms < victim->wrote_ms)
				victim = c;
		}
		if (!victim)
			return;
		victim->dropped = true;
		client_queue_free(s, victim);
		atomic_fetch_add(&s->n_dropped, 1);
		server_log_dropped(s, victim);
		lws_set_timeout(victim->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	}
}

/*
 * Queues c's next reports from the bus while it has room. Replay (since=) and live are one
 * path: the client's bus reader walks the history in seq order, so the seam between them has
 * neither a gap nor a duplicate.
 */
static void client_pump(struct server *s, struct server_client *c)
{
	struct bus_item *it;
	uint64_t lost;

	while (client_has_room(s, c)) {
		/* Counted busy from the read on, so server_flush() never sees a report in flight
		 * as neither pending in the bus nor queued. */
		server_busy_add(s);
		if (bus_read(c->reader, &it, &lost)) {
			server_busy_sub(s, 1);
			break;
		}
		client_compose(s, c, it, lost);
		server_busy_sub(s, 1);
	}
	server_enforce_total(s);
}

/*
 * A master that pulls as the leader of a term this node knows to be past is fenced: its
 * stream closes (it may have stopped without knowing it lost, as after a SIGSTOP).
 */
static bool client_fenced(struct server *s, struct server_client *c)
{
	if (!c->term || c->dropped || !s->cb.stale_term || !s->cb.stale_term(s->ctx, c->term))
		return false;
	pr_info("server: closed the stream of %s: term %llu is past\n", c->peer,
		(unsigned long long)c->term);
	c->dropped = true;
	client_queue_free(s, c);
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	return true;
}

/* Server thread, woken by lws_cancel_service() after a publish: feed every client. */
static void server_pump_all(struct server *s)
{
	struct server_client *c;

	for (c = s->clients; c; c = c->next)
		if (!client_fenced(s, c))
			client_pump(s, c);
	server_trim(s);
}

/* Bus wake callback, in the publisher's thread: only wakes the server thread. */
static void server_wake(void *ctx)
{
	struct server *s = ctx;

	lws_cancel_service(s->lws);
}

static void client_peer(struct lws *wsi, char *out, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char ip[INET6_ADDRSTRLEN];
	int fd = lws_get_socket_fd(wsi);

	snprintf(out, len, "unknown");
	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl))
		return;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
		snprintf(out, len, "%s:%u", ip, ntohs(a->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
		/* A v4 client on a dual-stack socket reads better without the ::ffff: prefix. */
		snprintf(out, len, IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) ? "%s:%u" : "[%s]:%u",
			 IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) ? ip + 7 : ip, ntohs(a->sin6_port));
	}
}

static int http_collect_args(struct lws *wsi, char (*store)[SERVER_URI_MAX],
			     struct http_arg *args);
static void server_count_http(struct server *s, int code);

/*
 * The /collector query: 0 with *p filled, or the status code of a refusal with its JSON body
 * in body (400 for a bad parameter).
 */
static int ws_params(struct server *s, struct lws *wsi, struct http_collector_params *p,
		     struct buf *body)
{
	struct http_arg args[HTTP_API_MAX_ARGS];
	struct http_request req = { .path = "/collector", .is_get = 1, .args = args };
	int n = http_collect_args(wsi, s->arg_store, args);

	if (n < 0) {
		memset(p, 0, sizeof(*p));
		return buf_puts(body, "{\"error\":\"query: too long or too many parameters\"}\n")
			       ?: 400;
	}
	req.nargs = (size_t)n;
	return http_api_collector_params(&req, p, body);
}

/* Answers a refused upgrade with a plain HTTP status and a JSON reason, then closes. */
static int ws_refuse(struct lws *wsi, int code, const char *body, size_t len)
{
	unsigned char hdr[LWS_PRE + 512], *start = hdr + LWS_PRE, *p = start;
	unsigned char *end = hdr + sizeof(hdr) - 1;
	unsigned char *msg;

	if (lws_add_http_common_headers(wsi, (unsigned)code, HTTP_API_JSON, len, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return 1;
	msg = malloc(LWS_PRE + len);
	if (msg) {
		memcpy(msg + LWS_PRE, body, len);
		lws_write(wsi, msg + LWS_PRE, len, LWS_WRITE_HTTP_FINAL);
		free(msg);
	}
	return 1;
}

/* The same with a fixed JSON answer, counted like any HTTP answer. */
static int ws_refuse_text(struct server *s, struct lws *wsi, int code, const char *json)
{
	server_count_http(s, code);
	return ws_refuse(wsi, code, json, strlen(json));
}

/* Does the upgrade request carry "Bearer TOKEN"? (Constant time; the copy is wiped.) */
static bool ws_token_ok(struct lws *wsi, const char *token)
{
	char auth[SERVER_AUTH_MAX];
	bool ok;

	if (lws_hdr_copy(wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION) <= 0)
		auth[0] = '\0';
	ok = http_api_token_ok(auth, token);
	explicit_bzero(auth, sizeof(auth));
	return ok;
}

/*
 * /push (a master's): only with cluster.token (or http.token when it is the only one set),
 * refused with 404 where no one takes pushes (a slave).
 */
static int push_filter(struct server *s, struct lws *wsi)
{
	const char *token = s->cfg.cluster_token ? s->cfg.cluster_token : s->cfg.token;

	if (!s->cb.push)
		return ws_refuse_text(s, wsi, 404,
				      "{\"error\":\"this node takes no pushed reports\"}\n");
	if (s->cb.push_busy && s->cb.push_busy(s->ctx))
		return ws_refuse_text(s, wsi, 503, "{\"error\":\"shutting down\"}\n");
	if (!token || ws_token_ok(wsi, token))
		return 0;
	atomic_fetch_add(&s->n_ws_unauthorized, 1);
	return ws_refuse_text(s, wsi, 401, "{\"error\":\"missing or wrong bearer token\"}\n");
}

/* Is this upgraded connection a /push one? (The filter let only /push and /collector in.) */
static bool ws_is_push(struct lws *wsi)
{
	char path[SERVER_URI_MAX];

	return lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) >= 0 &&
	       !strcmp(path, "/push");
}

/* One fragment of a pushed message; a whole one goes to the push callback. */
static int push_receive(struct server *s, struct lws *wsi, struct server_pss *pss,
			const void *in, size_t len)
{
	size_t max = s->cfg.max_message ? s->cfg.max_message : (256u << 20);
	uint64_t ack = 0;
	int ret;

	if (lws_is_first_fragment(wsi))
		pss->rx.len = 0;
	if (pss->rx.len + len > max) {
		atomic_fetch_add(&s->n_too_large, 1);
		return -1;
	}
	if (buf_append(&pss->rx, in, len))
		return -1;
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
		return 0;
	ret = s->cb.push(s->ctx, &pss->push_state, pss->rx.data, pss->rx.len,
			 lws_frame_is_binary(wsi), &ack);
	pss->rx.len = 0;
	if (pss->rx.cap > (1u << 20))
		buf_free(&pss->rx);
	if (ret < 0)
		return -1;
	if (ret > 0) {
		pss->ack = ack;
		pss->ack_owed = true;
		lws_callback_on_writable(wsi);
	}
	return 0;
}

/* The ack of the last report taken: "ack SEQ" (text). */
static int push_writeable(struct lws *wsi, struct server_pss *pss)
{
	unsigned char msg[LWS_PRE + 32];
	int n;

	if (!pss->ack_owed)
		return 0;
	pss->ack_owed = false;
	n = snprintf((char *)msg + LWS_PRE, 32, "ack %llu", (unsigned long long)pss->ack);
	return lws_write(wsi, msg + LWS_PRE, (size_t)n, LWS_WRITE_TEXT) < n ? -1 : 0;
}

static void push_closed(struct server *s, struct server_pss *pss)
{
	if (!pss->push)
		return;
	pss->push = false;
	buf_free(&pss->rx);
	if (s->cb.push_closed)
		s->cb.push_closed(s->ctx, pss->push_state);
	pss->push_state = NULL;
}

/*
 * Upgrade filter: only /collector, only with the token when one is set (reports carry SQL
 * samples), only valid parameters. Nonzero refuses the connection.
 */
/*
 * A gossip link (another node of the cluster): only with a gossip role behind the server, and
 * only with cluster.token in the Authorization header when one is set (no token= query: no
 * browser speaks gossip). A refusal is counted; the group is checked per message, by the role.
 */
static int gossip_filter(struct server *s, struct lws *wsi)
{
	/* Not a gossip node (cluster.gossip: false): the peer hears why. */
	if (!s->cb.gossip)
		return ws_refuse_text(s, wsi, 404, "{\"error\":\"not a gossip node\"}\n");
	if (!s->cfg.cluster_token || ws_token_ok(wsi, s->cfg.cluster_token))
		return 0;
	atomic_fetch_add(&s->n_gossip_refused, 1);
	return ws_refuse_text(s, wsi, 401, "{\"error\":\"missing or wrong bearer token\"}\n");
}

static bool ws_is_gossip(struct lws *wsi)
{
	char path[SERVER_URI_MAX];

	return lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) >= 0 &&
	       !strcmp(path, SERVER_GOSSIP_PATH);
}

/* One fragment of a gossip message; the whole message goes to the role. */
static int gossip_receive(struct server *s, struct lws *wsi, struct server_pss *pss,
			  const void *in, size_t len)
{
	int ret;

	if (lws_is_first_fragment(wsi))
		pss->body.len = 0;
	if (pss->body.len + len > SERVER_GOSSIP_MAX || buf_append(&pss->body, in, len))
		return -1;
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
		return 0;
	atomic_fetch_add(&s->n_gossip_messages, 1);
	ret = s->cb.gossip(s->ctx, pss->body.data, pss->body.len);
	pss->body.len = 0;
	return ret ? -1 : 0;
}

static int ws_filter(struct server *s, struct lws *wsi)
{
	char path[SERVER_URI_MAX], auth[SERVER_AUTH_MAX];
	struct http_collector_params p;
	struct buf body = {};
	int code, ret = 0, ok;

	if (ws_is_gossip(wsi))
		return gossip_filter(s, wsi);
	if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) < 0)
		return 1;
	if (!strcmp(path, "/push"))
		return push_filter(s, wsi);
	if (strcmp(path, "/collector"))
		return 1;
	code = ws_params(s, wsi, &p, &body);
	if (s->cfg.token || s->cfg.cluster_token) {
		if (lws_hdr_copy(wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION) <= 0)
			auth[0] = '\0';
		/* A browser's WebSocket sends no header: the page gives the token as token=. */
		if (!auth[0] && p.token)
			snprintf(auth, sizeof(auth), "Bearer %s", p.token);
		/* Both compared whatever the first gives: the time says nothing of which matched. */
		ok = s->cfg.token ? http_api_token_ok(auth, s->cfg.token) : 0;
		ok |= s->cfg.cluster_token ? http_api_token_ok(auth, s->cfg.cluster_token) : 0;
		explicit_bzero(auth, sizeof(auth));
		explicit_bzero(s->arg_store, sizeof(s->arg_store));
		if (!ok) {
			atomic_fetch_add(&s->n_ws_unauthorized, 1);
			buf_free(&body);
			return ws_refuse_text(s, wsi, 401,
					      "{\"error\":\"missing or wrong bearer token\"}\n");
		}
	}
	explicit_bzero(s->arg_store, sizeof(s->arg_store));
	if (!code && p.has_term && s->cb.stale_term && s->cb.stale_term(s->ctx, p.term)) {
		buf_reset(&body);
		code = buf_puts(&body, "{\"error\":\"term: a leader of a later term is known\"}\n")
			       ?: 409;
	}
	if (code) {
		server_count_http(s, code > 0 ? code : 500);
		ret = code > 0 ? ws_refuse(wsi, code, body.data, body.len) : 1;
	}
	buf_free(&body);
	return ret;
}

static uint64_t ws_since(struct server *s, const struct http_collector_params *p)
{
	/*
	 * A restarted node counts seq from 1 again: the client's SEQ from the earlier run may
	 * already be passed, and "after SEQ" would skip the new run's first reports.
	 */
	if (p->has_started && s->cb.started_ms && p->started != s->cb.started_ms(s->ctx))
		return 0;
	return p->since;
}

static struct bus_reader *ws_reader(struct server *s, const struct http_collector_params *p)
{
	struct bus_reader_config rc = {
		.kind = "collector",
		/* A client resuming with since= (a master) catches up on all the history holds. */
		.queue = p->has_since ? 0 : s->cfg.queue_len,
		.start = p->has_since ? BUS_START_AFTER : BUS_START_LIVE,
		.since = ws_since(s, p),
		.wake = server_wake,
		.ctx = s,
		.owner = s,
	};

	if (!s->cfg.bus) {
		errno = ENOTCONN;
		return NULL;
	}
	return bus_reader_new(s->cfg.bus, &rc);
}

static int ws_established(struct server *s, struct lws *wsi, struct server_pss *pss)
{
	struct server_client *c = calloc(1, sizeof(*c));
	struct http_collector_params p;
	struct buf body = {};

	memset(pss, 0, sizeof(*pss));
	if (!c)
		return -1;
	if (ws_is_gossip(wsi)) {
		free(c);
		pss->gossip = true;
		return 0;
	}
	/* The filter accepted these parameters already. */
	ws_params(s, wsi, &p, &body);
	explicit_bzero(s->arg_store, sizeof(s->arg_store));
	buf_free(&body);
	c->wsi = wsi;
	c->json = p.json;
	c->term = p.has_term ? p.term : 0;
	c->wrote_ms = mono_ms();
	client_peer(wsi, c->peer, sizeof(c->peer));
	c->reader = ws_reader(s, &p);
	if (!c->reader) {
		pr_warn("server: failed to open client %s: %s\n", c->peer, strerror(errno));
		free(c);
		return -1;
	}
	if (s->cb.client_open) {
		c->state = s->cb.client_open(s->ctx, c->json);
		if (!c->state) {
			pr_warn("server: failed to open client %s: %s\n", c->peer, strerror(errno));
			bus_reader_free(c->reader);
			free(c);
			return -1;
		}
	}
	c->next = s->clients;
	if (s->clients)
		s->clients->prev = c;
	s->clients = c;
	pss->client = c;
	atomic_fetch_add(&s->n_clients, 1);
	atomic_fetch_add(&s->n_clients_total, 1);
	pr_info("server: websocket client %s connected (%s%s)\n", c->peer,
		c->json ? "json" : "snappy", p.has_since ? ", replay" : "");
	client_pump(s, c);
	return 0;
}

static void ws_closed(struct server *s, struct server_pss *pss)
{
	struct server_client *c = pss->client;

	if (!c)
		return;
	pss->client = NULL;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	client_queue_free(s, c);
	bus_reader_free(c->reader);
	if (s->cb.client_close)
		s->cb.client_close(s->ctx, c->state);
	atomic_fetch_sub(&s->n_clients, 1);
	pr_info("server: websocket client %s closed\n", c->peer);
	free(c);
	server_trim(s);
}

/* Writes one fragment of the head message; the next writeable callback continues. */
static int ws_writeable(struct server *s, struct server_client *c)
{
	struct server_msg *m = c->head;
	size_t chunk;
	int flags;

	/* lws held this callback back until the bytes of earlier writes left its buffer. */
	server_busy_sub(s, c->owed);
	c->owed = 0;
	if (c->dropped)
		return -1;
	if (!m)
		return 0;
	chunk = m->w.len - c->off;
	if (chunk > SERVER_WS_FRAGMENT)
		chunk = SERVER_WS_FRAGMENT;
	flags = lws_write_ws_flags(c->json ? LWS_WRITE_TEXT : LWS_WRITE_BINARY, c->off == 0,
				   c->off + chunk == m->w.len);
	/*
	 * The pieces are shared by every client: the fragment is copied out so lws can put the
	 * frame header in the LWS_PRE bytes before it.
	 */
	report_wire_copy(&m->w, c->off, chunk, s->frag + LWS_PRE);
	if (lws_write(c->wsi, s->frag + LWS_PRE, chunk, flags) < 0)
		return -1;
	c->wrote_ms = mono_ms();
	c->off += chunk;
	if (c->off == m->w.len) {
		atomic_fetch_add(&s->n_sent, 1);
		atomic_fetch_add(&s->n_bytes, m->w.len);
		/* Still busy (owed) until lws says its bytes left its buffer. */
		client_pop(s, c);
		c->owed++;
		client_pump(s, c);
	}
	lws_callback_on_writable(c->wsi);
	return 0;
}

static void server_count_http(struct server *s, int code)
{
	size_t i;

	for (i = 0; i < SERVER_NCODES; i++)
		if (server_http_codes[i] == code)
			break;
	atomic_fetch_add(&s->n_http_code[i], 1);
	atomic_fetch_add(&s->n_http, 1);
}

/*
 * Collects the decoded query fragments into args (names and values point into store).
 * Empty fragments ("a=1&&b=2", a trailing '&') are skipped: lws reports them with length 0,
 * the same as a fragment that does not exist, so only lws_hdr_copy_fragment() (-1 past the
 * last one) tells the end; stopping at the first empty one let "?p=1&&p=2" or "?&&foo=1"
 * slip past the duplicate and unknown-parameter checks. The header's own size (lws's ah
 * buffer) bounds how many fragments there can be. (lws 4.1 turns a trailing '&' into a
 * fragment "/", which the route then refuses as an unknown parameter: an error, not a gap.)
 * Returns the count, or -E2BIG when a fragment is too long or there are too many.
 */
static int http_collect_args(struct lws *wsi, char (*store)[SERVER_URI_MAX], struct http_arg *args)
{
	int frag, n = 0;

	for (frag = 0;; frag++) {
		int flen = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, frag);

		if (flen >= SERVER_URI_MAX)
			return -E2BIG;
		if (flen <= 0) {
			char probe[1];

			if (lws_hdr_copy_fragment(wsi, probe, sizeof(probe), WSI_TOKEN_HTTP_URI_ARGS,
						  frag) < 0)
				break; /* past the last fragment */
			continue;
		}
		if (n == HTTP_API_MAX_ARGS)
			return -E2BIG;
		if (lws_hdr_copy_fragment(wsi, store[n], SERVER_URI_MAX, WSI_TOKEN_HTTP_URI_ARGS,
					  frag) < 0)
			return -E2BIG;
		http_api_split_arg(store[n], &args[n]);
		n++;
	}
	return n;
}

/* Runs the API for one request; fills pss->body and returns the status code. */
static int http_dispatch(struct server *s, struct lws *wsi, const char *uri, struct server_pss *pss,
			 const char **type)
{
	struct http_arg args[HTTP_API_MAX_ARGS];
	char auth[SERVER_AUTH_MAX];
	struct http_request req = {
		.path = uri,
		.is_get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0,
		.is_post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0,
		.args = args,
	};
	int n, code;

	n = http_collect_args(wsi, s->arg_store, args);
	if (n < 0) {
		*type = HTTP_API_JSON;
		return buf_puts(&pss->body,
				 "{\"error\":\"query: too long or too many parameters\"}\n")
			       ?: 400;
	}
	req.nargs = (size_t)n;
	if (lws_hdr_copy(wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION) > 0)
		req.authorization = auth;
	code = http_api_handle(&s->api, &req, &pss->body, type);
	explicit_bzero(auth, sizeof(auth));
	/* A /collector?token= fetched without an upgrade leaves the token here otherwise. */
	explicit_bzero(s->arg_store, sizeof(s->arg_store));
	return code;
}

/* Whether the request announces a body (a non-zero Content-Length, or chunked). */
static bool http_has_body(struct lws *wsi)
{
	char v[32];

	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0)
		return true;
	if (lws_hdr_copy(wsi, v, sizeof(v), WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
		return false;
	return strspn(v, "0") != strlen(v);
}

/*
 * Answers code with msg at once and closes, rather than serving the request: lws waits for a
 * request's body before it lets us write, so a request answered later got headers and never
 * its body, and the response buffer of each such request leaked. Used for a body nobody
 * will read: one sent to a route that takes none (every route but POST /enrich/update takes
 * its parameters in the query: a body is a client mistake), and one refused before it was
 * read (no token, too large).
 */
static int http_refuse(struct server *s, struct lws *wsi, int code, const char *msg, size_t len)
{
	size_t cap = LWS_PRE + 1024 + len;
	unsigned char *out = malloc(cap), *start, *p, *end;

	server_count_http(s, code);
	if (!out)
		return -1;
	start = p = out + LWS_PRE;
	end = out + cap - 1;
	if (lws_add_http_common_headers(wsi, (unsigned)code, HTTP_API_JSON, len, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
					(const unsigned char *)"close", 5, &p, end) ||
	    lws_finalize_http_header(wsi, &p, end) || end - p < (long)len) {
		free(out);
		return -1;
	}
	memcpy(p, msg, len);
	p += len;
	lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_FINAL);
	free(out);
	return -1; /* close: the body that follows is never read */
}

static int http_refuse_body(struct server *s, struct lws *wsi)
{
	static const char msg[] = "{\"error\":\"request bodies are not accepted\"}\n";

	return http_refuse(s, wsi, 413, msg, sizeof(msg) - 1);
}

/*
 * Every answer: no sniffing a JSON error into HTML, no framing by another site, and the page
 * may load only its own files and talk only to this agent (or a ws:// URL the user names).
 */
static int http_security_headers(struct lws *wsi, unsigned char **p, unsigned char *end)
{
	static const struct {
		const char *name, *value;
	} h[] = {
		{ "x-content-type-options:", "nosniff" },
		{ "x-frame-options:", "DENY" },
		{ "content-security-policy:",
		  "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
		  "frame-ancestors 'none'" },
	};
	size_t i;

	for (i = 0; i < sizeof(h) / sizeof(h[0]); i++)
		if (lws_add_http_header_by_name(wsi, (const unsigned char *)h[i].name,
						(const unsigned char *)h[i].value,
						(int)strlen(h[i].value), p, end))
			return -1;
	return 0;
}

/*
 * The dashboard's files (user/web): public, as they hold no data (the page asks for the token
 * before it reads any). Returns 200 with the file in pss->body, 0 when uri names no file
 * (the API answers), or -ENOMEM.
 */
static int http_static(struct lws *wsi, const char *uri, struct server_pss *pss,
		       const char **type)
{
	struct web_asset a;

	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0 || !web_asset_find(uri, &a))
		return 0;
	*type = a.type;
	return buf_append(&pss->body, a.data, a.len) ?: 200;
}

static void post_free(struct server_pss *pss)
{
	if (!pss->post)
		return;
	explicit_bzero(pss->post->auth, sizeof(pss->post->auth));
	buf_free(&pss->post->in);
	free(pss->post);
	pss->post = NULL;
}

static int http_respond(struct server *s, struct lws *wsi, struct server_pss *pss, int code,
			const char *type, const char *allow);

/*
 * A request with a body, to a route that takes one: method, token and query are checked
 * now, before a byte of the body is read; the body is then gathered (LWS_CALLBACK_HTTP_BODY)
 * and the route runs when it is complete. Returns 0, or -1 to close.
 */
static int http_post_start(struct server *s, struct lws *wsi, struct server_pss *pss,
			   const char *uri)
{
	struct http_arg args[HTTP_API_MAX_ARGS];
	struct http_request req = {
		.path = uri,
		.is_get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0,
		.is_post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0,
		.args = args,
	};
	const char *type = HTTP_API_JSON;
	char len[32];
	int n, code;

	pss->post = calloc(1, sizeof(*pss->post));
	if (!pss->post)
		return -1;
	snprintf(pss->post->path, sizeof(pss->post->path), "%s", uri);
	if (lws_hdr_copy(wsi, pss->post->auth, sizeof(pss->post->auth),
			 WSI_TOKEN_HTTP_AUTHORIZATION) > 0)
		req.authorization = pss->post->auth;
	n = http_collect_args(wsi, s->arg_store, args);
	req.nargs = n < 0 ? 0 : (size_t)n;
	code = n < 0 ? 400 : http_api_body_check(&s->api, &req, &pss->body, &type);
	explicit_bzero(s->arg_store, sizeof(s->arg_store));
	if (!code && lws_hdr_copy(wsi, len, sizeof(len), WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
	    strtoull(len, NULL, 10) > HTTP_API_BODY_MAX)
		code = 413;
	if (!code)
		return 0; /* the body follows */
	post_free(pss);
	/* Refused before its body was read: answer, then close (the body is never read). */
	if (code == 413) {
		static const char big[] = "{\"error\":\"request body larger than 16 MiB\"}\n";

		return http_refuse(s, wsi, 413, big, sizeof(big) - 1);
	}
	if (code == 400 && !pss->body.len)
		buf_puts(&pss->body, "{\"error\":\"query: too long or too many parameters\"}\n");
	if (code < 0 || !pss->body.len)
		return -1;
	return http_refuse(s, wsi, code, pss->body.data, pss->body.len);
}

/* LWS_CALLBACK_HTTP_BODY: one chunk of a body route's body. Returns 0, or -1 to close. */
static int http_post_body(struct server *s, struct lws *wsi, struct server_pss *pss,
			  const void *in, size_t len)
{
	if (!pss->post)
		return -1;
	if (pss->post->in.len + len > HTTP_API_BODY_MAX) {
		static const char big[] = "{\"error\":\"request body larger than 16 MiB\"}\n";

		post_free(pss);
		return http_refuse(s, wsi, 413, big, sizeof(big) - 1);
	}
	return buf_append(&pss->post->in, in, len) ? -1 : 0;
}

/* LWS_CALLBACK_HTTP_BODY_COMPLETION: the route runs on the whole body. */
static int http_post_done(struct server *s, struct lws *wsi, struct server_pss *pss)
{
	struct http_request req = { .is_post = 1 };
	const char *type = HTTP_API_JSON;
	int code;

	if (!pss->post)
		return -1;
	req.path = pss->post->path;
	req.authorization = pss->post->auth[0] ? pss->post->auth : NULL;
	req.body = pss->post->in.data ? pss->post->in.data : "";
	req.body_len = pss->post->in.len;
	buf_reset(&pss->body);
	code = http_api_handle(&s->api, &req, &pss->body, &type);
	post_free(pss);
	return http_respond(s, wsi, pss, code, type, "POST");
}

/* LWS_CALLBACK_HTTP: build the whole response now, send headers, body when writeable. */
static int http_request(struct server *s, struct lws *wsi, struct server_pss *pss, const char *uri)
{
	const char *type = HTTP_API_TEXT;
	int code;

	buf_reset(&pss->body);
	pss->off = 0;
	post_free(pss);
	if (http_has_body(wsi))
		return http_api_takes_body(uri) ? http_post_start(s, wsi, pss, uri) :
						  http_refuse_body(s, wsi);
	code = http_static(wsi, uri, pss, &type);
	if (!code)
		code = http_dispatch(s, wsi, uri, pss, &type);
	return http_respond(s, wsi, pss, code, type, http_api_takes_body(uri) ? "POST" : "GET");
}

/* Sends the status and headers of pss->body; the body goes out when writeable. */
static int http_respond(struct server *s, struct lws *wsi, struct server_pss *pss, int code,
			const char *type, const char *allow)
{
	unsigned char hdr[LWS_PRE + 1024], *start = hdr + LWS_PRE, *p = start;
	unsigned char *end = hdr + sizeof(hdr) - 1;

	pss->off = 0;
	if (code < 0) {
		buf_reset(&pss->body);
		code = 500;
		type = HTTP_API_JSON;
		if (buf_puts(&pss->body, "{\"error\":\"out of memory\"}\n"))
			return -1;
	}
	server_count_http(s, code);
	if (lws_add_http_common_headers(wsi, (unsigned)code, type, pss->body.len, &p, end))
		return -1;
	if (code == 405 && lws_add_http_header_by_name(wsi, (const unsigned char *)"allow:",
						       (const unsigned char *)allow,
						       (int)strlen(allow), &p, end))
		return -1;
	if (lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
					(const unsigned char *)"no-store", 8, &p, end))
		return -1;
	if (http_security_headers(wsi, &p, end))
		return -1;
	if (lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

static int http_writeable(struct lws *wsi, struct server_pss *pss)
{
	unsigned char buf[LWS_PRE + SERVER_HTTP_CHUNK];
	size_t chunk = pss->body.len - pss->off;
	int last;

	if (chunk > SERVER_HTTP_CHUNK)
		chunk = SERVER_HTTP_CHUNK;
	last = pss->off + chunk == pss->body.len;
	if (chunk)
		memcpy(buf + LWS_PRE, pss->body.data + pss->off, chunk);
	if (lws_write(wsi, buf + LWS_PRE, chunk, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < 0)
		return -1;
	pss->off += chunk;
	if (!last) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	buf_free(&pss->body);
	/* Nonzero means the connection is not kept alive: close it. */
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/*
 * lws's table includes its own descriptors (listen sockets, the cancel pipe): "full" is a few
 * short of the limit. Full means new connections wait in the kernel's backlog until some
 * close; say so once per SERVER_FULL_LOG_S, and count each time it fills.
 */
#define SERVER_FULL_SLACK 4
#define SERVER_FULL_LOG_S 10
static void conn_opened(struct server *s)
{
	time_t now;

	s->conns++;
	if (s->conn_full || s->conns + SERVER_FULL_SLACK < s->conn_limit)
		return;
	s->conn_full = true;
	atomic_fetch_add(&s->n_conn_full, 1);
	now = time(NULL);
	if (now - s->conn_full_logged >= SERVER_FULL_LOG_S) {
		s->conn_full_logged = now;
		pr_warn("server: %lu connections open, the most this process's open-file limit "
			"allows: new ones wait until some close (raise LimitNOFILE / ulimit -n)\n",
			s->conns);
	}
}

static void conn_closed(struct server *s)
{
	if (s->conns)
		s->conns--;
	if (s->conns + 2 * SERVER_FULL_SLACK < s->conn_limit)
		s->conn_full = false;
}

static int server_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			   size_t len)
{
	struct server *s = lws_context_user(lws_get_context(wsi));
	struct server_pss *pss = user;

	switch (reason) {
	case LWS_CALLBACK_WSI_CREATE:
		conn_opened(s);
		return 0;
	case LWS_CALLBACK_RAW_ADOPT:
	case LWS_CALLBACK_RAW_RX:
		/*
		 * lws hands a request it cannot parse as HTTP (CONNECT, say) to the vhost's protocol
		 * as a raw socket, which then has no deadline at all: nothing here speaks raw.
		 */
		if (reason == LWS_CALLBACK_RAW_ADOPT)
			atomic_fetch_add(&s->n_not_http, 1);
		return -1;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		server_pump_all(s);
		return 0;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return ws_filter(s, wsi);
	case LWS_CALLBACK_ESTABLISHED:
		if (pss && ws_is_push(wsi)) {
			memset(pss, 0, sizeof(*pss));
			pss->push = true;
			return 0;
		}
		return ws_established(s, wsi, pss);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (pss && pss->push)
			return push_writeable(wsi, pss);
		return pss && pss->client ? ws_writeable(s, pss->client) : 0;
	case LWS_CALLBACK_RECEIVE:
		if (pss && pss->gossip)
			return gossip_receive(s, wsi, pss, in, len);
		if (pss && pss->push)
			return push_receive(s, wsi, pss, in, len);
		return 0; /* collectors only listen; anything they send is ignored */
	case LWS_CALLBACK_CLOSED:
		if (pss)
			push_closed(s, pss);
		ws_closed(s, pss);
		if (pss && pss->gossip)
			buf_free(&pss->body);
		return 0;
	case LWS_CALLBACK_HTTP:
		return http_request(s, wsi, pss, in ? (const char *)in : "");
	case LWS_CALLBACK_HTTP_BODY:
		return pss ? http_post_body(s, wsi, pss, in, len) : -1;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return pss ? http_post_done(s, wsi, pss) : -1;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return pss ? http_writeable(wsi, pss) : -1;
	case LWS_CALLBACK_CLOSED_HTTP:
		if (pss) {
			buf_free(&pss->body);
			post_free(pss);
		}
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		conn_closed(s);
		if (pss) {
			push_closed(s, pss);
			ws_closed(s, pss);
			buf_free(&pss->body);
			post_free(pss);
		}
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

static const struct lws_protocols server_protocols[] = {
	/* First protocol: serves HTTP and any websocket that names no subprotocol. */
	{ "mysqlprobe", server_callback, sizeof(struct server_pss), 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* Prometheus text for one counter; names end in _total (promtool's lint). */
static int metric_counter(struct buf *out, const char *name, const char *help,
			  unsigned long long v)
{
	return buf_printf(out,
			   "# HELP mysqlprobe_server_%s %s\n# TYPE mysqlprobe_server_%s counter\n"
			   "mysqlprobe_server_%s %llu\n",
			   name, help, name, name, v);
}

static int server_metrics_counters(struct server *s, struct buf *out)
{
	const struct {
		const char *name, *help;
		atomic_ullong *v;
	} rows[] = {
		{ "clients_connected_total", "Websocket clients accepted on /collector.",
		  &s->n_clients_total },
		{ "messages_sent_total", "Websocket messages written to clients.", &s->n_sent },
		{ "message_bytes_total", "Payload bytes of the websocket messages written.",
		  &s->n_bytes },
		{ "messages_too_large_total", "Messages over websocket.maxmessagesize, not sent.",
		  &s->n_too_large },
		{ "render_errors_total", "Reports that could not be rendered for a client.",
		  &s->n_render_err },
		{ "reports_rendered_total", "Reports rendered for a websocket client.",
		  &s->n_rendered },
		{ "clients_unauthorized_total",
		  "Websocket upgrades refused for a missing or wrong bearer token.",
		  &s->n_ws_unauthorized },
		{ "gossip_links_refused_total",
		  "/cluster/gossip links refused for a missing or wrong cluster.token.",
		  &s->n_gossip_refused },
		{ "gossip_messages_total", "Messages received on /cluster/gossip links.",
		  &s->n_gossip_messages },
		{ "connections_not_http_total",
		  "Connections closed at once because they did not speak HTTP (e.g. CONNECT).",
		  &s->n_not_http },
		{ "connections_full_total",
		  "Times the connection table filled (new connections then wait).",
		  &s->n_conn_full },
		{ "clients_dropped_total",
		  "Websocket clients disconnected: the reports queued for clients came to more "
		  "than http.queue_mb.",
		  &s->n_dropped },
	};
	size_t i;
	int err = 0;

	for (i = 0; !err && i < sizeof(rows) / sizeof(rows[0]); i++)
		err = metric_counter(out, rows[i].name, rows[i].help, atomic_load(rows[i].v));
	return err;
}

static int server_metrics_clients(struct server *s, struct buf *out)
{
	struct server_client *c;
	int err;

	err = buf_printf(
		out,
		"# HELP mysqlprobe_server_connections TCP connections the server holds now.\n"
		"# TYPE mysqlprobe_server_connections gauge\n"
		"mysqlprobe_server_connections %lu\n"
		"# HELP mysqlprobe_server_connections_limit Connections the server holds at most.\n"
		"# TYPE mysqlprobe_server_connections_limit gauge\n"
		"mysqlprobe_server_connections_limit %lu\n"
		"# HELP mysqlprobe_server_clients Websocket clients connected now.\n"
		"# TYPE mysqlprobe_server_clients gauge\n"
		"mysqlprobe_server_clients %llu\n"
		"# HELP mysqlprobe_server_queue_bytes Memory of the reports the clients' queues "
		"hold (each report once).\n"
		"# TYPE mysqlprobe_server_queue_bytes gauge\n"
		"mysqlprobe_server_queue_bytes %llu\n"
		"# HELP mysqlprobe_server_queue_limit_bytes http.queue_mb in bytes.\n"
		"# TYPE mysqlprobe_server_queue_limit_bytes gauge\n"
		"mysqlprobe_server_queue_limit_bytes %zu\n"
		"# HELP mysqlprobe_server_client_queue_depth Reports a client has not been sent yet "
		"(rendered or still in the bus).\n"
		"# TYPE mysqlprobe_server_client_queue_depth gauge\n",
		s->conns, s->conn_limit, (unsigned long long)s->n_clients,
		(unsigned long long)s->n_pinned, s->cfg.queue_bytes);
	for (c = s->clients; !err && c; c = c->next)
		err = buf_printf(out, "mysqlprobe_server_client_queue_depth{client=\"%s\"} %llu\n",
				  c->peer, (unsigned long long)(c->qlen + bus_reader_lag(c->reader)));
	if (!err)
		err = buf_puts(out, "# HELP mysqlprobe_server_client_reports_dropped Reports a "
				     "connected client lost (it lagged its queue or the buffer).\n"
				     "# TYPE mysqlprobe_server_client_reports_dropped gauge\n");
	for (c = s->clients; !err && c; c = c->next)
		err = buf_printf(out,
				  "mysqlprobe_server_client_reports_dropped{client=\"%s\"} %llu\n",
				  c->peer, (unsigned long long)bus_reader_dropped(c->reader));
	return err;
}

static int server_metrics_http(struct server *s, struct buf *out)
{
	size_t i;
	int err;

	err = buf_puts(out,
			"# HELP mysqlprobe_server_http_requests_total HTTP requests by status.\n"
			"# TYPE mysqlprobe_server_http_requests_total counter\n");
	for (i = 0; !err && i <= SERVER_NCODES; i++) {
		char code[8] = "other";

		if (i < SERVER_NCODES)
			snprintf(code, sizeof(code), "%d", server_http_codes[i]);
		err = buf_printf(out, "mysqlprobe_server_http_requests_total{code=\"%s\"} %llu\n",
				  code, (unsigned long long)s->n_http_code[i]);
	}
	return err;
}

/* GET /metrics: the application's metrics first, then the server's own. */
static int server_metrics(void *ctx, struct buf *out)
{
	struct server *s = ctx;
	int err = s->cb.metrics ? s->cb.metrics(s->ctx, out) : 0;

	if (!err)
		err = server_metrics_counters(s, out);
	if (!err)
		err = server_metrics_clients(s, out);
	if (!err)
		err = server_metrics_http(s, out);
	return err;
}

static int server_health(void *ctx, struct buf *why)
{
	struct server *s = ctx;

	return s->cb.health ? s->cb.health(s->ctx, why) : 0;
}

static int server_status(void *ctx, struct buf *out)
{
	struct server *s = ctx;
	size_t before = out->len;
	int err = s->cb.status ? s->cb.status(s->ctx, out) : 0;

	if (!err && out->len != before)
		err = buf_puts(out, ",");
	if (!err)
		err = buf_printf(
			out,
			"\"server\":{\"port\":%d,\"clients\":%llu,"
			"\"messages_sent\":%llu,\"queue_len\":%u,\"max_message\":%zu,"
			"\"queue_bytes\":%llu,\"queue_limit_bytes\":%zu,"
			"\"client_queue_limit_bytes\":%zu,\"clients_dropped\":%llu}",
			server_port(s), (unsigned long long)s->n_clients, (unsigned long long)s->n_sent,
			s->cfg.queue_len, s->cfg.max_message, (unsigned long long)s->n_pinned,
			s->cfg.queue_bytes, s->cfg.client_queue_bytes,
			(unsigned long long)s->n_dropped);
	return err;
}

static int server_cluster(void *ctx, enum http_cluster_op op, const char *addr, struct buf *body)
{
	struct server *s = ctx;

	return s->cb.cluster(s->ctx, op, addr, body);
}

static int server_enrich_update(void *ctx, const char *body, size_t len, struct buf *out)
{
	struct server *s = ctx;

	return s->cb.enrich_update(s->ctx, body, len, out);
}

static int server_set_period(void *ctx, unsigned ms)
{
	struct server *s = ctx;

	return s->cb.set_report_period_ms(s->ctx, ms);
}

static void *server_thread(void *arg)
{
	struct server *s = arg;

	while (!atomic_load(&s->stop))
		if (lws_service(s->lws, 0) < 0)
			break;
	return NULL;
}

/* lws does not say why a bind failed; find out by trying the same bind once more. */
static int server_bind_errno(const struct server_config *cfg)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(cfg->port) };
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(cfg->port) };
	const char *bind_addr = cfg->bind && *cfg->bind ? cfg->bind : "::";
	int fd, one = 1, err = EIO;
	struct sockaddr *sa;
	socklen_t sl;

	if (inet_pton(AF_INET, bind_addr, &a4.sin_addr) == 1) {
		sa = (struct sockaddr *)&a4;
		sl = sizeof(a4);
	} else if (inet_pton(AF_INET6, bind_addr, &a6.sin6_addr) == 1) {
		sa = (struct sockaddr *)&a6;
		sl = sizeof(a6);
	} else {
		return EADDRNOTAVAIL; /* an interface name lws could not resolve */
	}
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, sa, sl) || listen(fd, 1))
		err = errno;
	close(fd);
	return err;
}

static int server_listen(struct server *s)
{
	struct lws_context_creation_info info = {};
	struct in_addr v4;

	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.user = s;
	info.max_http_header_data = 4096;
	s->conn_limit = server_fd_limit();
	info.fd_limit_per_thread = (unsigned)s->conn_limit;
	s->lws = lws_create_context(&info);
	if (!s->lws)
		return EIO;

	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
	/*
	 * lws 4.1 with IPv6 on does not match an IPv4 literal to an address and silently binds
	 * every address instead; an IPv4-only vhost binds exactly the address asked for.
	 */
	if (s->cfg.bind && inet_pton(AF_INET, s->cfg.bind, &v4) == 1)
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	info.port = s->cfg.port;
	info.iface = s->cfg.bind;
	info.protocols = server_protocols;
	info.vhost_name = "mysqlprobe";
	s->vhost = lws_create_vhost(s->lws, &info);
	if (!s->vhost)
		return server_bind_errno(&s->cfg);
	return 0;
}

/* Whether the bind address (or interface) keeps the port on this host; NULL = every address. */
static bool bind_is_loopback(const char *bind)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (!bind)
		return false;
	if (inet_pton(AF_INET, bind, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, bind, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return !strcmp(bind, "lo") || !strcmp(bind, "localhost");
}

static int server_copy_config(struct server *s, const struct server_config *cfg)
{
	const char *bind_addr = cfg->bind;

	s->cfg = *cfg;
	s->cfg.bind = NULL;
	s->cfg.token = NULL;
	s->cfg.cluster_token = NULL;
	if (!s->cfg.queue_len)
		s->cfg.queue_len = SERVER_DEFAULT_QUEUE;
	if (!s->cfg.client_queue_bytes)
		s->cfg.client_queue_bytes = SERVER_DEFAULT_CLIENT_BYTES;
	if (!s->cfg.queue_bytes)
		s->cfg.queue_bytes = SERVER_DEFAULT_TOTAL_BYTES;
	if (cfg->port < 0 || cfg->port > 65535)
		return EINVAL;
	/* lws binds every address (dual-stack) when given no interface. */
	if (bind_addr && *bind_addr && strcmp(bind_addr, "0.0.0.0") && strcmp(bind_addr, "*")) {
		s->cfg.bind = strdup(bind_addr);
		if (!s->cfg.bind)
			return ENOMEM;
	}
	if (cfg->token && *cfg->token) {
		s->cfg.token = strdup(cfg->token);
		if (!s->cfg.token)
			return ENOMEM;
	}
	if (cfg->cluster_token && *cfg->cluster_token) {
		s->cfg.cluster_token = strdup(cfg->cluster_token);
		if (!s->cfg.cluster_token)
			return ENOMEM;
	}
	s->api.token = s->cfg.token;
	s->api.exposed = !bind_is_loopback(s->cfg.bind);
	s->api.ctx = s;
	s->api.set_report_period_ms = s->cb.set_report_period_ms ? server_set_period : NULL;
	s->api.metrics = server_metrics;
	s->api.status = server_status;
	s->api.health = server_health;
	s->api.cluster = s->cb.cluster ? server_cluster : NULL;
	s->api.enrich_update = s->cb.enrich_update ? server_enrich_update : NULL;
	return 0;
}

static int server_init_sync(struct server *s)
{
	s->frag = malloc(LWS_PRE + SERVER_WS_FRAGMENT);
	if (!s->frag)
		return ENOMEM;
	return pthread_mutex_init(&s->lock, NULL) ? ENOMEM : 0;
}

struct server *server_new(const struct server_config *cfg, const struct server_callbacks *cb,
			  void *ctx)
{
	struct server *s;
	int err;

	if (!cfg || !cb || !cb->wire) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cb = *cb;
	s->ctx = ctx;
	err = server_init_sync(s);
	if (err) {
		free(s);
		errno = err;
		return NULL;
	}
	net_lws_log_setup();
	err = server_copy_config(s, cfg);
	if (!err)
		err = server_listen(s);
	if (err) {
		pr_warn("server: failed to listen on %s:%d: %s\n", cfg->bind ? cfg->bind : "*",
			cfg->port, strerror(err));
		goto cleanup;
	}
	err = pthread_create(&s->thread, NULL, server_thread, s);
	if (err) {
		pr_warn("server: failed to start thread: %s\n", strerror(err));
		goto cleanup;
	}
	s->thread_started = true;
	pr_info("server: listening on %s:%d\n", s->cfg.bind ? s->cfg.bind : "*", server_port(s));
	if (s->api.exposed && !s->cfg.token)
		pr_warn("server: %s:%d reaches beyond loopback and http.token is not set: reports "
			"(with SQL samples) are readable from the network, and endpoints that change "
			"state answer 403\n",
			s->cfg.bind ? s->cfg.bind : "*", server_port(s));
	return s;
cleanup:
	server_free(s);
	errno = err;
	return NULL;
}

int server_port(const struct server *s)
{
	return s->vhost ? lws_get_vhost_listen_port(s->vhost) : -1;
}

int server_flush(struct server *s, unsigned timeout_ms)
{
	uint64_t deadline = mono_ms() + timeout_ms;

	/* Reports waiting in the bus and bytes leaving sockets signal nobody: look every 2 ms. */
	for (;;) {
		bool idle;

		pthread_mutex_lock(&s->lock);
		idle = !s->busy;
		pthread_mutex_unlock(&s->lock);
		if (idle && (!s->cfg.bus || !bus_pending(s->cfg.bus, s)))
			return 0;
		if (mono_ms() >= deadline)
			return -ETIMEDOUT;
		lws_cancel_service(s->lws);
		usleep(2000);
	}
}

void server_get_stats(struct server *s, struct server_stats *out)
{
	out->clients = s->n_clients;
	out->clients_total = s->n_clients_total;
	out->messages_sent = s->n_sent;
	out->bytes_sent = s->n_bytes;
	out->messages_too_large = s->n_too_large;
	out->render_errors = s->n_render_err;
	out->reports_rendered = s->n_rendered;
	out->http_requests = s->n_http;
	out->clients_dropped = s->n_dropped;
	out->queue_bytes = s->n_pinned;
	out->gossip_refused = s->n_gossip_refused;
	out->gossip_messages = s->n_gossip_messages;
}

void server_free(struct server *s)
{
	if (!s)
		return;
	if (s->thread_started) {
		atomic_store(&s->stop, true);
		lws_cancel_service(s->lws);
		pthread_join(s->thread, NULL);
	}
	/* Closes every connection: ws_closed() runs here, in this thread, for each client. */
	if (s->lws)
		lws_context_destroy(s->lws);
	free(s->frag);
	free(s->pins);
	pthread_mutex_destroy(&s->lock);
	free((char *)s->cfg.bind);
	if (s->cfg.token)
		explicit_bzero((char *)s->cfg.token, strlen(s->cfg.token));
	free((char *)s->cfg.token);
	if (s->cfg.cluster_token)
		explicit_bzero((char *)s->cfg.cluster_token, strlen(s->cfg.cluster_token));
	free((char *)s->cfg.cluster_token);
	free(s);
}
