/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* MySQL client/server protocol constants and bounds-checked field readers. */
#ifndef MP_MYSQL_PROTO_H
#define MP_MYSQL_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* Capability flags (Protocol::CapabilityFlags). */
#define CLIENT_LONG_PASSWORD 0x00000001u /* MariaDB: CLIENT_MYSQL */
#define CLIENT_CONNECT_WITH_DB 0x00000008u
#define CLIENT_COMPRESS 0x00000020u
#define CLIENT_PROTOCOL_41 0x00000200u
#define CLIENT_SSL 0x00000800u
#define CLIENT_SECURE_CONNECTION 0x00008000u
#define CLIENT_MULTI_STATEMENTS 0x00010000u
#define CLIENT_MULTI_RESULTS 0x00020000u
#define CLIENT_PLUGIN_AUTH 0x00080000u
#define CLIENT_CONNECT_ATTRS 0x00100000u
#define CLIENT_PLUGIN_AUTH_LENENC 0x00200000u
#define CLIENT_SESSION_TRACK 0x00800000u
#define CLIENT_DEPRECATE_EOF 0x01000000u
#define CLIENT_QUERY_ATTRIBUTES 0x08000000u

/* Server status flags (SERVER_STATUS_flags_enum). */
#define SERVER_MORE_RESULTS_EXISTS 0x0008u
#define SERVER_QUERY_NO_GOOD_INDEX_USED 0x0010u
#define SERVER_QUERY_NO_INDEX_USED 0x0020u
#define SERVER_STATUS_CURSOR_EXISTS 0x0040u
#define SERVER_SESSION_STATE_CHANGED 0x4000u

#define SESSION_TRACK_SCHEMA 1

/* Command bytes (Text Protocol / Prepared Statements). */
#define COM_SLEEP 0x00
#define COM_QUIT 0x01
#define COM_INIT_DB 0x02
#define COM_QUERY 0x03
#define COM_FIELD_LIST 0x04
#define COM_STATISTICS 0x09
#define COM_PROCESS_INFO 0x0a
#define COM_PING 0x0e
#define COM_CHANGE_USER 0x11
#define COM_BINLOG_DUMP 0x12
#define COM_STMT_PREPARE 0x16
#define COM_STMT_EXECUTE 0x17
#define COM_STMT_SEND_LONG_DATA 0x18
#define COM_STMT_CLOSE 0x19
#define COM_STMT_RESET 0x1a
#define COM_SET_OPTION 0x1b
#define COM_STMT_FETCH 0x1c
#define COM_BINLOG_DUMP_GTID 0x1e
#define COM_RESET_CONNECTION 0x1f
#define COM_STMT_BULK_EXECUTE 0xfa /* MariaDB */

/* Packet header: 3-byte little-endian length + 1-byte sequence id. A payload of
 * exactly MYSQL_MAX_PACKET bytes means another packet continues it. */
#define MYSQL_HDR_LEN 4
#define MYSQL_COMP_HDR_LEN 7
#define MYSQL_MAX_PACKET 0xffffffu

static inline uint32_t mp_u16(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8;
}

static inline uint32_t mp_u24(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}

static inline uint32_t mp_u32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * Reads a length-encoded integer at p[*off] (n bytes available) and advances
 * *off. Returns 0, or -1 when truncated or the prefix is 0xfb/0xff (NULL/ERR,
 * not an integer).
 */
static inline int mp_lenenc(const uint8_t *p, size_t n, size_t *off, uint64_t *v)
{
	size_t o = *off, w;
	uint8_t c;

	if (o >= n)
		return -1;
	c = p[o];
	if (c < 0xfb) {
		*v = c;
		*off = o + 1;
		return 0;
	}
	if (c == 0xfc)
		w = 2;
	else if (c == 0xfd)
		w = 3;
	else if (c == 0xfe)
		w = 8;
	else
		return -1;
	if (n - o - 1 < w)
		return -1;
	*v = 0;
	for (size_t i = 0; i < w; i++)
		*v |= (uint64_t)p[o + 1 + i] << (8 * i);
	*off = o + 1 + w;
	return 0;
}

/*
 * Reads a NUL-terminated string at p[*off]: sets *s and *len and advances past
 * the NUL. Returns 0, or -1 when no NUL is found in the n bytes.
 */
static inline int mp_cstr(const uint8_t *p, size_t n, size_t *off, const uint8_t **s, size_t *len)
{
	size_t o = *off;

	for (size_t i = o; i < n; i++) {
		if (!p[i]) {
			*s = p + o;
			*len = i - o;
			*off = i + 1;
			return 0;
		}
	}
	return -1;
}

#endif /* MP_MYSQL_PROTO_H */
