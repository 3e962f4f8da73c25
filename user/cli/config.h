/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Settings: one table row per key, loaded from YAML (libyaml) and set from the command line. */
#ifndef MP_CONFIG_H
#define MP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/jbuf.h"

#define CONFIG_MAX_PORTS 8 /* MySQL ports the BPF filter matches */
#define CONFIG_MAX_LIST 64 /* items in a string list */

enum config_type {
	CONFIG_BOOL, /* bool */
	CONFIG_INT, /* int64_t, in [min, max] */
	CONFIG_UINT, /* uint64_t, in [min, max] */
	CONFIG_STRING, /* char *, never NULL ("" = unset) */
	CONFIG_STRLIST, /* struct config_strlist, at most max items */
	CONFIG_PORTLIST, /* struct config_portlist, 1..CONFIG_MAX_PORTS distinct ports */
	CONFIG_ENUM, /* int, index into choices */
};

/* Option flags. */
#define CONFIG_SECRET 0x1 /* never logged, redacted in /status */
#define CONFIG_ZERO_OK 0x2 /* 0 is allowed besides [min, max] ("derive it") */
#define CONFIG_POW2 0x4 /* must be a power of two */
#define CONFIG_ADDR 0x8 /* STRING/STRLIST: each value HOST:PORT ("" allowed for a STRING) */

struct config_strlist {
	char **v;
	size_t n;
};

struct config_portlist {
	uint16_t v[CONFIG_MAX_PORTS];
	size_t n;
};

enum probe_mode { PROBE_MODE_TC, PROBE_MODE_XDP, PROBE_MODE_PCAP };
enum probe_tc_attach { PROBE_TC_AUTO, PROBE_TC_TCX, PROBE_TC_NETLINK };
/* OUTPUT_AUTO: a table when stdout is a terminal, else report (resolved by main at start). */
enum output_mode { OUTPUT_EVENTS, OUTPUT_REPORT, OUTPUT_SEGMENTS, OUTPUT_NONE, OUTPUT_TABLE,
		   OUTPUT_AUTO };
/* log_level uses enum log_level from log.h: 0 warn, 1 info, 2 debug. */

struct mp_config {
	bool slave;
	int64_t serverport;
	int64_t interval; /* seconds */
	int64_t slowthresholdms;
	bool cluster_gossip;
	char *cluster_group;
	char *cluster_advertise;
	struct config_strlist cluster_seeds;
	int64_t cluster_rank;
	bool cluster_witness;
	char *cluster_vote_file;
	int64_t cluster_port;
	int64_t cluster_buffer_periods;
	int64_t cluster_buffer_mb;
	struct config_strlist cluster_slaves;
	char *cluster_token;
	char *cluster_token_file;
	char *cluster_state_file;
	int64_t cluster_merge_wait_ms;
	struct config_strlist probe_device;
	struct config_portlist probe_port;
	uint64_t probe_snappylength;
	int64_t probe_workers;
	int probe_mode; /* enum probe_mode */
	int probe_tc_attach; /* enum probe_tc_attach */
	int64_t probe_max_connections;
	int64_t probe_ringbuf_mb;
	int64_t probe_idle_timeout_s;
	struct config_strlist pusher_servers;
	char *pusher_path;
	bool pusher_preconnect;
	char *pusher_spool_dir;
	int64_t pusher_spool_mb;
	char *watcher_uname;
	char *watcher_password;
	char *watcher_password_file;
	char *watcher_host;
	int64_t watcher_port; /* 0 = the first probe.port */
	char *watcher_socket;
	int64_t watcher_interval_s;
	int64_t watcher_timeout_s;
	uint64_t websocket_maxmessagesize;
	int64_t websocket_queue;
	char *sinks_clickhouse_url;
	char *sinks_clickhouse_database;
	char *sinks_clickhouse_user;
	char *sinks_clickhouse_password;
	char *sinks_clickhouse_password_file;
	char *sinks_clickhouse_spool_dir;
	int64_t sinks_clickhouse_spool_mb;
	int64_t sinks_clickhouse_batch_rows;
	int64_t sinks_clickhouse_flush_ms;
	char *sinks_kafka_brokers;
	char *sinks_kafka_topic;
	bool sinks_kafka_events;
	char *sinks_kafka_events_topic;
	int64_t sinks_kafka_flush_ms;
	char *enrich_file;
	struct config_strlist report_keys;
	int64_t report_period_ms; /* 0 = interval * 1000; use config_report_period_ms() */
	int64_t max_keys;
	int64_t max_slow;
	int64_t template_max_len;
	char *http_bind;
	char *http_token;
	char *http_token_file;
	int64_t http_client_queue_mb;
	int64_t http_queue_mb;
	int output; /* enum output_mode */
	int log_level; /* enum log_level */
};

