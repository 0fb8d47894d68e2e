/*
 * qs-proxy — a fault-injecting TCP proxy for the fault tests.
 *
 * It sits between a county daemon and the aggregator (or any client and one
 * upstream target) and moves bytes unchanged, except where a fault says
 * otherwise: cut a connection after N bytes, stall, add latency, limit the rate,
 * fragment writes, flip one bit, refuse or drop new connections. It does not
 * understand TLS; it only moves bytes. Usage: tests/tools/README.md.
 *
 * Model. Each connection has two directions (UP = client→target,
 * DOWN = target→client). A direction keeps a FIFO of chunks as they were read,
 * each stamped with the time it becomes deliverable (arrival + latency). The
 * pump moves bytes from the head of the FIFO to the destination socket, in
 * pieces limited by --fragment, the cut offset, the stall offset and the token
 * bucket; every piece is its own uv_write with its own buffer, freed in the
 * write callback.
 *
 * Determinism. Per-connection random choices (cut offset and direction, flip
 * direction and bit) come from a stream seeded by (seed, accept index) and are
 * all drawn at accept, in a fixed order, whatever faults are enabled. The same
 * seed and the same sequence of connections give the same faults.
 *
 * Bounds. A direction stops reading its source when it holds QUEUE_HIGH bytes
 * (queued plus in flight) and resumes below QUEUE_LOW; at most INFLIGHT_MAX
 * bytes / INFLIGHT_WRITES writes are in flight per direction. Control lines are
 * at most CTL_LINE_MAX bytes.
 *
 * Lifetimes. A connection owns four handles (client, target, two timers) and
 * is freed in the close callback of the last of them; libuv calls pending
 * write, shutdown and connect callbacks (with UV_ECANCELED) before that.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "proto/err.h"
#include "proto/xmalloc.h"

enum { UP = 0, DOWN = 1 };

#define READ_BUF_SIZE (64 * 1024)
#define QUEUE_HIGH (256 * 1024)
#define QUEUE_LOW (64 * 1024)
#define INFLIGHT_MAX (64 * 1024)
#define INFLIGHT_WRITES 1024
#define CTL_LINE_MAX 256
#define RATE_BURST_NS 5000000ULL /* token bucket: writes of 5 ms of traffic, depth 10 ms */
#define NS_PER_MS 1000000ULL

static const char *const dir_name[2] = {"up", "down"};

/* Fault settings; "off" is -1 for offsets, 0 for the rest. */
struct faults {
    int64_t cut[2];
    int64_t cut_lo, cut_hi;
    int64_t stall_after;
    uint64_t stall_ms;
    uint64_t latency_ms;
    uint64_t rate_kbit;
    uint64_t fragment;
    int64_t flip_after;
    int flip_dir; /* -1: random per connection */
    bool refuse, drop;
};

struct counters {
    uint64_t bytes[2], writes[2];
    uint64_t conns, cuts, flips, stalls, refused;
    uint64_t queued_max; /* high-water mark of one direction's queue + in flight */
};

struct chunk {
    struct chunk *next;
    uint64_t due_ns;
    size_t len, off;
    char data[];
};

struct wreq {
    uv_write_t req;
    struct dir *d;
    size_t len;
    char data[];
};

struct conn;

struct dir {
    struct conn *c;
    int which;
    uv_tcp_t *src, *dst;
    uv_timer_t timer;
    uv_shutdown_t shut_req;
    struct chunk *head, *tail;
    size_t pending;  /* bytes in the FIFO */
    size_t inflight; /* bytes in uv_write requests not yet called back */
    unsigned inflight_n;
    uint64_t forwarded;
    int64_t cut_at;  /* -1: none */
    int64_t flip_at; /* -1: none */
    int flip_bit;
    double tokens;
    uint64_t tokens_ns;
    bool reading, eof, shut_sent, shut_done, cut_hit;
};

struct proxy;

struct conn {
    struct proxy *p;
    struct conn *prev, *next;
    uint64_t id;
    uv_tcp_t client, target;
    uv_connect_t connect_req;
    struct dir d[2];
    int open_handles;
    bool connected, closing;
    int64_t stall_at; /* on total bytes, both directions; -1: none */
    bool stalled;
    uint64_t stall_until_ns;
};

struct ctl {
    struct proxy *p;
    struct ctl *prev, *next;
    union {
        uv_pipe_t pipe;
        uv_tty_t tty;
    } h;
    bool is_stdin;
    bool closing, close_after;
    unsigned writes;
    size_t len;
    bool overflow;
    char line[CTL_LINE_MAX];
};

struct ctl_wreq {
    uv_write_t req;
    struct ctl *ctl;
    char data[];
};

struct proxy {
    uv_loop_t loop;
    struct sockaddr_storage listen_addr, target_addr;
    uv_tcp_t *listener; /* NULL while dropped */
    uv_pipe_t *ctl_server;
    struct ctl *ctls;
    struct conn *conns;
    unsigned open_conns;
    uv_signal_t sig_term, sig_int;
    struct faults f;
    struct counters n;
    uint64_t seed;
    bool verbose, quitting;
    int exit_code;
    char read_buf[READ_BUF_SIZE];
};

