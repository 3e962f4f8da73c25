/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* libwebsockets' log lines routed through ours, at our level. */
#ifndef MP_LWS_LOG_H
#define MP_LWS_LOG_H

/*
 * Call before creating any lws context (server or client): lws prints its banner at context
 * creation, and at the default level nobody needs it. Errors stay warnings; notices are info.
 */
void net_lws_log_setup(void);

#endif /* MP_LWS_LOG_H */
