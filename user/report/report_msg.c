// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A report read back from another node, held as read until it is merged. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "lib/jpull.h"
#include "report/report_msg.h"

/* Buffers above this are given back before the next message instead of kept. */
#define MSG_KEEP_BYTES (4u << 20)

struct report_msg_row {
	uint64_t template_id;
	uint8_t addr[16];
	uint8_t family;
	uint8_t command;
	bool is_other;
	bool lat_summary;
	uint8_t err_n;
	uint8_t app_len;
	uint16_t db_len, user_len, server_len;
	uint32_t names; /* into strs */
	uint32_t codes; /* into codes / code_counts */
	uint32_t cells, ncells;
	uint64_t count, errors, rows_sent, rows_affected, bytes_in, bytes_out, no_index_used;
	uint64_t err_other, lat_sum, lat_min, lat_max;
};

struct report_msg_tmpl {
	uint64_t id;
	uint32_t off, len; /* into strs */
};

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap ? *cap : 64;
	void *q;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	q = realloc(*p, c * size);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = c;
	return 0;
}

/* Copies bytes into strs; *off receives where. Returns 0 or -ENOMEM (-EINVAL past 4 GiB). */
static int strs_put(struct report_msg *m, const char *s, size_t len, uint32_t *off)
{
	if (m->strs_len + len > UINT32_MAX)
		return -EINVAL;
	if (grow((void **)&m->strs, &m->strs_cap, m->strs_len + len + 1, 1))
		return -ENOMEM;
	*off = (uint32_t)m->strs_len;
	if (len)
		memcpy(m->strs + m->strs_len, s, len);
	m->strs_len += len;
	return 0;
}

int report_msg_init(struct report_msg *m, const struct agg_config *acfg)
{
	memset(m, 0, sizeof(*m));
	m->template_max_len = acfg->template_max_len;
	m->rest = agg_new(acfg);
	return m->rest ? 0 : -ENOMEM;
}

void report_msg_free(struct report_msg *m)
{
	agg_free(m->rest);
	free(m->rows);
	free(m->cells);
	free(m->codes);
	free(m->code_counts);
	free(m->strs);
	free(m->tmpls);
	free(m->tindex);
	memset(m, 0, sizeof(*m));
}

/* Empties the message; a big one's buffers go back to the system. */
static void msg_clear(struct report_msg *m)
{
	size_t bytes = m->rows_cap * sizeof(*m->rows) + m->cells_cap * sizeof(*m->cells) +
		       m->codes_cap * (sizeof(*m->codes) + sizeof(*m->code_counts)) + m->strs_cap +
		       m->tmpls_cap * sizeof(*m->tmpls) + (m->tmask + 1) * sizeof(*m->tindex);

	if (bytes > MSG_KEEP_BYTES) {
		struct agg *rest = m->rest;
		uint32_t tml = m->template_max_len;

		m->rest = NULL;
		report_msg_free(m);
		m->rest = rest;
		m->template_max_len = tml;
	}
	m->nrows = m->ncells = m->ncodes = m->strs_len = m->ntmpls = 0;
	if (m->tindex)
		memset(m->tindex, 0, (m->tmask + 1) * sizeof(*m->tindex));
	agg_reset(m->rest);
	memset(&m->h, 0, sizeof(m->h));
	memset(&m->c, 0, sizeof(m->c));
}

/* --- values --- */

/* 16 hex digits, nothing else. */
static int hex64(const char *s, size_t len, uint64_t *v)
{
	uint64_t x = 0;

	if (len != 16)
		return -EINVAL;
	for (size_t i = 0; i < 16; i++) {
		char c = s[i];
		unsigned int d;

		if (c >= '0' && c <= '9')
			d = (unsigned int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned int)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned int)(c - 'A' + 10);
		else
			return -EINVAL;
		x = x << 4 | d;
	}
	*v = x;
	return 0;
}

static int pull_hex64(struct jpull *p, uint64_t *v)
{
	const char *s;
	size_t len;

	return jpull_str(p, &s, &len) || hex64(s, len, v) ? -EINVAL : 0;
}

