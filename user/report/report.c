// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A period's report as JSON (schema version 2, docs/REPORT.md), and reading one back. */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/jread.h"
#include "report/report.h"

static const struct {
	const char *name;
	size_t off;
} capture_fields[] = {
#define F(x) { #x, offsetof(struct report_capture, x) }
	F(packets), F(bytes),	     F(dropped),      F(gaps),		F(resyncs),
	F(tls_conns), F(decode_errors), F(unknown_stmt), F(keys_overflow), F(devices_detached),
	F(late), F(stalled_ms), F(unanswered),
#undef F
};
/* Fields from here on were added later: a report without them reads as 0. */
#define NCAPTURE_REQUIRED 12
#define NCAPTURE (sizeof(capture_fields) / sizeof(capture_fields[0]))

static uint64_t *capture_field(struct report_capture *c, size_t i)
{
	return (uint64_t *)((char *)c + capture_fields[i].off);
}

static void key_u64(struct jbuf *b, const char *k, uint64_t v)
{
	jbuf_key(b, k);
	jbuf_u64(b, v);
}

static void key_strn(struct jbuf *b, const char *k, const char *s, size_t n)
{
	jbuf_key(b, k);
	jbuf_strn(b, s, n);
}

/* Formats an address ("" when unknown); with a port, IPv6 is bracketed: "[::1]:3306". */
static void addr_format(char *out, size_t len, uint8_t family, const uint8_t *addr, int port)
{
	char ip[INET6_ADDRSTRLEN] = "";

	if (family == AF_INET || family == AF_INET6)
		inet_ntop(family, addr, ip, sizeof(ip));
	if (port < 0)
		snprintf(out, len, "%s", ip);
	else if (family == AF_INET6)
		snprintf(out, len, "[%s]:%d", ip, port);
	else
		snprintf(out, len, "%s:%d", ip, port);
}

static void write_capture(struct jbuf *b, const struct report_capture *c)
{
	struct report_capture copy = *c;
	size_t i;

	jbuf_key(b, "capture");
	jbuf_obj_open(b);
	for (i = 0; i < NCAPTURE; i++)
		key_u64(b, capture_fields[i].name, *capture_field(&copy, i));
	jbuf_obj_close(b);
}

const char *report_node_status_name(enum report_node_status s)
{
	return s == REPORT_NODE_MISSING ? "missing" : s == REPORT_NODE_LATE ? "late" : "ok";
}

void report_capture_add(struct report_capture *dst, const struct report_capture *src)
{
	struct report_capture copy = *src;

	for (size_t i = 0; i < NCAPTURE; i++)
		*capture_field(dst, i) += *capture_field(&copy, i);
}

/* A master's "nodes": {"host:port": {"status", "seq", "reports", "capture"}, ...}. */
static void write_nodes(struct jbuf *b, const struct report_header *h)
{
	if (!h->nnodes)
		return;
	jbuf_key(b, "nodes");
	jbuf_obj_open(b);
	for (size_t i = 0; i < h->nnodes; i++) {
		const struct report_node *n = &h->nodes[i];

		jbuf_key(b, n->name);
		jbuf_obj_open(b);
		jbuf_key(b, "status");
		jbuf_str(b, report_node_status_name(n->status));
		key_u64(b, "seq", n->seq);
		key_u64(b, "reports", n->reports);
		write_capture(b, &n->c);
		jbuf_obj_close(b);
	}
	jbuf_obj_close(b);
}

static void write_outputs(struct jbuf *b, const struct report_header *h)
{
	size_t i;

	jbuf_key(b, "outputs");
	jbuf_obj_open(b);
	for (i = 0; i < h->noutputs && i < REPORT_MAX_OUTPUTS; i++) {
		jbuf_key(b, h->outputs[i].kind);
		jbuf_obj_open(b);
		key_u64(b, "readers", h->outputs[i].readers);
		key_u64(b, "dropped", h->outputs[i].dropped);
		jbuf_obj_close(b);
	}
	jbuf_obj_close(b);
}

