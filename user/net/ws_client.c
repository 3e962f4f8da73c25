// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Outgoing websocket links (libwebsockets client): dial, reconnect with backoff, whole messages. */
#include <errno.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "net/lws_log.h"
#include "net/ws_client.h"

#define WS_BACKOFF_MIN_MS 500u
#define WS_BACKOFF_MAX_MS 10000u
#define WS_MAX_MESSAGE_DEFAULT (256u << 20)
#define WS_PATH_MAX 1024
/* Bytes written per lws_write: a large message goes out while the thread serves the others. */
#define WS_TX_FRAGMENT (64u << 10)
/*
 * The outbox of one link: gossip queues a few small messages per 500 ms, the pusher one report
 * at a time. Bounded by count and bytes; one message of any size is taken when it is empty.
 */
#define WS_OUTBOX 64
#define WS_OUTBOX_BYTES (1u << 20)

struct ws_msg {
	unsigned char *data; /* LWS_PRE bytes, then the message */
	size_t len; /* LWS_PRE + the message */
	int binary;
};

struct ws_link {
	struct ws_client *c;
	struct ws_link *next;
	struct ws_link_config cfg;
	struct ws_link_callbacks cb;
	void *ctx;
	/* Client-thread state. */
	struct lws *wsi;
	lws_sorted_usec_list_t dial_sul;
	lws_sorted_usec_list_t idle_sul;
	unsigned backoff_ms;
	bool had_message; /* this connection delivered a message: the next retry starts fast */
	bool started; /* the client thread has seen the link */
	uint64_t last_rx_ms; /* mono_ms() of the last byte received or of the connect */
	struct buf rx;
	struct buf path;
	/* Set by ws_link_free(), under the client's lock; done once the thread let go. */
	atomic_bool freeing;
	bool done;
	_Atomic uint64_t dials, connects, messages, bytes, too_large, sent, send_refused;
	atomic_int connected;
	/* Messages to send (ws_link_send), under the client's lock; the head one is written in
	 * fragments by the client thread, tx_off bytes of it so far. */
	struct ws_msg out[WS_OUTBOX];
	unsigned out_head, out_n;
	size_t out_bytes, tx_off;
};

struct ws_client {
	struct lws_context *lws;
	pthread_t thread;
	bool thread_started;
	atomic_bool stop;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ws_link *links;
};

static void link_dial(lws_sorted_usec_list_t *sul);

/* Next dial after a failure or a close; a connection that worked retries at the minimum. */
static void link_retry(struct ws_link *l)
{
	if (l->had_message || !l->backoff_ms)
		l->backoff_ms = WS_BACKOFF_MIN_MS;
	l->had_message = false;
	lws_sul_schedule(l->c->lws, 0, &l->dial_sul, link_dial,
			 (lws_usec_t)l->backoff_ms * LWS_US_PER_MS);
	l->backoff_ms = l->backoff_ms * 2 > WS_BACKOFF_MAX_MS ? WS_BACKOFF_MAX_MS
							      : l->backoff_ms * 2;
}

static void link_dial(lws_sorted_usec_list_t *sul)
{
	struct ws_link *l = lws_container_of(sul, struct ws_link, dial_sul);
	struct lws_client_connect_info i = { 0 };

	if (atomic_load(&l->freeing) || l->wsi)
		return;
	l->path.len = 0;
	if (l->cb.path(l->ctx, &l->path) || buf_puts(&l->path, "") || l->path.len >= WS_PATH_MAX) {
		link_retry(l);
		return;
	}
	i.context = l->c->lws;
	i.address = l->cfg.host;
	i.port = l->cfg.port;
	i.path = l->path.data;
	i.host = l->cfg.host;
	i.origin = l->cfg.host;
	i.local_protocol_name = "mysqlprobe-link";
	i.userdata = l;
	i.pwsi = &l->wsi;
	atomic_fetch_add(&l->dials, 1);
	/*
	 * A failure is usually reported through CLIENT_CONNECTION_ERROR, which schedules the
	 * retry; one found before a wsi existed is not, so retry here unless already scheduled.
	 */
	if (!lws_client_connect_via_info(&i) && lws_dll2_is_detached(&l->dial_sul.list))
		link_retry(l);
}