/* Parses "ip" (port == NULL) or "ip:port" / "[ip6]:port"; "" is the unknown address. */
static int parse_addr(const char *s, size_t len, uint8_t *family, uint8_t *addr, uint16_t *port)
{
	char buf[INET6_ADDRSTRLEN + 8], *ip = buf, *colon;
	unsigned long p;

	if (len >= sizeof(buf) || memchr(s, '\0', len))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
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

static int pull_addr(struct jpull *p, uint8_t *family, uint8_t *addr, uint16_t *port)
{
	const char *s;
	size_t len;

	return jpull_str(p, &s, &len) || parse_addr(s, len, family, addr, port) ? -EINVAL : 0;
}

/* A name cut at max bytes, as agg_add cuts it. */
static int pull_name(struct jpull *p, const char **s, size_t *len, size_t max)
{
	if (jpull_str(p, s, len))
		return -EINVAL;
	if (*len > max)
		*len = max;
	return 0;
}

/* Into a fixed field (a sample's db or user). */
static int pull_name_into(struct jpull *p, char *out, uint16_t *out_len)
{
	const char *s;
	size_t len;

	if (pull_name(p, &s, &len, AGG_NAME_MAX))
		return -EINVAL;
	memcpy(out, s, len);
	*out_len = (uint16_t)len;
	return 0;
}

/* An error code key: "1146" (a JSON string, so not a number node). */
static int parse_code(const char *s, size_t len, uint64_t *code)
{
	uint64_t v = 0;

	if (!len || len > 5)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT16_MAX)
		return -EINVAL;
	*code = v;
	return 0;
}

/* A bounded code table being read; checked against the total once the object is read. */
struct codes {
	uint16_t code[AGG_ERR_CODES];
	uint64_t count[AGG_ERR_CODES];
	uint8_t n;
	uint64_t other; /* codes above a full table, and "other" */
	uint64_t sum;
	bool has_other;
};
_Static_assert(AGG_ERR_CODES == SESS_ERR_CODES, "one code table reader for rows and sessions");

/* Reads "error_codes": code -> count (each > 0), and "other" at most once. */
static int pull_codes(struct jpull *p, struct codes *t)
{
	const char *key;
	size_t len;
	uint64_t code, count;
	int ret;

	memset(t, 0, sizeof(*t));
	if (jpull_obj(p))
		return -EINVAL;
	while ((ret = jpull_key(p, &key, &len)) == 1) {
		if (jpull_u64(p, &count) || !count)
			return -EINVAL;
		if (len == 5 && memcmp(key, "other", 5) == 0) {
			if (t->has_other)
				return -EINVAL;
			t->has_other = true;
			t->other += count;
		} else if (parse_code(key, len, &code)) {
			return -EINVAL;
		} else {
			codes_add(t->code, t->count, &t->n, &t->other, AGG_ERR_CODES, (uint16_t)code,
				  count);
		}
		if (__builtin_add_overflow(t->sum, count, &t->sum))
			return -EINVAL;
	}
	return ret;
}

/*
 * The codes must account for every error, and "other" may only stand for codes above a full
 * table: anything else would let a merge count a code both by name and in "other".
 */
static bool codes_valid(const struct codes *t, uint64_t errors)
{
	return t->sum == errors && (!t->has_other || t->n == AGG_ERR_CODES);
}

/* --- stats rows --- */

/* [[bucket_upper_us, count], ...] into cells. */
static int pull_hist(struct report_msg *m, struct jpull *p, struct report_msg_row *r)
{
	uint64_t upper, count;
	uint32_t i;
	int ret;

	if (jpull_arr(p))
		return -EINVAL;
	while ((ret = jpull_item(p)) == 1) {
		if (jpull_arr(p) || jpull_item(p) != 1 || jpull_u64(p, &upper) ||
		    jpull_item(p) != 1 || jpull_u64(p, &count) || jpull_item(p) != 0 ||
		    hist_bucket_of_upper(upper, &i))
			return -EINVAL;
		if (!count)
			continue;
		if (grow((void **)&m->cells, &m->cells_cap, m->ncells + 1, sizeof(*m->cells)))
			return -ENOMEM;
		m->cells[m->ncells].i = i;
		m->cells[m->ncells++].count = count;
		r->ncells++;
	}
	return ret;
}

/* What a row's nested members are read into (jpull_fields' call). */
struct row_ctx {
	struct report_msg *m;
	struct report_msg_row *r;
	struct codes codes;
};

/* p50, p95 and p99 are derived from the buckets: walked, named so that finding them is cheap. */
enum { L_SUM, L_MIN, L_MAX, L_P50, L_P95, L_P99, L_HIST, L_N };
static const struct jpull_field lat_fields[L_N] = {
	JPULL_FIELD("sum", JPULL_K_U64), JPULL_FIELD("min", JPULL_K_U64),
	JPULL_FIELD("max", JPULL_K_U64), JPULL_FIELD("p50", JPULL_K_WALK),
	JPULL_FIELD("p95", JPULL_K_WALK), JPULL_FIELD("p99", JPULL_K_WALK),
	JPULL_FIELD("hist", JPULL_K_CALL),
};
#define LAT_REQUIRED ((1u << L_SUM) | (1u << L_MIN) | (1u << L_MAX) | (1u << L_HIST))

static int lat_call(void *ctx, struct jpull *p, unsigned int i)
{
	struct row_ctx *c = ctx;

	return pull_hist(c->m, p, c->r);
}