/* t_start, t_end (may be NULL): where the object's members start and end in b->out. */
static void write_templates(struct jbuf *b, const struct agg *a, struct template_seen *seen,
			    size_t *t_start, size_t *t_end)
{
	const char *text;
	char id_hex[17];
	uint64_t id;
	size_t i, len;

	jbuf_key(b, "templates");
	jbuf_obj_open(b);
	if (t_start)
		*t_start = b->out.len;
	for (i = 0; i < agg_template_count(a); i++) {
		if (agg_template_at(a, i, &id, &text, &len))
			continue;
		if (seen && template_seen_add(seen, id) == 0)
			continue; /* already sent to this client (-ENOMEM: send again) */
		snprintf(id_hex, sizeof(id_hex), "%016llx", (unsigned long long)id);
		key_strn(b, id_hex, text, len);
	}
	if (t_end)
		*t_end = b->out.len;
	jbuf_obj_close(b);
}

/* Codes in ascending order, then "other" (the codes above them), as the row keeps them. */
/* "error_codes": a row's bounded code table (agg.h), codes ascending, then "other". */
static void write_codes(struct jbuf *b, const uint16_t *codes, const uint64_t *counts,
			unsigned int n, uint64_t other)
{
	char code[8];
	unsigned int i;

	jbuf_key(b, "error_codes");
	jbuf_obj_open(b);
	for (i = 0; i < n; i++) {
		snprintf(code, sizeof(code), "%u", codes[i]);
		key_u64(b, code, counts[i]);
	}
	if (other)
		key_u64(b, "other", other);
	jbuf_obj_close(b);
}

static void write_error_codes(struct jbuf *b, const struct agg_stat *s)
{
	write_codes(b, s->err_code, s->err_count, s->err_n, s->err_other);
}

static void write_stat(struct jbuf *b, const struct agg_stat *s, unsigned int keys)
{
	char client[INET6_ADDRSTRLEN + 8];

	jbuf_obj_open(b);
	jbuf_key(b, "template_id");
	if (s->is_other)
		jbuf_str(b, "other");
	else
		jbuf_hex64(b, s->key.template_id);
	jbuf_key(b, "command");
	jbuf_str(b, agg_cmd_name(s->key.command));
	key_strn(b, "db", agg_key_db(&s->key), s->key.db_len);
	key_strn(b, "user", agg_key_user(&s->key), s->key.user_len);
	addr_format(client, sizeof(client), s->key.family, s->key.addr, -1);
	key_strn(b, "client", client, strlen(client));
	/* The optional dimensions only in reports keyed by them: a default report is unchanged. */
	if (keys & AGG_DIM_APP)
		key_strn(b, "app", agg_key_app(&s->key), s->key.app_len);
	if (keys & AGG_DIM_SERVER)
		key_strn(b, "server", agg_key_server(&s->key), s->key.server_len);
	key_u64(b, "count", s->count);
	key_u64(b, "errors", s->errors);
	write_error_codes(b, s);
	jbuf_key(b, "latency_us");
	hist_write_json(&s->lat, b);
	key_u64(b, "rows_sent", s->rows_sent);
	key_u64(b, "rows_affected", s->rows_affected);
	key_u64(b, "bytes_in", s->bytes_in);
	key_u64(b, "bytes_out", s->bytes_out);
	key_u64(b, "no_index_used", s->no_index_used);
	jbuf_obj_close(b);
}

void report_write_stat(struct jbuf *b, const struct agg_stat *s, unsigned int keys)
{
	write_stat(b, s, keys);
}

/* "keys": the row key's dimensions, when not the default set. */
static void write_keys(struct jbuf *b, unsigned int keys)
{
	if (!keys || keys == AGG_KEYS_DEFAULT)
		return;
	jbuf_key(b, "keys");
	jbuf_arr_open(b);
	for (unsigned int i = 0; i < AGG_DIM_COUNT; i++)
		if (keys & (1u << i))
			jbuf_str(b, agg_dim_name(i));
	jbuf_arr_close(b);
}

