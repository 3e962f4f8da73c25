// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The watcher thread: one libmariadb connection to the local server, PROCESSLIST every interval. */
#include <errno.h>
#include <mysql.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/ticker.h"
#include "watcher/watcher.h"

/* Failures of one kind are logged at most this often; the counters say how many. */
#define LOG_EVERY_MS 60000
/* Host names resolved per read: PROCESSLIST shows names unless the server skips name
 * resolution, and most rows share a few. */
#define NAME_CACHE 16
#define NAME_ADDRS 4

static const char PROCESSLIST_SQL[] = "SELECT ID, USER, HOST, DB FROM information_schema.PROCESSLIST";
/* Without PROCESS an account sees only its own connections: worth saying, not failing. */
static const char PRIVILEGE_SQL[] = "SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES "
				    "WHERE PRIVILEGE_TYPE = 'PROCESS'";

enum { LOG_CONNECT, LOG_POLL, LOG_PRIVILEGE, LOG_KINDS };

struct watcher {
	struct watcher_config cfg;
	struct procs *procs;
	pthread_t thr;
	struct ticker tick; /* the wait between polls; stopped by watcher_stop() */
	MYSQL *m;
	uint64_t logged_ms[LOG_KINDS];
	_Atomic uint64_t polls, poll_errors, connect_errors, privilege_errors, connections,
		connected;
	struct proc_entry *rows;
	size_t rows_cap;
};

struct name_addrs {
	char name[256];
	int n;
	uint8_t family[NAME_ADDRS];
	uint8_t addr[NAME_ADDRS][16];
};

static void bump(_Atomic uint64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* The server's message with the password cut out, should a message ever quote it. */
static void redact(const struct watcher *w, const char *msg, char *out, size_t len)
{
	size_t o = 0, pl = strlen(w->cfg.password);

	while (*msg && o + 1 < len) {
		if (pl && !strncmp(msg, w->cfg.password, pl)) {
			for (const char *r = "<redacted>"; *r && o + 1 < len;)
				out[o++] = *r++;
			msg += pl;
			continue;
		}
		out[o++] = *msg++;
	}
	out[o] = '\0';
}

/* Logs one failure of a kind unless one was logged within the last minute. */
static void log_failure(struct watcher *w, int kind, const char *what)
{
	uint64_t t = mono_ms();
	char msg[512];

	if (w->logged_ms[kind] && t - w->logged_ms[kind] < LOG_EVERY_MS)
		return;
	w->logged_ms[kind] = t;
	redact(w, w->m ? mysql_error(w->m) : "out of memory", msg, sizeof(msg));
	if (w->cfg.host && w->cfg.host[0])
		pr_warn("watcher: failed to %s on %s:%u as '%s': %s (logged once a minute; "
			"capture goes on)\n",
			what, w->cfg.host, w->cfg.port, w->cfg.user, msg);
	else
		pr_warn("watcher: failed to %s on %s as '%s': %s (logged once a minute; capture "
			"goes on)\n",
			what, w->cfg.socket, w->cfg.user, msg);
}

static void disconnect(struct watcher *w)
{
	if (!w->m)
		return;
	mysql_close(w->m);
	w->m = NULL;
	atomic_store(&w->connected, 0);
	/* The old address stays "self" until a new connection replaces it: its closing packets
	 * (COM_QUIT) are the watcher's too. */
}

/* Publishes the client end of the watcher's own TCP connection, to leave it out. */
static void publish_self(struct watcher *w)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd = (int)mysql_get_socket(w->m);

	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &sl))
		return;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)&ss;

		procs_set_self(w->procs, (const uint8_t *)&s4->sin_addr, 4, ntohs(s4->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)&ss;
		const uint8_t *a = s6->sin6_addr.s6_addr;

		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			procs_set_self(w->procs, a + 12, 4, ntohs(s6->sin6_port));
		else
			procs_set_self(w->procs, a, 6, ntohs(s6->sin6_port));
	}
	/* A Unix socket is not captured: nothing to leave out. */
}

static int connect_server(struct watcher *w)
{
	unsigned t = w->cfg.timeout_s;
	int tcp = w->cfg.host && w->cfg.host[0];
	unsigned proto = tcp ? MYSQL_PROTOCOL_TCP : MYSQL_PROTOCOL_SOCKET;
	my_bool no = 0;

	w->m = mysql_init(NULL);
	if (!w->m) {
		bump(&w->connect_errors);
		log_failure(w, LOG_CONNECT, "connect");
		return -ENOMEM;
	}
	/* Bounded waits: a server that hangs costs the watcher a timeout, never capture. */
	mysql_options(w->m, MYSQL_OPT_CONNECT_TIMEOUT, &t);
	mysql_options(w->m, MYSQL_OPT_READ_TIMEOUT, &t);
	mysql_options(w->m, MYSQL_OPT_WRITE_TIMEOUT, &t);
	mysql_options(w->m, MYSQL_OPT_PROTOCOL, &proto);
	mysql_options(w->m, MYSQL_OPT_RECONNECT, &no);
	if (!mysql_real_connect(w->m, tcp ? w->cfg.host : NULL, w->cfg.user, w->cfg.password, NULL,
				tcp ? w->cfg.port : 0, tcp ? NULL : w->cfg.socket, 0)) {
		bump(&w->connect_errors);
		log_failure(w, LOG_CONNECT, "connect");
		mysql_close(w->m);
		w->m = NULL;
		return -ECONNREFUSED;
	}
	atomic_store(&w->connected, 1);
	publish_self(w);
	w->logged_ms[LOG_CONNECT] = 0; /* the next failure is news again */
	pr_info("watcher: connected as '%s' (connection id %lu)\n", w->cfg.user,
		mysql_thread_id(w->m));
	return 0;
}

