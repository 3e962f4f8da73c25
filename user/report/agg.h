/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Per-period statement aggregation keyed by (template id, command, db, user, client address). */
#ifndef MP_AGG_H
#define MP_AGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "report/hist.h"
#include "report/sessions.h"

/*
 * One aggregator per worker thread, no locking: a worker feeds its own with agg_add(); at
 * period end the lead merges every worker's into one (agg_merge) and resets them (agg_reset).
 * Existing keys cost one hash probe and no allocation; new keys, new templates and new
 * histogram ranges allocate, and a reset keeps every allocation for the next period.
 */

/* db and user bytes kept per key (MySQL names are at most 64 and 80 characters). */
#define AGG_NAME_MAX 256
/* The optional dimensions (report.keys): app (enrich.h's ENRICH_APP_MAX) and server (node). */
#define AGG_APP_MAX 64
#define AGG_SERVER_MAX 256
/*
 * Error codes counted one by one per key. A row keeps the AGG_ERR_CODES numerically smallest
 * codes it has seen and sums every larger one in err_other. That choice, and not "the first
 * codes seen", is what keeps merges exact: a code goes to err_other only once AGG_ERR_CODES
 * smaller codes were seen, and a merge only adds codes, so in the merged row too it has
 * AGG_ERR_CODES smaller ones and belongs to err_other. Whatever the order and grouping of
 * merges (workers, hosts), a row's codes are those one aggregator seeing all the statements
 * would have counted. Bounded rather than growable: a row's size stays fixed (160 bytes of
 * codes) and no error, however varied, allocates on the hot path; 16 distinct codes for one
 * statement key in one period is already unusual, and err_other says when it happened.
 */
#define AGG_ERR_CODES 16

enum agg_status { AGG_STATUS_OK = 0, AGG_STATUS_ERROR = 1 };

/*
 * What kind of command a row counts, part of the key: a COM_STMT_PREPARE shares its
 * statement's template with the executes, and must not be counted, nor timed, with them.
 * "other" is every command that is neither a statement nor its preparation (ping, quit,
 * stmt_close, init_db, stmt_fetch, ...): not part of a query rate.
 */
enum agg_cmd {
	AGG_CMD_QUERY = 0, /* COM_QUERY, one row per statement of a multi-statement query */
	AGG_CMD_EXECUTE = 1, /* COM_STMT_EXECUTE, MariaDB's COM_STMT_BULK_EXECUTE */
	AGG_CMD_PREPARE = 2, /* COM_STMT_PREPARE */
	AGG_CMD_OTHER = 3,
};
#define AGG_CMD_COUNT 4

/* "query", "execute", "prepare" or "other"; NULL for a value out of range. */
const char *agg_cmd_name(enum agg_cmd c);
/* Reads a name agg_cmd_name gives. Returns 0 or -EINVAL. */
int agg_cmd_parse(const char *name, enum agg_cmd *c);

/* One completed statement, filled by the lead from a decoder query event. */
struct agg_input {
	uint64_t template_id;
	enum agg_cmd command;
	const char *template_text; /* NULL/0 = unknown */
	size_t template_len;
	const char *sql; /* statement text for slow samples; NULL/0 = unknown */
	size_t sql_len;
	const char *db; /* NULL/0 = none */
	size_t db_len;
	const char *user;
	size_t user_len;
	uint8_t client_addr[16]; /* AF_INET: the first 4 bytes, the rest ignored */
	uint8_t family; /* AF_INET, AF_INET6, or 0 = unknown */
	uint16_t client_port; /* host order; kept in slow samples only */
	uint64_t ts_us; /* request start, µs since the epoch */
	uint64_t latency_us;
	enum agg_status status;
	uint16_t error_code;
	uint64_t rows_sent;
	uint64_t rows_affected;
	uint64_t bytes_in;
	uint64_t bytes_out;
	bool no_index_used;
};

struct agg_config {
	uint32_t max_keys; /* distinct keys per period; later keys go to "other" (>= 1) */
	uint32_t max_slow; /* slow samples kept per period (the slowest ones); 0 = none */
	uint64_t slow_threshold_us; /* latency >= this is a slow sample */
	uint32_t template_max_len; /* template text kept per template id (>= 1) */
	uint32_t sql_max_len; /* statement text kept per slow sample (>= 1) */
};

/*
 * The dimensions a row key may have (report.keys). A report's rows are keyed by a set of them;
 * a dimension left out is empty in every row (its rows were added up). 0 stands for the
 * default set (AGG_KEYS_DEFAULT): app and server are then absent from the report.
 */
enum agg_dim {
	AGG_DIM_TEMPLATE = 1u << 0,
	AGG_DIM_COMMAND = 1u << 1,
	AGG_DIM_DB = 1u << 2,
	AGG_DIM_USER = 1u << 3,
	AGG_DIM_CLIENT = 1u << 4,
	AGG_DIM_APP = 1u << 5,
	AGG_DIM_SERVER = 1u << 6,
};
#define AGG_KEYS_DEFAULT \
	(AGG_DIM_TEMPLATE | AGG_DIM_COMMAND | AGG_DIM_DB | AGG_DIM_USER | AGG_DIM_CLIENT)