/* What a slow sample and a running statement share: the statement and who ran it. */
static void write_sample_statement(struct jbuf *b, const struct agg_slow *s)
{
	char client[INET6_ADDRSTRLEN + 8];

	key_strn(b, "sql", s->sql, s->sql_len);
	jbuf_key(b, "sql_truncated");
	jbuf_bool(b, s->sql_truncated);
	key_strn(b, "db", s->db, s->db_len);
	key_strn(b, "user", s->user, s->user_len);
	addr_format(client, sizeof(client), s->family, s->addr, s->port);
	key_strn(b, "client", client, strlen(client));
}

static void write_slow_one(struct jbuf *b, const struct agg_slow *s)
{
	jbuf_obj_open(b);
	key_u64(b, "ts_us", s->ts_us);
	key_u64(b, "latency_us", s->latency_us);
	jbuf_key(b, "template_id");
	jbuf_hex64(b, s->template_id);
	write_sample_statement(b, s);
	jbuf_key(b, "status");
	jbuf_str(b, s->status == AGG_STATUS_ERROR ? "error" : "ok");
	key_u64(b, "error_code", s->error_code);
	jbuf_obj_close(b);
}

static int slow_by_time(const void *x, const void *y)
{
	const struct agg_slow *a = *(const struct agg_slow *const *)x;
	const struct agg_slow *b = *(const struct agg_slow *const *)y;

	if (a->ts_us != b->ts_us)
		return a->ts_us < b->ts_us ? -1 : 1;
	return a->latency_us < b->latency_us ? 1 : a->latency_us > b->latency_us ? -1 : 0;
}

static void write_running_one(struct jbuf *b, const struct agg_slow *s)
{
	jbuf_obj_open(b);
	key_u64(b, "ts_us", s->ts_us);
	key_u64(b, "elapsed_us", s->latency_us);
	jbuf_key(b, "template_id");
	jbuf_hex64(b, s->template_id);
	key_strn(b, "template", s->tmpl, s->tmpl_len);
	write_sample_statement(b, s);
	jbuf_obj_close(b);
}

static void write_sessions(struct jbuf *b, const struct agg *a)
{
	const struct sess_table *t = agg_sessions_const(a);
	char client[INET6_ADDRSTRLEN + 8];

	jbuf_key(b, "connections");
	jbuf_arr_open(b);
	for (size_t i = 0; i < sess_count(t); i++) {
		const struct sess_row *r = sess_at(t, i);

		jbuf_obj_open(b);
		key_strn(b, "user", r->user, r->user_len);
		addr_format(client, sizeof(client), r->family, r->addr, -1);
		key_strn(b, "client", client, strlen(client));
		if (r->is_other) {
			jbuf_key(b, "other");
			jbuf_bool(b, true);
		}
		key_u64(b, "opened", r->opened);
		key_u64(b, "logins", r->logins);
		key_u64(b, "failed", r->failed);
		write_codes(b, r->err_code, r->err_count, r->err_n, r->err_other);
		key_u64(b, "closed", r->closed);
		jbuf_obj_close(b);
	}
	jbuf_arr_close(b);
}

/* Samples (slow or running) in time order (the aggregator keeps them in heap order). */
static int write_samples(struct jbuf *b, const char *key, size_t n,
			 const struct agg_slow *(*at)(const struct agg *, size_t), const struct agg *a,
			 void (*one)(struct jbuf *, const struct agg_slow *))
{
	const struct agg_slow **v = NULL;
	size_t i;

	if (n) {
		v = calloc(n, sizeof(*v));
		if (!v)
			return -ENOMEM;
		for (i = 0; i < n; i++)
			v[i] = at(a, i);
		qsort(v, n, sizeof(*v), slow_by_time);
	}
	jbuf_key(b, key);
	jbuf_arr_open(b);
	for (i = 0; i < n; i++)
		one(b, v[i]);
	jbuf_arr_close(b);
	free(v);
	return 0;
}

