/*
 * qs_probe.c — a test client for qianshoud (not installed):
 *
 *   qs_probe ctl SOCK JSON [TIMEOUT_MS]    one control request (ctl/ctl.h);
 *                                          prints the reply; exit 0, or 2 on error
 *   qs_probe conn --port P --ca CA [--cert C --key K | --no-cert] [--tls12]
 *                 [--dns NAME] [--hello NODE] [--bytewise] [--send HEX]
 *                 [--raw: present the certificate as is, even expired]
 *                 [--hold SEC] [--flood SEC] [--many N --rounds R [--idle]]
 *                 [--bind ADDR: connect from this local address]
 *
 * conn prints one line per event: "handshake peer=ID", "recv TYPE",
 * "closed: REASON" / "closed: ok", "held" (still open after --hold). With
 * --hello it sends a HELLO naming NODE (byte by byte with --bytewise); after
 * WELCOME it sends --send's bytes (hex) if given, floods PINGs without reading
 * for --flood seconds if given, else PULL (acknowledging CHANGES unapplied)
 * and closes at DONE. --many opens N connections per
 * round that each do the handshake (and HELLO if given) and close; with
 * --idle they send nothing after TLS and wait for the daemon to close them.
 *
 * --push-bad (with --hello NODE, a county): after WELCOME, one PUSH of four
 * service/county records: [0] a good one in NODE's scope, [1] one scoped to
 * another county (NODE + 1), [2] a reference record (kind county, scope
 * 630000), [3] one in NODE's scope whose revision hash was altered after
 * sealing. --push-township ID: one PUSH of a new record with that id (UUID)
 * in NODE's township NODE100. --push-gen G, --push-author AUTHOR and
 * --push-reuse ID (any of them, together): one PUSH of one service record in
 * NODE's scope, sealed by the probe, that is an edit of a made-up parent of
 * generation G (decimal, up to 2^64 - 1), carries AUTHOR (default
 * NODE/probe), has the id ID (UUID) instead of a new one. Each record pushed
 * prints "push I ID REV"; each ACK result "result I OUTCOME REASON"; then
 * PULL as usual.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <uv.h>

#include "ctl/ctl.h"
#include "daemon/net.h"
#include "proto/clock.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/schema.h"
#include "proto/uuid.h"

static struct {
    int port, tls12, no_cert, raw, bytewise, many, rounds, push_bad, idle;
    const char *bind;
    const char *push_township, *push_gen, *push_author, *push_reuse;
    double hold, flood;
    const char *ca, *cert, *key, *dns, *hello, *send_hex;
} o = {.dns = "qianshou-agg.test", .rounds = 1};

static uv_loop_t *loop;
static qs_tls_ctx *ctx;
static qs_limits lim;
static int live, handshakes, round_no;
static uv_timer_t deadline_t, hold_t, drip_t;

typedef struct pc {
    qs_net_conn *c;
    qs_frame_decoder *dec;
    qs_buf drip; /* bytes left to send one at a time */
    int closed, flooding;
} pc;
static pc *single;

static void frame_msg(const qs_msg *m, qs_buf *out)
{
    qs_buf p;
    qs_buf_init(&p, 0);
    qs_buf_init(out, 0);
    if (qs_msg_encode(m, &p, NULL) != 0 || qs_frame_encode(p.data, p.len, 0, &lim, out, NULL) != 0)
        abort();
    qs_buf_free(&p);
}

static void send_msg(pc *p, const qs_msg *m)
{
    qs_buf f;
    frame_msg(m, &f);
    qs_err e = {0};
    if (qs_net_write(p->c, f.data, f.len, &e) != 0)
        printf("write: %s\n", e.msg);
    qs_buf_free(&f);
}