/* Resolves a host name PROCESSLIST shows (the server resolves client addresses unless it
 * runs with skip-name-resolve); cache holds this read's answers. */
static const struct name_addrs *resolve(struct name_addrs *cache, int *ncache, const char *name)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL, *ai;
	struct name_addrs *na;

	for (int i = 0; i < *ncache; i++)
		if (!strcmp(cache[i].name, name))
			return &cache[i];
	if (*ncache == NAME_CACHE || strlen(name) >= sizeof(cache[0].name))
		return NULL;
	na = &cache[(*ncache)++];
	snprintf(na->name, sizeof(na->name), "%s", name);
	na->n = 0;
	if (getaddrinfo(name, NULL, &hints, &res))
		return na;
	for (ai = res; ai && na->n < NAME_ADDRS; ai = ai->ai_next) {
		memset(na->addr[na->n], 0, 16);
		if (ai->ai_family == AF_INET) {
			memcpy(na->addr[na->n], &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
			na->family[na->n++] = 4;
		} else if (ai->ai_family == AF_INET6) {
			memcpy(na->addr[na->n], &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, 16);
			na->family[na->n++] = 6;
		}
	}
	freeaddrinfo(res);
	return na;
}

/* The decimal port in [s, end), or 0. */
static uint16_t port_of(const char *s, const char *end)
{
	unsigned long v = 0;

	if (s == end || end - s > 5)
		return 0;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	return v <= 65535 ? (uint16_t)v : 0;
}

static int rows_push(struct watcher *w, size_t *n, const struct proc_entry *e)
{
	if (*n == w->rows_cap) {
		size_t cap = w->rows_cap ? 2 * w->rows_cap : 256;
		struct proc_entry *v = realloc(w->rows, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		w->rows = v;
		w->rows_cap = cap;
	}
	w->rows[(*n)++] = *e;
	return 0;
}

/* One PROCESSLIST row into entries (several when a host name resolves to several
 * addresses). Rows without a client address (Unix socket, system threads) are skipped. */
static int add_row(struct watcher *w, size_t *n, MYSQL_ROW row, unsigned long *len,
		   struct name_addrs *cache, int *ncache)
{
	struct proc_entry e = { 0 };
	const struct name_addrs *na;
	const char *colon;
	char name[256];

	if (!row[0] || !row[2] || !len[2])
		return 0;
	e.id = strtoull(row[0], NULL, 10);
	e.user_len = (uint16_t)(row[1] ? (len[1] < PROCS_USER_MAX ? len[1] : PROCS_USER_MAX) : 0);
	if (e.user_len)
		memcpy(e.user, row[1], e.user_len);
	e.db_null = !row[3];
	e.db_len = (uint16_t)(row[3] ? (len[3] < PROCS_DB_MAX ? len[3] : PROCS_DB_MAX) : 0);
	if (e.db_len)
		memcpy(e.db, row[3], e.db_len);
	if (!procs_parse_host(row[2], len[2], &e))
		return rows_push(w, n, &e);
	colon = memrchr(row[2], ':', len[2]);
	if (!colon || (size_t)(colon - row[2]) >= sizeof(name))
		return 0;
	memcpy(name, row[2], (size_t)(colon - row[2]));
	name[colon - row[2]] = '\0';
	na = resolve(cache, ncache, name);
	e.port = port_of(colon + 1, row[2] + len[2]);
	for (int i = 0; e.port && na && i < na->n; i++) {
		e.family = na->family[i];
		memcpy(e.addr, na->addr[i], 16);
		if (rows_push(w, n, &e))
			return -ENOMEM;
	}
	return 0;
}

static int check_privilege(struct watcher *w)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	int has = 0;

	if (mysql_real_query(w->m, PRIVILEGE_SQL, sizeof(PRIVILEGE_SQL) - 1) ||
	    !(res = mysql_store_result(w->m)))
		return -EIO;
	row = mysql_fetch_row(res);
	has = row && row[0] && strtoull(row[0], NULL, 10) > 0;
	mysql_free_result(res);
	if (!has) {
		uint64_t t = mono_ms();

		bump(&w->privilege_errors);
		if (!w->logged_ms[LOG_PRIVILEGE] || t - w->logged_ms[LOG_PRIVILEGE] >= LOG_EVERY_MS) {
			w->logged_ms[LOG_PRIVILEGE] = t;
			pr_warn("watcher: account '%s' lacks the PROCESS privilege: it sees only its "
				"own connections (GRANT PROCESS ON *.* TO it; logged once a minute)\n",
				w->cfg.user);
		}
	}
	return 0;
}