/* One setting. The table is exported so main can build its long options from it. */
struct config_option {
	const char *name; /* dotted YAML path, also the long option name */
	enum config_type type;
	size_t off; /* offset of the field in struct mp_config */
	const char *def; /* default, in the syntax config_set accepts */
	int64_t min; /* INT/UINT: value range; lists: max is the item limit */
	int64_t max;
	const char *const *choices; /* ENUM: NULL-terminated names */
	unsigned int flags;
	const char *help;
};

extern const struct config_option config_options[];
extern const size_t config_options_count;

/* Row for a dotted key, or NULL. */
const struct config_option *config_find(const char *name);
/* Whether the long option needs an argument: booleans take an optional one (--slave). */
bool config_option_takes_arg(const struct config_option *o);

/* report.keys as agg_dim bits (report/agg.h). */
unsigned int config_report_keys(const struct mp_config *c);
/* Fills c with every default. Returns 0 or -ENOMEM (c is then freed). */
int config_init(struct mp_config *c);
/* Frees the strings and lists. Accepts NULL. */
void config_free(struct mp_config *c);

/*
 * Loads a YAML file over c (keys not in the file keep their value). On error returns -EINVAL
 * (or -ENOENT/-EACCES... for an unreadable file, -ENOMEM) with "FILE:LINE: KEY: reason" in
 * err; c may then be partly updated.
 */
int config_load_file(struct mp_config *c, const char *path, char *err, size_t errlen);
/* Same, from memory; name is used in messages. */
int config_load_buffer(struct mp_config *c, const char *name, const char *data, size_t len,
		       char *err, size_t errlen);
/*
 * Sets one key from text (command line, /config/update). value NULL means "true" for a
 * boolean. Lists take comma-separated items. Returns 0, or -EINVAL with "KEY: reason" in err
 * (c unchanged), or -ENOMEM.
 */
int config_set(struct mp_config *c, const char *key, const char *value, char *err,
	       size_t errlen);

/* The report period in ms: report_period_ms, or interval * 1000 when it is 0. */
/*
 * Fills each secret from its *_file key (http.token_file -> http.token, ...): the first line
 * of the file, without its line end. Call once after the file and the flags are applied.
 * Returns 0; -EINVAL with err naming the key, the path and the reason (never the contents)
 * when a file cannot be read, its first line is empty, or the secret is given both ways;
 * -ENOMEM. Warns when a file is readable by group or others.
 */
int config_read_secret_files(struct mp_config *c, char *err, size_t errlen);

uint64_t config_report_period_ms(const struct mp_config *c);
/* Name of an enum value ("tc", "report", "info"), or "?". */
const char *config_enum_name(const char *key, int value);

/* Writes the settings as one flat JSON object; redact replaces set secrets by "<redacted>". */
void config_to_json(const struct mp_config *c, struct jbuf *b, bool redact);
/* Writes "key: value" YAML lines (dotted keys) that config_load_buffer reads back. */
void config_to_yaml(const struct mp_config *c, struct jbuf *b, bool redact);

#endif /* MP_CONFIG_H */