/* "latency_us": {"sum","min","max",...,"hist"}, or a bare sparse array. */
static int pull_latency(struct row_ctx *c, struct jpull *p)
{
	struct report_msg_row *r = c->r;
	struct jpull_val v[L_N];
	enum jpull_type t;
	uint64_t seen;
	int err;

	if (jpull_type(p, &t))
		return -EINVAL;
	if (t == JPULL_ARR)
		return pull_hist(c->m, p, r);
	err = jpull_fields(p, lat_fields, L_N, v, &seen, lat_call, c);
	if (err)
		return err;
	if ((seen & LAT_REQUIRED) != LAT_REQUIRED || v[L_MIN].u64 > v[L_MAX].u64)
		return -EINVAL;
	r->lat_sum = v[L_SUM].u64;
	r->lat_min = v[L_MIN].u64;
	r->lat_max = v[L_MAX].u64;
	r->lat_summary = true;
	return 0;
}

enum {
	R_TEMPLATE_ID, R_COMMAND, R_DB, R_USER, R_CLIENT, R_APP, R_SERVER, R_COUNT, R_ERRORS,
	R_ERROR_CODES, R_LATENCY, R_ROWS_SENT, R_ROWS_AFFECTED, R_BYTES_IN, R_BYTES_OUT,
	R_NO_INDEX_USED, R_N
};
static const struct jpull_field row_fields[R_N] = {
	JPULL_FIELD("template_id", JPULL_K_STR), JPULL_FIELD("command", JPULL_K_STR),
	JPULL_FIELD("db", JPULL_K_STR), JPULL_FIELD("user", JPULL_K_STR),
	JPULL_FIELD("client", JPULL_K_STR), JPULL_FIELD("app", JPULL_K_STR),
	JPULL_FIELD("server", JPULL_K_STR), JPULL_FIELD("count", JPULL_K_U64),
	JPULL_FIELD("errors", JPULL_K_U64), JPULL_FIELD("error_codes", JPULL_K_CALL),
	JPULL_FIELD("latency_us", JPULL_K_CALL), JPULL_FIELD("rows_sent", JPULL_K_U64),
	JPULL_FIELD("rows_affected", JPULL_K_U64), JPULL_FIELD("bytes_in", JPULL_K_U64),
	JPULL_FIELD("bytes_out", JPULL_K_U64), JPULL_FIELD("no_index_used", JPULL_K_U64),
};
#define ROW_REQUIRED (((1u << R_N) - 1) & ~(1u << R_APP) & ~(1u << R_SERVER))

static int row_call(void *ctx, struct jpull *p, unsigned int i)
{
	struct row_ctx *c = ctx;

	return i == R_ERROR_CODES ? pull_codes(p, &c->codes) : pull_latency(c, p);
}

/* The row's key from its strings: template id, command, client, names cut as agg_add cuts. */
static int row_key(struct report_msg *m, struct report_msg_row *r, const struct jpull_val *v,
		   uint64_t seen)
{
	static const size_t name_max[4] = { AGG_NAME_MAX, AGG_NAME_MAX, AGG_APP_MAX,
					    AGG_SERVER_MAX };
	static const unsigned int name_field[4] = { R_DB, R_USER, R_APP, R_SERVER };
	size_t len[4];
	enum agg_cmd cmd;
	char cname[16];
	uint32_t off;
	int err;

	if (v[R_TEMPLATE_ID].len == 5 && memcmp(v[R_TEMPLATE_ID].s, "other", 5) == 0)
		r->is_other = true;
	else if (hex64(v[R_TEMPLATE_ID].s, v[R_TEMPLATE_ID].len, &r->template_id))
		return -EINVAL;
	if (v[R_COMMAND].len >= sizeof(cname))
		return -EINVAL;
	memcpy(cname, v[R_COMMAND].s, v[R_COMMAND].len);
	cname[v[R_COMMAND].len] = '\0';
	if (agg_cmd_parse(cname, &cmd))
		return -EINVAL;
	r->command = (uint8_t)cmd;
	if (parse_addr(v[R_CLIENT].s, v[R_CLIENT].len, &r->family, r->addr, NULL))
		return -EINVAL;
	r->names = (uint32_t)m->strs_len;
	for (int k = 0; k < 4; k++) {
		const struct jpull_val *nv = &v[name_field[k]];

		len[k] = seen & (1u << name_field[k]) ? nv->len : 0;
		if (len[k] > name_max[k])
			len[k] = name_max[k];
		if (len[k] && (err = strs_put(m, nv->s, len[k], &off)))
			return err;
	}
	r->db_len = (uint16_t)len[0];
	r->user_len = (uint16_t)len[1];
	r->app_len = (uint8_t)len[2];
	r->server_len = (uint16_t)len[3];
	return 0;
}

