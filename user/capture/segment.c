// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Text forms of segment records and the ABI size checks. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/socket.h>

#include "capture/segment.h"

/* The kernel writes this struct; both sides must agree on every offset. */
_Static_assert(sizeof(struct mp_seg_hdr) == 72, "mp_seg_hdr size is ABI");
_Static_assert(offsetof(struct mp_seg_hdr, seq) == 40, "mp_seg_hdr layout is ABI");
_Static_assert(offsetof(struct mp_seg_hdr, sport) == 60, "mp_seg_hdr layout is ABI");
_Static_assert(sizeof(struct mp_seg_hdr) % 8 == 0, "records stay 8-byte aligned");

const char *const mp_counter_names[MP_CNT_MAX] = {
	[MP_CNT_SEEN] = "seen",
	[MP_CNT_KEPT] = "kept",
	[MP_CNT_NOT_TCP] = "not_tcp",
	[MP_CNT_OTHER_PORT] = "other_port",
	[MP_CNT_NO_PAYLOAD] = "no_payload",
	[MP_CNT_MALFORMED] = "malformed",
	[MP_CNT_TRUNCATED] = "truncated",
	[MP_CNT_RB_FULL] = "dropped",
};

char *seg_addr_str(const __u8 *addr, __u8 family, __u16 port, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (family == 6) {
		inet_ntop(AF_INET6, addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, port);
	} else {
		inet_ntop(AF_INET, addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, port);
	}
	return buf;
}

char *seg_flags_str(__u8 flags, char *buf, size_t len)
{
	static const struct {
		__u8 bit;
		char c;
	} map[] = { { MP_TCP_FIN, 'F' }, { MP_TCP_SYN, 'S' }, { MP_TCP_RST, 'R' },
		    { MP_TCP_PSH, 'P' }, { 0x20, 'U' },	    { MP_TCP_ACK, '.' } };
	size_t n = 0;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]) && n + 1 < len; i++)
		if (flags & map[i].bit)
			buf[n++] = map[i].c;
	buf[n] = '\0';
	return buf;
}

int seg_print_json(FILE *out, const struct mp_seg_hdr *h)
{
	char src[64], dst[64], fl[8];
	int n;

	n = fprintf(out,
		    "{\"ts_ns\":%" PRIu64 ",\"src\":\"%s\",\"dst\":\"%s\",\"seq\":%u,\"ack\":%u,"
		    "\"flags\":\"%s\",\"len\":%u,\"caplen\":%u,\"dir\":\"%s\",\"ifindex\":%u}\n",
		    (uint64_t)h->ts_ns, seg_addr_str(h->saddr, h->family, h->sport, src, sizeof(src)),
		    seg_addr_str(h->daddr, h->family, h->dport, dst, sizeof(dst)), h->seq, h->ack,
		    seg_flags_str(h->tcp_flags, fl, sizeof(fl)), h->len, h->caplen,
		    h->dir == MP_DIR_TO_SERVER ? "to_server" : "to_client", h->ifindex);
	return n < 0 ? -EIO : 0;
}

void seg_print_counters(FILE *out, const char *prefix, const __u64 cnt[MP_CNT_MAX])
{
	fprintf(out, "%s", prefix);
	for (int i = 0; i < MP_CNT_MAX; i++)
		fprintf(out, " %s=%llu", mp_counter_names[i], (unsigned long long)cnt[i]);
	fprintf(out, "\n");
}