static void link_idle(lws_sorted_usec_list_t *sul)
{
	struct ws_link *l = lws_container_of(sul, struct ws_link, idle_sul);
	uint64_t since;

	if (!l->wsi || !l->cfg.idle_ms)
		return;
	since = mono_ms() - l->last_rx_ms;
	if (since < l->cfg.idle_ms) {
		lws_sul_schedule(l->c->lws, 0, &l->idle_sul, link_idle,
				 (lws_usec_t)(l->cfg.idle_ms - since) * LWS_US_PER_MS);
		return;
	}
	/* A peer that vanished without a FIN (a cut link, a frozen host): hang up and dial. */
	lws_set_timeout(l->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* Drops the head message; the caller holds the client's lock. */
static void outbox_pop(struct ws_link *l)
{
	struct ws_msg *m = &l->out[l->out_head];

	l->out_bytes -= m->len - LWS_PRE;
	free(m->data);
	m->data = NULL;
	l->out_head = (l->out_head + 1) % WS_OUTBOX;
	l->out_n--;
	l->tx_off = 0;
}

/* What waits is stale for the next connection (heartbeats repeat, the pusher resends). */
static void outbox_clear(struct ws_link *l)
{
	while (l->out_n)
		outbox_pop(l);
}

static void link_report_close(struct ws_link *l, int status, const char *why)
{
	bool was = atomic_exchange(&l->connected, 0);

	(void)was;
	l->wsi = NULL;
	lws_sul_cancel(&l->idle_sul);
	l->rx.len = 0;
	/* Freeing: client_sync() holds the lock here, and link_free_mem() frees tx. */
	if (atomic_load(&l->freeing))
		return;
	pthread_mutex_lock(&l->c->lock);
	outbox_clear(l);
	pthread_mutex_unlock(&l->c->lock);
	if (l->cb.closed)
		l->cb.closed(l->ctx, status, why);
	link_retry(l);
}

static int link_receive(struct ws_link *l, struct lws *wsi, const void *in, size_t len)
{
	size_t max = l->cfg.max_message ? l->cfg.max_message : WS_MAX_MESSAGE_DEFAULT;
	int ret;

	l->last_rx_ms = mono_ms();
	if (lws_is_first_fragment(wsi))
		l->rx.len = 0;
	if (l->rx.len + len > max) {
		atomic_fetch_add(&l->too_large, 1);
		return -1;
	}
	if (buf_append(&l->rx, in, len))
		return -1;
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
		return 0;
	atomic_fetch_add(&l->messages, 1);
	atomic_fetch_add(&l->bytes, l->rx.len);
	l->had_message = true;
	ret = l->cb.message(l->ctx, l->rx.data, l->rx.len, lws_frame_is_binary(wsi));
	l->rx.len = 0;
	/* A large message leaves a large buffer: give it back rather than keep it per link. */
	if (l->rx.cap > (1u << 20))
		buf_free(&l->rx);
	return ret ? -1 : 0;
}

/* Writes the next fragment of the oldest queued message (client thread). */
static int link_write(struct ws_link *l, struct lws *wsi)
{
	struct ws_msg *m;
	unsigned char *p;
	size_t chunk;
	int flags;
	bool last, more;

	pthread_mutex_lock(&l->c->lock);
	if (!l->out_n) {
		pthread_mutex_unlock(&l->c->lock);
		return 0;
	}
	/* Only this thread removes the head, so it stays valid after the unlock. */
	m = &l->out[l->out_head];
	if (!l->tx_off)
		l->tx_off = LWS_PRE;
	chunk = m->len - l->tx_off;
	if (chunk > WS_TX_FRAGMENT)
		chunk = WS_TX_FRAGMENT;
	last = l->tx_off + chunk == m->len;
	flags = lws_write_ws_flags(m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT,
				   l->tx_off == LWS_PRE, last);
	p = m->data + l->tx_off;
	pthread_mutex_unlock(&l->c->lock);
	/* lws_write needs LWS_PRE bytes before the data for the frame header: the fragment's
	 * own earlier bytes serve, they were already written. */
	if (lws_write(wsi, p, chunk, flags) < (int)chunk)
		return -1;
	pthread_mutex_lock(&l->c->lock);
	l->tx_off += chunk;
	if (last) {
		outbox_pop(l);
		atomic_fetch_add(&l->sent, 1);
	}
	more = l->out_n > 0;
	pthread_mutex_unlock(&l->c->lock);
	if (more)
		lws_callback_on_writable(wsi);
	return 0;
}

/* Links added or being freed since the last pass: runs in the client thread. */
static void client_sync(struct ws_client *c)
{
	struct ws_link **pp, *l;

	pthread_mutex_lock(&c->lock);
	for (pp = &c->links; (l = *pp);) {
		if (atomic_load(&l->freeing)) {
			lws_sul_cancel(&l->dial_sul);
			lws_sul_cancel(&l->idle_sul);
			if (l->wsi) /* synchronous: CLIENT_CLOSED runs now and sees freeing */
				lws_set_timeout(l->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
			*pp = l->next;
			l->done = true;
			pthread_cond_broadcast(&c->cond);
			continue;
		}
		if (!l->started) {
			l->started = true;
			lws_sul_schedule(c->lws, 0, &l->dial_sul, link_dial, 1);
		}
		if (l->out_n && l->wsi)
			lws_callback_on_writable(l->wsi);
		pp = &l->next;
	}
	pthread_mutex_unlock(&c->lock);
}

static int client_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			   size_t len)
{
	struct ws_client *c = lws_context_user(lws_get_context(wsi));
	struct ws_link *l = user;
	char auth[512];
	int n;

	switch (reason) {
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		client_sync(c);
		return 0;
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		if (!l || !l->cfg.token)
			return 0;
		n = snprintf(auth, sizeof(auth), "Bearer %s", l->cfg.token);
		if (n < 0 || (size_t)n >= sizeof(auth))
			return -1;
		n = lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
						 (unsigned char *)auth, n, (unsigned char **)in,
						 *(unsigned char **)in + len);
		explicit_bzero(auth, sizeof(auth));
		return n ? -1 : 0;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if (!l)
			return -1;
		atomic_store(&l->connected, 1);
		atomic_fetch_add(&l->connects, 1);
		l->last_rx_ms = mono_ms();
		if (l->cfg.idle_ms)
			lws_sul_schedule(c->lws, 0, &l->idle_sul, link_idle,
					 (lws_usec_t)l->cfg.idle_ms * LWS_US_PER_MS);
		if (l->cb.opened && !atomic_load(&l->freeing))
			l->cb.opened(l->ctx);
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return l && !atomic_load(&l->freeing) ? link_write(l, wsi) : 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		return l && !atomic_load(&l->freeing) ? link_receive(l, wsi, in, len) : -1;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (l)
			link_report_close(l, (int)lws_http_client_http_response(wsi),
					  in && len ? (const char *)in : "connection failed");
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (l)
			link_report_close(l, 0, "closed");
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols client_protocols[] = {
	{ "mysqlprobe-link", client_callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void *client_thread(void *arg)
{
	struct ws_client *c = arg;

	while (!atomic_load(&c->stop))
		if (lws_service(c->lws, 0) < 0)
			break;
	return NULL;
}

struct ws_client *ws_client_new(void)
{
	struct lws_context_creation_info info = { 0 };
	struct ws_client *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	net_lws_log_setup();
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = client_protocols;
	info.gid = -1;
	info.uid = -1;
	info.user = c;
	c->lws = lws_create_context(&info);
	if (!c->lws) {
		ws_client_free(c);
		errno = ENOMEM;
		return NULL;
	}
	err = pthread_create(&c->thread, NULL, client_thread, c);
	if (err) {
		ws_client_free(c);
		errno = err;
		return NULL;
	}
	c->thread_started = true;
	return c;
}

void ws_client_free(struct ws_client *c)
{
	if (!c)
		return;
	atomic_store(&c->stop, true);
	if (c->thread_started) {
		lws_cancel_service(c->lws);
		pthread_join(c->thread, NULL);
	}
	if (c->lws)
		lws_context_destroy(c->lws);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static void link_free_mem(struct ws_link *l)
{
	if (l->cfg.token)
		explicit_bzero((char *)l->cfg.token, strlen(l->cfg.token));
	free((char *)l->cfg.token);
	free((char *)l->cfg.host);
	buf_free(&l->rx);
	buf_free(&l->path);
	outbox_clear(l);
	free(l);
}

struct ws_link *ws_link_new(struct ws_client *c, const struct ws_link_config *cfg,
			    const struct ws_link_callbacks *cb, void *ctx)
{
	struct ws_link *l;

	if (!c || !cfg || !cfg->host || !*cfg->host || cfg->port <= 0 || cfg->port > 65535 ||
	    !cb || !cb->path || !cb->message) {
		errno = EINVAL;
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->c = c;
	l->cfg = *cfg;
	l->cb = *cb;
	l->ctx = ctx;
	l->cfg.host = strdup(cfg->host);
	l->cfg.token = cfg->token && *cfg->token ? strdup(cfg->token) : NULL;
	if (!l->cfg.host || (cfg->token && *cfg->token && !l->cfg.token)) {
		link_free_mem(l);
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_lock(&c->lock);
	l->next = c->links;
	c->links = l;
	pthread_mutex_unlock(&c->lock);
	lws_cancel_service(c->lws);
	return l;
}

void ws_link_free(struct ws_link *l)
{
	struct ws_client *c;

	if (!l)
		return;
	c = l->c;
	pthread_mutex_lock(&c->lock);
	atomic_store(&l->freeing, true);
	lws_cancel_service(c->lws);
	while (!l->done && !atomic_load(&c->stop))
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
	link_free_mem(l);
}

void ws_link_get_stats(struct ws_link *l, struct ws_link_stats *out)
{
	out->dials = atomic_load(&l->dials);
	out->connects = atomic_load(&l->connects);
	out->messages = atomic_load(&l->messages);
	out->bytes = atomic_load(&l->bytes);
	out->too_large = atomic_load(&l->too_large);
	out->connected = atomic_load(&l->connected);
	out->sent = atomic_load(&l->sent);
	out->send_refused = atomic_load(&l->send_refused);
}

int ws_link_send(struct ws_link *l, const void *data, size_t len, int binary)
{
	struct ws_msg *m;
	unsigned char *p;
	int ret = 0;

	if (!atomic_load(&l->connected))
		return -ENOTCONN;
	p = malloc(LWS_PRE + len + 1);
	if (!p)
		return -ENOMEM;
	memcpy(p + LWS_PRE, data, len);
	pthread_mutex_lock(&l->c->lock);
	if (!atomic_load(&l->connected) || atomic_load(&l->freeing)) {
		ret = -ENOTCONN;
	} else if (l->out_n == WS_OUTBOX ||
		   (l->out_n && l->out_bytes + len > WS_OUTBOX_BYTES)) {
		ret = -ENOBUFS;
	} else {
		m = &l->out[(l->out_head + l->out_n) % WS_OUTBOX];
		m->data = p;
		m->len = LWS_PRE + len;
		m->binary = binary;
		l->out_n++;
		l->out_bytes += len;
		p = NULL;
	}
	pthread_mutex_unlock(&l->c->lock);
	free(p);
	if (ret)
		atomic_fetch_add(&l->send_refused, 1);
	else
		lws_cancel_service(l->c->lws);
	return ret;
}