#define AGG_KEYS_ALL (AGG_KEYS_DEFAULT | AGG_DIM_APP | AGG_DIM_SERVER)
#define AGG_DIM_COUNT 7
/* "template", "command", "db", "user", "client", "app", "server" for bit i; NULL past them. */
const char *agg_dim_name(unsigned int i);
/* The bit of a dimension's name, or 0 for an unknown name. */
unsigned int agg_dim_parse(const char *name);

/* db, user, app and server are packed in one buffer so a lookup compares them with one memcmp. */
struct agg_key {
	uint64_t template_id;
	uint8_t addr[16]; /* zero-padded for AF_INET */
	uint8_t family;
	uint8_t command; /* enum agg_cmd */
	uint16_t db_len;
	uint16_t user_len;
	uint16_t server_len;
	uint8_t app_len; /* last before names: no padding byte in the fixed part */
	/* db bytes, user bytes, app bytes, server bytes; no NULs */
	char names[2 * AGG_NAME_MAX + AGG_APP_MAX + AGG_SERVER_MAX];
};

static inline const char *agg_key_db(const struct agg_key *k)
{
	return k->names;
}

static inline const char *agg_key_user(const struct agg_key *k)
{
	return k->names + k->db_len;
}

static inline const char *agg_key_app(const struct agg_key *k)
{
	return k->names + k->db_len + k->user_len;
}

static inline const char *agg_key_server(const struct agg_key *k)
{
	return k->names + k->db_len + k->user_len + k->app_len;
}

/* Sets db and user, each cut at AGG_NAME_MAX bytes as agg_add does; app and server empty. */
void agg_key_set_names(struct agg_key *k, const char *db, size_t db_len, const char *user,
		       size_t user_len);
/* Sets app and server (after agg_key_set_names), cut at AGG_APP_MAX and AGG_SERVER_MAX. */
void agg_key_set_dims(struct agg_key *k, const char *app, size_t app_len, const char *server,
		      size_t server_len);

/* Hot counters first, the key last: an update touches few cache lines. */
struct agg_stat {
	uint64_t count;
	uint64_t errors;
	uint64_t rows_sent;
	uint64_t rows_affected;
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t no_index_used;
	struct hist lat;
	uint64_t err_count[AGG_ERR_CODES]; /* count of err_code[i], never 0 for i < err_n */
	uint64_t err_other; /* errors whose code is above every code in err_code[] */
	uint16_t err_code[AGG_ERR_CODES]; /* ascending */
	uint8_t err_n;
	bool is_other;
	struct agg_key key; /* an "other" row: all zero but the command */
};

/* Counts n (>= 1) errors of code in a row, keeping the smallest codes (AGG_ERR_CODES). */
void agg_stat_err_add(struct agg_stat *s, uint16_t code, uint64_t n);

struct agg_slow {
	uint64_t ts_us;
	uint64_t latency_us;
	uint64_t template_id;
	uint8_t addr[16];
	uint8_t family;
	uint16_t port;
	enum agg_status status;
	uint16_t error_code;
	bool sql_truncated;
	uint32_t sql_len;
	char *sql; /* sql_max_len bytes owned by the aggregator */
	/* Running samples only (NULL in slow ones): the template text, since a statement that
	 * has not completed has no row, and so no text in the report's templates. */
	char *tmpl; /* template_max_len bytes owned by the aggregator */
	uint32_t tmpl_len;
	uint16_t db_len;
	uint16_t user_len;
	char db[AGG_NAME_MAX];
	char user[AGG_NAME_MAX];
};

struct agg;

/* Returns a new empty aggregator, or NULL with errno set (ENOMEM, EINVAL for a bad config). */
struct agg *agg_new(const struct agg_config *cfg);
/* Accepts NULL. */
void agg_free(struct agg *a);
/* Empties the aggregator for the next period, keeping its memory. */
void agg_reset(struct agg *a);

/*
 * Counts one statement. Returns 0, or -ENOMEM: the statement is then counted in as much as
 * could be done without memory (possibly in the "other" row).
 */
int agg_add(struct agg *a, const struct agg_input *in);
/* dst += src: rows, templates, slow samples and counters. Returns 0 or -ENOMEM. */
int agg_merge(struct agg *dst, const struct agg *src);

/* The application of a client address (report/enrich.h's lookup), or NULL: app "". */
typedef const char *(*agg_app_fn)(const void *ctx, uint8_t family, const uint8_t *addr,
				  size_t *len);
/* How agg_merge_keyed re-keys rows: report.keys, and what fills app and server. */
struct agg_project {
	unsigned int keys; /* AGG_DIM_* bits; AGG_DIM_COMMAND is always kept */
	agg_app_fn app;	   /* NULL: app "" */
	const void *app_ctx;
	const char *server; /* the node's name; NULL = "" */
};
/*
 * dst += src with every row re-keyed to p->keys: a dimension left out is emptied, app is
 * looked up from the row's client address, server is p->server; rows that become equal add
 * up exactly (counters, histograms, error codes), as agg_merge adds equal rows. Without
 * "template" the rows have template id 0 and no text. Slow and running samples and the
 * connections keep every detail. dst's keys become p->keys. Returns 0 or -ENOMEM.
 */
