// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Per-period statement aggregation keyed by (template id, command, db, user, client address). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "report/agg.h"

/* Rows looked up together by agg_merge_rows (their cache misses overlap). */
#define AGG_BATCH 16
/* Upper bound on max_keys: keeps table indices in 32 bits and memory sane. */
#define AGG_MAX_KEYS_LIMIT (1u << 24)
#define AGG_MAX_SLOW_LIMIT 100000u
#define AGG_TEXT_LIMIT (16u << 20)

/*
 * The max_slow longest statements offered: slow samples (by latency) and statements still
 * running (by time so far) are kept alike. Buffers are allocated once, at agg_new.
 */
struct sample_set {
	struct agg_slow *v; /* max entries, sql (and tmpl) buffers preallocated */
	uint32_t *heap;	    /* min-heap of indices into v: root = the shortest kept */
	uint32_t n, max;
	uint32_t sql_cap, tmpl_cap;
	uint64_t dropped;
	char *text; /* every entry's buffers, one allocation: max_slow small mallocs cost more
		     * than the whole rest of a short replay */
};

static int set_init(struct sample_set *set, uint32_t max, uint32_t sql_cap, uint32_t tmpl_cap);
static void set_free(struct sample_set *set);

/* Open-addressing slot: idx is 1 + the row or template index, 0 = empty. */
struct agg_slot {
	uint64_t hash;
	uint32_t idx;
};

struct agg_tmpl {
	uint64_t id;
	uint32_t off; /* into texts */
	uint32_t len;
};

/* A key as seen by lookups, pointing at packed names (no copy of the key per lookup). */
struct agg_kview {
	uint64_t template_id;
	const uint8_t *addr; /* 16 bytes, normalised */
	uint8_t family;
	uint8_t command;
	uint16_t db_len;
	uint16_t user_len;
	uint8_t app_len;
	uint16_t server_len;
	const char *names; /* db, user, app, server */
};

struct agg {
	struct agg_config cfg;
	struct hist_pool pool;

	struct agg_stat *stats; /* rows, insertion order */
	uint32_t nstats;
	uint32_t stats_cap;
	struct agg_slot *slots; /* rows by key */
	uint32_t slot_mask;
	struct agg_stat other[AGG_CMD_COUNT]; /* overflow rows, by command */

	struct agg_tmpl *tmpls; /* max_keys entries */
	uint32_t ntmpls;
	struct agg_slot *tslots; /* templates by id */
	char *texts;
	size_t texts_len;
	size_t texts_cap;

	struct sess_table *sess;   /* connections and logins per (user, client) */
	struct sample_set slow;	   /* completed slow statements */
	struct sample_set running; /* statements still running at the period's end */

	uint64_t keys_overflow;
	uint64_t statements;
	unsigned int keys; /* agg_dim bits of the rows; 0 = not said (the default set) */
};

static const char *const cmd_names[AGG_CMD_COUNT] = {
	[AGG_CMD_QUERY] = "query",
	[AGG_CMD_EXECUTE] = "execute",
	[AGG_CMD_PREPARE] = "prepare",
	[AGG_CMD_OTHER] = "other",
};

const char *agg_cmd_name(enum agg_cmd c)
{
	return (unsigned int)c < AGG_CMD_COUNT ? cmd_names[c] : NULL;
}

static const char *const dim_names[AGG_DIM_COUNT] = {
	"template", "command", "db", "user", "client", "app", "server",
};

const char *agg_dim_name(unsigned int i)
{
	return i < AGG_DIM_COUNT ? dim_names[i] : NULL;
}

unsigned int agg_dim_parse(const char *name)
{
	for (unsigned int i = 0; i < AGG_DIM_COUNT; i++)
		if (!strcmp(name, dim_names[i]))
			return 1u << i;
	return 0;
}

unsigned int agg_keys(const struct agg *a)
{
	return a->keys;
}

void agg_set_keys(struct agg *a, unsigned int keys)
{
	a->keys = keys;
}

int agg_cmd_parse(const char *name, enum agg_cmd *c)
{
	unsigned int i;

	for (i = 0; i < AGG_CMD_COUNT; i++) {
		if (strcmp(name, cmd_names[i]) == 0) {
			*c = (enum agg_cmd)i;
			return 0;
		}
	}
	return -EINVAL;
}

static uint32_t table_size(uint32_t max_keys)
{
	uint32_t n = 16;

	/* Load factor <= 1/2 keeps linear probing short. */
	while (n < 2 * (uint64_t)max_keys)
		n <<= 1;
	return n;
}

