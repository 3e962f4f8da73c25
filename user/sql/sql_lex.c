// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The SQL tokenizer: MySQL/MariaDB lexical rules ("Schema Object Names", "Literal Values",
 * "Comments") without building any tree; one pass, no allocation. */
#include <string.h>

#include "sql/sql_lex.h"

const uint8_t sql_lex_class[256] = {
	[0 ... ' '] = SQL_LEX_C_SPACE,
	['0' ... '9'] = SQL_LEX_C_IDENT | SQL_LEX_C_DIGIT,
	['A' ... 'Z'] = SQL_LEX_C_IDENT,
	['a' ... 'z'] = SQL_LEX_C_IDENT,
	['_'] = SQL_LEX_C_IDENT,
	['$'] = SQL_LEX_C_IDENT,
	[0x80 ... 0xff] = SQL_LEX_C_IDENT,
};

void sql_lex_init(struct sql_lexer *lx, const char *sql, size_t len)
{
	lx->p = sql;
	lx->end = sql + len;
	lx->prev = SQL_TOK_EOF;
	lx->in_exec = 0;
}

int sql_lex_peek(const struct sql_lexer *lx)
{
	const char *p = lx->p;

	while (p < lx->end && sql_lex_is_space(*p))
		p++;
	return p < lx->end ? (unsigned char)*p : -1;
}

static inline int is_digit(unsigned char c)
{
	return sql_lex_class[c] & SQL_LEX_C_DIGIT;
}

static inline int is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static const char *scan_ident(const char *p, const char *end)
{
	while (p < end && sql_lex_is_ident(*p))
		p++;
	return p;
}

/* A quoted run: the quote doubled is an escape and so is a backslash (unless q is '`'). */
static const char *scan_quoted(const char *p, const char *end, char q)
{
	for (p++; p < end; p++) {
		if (*p == '\\' && q != '`') {
			p++;
			continue;
		}
		if (*p == q) {
			if (p + 1 < end && p[1] == q) {
				p++;
				continue;
			}
			return p + 1;
		}
	}
	return end;
}

static const char *scan_to_eol(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', end - p);

	return nl ? nl : end;
}

static const char *scan_comment_end(const char *p, const char *end)
{
	for (; p + 1 < end; p++)
		if (p[0] == '*' && p[1] == '/')
			return p + 2;
	return end;
}

/*
 * Numbers: 12, 1.5, .5, 1e-3, 0x1F, 0b101. A digit run that goes on with letters is an
 * identifier ("1abc", "0xZ"), as in the server's lexer. Returns the end, or NULL when the
 * run is an identifier.
 */
static const char *scan_number(const char *p, const char *end)
{
	const char *q;
	int is_int = 1;

	if (p + 2 < end && p[0] == '0' && (p[1] == 'x' || p[1] == 'b')) {
		int hex = p[1] == 'x';

		q = p + 2;
		while (q < end && (hex ? is_hex(*q) : (*q == '0' || *q == '1')))
			q++;
		if (q > p + 2 && (q == end || !sql_lex_is_ident(*q)))
			return q;
	}
	while (p < end && is_digit(*p))
		p++;
	if (p < end && *p == '.') {
		is_int = 0;
		for (p++; p < end && is_digit(*p);)
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		q = p + 1;
		if (q < end && (*q == '+' || *q == '-'))
			q++;
		if (q < end && is_digit(*q)) {
			while (q < end && is_digit(*q))
				q++;
			return q;
		}
		if (is_int)
			return NULL;
		return p;
	}
	if (is_int && p < end && sql_lex_is_ident(*p))
		return NULL;
	return p;
}

/*
 * Scans an identifier run from s, upper-casing its first SQL_KW_MAX_LEN bytes into up and
 * hashing them on the way, so the keyword lookup needs no second pass.
 */
static const char *scan_word(const char *s, const char *end, unsigned char *up, uint32_t *hash)
{
	const char *p = s, *stop = end - s > SQL_KW_MAX_LEN ? s + SQL_KW_MAX_LEN : end;
	uint32_t h = SQL_KW_HASH_INIT;

	for (; p < stop && sql_lex_is_ident(*p); p++) {
		unsigned char c = *p;

		if (c >= 'a' && c <= 'z')
			c -= 'a' - 'A';
		*up++ = c;
		h = SQL_KW_HASH_STEP(h, c);
	}
	*hash = h;
	return scan_ident(p, end);
}

static int lex_word(struct sql_lexer *lx, struct sql_token *t, const char *s)
{
	const char *end = lx->end;
	unsigned char up[SQL_KW_MAX_LEN];
	uint32_t hash;
	const char *p = scan_word(s, end, up, &hash);
	size_t n = p - s;

	/* X'..', B'..', N'..' and _charset'..' are literals, not words. */
	if (p < end && (*p == '\'' || (*p == '"' && *s == '_'))) {
		char c = *s | 0x20;

		if (n == 1 && (c == 'x' || c == 'b')) {
			lx->p = scan_quoted(p, end, '\'');
			return t->type = SQL_TOK_BINSTR;
		}
		if ((n == 1 && c == 'n') || (n > 1 && *s == '_')) {
			lx->p = scan_quoted(p, end, *p);
			return t->type = SQL_TOK_STRING;
		}
	}
	lx->p = p;
	t->kw = NULL;
	/* After "." and before ".name" a word is always an identifier (qualified names). */
	if (lx->prev != SQL_TOK_DOT &&
	    !(p + 1 < end && *p == '.' && (sql_lex_is_ident(p[1]) || p[1] == '`')))
		t->kw = sql_kw_lookup(up, n, hash);
	return t->type = SQL_TOK_WORD;
}

