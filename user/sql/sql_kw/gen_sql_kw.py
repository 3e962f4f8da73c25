#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Generates user/sql/sql_kw.c and user/sql/sql_kw.h: the SQL keyword table of the lexer.

The table is a static open-addressing hash table computed here, so the lexer looks a
word up with one hash and usually one comparison, and needs no initialisation and no
mutable global. Run from the repository root: python3 user/sql/sql_kw/gen_sql_kw.py
Word lists: user/sql/sql_kw/sql_keywords.txt (always keywords) and user/sql/sql_kw/sql_functions.txt
(keywords only when followed by '(').
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))

# MariaDB reserved words ("Reserved Words" in the MariaDB Knowledge Base) plus the MySQL 8 ones.
RESERVED = """
ACCESSIBLE ADD ALL ALTER ANALYZE AND AS ASC ASENSITIVE BEFORE BETWEEN BIGINT BINARY BLOB BOTH BY
CALL CASCADE CASE CHANGE CHAR CHARACTER CHECK COLLATE COLUMN CONDITION CONSTRAINT CONTINUE CONVERT
CREATE CROSS CURRENT_DATE CURRENT_ROLE CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER CURSOR DATABASE
DATABASES DAY_HOUR DAY_MICROSECOND DAY_MINUTE DAY_SECOND DEC DECIMAL DECLARE DEFAULT DELAYED DELETE
DELETE_DOMAIN_ID DESC DESCRIBE DETERMINISTIC DISTINCT DISTINCTROW DIV DO_DOMAIN_IDS DOUBLE DROP DUAL
EACH ELSE ELSEIF ELSIF ENCLOSED ESCAPED EXCEPT EXISTS EXIT EXPLAIN FALSE FETCH FLOAT FLOAT4 FLOAT8
FOR FORCE FOREIGN FROM FULLTEXT GENERAL GRANT GROUP GROUPS HAVING HIGH_PRIORITY HOUR_MICROSECOND
HOUR_MINUTE HOUR_SECOND IF IGNORE IGNORE_DOMAIN_IDS IGNORE_SERVER_IDS IN INDEX INFILE INNER INOUT
INSENSITIVE INSERT INT INT1 INT2 INT3 INT4 INT8 INTEGER INTERSECT INTERVAL INTO IS ITERATE JOIN KEY
KEYS KILL LATERAL LEADING LEAVE LEFT LIKE LIMIT LINEAR LINES LOAD LOCALTIME LOCALTIMESTAMP LOCK LONG
LONGBLOB LONGTEXT LOOP LOW_PRIORITY MASTER_HEARTBEAT_PERIOD MASTER_SSL_VERIFY_SERVER_CERT MATCH
MAXVALUE MEDIUMBLOB MEDIUMINT MEDIUMTEXT MIDDLEINT MINUTE_MICROSECOND MINUTE_SECOND MOD MODIFIES
NATURAL NOT NO_WRITE_TO_BINLOG NULL NUMERIC OFFSET ON OPTIMIZE OPTION OPTIONALLY OR ORDER OUT OUTER
OUTFILE OVER PAGE_CHECKSUM PARSE_VCOL_EXPR PARTITION POSITION PRECISION PRIMARY PROCEDURE PURGE
RANGE READ READS READ_WRITE REAL RECURSIVE REF_SYSTEM_ID REFERENCES REGEXP RELEASE RENAME REPEAT
REPLACE REQUIRE RESIGNAL RESTRICT RETURN RETURNING REVOKE RIGHT RLIKE ROW_NUMBER ROWS SCHEMA SCHEMAS
SECOND_MICROSECOND SELECT SENSITIVE SEPARATOR SET SHOW SIGNAL SLOW SMALLINT SPATIAL SPECIFIC SQL
SQLEXCEPTION SQLSTATE SQLWARNING SQL_BIG_RESULT SQL_CALC_FOUND_ROWS SQL_SMALL_RESULT SSL STARTING
STATS_AUTO_RECALC STATS_PERSISTENT STATS_SAMPLE_PAGES STRAIGHT_JOIN TABLE TERMINATED THEN TINYBLOB
TINYINT TINYTEXT TO TRAILING TRIGGER TRUE UNDO UNION UNIQUE UNLOCK UNSIGNED UPDATE USAGE USE USING
UTC_DATE UTC_TIME UTC_TIMESTAMP VALUES VARBINARY VARCHAR VARCHARACTER VARYING WHEN WHERE WHILE
WINDOW WITH WRITE XOR YEAR_MONTH ZEROFILL
""".split()