/* The row's error codes into the message's arrays. */
static int row_codes(struct report_msg *m, struct report_msg_row *r, const struct codes *codes)
{
	if (m->ncodes + codes->n > m->codes_cap) {
		size_t cap = m->codes_cap;
		uint64_t *cc;

		/* code_counts follows codes' capacity. */
		if (grow((void **)&m->codes, &cap, m->ncodes + codes->n, sizeof(*m->codes)))
			return -ENOMEM;
		cc = realloc(m->code_counts, cap * sizeof(*cc));
		if (!cc)
			return -ENOMEM;
		m->code_counts = cc;
		m->codes_cap = cap;
	}
	r->codes = (uint32_t)m->ncodes;
	r->err_n = codes->n;
	r->err_other = codes->other;
	if (!codes->n)
		return 0; /* most rows: and the arrays may not exist yet */
	memcpy(m->codes + m->ncodes, codes->code, codes->n * sizeof(*m->codes));
	memcpy(m->code_counts + m->ncodes, codes->count, codes->n * sizeof(*m->code_counts));
	m->ncodes += codes->n;
	return 0;
}

static int pull_row(struct report_msg *m, struct jpull *p)
{
	struct row_ctx c = { .m = m };
	struct jpull_val v[R_N];
	struct report_msg_row *r;
	uint64_t seen;
	int err;

	if (grow((void **)&m->rows, &m->rows_cap, m->nrows + 1, sizeof(*m->rows)))
		return -ENOMEM;
	r = &m->rows[m->nrows];
	memset(r, 0, sizeof(*r));
	r->cells = (uint32_t)m->ncells;
	c.r = r;
	err = jpull_fields(p, row_fields, R_N, v, &seen, row_call, &c);
	if (err)
		return err;
	if ((seen & ROW_REQUIRED) != ROW_REQUIRED)
		return -EINVAL;
	r->count = v[R_COUNT].u64;
	r->errors = v[R_ERRORS].u64;
	r->rows_sent = v[R_ROWS_SENT].u64;
	r->rows_affected = v[R_ROWS_AFFECTED].u64;
	r->bytes_in = v[R_BYTES_IN].u64;
	r->bytes_out = v[R_BYTES_OUT].u64;
	r->no_index_used = v[R_NO_INDEX_USED].u64;
	if (!codes_valid(&c.codes, r->errors) || (err = row_key(m, r, v, seen)) ||
	    (err = row_codes(m, r, &c.codes)))
		return err ? err : -EINVAL;
	m->nrows++;
	return 0;
}

/* --- samples and connections (into rest) --- */

enum { S_SQL, S_STATUS, S_TS, S_LATENCY, S_CODE, S_TID, S_DB, S_USER, S_CLIENT, S_TEMPLATE,
       S_ELAPSED, S_TRUNCATED, S_N };
static const struct jpull_name sample_names[S_N] = {
	JPULL_NAME("sql"), JPULL_NAME("status"), JPULL_NAME("ts_us"), JPULL_NAME("latency_us"), JPULL_NAME("error_code"),
	JPULL_NAME("template_id"), JPULL_NAME("db"), JPULL_NAME("user"), JPULL_NAME("client"), JPULL_NAME("template"),
	JPULL_NAME("elapsed_us"), JPULL_NAME("sql_truncated"),
};
#define SLOW_REQUIRED                                                                       \
	((1u << S_SQL) | (1u << S_STATUS) | (1u << S_TS) | (1u << S_LATENCY) | (1u << S_CODE) | \
	 (1u << S_TID) | (1u << S_DB) | (1u << S_USER) | (1u << S_CLIENT))
#define RUNNING_REQUIRED                                                                   \
	((1u << S_SQL) | (1u << S_TEMPLATE) | (1u << S_TS) | (1u << S_ELAPSED) | (1u << S_TID) | \
	 (1u << S_TRUNCATED) | (1u << S_DB) | (1u << S_USER) | (1u << S_CLIENT))

static int sample_member(struct jpull *p, unsigned int f, struct agg_slow *s, bool running)
{
	const char *str;
	size_t len;
	uint64_t code;
	int b;

	switch (f) {
	case S_SQL:
		if (jpull_str(p, &str, &len) || len > UINT32_MAX)
			return -EINVAL;
		s->sql = (char *)str;
		s->sql_len = (uint32_t)len;
		return 0;
	case S_TEMPLATE:
		if (!running)
			return jpull_skip(p);
		if (jpull_str(p, &str, &len) || len > UINT32_MAX)
			return -EINVAL;
		s->tmpl = (char *)str;
		s->tmpl_len = (uint32_t)len;
		return 0;
	case S_STATUS:
		if (!running) {
			if (jpull_str(p, &str, &len))
				return -EINVAL;
			s->status = len == 5 && memcmp(str, "error", 5) == 0 ? AGG_STATUS_ERROR :
									       AGG_STATUS_OK;
			return 0;
		}
		return jpull_skip(p);
	case S_TS: return jpull_u64(p, &s->ts_us);
	case S_LATENCY: return running ? jpull_skip(p) : jpull_u64(p, &s->latency_us);
	case S_ELAPSED: return running ? jpull_u64(p, &s->latency_us) : jpull_skip(p);
	case S_CODE:
		if (running)
			return jpull_skip(p);
		if (jpull_u64(p, &code) || code > UINT16_MAX)
			return -EINVAL;
		s->error_code = (uint16_t)code;
		return 0;
	case S_TID: return pull_hex64(p, &s->template_id);
	case S_DB: return pull_name_into(p, s->db, &s->db_len);
	case S_USER: return pull_name_into(p, s->user, &s->user_len);
	case S_CLIENT: return pull_addr(p, &s->family, s->addr, &s->port);
	case S_TRUNCATED:
		if (!running)
			return jpull_skip(p);
		if (jpull_bool(p, &b))
			return -EINVAL;
		s->sql_truncated = b;
		return 0;
	}
	return 0;
}