static int report_write_at(struct jbuf *b, const struct report_header *h,
			   const struct report_capture *c, const struct agg *a,
			   struct template_seen *seen, size_t *t_start, size_t *t_end)
{
	size_t i;
	int err;

	jbuf_obj_open(b);
	key_u64(b, "version", REPORT_VERSION);
	jbuf_key(b, "node");
	jbuf_str(b, h->node);
	jbuf_key(b, "role");
	jbuf_str(b, h->role);
	key_u64(b, "seq", h->seq);
	key_u64(b, "term", h->term);
	key_u64(b, "period_start_ms", h->period_start_ms);
	key_u64(b, "period_end_ms", h->period_end_ms);
	if (h->started_ms)
		key_u64(b, "started_ms", h->started_ms);
	if (h->late) {
		jbuf_key(b, "late");
		jbuf_bool(b, true);
	}
	write_capture(b, c);
	write_nodes(b, h);
	write_outputs(b, h);
	key_u64(b, "slow_dropped", agg_slow_dropped(a));
	write_keys(b, agg_keys(a));
	write_templates(b, a, seen, t_start, t_end);
	jbuf_key(b, "stats");
	jbuf_arr_open(b);
	for (i = 0; i < agg_stat_count(a); i++)
		write_stat(b, agg_stat_at(a, i), agg_keys(a));
	for (i = 0; i < AGG_CMD_COUNT; i++)
		if (agg_other(a, i))
			write_stat(b, agg_other(a, i), agg_keys(a));
	jbuf_arr_close(b);
	err = write_samples(b, "slow", agg_slow_count(a), agg_slow_at, a, write_slow_one);
	if (agg_running_dropped(a))
		key_u64(b, "running_dropped", agg_running_dropped(a));
	err = err ?: write_samples(b, "running", agg_running_count(a), agg_running_at, a,
				   write_running_one);
	write_sessions(b, a);
	jbuf_obj_close(b);
	if (!err)
		err = jbuf_error(b);
	if (err && seen)
		template_seen_clear(seen);
	return err;
}

int report_write(struct jbuf *b, const struct report_header *h, const struct report_capture *c,
		 const struct agg *a, struct template_seen *seen)
{
	return report_write_at(b, h, c, a, seen, NULL, NULL);
}

int report_write_split(struct jbuf *b, const struct report_header *h,
		       const struct report_capture *c, const struct agg *a, size_t *t_start,
		       size_t *t_end)
{
	return report_write_at(b, h, c, a, NULL, t_start, t_end);
}

int report_write_templates(struct jbuf *b, const struct agg *a, const struct template_seen *skip)
{
	const char *text;
	char id_hex[17];
	uint64_t id;
	size_t i, len;

	jbuf_obj_open(b);
	for (i = 0; i < agg_template_count(a); i++) {
		if (agg_template_at(a, i, &id, &text, &len) ||
		    (skip && template_seen_has(skip, id)))
			continue;
		snprintf(id_hex, sizeof(id_hex), "%016llx", (unsigned long long)id);
		key_strn(b, id_hex, text, len);
	}
	jbuf_obj_close(b);
	return jbuf_error(b);
}

/* --- reading a report back (a master merging slaves' reports) --- */

static int parse_hex64(jnode_t *n, uint64_t *v)
{
	size_t len;
	const char *s = jread_str(n, &len);
	char *end;

	if (!s || len != 16)
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &end, 16);
	return errno || end != s + 16 ? -EINVAL : 0;
}

/* Copies a string node into a name field, cut at AGG_NAME_MAX like agg_add does. */
static int parse_name(jnode_t *n, char *out, uint16_t *out_len)
{
	size_t len;
	const char *s = jread_str(n, &len);

	if (!s)
		return -EINVAL;
	*out_len = (uint16_t)(len < AGG_NAME_MAX ? len : AGG_NAME_MAX);
	memcpy(out, s, *out_len);
	return 0;
}

