/* config.c — see config.h. */
#include "daemon/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "daemon/log.h"
#include "daemon/sched.h"
#include "daemon/tls.h"
#include "proto/scope.h"

typedef struct parse_state {
    qs_config *cfg;
    qs_err *e;
    int failed;
    unsigned seen; /* bit per required key */
} parse_state;

enum {
    SEEN_ID = 1u << 0,
    SEEN_ROLE = 1u << 1,
    SEEN_DIR = 1u << 2,
    SEEN_UP_HOST = 1u << 3,
    SEEN_UP_ADDR = 1u << 4,
    SEEN_UP_PORT = 1u << 5,
    SEEN_UP_CA = 1u << 6,
    SEEN_UP_CERT = 1u << 7,
    SEEN_UP_KEY = 1u << 8,
    SEEN_L_PORT = 1u << 9,
    SEEN_L_CA = 1u << 10,
    SEEN_L_CERT = 1u << 11,
    SEEN_L_KEY = 1u << 12,
    SEEN_L_CRL = 1u << 13,
};

static int parse_uint(const char *v, unsigned long long max, unsigned long long *out)
{
    if (!*v || *v == '-' || *v == '+')
        return -1;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || *end || x > max)
        return -1;
    *out = x;
    return 0;
}

static int set_str(char *dst, size_t n, const char *v)
{
    size_t len = strlen(v);
    if (len == 0 || len >= n)
        return -1;
    memcpy(dst, v, len + 1);
    return 0;
}

#define BAD(...)                                                                                   \
    do {                                                                                           \
        qs_err_set(ps->e, QS_EINVAL, __VA_ARGS__);                                                 \
        ps->failed = 1;                                                                            \
        return 0;                                                                                  \
    } while (0)

/* [listen] children: codes separated by spaces or commas, appended. */
static int parse_children(parse_state *ps, const char *value)
{
    qs_config *c = ps->cfg;
    const char *p = value;
    for (;;) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, " \t,");
        if (n == 0)
            return 1;
        if (!qs_tls_valid_node_id(p, n))
            BAD("[listen] children: \"%.*s\" is not a division code (6 or 9 digits)",
                (int)(n < 32 ? n : 32), p);
        if (c->listen.nchildren >= QS_CFG_MAX_CHILDREN)
            BAD("[listen] children: more than %d codes", QS_CFG_MAX_CHILDREN);
        memcpy(c->listen.children[c->listen.nchildren], p, n);
        c->listen.children[c->listen.nchildren++][n] = '\0';
        p += n;
    }
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
    parse_state *ps = user;
    qs_config *c = ps->cfg;
    unsigned long long u;
    if (ps->failed)
        return 0;
#define IS(s, k) (strcmp(section, s) == 0 && strcmp(key, k) == 0)
#define STR(field, bit)                                                                            \
    do {                                                                                           \
        if (set_str(field, sizeof field, value) != 0)                                              \
            BAD("[%s] %s: empty or longer than %zu bytes", section, key, sizeof field - 1);        \
        ps->seen |= (bit);                                                                         \
        return 1;                                                                                  \
    } while (0)