/* A sealed record of kind with "field=value" texts (NULL-terminated). */
static void make_rec(qs_record *r, uint32_t kind, const char *scope, const uint8_t *id, ...)
{
    const qs_kind *k = qs_schema_kind(kind);
    qs_body b;
    qs_body_init(&b);
    va_list ap;
    va_start(ap, id);
    for (const char *kv; (kv = va_arg(ap, const char *));) {
        const char *eq = strchr(kv, '=');
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(eq - kv), kv);
        const qs_field *f = qs_kind_field_by_name(k, name);
        qs_value v;
        if (!f || qs_schema_parse(f, eq + 1, &v, NULL) != 0)
            abort();
        qs_body_set(&b, f->id, v);
    }
    va_end(ap);
    qs_buf enc;
    qs_buf_init(&enc, 0);
    if (qs_body_encode(&b, &enc, NULL) != 0)
        abort();
    qs_record_init(r);
    if (id)
        memcpy(r->id, id, QS_ID_LEN);
    else
        qs_uuid7(r->id, qs_clock_wall_ms());
    r->kind = kind;
    snprintf(r->scope, sizeof r->scope, "%s", scope);
    r->hlc = qs_hlc_make(qs_clock_wall_ms(), 0);
    snprintf(r->author, sizeof r->author, "%s/probe", o.hello);
    r->schema = QS_SCHEMA_VERSION;
    qs_record_set_body(r, enc.data, (uint32_t)enc.len);
    qs_record_seal(r);
    qs_buf_free(&enc);
    qs_body_free(&b);
}

static void send_push(pc *p)
{
    qs_record recs[4];
    uint32_t n = 0;
    if (o.push_gen || o.push_author || o.push_reuse) {
        uint8_t id[QS_ID_LEN];
        if (o.push_reuse && qs_uuid_parse(o.push_reuse, id) != 0)
            abort();
        qs_record *r = &recs[n++];
        make_rec(r, QS_K_SERVICE, o.hello, o.push_reuse ? id : NULL, "date=2024-05-04",
                 "service_type=visit", "domain=elderly", "total=4", (char *)NULL);
        if (o.push_gen) {
            qs_rev parent = {.gen = strtoull(o.push_gen, NULL, 10)};
            memset(parent.hash, 0xa5, QS_HASH_LEN);
            qs_record_set_parents(r, &parent, 1);
        }
        if (o.push_author)
            snprintf(r->author, sizeof r->author, "%s", o.push_author);
        qs_record_seal(r); /* generation = parent + 1, wrapping as a u64 would */
    } else if (o.push_township) {
        uint8_t id[QS_ID_LEN];
        char town[QS_CODE_MAX];
        snprintf(town, sizeof town, "%s100", o.hello);
        if (qs_uuid_parse(o.push_township, id) != 0)
            abort();
        make_rec(&recs[n++], QS_K_SERVICE, town, id, "date=2024-05-01", "service_type=visit",
                 "domain=elderly", "total=1", (char *)NULL);
    } else {
        char other[QS_CODE_MAX];
        snprintf(other, sizeof other, "%.*s", (int)sizeof other - 1, o.hello);
        other[strlen(other) - 1] =
            other[strlen(other) - 1] == '9' ? '8' : (char)(other[strlen(other) - 1] + 1);
        make_rec(&recs[n++], QS_K_SERVICE, o.hello, NULL, "date=2024-05-01", "service_type=visit",
                 "domain=elderly", "total=1", (char *)NULL);
        make_rec(&recs[n++], QS_K_SERVICE, other, NULL, "date=2024-05-02", "service_type=visit",
                 "domain=elderly", "total=2", (char *)NULL);
        make_rec(&recs[n++], QS_K_COUNTY, "630000", NULL, "code=632399", "name=probe",
                 (char *)NULL);
        make_rec(&recs[n++], QS_K_SERVICE, o.hello, NULL, "date=2024-05-03", "service_type=visit",
                 "domain=elderly", "total=3", (char *)NULL);
        recs[3].rev.hash[0] ^= 0xff; /* forged: does not match the content */
    }
    for (uint32_t i = 0; i < n; i++) {
        char idt[QS_UUID_STR], rt[QS_REV_STR];
        printf("push %u %s %s\n", i, qs_uuid_format(recs[i].id, idt),
               qs_rev_format(&recs[i].rev, rt));
    }
    qs_msg m = {.type = QS_MSG_PUSH};
    m.u.batch.batch = 1;
    m.u.batch.upto = n;
    m.u.batch.recs = recs;
    m.u.batch.n = n;
    send_msg(p, &m);
    for (uint32_t i = 0; i < n; i++)
        qs_record_free(&recs[i]);
}

