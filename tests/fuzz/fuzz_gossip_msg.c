// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer target for what a node reads from others in a gossip cluster: messages, vote file. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/gossip_msg.h"
#include "cluster/members.h"
#include "cluster/vote_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct gossip_msg m, back;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct members_cfg cfg = {
		.self = "a:1", .group = "g", .hb_ms = 500, .suspect_missed = 3, .dead_ms = 2500,
	};
	struct lease_vote v;
	struct buf b = { 0 };
	struct members *ms;
	const char *why;
	char err[128];

	/* Zeroed each time: the round trip compares whole structs, unused slots included. */
	memset(&m, 0, sizeof(m));
	memset(&back, 0, sizeof(back));
	if (!gossip_msg_parse((const char *)data, size, &m, &why)) {
		/* What was accepted writes back to the same message. */
		if (gossip_msg_write(&m, &b) || gossip_msg_parse(b.data, b.len, &back, &why) ||
		    memcmp(&m, &back, sizeof(m)))
			abort();
		ms = members_new(&cfg);
		if (ms) {
			members_on_msg(ms, &m, 1);
			members_tick(ms, 5000);
			buf_reset(&b);
			if (members_listnodes(ms, &(struct members_self){ .lease = "voter",
									 .leader = "" },
					      5000, &b))
				abort();
			members_free(ms);
		}
		buf_free(&b);
	}
	vote_parse((const char *)data, size, &v, err, sizeof(err));
	return 0;
}