static bool cfg_valid(const struct agg_config *c)
{
	return c->max_keys >= 1 && c->max_keys <= AGG_MAX_KEYS_LIMIT &&
	       c->max_slow <= AGG_MAX_SLOW_LIMIT && c->template_max_len >= 1 &&
	       c->template_max_len <= AGG_TEXT_LIMIT && c->sql_max_len >= 1 &&
	       c->sql_max_len <= AGG_TEXT_LIMIT;
}

struct agg *agg_new(const struct agg_config *cfg)
{
	uint32_t tsize, i;
	struct agg *a;

	if (!cfg || !cfg_valid(cfg)) {
		errno = EINVAL;
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		goto fail;
	a->cfg = *cfg;
	for (i = 0; i < AGG_CMD_COUNT; i++) {
		a->other[i].is_other = true;
		a->other[i].key.command = (uint8_t)i;
	}
	tsize = table_size(cfg->max_keys);
	a->slot_mask = tsize - 1;
	a->slots = calloc(tsize, sizeof(*a->slots));
	a->tslots = calloc(tsize, sizeof(*a->tslots));
	a->tmpls = calloc(cfg->max_keys, sizeof(*a->tmpls));
	a->sess = sess_new(cfg->max_keys);
	if (!a->slots || !a->tslots || !a->tmpls || !a->sess ||
	    set_init(&a->slow, cfg->max_slow, cfg->sql_max_len, 0) ||
	    set_init(&a->running, cfg->max_slow, cfg->sql_max_len, cfg->template_max_len))
		goto fail;
	return a;
fail:
	agg_free(a);
	errno = ENOMEM;
	return NULL;
}

void agg_free(struct agg *a)
{
	uint32_t i;

	if (!a)
		return;
	for (i = 0; i < a->nstats; i++)
		hist_reset(&a->stats[i].lat, NULL);
	for (i = 0; i < AGG_CMD_COUNT; i++)
		hist_reset(&a->other[i].lat, NULL);
	hist_pool_drain(&a->pool);
	set_free(&a->slow);
	set_free(&a->running);
	sess_free(a->sess);
	free(a->stats);
	free(a->slots);
	free(a->tslots);
	free(a->tmpls);
	free(a->texts);
	free(a);
}

/* Empties an "other" row, which keeps its command. */
static void other_clear(struct agg_stat *s, struct hist_pool *pool)
{
	uint8_t command = s->key.command;

	hist_reset(&s->lat, pool);
	memset(s, 0, sizeof(*s));
	s->is_other = true;
	s->key.command = command;
}

void agg_reset(struct agg *a)
{
	uint32_t i;

	for (i = 0; i < a->nstats; i++)
		hist_reset(&a->stats[i].lat, &a->pool);
	for (i = 0; i < AGG_CMD_COUNT; i++)
		other_clear(&a->other[i], &a->pool);
	/* An aggregator that held no row (a message's samples only) has nothing to clear here:
	 * the tables are max_keys-sized, and a master resets one per message. */
	if (a->nstats)
		memset(a->slots, 0, (a->slot_mask + 1) * sizeof(*a->slots));
	if (a->ntmpls)
		memset(a->tslots, 0, (a->slot_mask + 1) * sizeof(*a->tslots));
	a->nstats = 0;
	a->ntmpls = 0;
	a->texts_len = 0;
	sess_reset(a->sess);
	a->slow.n = a->running.n = 0;
	a->slow.dropped = a->running.dropped = 0;
	a->keys_overflow = 0;
	a->statements = 0;
	a->keys = 0;
}

static size_t kview_names_len(const struct agg_kview *k)
{
	return (size_t)k->db_len + k->user_len + k->app_len + k->server_len;
}

static uint64_t kview_hash(const struct agg_kview *k)
{
	uint64_t a0, a1, seed;

	memcpy(&a0, k->addr, 8);
	memcpy(&a1, k->addr + 8, 8);
	/* The lengths go in the seed so ("ab", "c") and ("a", "bc") differ. */
	seed = k->template_id ^ (a0 * 0x9e3779b97f4a7c15ull) ^ (a1 * 0xc2b2ae3d27d4eb4full) ^
	       ((uint64_t)k->family << 56) ^ ((uint64_t)k->command << 48) ^
	       ((uint64_t)k->db_len << 32) ^ ((uint64_t)k->user_len << 16) ^
	       ((uint64_t)k->app_len << 40) ^ (uint64_t)k->server_len;
	return XXH3_64bits_withSeed(k->names, kview_names_len(k), seed);
}

/* Equality of two 16-byte addresses in two loads each: this runs once per statement, and a
 * libc memcmp call for 16 bytes costs more than the comparison. */
static bool addr_eq(const uint8_t *a, const uint8_t *b)
{
	uint64_t x[2], y[2];

	memcpy(x, a, 16);
	memcpy(y, b, 16);
	return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
}

static bool key_eq(const struct agg_key *s, const struct agg_kview *k)
{
	size_t names = kview_names_len(k);

	return s->template_id == k->template_id && s->family == k->family &&
	       s->command == k->command && s->db_len == k->db_len && s->user_len == k->user_len &&
	       s->app_len == k->app_len && s->server_len == k->server_len &&
	       addr_eq(s->addr, k->addr) &&
	       (!names || memcmp(s->names, k->names, names) == 0);
}

static void kview_from_key(struct agg_kview *v, const struct agg_key *k)
{
	v->template_id = k->template_id;
	v->addr = k->addr;
	v->family = k->family;
	v->command = k->command;
	v->db_len = k->db_len;
	v->user_len = k->user_len;
	v->app_len = k->app_len;
	v->server_len = k->server_len;
	v->names = k->names;
}

static uint16_t name_len(const char *s, size_t n)
{
	return s ? (uint16_t)(n < AGG_NAME_MAX ? n : AGG_NAME_MAX) : 0;
}

void agg_key_set_names(struct agg_key *k, const char *db, size_t db_len, const char *user,
		       size_t user_len)
{
	k->db_len = name_len(db, db_len);
	k->user_len = name_len(user, user_len);
	k->app_len = 0;
	k->server_len = 0;
	if (k->db_len)
		memcpy(k->names, db, k->db_len);
	if (k->user_len)
		memcpy(k->names + k->db_len, user, k->user_len);
}

void agg_key_set_dims(struct agg_key *k, const char *app, size_t app_len, const char *server,
		      size_t server_len)
{
	char *p = k->names + k->db_len + k->user_len;

	k->app_len = (uint8_t)(app ? (app_len < AGG_APP_MAX ? app_len : AGG_APP_MAX) : 0);
	k->server_len =
		(uint16_t)(server ? (server_len < AGG_SERVER_MAX ? server_len : AGG_SERVER_MAX) : 0);
	if (k->app_len)
		memcpy(p, app, k->app_len);
	if (k->server_len)
		memcpy(p + k->app_len, server, k->server_len);
}

/*
 * Builds a lookup view of an input. addr16 receives the normalised address and names
 * (2 * AGG_NAME_MAX bytes) the packed db and user.
 */
static void kview_from_input(struct agg_kview *v, const struct agg_input *in, uint8_t *addr16,
			     char *names)
{
	memset(addr16, 0, 16);
	if (in->family == AF_INET)
		memcpy(addr16, in->client_addr, 4);
	else if (in->family == AF_INET6)
		memcpy(addr16, in->client_addr, 16);
	v->template_id = in->template_id;
	v->addr = addr16;
	v->family = in->family == AF_INET || in->family == AF_INET6 ? in->family : 0;
	v->command = (unsigned int)in->command < AGG_CMD_COUNT ? (uint8_t)in->command :
								   AGG_CMD_OTHER;
	v->db_len = name_len(in->db, in->db_len);
	v->user_len = name_len(in->user, in->user_len);
	v->app_len = 0;
	v->server_len = 0;
	if (v->db_len)
		memcpy(names, in->db, v->db_len);
	if (v->user_len)
		memcpy(names + v->db_len, in->user, v->user_len);
	v->names = names;
}

static struct agg_slot *tmpl_slot(const struct agg *a, uint64_t id)
{
	uint64_t h = XXH3_64bits(&id, sizeof(id));
	uint32_t i = (uint32_t)h & a->slot_mask;

