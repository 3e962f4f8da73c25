// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* `mysqlprobe top [URL]`: any node's /collector in a terminal, refreshed with every report. */
#include <curses.h>
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster/addr.h"
#include "cluster/puller.h"
#include "lib/log.h"
#include "net/ws_client.h"
#include "top/top.h"
#include "top/top_model.h"
#include "top/top_ui.h"

#define TOP_DEFAULT_URL "ws://127.0.0.1:8667/collector"
/* How long the first connection may take before top gives up and says why. */
#define TOP_CONNECT_WAIT_S 10
#define TOP_TICK_MS 200
#define TOP_TOKEN_MAX 1024

/* Shared between the link's thread (callbacks) and the screen's (main). */
struct top {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct top_model *m;
	struct agg *rows; /* one message's rows, for top_model_add (the report thread's) */
	uint64_t last_seq;
	uint64_t last_started; /* started_ms of the node run last_seq belongs to */
	bool have_seq;
	int state; /* 0 no answer yet, 1 up, -1 down */
	int http_status;
	char why[200];
	char note[256];
	bool dirty;
};

static bool on_since(void *ctx, const char *addr, uint64_t *seq, uint64_t *started_ms)
{
	struct top *t = ctx;

	/* From 0 at first: the node's kept reports fill the window at once. */
	pthread_mutex_lock(&t->lock);
	*seq = t->have_seq ? t->last_seq : 0;
	*started_ms = t->have_seq ? t->last_started : 0;
	pthread_mutex_unlock(&t->lock);
	return true;
}

static void on_report(void *ctx, const char *addr, const struct report_msg *msg)
{
	const struct report_header *h = &msg->h;
	struct top *t = ctx;
	int err;

	agg_reset(t->rows);
	err = report_msg_merge(t->rows, msg, NULL, NULL);
	pthread_mutex_lock(&t->lock);
	if (err || top_model_add(t->m, h, &msg->c, t->rows))
		snprintf(t->note, sizeof(t->note), "out of memory keeping report %llu",
			 (unsigned long long)h->seq);
	t->last_seq = h->seq;
	t->last_started = h->started_ms;
	t->have_seq = true;
	t->dirty = true;
	pthread_mutex_unlock(&t->lock);
}

static void on_state(void *ctx, const char *addr, bool up, int http_status, const char *why)
{
	struct top *t = ctx;

	pthread_mutex_lock(&t->lock);
	t->state = up ? 1 : -1;
	t->http_status = http_status;
	if (up)
		t->note[0] = '\0';
	if (http_status == 401)
		snprintf(t->why, sizeof(t->why),
			 "the node refused the token (HTTP 401): give its http.token with "
			 "--token-file FILE or MYSQLPROBE_TOKEN");
	else if (http_status)
		snprintf(t->why, sizeof(t->why), "the node answered HTTP %d (%s)", http_status,
			 why ? why : "refused");
	else
		snprintf(t->why, sizeof(t->why), "%s (is a mysqlprobe agent listening there?)",
			 why && *why ? why : "connection failed");
	t->dirty = true;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

static void on_garbage(void *ctx, const char *addr, const char *why)
{
	struct top *t = ctx;

	pthread_mutex_lock(&t->lock);
	snprintf(t->note, sizeof(t->note), "a message from the node was not a report (%s)", why);
	t->dirty = true;
	pthread_mutex_unlock(&t->lock);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mysqlprobe top [--token-file FILE] [URL]\n"
		"Shows a node's reports in the terminal, refreshed every period: templates ranked\n"
		"by load (total latency / window) with count, rate, mean, p99, errors and rows.\n"
		"URL defaults to " TOP_DEFAULT_URL " (any slave or master).\n\n"
		"      --token-file FILE  the node's http.token (first line of FILE); or set\n"
		"                         MYSQLPROBE_TOKEN\n"
		"  -h, --help             this text\n\n"
		"Keys: l/c/p/e sort by load/count/p99/errors, / filter (text, db, user or client),\n"
		"Up/Down select, Enter detail (histogram, error codes, slow samples), Esc back, q quit.\n"
		"Exit status: 0 after q, 1 when the first connection fails, 2 on a usage error.\n");
}