static void drip(uv_timer_t *t)
{
    pc *p = t->data;
    if (p->closed || !p->drip.len) {
        uv_timer_stop(t);
        return;
    }
    qs_net_write(p->c, p->drip.data, 1, NULL);
    qs_buf_consume(&p->drip, 1);
}

static void send_hello(pc *p)
{
    qs_msg m = {.type = QS_MSG_HELLO};
    m.u.hello.proto = QS_PROTO_VERSION;
    snprintf(m.u.hello.node, sizeof m.u.hello.node, "%s", o.hello);
    RAND_bytes(m.u.hello.incarnation, QS_INC_LEN);
    m.u.hello.schema = 1;
    m.u.hello.hlc = qs_hlc_make(qs_clock_wall_ms(), 0);
    if (o.bytewise && !o.many) {
        frame_msg(&m, &p->drip);
        drip_t.data = p;
        uv_timer_start(&drip_t, drip, 2, 2);
    } else {
        send_msg(p, &m);
    }
}

static void flood(pc *p)
{
    qs_msg m = {.type = QS_MSG_PING};
    qs_buf f;
    for (uint64_t tok = 0;; tok++) {
        m.u.ping.token = tok;
        frame_msg(&m, &f);
        int rc = qs_net_write(p->c, f.data, f.len, NULL);
        qs_buf_free(&f);
        if (rc != 0)
            break;
    }
}

static void on_drain(qs_net_conn *c)
{
    pc *p = qs_net_conn_data(c);
    if (p->flooding)
        flood(p);
}

static void on_handshake(qs_net_conn *c)
{
    pc *p = qs_net_conn_data(c);
    handshakes++;
    if (!o.many)
        printf("handshake peer=%s\n", qs_net_peer_id(c));
    if (o.many && o.idle)
        return; /* authenticated, silent: the daemon must time it out */
    if (o.hello)
        send_hello(p);
    else if (o.many)
        qs_net_close(c);
    if (o.hello || o.many || !o.send_hex)
        return;
    size_t n = strlen(o.send_hex) / 2;
    uint8_t *b = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        sscanf(o.send_hex + 2 * i, "%2hhx", &b[i]);
    qs_net_write(c, b, n, NULL);
    free(b);
}