	for (;; i = (i + 1) & a->slot_mask) {
		struct agg_slot *s = &a->tslots[i];

		if (!s->idx || a->tmpls[s->idx - 1].id == id)
			return s;
	}
}

/* Remembers a template text for id unless already known. Returns 0 or -ENOMEM. */
static int tmpl_store(struct agg *a, uint64_t id, const char *text, size_t len)
{
	struct agg_slot *s = tmpl_slot(a, id);
	size_t cap;
	char *p;

	if (s->idx || !text || a->ntmpls >= a->cfg.max_keys)
		return 0;
	if (len > a->cfg.template_max_len)
		len = a->cfg.template_max_len;
	if (a->texts_len + len > UINT32_MAX)
		return 0; /* offsets are 32-bit; only absurd configs get here */
	/* The first store allocates even for an empty text (COM_QUERY ""): texts is then never
	 * NULL while a template exists, so neither memcpy nor agg_template_at() sees a NULL base. */
	if (!a->texts || a->texts_len + len > a->texts_cap) {
		cap = a->texts_cap ? a->texts_cap : 4096;
		while (cap < a->texts_len + len)
			cap *= 2;
		p = realloc(a->texts, cap);
		if (!p)
			return -ENOMEM;
		a->texts = p;
		a->texts_cap = cap;
	}
	memcpy(a->texts + a->texts_len, text, len);
	a->tmpls[a->ntmpls].id = id;
	a->tmpls[a->ntmpls].off = (uint32_t)a->texts_len;
	a->tmpls[a->ntmpls].len = (uint32_t)len;
	a->texts_len += len;
	s->idx = ++a->ntmpls;
	return 0;
}

static int stats_grow(struct agg *a)
{
	uint32_t cap = a->stats_cap ? a->stats_cap * 2 : 64;
	struct agg_stat *p;

	if (cap > a->cfg.max_keys)
		cap = a->cfg.max_keys;
	p = realloc(a->stats, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	a->stats = p;
	a->stats_cap = cap;
	return 0;
}

/*
 * Finds or creates the row for k. Returns the row ("other" when the table is full or memory
 * ran out, *err then -ENOMEM), never NULL.
 */
static struct agg_stat *stat_lookup_hashed(struct agg *a, const struct agg_kview *k, uint64_t h,
					   const char *tmpl, size_t tmpl_len, agg_text_fn text,
					   void *ctx, int *err)
{
	uint32_t i = (uint32_t)h & a->slot_mask;
	struct agg_slot *slot;
	struct agg_stat *s;
	struct agg_key *key;

	for (;; i = (i + 1) & a->slot_mask) {
		slot = &a->slots[i];
		if (!slot->idx)
			break;
		if (slot->hash == h && key_eq(&a->stats[slot->idx - 1].key, k))
			return &a->stats[slot->idx - 1];
	}
	if (a->nstats >= a->cfg.max_keys)
		return &a->other[k->command];
	if (a->nstats == a->stats_cap && (*err = stats_grow(a)))
		return &a->other[k->command];
	if (!tmpl && text)
		tmpl = text(ctx, k->template_id, &tmpl_len);
	*err = tmpl_store(a, k->template_id, tmpl, tmpl_len);
	s = &a->stats[a->nstats];
	/* Only the fixed part: the names buffer past the used bytes is never read. */
	memset(s, 0, offsetof(struct agg_stat, key.names));
	key = &s->key;
	key->template_id = k->template_id;
	memcpy(key->addr, k->addr, 16);
	key->family = k->family;
	key->command = k->command;
	key->db_len = k->db_len;
	key->user_len = k->user_len;
	key->app_len = k->app_len;
	key->server_len = k->server_len;
	memcpy(key->names, k->names, kview_names_len(k));
	slot->hash = h;
	slot->idx = ++a->nstats;
	return s;
}

static struct agg_stat *stat_lookup(struct agg *a, const struct agg_kview *k, const char *tmpl,
				    size_t tmpl_len, agg_text_fn text, void *ctx, int *err)
{
	return stat_lookup_hashed(a, k, kview_hash(k), tmpl, tmpl_len, text, ctx, err);
}

/*
 * The table stays sorted so that "above every kept code" is one comparison with the last,
 * and the code evicted by a smaller one is always the last (agg.h says why the smallest).
 */
void agg_stat_err_add(struct agg_stat *s, uint16_t code, uint64_t n)
{
	codes_add(s->err_code, s->err_count, &s->err_n, &s->err_other, AGG_ERR_CODES, code, n);
}

static bool slow_less(const struct agg_slow *x, const struct agg_slow *y)
{
	if (x->latency_us != y->latency_us)
		return x->latency_us < y->latency_us;
	return x->ts_us > y->ts_us; /* equal latency: the later one is evicted first */
}

static void heap_swap(uint32_t *h, uint32_t i, uint32_t j)
{
	uint32_t t = h[i];

	h[i] = h[j];
	h[j] = t;
}

static void heap_up(struct sample_set *set, uint32_t i)
{
	while (i && slow_less(&set->v[set->heap[i]], &set->v[set->heap[(i - 1) / 2]])) {
		heap_swap(set->heap, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct sample_set *set, uint32_t i)
{
	uint32_t l, r, m;

	for (;;) {
		l = 2 * i + 1;
		r = l + 1;
		m = i;
		if (l < set->n && slow_less(&set->v[set->heap[l]], &set->v[set->heap[m]]))
			m = l;
		if (r < set->n && slow_less(&set->v[set->heap[r]], &set->v[set->heap[m]]))
			m = r;
		if (m == i)
			return;
		heap_swap(set->heap, i, m);
		i = m;
	}
}

static int set_init(struct sample_set *set, uint32_t max, uint32_t sql_cap, uint32_t tmpl_cap)
{
	set->max = max;
	set->sql_cap = sql_cap;
	set->tmpl_cap = tmpl_cap;
	set->v = calloc(max ? max : 1, sizeof(*set->v));
	set->heap = calloc(max ? max : 1, sizeof(*set->heap));
	set->text = malloc((size_t)(max ? max : 1) * ((size_t)sql_cap + tmpl_cap));
	if (!set->v || !set->heap || !set->text)
		return -ENOMEM;
	for (uint32_t i = 0; i < max; i++) {
		set->v[i].sql = set->text + (size_t)i * ((size_t)sql_cap + tmpl_cap);
		set->v[i].tmpl = tmpl_cap ? set->v[i].sql + sql_cap : NULL;
	}
	return 0;
}

static void set_free(struct sample_set *set)
{
	free(set->text);
	free(set->v);
	free(set->heap);
}

/*
 * Picks the slot for a new sample: a free one, or the shortest kept one when the candidate
 * is longer. NULL = not kept (counted as dropped).
 */
static struct agg_slow *slow_slot(struct sample_set *set, const struct agg_slow *cand,
				  bool *is_new)
{
	if (set->n < set->max) {
		set->heap[set->n] = set->n;
		*is_new = true;
		return &set->v[set->n];
	}
	set->dropped++;
	if (!set->max || !slow_less(&set->v[set->heap[0]], cand))
		return NULL;
	*is_new = false;
	return &set->v[set->heap[0]];
}

static void slow_commit(struct sample_set *set, bool is_new)
{
	if (is_new)
		heap_up(set, set->n++);
	else
		heap_down(set, 0);
}

static void copy_text(char *dst, uint32_t *dst_len, bool *cut, const char *src, size_t len,
		      uint32_t cap)
{
	*cut = *cut || len > cap;
	*dst_len = (uint32_t)(len > cap ? cap : len);
	if (*dst_len)
		memcpy(dst, src, *dst_len);
}

static void slow_fill(struct sample_set *set, struct agg_slow *d, const struct agg_slow *s,
		      const char *sql, size_t len)
{
	char *buf = d->sql, *tbuf = d->tmpl;
	bool tcut = false;

	*d = *s;
	d->sql = buf;
	d->tmpl = tbuf;
	copy_text(d->sql, &d->sql_len, &d->sql_truncated, sql, len, set->sql_cap);
	d->tmpl_len = 0;
	if (tbuf && s->tmpl)
		copy_text(d->tmpl, &d->tmpl_len, &tcut, s->tmpl, s->tmpl_len, set->tmpl_cap);
}

static int set_offer(struct sample_set *set, const struct agg_slow *s)
{
	struct agg_slow *d;
	bool is_new;

	d = slow_slot(set, s, &is_new);
	if (!d)
		return 0;
	slow_fill(set, d, s, s->sql, s->sql_len);
	slow_commit(set, is_new);
	return 0;
}

int agg_merge_slow(struct agg *a, const struct agg_slow *s)
{
	return set_offer(&a->slow, s);
}

int agg_merge_running(struct agg *a, const struct agg_slow *s)
{
	return set_offer(&a->running, s);
}

/* The sample of in (key fields from k); sql and tmpl point into in. */
static void sample_of(struct agg_slow *cand, const struct agg_input *in,
		      const struct agg_kview *k)
{
	memset(cand, 0, sizeof(*cand));
	cand->ts_us = in->ts_us;
	cand->latency_us = in->latency_us;
	cand->template_id = in->template_id;
	memcpy(cand->addr, k->addr, 16);
	cand->family = k->family;
	cand->port = in->client_port;
	cand->status = in->status;
	cand->error_code = in->error_code;
	cand->db_len = k->db_len;
	cand->user_len = k->user_len;
	memcpy(cand->db, k->names, k->db_len);
	memcpy(cand->user, k->names + k->db_len, k->user_len);
	cand->sql = (char *)(in->sql ? in->sql : "");
	cand->sql_len = (uint32_t)(in->sql ? (in->sql_len > UINT32_MAX ? UINT32_MAX : in->sql_len) : 0);
	cand->sql_truncated = in->sql && in->sql_len > UINT32_MAX;
	cand->tmpl = (char *)in->template_text;
	cand->tmpl_len = (uint32_t)(in->template_text && in->template_len <= UINT32_MAX ?
					    in->template_len : 0);
}

static void slow_add(struct sample_set *set, const struct agg_input *in,
		     const struct agg_kview *k)
{
	struct agg_slow cand;

	/* Decide first: most slow statements of a busy period are not kept, and building a
	 * candidate copies names. */
	cand.latency_us = in->latency_us;
	cand.ts_us = in->ts_us;
	if (set->n >= set->max && (!set->max || !slow_less(&set->v[set->heap[0]], &cand))) {
		set->dropped++;
		return;
	}
	sample_of(&cand, in, k);
	set_offer(set, &cand);
}

int agg_add(struct agg *a, const struct agg_input *in)
{
	char names[2 * AGG_NAME_MAX];
	struct agg_kview k;
	struct agg_stat *s;
	uint8_t addr[16];
	int err = 0, herr;

	kview_from_input(&k, in, addr, names);
	s = stat_lookup(a, &k, in->template_text, in->template_text ? in->template_len : 0, NULL,
			NULL, &err);
	if (s->is_other)
		a->keys_overflow++;
	a->statements++;
	s->count++;
	if (in->status == AGG_STATUS_ERROR) {
		s->errors++;
		agg_stat_err_add(s, in->error_code, 1);
	}
	s->rows_sent += in->rows_sent;
	s->rows_affected += in->rows_affected;
	s->bytes_in += in->bytes_in;
	s->bytes_out += in->bytes_out;
	s->no_index_used += in->no_index_used;
	herr = hist_add(&s->lat, &a->pool, in->latency_us);
	if (in->latency_us >= a->cfg.slow_threshold_us)
		slow_add(&a->slow, in, &k);
	return err ? err : herr;
}

int agg_add_running(struct agg *a, const struct agg_input *in)
{
	char names[2 * AGG_NAME_MAX];
	struct agg_kview k;
	uint8_t addr[16];

	kview_from_input(&k, in, addr, names);
	slow_add(&a->running, in, &k);
	return 0;
}

int agg_merge_stat(struct agg *a, const struct agg_stat *src, const char *tmpl, size_t tmpl_len)
{
	struct agg_kview k;
	struct agg_stat *d;
	unsigned int i;
	int err = 0, herr;

	kview_from_key(&k, &src->key);
	if (k.command >= AGG_CMD_COUNT)
		k.command = AGG_CMD_OTHER;
	d = src->is_other ? &a->other[k.command] :
			    stat_lookup(a, &k, tmpl, tmpl_len, NULL, NULL, &err);
	if (d->is_other)
		a->keys_overflow += src->count;
	a->statements += src->count;
	d->count += src->count;
	d->errors += src->errors;
	for (i = 0; i < src->err_n && i < AGG_ERR_CODES; i++)
		agg_stat_err_add(d, src->err_code[i], src->err_count[i]);
	d->err_other += src->err_other;
	d->rows_sent += src->rows_sent;
	d->rows_affected += src->rows_affected;
	d->bytes_in += src->bytes_in;
	d->bytes_out += src->bytes_out;
	d->no_index_used += src->no_index_used;
	herr = hist_merge(&d->lat, &a->pool, &src->lat);
	return err ? err : herr;
}

static void kview_from_row(struct agg_kview *k, const struct agg_row *r)
{
	k->template_id = r->template_id;
	k->addr = r->addr;
	k->family = r->family;
	k->command = r->command < AGG_CMD_COUNT ? r->command : AGG_CMD_OTHER;
	k->db_len = r->db_len;
	k->user_len = r->user_len;
	k->app_len = r->app_len;
	k->server_len = r->server_len;
	k->names = r->names;
}

/* Adds r's counters, codes and buckets into d (r's row, found or made). */
static int row_add(struct agg *a, struct agg_stat *d, const struct agg_row *r)
{
	if (d->is_other)
		a->keys_overflow += r->count;
	a->statements += r->count;
	d->count += r->count;
	d->errors += r->errors;
	for (unsigned int i = 0; i < r->err_n && i < AGG_ERR_CODES; i++)
		agg_stat_err_add(d, r->err_code[i], r->err_count[i]);
	d->err_other += r->err_other;
	d->rows_sent += r->rows_sent;
	d->rows_affected += r->rows_affected;
	d->bytes_in += r->bytes_in;
	d->bytes_out += r->bytes_out;
	d->no_index_used += r->no_index_used;
	return hist_merge_cells(&d->lat, &a->pool, r->cells, r->ncells, r->lat_summary, r->lat_sum,
				r->lat_min, r->lat_max);
}

int agg_merge_row(struct agg *a, const struct agg_row *r, agg_text_fn text, void *ctx)
{
	return agg_merge_rows(a, r, 1, text, ctx);
}

int agg_merge_rows(struct agg *a, const struct agg_row *rows, size_t n, agg_text_fn text,
		   void *ctx)
{
	struct agg_kview k[AGG_BATCH];
	uint64_t h[AGG_BATCH];
	int err, ret = 0;

	for (size_t at = 0; at < n; at += AGG_BATCH) {
		size_t m = n - at < AGG_BATCH ? n - at : AGG_BATCH;

		/*
		 * A period's table is larger than the caches (10,000 rows of a full key are some
		 * 13 MB): each lookup waited for its slot, then for its row. Hashing a batch first
		 * and prefetching the slots, then the rows they name, lets those misses overlap.
		 */
		for (size_t i = 0; i < m; i++) {
			kview_from_row(&k[i], &rows[at + i]);
			h[i] = kview_hash(&k[i]);
			__builtin_prefetch(&a->slots[(uint32_t)h[i] & a->slot_mask]);
		}
		for (size_t i = 0; i < m; i++) {
			const struct agg_slot *sl = &a->slots[(uint32_t)h[i] & a->slot_mask];

			if (sl->idx && sl->hash == h[i]) {
				const struct agg_stat *st = &a->stats[sl->idx - 1];

				__builtin_prefetch(&st->key);
				__builtin_prefetch(st);
			}
		}
		for (size_t i = 0; i < m; i++) {
			const struct agg_row *r = &rows[at + i];
			struct agg_stat *d;

			err = 0;
			d = r->is_other ? &a->other[k[i].command] :
					  stat_lookup_hashed(a, &k[i], h[i], NULL, 0, text, ctx, &err);
			ret = ret ?: err;
			err = row_add(a, d, r);
			ret = ret ?: err;
		}
	}
	return ret;
}

const struct agg_config *agg_config(const struct agg *a)
{
	return &a->cfg;
}

/* Everything of src but its keyed rows into dst: "other" rows, sessions, slow and running. */
static int merge_rest(struct agg *dst, const struct agg *src)
{
	int err, ret = 0;
	uint32_t i;

	for (i = 0; i < AGG_CMD_COUNT; i++) {
		if (!src->other[i].count)
			continue;
		/* Counted in dst's keys_overflow by agg_merge_stat, as it was in src's. */
		err = agg_merge_stat(dst, &src->other[i], NULL, 0);
		if (err)
			ret = err;
	}
	err = sess_merge(dst->sess, src->sess);
	if (err)
		ret = err;
	for (i = 0; i < src->slow.n; i++)
		set_offer(&dst->slow, &src->slow.v[i]);
	dst->slow.dropped += src->slow.dropped;
	for (i = 0; i < src->running.n; i++)
		set_offer(&dst->running, &src->running.v[i]);
	dst->running.dropped += src->running.dropped;
	return ret;
}

int agg_merge(struct agg *dst, const struct agg *src)
{
	const char *text;
	size_t len = 0;
	uint32_t i;
	int err, ret = 0;

	for (i = 0; i < src->nstats; i++) {
		text = agg_template(src, src->stats[i].key.template_id, &len);
		err = agg_merge_stat(dst, &src->stats[i], text, len);
		if (err)
			ret = err;
	}
	err = merge_rest(dst, src);
	dst->keys |= src->keys;
	return ret ? ret : err;
}

/* s re-keyed to p into *out (sharing s's histogram buckets: read only). */
static void project_stat(struct agg_stat *out, const struct agg_stat *s,
			 const struct agg_project *p)
{
	const struct agg_key *k = &s->key;
	const char *app = NULL;
	size_t app_len = 0;
	unsigned int keys = p->keys;

	/* Everything but the key: counters, codes, histogram (by value: read only). */
	memcpy(out, s, offsetof(struct agg_stat, key));
	memset(&out->key, 0, offsetof(struct agg_key, names));
	out->key.command = k->command;
	if (keys & AGG_DIM_TEMPLATE)
		out->key.template_id = k->template_id;
	if (keys & AGG_DIM_CLIENT) {
		out->key.family = k->family;
		memcpy(out->key.addr, k->addr, 16);
	}
	agg_key_set_names(&out->key, keys & AGG_DIM_DB ? agg_key_db(k) : NULL, k->db_len,
			  keys & AGG_DIM_USER ? agg_key_user(k) : NULL, k->user_len);
	if ((keys & AGG_DIM_APP) && p->app && k->family)
		app = p->app(p->app_ctx, k->family, k->addr, &app_len);
	agg_key_set_dims(&out->key, app, app_len,
			 keys & AGG_DIM_SERVER ? p->server : NULL,
			 p->server ? strlen(p->server) : 0);
}

int agg_merge_keyed(struct agg *dst, const struct agg *src, const struct agg_project *p)
{
	struct agg_stat *t;
	const char *text;
	size_t len = 0;
	uint32_t i;
	int err, ret = 0;

	t = malloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (i = 0; i < src->nstats; i++) {
		const struct agg_stat *s = &src->stats[i];

		project_stat(t, s, p);
		text = p->keys & AGG_DIM_TEMPLATE ? agg_template(src, s->key.template_id, &len) :
						    NULL;
		err = agg_merge_stat(dst, t, text, text ? len : 0);
		if (err)
			ret = err;
	}
	free(t);
	err = merge_rest(dst, src);
	dst->keys |= p->keys | AGG_DIM_COMMAND;
	return ret ? ret : err;
}

size_t agg_stat_count(const struct agg *a)
{
	return a->nstats;
}

const struct agg_stat *agg_stat_at(const struct agg *a, size_t i)
{
	return i < a->nstats ? &a->stats[i] : NULL;
}

const struct agg_stat *agg_other(const struct agg *a, enum agg_cmd c)
{
	if ((unsigned int)c >= AGG_CMD_COUNT || !a->other[c].count)
		return NULL;
	return &a->other[c];
}

size_t agg_slow_count(const struct agg *a)
{
	return a->slow.n;
}

const struct agg_slow *agg_slow_at(const struct agg *a, size_t i)
{
	return i < a->slow.n ? &a->slow.v[i] : NULL;
}

uint64_t agg_slow_dropped(const struct agg *a)
{
	return a->slow.dropped;
}

void agg_add_slow_dropped(struct agg *a, uint64_t n)
{
	a->slow.dropped += n;
}

struct sess_table *agg_sessions(struct agg *a)
{
	return a->sess;
}

const struct sess_table *agg_sessions_const(const struct agg *a)
{
	return a->sess;
}

size_t agg_running_count(const struct agg *a)
{
	return a->running.n;
}

const struct agg_slow *agg_running_at(const struct agg *a, size_t i)
{
	return i < a->running.n ? &a->running.v[i] : NULL;
}

uint64_t agg_running_dropped(const struct agg *a)
{
	return a->running.dropped;
}

void agg_add_running_dropped(struct agg *a, uint64_t n)
{
	a->running.dropped += n;
}

uint64_t agg_keys_overflow(const struct agg *a)
{
	return a->keys_overflow;
}

uint64_t agg_statements(const struct agg *a)
{
	return a->statements;
}

size_t agg_template_count(const struct agg *a)
{
	return a->ntmpls;
}

int agg_template_at(const struct agg *a, size_t i, uint64_t *id, const char **text, size_t *len)
{
	if (i >= a->ntmpls)
		return -EINVAL;
	*id = a->tmpls[i].id;
	*text = a->texts + a->tmpls[i].off;
	*len = a->tmpls[i].len;
	return 0;
}

const char *agg_template(const struct agg *a, uint64_t id, size_t *len)
{
	struct agg_slot *s = tmpl_slot(a, id);

	if (!s->idx)
		return NULL;
	*len = a->tmpls[s->idx - 1].len;
	return a->texts + a->tmpls[s->idx - 1].off;
}