/* Parses "ip" (port == NULL) or "ip:port" / "[ip6]:port"; "" is the unknown address. */
static int parse_addr(jnode_t *n, uint8_t *family, uint8_t *addr, uint16_t *port)
{
	char buf[INET6_ADDRSTRLEN + 8], *ip = buf, *colon;
	const char *s = jread_str(n, NULL);
	unsigned long p;

	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	memset(addr, 0, 16);
	*family = 0;
	if (port) {
		colon = strrchr(buf, ':');
		if (!colon)
			return -EINVAL;
		*colon = '\0';
		p = strtoul(colon + 1, NULL, 10);
		if (p > 65535)
			return -EINVAL;
		*port = (uint16_t)p;
		if (*ip == '[' && colon > ip + 1 && colon[-1] == ']') {
			ip++;
			colon[-1] = '\0';
		}
	}
	if (!*ip)
		return 0;
	if (inet_pton(AF_INET, ip, addr) == 1)
		*family = AF_INET;
	else if (inet_pton(AF_INET6, ip, addr) == 1)
		*family = AF_INET6;
	else
		return -EINVAL;
	return 0;
}

/* An error code key: "1146" (a JSON string, so not a number node). */
static int parse_code(const char *s, uint64_t *code)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*code = strtoull(s, &end, 10);
	return errno || *end || *code > UINT16_MAX ? -EINVAL : 0;
}

/*
 * Reads "error_codes" into a row whose errors is already set. The codes must account for
 * every error, and "other" may only stand for codes above a full table: anything else would
 * let a merge count a code both by name and in "other".
 */
/* Reads "error_codes" into a bounded code table; the counts must add up to errors. */
static int parse_codes(struct jread *r, jnode_t *obj, uint16_t *codes, uint64_t *counts,
		       uint8_t *n, uint64_t *other_out, unsigned int max, uint64_t errors)
{
	uint64_t code, count, sum = 0, other = 0;
	bool has_other = false;
	jnode_t *v;
	const char *name;
	size_t i;

	if (!jread_is_obj(obj))
		return -EINVAL;
	for (i = 0; i < jread_obj_len(obj); i++) {
		if (jread_pair(r, obj, i, &name, NULL, &v) || jread_u64(v, &count) || !count)
			return -EINVAL;
		if (strcmp(name, "other") == 0) {
			if (has_other)
				return -EINVAL;
			has_other = true;
			other = count;
		} else if (parse_code(name, &code)) {
			return -EINVAL;
		} else {
			codes_add(codes, counts, n, other_out, max, (uint16_t)code, count);
		}
		if (__builtin_add_overflow(sum, count, &sum))
			return -EINVAL;
	}
	if (sum != errors || (has_other && *n < max))
		return -EINVAL;
	*other_out += other;
	return 0;
}

static int parse_error_codes(struct jread *r, jnode_t *obj, struct agg_stat *s)
{
	return parse_codes(r, obj, s->err_code, s->err_count, &s->err_n, &s->err_other,
			   AGG_ERR_CODES, s->errors);
}

static const struct {
	const char *name;
	size_t off;
} stat_counters[] = {
#define F(x) { #x, offsetof(struct agg_stat, x) }
	F(count), F(errors), F(rows_sent), F(rows_affected), F(bytes_in), F(bytes_out),
	F(no_index_used),
#undef F
};

