// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Reads a JSON document front to back, strictly, through simdjson's On-Demand API.
 *
 * Why not jread (simdjson's DOM): a master reads 100 slaves x 10,000 rows per period, and
 * with the DOM each row was read three times over: simdjson's second stage wrote the tape,
 * jread's strictness walk went over the tape again, and every jread_get searched a row's
 * members by name (bench/merge_bench: together 60% of the master's time per row). On-Demand
 * runs the first stage only (structure and UTF-8, vectorised) and parses each value where the
 * caller reads it, so a reader that visits every member once pays for the text once.
 *
 * Strictness, kept from jread: duplicate keys are caught here (a 64-bit filter on each
 * object's keys, exact comparisons only when it says "maybe"; a hash set past JPULL_SMALL
 * keys), integers above INT64_MAX are refused, and a value the caller does not read is walked
 * (walk()) so nothing in the document goes unchecked.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <new>

#include <simdjson.h>
#include <xxhash.h>

extern "C" {
#include "lib/jpull.h"
}

using namespace simdjson;

/* Deepest nesting of jpull_obj / jpull_arr (walk() is bounded by simdjson's own depth). */
#define JPULL_DEPTH 32
/* Keys of an object compared one by one; past this, a hash set. */
#define JPULL_SMALL 16
/* A reader kept for the thread's next document only while its buffers stay below this. */
#define JPULL_KEEP_BYTES (8u << 20)

struct jkey {
	const char *s; /* NULL: empty slot */
	size_t len;
};

/* The keys of one object, for the duplicate check. */
struct jkeys {
	uint64_t filter; /* bit (length, first and last byte) of every key seen */
	size_t n;
	struct jkey small[JPULL_SMALL];
	struct jkey *set; /* past JPULL_SMALL keys: open addressing, mask + 1 slots */
	size_t mask;
};

struct jlevel {
	bool is_obj;
	bool started;
	uint64_t known; /* jpull_member names seen (bit = index) */
	ondemand::object_iterator oit, oend;
	ondemand::array_iterator ait, aend;
	struct jkeys keys;
};

struct jpull {
	ondemand::parser parser;
	ondemand::document doc;
	char *text; /* the document, followed by SIMDJSON_PADDING zero bytes */
	size_t cap;
	const char *doc_text; /* what is being read: text, or the caller's */
	size_t len;
	bool failed;
	bool at_root; /* the value reached is the document itself */
	bool pending; /* the value reached has not been read */
	ondemand::value cur;
	struct jlevel lv[JPULL_DEPTH];
	int depth; /* levels entered */
};

struct jpull_spare {
	struct jpull *p = nullptr;
	~jpull_spare();
};
static thread_local struct jpull_spare spare;

static void jpull_delete(struct jpull *p)
{
	for (int i = 0; i < JPULL_DEPTH; i++)
		free(p->lv[i].keys.set);
	free(p->text);
	delete p;
}

jpull_spare::~jpull_spare()
{
	if (p)
		jpull_delete(p);
}

extern "C" struct jpull *jpull_new(void)
{
	struct jpull *p = spare.p;

	spare.p = nullptr;
	if (!p)
		p = new (std::nothrow) jpull();
	if (!p)
		errno = ENOMEM;
	return p;
}

extern "C" void jpull_free(struct jpull *p)
{
	if (!p)
		return;
	if (!spare.p && p->cap <= JPULL_KEEP_BYTES && p->parser.capacity() <= JPULL_KEEP_BYTES) {
		spare.p = p;
		return;
	}
	jpull_delete(p);
}

static int fail(struct jpull *p)
{
	p->failed = true;
	return -EINVAL;
}

/* A new object at a level: the set, if any, is emptied when the small list overflows. */
static void keys_reset(struct jkeys *k)
{
	k->filter = 0;
	k->n = 0;
}

static bool key_eq(const struct jkey *a, const char *s, size_t len)
{
	return a->len == len && memcmp(a->s, s, len) == 0;
}

/* Inserts into the hash set; true if the key was there already. */
static bool set_add(struct jkeys *k, const char *s, size_t len)
{
	size_t i = XXH3_64bits(s, len) & k->mask;

	for (; k->set[i].s; i = (i + 1) & k->mask)
		if (key_eq(&k->set[i], s, len))
			return true;
	k->set[i].s = s;
	k->set[i].len = len;
	return false;
}

/* Doubles the set (or makes its first 64 slots), keeping the keys it holds. */
static int set_grow(struct jkeys *k)
{
	size_t cap = k->set ? 2 * (k->mask + 1) : 64, old = k->set ? k->mask + 1 : 0;
	struct jkey *prev = k->set, *set = (struct jkey *)calloc(cap, sizeof(*set));

	if (!set)
		return -ENOMEM;
	k->set = set;
	k->mask = cap - 1;
	for (size_t i = 0; i < old; i++)
		if (prev[i].s)
			set_add(k, prev[i].s, prev[i].len);
	free(prev);
	return 0;
}

/* Records a key of the object; -EINVAL when it is there already, -ENOMEM. */
static int keys_add(struct jkeys *k, const char *s, size_t len)
{
	uint64_t bit = 1ull << ((len * 7 + (len ? (unsigned char)s[0] * 3 +
						 (unsigned char)s[len - 1] : 0)) & 63);
	int err;

	if (k->n < JPULL_SMALL) {
		/* The filter spares the comparisons for keys of other lengths and ends. */
		if (k->filter & bit)
			for (size_t i = 0; i < k->n; i++)
				if (key_eq(&k->small[i], s, len))
					return -EINVAL;
		k->filter |= bit;
		k->small[k->n].s = s;
		k->small[k->n++].len = len;
		return 0;
	}
	if (k->n == JPULL_SMALL) {
		/* A big object (a report's templates): its keys so far into the (emptied) set. */
		if (!k->set && (err = set_grow(k)))
			return err;
		memset(k->set, 0, (k->mask + 1) * sizeof(*k->set));
		for (size_t i = 0; i < JPULL_SMALL; i++)
			set_add(k, k->small[i].s, k->small[i].len);
	}
	if (2 * (k->n + 1) > k->mask + 1 && (err = set_grow(k)))
		return err;
	if (set_add(k, s, len))
		return -EINVAL;
	k->n++;
	return 0;
}

/* The key of a field: raw when it has no escapes (the usual case), else unescaped. */
static int field_key(ondemand::field &f, const char **key, size_t *len)
{
	const char *raw = f.key().raw(), *q = raw;
	std::string_view sv;

	while (*q != '"' && *q != '\\')
		q++;
	if (*q == '"') {
		*key = raw;
		*len = (size_t)(q - raw);
		return 0;
	}
	if (f.unescaped_key().get(sv))
		return -EINVAL;
	*key = sv.data();
	*len = sv.size();
	return 0;
}

static int walk(ondemand::value v, int depth);

static int walk_number(ondemand::value &v)
{
	ondemand::number_type t;
	int64_t i;
	double d;

	/* Counts are most numbers: one parse for them. */
	if (!v.get_int64().get(i))
		return 0;
	if (v.get_number_type().get(t) || t == ondemand::number_type::unsigned_integer)
		return -EINVAL;
	if (t == ondemand::number_type::floating_point_number)
		return v.get_double().get(d) ? -EINVAL : 0;
	return v.get_int64().get(i) ? -EINVAL : 0;
}

static int walk_object(ondemand::value &v, int depth)
{
	struct jkeys keys = {};
	ondemand::object o;
	int err = 0;

	if (v.get_object().get(o))
		return -EINVAL;
	for (auto r : o) {
		ondemand::field f;
		const char *key;
		size_t len;

		if (std::move(r).get(f) || field_key(f, &key, &len) || (err = keys_add(&keys, key, len)) ||
		    (err = walk(f.value(), depth + 1)))
			break;
	}
	free(keys.set);
	return err ? -EINVAL : 0;
}

/* Reads a value whole, checking every part of it. */
static int walk(ondemand::value v, int depth)
{
	ondemand::json_type t;
	std::string_view s;
	ondemand::array a;
	bool b;

	if (depth > 1024 || v.type().get(t))
		return -EINVAL;
	switch (t) {
	case ondemand::json_type::object:
		return walk_object(v, depth);
	case ondemand::json_type::array:
		if (v.get_array().get(a))
			return -EINVAL;
		for (auto r : a) {
			ondemand::value item;

			if (std::move(r).get(item) || walk(item, depth + 1))
				return -EINVAL;
		}
		return 0;
	case ondemand::json_type::number:
		return walk_number(v);
	case ondemand::json_type::string:
		return v.get_string().get(s) ? -EINVAL : 0;
	case ondemand::json_type::boolean:
		return v.get_bool().get(b) ? -EINVAL : 0;
	case ondemand::json_type::null:
		return v.is_null().get(b) || !b ? -EINVAL : 0;
	}
	return -EINVAL;
}

static_assert(JPULL_PADDING == SIMDJSON_PADDING, "jpull.h says simdjson's padding");

/* Starts reading buf[0..len), padded. */
static int load(struct jpull *p, const char *buf, size_t len)
{
	error_code e = p->parser.iterate(buf, len, len + SIMDJSON_PADDING).get(p->doc);

	if (e)
		return e == MEMALLOC ? -ENOMEM : -EINVAL;
	p->doc_text = buf;
	p->len = len;
	p->failed = false;
	p->at_root = true;
	p->pending = true;
	return 0;
}

extern "C" int jpull_load_in_place(struct jpull *p, const char *text, size_t len)
{
	p->failed = true;
	p->depth = 0;
	p->pending = false;
	if (!len)
		return -EINVAL;
	return load(p, text, len);
}

extern "C" int jpull_load(struct jpull *p, const char *text, size_t len)
{
	p->failed = true;
	p->depth = 0;
	p->pending = false;
	if (!len)
		return -EINVAL;
	if (p->cap < len + SIMDJSON_PADDING) {
		size_t cap = len + SIMDJSON_PADDING;
		char *t = (char *)malloc(cap);

		if (!t)
			return -ENOMEM;
		free(p->text);
		p->text = t;
		p->cap = cap;
	}
	memcpy(p->text, text, len);
	memset(p->text + len, 0, SIMDJSON_PADDING);
	return load(p, p->text, len);
}

extern "C" int jpull_end(struct jpull *p)
{
	std::string_view rest;

	if (p->failed || p->depth || p->pending)
		return fail(p);
	/*
	 * Nothing but blanks after the root value: On-Demand stops where the root value ends, so
	 * "{} {}" would read as "{}". Once the root value is read, raw_json() consumes nothing
	 * more and ends its view at the document's next token: the end of the text when there
	 * is none (simdjson 3.0 has no document::at_end(); tests/lib/test_jpull.c holds the
	 * cases).
	 */
	if (p->doc.raw_json().get(rest))
		return fail(p);
	for (const char *t = rest.data() + rest.size(); t < p->doc_text + p->len; t++)
		if (*t != ' ' && *t != '\t' && *t != '\n' && *t != '\r')
			return fail(p);
	return 0;
}

/* Starts reading the value reached: it may be read once. */
static int take(struct jpull *p)
{
	if (p->failed || !p->pending)
		return fail(p);
	p->pending = false;
	return 0;
}

extern "C" int jpull_type(struct jpull *p, enum jpull_type *t)
{
	ondemand::json_type jt;

	if (p->failed || !p->pending)
		return fail(p);
	if (p->at_root ? p->doc.type().get(jt) : p->cur.type().get(jt))
		return fail(p);
	switch (jt) {
	case ondemand::json_type::object: *t = JPULL_OBJ; break;
	case ondemand::json_type::array: *t = JPULL_ARR; break;
	case ondemand::json_type::number: *t = JPULL_NUM; break;
	case ondemand::json_type::string: *t = JPULL_STR; break;
	case ondemand::json_type::boolean: *t = JPULL_BOOL; break;
	default: *t = JPULL_NULL; break;
	}
	return 0;
}

static struct jlevel *push(struct jpull *p, bool is_obj)
{
	struct jlevel *l;

	if (p->depth == JPULL_DEPTH)
		return NULL;
	l = &p->lv[p->depth++];
	l->is_obj = is_obj;
	l->started = false;
	l->known = 0;
	keys_reset(&l->keys);
	return l;
}

extern "C" int jpull_obj(struct jpull *p)
{
	ondemand::object o;
	struct jlevel *l;

	if (take(p))
		return -EINVAL;
	if ((p->at_root ? p->doc.get_object().get(o) : p->cur.get_object().get(o)) ||
	    !(l = push(p, true)) || o.begin().get(l->oit) || o.end().get(l->oend))
		return fail(p);
	return 0;
}

extern "C" int jpull_arr(struct jpull *p)
{
	ondemand::array a;
	struct jlevel *l;

	if (take(p))
		return -EINVAL;
	if ((p->at_root ? p->doc.get_array().get(a) : p->cur.get_array().get(a)) ||
	    !(l = push(p, false)) || a.begin().get(l->ait) || a.end().get(l->aend))
		return fail(p);
	return 0;
}

/* Before moving on in the innermost level: the value reached and not read is walked. */
static int settle(struct jpull *p, bool is_obj)
{
	if (p->failed || !p->depth || p->lv[p->depth - 1].is_obj != is_obj)
		return fail(p);
	if (p->pending) {
		p->pending = false;
		if (p->at_root || walk(p->cur, p->depth))
			return fail(p);
	}
	return 0;
}

extern "C" int jpull_key(struct jpull *p, const char **key, size_t *len)
{
	struct jlevel *l;
	ondemand::field f;
	int err;

	if (settle(p, true))
		return -EINVAL;
	l = &p->lv[p->depth - 1];
	if (l->started)
		++l->oit;
	l->started = true;
	if (!(l->oit != l->oend)) {
		p->depth--;
		return 0;
	}
	if ((*l->oit).get(f) || field_key(f, key, len))
		return fail(p);
	err = keys_add(&l->keys, *key, *len);
	if (err) {
		p->failed = true;
		return err;
	}
	p->cur = std::move(f).value();
	p->at_root = false;
	p->pending = true;
	return 1;
}

/* A key of no escapes equal to name, compared in the text (the closing quote ends it). */
static bool raw_is(const char *raw, const struct jpull_name *name)
{
	/* The text is padded: reading up to name->len past a shorter key stays inside it. */
	if (!name->len)
		return raw[0] == '"';
	return raw[0] == name->s[0] && raw[name->len] == '"' &&
	       memcmp(raw, name->s, name->len) == 0;
}

static unsigned int name_find(const struct jpull_name *names, unsigned int n, const char *key,
			      size_t len)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (names[i].len == len && memcmp(names[i].s, key, len) == 0)
			break;
	return i;
}

extern "C" int jpull_member(struct jpull *p, const struct jpull_name *names, unsigned int n,
			    unsigned int *hint, unsigned int *which, const char **key,
			    size_t *len)
{
	struct jlevel *l;
	ondemand::field f;
	const char *raw;
	unsigned int i = n;
	int err;

	if (n > 64 || settle(p, true))
		return fail(p);
	l = &p->lv[p->depth - 1];
	if (l->started)
		++l->oit;
	l->started = true;
	if (!(l->oit != l->oend)) {
		p->depth--;
		return 0;
	}
	if ((*l->oit).get(f))
		return fail(p);
	raw = f.key().raw();
	if (*hint < n && raw_is(raw, &names[*hint]))
		i = *hint;
	for (unsigned int k = 0; i == n && k < n; k++)
		if (raw_is(raw, &names[k]))
			i = k;
	if (i == n) {
		/* Not a name as written: unescaped, it may still be one. */
		if (field_key(f, key, len))
			return fail(p);
		i = name_find(names, n, *key, *len);
		if (i == n && (err = keys_add(&l->keys, *key, *len))) {
			p->failed = true;
			return err;
		}
	}
	if (i < n) {
		if (l->known & (1ull << i))
			return fail(p);
		l->known |= 1ull << i;
		*key = names[i].s;
		*len = names[i].len;
		*hint = i + 1;
	}
	*which = i;
	p->cur = std::move(f).value();
	p->at_root = false;
	p->pending = true;
	return 1;
}

/* The index of the field whose name raw (a key in the text) is: names[hint] first. */
static unsigned int field_at(const struct jpull_field *fields, unsigned int n, unsigned int hint,
			     const char *raw)
{
	const struct jpull_name *nm;

	if (hint < n) {
		nm = (const struct jpull_name *)&fields[hint];
		if (raw_is(raw, nm))
			return hint;
	}
	for (unsigned int k = 0; k < n; k++) {
		nm = (const struct jpull_name *)&fields[k];
		if (raw_is(raw, nm))
			return k;
	}
	return n;
}

/* One member's value by its field's kind. */
static int field_read(struct jpull *p, ondemand::value &v, enum jpull_kind kind,
		      struct jpull_val *out, unsigned int i,
		      int (*call)(void *ctx, struct jpull *p, unsigned int i), void *ctx)
{
	std::string_view sv;
	int64_t x;
	int err;

	switch (kind) {
	case JPULL_K_U64:
		if (v.get_int64().get(x) || x < 0)
			return -EINVAL;
		out->u64 = (uint64_t)x;
		return 0;
	case JPULL_K_STR:
		if (v.get_string().get(sv))
			return -EINVAL;
		out->s = sv.data();
		out->len = sv.size();
		return 0;
	case JPULL_K_CALL:
		p->cur = v;
		p->at_root = false;
		p->pending = true;
		err = call(ctx, p, i);
		if (err)
			return err;
		if (p->failed)
			return -EINVAL;
		if (p->pending) {
			p->pending = false;
			return walk(p->cur, p->depth);
		}
		return 0;
	case JPULL_K_WALK:
		break;
	}
	return walk(v, p->depth);
}

extern "C" int jpull_fields(struct jpull *p, const struct jpull_field *fields, unsigned int n,
			    struct jpull_val *out, uint64_t *seen,
			    int (*call)(void *ctx, struct jpull *p, unsigned int i), void *ctx)
{
	static_assert(offsetof(struct jpull_field, s) == offsetof(struct jpull_name, s) &&
			      offsetof(struct jpull_field, len) == offsetof(struct jpull_name, len),
		      "a field starts as a name");
	struct jkeys unknown;
	ondemand::object o;
	unsigned int hint = 0, i;
	int err = 0;

	*seen = 0;
	if (n > 64 || take(p))
		return fail(p);
	if (p->at_root ? p->doc.get_object().get(o) : p->cur.get_object().get(o))
		return fail(p);
	unknown.filter = 0;
	unknown.n = 0;
	unknown.set = NULL;
	for (auto r : o) {
		ondemand::field f;
		ondemand::value v;
		const char *key;
		size_t len;

		if (std::move(r).get(f)) {
			err = -EINVAL;
			break;
		}
		i = field_at(fields, n, hint, f.key().raw());
		if (i == n) {
			/* Not a name as written: unescaped, it may still be one. */
			if (field_key(f, &key, &len)) {
				err = -EINVAL;
				break;
			}
			for (i = 0; i < n; i++)
				if (fields[i].len == len && memcmp(fields[i].s, key, len) == 0)
					break;
			if (i == n && (err = keys_add(&unknown, key, len)))
				break;
		}
		v = std::move(f).value();
		if (i == n) {
			if ((err = walk(v, p->depth)))
				break;
			continue;
		}
		if (*seen & (1ull << i)) {
			err = -EINVAL;
			break;
		}
		*seen |= 1ull << i;
		hint = i + 1;
		if ((err = field_read(p, v, fields[i].kind, &out[i], i, call, ctx)))
			break;
	}
	free(unknown.set);
	if (err) {
		p->failed = true;
		return err == -ENOMEM ? -ENOMEM : err;
	}
	return 0;
}

extern "C" int jpull_item(struct jpull *p)
{
	struct jlevel *l;

	if (settle(p, false))
		return -EINVAL;
	l = &p->lv[p->depth - 1];
	if (l->started)
		++l->ait;
	l->started = true;
	if (!(l->ait != l->aend)) {
		p->depth--;
		return 0;
	}
	if ((*l->ait).get(p->cur))
		return fail(p);
	p->at_root = false;
	p->pending = true;
	return 1;
}

extern "C" int jpull_u64(struct jpull *p, uint64_t *v)
{
	int64_t i;

	if (take(p))
		return -EINVAL;
	/* A string is not a number, a fraction not a count. */
	if ((p->at_root ? p->doc.get_int64().get(i) : p->cur.get_int64().get(i)) || i < 0)
		return fail(p);
	*v = (uint64_t)i;
	return 0;
}

extern "C" int jpull_bool(struct jpull *p, int *v)
{
	bool b;

	if (take(p))
		return -EINVAL;
	if (p->at_root ? p->doc.get_bool().get(b) : p->cur.get_bool().get(b))
		return fail(p);
	*v = b;
	return 0;
}

extern "C" int jpull_str(struct jpull *p, const char **s, size_t *len)
{
	std::string_view sv;

	if (take(p))
		return -EINVAL;
	if (p->at_root ? p->doc.get_string().get(sv) : p->cur.get_string().get(sv))
		return fail(p);
	*s = sv.data();
	*len = sv.size();
	return 0;
}

extern "C" int jpull_skip(struct jpull *p)
{
	ondemand::value v;

	if (take(p))
		return -EINVAL;
	if (p->at_root) {
		/* A scalar document is no value On-Demand can hand out: read it by type. */
		ondemand::json_type t;

		if (p->doc.type().get(t))
			return fail(p);
		if (t == ondemand::json_type::object || t == ondemand::json_type::array) {
			if (p->doc.get_value().get(v) || walk(v, 0))
				return fail(p);
			return 0;
		}
		return fail(p); /* not needed by any reader: refuse rather than half-check */
	}
	if (walk(p->cur, p->depth))
		return fail(p);
	return 0;
}