# Reserved words that are called like functions or types: no space before their '('.
FUNC = """
IF LEFT RIGHT REPLACE INSERT CHAR CHARACTER MOD DATABASE SCHEMA CURRENT_DATE CURRENT_TIME
CURRENT_TIMESTAMP CURRENT_USER CURRENT_ROLE LOCALTIME LOCALTIMESTAMP UTC_DATE UTC_TIME UTC_TIMESTAMP
CONVERT DEFAULT MATCH REPEAT POSITION INTERVAL ROW_NUMBER BIGINT BINARY DEC DECIMAL DOUBLE FLOAT
FLOAT4 FLOAT8 INT INT1 INT2 INT3 INT4 INT8 INTEGER MEDIUMINT MIDDLEINT NUMERIC REAL SMALLINT TINYINT
VARBINARY VARCHAR VARCHARACTER
""".split()

# Reserved words that end an operand: a sign after them is a binary operator.
OPERAND = """
NULL TRUE FALSE CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER CURRENT_ROLE LOCALTIME
LOCALTIMESTAMP UTC_DATE UTC_TIME UTC_TIMESTAMP MAXVALUE
""".split()

# Words the template and the splitter react to; each gets an SQL_KW_<word> id.
SPECIAL = """
IN VALUES VALUE IS NOT NULL INTO TABLE KEY INDEX LIMIT REFERENCES VIEW CREATE PROCEDURE FUNCTION
TRIGGER EVENT PACKAGE BEGIN END IF CASE LOOP WHILE REPEAT THEN ELSE ELSEIF ELSIF DO CALL ATOMIC
FOR EXISTS SHOW WITH READ AS SET FROM JOIN UPDATE SELECT INSERT DELETE REPLACE USE DESC DESCRIBE
EXTRACT TIMESTAMPDIFF TIMESTAMPADD SQL_NO_CACHE SQL_CACHE SQL_BUFFER_RESULT
""".split()

# Reserved words that may follow a name or an operand (FROM, AND, ORDER, a column type): a
# non-reserved keyword in front of one of them is used as a name (docs/TEMPLATES.md).
FOLLOWS = """
FROM WHERE AND OR XOR AS ASC DESC IS NOT IN LIKE RLIKE REGEXP BETWEEN LIMIT ORDER GROUP HAVING
JOIN LEFT RIGHT INNER OUTER CROSS NATURAL STRAIGHT_JOIN ON USING SET VALUES UNION EXCEPT
INTERSECT FOR WHEN THEN ELSE DIV MOD COLLATE INTO WINDOW FORCE USE IGNORE SEPARATOR PARTITION
LOCK OFFSET DEFAULT PRIMARY UNIQUE REFERENCES UNSIGNED CHARACTER CHECK WITH
BIGINT BINARY DEC DECIMAL DOUBLE FLOAT FLOAT4 FLOAT8 INT INT1 INT2 INT3 INT4 INT8 INTEGER
MEDIUMINT MIDDLEINT NUMERIC REAL SMALLINT TINYINT VARBINARY VARCHAR VARCHARACTER CHAR BLOB
TINYBLOB MEDIUMBLOB LONGBLOB TINYTEXT MEDIUMTEXT LONGTEXT LONG
""".split()

SLOTS = 4096


def words(name):
    with open(os.path.join(HERE, name)) as f:
        return [l.strip().upper() for l in f if l.strip() and not l.startswith('#')]


def fnv1a(w):
    h = 2166136261
    for c in w.encode():
        h = ((h ^ c) * 16777619) & 0xffffffff
    return h