static int parse_stat(struct agg *a, struct jread *r, jnode_t *n, jnode_t *templates,
		      struct hist_pool *pool)
{
	const char *id, *text = NULL, *db, *user, *cmd, *app = NULL, *server = NULL;
	enum agg_cmd command;
	struct agg_stat *s;
	size_t i, len = 0, db_len, user_len, app_len = 0, server_len = 0;
	int err = -EINVAL;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	id = jread_str(jread_get(r, n, "template_id"), NULL);
	if (!id)
		goto cleanup;
	if (strcmp(id, "other") == 0)
		s->is_other = true;
	else if (parse_hex64(jread_get(r, n, "template_id"), &s->key.template_id))
		goto cleanup;
	cmd = jread_str(jread_get(r, n, "command"), NULL);
	db = jread_str(jread_get(r, n, "db"), &db_len);
	user = jread_str(jread_get(r, n, "user"), &user_len);
	if (!cmd || agg_cmd_parse(cmd, &command) || !db || !user)
		goto cleanup;
	s->key.command = (uint8_t)command;
	/* app and server are optional (report.keys); when present they are strings. */
	if (jread_get(r, n, "app") && !(app = jread_str(jread_get(r, n, "app"), &app_len)))
		goto cleanup;
	if (jread_get(r, n, "server") &&
	    !(server = jread_str(jread_get(r, n, "server"), &server_len)))
		goto cleanup;
	agg_key_set_names(&s->key, db, db_len, user, user_len);
	agg_key_set_dims(&s->key, app, app_len, server, server_len);
	if (parse_addr(jread_get(r, n, "client"), &s->key.family, s->key.addr, NULL))
		goto cleanup;
	for (i = 0; i < sizeof(stat_counters) / sizeof(stat_counters[0]); i++)
		if (jread_u64(jread_get(r, n, stat_counters[i].name),
			      (uint64_t *)((char *)s + stat_counters[i].off)))
			goto cleanup;
	if (parse_error_codes(r, jread_get(r, n, "error_codes"), s))
		goto cleanup;
	err = hist_parse_node(&s->lat, pool, r, jread_get(r, n, "latency_us"));
	if (err)
		goto cleanup;
	if (!s->is_other)
		text = jread_str(jread_get(r, templates, id), &len);
	err = agg_merge_stat(a, s, text, len);
cleanup:
	hist_reset(&s->lat, pool);
	free(s);
	return err;
}

static int parse_slow(struct agg *a, struct jread *r, jnode_t *n)
{
	struct agg_slow s = { 0 };
	uint64_t code;
	const char *status;
	size_t len;

	s.sql = (char *)jread_str(jread_get(r, n, "sql"), &len);
	status = jread_str(jread_get(r, n, "status"), NULL);
	if (!s.sql || len > UINT32_MAX || !status ||
	    jread_u64(jread_get(r, n, "ts_us"), &s.ts_us) ||
	    jread_u64(jread_get(r, n, "latency_us"), &s.latency_us) ||
	    jread_u64(jread_get(r, n, "error_code"), &code) || code > UINT16_MAX ||
	    parse_hex64(jread_get(r, n, "template_id"), &s.template_id) ||
	    parse_name(jread_get(r, n, "db"), s.db, &s.db_len) ||
	    parse_name(jread_get(r, n, "user"), s.user, &s.user_len) ||
	    parse_addr(jread_get(r, n, "client"), &s.family, s.addr, &s.port))
		return -EINVAL;
	s.sql_len = (uint32_t)len;
	s.error_code = (uint16_t)code;
	s.status = strcmp(status, "error") == 0 ? AGG_STATUS_ERROR : AGG_STATUS_OK;
	return agg_merge_slow(a, &s);
}

static int parse_bool(jnode_t *n, int *v);

static int parse_session(struct agg *a, struct jread *r, jnode_t *n)
{
	struct sess_row row = { 0 };
	jnode_t *o = jread_get(r, n, "other");
	const char *user;
	size_t len;
	int other = 0;

	user = jread_str(jread_get(r, n, "user"), &len);
	if (!user || len > SESS_USER_MAX || (o && parse_bool(o, &other)) ||
	    jread_u64(jread_get(r, n, "opened"), &row.opened) ||
	    jread_u64(jread_get(r, n, "logins"), &row.logins) ||
	    jread_u64(jread_get(r, n, "failed"), &row.failed) ||
	    jread_u64(jread_get(r, n, "closed"), &row.closed) ||
	    parse_addr(jread_get(r, n, "client"), &row.family, row.addr, NULL) ||
	    parse_codes(r, jread_get(r, n, "error_codes"), row.err_code, row.err_count, &row.err_n,
			&row.err_other, SESS_ERR_CODES, row.failed))
		return -EINVAL;
	row.is_other = other;
	row.user_len = (uint16_t)len;
	memcpy(row.user, user, len);
	return sess_merge_row(agg_sessions(a), &row);
}