static void conn_close(struct conn *c);
static void dir_pump(struct dir *d);
static void proxy_quit(struct proxy *p);
static int listener_start(struct proxy *p, qs_err *e);

/* ---- random numbers: splitmix64, one stream per connection ------------- */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* ---- parsing ------------------------------------------------------------ */

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return QS_EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return QS_EINVAL;
    *out = v;
    return 0;
}

static int parse_addr(const char *s, struct sockaddr_storage *out, qs_err *e)
{
    char host[128];
    const char *colon = strrchr(s, ':');
    uint64_t port;
    if (colon == NULL || (size_t)(colon - s) >= sizeof host ||
        parse_u64(colon + 1, 65535, &port) != 0)
        return qs_err_set(e, QS_EINVAL, "bad address '%s' (want IP:PORT or [IPv6]:PORT)", s);
    size_t hl = (size_t)(colon - s);
    memcpy(host, s, hl);
    host[hl] = '\0';
    memset(out, 0, sizeof *out);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        if (uv_ip6_addr(host + 1, (int)port, (struct sockaddr_in6 *)out) == 0)
            return 0;
    } else if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)out) == 0) {
        return 0;
    }
    return qs_err_set(e, QS_EINVAL, "bad address '%s' (want IP:PORT or [IPv6]:PORT)", s);
}

static const char *addr_str(const struct sockaddr_storage *a, char *buf, size_t len)
{
    char ip[64] = "?";
    int port = 0;
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)a;
        uv_ip6_name(a6, ip, sizeof ip);
        port = ntohs(a6->sin6_port);
        snprintf(buf, len, "[%s]:%d", ip, port);
    } else {
        const struct sockaddr_in *a4 = (const struct sockaddr_in *)a;
        uv_ip4_name(a4, ip, sizeof ip);
        port = ntohs(a4->sin_port);
        snprintf(buf, len, "%s:%d", ip, port);
    }
    return buf;
}

#define OFFSET_MAX ((uint64_t)INT64_MAX)

/* Offsets: a number or "off". */
static int parse_offset(const char *v, int64_t *out)
{
    uint64_t u;
    if (strcmp(v, "off") == 0) {
        *out = -1;
        return 0;
    }
    if (parse_u64(v, OFFSET_MAX, &u) != 0)
        return QS_EINVAL;
    *out = (int64_t)u;
    return 0;
}

/* Amounts where 0 means off; "off" is accepted too. */
static int parse_amount(const char *v, uint64_t max, uint64_t *out)
{
    if (strcmp(v, "off") == 0) {
        *out = 0;
        return 0;
    }
    return parse_u64(v, max, out);
}

static int parse_bool(const char *v, bool *out)
{
    if (strcmp(v, "1") == 0 || strcmp(v, "on") == 0) {
        *out = true;
        return 0;
    }
    if (strcmp(v, "0") == 0 || strcmp(v, "off") == 0) {
        *out = false;
        return 0;
    }
    return QS_EINVAL;
}

/* Set one fault by its option name (without "--"). Used by the command line
 * and by the control channel, so the names are the same in both. */
static int faults_set(struct faults *f, const char *key, const char *v, qs_err *e)
{
    int rc = QS_EINVAL;
    if (strcmp(key, "cut-up") == 0) {
        rc = parse_offset(v, &f->cut[UP]);
    } else if (strcmp(key, "cut-down") == 0) {
        rc = parse_offset(v, &f->cut[DOWN]);
    } else if (strcmp(key, "cut-random") == 0) {
        uint64_t lo, hi;
        char tmp[64];
        const char *dash = strchr(v, '-');
        if (strcmp(v, "off") == 0) {
            f->cut_lo = f->cut_hi = -1;
            rc = 0;
        } else if (dash != NULL && (size_t)(dash - v) < sizeof tmp) {
            memcpy(tmp, v, (size_t)(dash - v));
            tmp[dash - v] = '\0';
            if (parse_u64(tmp, OFFSET_MAX, &lo) == 0 && parse_u64(dash + 1, OFFSET_MAX, &hi) == 0 &&
                lo <= hi) {
                f->cut_lo = (int64_t)lo;
                f->cut_hi = (int64_t)hi;
                rc = 0;
            }
        }
    } else if (strcmp(key, "stall-after") == 0) {
        rc = parse_offset(v, &f->stall_after);
    } else if (strcmp(key, "stall-ms") == 0) {
        rc = parse_amount(v, 86400000, &f->stall_ms);
    } else if (strcmp(key, "latency-ms") == 0) {
        rc = parse_amount(v, 600000, &f->latency_ms);
    } else if (strcmp(key, "rate-kbit") == 0) {
        rc = parse_amount(v, 100000000, &f->rate_kbit);
    } else if (strcmp(key, "fragment") == 0) {
        rc = parse_amount(v, 1 << 30, &f->fragment);
    } else if (strcmp(key, "flip-after") == 0) {
        rc = parse_offset(v, &f->flip_after);
    } else if (strcmp(key, "flip-dir") == 0) {
        rc = 0;
        if (strcmp(v, "up") == 0)
            f->flip_dir = UP;
        else if (strcmp(v, "down") == 0)
            f->flip_dir = DOWN;
        else if (strcmp(v, "random") == 0)
            f->flip_dir = -1;
        else
            rc = QS_EINVAL;
    } else if (strcmp(key, "refuse") == 0) {
        rc = parse_bool(v, &f->refuse);
    } else if (strcmp(key, "drop") == 0) {
        rc = parse_bool(v, &f->drop);
    } else {
        return qs_err_set(e, QS_ENOTFOUND, "unknown setting '%s'", key);
    }
    if (rc != 0)
        return qs_err_set(e, QS_EINVAL, "bad value '%s' for %s", v, key);
    return 0;
}