/* One "slow" or "running" sample, offered to rest. */
static int pull_sample(struct report_msg *m, struct jpull *p, bool running)
{
	struct agg_slow s = { 0 };
	unsigned int hint = 0, seen = 0, f;
	const char *key;
	size_t len;
	int ret;

	if (jpull_obj(p))
		return -EINVAL;
	while ((ret = jpull_member(p, sample_names, S_N, &hint, &f, &key, &len)) == 1) {
		if (f == S_N)
			continue;
		if (sample_member(p, f, &s, running))
			return -EINVAL;
		seen |= 1u << f;
	}
	if (ret || (seen & (running ? RUNNING_REQUIRED : SLOW_REQUIRED)) !=
			   (running ? RUNNING_REQUIRED : SLOW_REQUIRED))
		return -EINVAL;
	if (!s.sql)
		s.sql = (char *)"";
	return running ? agg_merge_running(m->rest, &s) : agg_merge_slow(m->rest, &s);
}

enum { C_USER, C_OTHER, C_OPENED, C_LOGINS, C_FAILED, C_CLOSED, C_CLIENT, C_CODES, C_N };
static const struct jpull_name sess_names[C_N] = {
	JPULL_NAME("user"), JPULL_NAME("other"), JPULL_NAME("opened"), JPULL_NAME("logins"),
	JPULL_NAME("failed"), JPULL_NAME("closed"), JPULL_NAME("client"), JPULL_NAME("error_codes"),
};
#define SESS_REQUIRED (((1u << C_N) - 1) & ~(1u << C_OTHER))

static int sess_member(struct jpull *p, unsigned int f, struct sess_row *row, struct codes *t)
{
	const char *s;
	size_t len;
	int b;

	switch (f) {
	case C_USER:
		if (jpull_str(p, &s, &len) || len > SESS_USER_MAX)
			return -EINVAL;
		memcpy(row->user, s, len);
		row->user_len = (uint16_t)len;
		return 0;
	case C_OTHER:
		if (jpull_bool(p, &b))
			return -EINVAL;
		row->is_other = b;
		return 0;
	case C_OPENED: return jpull_u64(p, &row->opened);
	case C_LOGINS: return jpull_u64(p, &row->logins);
	case C_FAILED: return jpull_u64(p, &row->failed);
	case C_CLOSED: return jpull_u64(p, &row->closed);
	case C_CLIENT: return pull_addr(p, &row->family, row->addr, NULL);
	case C_CODES: return pull_codes(p, t);
	}
	return 0;
}

static int pull_session(struct report_msg *m, struct jpull *p)
{
	struct sess_row row = { 0 };
	struct codes t = { 0 };
	unsigned int hint = 0, seen = 0, f;
	const char *key;
	size_t len;
	int ret;

	if (jpull_obj(p))
		return -EINVAL;
	while ((ret = jpull_member(p, sess_names, C_N, &hint, &f, &key, &len)) == 1) {
		if (f == C_N)
			continue;
		if (sess_member(p, f, &row, &t))
			return -EINVAL;
		seen |= 1u << f;
	}
	if (ret || (seen & SESS_REQUIRED) != SESS_REQUIRED || !codes_valid(&t, row.failed))
		return -EINVAL;
	memcpy(row.err_code, t.code, sizeof(row.err_code));
	memcpy(row.err_count, t.count, sizeof(row.err_count));
	row.err_n = t.n;
	row.err_other = t.other;
	return sess_merge_row(agg_sessions(m->rest), &row);
}

/* --- the top level --- */

/* "templates": id -> text; members that are not a template (not 16 hex digits, not a string)
 * are walked and ignored, as a row never names them. */