/* Reads PROCESSLIST and publishes it. Returns 0 or -errno (the connection is then dropped). */
static int poll_server(struct watcher *w)
{
	struct name_addrs *cache = calloc(NAME_CACHE, sizeof(*cache));
	uint64_t taken_ns;
	struct timespec ts;
	MYSQL_RES *res = NULL;
	MYSQL_ROW row;
	size_t n = 0;
	int ncache = 0, err = 0;

	if (!cache)
		return -ENOMEM;
	if (check_privilege(w)) {
		err = -EIO;
		goto cleanup;
	}
	/* The snapshot is at least this recent: what the wire shows after it is newer. */
	clock_gettime(CLOCK_REALTIME, &ts);
	taken_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	if (mysql_real_query(w->m, PROCESSLIST_SQL, sizeof(PROCESSLIST_SQL) - 1) ||
	    !(res = mysql_store_result(w->m))) {
		err = -EIO;
		goto cleanup;
	}
	while (!err && (row = mysql_fetch_row(res)))
		err = add_row(w, &n, row, mysql_fetch_lengths(res), cache, &ncache);
	err = err ?: procs_publish(w->procs, w->rows, n, taken_ns);
	if (!err) {
		atomic_store(&w->connections, n);
		bump(&w->polls);
		w->logged_ms[LOG_POLL] = 0;
	}
cleanup:
	if (res)
		mysql_free_result(res);
	free(cache);
	return err;
}

static void *watcher_main(void *arg)
{
	struct watcher *w = arg;
	uint64_t next = 0; /* the first poll at once, unless already stopped */

	mysql_thread_init();
	while (!ticker_wait_until_or_stop(&w->tick, next)) {
		if (w->m || !connect_server(w)) {
			if (poll_server(w)) {
				bump(&w->poll_errors);
				log_failure(w, LOG_POLL, "read PROCESSLIST");
				disconnect(w);
			}
		}
		next = mono_ms() + (uint64_t)w->cfg.interval_s * 1000;
	}
	disconnect(w);
	mysql_thread_end();
	return NULL;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void free_cfg(struct watcher_config *c)
{
	free((char *)c->host);
	free((char *)c->socket);
	free((char *)c->user);
	if (c->password)
		explicit_bzero((char *)c->password, strlen(c->password));
	free((char *)c->password);
}

static pthread_once_t library_once = PTHREAD_ONCE_INIT;

/* libmariadb's global state, set up once before any thread uses it. */
static void library_init(void)
{
	mysql_library_init(0, NULL, NULL);
}

struct watcher *watcher_start(const struct watcher_config *cfg, struct procs *procs)
{
	struct watcher *w;
	int err;

	if (!cfg || !procs || !cfg->user || !cfg->interval_s || !cfg->timeout_s ||
	    (!(cfg->host && cfg->host[0]) && !(cfg->socket && cfg->socket[0]))) {
		errno = EINVAL;
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		errno = ENOMEM;
		return NULL;
	}
	w->procs = procs;
	w->cfg = *cfg;
	w->cfg.host = dup_or_null(cfg->host);
	w->cfg.socket = dup_or_null(cfg->socket);
	w->cfg.user = strdup(cfg->user);
	w->cfg.password = strdup(cfg->password ? cfg->password : "");
	if ((cfg->host && !w->cfg.host) || (cfg->socket && !w->cfg.socket) || !w->cfg.user ||
	    !w->cfg.password) {
		free_cfg(&w->cfg);
		free(w);
		errno = ENOMEM;
		return NULL;
	}
	pthread_once(&library_once, library_init);
	err = ticker_init(&w->tick);
	if (err) {
		free_cfg(&w->cfg);
		free(w);
		errno = -err;
		return NULL;
	}
	err = pthread_create(&w->thr, NULL, watcher_main, w);
	if (err) {
		ticker_destroy(&w->tick);
		free_cfg(&w->cfg);
		free(w);
		errno = err;
		return NULL;
	}
	return w;
}

void watcher_get_stats(const struct watcher *w, struct watcher_stats *out)
{
	out->polls = atomic_load(&w->polls);
	out->poll_errors = atomic_load(&w->poll_errors);
	out->connect_errors = atomic_load(&w->connect_errors);
	out->privilege_errors = atomic_load(&w->privilege_errors);
	out->connections = atomic_load(&w->connections);
	out->connected = atomic_load(&w->connected);
}

void watcher_stop(struct watcher *w)
{
	if (!w)
		return;
	ticker_stop(&w->tick);
	pthread_join(w->thr, NULL);
	ticker_destroy(&w->tick);
	free(w->rows);
	free_cfg(&w->cfg);
	free(w);
}