static void faults_clear(struct faults *f)
{
    memset(f, 0, sizeof *f);
    f->cut[UP] = f->cut[DOWN] = -1;
    f->cut_lo = f->cut_hi = -1;
    f->stall_after = -1;
    f->flip_after = -1;
    f->flip_dir = -1;
}

/* ---- connections -------------------------------------------------------- */

static void log_conn(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void log_conn(struct conn *c, const char *fmt, ...)
{
    if (!c->p->verbose)
        return;
    va_list ap;
    fprintf(stderr, "qs-proxy: conn %" PRIu64 ": ", c->id);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
    struct dir *d = h->data; /* sockets and timers all point at their direction */
    struct conn *c = d->c;
    if (--c->open_handles > 0)
        return;
    for (int i = 0; i < 2; i++) {
        struct chunk *ch = c->d[i].head;
        while (ch != NULL) {
            struct chunk *nx = ch->next;
            free(ch);
            ch = nx;
        }
    }
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        c->p->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->p->open_conns--;
    free(c);
}

static void conn_close(struct conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    uv_close((uv_handle_t *)&c->client, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->target, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->d[UP].timer, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->d[DOWN].timer, on_conn_handle_closed);
}

static void conn_cut(struct conn *c, struct dir *d)
{
    c->p->n.cuts++;
    log_conn(c, "cut %s after %" PRIu64 " bytes", dir_name[d->which], d->forwarded);
    conn_close(c);
}

static void read_stop(struct dir *d)
{
    if (d->reading) {
        uv_read_stop((uv_stream_t *)d->src);
        d->reading = false;
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct dir *d = h->data;
    buf->base = d->c->p->read_buf;
    buf->len = sizeof d->c->p->read_buf;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void read_maybe_resume(struct dir *d)
{
    struct conn *c = d->c;
    if (d->reading || d->eof || c->closing || !c->connected || c->d[UP].cut_hit ||
        c->d[DOWN].cut_hit)
        return;
    if (d->pending + d->inflight > QUEUE_LOW)
        return;
    if (uv_read_start((uv_stream_t *)d->src, on_alloc, on_read) == 0)
        d->reading = true;
    else
        conn_close(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct dir *d = s->data;
    struct conn *c = d->c;
    if (nread == 0 || c->closing)
        return;
    if (nread < 0) {
        if (nread != UV_EOF) {
            log_conn(c, "%s read: %s", dir_name[d->which], uv_strerror((int)nread));
            conn_close(c);
            return;
        }
        d->eof = true;
        read_stop(d);
        dir_pump(d);
        return;
    }
    struct chunk *ch = qs_xmalloc(sizeof *ch + (size_t)nread);
    ch->next = NULL;
    ch->due_ns = uv_hrtime() + c->p->f.latency_ms * NS_PER_MS;
    ch->len = (size_t)nread;
    ch->off = 0;
    memcpy(ch->data, buf->base, (size_t)nread);
    if (d->tail != NULL)
        d->tail->next = ch;
    else
        d->head = ch;
    d->tail = ch;
    d->pending += (size_t)nread;
    if (d->pending + d->inflight > c->p->n.queued_max)
        c->p->n.queued_max = d->pending + d->inflight;
    if (d->pending + d->inflight >= QUEUE_HIGH)
        read_stop(d);
    dir_pump(d);
}

static void on_timer(uv_timer_t *t)
{
    dir_pump(t->data);
}

static void arm(struct dir *d, uint64_t ns)
{
    uint64_t ms = (ns + NS_PER_MS - 1) / NS_PER_MS;
    uv_timer_start(&d->timer, on_timer, ms > 0 ? ms : 1, 0);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct dir *d = req->data;
    struct conn *c = d->c;
    if (status == UV_ECANCELED || c->closing)
        return;
    d->shut_done = true;
    if (status < 0 || (c->d[UP].shut_done && c->d[DOWN].shut_done))
        conn_close(c);
}

static void on_write(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct dir *d = w->d;
    struct conn *c = d->c;
    d->inflight -= w->len;
    d->inflight_n--;
    free(w);
    if (c->closing)
        return;
    if (status < 0) {
        log_conn(c, "%s write: %s", dir_name[d->which], uv_strerror(status));
        conn_close(c);
        return;
    }
    dir_pump(d);
    if (!c->closing)
        read_maybe_resume(d);
}

/* Write one piece of n bytes from the head chunk, flipping a bit if the flip
 * offset falls inside it. */
static int dir_write(struct dir *d, const char *src, size_t n)
{
    struct proxy *p = d->c->p;
    struct wreq *w = qs_xmalloc(sizeof *w + n);
    w->d = d;
    w->len = n;
    memcpy(w->data, src, n);
    if (d->flip_at >= 0 && (uint64_t)d->flip_at >= d->forwarded &&
        (uint64_t)d->flip_at < d->forwarded + n) {
        w->data[(uint64_t)d->flip_at - d->forwarded] ^= (char)(1u << d->flip_bit);
        p->n.flips++;
        log_conn(d->c, "flipped bit %d of %s byte %" PRId64, d->flip_bit, dir_name[d->which],
                 d->flip_at);
    }
    uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
    int rc = uv_write(&w->req, (uv_stream_t *)d->dst, &b, 1, on_write);
    if (rc != 0) {
        free(w);
        return rc;
    }
    d->inflight += n;
    d->inflight_n++;
    d->forwarded += n;
    p->n.bytes[d->which] += n;
    p->n.writes[d->which]++;
    return 0;
}

/* Move what may be moved now; arm the timer for what must wait. */
static void dir_pump(struct dir *d)
{
    struct conn *c = d->c;
    struct proxy *p = c->p;

    while (!c->closing && c->connected) {
        if (d->cut_at >= 0 && d->forwarded >= (uint64_t)d->cut_at) {
            if (!d->cut_hit) {
                d->cut_hit = true;
                read_stop(&c->d[UP]);
                read_stop(&c->d[DOWN]);
            }
            if (d->inflight_n == 0)
                conn_cut(c, d);
            return;
        }
        if (d->head == NULL) {
            if (d->eof && !d->shut_sent && d->inflight_n == 0) {
                d->shut_sent = true;
                d->shut_req.data = d;
                if (uv_shutdown(&d->shut_req, (uv_stream_t *)d->dst, on_shutdown) != 0)
                    conn_close(c);
            }
            return;
        }
        if (d->inflight >= INFLIGHT_MAX || d->inflight_n >= INFLIGHT_WRITES)
            return; /* on_write pumps again */

        uint64_t now = uv_hrtime();
        uint64_t total = c->d[UP].forwarded + c->d[DOWN].forwarded;
        if (c->stall_at >= 0 && !c->stalled && total >= (uint64_t)c->stall_at) {
            c->stalled = true;
            c->stall_until_ns = now + p->f.stall_ms * NS_PER_MS;
            p->n.stalls++;
            log_conn(c, "stall %" PRIu64 " ms after %" PRIu64 " bytes", p->f.stall_ms, total);
        }
        if (now < c->stall_until_ns) {
            arm(d, c->stall_until_ns - now);
            return;
        }
        struct chunk *ch = d->head;
        if (now < ch->due_ns) {
            arm(d, ch->due_ns - now);
            return;
        }
        size_t n = ch->len - ch->off;
        if (p->f.fragment > 0 && n > p->f.fragment)
            n = (size_t)p->f.fragment;
        if (d->cut_at >= 0 && n > (uint64_t)d->cut_at - d->forwarded)
            n = (size_t)((uint64_t)d->cut_at - d->forwarded);
        if (c->stall_at >= 0 && !c->stalled && n > (uint64_t)c->stall_at - total)
            n = (size_t)((uint64_t)c->stall_at - total);
        if (p->f.rate_kbit > 0) {
            double bps = (double)p->f.rate_kbit * 1000.0 / 8.0; /* bytes per second */
            /* Wait for a burst's worth (5 ms), but keep up to two: a timer
             * that fires late does not lose the time it overslept. */
            double burst = bps * (double)RATE_BURST_NS / 1e9;
            if (burst < 1.0)
                burst = 1.0;
            d->tokens += (double)(now - d->tokens_ns) * bps / 1e9;
            if (d->tokens > 2 * burst)
                d->tokens = 2 * burst;
            d->tokens_ns = now;
            double need = (double)n < burst ? (double)n : burst;
            if (d->tokens < need) {
                arm(d, (uint64_t)((need - d->tokens) * 1e9 / bps) + 1);
                return;
            }
            if ((double)n > d->tokens)
                n = (size_t)d->tokens;
            d->tokens -= (double)n;
        }
        int rc = dir_write(d, ch->data + ch->off, n);
        if (rc != 0) {
            log_conn(c, "%s write: %s", dir_name[d->which], uv_strerror(rc));
            conn_close(c);
            return;
        }
        ch->off += n;
        d->pending -= n;
        if (ch->off == ch->len) {
            d->head = ch->next;
            if (d->head == NULL)
                d->tail = NULL;
            free(ch);
        }
    }
}

static void on_connect(uv_connect_t *req, int status)
{
    struct conn *c = req->data;
    if (status == UV_ECANCELED || c->closing)
        return;
    if (status < 0) {
        log_conn(c, "connect to target: %s", uv_strerror(status));
        conn_close(c);
        return;
    }
    c->connected = true;
    uv_tcp_nodelay(&c->client, 1);
    uv_tcp_nodelay(&c->target, 1);
    uint64_t now = uv_hrtime();
    for (int i = 0; i < 2; i++) {
        c->d[i].tokens_ns = now;
        read_maybe_resume(&c->d[i]);
    }
    for (int i = 0; i < 2 && !c->closing; i++)
        dir_pump(&c->d[i]); /* a cut at 0 bytes happens now */
}

static void on_refused_closed(uv_handle_t *h)
{
    free(h);
}

static void on_accept(uv_stream_t *server, int status)
{
    struct proxy *p = server->data;
    if (status < 0) {
        fprintf(stderr, "qs-proxy: accept: %s\n", uv_strerror(status));
        return;
    }
    uint64_t id = ++p->n.conns;
    if (p->f.refuse) {
        uv_tcp_t *t = qs_xmalloc(sizeof *t);
        uv_tcp_init(&p->loop, t);
        if (uv_accept(server, (uv_stream_t *)t) == 0)
            p->n.refused++;
        uv_close((uv_handle_t *)t, on_refused_closed);
        return;
    }

    struct conn *c = qs_xcalloc(1, sizeof *c);
    c->p = p;
    c->id = id;
    uv_tcp_init(&p->loop, &c->client);
    uv_tcp_init(&p->loop, &c->target);
    c->open_handles = 4;
    for (int i = 0; i < 2; i++) {
        struct dir *d = &c->d[i];
        d->c = c;
        d->which = i;
        d->src = i == UP ? &c->client : &c->target;
        d->dst = i == UP ? &c->target : &c->client;
        d->src->data = d;
        uv_timer_init(&p->loop, &d->timer);
        d->timer.data = d;
        d->cut_at = p->f.cut[i];
        d->flip_at = -1;
    }
    c->next = p->conns;
    if (p->conns != NULL)
        p->conns->prev = c;
    p->conns = c;
    p->open_conns++;

    /* All draws, always, in this order: the stream does not depend on which
     * faults are on. */
    uint64_t s = p->seed ^ (id * 0xd1b54a32d192ed03ULL);
    int cut_dir = (int)(splitmix64(&s) & 1);
    uint64_t cut_r = splitmix64(&s);
    int flip_dir = (int)(splitmix64(&s) & 1);
    int flip_bit = (int)(splitmix64(&s) % 8);

    if (p->f.cut_lo >= 0) {
        uint64_t span = (uint64_t)(p->f.cut_hi - p->f.cut_lo) + 1;
        int64_t at = p->f.cut_lo + (int64_t)(span == 0 ? cut_r : cut_r % span);
        if (c->d[cut_dir].cut_at < 0 || at < c->d[cut_dir].cut_at)
            c->d[cut_dir].cut_at = at;
    }
    if (p->f.flip_after >= 0) {
        struct dir *d = &c->d[p->f.flip_dir >= 0 ? p->f.flip_dir : flip_dir];
        d->flip_at = p->f.flip_after;
        d->flip_bit = flip_bit;
    }
    c->stall_at = p->f.stall_ms > 0 ? p->f.stall_after : -1;
    log_conn(c,
             "accepted; cut up=%" PRId64 " down=%" PRId64 "; flip up=%" PRId64 " down=%" PRId64
             " bit %d; stall at %" PRId64,
             c->d[UP].cut_at, c->d[DOWN].cut_at, c->d[UP].flip_at, c->d[DOWN].flip_at, flip_bit,
             c->stall_at);

    int rc = uv_accept(server, (uv_stream_t *)&c->client);
    if (rc == 0) {
        c->connect_req.data = c;
        rc = uv_tcp_connect(&c->connect_req, &c->target, (struct sockaddr *)&p->target_addr,
                            on_connect);
    }
    if (rc != 0) {
        log_conn(c, "accept/connect: %s", uv_strerror(rc));
        conn_close(c);
    }
}

/* ---- listener ----------------------------------------------------------- */

static void on_listener_closed(uv_handle_t *h)
{
    free(h);
}

static int listener_start(struct proxy *p, qs_err *e)
{
    char a[96];
    uv_tcp_t *t = qs_xmalloc(sizeof *t);
    uv_tcp_init(&p->loop, t);
    t->data = p;
    int rc = uv_tcp_bind(t, (struct sockaddr *)&p->listen_addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)t, 128, on_accept);
    if (rc != 0) {
        uv_close((uv_handle_t *)t, on_listener_closed);
        return qs_err_set(e, QS_EIO, "listen on %s: %s", addr_str(&p->listen_addr, a, sizeof a),
                          uv_strerror(rc));
    }
    /* Keep the bound address, so a port 0 listener comes back on the same port. */
    int len = sizeof p->listen_addr;
    uv_tcp_getsockname(t, (struct sockaddr *)&p->listen_addr, &len);
    p->listener = t;
    return 0;
}

static void listener_stop(struct proxy *p)
{
    if (p->listener != NULL) {
        uv_close((uv_handle_t *)p->listener, on_listener_closed);
        p->listener = NULL;
    }
}

/* ---- control channel ---------------------------------------------------- */

static void on_ctl_closed(uv_handle_t *h)
{
    struct ctl *ctl = h->data;
    if (ctl->prev != NULL)
        ctl->prev->next = ctl->next;
    else
        ctl->p->ctls = ctl->next;
    if (ctl->next != NULL)
        ctl->next->prev = ctl->prev;
    free(ctl);
}

static void ctl_close(struct ctl *ctl)
{
    if (ctl->closing)
        return;
    if (ctl->writes > 0) {
        ctl->close_after = true;
        uv_read_stop((uv_stream_t *)&ctl->h);
        return;
    }
    ctl->closing = true;
    uv_close((uv_handle_t *)&ctl->h, on_ctl_closed);
}

static void on_ctl_write(uv_write_t *req, int status)
{
    struct ctl_wreq *w = (struct ctl_wreq *)req;
    struct ctl *ctl = w->ctl;
    free(w);
    ctl->writes--;
    if (ctl->close_after && ctl->writes == 0)
        ctl_close(ctl);
}

static void ctl_reply(struct ctl *ctl, const char *line)
{
    if (ctl->is_stdin) {
        fputs(line, stdout);
        fputc('\n', stdout);
        fflush(stdout);
        return;
    }
    size_t n = strlen(line);
    struct ctl_wreq *w = qs_xmalloc(sizeof *w + n + 1);
    w->ctl = ctl;
    memcpy(w->data, line, n);
    w->data[n] = '\n';
    uv_buf_t b = uv_buf_init(w->data, (unsigned)(n + 1));
    if (uv_write(&w->req, (uv_stream_t *)&ctl->h, &b, 1, on_ctl_write) != 0) {
        free(w);
        return;
    }
    ctl->writes++;
}

/* Append printf output to a heap string. */
static char *str_add(char *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static char *str_add(char *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    size_t old = s != NULL ? strlen(s) : 0;
    s = qs_xrealloc(s, old + (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s + old, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static char *stats_line(struct proxy *p)
{
    const struct counters *n = &p->n;
    return qs_xasprintf(
        "bytes_up=%" PRIu64 " bytes_down=%" PRIu64 " conns=%" PRIu64 " open=%u cuts=%" PRIu64
        " flips=%" PRIu64 " stalls=%" PRIu64 " refused=%" PRIu64 " writes_up=%" PRIu64
        " writes_down=%" PRIu64 " queued_max=%" PRIu64 " seed=%" PRIu64,
        n->bytes[UP], n->bytes[DOWN], n->conns, p->open_conns, n->cuts, n->flips, n->stalls,
        n->refused, n->writes[UP], n->writes[DOWN], n->queued_max, p->seed);
}

static char *conns_line(struct proxy *p)
{
    char *s = str_add(NULL, "open=%u", p->open_conns);
    for (struct conn *c = p->conns; c != NULL; c = c->next) {
        s = str_add(s,
                    " [id=%" PRIu64 " up=%" PRIu64 " down=%" PRIu64 " cut_up=%" PRId64
                    " cut_down=%" PRId64 "]",
                    c->id, c->d[UP].forwarded, c->d[DOWN].forwarded, c->d[UP].cut_at,
                    c->d[DOWN].cut_at);
    }
    return s;
}

/* Apply a fault change to what is already running. */
static int faults_apply(struct proxy *p, qs_err *e)
{
    if (p->f.drop) {
        listener_stop(p);
    } else if (p->listener == NULL) {
        int rc = listener_start(p, e);
        if (rc != 0)
            return rc;
    }
    /* Latency, rate, fragment and stall timing are read by the pump. */
    for (struct conn *c = p->conns; c != NULL; c = c->next) {
        for (int i = 0; i < 2 && !c->closing; i++)
            dir_pump(&c->d[i]);
    }
    return 0;
}

static void ctl_command(struct ctl *ctl, char *line)
{
    struct proxy *p = ctl->p;
    qs_err e = {0};
    char *argv[4];
    int argc = 0;
    for (char *tok = strtok(line, " \t"); tok != NULL; tok = strtok(NULL, " \t")) {
        if (argc == 4) {
            ctl_reply(ctl, "error: too many words");
            return;
        }
        argv[argc++] = tok;
    }
    if (argc == 0)
        return; /* blank lines get no reply */
    const char *cmd = argv[0];
    if (strcmp(cmd, "set") == 0 && argc == 3) {
        struct faults f = p->f;
        if (faults_set(&f, argv[1], argv[2], &e) != 0)
            goto fail;
        p->f = f;
        if (faults_apply(p, &e) != 0)
            goto fail;
        ctl_reply(ctl, "ok");
    } else if (strcmp(cmd, "clear") == 0 && argc == 1) {
        faults_clear(&p->f);
        if (faults_apply(p, &e) != 0)
            goto fail;
        ctl_reply(ctl, "ok");
    } else if (strcmp(cmd, "stats") == 0 && argc == 1) {
        char *s = stats_line(p);
        ctl_reply(ctl, s);
        free(s);
    } else if (strcmp(cmd, "conns") == 0 && argc == 1) {
        char *s = conns_line(p);
        ctl_reply(ctl, s);
        free(s);
    } else if (strcmp(cmd, "kill-all") == 0 && argc == 1) {
        for (struct conn *c = p->conns; c != NULL; c = c->next)
            conn_close(c);
        ctl_reply(ctl, "ok");
    } else if (strcmp(cmd, "quit") == 0 && argc == 1) {
        ctl_reply(ctl, "ok");
        proxy_quit(p);
    } else {
        qs_err_set(&e, QS_EINVAL,
                   "unknown command (set KEY VALUE, clear, stats, conns, kill-all, quit)");
        goto fail;
    }
    return;
fail : {
    char *s = qs_xasprintf("error: %s", e.msg);
    ctl_reply(ctl, s);
    free(s);
}
}

static void on_ctl_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct ctl *ctl = h->data;
    buf->base = ctl->p->read_buf;
    buf->len = sizeof ctl->p->read_buf;
}

static void on_ctl_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct ctl *ctl = s->data;
    if (nread < 0) {
        if (ctl->is_stdin) /* whoever drove us is gone */
            proxy_quit(ctl->p);
        else
            ctl_close(ctl);
        return;
    }
    for (ssize_t i = 0; i < nread && !ctl->closing && !ctl->close_after; i++) {
        char ch = buf->base[i];
        if (ch != '\n') {
            if (ctl->len + 1 < sizeof ctl->line)
                ctl->line[ctl->len++] = ch;
            else
                ctl->overflow = true;
            continue;
        }
        if (ctl->len > 0 && ctl->line[ctl->len - 1] == '\r')
            ctl->len--;
        ctl->line[ctl->len] = '\0';
        if (ctl->overflow)
            ctl_reply(ctl, "error: line too long");
        else
            ctl_command(ctl, ctl->line);
        ctl->len = 0;
        ctl->overflow = false;
        if (ctl->p->quitting)
            break;
    }
}

static struct ctl *ctl_new(struct proxy *p, bool is_stdin)
{
    struct ctl *ctl = qs_xcalloc(1, sizeof *ctl);
    ctl->p = p;
    ctl->is_stdin = is_stdin;
    ctl->h.pipe.data = ctl;
    ctl->next = p->ctls;
    if (p->ctls != NULL)
        p->ctls->prev = ctl;
    p->ctls = ctl;
    return ctl;
}

static void on_ctl_connection(uv_stream_t *server, int status)
{
    struct proxy *p = server->data;
    if (status < 0)
        return;
    struct ctl *ctl = ctl_new(p, false);
    uv_pipe_init(&p->loop, &ctl->h.pipe, 0);
    ctl->h.pipe.data = ctl;
    if (uv_accept(server, (uv_stream_t *)&ctl->h.pipe) != 0 ||
        uv_read_start((uv_stream_t *)&ctl->h.pipe, on_ctl_alloc, on_ctl_read) != 0)
        ctl_close(ctl);
}

static void on_ctl_server_closed(uv_handle_t *h)
{
    free(h);
}

static int ctl_start(struct proxy *p, const char *path, qs_err *e)
{
    if (strcmp(path, "-") == 0) {
        uv_handle_type t = uv_guess_handle(0);
        if (t != UV_TTY && t != UV_NAMED_PIPE)
            return qs_err_set(e, QS_EINVAL, "--control -: stdin must be a pipe or a terminal");
        struct ctl *ctl = ctl_new(p, true);
        int rc;
        if (t == UV_TTY) {
            rc = uv_tty_init(&p->loop, &ctl->h.tty, 0, 1);
        } else {
            rc = uv_pipe_init(&p->loop, &ctl->h.pipe, 0);
            if (rc == 0 && (rc = uv_pipe_open(&ctl->h.pipe, 0)) != 0) {
                ctl->h.pipe.data = ctl;
                ctl_close(ctl); /* initialised: close it the libuv way */
                return qs_err_set(e, QS_EIO, "control on stdin: %s", uv_strerror(rc));
            }
        }
        if (rc != 0) { /* never initialised: no handle to close */
            p->ctls = NULL;
            free(ctl);
            return qs_err_set(e, QS_EIO, "control on stdin: %s", uv_strerror(rc));
        }
        ctl->h.pipe.data = ctl;
        rc = uv_read_start((uv_stream_t *)&ctl->h, on_ctl_alloc, on_ctl_read);
        if (rc != 0) {
            ctl_close(ctl);
            return qs_err_set(e, QS_EIO, "control on stdin: %s", uv_strerror(rc));
        }
        return 0;
    }
    uv_pipe_t *srv = qs_xmalloc(sizeof *srv);
    uv_pipe_init(&p->loop, srv, 0);
    srv->data = p;
    unlink(path); /* a stale socket from an earlier run */
    int rc = uv_pipe_bind(srv, path);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)srv, 16, on_ctl_connection);
    if (rc != 0) {
        uv_close((uv_handle_t *)srv, on_ctl_server_closed);
        return qs_err_set(e, QS_EIO, "control socket %s: %s", path, uv_strerror(rc));
    }
    p->ctl_server = srv;
    return 0;
}

/* ---- lifetime ----------------------------------------------------------- */

static void proxy_quit(struct proxy *p)
{
    if (p->quitting)
        return;
    p->quitting = true;
    listener_stop(p);
    if (p->ctl_server != NULL) {
        uv_close((uv_handle_t *)p->ctl_server, on_ctl_server_closed);
        p->ctl_server = NULL;
    }
    for (struct ctl *ctl = p->ctls; ctl != NULL; ctl = ctl->next)
        ctl_close(ctl);
    for (struct conn *c = p->conns; c != NULL; c = c->next)
        conn_close(c);
    uv_close((uv_handle_t *)&p->sig_term, NULL);
    uv_close((uv_handle_t *)&p->sig_int, NULL);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct proxy *p = s->data;
    fprintf(stderr, "qs-proxy: signal %d, shutting down\n", signum);
    proxy_quit(p);
}

static void usage(FILE *out)
{
    fputs("usage: qs-proxy --listen ADDR:PORT --target ADDR:PORT [--seed N] [--control PATH|-]\n"
          "                [--verbose] [faults]\n"
          "faults (all connections; also 'set KEY VALUE' on the control channel):\n"
          "  --cut-up N | --cut-down N   close both sides after N bytes in that direction\n"
          "  --cut-random A-B            per connection: N uniform in [A,B], direction random\n"
          "  --stall-after N --stall-ms M  pause both directions M ms after N bytes (total)\n"
          "  --latency-ms L              deliver every chunk L ms after it arrived\n"
          "  --rate-kbit R               limit each direction to R kbit/s\n"
          "  --fragment N                write in pieces of at most N bytes\n"
          "  --flip-after N [--flip-dir up|down|random]  flip one bit of byte N\n"
          "  --refuse                    accept, then close at once\n"
          "  --drop                      stop accepting (listener closed)\n"
          "control commands: set KEY VALUE | clear | stats | conns | kill-all | quit\n"
          "See tests/tools/README.md.\n",
          out);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"target", required_argument, NULL, 't'},
        {"seed", required_argument, NULL, 's'},
        {"control", required_argument, NULL, 'c'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"cut-up", required_argument, NULL, 1},
        {"cut-down", required_argument, NULL, 1},
        {"cut-random", required_argument, NULL, 1},
        {"stall-after", required_argument, NULL, 1},
        {"stall-ms", required_argument, NULL, 1},
        {"latency-ms", required_argument, NULL, 1},
        {"rate-kbit", required_argument, NULL, 1},
        {"fragment", required_argument, NULL, 1},
        {"flip-after", required_argument, NULL, 1},
        {"flip-dir", required_argument, NULL, 1},
        {"refuse", no_argument, NULL, 1},
        {"drop", no_argument, NULL, 1},
        {NULL, 0, NULL, 0},
    };
    static struct proxy px; /* large (read buffer); one per process */
    struct proxy *p = &px;
    qs_err e = {0};
    const char *listen_s = NULL, *target_s = NULL, *control = NULL;
    bool have_seed = false;
    int ch, idx;
    char a[96];

    faults_clear(&p->f);
    while ((ch = getopt_long(argc, argv, "l:t:s:c:vh", opts, &idx)) != -1) {
        switch (ch) {
        case 'l':
            listen_s = optarg;
            break;
        case 't':
            target_s = optarg;
            break;
        case 's':
            if (parse_u64(optarg, UINT64_MAX, &p->seed) != 0) {
                fprintf(stderr, "qs-proxy: bad --seed '%s'\n", optarg);
                return 2;
            }
            have_seed = true;
            break;
        case 'c':
            control = optarg;
            break;
        case 'v':
            p->verbose = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 1:
            if (faults_set(&p->f, opts[idx].name, optarg != NULL ? optarg : "1", &e) != 0) {
                fprintf(stderr, "qs-proxy: %s\n", e.msg);
                return 2;
            }
            break;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (listen_s == NULL || target_s == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (parse_addr(listen_s, &p->listen_addr, &e) != 0 ||
        parse_addr(target_s, &p->target_addr, &e) != 0) {
        fprintf(stderr, "qs-proxy: %s\n", e.msg);
        return 2;
    }
    if (!have_seed)
        p->seed = uv_hrtime() ^ ((uint64_t)uv_os_getpid() << 32);

    signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&p->loop);
    uv_signal_init(&p->loop, &p->sig_term);
    uv_signal_init(&p->loop, &p->sig_int);
    p->sig_term.data = p->sig_int.data = p;
    uv_signal_start(&p->sig_term, on_signal, SIGTERM);
    uv_signal_start(&p->sig_int, on_signal, SIGINT);

    fprintf(stderr, "qs-proxy: seed %" PRIu64 "\n", p->seed);
    if (listener_start(p, &e) != 0 || (control != NULL && ctl_start(p, control, &e) != 0)) {
        fprintf(stderr, "qs-proxy: %s\n", e.msg);
        p->exit_code = 1;
        proxy_quit(p);
    } else {
        fprintf(stderr, "qs-proxy: listening on %s, target %s\n",
                addr_str(&p->listen_addr, a, sizeof a), target_s);
        if (p->f.drop)
            listener_stop(p);
    }
    fflush(stderr);

    uv_run(&p->loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&p->loop);
    if (rc != 0) {
        fprintf(stderr, "qs-proxy: loop close: %s\n", uv_strerror(rc));
        return 1;
    }
    return p->exit_code;
}