#define PORT(field, bit)                                                                           \
    do {                                                                                           \
        if (parse_uint(value, 65535, &u) != 0 || u == 0)                                           \
            BAD("[%s] %s: \"%s\" is not a port number (1..65535)", section, key, value);           \
        field = (int)u;                                                                            \
        ps->seen |= (bit);                                                                         \
        return 1;                                                                                  \
    } while (0)

    if (IS("node", "id")) {
        if (!qs_tls_valid_node_id(value, strlen(value)))
            BAD("[node] id: \"%s\" is not a division code (6 or 9 digits)", value);
        STR(c->node, SEEN_ID);
    }
    if (IS("node", "role")) {
        if (strcmp(value, "county") == 0)
            c->role = QS_ROLE_COUNTY;
        else if (strcmp(value, "aggregator") == 0)
            c->role = QS_ROLE_AGGREGATOR;
        else
            BAD("[node] role: \"%s\" is neither county nor aggregator", value);
        ps->seen |= SEEN_ROLE;
        return 1;
    }
    if (IS("node", "data_dir"))
        STR(c->data_dir, SEEN_DIR);
    if (IS("store", "backend")) {
        if (strcmp(value, "sqlite") == 0)
            c->store.postgresql = false;
        else if (strcmp(value, "postgresql") == 0)
            c->store.postgresql = true;
        else
            BAD("[store] backend: \"%s\" is neither sqlite nor postgresql", value);
        return 1;
    }
    if (IS("store", "conninfo")) {
        /* never echo the value: it may be wrong in a way that shows a secret */
        if (set_str(c->store.conninfo, sizeof c->store.conninfo, value) != 0)
            BAD("[store] conninfo: empty or longer than %zu bytes", sizeof c->store.conninfo - 1);
        if (qs_store_conninfo_check(value, ps->e) != 0) {
            ps->failed = 1;
            return 0;
        }
        return 1;
    }
    if (IS("upstream", "host"))
        STR(c->up.host, SEEN_UP_HOST);
    if (IS("upstream", "address"))
        STR(c->up.address, SEEN_UP_ADDR);
    if (IS("upstream", "port"))
        PORT(c->up.port, SEEN_UP_PORT);
    if (IS("upstream", "ca"))
        STR(c->up.ca, SEEN_UP_CA);
    if (IS("upstream", "cert"))
        STR(c->up.cert, SEEN_UP_CERT);
    if (IS("upstream", "key"))
        STR(c->up.key, SEEN_UP_KEY);
    if (IS("upstream", "crl"))
        STR(c->up.crl, 0);
    if (IS("upstream", "interval")) {
        if (parse_uint(value, 7u * 86400u, &u) != 0)
            BAD("[upstream] interval: \"%s\" is not a number of seconds (0..604800)", value);
        c->up.interval = (unsigned)u;
        return 1;
    }
    if (IS("upstream", "retry_base")) {
        if (parse_uint(value, 3600, &u) != 0 || u < 1)
            BAD("[upstream] retry_base: \"%s\" is not a number of seconds (1..3600)", value);
        c->up.retry_base = (unsigned)u;
        return 1;
    }
    if (IS("upstream", "retry_cap")) {
        if (parse_uint(value, 86400, &u) != 0 || u < 1)
            BAD("[upstream] retry_cap: \"%s\" is not a number of seconds (1..86400)", value);
        c->up.retry_cap = (unsigned)u;
        return 1;
    }
    if (IS("upstream", "edit_max_delay")) {
        if (parse_uint(value, 86400, &u) != 0 || u < 1)
            BAD("[upstream] edit_max_delay: \"%s\" is not a number of seconds (1..86400)", value);
        c->up.edit_max_delay = (unsigned)u;
        return 1;
    }
    if (IS("upstream", "nightly")) {
        int h, m;
        char extra;
        if (sscanf(value, "%d:%d%c", &h, &m, &extra) != 2 || h < 0 || h > 23 || m < 0 || m > 59 ||
            strlen(value) != 5)
            BAD("[upstream] nightly: \"%s\" is not a time HH:MM", value);
        c->up.nightly_min = h * 60 + m;
        return 1;
    }
    if (IS("listen", "address"))
        STR(c->listen.address, 0);
    if (IS("listen", "port"))
        PORT(c->listen.port, SEEN_L_PORT);
    if (IS("listen", "ca"))
        STR(c->listen.ca, SEEN_L_CA);
    if (IS("listen", "cert"))
        STR(c->listen.cert, SEEN_L_CERT);
    if (IS("listen", "key"))
        STR(c->listen.key, SEEN_L_KEY);
    if (IS("listen", "crl"))
        STR(c->listen.crl, SEEN_L_CRL);
    if (IS("listen", "max_connections")) {
        if (parse_uint(value, 100000, &u) != 0 || u == 0)
            BAD("[listen] max_connections: \"%s\" is not a number (1..100000)", value);
        c->listen.max_connections = (unsigned)u;
        return 1;
    }
    if (IS("listen", "max_unauthenticated")) {
        if (parse_uint(value, 100000, &u) != 0 || u == 0)
            BAD("[listen] max_unauthenticated: \"%s\" is not a number (1..100000)", value);
        c->listen.max_unauth = (unsigned)u;
        return 1;
    }
    if (IS("listen", "max_unauthenticated_per_address")) {
        if (parse_uint(value, 100000, &u) != 0 || u == 0)
            BAD("[listen] max_unauthenticated_per_address: \"%s\" is not a number "
                "(1..100000)",
                value);
        c->listen.max_unauth_per_addr = (unsigned)u;
        return 1;
    }
    if (IS("listen", "children"))
        return parse_children(ps, value);
    if (strcmp(section, "limits") == 0) {
        static const struct {
            const char *name;
            size_t off;
            unsigned max;
        } tmo[] = {
            {"handshake_timeout", offsetof(qs_config, handshake_timeout), 3600},
            {"hello_timeout", offsetof(qs_config, hello_timeout), 3600},
            {"idle_timeout", offsetof(qs_config, idle_timeout), 86400},
        };
        for (size_t i = 0; i < sizeof tmo / sizeof tmo[0]; i++) {
            if (strcmp(key, tmo[i].name) != 0)
                continue;
            if (parse_uint(value, tmo[i].max, &u) != 0 || u == 0)
                BAD("[limits] %s: \"%s\" is not a number of seconds (1..%u)", key, value,
                    tmo[i].max);
            unsigned v = (unsigned)u;
            memcpy((char *)c + tmo[i].off, &v, sizeof v);
            return 1;
        }
        static const struct {
            const char *name;
            size_t off;
        } lim[] = {
#define L(f) {#f, offsetof(qs_limits, f)}
            L(max_frame),   L(max_payload), L(max_str),  L(max_array),    L(max_depth),
            L(max_objects), L(max_batch),   L(max_body), L(max_ancestry), L(max_parents),
#undef L
        };
        if (strcmp(key, "store_queue") == 0) {
            if (parse_uint(value, 4096, &u) != 0 || u == 0)
                BAD("[limits] store_queue: \"%s\" is not a number (1..4096)", value);
            c->store_queue = (unsigned)u;
            return 1;
        }
        if (strcmp(key, "net_max_queued") == 0) {
            if (parse_uint(value, 1u << 30, &u) != 0 || u < 65536)
                BAD("[limits] net_max_queued: \"%s\" is not a byte count "
                    "(65536..1073741824)",
                    value);
            c->net_max_queued = (size_t)u;
            return 1;
        }
        for (size_t i = 0; i < sizeof lim / sizeof lim[0]; i++) {
            if (strcmp(key, lim[i].name) != 0)
                continue;
            if (parse_uint(value, UINT32_MAX, &u) != 0 || u == 0)
                BAD("[limits] %s: \"%s\" is not a positive number", key, value);
            uint32_t v32 = (uint32_t)u;
            memcpy((char *)&c->limits + lim[i].off, &v32, sizeof v32);
            return 1;
        }
        BAD("[limits] %s: unknown limit", key);
    }
    if (IS("web", "address")) {
        struct in6_addr a6;
        struct in_addr a4;
        if (inet_pton(AF_INET, value, &a4) != 1 && inet_pton(AF_INET6, value, &a6) != 1)
            BAD("[web] address: \"%s\" is not a numeric IPv4 or IPv6 address", value);
        STR(c->web.address, 0);
    }
    if (IS("web", "port"))
        PORT(c->web.port, 0);
    if (IS("web", "cert"))
        STR(c->web.cert, 0);
    if (IS("web", "key"))
        STR(c->web.key, 0);
    if (IS("web", "session_timeout")) {
        if (parse_uint(value, 86400, &u) != 0 || u < 60)
            BAD("[web] session_timeout: \"%s\" is not a number of seconds (60..86400)", value);
        c->web.session_timeout = (unsigned)u;
        return 1;
    }
    if (IS("web", "max_upload")) {
        if (parse_uint(value, 64u << 20, &u) != 0 || u < 65536)
            BAD("[web] max_upload: \"%s\" is not a byte count (65536..67108864)", value);
        c->web.max_upload = (size_t)u;
        return 1;
    }
    if (IS("log", "level")) {
        int l = qs_log_parse_level(value);
        if (l < 0)
            BAD("[log] level: \"%s\" is not debug, info, warn or error", value);
        c->log_level = l;
        return 1;
    }
    BAD("[%s] %s: unknown key", section, key);