static int parse_running(struct agg *a, struct jread *r, jnode_t *n)
{
	struct agg_slow s = { 0 };
	int cut = 0;
	size_t len, tlen;

	s.sql = (char *)jread_str(jread_get(r, n, "sql"), &len);
	s.tmpl = (char *)jread_str(jread_get(r, n, "template"), &tlen);
	if (!s.sql || len > UINT32_MAX || !s.tmpl || tlen > UINT32_MAX ||
	    jread_u64(jread_get(r, n, "ts_us"), &s.ts_us) ||
	    jread_u64(jread_get(r, n, "elapsed_us"), &s.latency_us) ||
	    parse_hex64(jread_get(r, n, "template_id"), &s.template_id) ||
	    parse_bool(jread_get(r, n, "sql_truncated"), &cut) ||
	    parse_name(jread_get(r, n, "db"), s.db, &s.db_len) ||
	    parse_name(jread_get(r, n, "user"), s.user, &s.user_len) ||
	    parse_addr(jread_get(r, n, "client"), &s.family, s.addr, &s.port))
		return -EINVAL;
	s.sql_len = (uint32_t)len;
	s.tmpl_len = (uint32_t)tlen;
	s.sql_truncated = cut;
	return agg_merge_running(a, &s);
}

/* "outputs" is optional: a report of a node without outputs may leave it out. */
static int parse_outputs(struct jread *r, jnode_t *obj, struct report_header *h)
{
	jnode_t *v;
	const char *kind;
	size_t i, len;

	h->noutputs = 0;
	if (!obj)
		return 0;
	if (!jread_is_obj(obj) || jread_obj_len(obj) > REPORT_MAX_OUTPUTS)
		return -EINVAL;
	for (i = 0; i < jread_obj_len(obj); i++) {
		struct report_output *o = &h->outputs[i];

		memset(o, 0, sizeof(*o));
		if (jread_pair(r, obj, i, &kind, &len, &v))
			return -EINVAL;
		if (len >= sizeof(o->kind) ||
		    jread_u64(jread_get(r, v, "readers"), &o->readers) ||
		    jread_u64(jread_get(r, v, "dropped"), &o->dropped))
			return -EINVAL;
		memcpy(o->kind, kind, len);
		o->kind[len] = '\0';
		h->noutputs++;
	}
	return 0;
}

static int parse_bool(jnode_t *n, int *v)
{
	return jread_bool(n, v);
}

static int parse_header(struct jread *r, jnode_t *root, struct report_header *h,
			struct report_capture *c)
{
	jnode_t *cap = jread_get(r, root, "capture");
	const char *node, *role;
	size_t i;

	node = jread_str(jread_get(r, root, "node"), NULL);
	role = jread_str(jread_get(r, root, "role"), NULL);
	if (jread_u64(jread_get(r, root, "version"), &h->version) || h->version != REPORT_VERSION ||
	    !node || !role || jread_u64(jread_get(r, root, "seq"), &h->seq) ||
	    jread_u64(jread_get(r, root, "term"), &h->term) ||
	    parse_outputs(r, jread_get(r, root, "outputs"), h) ||
	    jread_u64(jread_get(r, root, "period_start_ms"), &h->period_start_ms) ||
	    jread_u64(jread_get(r, root, "period_end_ms"), &h->period_end_ms) ||
	    h->period_end_ms < h->period_start_ms) /* a period that ends before it starts */
		return -EINVAL;
	snprintf(h->node, sizeof(h->node), "%s", node);
	snprintf(h->role, sizeof(h->role), "%s", role);
	/* Optional: started_ms and late (a master's); nodes are not read back. */
	h->started_ms = 0;
	h->late = 0;
	h->nnodes = 0;
	h->nodes = NULL;
	if (jread_get(r, root, "started_ms") &&
	    jread_u64(jread_get(r, root, "started_ms"), &h->started_ms))
		return -EINVAL;
	h->lost = 0;
	if (jread_get(r, root, "lost") && jread_u64(jread_get(r, root, "lost"), &h->lost))
		return -EINVAL;
	if (jread_get(r, root, "late") && parse_bool(jread_get(r, root, "late"), &h->late))
		return -EINVAL;
	for (i = 0; i < NCAPTURE; i++)
		if (i >= NCAPTURE_REQUIRED && !jread_get(r, cap, capture_fields[i].name))
			*capture_field(c, i) = 0;
		else if (jread_u64(jread_get(r, cap, capture_fields[i].name), capture_field(c, i)))
			return -EINVAL;
	return 0;
}