/* "/" "*" starts a comment, a hint (+), or an executable comment (! or M!). */
static int lex_slash_star(struct sql_lexer *lx, struct sql_token *t, const char *s)
{
	const char *end = lx->end;
	const char *p = s + 2;

	if (p < end && *p == '+') {
		lx->p = scan_comment_end(p, end);
		return t->type = SQL_TOK_HINT;
	}
	if (!lx->in_exec && p < end && (*p == '!' || (*p == 'M' && p + 1 < end && p[1] == '!'))) {
		const char *d;

		p += *p == 'M' ? 2 : 1;
		for (d = p; d < end && is_digit(*d);)
			d++;
		/* A version is 5 digits (MySQL) or 6 (MariaDB); more digits are content. */
		if (d - p == 5 || d - p == 6)
			p = d;
		else if (d - p > 6)
			p += 5;
		lx->p = p;
		lx->in_exec = 1;
		return t->type = SQL_TOK_EXEC_OPEN;
	}
	lx->p = scan_comment_end(p, end);
	return t->type = SQL_TOK_COMMENT;
}

static int lex_op(struct sql_lexer *lx, struct sql_token *t, const char *s)
{
	const char *end = lx->end;
	char a = s[0], b = s + 1 < end ? s[1] : 0;
	size_t n = 1;

	if (s + 2 < end && ((a == '<' && b == '=' && s[2] == '>') ||
			    (a == '-' && b == '>' && s[2] == '>')))
		n = 3;
	else if ((a == '<' && (b == '=' || b == '>' || b == '<')) ||
		 (a == '>' && (b == '=' || b == '>')) || (a == '!' && b == '=') ||
		 (a == ':' && b == '=') || (a == '|' && b == '|') || (a == '&' && b == '&') ||
		 (a == '-' && b == '>'))
		n = 2;
	lx->p = s + n;
	return t->type = SQL_TOK_OP;
}

static int lex_punct(struct sql_lexer *lx, struct sql_token *t, const char *s)
{
	const char *end = lx->end;
	unsigned char c = *s;

	switch (c) {
	case '(':
		lx->p = s + 1;
		return t->type = SQL_TOK_LPAREN;
	case ')':
		lx->p = s + 1;
		return t->type = SQL_TOK_RPAREN;
	case ',':
		lx->p = s + 1;
		return t->type = SQL_TOK_COMMA;
	case ';':
		lx->p = s + 1;
		return t->type = SQL_TOK_SEMI;
	case '?':
		lx->p = s + 1;
		return t->type = SQL_TOK_PARAM;
	case '.':
		/* "..." is what a template writes for a collapsed list: read back as one token. */
		if (s + 2 < end && s[1] == '.' && s[2] == '.') {
			lx->p = s + 3;
			return t->type = SQL_TOK_OP;
		}
		lx->p = s + 1;
		return t->type = SQL_TOK_DOT;
	case '@': {
		const char *p = s + 1;

		if (p < end && *p == '@')
			p++;
		if (p < end && (*p == '\'' || *p == '"' || *p == '`'))
			p = scan_quoted(p, end, *p);
		else
			p = scan_ident(p, end);
		lx->p = p;
		return t->type = SQL_TOK_VAR;
	}
	case '#':
		lx->p = scan_to_eol(s, end);
		return t->type = SQL_TOK_COMMENT;
	case '/':
		if (s + 1 < end && s[1] == '*')
			return lex_slash_star(lx, t, s);
		break;
	case '*':
		if (lx->in_exec && s + 1 < end && s[1] == '/') {
			lx->p = s + 2;
			lx->in_exec = 0;
			return t->type = SQL_TOK_EXEC_CLOSE;
		}
		break;
	case '-':
		/* "-- " needs a space or control byte after it; "--1" is minus minus one. */
		if (s + 1 < end && s[1] == '-' && (s + 2 == end || sql_lex_is_space(s[2]))) {
			lx->p = scan_to_eol(s, end);
			return t->type = SQL_TOK_COMMENT;
		}
		break;
	}
	return lex_op(lx, t, s);
}

static int lex_one(struct sql_lexer *lx, struct sql_token *t, const char *s)
{
	const char *end = lx->end;
	unsigned char c = *s;
	const char *p;

	if (c == '\'' || c == '"') {
		lx->p = scan_quoted(s, end, c);
		return t->type = SQL_TOK_STRING;
	}
	if (c == '`') {
		lx->p = scan_quoted(s, end, '`');
		return t->type = SQL_TOK_QIDENT;
	}
	if (is_digit(c) || (c == '.' && s + 1 < end && is_digit(s[1]) && lx->prev != SQL_TOK_WORD &&
			    lx->prev != SQL_TOK_QIDENT && lx->prev != SQL_TOK_RPAREN)) {
		/* After "." a digit run is part of a qualified name (t.1col). */
		p = lx->prev == SQL_TOK_DOT ? NULL : scan_number(s, end);
		if (p) {
			lx->p = p;
			return t->type = SQL_TOK_NUMBER;
		}
		return lex_word(lx, t, s);
	}
	if (sql_lex_is_ident(c))
		return lex_word(lx, t, s);
	return lex_punct(lx, t, s);
}

int sql_lex_next(struct sql_lexer *lx, struct sql_token *t)
{
	const char *p = lx->p, *end = lx->end;
	int type;

	while (p < end && sql_lex_is_space(*p))
		p++;
	t->p = p;
	t->kw = NULL;
	if (p == end) {
		lx->p = p;
		t->len = 0;
		return t->type = SQL_TOK_EOF;
	}
	type = lex_one(lx, t, p);
	t->len = lx->p - p;
	if (type != SQL_TOK_COMMENT && type != SQL_TOK_EXEC_OPEN && type != SQL_TOK_EXEC_CLOSE &&
	    type != SQL_TOK_HINT)
		lx->prev = type;
	return type;
}