static int pull_templates(struct report_msg *m, struct jpull *p)
{
	enum jpull_type t;
	const char *key, *text;
	size_t len, tlen;
	uint64_t id;
	uint32_t off;
	int ret;

	if (jpull_type(p, &t))
		return -EINVAL;
	if (t != JPULL_OBJ)
		return jpull_skip(p);
	if (jpull_obj(p))
		return -EINVAL;
	while ((ret = jpull_key(p, &key, &len)) == 1) {
		if (hex64(key, len, &id) || jpull_type(p, &t) || t != JPULL_STR)
			continue;
		if (jpull_str(p, &text, &tlen))
			return -EINVAL;
		if (tlen > m->template_max_len)
			tlen = m->template_max_len;
		if (grow((void **)&m->tmpls, &m->tmpls_cap, m->ntmpls + 1, sizeof(*m->tmpls)) ||
		    strs_put(m, text, tlen, &off))
			return -ENOMEM;
		m->tmpls[m->ntmpls].id = id;
		m->tmpls[m->ntmpls].off = off;
		m->tmpls[m->ntmpls++].len = (uint32_t)tlen;
	}
	return ret;
}

static uint64_t id_hash(uint64_t id)
{
	return XXH3_64bits(&id, sizeof(id));
}

/* The index of the texts by id, made once they are all read. */
static int tindex_build(struct report_msg *m)
{
	size_t cap = 64;

	while (cap < 2 * m->ntmpls)
		cap *= 2;
	if (!m->tindex || m->tmask + 1 < cap) {
		uint32_t *t = calloc(cap, sizeof(*t));

		if (!t)
			return -ENOMEM;
		free(m->tindex);
		m->tindex = t;
		m->tmask = cap - 1;
	}
	for (size_t i = 0; i < m->ntmpls; i++) {
		size_t k = id_hash(m->tmpls[i].id) & m->tmask;

		while (m->tindex[k] && m->tmpls[m->tindex[k] - 1].id != m->tmpls[i].id)
			k = (k + 1) & m->tmask;
		if (!m->tindex[k])
			m->tindex[k] = (uint32_t)i + 1;
	}
	return 0;
}

static int pull_outputs(struct report_msg *m, struct jpull *p)
{
	static const struct jpull_name names[] = { JPULL_NAME("readers"), JPULL_NAME("dropped") };
	const char *kind, *key;
	size_t len, klen;
	int ret, ret2;

	if (jpull_obj(p))
		return -EINVAL;
	while ((ret = jpull_key(p, &kind, &len)) == 1) {
		struct report_output *o = &m->h.outputs[m->h.noutputs];
		unsigned int hint = 0, seen = 0, f;

		if (m->h.noutputs == REPORT_MAX_OUTPUTS || len >= sizeof(o->kind) || jpull_obj(p))
			return -EINVAL;
		memset(o, 0, sizeof(*o));
		memcpy(o->kind, kind, len);
		while ((ret2 = jpull_member(p, names, 2, &hint, &f, &key, &klen)) == 1) {
			if (f < 2 && jpull_u64(p, f ? &o->dropped : &o->readers))
				return -EINVAL;
			seen |= f < 2 ? 1u << f : 0;
		}
		if (ret2 || seen != 3)
			return -EINVAL;
		m->h.noutputs++;
	}
	return ret;
}

/* The capture counter named key, REPORT_CAPTURE_FIELDS if none (once per message). */
static unsigned int capture_of(const char *key, size_t len)
{
	unsigned int i;

	for (i = 0; i < REPORT_CAPTURE_FIELDS; i++) {
		const char *name = report_capture_name(i);

		if (strlen(name) == len && memcmp(name, key, len) == 0)
			break;
	}
	return i;
}

static int pull_capture(struct report_msg *m, struct jpull *p)
{
	uint32_t seen = 0, need = (1u << REPORT_CAPTURE_REQUIRED) - 1;
	const char *key;
	unsigned int f;
	size_t len;
	int ret;

	if (jpull_obj(p))
		return -EINVAL;
	while ((ret = jpull_key(p, &key, &len)) == 1) {
		f = capture_of(key, len);
		if (f == REPORT_CAPTURE_FIELDS)
			continue;
		if (jpull_u64(p, report_capture_at(&m->c, f)))
			return -EINVAL;
		seen |= 1u << f;
	}
	return ret || (seen & need) != need ? -EINVAL : 0;
}

static int pull_keys(struct report_msg *m, struct jpull *p)
{
	unsigned int k = 0, bit;
	const char *s;
	size_t len;
	char name[16];
	int ret;

	if (jpull_arr(p))
		return -EINVAL;
	while ((ret = jpull_item(p)) == 1) {
		if (jpull_str(p, &s, &len) || len >= sizeof(name))
			return -EINVAL;
		memcpy(name, s, len);
		name[len] = '\0';
		bit = agg_dim_parse(name);
		if (!bit)
			return -EINVAL;
		k |= bit;
	}
	if (ret)
		return -EINVAL;
	agg_set_keys(m->rest, agg_keys(m->rest) | k);
	return 0;
}