/* ws://HOST:PORT[/collector]: top speaks plain websocket to /collector only. */
static int parse_url(const char *url, char host[ADDR_HOST_MAX], int *port)
{
	char hp[ADDR_HOST_MAX + 16];
	const char *rest, *why = NULL, *slash;
	size_t n;

	if (strncmp(url, "ws://", 5)) {
		fprintf(stderr, "mysqlprobe top: %s: the URL must start with ws://%s\n", url,
			strncmp(url, "wss://", 6) ? "" : " (TLS is not supported)");
		return -EINVAL;
	}
	rest = url + 5;
	slash = strchr(rest, '/');
	n = slash ? (size_t)(slash - rest) : strlen(rest);
	if (slash && strcmp(slash, "/collector") && strcmp(slash, "/")) {
		fprintf(stderr, "mysqlprobe top: %s: the path must be /collector\n", url);
		return -EINVAL;
	}
	if (n >= sizeof(hp)) {
		fprintf(stderr, "mysqlprobe top: %s: host too long\n", url);
		return -EINVAL;
	}
	memcpy(hp, rest, n);
	hp[n] = '\0';
	if (addr_parse(hp, host, port, &why)) {
		fprintf(stderr, "mysqlprobe top: %s: %s\n", url, why);
		return -EINVAL;
	}
	return 0;
}

static int read_token(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f) {
		fprintf(stderr, "mysqlprobe top: cannot read %s: %s\n", path, strerror(errno));
		return -errno;
	}
	if (!fgets(out, (int)len, f))
		out[0] = '\0';
	fclose(f);
	n = strcspn(out, "\r\n");
	out[n] = '\0';
	return 0;
}

/* Before the screen takes over: the first connection's outcome, so a failure reads plainly. */
static int wait_first(struct top *t, const char *url)
{
	struct timespec end;
	int state;

	clock_gettime(CLOCK_REALTIME, &end);
	end.tv_sec += TOP_CONNECT_WAIT_S;
	pthread_mutex_lock(&t->lock);
	while (!t->state && pthread_cond_timedwait(&t->cond, &t->lock, &end) != ETIMEDOUT)
		;
	state = t->state;
	if (state < 0)
		fprintf(stderr, "mysqlprobe top: cannot connect to %s: %s\n", url, t->why);
	else if (!state)
		fprintf(stderr, "mysqlprobe top: cannot connect to %s: no answer in %d s\n", url,
			TOP_CONNECT_WAIT_S);
	pthread_mutex_unlock(&t->lock);
	return state > 0 ? 0 : -ECONNREFUSED;
}

static void prompt_filter(struct top_ui *u)
{
	char buf[TOP_FILTER_MAX];

	move(LINES - 1, 0);
	clrtoeol();
	addstr("filter (empty = all): ");
	echo();
	curs_set(1);
	timeout(-1);
	if (getnstr(buf, sizeof(buf) - 1) == OK)
		snprintf(u->filter, sizeof(u->filter), "%s", buf);
	noecho();
	curs_set(0);
	timeout(TOP_TICK_MS);
	u->sel = 0;
}

/* One key; returns 1 to quit. */
static int handle_key(struct top_ui *u, int ch)
{
	switch (ch) {
	case 'q':
	case 'Q':
		return 1;
	case 'l':
		u->sort = TOP_SORT_LOAD;
		break;
	case 'c':
		u->sort = TOP_SORT_COUNT;
		break;
	case 'p':
		u->sort = TOP_SORT_P99;
		break;
	case 'e':
		u->sort = TOP_SORT_ERRORS;
		break;
	case '/':
		prompt_filter(u);
		break;
	case KEY_UP:
	case 'k':
		if (u->sel)
			u->sel--;
		break;
	case KEY_DOWN:
	case 'j':
		u->sel++;
		break;
	case '\n':
	case '\r':
	case KEY_ENTER:
		u->detail = true;
		break;
	case 27: /* Esc */
	case KEY_BACKSPACE:
	case KEY_LEFT:
		u->detail = false;
		break;
	default:
		break;
	}
	return 0;
}