static void on_data(qs_net_conn *c, const uint8_t *d, size_t n)
{
    pc *p = qs_net_conn_data(c);
    while (n) {
        size_t used = 0, plen = 0;
        const uint8_t *pl;
        uint8_t fl;
        int r = qs_frame_decoder_feed(p->dec, d, n, &used, &pl, &plen, &fl, NULL);
        if (r < 0) {
            printf("bad frame from the daemon\n");
            qs_net_close(c);
            return;
        }
        d += used;
        n -= used;
        if (r == 0)
            return;
        qs_msg m;
        if (qs_msg_decode(pl, plen, &lim, &m, NULL) != 0) {
            printf("bad message from the daemon\n");
            continue;
        }
        if (!o.many)
            printf("recv %s%s%s\n", qs_msg_type_name(m.type), m.type == QS_MSG_ERROR ? " " : "",
                   m.type == QS_MSG_ERROR ? m.u.error.msg : "");
        if (m.type == QS_MSG_WELCOME) {
            if (o.many) {
                qs_net_close(c);
            } else if (o.send_hex) {
                size_t k = strlen(o.send_hex) / 2;
                uint8_t *b = malloc(k + 1);
                for (size_t i = 0; i < k; i++)
                    sscanf(o.send_hex + 2 * i, "%2hhx", &b[i]);
                qs_net_write(c, b, k, NULL);
                free(b);
            } else if (o.flood > 0) {
                p->flooding = 1;
                qs_net_pause_read(c);
                flood(p);
            } else if (o.push_bad || o.push_township || o.push_gen || o.push_author ||
                       o.push_reuse) {
                send_push(p);
            } else if (o.hold <= 0) { /* nothing to push: pull */
                qs_msg pull = {.type = QS_MSG_PULL};
                send_msg(p, &pull);
            }
        } else if (m.type == QS_MSG_ACK) {
            for (uint32_t i = 0; i < m.u.ack.n; i++)
                printf("result %u %s %s\n", i, qs_outcome_name(m.u.ack.results[i].outcome),
                       m.u.ack.results[i].reason ? m.u.ack.results[i].reason : "");
            qs_msg pull = {.type = QS_MSG_PULL};
            send_msg(p, &pull);
        } else if (m.type == QS_MSG_CHANGES) { /* acknowledge without applying */
            qs_msg ack = {.type = QS_MSG_ACK};
            ack.u.ack.batch = m.u.batch.batch;
            ack.u.ack.cursor = m.u.batch.upto;
            ack.u.ack.n = m.u.batch.n;
            ack.u.ack.results = calloc(m.u.batch.n + 1, sizeof *ack.u.ack.results);
            send_msg(p, &ack);
            free(ack.u.ack.results);
        } else if (m.type == QS_MSG_DONE) {
            qs_net_close(c);
        }
        qs_msg_free(&m);
    }
}

static void start_round(void);

static void on_close(qs_net_conn *c, const qs_err *reason)
{
    pc *p = qs_net_conn_data(c);
    if (!o.many)
        printf("closed: %s\n", reason->code ? reason->msg : "ok");
    p->closed = 1;
    qs_frame_decoder_free(p->dec);
    qs_buf_free(&p->drip);
    if (p != single)
        free(p);
    else
        p->c = NULL;
    if (--live == 0) {
        if (o.many && ++round_no < o.rounds) {
            start_round();
            return;
        }
        if (o.many)
            printf("rounds %d handshakes %d\n", round_no, handshakes);
        uv_timer_stop(&deadline_t);
        uv_timer_stop(&hold_t);
        uv_timer_stop(&drip_t);
    }
}

static const qs_net_callbacks cb = {on_handshake, on_data, on_drain, on_close};

static pc *open_one(void)
{
    pc *p = calloc(1, sizeof *p);
    p->dec = qs_frame_decoder_new(&lim);
    qs_buf_init(&p->drip, 0);
    qs_err e = {0};
    qs_net_opts no = {.bind_addr = o.bind};
    if (qs_net_connect(&p->c, loop, "127.0.0.1", o.port, o.dns, ctx, &cb, &no, p, &e) != 0) {
        printf("connect: %s\n", e.msg);
        exit(2);
    }
    live++;
    return p;
}

static void start_round(void)
{
    for (int i = 0; i < o.many; i++)
        open_one();
}

static void on_hold(uv_timer_t *t)
{
    if (single && single->c) {
        printf("held\n");
        fflush(stdout);
        qs_net_close(single->c);
    }
}

static void on_deadline(uv_timer_t *t)
{
    printf("deadline reached\n");
    exit(3);
}