/* An array of objects, each read by one(). */
static int pull_each(struct report_msg *m, struct jpull *p,
		     int (*one)(struct report_msg *m, struct jpull *p))
{
	int ret, err;

	if (jpull_arr(p))
		return -EINVAL;
	while ((ret = jpull_item(p)) == 1)
		if ((err = one(m, p)))
			return err;
	return ret;
}

static int pull_slow_one(struct report_msg *m, struct jpull *p)
{
	return pull_sample(m, p, false);
}

static int pull_running_one(struct report_msg *m, struct jpull *p)
{
	return pull_sample(m, p, true);
}

enum { T_VERSION, T_NODE, T_ROLE, T_SEQ, T_TERM, T_STARTED, T_LATE, T_START, T_END, T_CAPTURE,
       T_OUTPUTS, T_SLOW_DROPPED, T_TEMPLATES, T_STATS, T_SLOW, T_RUNNING, T_RUNNING_DROPPED,
       T_CONNECTIONS, T_KEYS, T_LOST, T_N };
static const struct jpull_name top_names[T_N] = {
	JPULL_NAME("version"), JPULL_NAME("node"), JPULL_NAME("role"), JPULL_NAME("seq"), JPULL_NAME("term"),
	JPULL_NAME("started_ms"), JPULL_NAME("late"), JPULL_NAME("period_start_ms"), JPULL_NAME("period_end_ms"),
	JPULL_NAME("capture"), JPULL_NAME("outputs"), JPULL_NAME("slow_dropped"), JPULL_NAME("templates"),
	JPULL_NAME("stats"), JPULL_NAME("slow"), JPULL_NAME("running"), JPULL_NAME("running_dropped"),
	JPULL_NAME("connections"), JPULL_NAME("keys"), JPULL_NAME("lost"),
};
#define TOP_REQUIRED                                                                     \
	((1u << T_VERSION) | (1u << T_NODE) | (1u << T_ROLE) | (1u << T_SEQ) | (1u << T_TERM) | \
	 (1u << T_START) | (1u << T_END) | (1u << T_CAPTURE) | (1u << T_STATS) | (1u << T_SLOW))