/* "keys" (optional: absent is the default set) into a's keys, ORed with what a has. */
static int parse_keys(struct agg *a, struct jread *r, jnode_t *keys)
{
	unsigned int k = 0, bit;
	const char *name;

	if (!keys) {
		agg_set_keys(a, agg_keys(a) | AGG_KEYS_DEFAULT);
		return 0;
	}
	if (!jread_is_arr(keys))
		return -EINVAL;
	for (size_t i = 0; i < jread_len(keys); i++) {
		name = jread_str(jread_at(r, keys, i), NULL);
		bit = name ? agg_dim_parse(name) : 0;
		if (!bit)
			return -EINVAL;
		k |= bit;
	}
	agg_set_keys(a, agg_keys(a) | k);
	return 0;
}

int report_parse(struct agg *a, struct report_header *h, struct report_capture *c,
		 const char *json, size_t len)
{
	struct hist_pool pool = { 0 };
	struct report_header hdr;
	struct report_capture cap;
	jnode_t *root, *templates, *stats, *slow, *running, *sessions;
	struct jread r;
	size_t i;
	int err;

	err = jread_load(&r, json, len);
	if (err)
		goto cleanup;
	root = jread_root(&r);
	templates = jread_get(&r, root, "templates");
	stats = jread_get(&r, root, "stats");
	slow = jread_get(&r, root, "slow");
	err = parse_header(&r, root, h ? h : &hdr, c ? c : &cap);
	if (!err && (!jread_is_arr(stats) || !jread_is_arr(slow)))
		err = -EINVAL;
	for (i = 0; !err && i < jread_len(stats); i++) {
		size_t mark = jread_mark(&r);

		err = parse_stat(a, &r, jread_at(&r, stats, i), templates, &pool);
		jread_release(&r, mark); /* a row's nodes: thousands of rows per report */
	}
	for (i = 0; !err && i < jread_len(slow); i++)
		err = parse_slow(a, &r, jread_at(&r, slow, i));
	/* "connections", "running" and "running_dropped" are optional (added within version 2). */
	sessions = jread_get(&r, root, "connections");
	if (!err && sessions && !jread_is_arr(sessions))
		err = -EINVAL;
	for (i = 0; !err && sessions && i < jread_len(sessions); i++)
		err = parse_session(a, &r, jread_at(&r, sessions, i));
	running = jread_get(&r, root, "running");
	if (!err && running && !jread_is_arr(running))
		err = -EINVAL;
	for (i = 0; !err && running && i < jread_len(running); i++)
		err = parse_running(a, &r, jread_at(&r, running, i));
	if (!err && jread_get(&r, root, "running_dropped")) {
		uint64_t n;

		err = jread_u64(jread_get(&r, root, "running_dropped"), &n);
		if (!err)
			agg_add_running_dropped(a, n);
	}
	/* "keys" is optional (report.keys; absent: the default set). */
	if (!err)
		err = parse_keys(a, &r, jread_get(&r, root, "keys"));
	if (!err && jread_get(&r, root, "slow_dropped")) {
		uint64_t n;

		err = jread_u64(jread_get(&r, root, "slow_dropped"), &n);
		if (!err)
			agg_add_slow_dropped(a, n);
	}
cleanup:
	jread_free(&r);
	hist_pool_drain(&pool);
	return err;
}