#undef IS
#undef STR
#undef PORT
}

static const char *missing(unsigned seen, unsigned want)
{
    static const struct {
        unsigned bit;
        const char *name;
    } req[] = {
        {SEEN_ID, "[node] id"},
        {SEEN_ROLE, "[node] role"},
        {SEEN_DIR, "[node] data_dir"},
        {SEEN_UP_HOST, "[upstream] host"},
        {SEEN_UP_ADDR, "[upstream] address"},
        {SEEN_UP_PORT, "[upstream] port"},
        {SEEN_UP_CA, "[upstream] ca"},
        {SEEN_UP_CERT, "[upstream] cert"},
        {SEEN_UP_KEY, "[upstream] key"},
        {SEEN_L_PORT, "[listen] port"},
        {SEEN_L_CA, "[listen] ca"},
        {SEEN_L_CERT, "[listen] cert"},
        {SEEN_L_KEY, "[listen] key"},
        {SEEN_L_CRL, "[listen] crl"},
    };
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++)
        if ((want & req[i].bit) && !(seen & req[i].bit))
            return req[i].name;
    return NULL;
}

int qs_config_load(qs_config *cfg, const char *path, qs_err *e)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->limits = qs_limits_default();
    cfg->up.interval = 3600;
    cfg->up.nightly_min = -1;
    cfg->up.retry_base = 5;
    cfg->up.retry_cap = 900;
    cfg->up.edit_max_delay = QS_SCHED_EDIT_MAX_DELAY_S;
    snprintf(cfg->listen.address, sizeof cfg->listen.address, "0.0.0.0");
    cfg->listen.max_connections = 256;
    cfg->net_max_queued = 1u << 20;
    cfg->store_queue = 16;
    cfg->listen.max_unauth = 64;
    cfg->listen.max_unauth_per_addr = 8;
    cfg->handshake_timeout = 10;
    cfg->hello_timeout = 5;
    cfg->idle_timeout = 120;
    cfg->log_level = QS_LOG_INFO;
    snprintf(cfg->web.address, sizeof cfg->web.address, "127.0.0.1");
    cfg->web.port = 8080;
    cfg->web.session_timeout = 900;
    cfg->web.max_upload = 8u << 20;

    parse_state ps = {.cfg = cfg, .e = e};
    FILE *f = fopen(path, "r");
    if (!f)
        return qs_err_set(e, QS_EIO, "config %s: cannot read: %s", path, strerror(errno));
    int r = ini_parse_file(f, handler, &ps);
    fclose(f);
    /* inih returns the line of the first error: a handler refusal (ours,
     * with its sentence) or a line it could not parse */
    if (ps.failed)
        return r > 0 ? qs_err_prefix(e, "config %s:%d", path, r)
                     : qs_err_prefix(e, "config %s", path);
    if (r != 0)
        return qs_err_set(e, QS_EINVAL,
                          "config %s:%d: not INI syntax (a line is [section], "
                          "key = value, or a comment starting with # or ;)",
                          path, r);
    const char *m = missing(ps.seen, SEEN_ID | SEEN_ROLE | SEEN_DIR);
    if (!m) {
        unsigned want = cfg->role == QS_ROLE_COUNTY
                            ? SEEN_UP_HOST | SEEN_UP_ADDR | SEEN_UP_PORT | SEEN_UP_CA |
                                  SEEN_UP_CERT | SEEN_UP_KEY
                            : SEEN_L_PORT | SEEN_L_CA | SEEN_L_CERT | SEEN_L_KEY | SEEN_L_CRL;
        m = missing(ps.seen, want);
    }
    if (m)
        return qs_err_set(e, QS_EINVAL, "config %s: %s: missing (required for role %s)", path, m,
                          cfg->role == QS_ROLE_AGGREGATOR ? "aggregator" : "county");
    if (!cfg->web.cert[0] != !cfg->web.key[0])
        return qs_err_set(e, QS_EINVAL,
                          "config %s: [web] cert and key: give both (HTTPS) or neither", path);
    if (!cfg->web.cert[0] && !qs_config_is_loopback(cfg->web.address))
        return qs_err_set(e, QS_EINVAL,
                          "config %s: [web] address %s is not a loopback address, and there is no "
                          "[web] cert and key: the browser interface listens on the office "
                          "network only with HTTPS (passwords would cross it in the clear) — "
                          "give it a certificate (qs-pki can issue one with this box's name "
                          "and address) or keep address = 127.0.0.1",
                          path, cfg->web.address);
    if (cfg->store.postgresql && cfg->role == QS_ROLE_COUNTY)
        return qs_err_set(e, QS_EINVAL,
                          "config %s: [store] backend = postgresql is for role = aggregator: a "
                          "county's store stays in SQLite (offline for days, one small machine)",
                          path);
    if (cfg->store.postgresql && !cfg->store.conninfo[0])
        return qs_err_set(e, QS_EINVAL,
                          "config %s: [store] conninfo: missing (required with backend = "
                          "postgresql), e.g. conninfo = host=/run/postgresql dbname=qianshou",
                          path);
    for (unsigned i = 0; i < cfg->listen.nchildren; i++)
        if (!qs_node_is_below(cfg->node, cfg->listen.children[i]))
            return qs_err_set(e, QS_EINVAL,
                              "config %s: [listen] children: %s is not a node "
                              "below [node] id %s",
                              path, cfg->listen.children[i], cfg->node);
    return 0;
}

bool qs_config_is_loopback(const char *address)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, address, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, address, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    return false;
}

void qs_config_sock_path(const qs_config *cfg, char *out, size_t n)
{
    snprintf(out, n, "%s/qianshoud.sock", cfg->data_dir);
}

int qs_config_tls_ctx(const qs_config *cfg, qs_tls_ctx **out, qs_err *e)
{
    if (cfg->role == QS_ROLE_AGGREGATOR)
        return qs_tls_ctx_new(out, QS_TLS_SERVER, cfg->listen.ca, cfg->listen.cert, cfg->listen.key,
                              cfg->listen.crl, e);
    return qs_tls_ctx_new(out, QS_TLS_CLIENT, cfg->up.ca, cfg->up.cert, cfg->up.key,
                          cfg->up.crl[0] ? cfg->up.crl : NULL, e);
}
