/*
 * check.h — `qianshoud -c FILE --check [--connect]`: the config (already
 * loaded), the certificate (dates, node id = [node] id), the CRL's dates,
 * the store (node id, role, records; at an aggregator the counties its
 * reference data and [listen] children know) and, with connect on a county,
 * one TCP connection and TLS handshake to the upstream saying which part
 * failed. Prints what it found on stdout, the first problem on stderr.
 * Returns the exit code: 0 ok, 3 an environment problem.
 */
#ifndef QS_CHECK_H
#define QS_CHECK_H

#include <stdbool.h>

#include "daemon/config.h"

#define QS_EXIT_USAGE 1 /* qianshoud's exit codes */
#define QS_EXIT_ENV 3
#define QS_CRL_WARN_DAYS 30 /* warn when the CRL or the certificate has fewer days left */

int qs_check_run(const qs_config *cfg, bool connect);

#endif