int agg_merge_keyed(struct agg *dst, const struct agg *src, const struct agg_project *p);
/* The dimensions of the rows (0 = not said: the default set); every merge ORs the two. */
unsigned int agg_keys(const struct agg *a);
void agg_set_keys(struct agg *a, unsigned int keys);
/*
 * Adds one row (from another aggregator or a parsed report) and its template text (may be
 * NULL). A row whose key does not fit goes to the "other" row of its command. Returns 0 or
 * -ENOMEM.
 */
int agg_merge_stat(struct agg *a, const struct agg_stat *s, const char *tmpl, size_t tmpl_len);
/* Resolves a template id to its text (a template store, say); NULL when unknown. */
typedef const char *(*agg_text_fn)(void *ctx, uint64_t id, size_t *len);

/*
 * A row as read from a report (report/report_msg.h), borrowed: names, codes and buckets point
 * into the message. A master adds every slave's rows straight into the period's aggregator
 * with it: no row of its own per message, no histogram to build and merge again.
 */
struct agg_row {
	uint64_t template_id;
	uint8_t addr[16]; /* zero-padded for AF_INET */
	uint8_t family;
	uint8_t command; /* enum agg_cmd */
	bool is_other;
	uint8_t app_len;
	uint16_t db_len, user_len, server_len;
	const char *names; /* db, user, app, server bytes */
	uint64_t count, errors, rows_sent, rows_affected, bytes_in, bytes_out, no_index_used;
	uint8_t err_n; /* <= AGG_ERR_CODES */
	const uint16_t *err_code;
	const uint64_t *err_count;
	uint64_t err_other;
	bool lat_summary; /* lat_sum, lat_min and lat_max were given */
	uint64_t lat_sum, lat_min, lat_max;
	const struct hist_cell *cells;
	size_t ncells;
};
/*
 * Adds one row as agg_merge_stat adds an aggregator's row. The template text is asked of
 * text(ctx) only when the row is new to a (NULL: no text). Returns 0 or -ENOMEM.
 */
int agg_merge_row(struct agg *a, const struct agg_row *r, agg_text_fn text, void *ctx);
/* n rows, as n agg_merge_row calls (the rows' lookups overlap in memory). */
int agg_merge_rows(struct agg *a, const struct agg_row *rows, size_t n, agg_text_fn text,
		   void *ctx);
/* The configuration a was made with. */
const struct agg_config *agg_config(const struct agg *a);
/* Offers one slow sample (kept if among the max_slow slowest). Returns 0. */
int agg_merge_slow(struct agg *a, const struct agg_slow *s);

/* Rows in insertion order, "other" excluded. */
size_t agg_stat_count(const struct agg *a);
const struct agg_stat *agg_stat_at(const struct agg *a, size_t i);
/*
 * The "other" row of one command: statements of keys beyond max_keys, one row per command
 * so that even those are never counted with another command. NULL when none overflowed.
 */
const struct agg_stat *agg_other(const struct agg *a, enum agg_cmd c);
/* Slow samples, in no particular order. */
size_t agg_slow_count(const struct agg *a);
const struct agg_slow *agg_slow_at(const struct agg *a, size_t i);
/* Slow statements not kept because max_slow were already kept (slower ones). */
uint64_t agg_slow_dropped(const struct agg *a);
/* Adds n to that count (a merged report's samples were dropped upstream). */
void agg_add_slow_dropped(struct agg *a, uint64_t n);
/*
 * A statement still running at the period's end (latency_us: the time it has run so far;
 * status ignored). Kept among the max_slow longest running, not counted in any row: it is
 * counted once, when it completes. Returns 0.
 */
int agg_add_running(struct agg *a, const struct agg_input *in);
/* Offers one running sample (another aggregator's, a parsed report's). Returns 0. */
int agg_merge_running(struct agg *a, const struct agg_slow *s);
/* Running samples, in no particular order; those not kept (max_slow longer ones were). */
size_t agg_running_count(const struct agg *a);
const struct agg_slow *agg_running_at(const struct agg *a, size_t i);
uint64_t agg_running_dropped(const struct agg *a);
void agg_add_running_dropped(struct agg *a, uint64_t n);
/* The period's connections and logins (sessions.h): the table is the aggregator's, reset and
 * merged with it; its row bound is max_keys. */
struct sess_table *agg_sessions(struct agg *a);
const struct sess_table *agg_sessions_const(const struct agg *a);
/* Statements counted in the "other" row because max_keys was reached. */
uint64_t agg_keys_overflow(const struct agg *a);
/* Statements counted this period. */
uint64_t agg_statements(const struct agg *a);
/* Template texts of this period's rows: count, and entry i (0 or -EINVAL). */
size_t agg_template_count(const struct agg *a);
int agg_template_at(const struct agg *a, size_t i, uint64_t *id, const char **text, size_t *len);
/* Text of one template id, or NULL if this period has none. */
const char *agg_template(const struct agg *a, uint64_t id, size_t *len);

#endif /* MP_AGG_H */