/* After a rebuild the rows may have moved: keep the selected template selected. */
static void follow_selection(const struct top_model *m, struct top_ui *u)
{
	size_t i;

	for (i = 0; i < top_model_rows(m); i++) {
		const struct top_row *r = top_model_row(m, i);

		if (r->s->key.template_id == u->sel_id && r->s->key.command == u->sel_cmd) {
			u->sel = i;
			return;
		}
	}
}

static void screen_loop(struct top *t, struct top_ui *u)
{
	enum top_sort sort = u->sort;
	char filter[TOP_FILTER_MAX] = "";
	bool rebuild = true, follow = false;
	int ch = ERR;

	for (;;) {
		pthread_mutex_lock(&t->lock);
		if (t->dirty || rebuild) {
			top_model_view(t->m, u->sort, u->filter);
			if (follow)
				follow_selection(t->m, u);
		}
		u->link_up = t->state > 0;
		snprintf(u->link, sizeof(u->link), "%s", t->why);
		snprintf(u->note, sizeof(u->note), "%s", t->note);
		t->dirty = false;
		top_ui_draw(t->m, u);
		pthread_mutex_unlock(&t->lock);

		ch = getch();
		if (ch != ERR && handle_key(u, ch))
			return;
		/* A new sort or filter starts at the top; new reports keep the selection. */
		rebuild = u->sort != sort || strcmp(u->filter, filter);
		follow = !rebuild;
		sort = u->sort;
		snprintf(filter, sizeof(filter), "%s", u->filter);
		if (ch == KEY_RESIZE)
			clear();
	}
}

static void screen_start(void)
{
	initscr();
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	/* Esc alone must not wait a second for the rest of an escape sequence. */
	set_escdelay(25);
	timeout(TOP_TICK_MS);
}

int top_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "token-file", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct puller_callbacks cb = {
		.since = on_since, .report = on_report, .state = on_state, .garbage = on_garbage,
	};
	/* The puller's scratch report: one node's report holds at most its max_keys rows. */
	struct agg_config acfg = { .max_keys = 100000, .max_slow = 100,
				   .template_max_len = 1u << 20, .sql_max_len = 1u << 20 };
	struct top t = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	struct top_ui u = { .sort = TOP_SORT_LOAD };
	char host[ADDR_HOST_MAX], token[TOP_TOKEN_MAX] = "";
	const char *url = TOP_DEFAULT_URL, *env;
	struct puller_config pc = { .acfg = &acfg };
	struct ws_client *wc = NULL;
	struct puller *p = NULL;
	int c, port, rc = 1;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		if (c != 'T' || read_token(optarg, token, sizeof(token))) {
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		url = argv[optind++];
	if (optind < argc || parse_url(url, host, &port)) {
		usage(stderr);
		return 2;
	}
	env = getenv("MYSQLPROBE_TOKEN");
	if (!token[0] && env)
		snprintf(token, sizeof(token), "%s", env);
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "mysqlprobe top: needs a terminal (for reports as JSON, read "
				"/collector?format=json)\n");
		return 2;
	}
	setlocale(LC_ALL, "");
	t.m = top_model_new();
	t.rows = agg_new(&acfg);
	wc = t.m && t.rows ? ws_client_new() : NULL;
	pc.addr = url;
	pc.host = host;
	pc.port = port;
	pc.token = token[0] ? token : NULL;
	p = wc ? puller_new(wc, &pc, &cb, &t) : NULL;
	explicit_bzero(token, sizeof(token));
	if (!p) {
		fprintf(stderr, "mysqlprobe top: failed to start: %s\n", strerror(errno));
		goto cleanup;
	}
	if (wait_first(&t, url))
		goto cleanup;
	/* The screen is ours now: a library line on stderr would tear it. */
	log_level = -1;
	u.url = url;
	screen_start();
	screen_loop(&t, &u);
	endwin();
	rc = 0;
cleanup:
	puller_free(p);
	ws_client_free(wc);
	top_model_free(t.m);
	agg_free(t.rows);
	return rc;
}