static int pull_label(struct jpull *p, char *out, size_t size)
{
	const char *s;
	size_t len;

	if (jpull_str(p, &s, &len))
		return -EINVAL;
	if (len >= size)
		len = size - 1;
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

static int top_member(struct report_msg *m, struct jpull *p, unsigned int f)
{
	struct report_header *h = &m->h;
	uint64_t n;
	int b;

	switch (f) {
	case T_VERSION: return jpull_u64(p, &h->version);
	case T_NODE: return pull_label(p, h->node, sizeof(h->node));
	case T_ROLE: return pull_label(p, h->role, sizeof(h->role));
	case T_SEQ: return jpull_u64(p, &h->seq);
	case T_TERM: return jpull_u64(p, &h->term);
	case T_STARTED: return jpull_u64(p, &h->started_ms);
	case T_LOST: return jpull_u64(p, &h->lost);
	case T_LATE:
		if (jpull_bool(p, &b))
			return -EINVAL;
		h->late = b;
		return 0;
	case T_START: return jpull_u64(p, &h->period_start_ms);
	case T_END: return jpull_u64(p, &h->period_end_ms);
	case T_CAPTURE: return pull_capture(m, p);
	case T_OUTPUTS: return pull_outputs(m, p);
	case T_TEMPLATES: return pull_templates(m, p);
	case T_STATS: return pull_each(m, p, pull_row);
	case T_SLOW: return pull_each(m, p, pull_slow_one);
	case T_RUNNING: return pull_each(m, p, pull_running_one);
	case T_CONNECTIONS: return pull_each(m, p, pull_session);
	case T_KEYS: return pull_keys(m, p);
	case T_SLOW_DROPPED:
	case T_RUNNING_DROPPED:
		if (jpull_u64(p, &n))
			return -EINVAL;
		if (f == T_SLOW_DROPPED)
			agg_add_slow_dropped(m->rest, n);
		else
			agg_add_running_dropped(m->rest, n);
		return 0;
	}
	return 0;
}

static int pull_report(struct report_msg *m, struct jpull *p)
{
	unsigned int hint = 0, seen = 0, f;
	const char *key;
	size_t len;
	int ret, err;

	if (jpull_obj(p))
		return -EINVAL;
	while ((ret = jpull_member(p, top_names, T_N, &hint, &f, &key, &len)) == 1) {
		if (f == T_N)
			continue; /* "nodes" (a master's) and what later versions add: walked */
		err = top_member(m, p, f);
		if (err)
			return err;
		seen |= 1u << f;
	}
	if (ret || jpull_end(p) || (seen & TOP_REQUIRED) != TOP_REQUIRED ||
	    m->h.version != REPORT_VERSION || m->h.period_end_ms < m->h.period_start_ms)
		return -EINVAL;
	/* "keys" absent: the default set. */
	if (!(seen & (1u << T_KEYS)))
		agg_set_keys(m->rest, agg_keys(m->rest) | AGG_KEYS_DEFAULT);
	return tindex_build(m);
}

int report_msg_parse(struct report_msg *m, const char *json, size_t len)
{
	return report_msg_parse_padded(m, json, len, 0);
}

int report_msg_parse_padded(struct report_msg *m, const char *json, size_t len, size_t cap)
{
	struct jpull *p;
	int err;

	msg_clear(m);
	p = jpull_new();
	if (!p)
		return -ENOMEM;
	err = cap >= len + JPULL_PADDING ? jpull_load_in_place(p, json, len) :
					   jpull_load(p, json, len);
	if (!err)
		err = pull_report(m, p);
	jpull_free(p);
	if (err) {
		msg_clear(m);
		return err == -ENOMEM ? -ENOMEM : -EINVAL;
	}
	return 0;
}

size_t report_msg_rows(const struct report_msg *m)
{
	return m->nrows;
}

size_t report_msg_template_count(const struct report_msg *m)
{
	return m->ntmpls;
}

int report_msg_template_at(const struct report_msg *m, size_t i, uint64_t *id, const char **text,
			   size_t *len)
{
	if (i >= m->ntmpls)
		return -EINVAL;
	*id = m->tmpls[i].id;
	*text = m->strs + m->tmpls[i].off;
	*len = m->tmpls[i].len;
	return 0;
}

const char *report_msg_template(const struct report_msg *m, uint64_t id, size_t *len)
{
	size_t k;

	if (!m->ntmpls)
		return NULL;
	for (k = id_hash(id) & m->tmask; m->tindex[k]; k = (k + 1) & m->tmask) {
		const struct report_msg_tmpl *t = &m->tmpls[m->tindex[k] - 1];

		if (t->id == id) {
			*len = t->len;
			return m->strs + t->off;
		}
	}
	return NULL;
}

struct text_chain {
	const struct report_msg *m;
	agg_text_fn text;
	void *ctx;
};

/* A new row's text: the message's own, else the caller's (texts are sent once per link). */
static const char *chain_text(void *ctx, uint64_t id, size_t *len)
{
	const struct text_chain *c = ctx;
	const char *t = report_msg_template(c->m, id, len);

	if (!t && c->text)
		t = c->text(c->ctx, id, len);
	return t;
}

#define MERGE_BATCH 32

int report_msg_merge(struct agg *dst, const struct report_msg *m, agg_text_fn text, void *ctx)
{
	struct text_chain chain = { m, text, ctx };
	struct agg_row rows[MERGE_BATCH];
	size_t k = 0;
	int err, ret = 0;

	for (size_t i = 0; i < m->nrows; i++) {
		const struct report_msg_row *r = &m->rows[i];
		struct agg_row *row = &rows[k++];

		*row = (struct agg_row){
			.template_id = r->template_id,
			.family = r->family,
			.command = r->command,
			.is_other = r->is_other,
			.app_len = r->app_len,
			.db_len = r->db_len,
			.user_len = r->user_len,
			.server_len = r->server_len,
			.names = m->strs ? m->strs + r->names : "",
			.count = r->count,
			.errors = r->errors,
			.rows_sent = r->rows_sent,
			.rows_affected = r->rows_affected,
			.bytes_in = r->bytes_in,
			.bytes_out = r->bytes_out,
			.no_index_used = r->no_index_used,
			.err_n = r->err_n,
			.err_code = m->codes ? m->codes + r->codes : NULL,
			.err_count = m->code_counts ? m->code_counts + r->codes : NULL,
			.err_other = r->err_other,
			.lat_summary = r->lat_summary,
			.lat_sum = r->lat_sum,
			.lat_min = r->lat_min,
			.lat_max = r->lat_max,
			.cells = m->cells ? m->cells + r->cells : NULL,
			.ncells = r->ncells,
		};
		memcpy(row->addr, r->addr, 16);
		if (k == MERGE_BATCH || i + 1 == m->nrows) {
			err = agg_merge_rows(dst, rows, k, chain_text, &chain);
			ret = ret ?: err;
			k = 0;
		}
	}
	err = agg_merge(dst, m->rest);
	return ret ?: err;
}

int report_parse(struct agg *a, struct report_header *h, struct report_capture *c,
		 const char *json, size_t len)
{
	struct report_msg m;
	int err;

	err = report_msg_init(&m, agg_config(a));
	if (!err)
		err = report_msg_parse(&m, json, len);
	if (!err) {
		if (h)
			*h = m.h;
		if (c)
			*c = m.c;
		err = report_msg_merge(a, &m, NULL, NULL);
	}
	report_msg_free(&m);
	return err;
}