static int ctl_main(int argc, char **argv)
{
    char *reply = NULL;
    qs_err e = {0};
    int rc = qs_ctl_request(argv[2], argv[3], argc > 4 ? atoi(argv[4]) : 30000, &reply, &e);
    if (rc != 0) {
        printf("error: %s\n", e.msg);
        return 2;
    }
    printf("%s\n", reply);
    free(reply);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 4 && strcmp(argv[1], "ctl") == 0)
        return ctl_main(argc, argv);
    if (argc < 2 || strcmp(argv[1], "conn") != 0) {
        fprintf(stderr, "usage: see qs_probe.c\n");
        return 1;
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
#define OPT(name, stmt)                                                                            \
    if (strcmp(a, name) == 0) {                                                                    \
        stmt;                                                                                      \
        continue;                                                                                  \
    }
        OPT("--port", o.port = atoi(v); i++)
        OPT("--ca", o.ca = v; i++)
        OPT("--cert", o.cert = v; i++)
        OPT("--key", o.key = v; i++)
        OPT("--dns", o.dns = v; i++)
        OPT("--hello", o.hello = v; i++)
        OPT("--send", o.send_hex = v; i++)
        OPT("--hold", o.hold = atof(v); i++)
        OPT("--flood", o.flood = atof(v); i++)
        OPT("--many", o.many = atoi(v); i++)
        OPT("--rounds", o.rounds = atoi(v); i++)
        OPT("--bind", o.bind = v; i++)
        OPT("--idle", o.idle = 1)
        OPT("--tls12", o.tls12 = 1)
        OPT("--no-cert", o.no_cert = 1)
        OPT("--bytewise", o.bytewise = 1)
        OPT("--raw", o.raw = 1)
        OPT("--push-bad", o.push_bad = 1)
        OPT("--push-township", o.push_township = v; i++)
        OPT("--push-gen", o.push_gen = v; i++)
        OPT("--push-author", o.push_author = v; i++)
        OPT("--push-reuse", o.push_reuse = v; i++)
        fprintf(stderr, "unknown option %s\n", a);
        return 1;
    }
    lim = qs_limits_default();
    qs_err e = {0};
    if (o.tls12 || o.no_cert || o.raw) { /* no policy: may present a bad certificate */
        SSL_CTX *s = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_min_proto_version(s, TLS1_2_VERSION);
        SSL_CTX_set_max_proto_version(s, o.tls12 ? TLS1_2_VERSION : TLS1_3_VERSION);
        SSL_CTX_load_verify_file(s, o.ca);
        SSL_CTX_set_verify(s, SSL_VERIFY_PEER, NULL);
        if (!o.no_cert) {
            SSL_CTX_use_certificate_file(s, o.cert, SSL_FILETYPE_PEM);
            SSL_CTX_use_PrivateKey_file(s, o.key, SSL_FILETYPE_PEM);
        }
        qs_tls_ctx_from_ssl_ctx(&ctx, QS_TLS_CLIENT, s, NULL);
        SSL_CTX_free(s);
    } else if (qs_tls_ctx_new(&ctx, QS_TLS_CLIENT, o.ca, o.cert, o.key, NULL, &e) != 0) {
        printf("ctx: %s\n", e.msg);
        return 2;
    }
    uv_loop_t l;
    uv_loop_init(&l);
    loop = &l;
    uv_timer_init(loop, &deadline_t);
    uv_timer_init(loop, &hold_t);
    uv_timer_init(loop, &drip_t);
    double total = 20 + o.hold + o.flood;
    uv_timer_start(&deadline_t, on_deadline, (uint64_t)(total * 1000), 0);
    if (o.many) {
        start_round();
    } else {
        single = open_one();
        double h = o.hold > 0 ? o.hold : o.flood;
        if (h > 0)
            uv_timer_start(&hold_t, on_hold, (uint64_t)(h * 1000), 0);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&deadline_t, NULL);
    uv_close((uv_handle_t *)&hold_t, NULL);
    uv_close((uv_handle_t *)&drip_t, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    free(single);
    qs_tls_ctx_unref(ctx);
    return 0;
}