def main():
    kw = words('sql_keywords.txt')
    fn = words('sql_functions.txt')
    for w in SPECIAL:
        assert w in kw or w in fn, w
    for w in FOLLOWS:
        assert w in RESERVED, w
    kw += [w for w in RESERVED if w not in kw]
    entries = {}
    for w in kw:
        flags = []
        if w in RESERVED:
            flags.append('SQL_KW_F_RESERVED')
            if w in FUNC:
                flags.append('SQL_KW_F_FUNC')
            if w in OPERAND:
                flags.append('SQL_KW_F_OPERAND')
            if w in FOLLOWS:
                flags.append('SQL_KW_F_FOLLOWS')
        entries[w] = flags
    for w in fn:
        if w not in entries:
            entries[w] = ['SQL_KW_F_CALL_ONLY']
    names = sorted(entries)
    assert len(names) < 65535 and max(len(w) for w in names) <= 32
    table = [0] * SLOTS
    for i, w in enumerate(names):
        h = fnv1a(w) & (SLOTS - 1)
        while table[h]:
            h = (h + 1) & (SLOTS - 1)
        table[h] = i + 1
    maxlen = max(len(w) for w in names)

    with open(os.path.join(ROOT, 'user/sql/sql_kw.h'), 'w') as f:
        f.write('/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */\n')
        f.write('/* The SQL keyword table of the lexer (generated by user/sql/sql_kw/gen_sql_kw.py; '
                'do not edit). */\n')
        f.write('#ifndef MP_SQL_KW_H\n#define MP_SQL_KW_H\n\n#include <stddef.h>\n'
                '#include <stdint.h>\n\n')
        f.write('/* A reserved word: never an unquoted identifier. */\n'
                '#define SQL_KW_F_RESERVED 0x1\n')
        f.write('/* Called like a function or a type: no space before its "(". */\n'
                '#define SQL_KW_F_FUNC 0x2\n')
        f.write('/* Ends an operand (NULL, TRUE, CURRENT_DATE): a sign after it is binary. */\n'
                '#define SQL_KW_F_OPERAND 0x4\n')
        f.write('/* A function name: a keyword only when "(" follows. */\n'
                '#define SQL_KW_F_CALL_ONLY 0x8\n')
        f.write('/* A reserved word that may follow a name or an operand (FROM, AND, INT). */\n'
                '#define SQL_KW_F_FOLLOWS 0x10\n\n')
        f.write(f'#define SQL_KW_MAX_LEN {maxlen}\n\n')
        f.write('enum sql_kw_id {\n\tSQL_KW_OTHER = 0,\n')
        for w in SPECIAL:
            f.write(f'\tSQL_KW_{w},\n')
        f.write('};\n\n')
        f.write('struct sql_kw {\n\tconst char *word; /* upper case */\n\tuint8_t len;\n'
                '\tuint8_t flags; /* SQL_KW_F_* */\n\tuint16_t id; /* enum sql_kw_id */\n};\n\n')
        f.write('/*\n * Looks up word[0..len) case-insensitively. Returns the entry, or NULL when '
                'the word is\n * not a keyword. Pure: reads only constant tables.\n */\n')
        f.write('const struct sql_kw *sql_kw_find(const char *word, size_t len);\n\n')
        f.write('/* The hash sql_kw_lookup() expects: FNV-1a 32 over the upper-case bytes. */\n'
                '#define SQL_KW_HASH_INIT 2166136261u\n'
                '#define SQL_KW_HASH_STEP(h, c) (((h) ^ (c)) * 16777619u)\n\n')
        f.write('/*\n * Looks up an upper-cased word whose hash the caller computed while scanning it\n'
                ' * (the lexer does both in one pass). Returns the entry or NULL.\n */\n')
        f.write('const struct sql_kw *sql_kw_lookup(const unsigned char *upper, size_t len, '
                'uint32_t hash);\n\n')
        f.write('#endif\n')

    with open(os.path.join(ROOT, 'user/sql/sql_kw.c'), 'w') as f:
        f.write('// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)\n')
        f.write('/* The SQL keyword table and its lookup (generated by user/sql/sql_kw/gen_sql_kw.py; '
                'do not edit). */\n')
        f.write('#include <string.h>\n\n#include "sql/sql_kw.h"\n\n')
        f.write(f'#define SQL_KW_SLOTS {SLOTS}\n\n')
        f.write('static const struct sql_kw sql_kw_words[] = {\n')
        for w in names:
            fl = '|'.join(entries[w]) or '0'
            kid = f'SQL_KW_{w}' if w in SPECIAL else 'SQL_KW_OTHER'
            f.write(f'\t{{ "{w}", {len(w)}, {fl}, {kid} }},\n')
        f.write('};\n\n')
        f.write('/*\n * Open addressing with linear probing: the full hash (to skip comparisons) and\n'
                ' * the entry index + 1, 0 = empty.\n */\n')
        f.write('struct sql_kw_slot {\n\tuint32_t hash;\n\tuint16_t idx;\n};\n\n')
        f.write('static const struct sql_kw_slot sql_kw_slots[SQL_KW_SLOTS] = {\n')
        for i, x in enumerate(table):
            if x:
                f.write(f'\t[{i}] = {{ {fnv1a(names[x - 1])}u, {x} }},\n')
        f.write('};\n\n')
        f.write('''static inline unsigned char sql_kw_upper(unsigned char c)
{
	return c >= 'a' && c <= 'z' ? c - 32 : c;
}

const struct sql_kw *sql_kw_lookup(const unsigned char *upper, size_t len, uint32_t hash)
{
	uint32_t i;

	if (len == 0 || len > SQL_KW_MAX_LEN)
		return NULL;
	for (i = hash & (SQL_KW_SLOTS - 1); sql_kw_slots[i].idx; i = (i + 1) & (SQL_KW_SLOTS - 1)) {
		const struct sql_kw *k = &sql_kw_words[sql_kw_slots[i].idx - 1];

		if (sql_kw_slots[i].hash == hash && k->len == len && !memcmp(k->word, upper, len))
			return k;
	}
	return NULL;
}

const struct sql_kw *sql_kw_find(const char *word, size_t len)
{
	unsigned char up[SQL_KW_MAX_LEN];
	uint32_t h = SQL_KW_HASH_INIT;
	size_t i;

	if (len == 0 || len > SQL_KW_MAX_LEN)
		return NULL;
	for (i = 0; i < len; i++) {
		up[i] = sql_kw_upper((unsigned char)word[i]);
		h = SQL_KW_HASH_STEP(h, up[i]);
	}
	return sql_kw_lookup(up, len, h);
}
''')


if __name__ == '__main__':
    main()
