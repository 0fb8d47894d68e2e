/*
 * tls.c — TLS 1.3 engine over OpenSSL memory BIOs. See tls.h for the contract.
 */
#include "daemon/tls.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "proto/clock.h"
#include "proto/xmalloc.h"

struct qs_tls_ctx {
    int refs;
    qs_tls_role role;
    SSL_CTX *ssl_ctx;
    qs_tls_ctx_info info;
};

struct qs_tls {
    qs_tls_ctx *ctx;
    SSL *ssl;
    BIO *rbio, *wbio; /* owned by ssl */
    qs_tls_state state;
    int shutdown_sent;
    qs_buf out; /* ciphertext drained from wbio, waiting for the caller */
    qs_err err;
    char peer_id[QS_NODE_ID_MAX + 1];
    time_t peer_not_after; /* the peer certificate's notAfter */
    /* first verification failure seen by the verify callback */
    int verr;
    int verr_depth;
    char verr_subject[64];
    char verr_not_before[40], verr_not_after[40];
    char verr_dns[160];     /* the failing certificate's DNS names, ", "-separated */
    char expected_dns[256]; /* client: the host name asked for */
};

/* ---- helpers ---- */

int qs_tls_valid_node_id(const char *s, size_t n)
{
    if (n != 6 && n != 9)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static void fmt_time(time_t t, char *out, size_t n)
{
    struct tm tm;
    if (t == 0 || !gmtime_r(&t, &tm) || !strftime(out, n, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(out, n, "(unknown time)");
}

static time_t asn1_to_time(const ASN1_TIME *a)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!a || ASN1_TIME_to_tm(a, &tm) != 1)
        return 0;
    return timegm(&tm);
}

static void fmt_asn1(const ASN1_TIME *a, char *out, size_t n)
{
    fmt_time(asn1_to_time(a), out, n);
}

/* The subject CN of x into out (NUL-terminated); 0, or -1 if there is not
 * exactly one CN or it is not a node id. */
static int cert_node_id(X509 *x, char *out, size_t outsz)
{
    X509_NAME *name = x ? X509_get_subject_name(x) : NULL;
    if (!name)
        return -1;
    int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (idx < 0 || X509_NAME_get_index_by_NID(name, NID_commonName, idx) >= 0)
        return -1;
    const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
    const unsigned char *d = ASN1_STRING_get0_data(s);
    int len = ASN1_STRING_length(s);
    if (!d || len < 0 || (size_t)len >= outsz ||
        !qs_tls_valid_node_id((const char *)d, (size_t)len))
        return -1;
    memcpy(out, d, (size_t)len);
    out[len] = '\0';
    return 0;
}

/* A printable CN for messages, whatever it holds. */
static void cert_cn_text(X509 *x, char *out, size_t outsz)
{
    X509_NAME *name = x ? X509_get_subject_name(x) : NULL;
    out[0] = '\0';
    if (!name || X509_NAME_get_text_by_NID(name, NID_commonName, out, (int)outsz) < 0)
        snprintf(out, outsz, "(no CN)");
}

static void openssl_reason(char *out, size_t n)
{
    unsigned long ec = ERR_peek_error();
    if (ec)
        ERR_error_string_n(ec, out, n);
    else
        snprintf(out, n, "no OpenSSL detail");
}

/* ---- ctx ---- */

int qs_tls_ctx_check_clock(const qs_tls_ctx *ctx, qs_err *e)
{
    const qs_tls_ctx_info *in = &ctx->info;
    return qs_clock_check_window(qs_clock_wall_time(), in->not_before, in->not_after, in->node_id,
                                 e);
}

static int file_readable(const char *what, const char *path, qs_err *e)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return qs_err_set(e, QS_EIO, "%s %s: %s", what, path, strerror(errno));
    fclose(f);
    return 0;
}

static int load_crl(qs_tls_ctx *c, const char *crl_file, qs_err *e)
{
    int rc = 0;
    X509_CRL *crl = NULL;
    BIO *bio = NULL;
    char why[256];

    if ((rc = file_readable("CRL", crl_file, e)) < 0)
        goto done;
    ERR_clear_error();
    bio = BIO_new_file(crl_file, "r");
    if (bio)
        crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
    if (!crl) {
        openssl_reason(why, sizeof why);
        rc = qs_err_set(e, QS_ETLS, "CRL %s: not a PEM CRL (%s)", crl_file, why);
        goto done;
    }
    X509_STORE *store = SSL_CTX_get_cert_store(c->ssl_ctx);
    ERR_clear_error();
    if (X509_STORE_add_crl(store, crl) != 1) {
        openssl_reason(why, sizeof why);
        rc = qs_err_set(e, QS_ETLS, "CRL %s: cannot load (%s)", crl_file, why);
        goto done;
    }
    unsigned long flags = X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
    X509_STORE_set_flags(store, flags);
    X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(c->ssl_ctx), flags);
    c->info.crl_last_update = asn1_to_time(X509_CRL_get0_lastUpdate(crl));
    c->info.crl_next_update = asn1_to_time(X509_CRL_get0_nextUpdate(crl));
done:
    X509_CRL_free(crl);
    BIO_free(bio);
    return rc;
}

static int tls_verify_cb(int ok, X509_STORE_CTX *xs);

int qs_tls_ctx_new(qs_tls_ctx **out, qs_tls_role role, const char *ca_file, const char *cert_file,
                   const char *key_file, const char *crl_file, qs_err *e)
{
    int rc = 0;
    char why[256];
    qs_tls_ctx *c = qs_xcalloc(1, sizeof *c);
    c->refs = 1;
    c->role = role;
    *out = NULL;

    if (role != QS_TLS_SERVER && role != QS_TLS_CLIENT) {
        rc = qs_err_set(e, QS_EINVAL, "TLS role must be server or client");
        goto done;
    }
    if (!ca_file || !cert_file || !key_file) {
        rc = qs_err_set(e, QS_EINVAL, "TLS needs a CA file, a certificate and a key");
        goto done;
    }
    if ((rc = file_readable("CA file", ca_file, e)) < 0 ||
        (rc = file_readable("certificate", cert_file, e)) < 0 ||
        (rc = file_readable("key", key_file, e)) < 0)
        goto done;

    ERR_clear_error();
    c->ssl_ctx = SSL_CTX_new(role == QS_TLS_SERVER ? TLS_server_method() : TLS_client_method());
    if (!c->ssl_ctx) {
        openssl_reason(why, sizeof why);
        rc = qs_err_set(e, QS_ETLS, "SSL_CTX_new: %s", why);
        goto done;
    }
    SSL_CTX *s = c->ssl_ctx;
    if (SSL_CTX_set_min_proto_version(s, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(s, TLS1_3_VERSION) != 1) {
        rc = qs_err_set(e, QS_ETLS, "cannot restrict the protocol to TLS 1.3");
        goto done;
    }
    SSL_CTX_set_options(s, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(s, 0);
    SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_verify_depth(s, 4);

    /* Pinned CA: only this file, never the default paths. */
    ERR_clear_error();
    if (SSL_CTX_load_verify_file(s, ca_file) != 1) {
        openssl_reason(why, sizeof why);
        rc = qs_err_set(e, QS_ETLS, "CA file %s: cannot load (%s)", ca_file, why);
        goto done;
    }
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(s, cert_file) != 1) {
        openssl_reason(why, sizeof why);
        rc = qs_err_set(e, QS_ETLS, "certificate %s: cannot load (%s)", cert_file, why);
        goto done;
    }
    ERR_clear_error();
    if (SSL_CTX_use_PrivateKey_file(s, key_file, SSL_FILETYPE_PEM) != 1) {
        if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
            rc =
                qs_err_set(e, QS_ETLS, "key %s does not match certificate %s", key_file, cert_file);
            goto done;
        }
        openssl_reason(why, sizeof why);
        rc = qs_err_set(e, QS_ETLS, "key %s: cannot load (%s)", key_file, why);
        goto done;
    }
    ERR_clear_error();
    if (SSL_CTX_check_private_key(s) != 1) {
        rc = qs_err_set(e, QS_ETLS, "key %s does not match certificate %s", key_file, cert_file);
        goto done;
    }

    X509 *own = SSL_CTX_get0_certificate(s);
    if (cert_node_id(own, c->info.node_id, sizeof c->info.node_id) < 0) {
        char cn[64];
        cert_cn_text(own, cn, sizeof cn);
        rc = qs_err_set(e, QS_ETLS,
                        "certificate %s: subject CN \"%s\" is not a node id (6 or 9 digits)",
                        cert_file, cn);
        goto done;
    }
    c->info.not_before = asn1_to_time(X509_get0_notBefore(own));
    c->info.not_after = asn1_to_time(X509_get0_notAfter(own));

    if (crl_file && (rc = load_crl(c, crl_file, e)) < 0)
        goto done;

    int mode = SSL_VERIFY_PEER;
    if (role == QS_TLS_SERVER)
        mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(s, mode, tls_verify_cb);

    if ((rc = qs_tls_ctx_check_clock(c, e)) < 0)
        goto done;

done:
    if (rc < 0) {
        qs_tls_ctx_unref(c);
        return rc;
    }
    *out = c;
    return 0;
}

int qs_tls_ctx_from_ssl_ctx(qs_tls_ctx **out, qs_tls_role role, SSL_CTX *ssl_ctx, qs_err *e)
{
    *out = NULL;
    if (!ssl_ctx || (role != QS_TLS_SERVER && role != QS_TLS_CLIENT))
        return qs_err_set(e, QS_EINVAL, "qs_tls_ctx_from_ssl_ctx: bad arguments");
    qs_tls_ctx *c = qs_xcalloc(1, sizeof *c);
    c->refs = 1;
    c->role = role;
    SSL_CTX_up_ref(ssl_ctx);
    c->ssl_ctx = ssl_ctx;
    *out = c;
    return 0;
}

void qs_tls_ctx_ref(qs_tls_ctx *ctx)
{
    ctx->refs++;
}

void qs_tls_ctx_unref(qs_tls_ctx *ctx)
{
    if (!ctx || --ctx->refs > 0)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    free(ctx);
}

qs_tls_role qs_tls_ctx_role(const qs_tls_ctx *ctx)
{
    return ctx->role;
}

void qs_tls_ctx_get_info(const qs_tls_ctx *ctx, qs_tls_ctx_info *info)
{
    *info = ctx->info;
}

SSL_CTX *qs_tls_ctx_ssl_ctx(qs_tls_ctx *ctx)
{
    return ctx->ssl_ctx;
}

/* ---- connection ---- */

/* The DNS SANs of x, ", "-separated (truncated to fit), or "no DNS name". */
static void dns_names(X509 *x, char *out, size_t n)
{
    snprintf(out, n, "no DNS name");
    GENERAL_NAMES *names = x ? X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL) : NULL;
    size_t used = 0;
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        if (g->type != GEN_DNS)
            continue;
        const unsigned char *d = ASN1_STRING_get0_data(g->d.dNSName);
        int len = ASN1_STRING_length(g->d.dNSName);
        int w = snprintf(out + used, n - used, "%s%.*s", used ? ", " : "", len, (const char *)d);
        if (w < 0 || (size_t)w >= n - used)
            break;
        used += (size_t)w;
    }
    GENERAL_NAMES_free(names);
}

static int tls_verify_cb(int ok, X509_STORE_CTX *xs)
{
    if (ok)
        return 1;
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    qs_tls *t = ssl ? SSL_get_app_data(ssl) : NULL;
    if (t && t->verr == 0) {
        X509 *x = X509_STORE_CTX_get_current_cert(xs);
        t->verr = X509_STORE_CTX_get_error(xs);
        t->verr_depth = X509_STORE_CTX_get_error_depth(xs);
        cert_cn_text(x, t->verr_subject, sizeof t->verr_subject);
        dns_names(x, t->verr_dns, sizeof t->verr_dns);
        if (x) {
            fmt_asn1(X509_get0_notBefore(x), t->verr_not_before, sizeof t->verr_not_before);
            fmt_asn1(X509_get0_notAfter(x), t->verr_not_after, sizeof t->verr_not_after);
        }
    }
    return 0; /* fail closed */
}

/* Move everything OpenSSL wrote into the output buffer. */
static void drain_wbio(qs_tls *t)
{
    size_t pend;
    while ((pend = BIO_ctrl_pending(t->wbio)) > 0) {
        if (qs_buf_reserve(&t->out, pend) < 0)
            abort(); /* unbounded buffer: reserve only fails on overflow */
        int n = BIO_read(t->wbio, t->out.data + t->out.len, (int)(pend > INT_MAX ? INT_MAX : pend));
        if (n <= 0)
            break;
        t->out.len += (size_t)n;
    }
}

int qs_tls_new(qs_tls **out, qs_tls_ctx *ctx, const char *expected_dns, qs_err *e)
{
    int rc = 0;
    char why[256];
    qs_tls *t = qs_xcalloc(1, sizeof *t);
    qs_buf_init(&t->out, 0);
    t->state = QS_TLS_HANDSHAKE;
    qs_tls_ctx_ref(ctx);
    t->ctx = ctx;
    *out = NULL;

    if (ctx->role == QS_TLS_CLIENT && (!expected_dns || !*expected_dns)) {
        rc = qs_err_set(e, QS_EINVAL, "a TLS client needs the aggregator's host name");
        goto done;
    }
    if (ctx->role == QS_TLS_SERVER && expected_dns) {
        rc = qs_err_set(e, QS_EINVAL, "a TLS server takes no expected host name");
        goto done;
    }
    ERR_clear_error();
    t->ssl = SSL_new(ctx->ssl_ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->rbio || !t->wbio) {
        openssl_reason(why, sizeof why);
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        t->rbio = t->wbio = NULL;
        rc = qs_err_set(e, QS_ETLS, "SSL_new: %s", why);
        goto done;
    }
    BIO_set_mem_eof_return(t->rbio, -1); /* empty = "retry", not EOF */
    BIO_set_mem_eof_return(t->wbio, -1);
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    SSL_set_app_data(t->ssl, t);

    /* The clock hook decides what "now" is for every certificate and CRL. */
    X509_VERIFY_PARAM_set_time(SSL_get0_param(t->ssl), qs_clock_wall_time());

    if (ctx->role == QS_TLS_CLIENT) {
        SSL_set_connect_state(t->ssl);
        SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
                                      X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        ERR_clear_error();
        snprintf(t->expected_dns, sizeof t->expected_dns, "%s", expected_dns);
        if (SSL_set1_host(t->ssl, expected_dns) != 1 ||
            SSL_set_tlsext_host_name(t->ssl, expected_dns) != 1) {
            rc = qs_err_set(e, QS_ETLS, "bad aggregator host name \"%s\"", expected_dns);
            goto done;
        }
    } else {
        SSL_set_accept_state(t->ssl);
    }
done:
    if (rc < 0) {
        qs_tls_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void qs_tls_free(qs_tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl); /* frees the BIOs */
    qs_buf_free(&t->out);
    qs_tls_ctx_unref(t->ctx);
    free(t);
}

/* Describe a certificate verification failure. */
static int describe_verify(qs_tls *t, int verr, char *msg, size_t n)
{
    const char *who =
        t->ctx->role == QS_TLS_SERVER ? "client certificate" : "aggregator certificate";
    char subj[160];
    if (t->verr_subject[0])
        snprintf(subj, sizeof subj, "%s %s", who, t->verr_subject);
    else
        snprintf(subj, sizeof subj, "%s", who);
    if (t->verr_depth > 0 && t->verr)
        snprintf(subj, sizeof subj, "issuer %s of the %s", t->verr_subject, who);

    switch (verr) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        snprintf(msg, n, "%s: certificate has expired (notAfter %s)", subj, t->verr_not_after);
        return 1;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        snprintf(msg, n, "%s: certificate is not yet valid (notBefore %s)", subj,
                 t->verr_not_before);
        return 1;
    case X509_V_ERR_CERT_REVOKED:
        snprintf(msg, n, "%s: certificate revoked", subj);
        return 0;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
        snprintf(msg, n, "%s: unknown CA (not issued by the provincial CA)", subj);
        return 0;
    case X509_V_ERR_HOSTNAME_MISMATCH:
        snprintf(msg, n, "%s: host name mismatch: it names %.100s, but [upstream] host is %.100s",
                 subj, t->verr_dns, t->expected_dns);
        return 0;
    case X509_V_ERR_UNABLE_TO_GET_CRL:
        snprintf(msg, n, "%s: no CRL from the CA is loaded (revocation cannot be checked)", subj);
        return 0;
    case X509_V_ERR_CRL_HAS_EXPIRED:
        snprintf(msg, n, "the CRL has expired: publish a new one (qs-pki crl) and reload");
        return 1;
    case X509_V_ERR_CRL_NOT_YET_VALID:
        snprintf(msg, n, "the CRL is not yet valid");
        return 1;
    case X509_V_ERR_INVALID_PURPOSE:
        snprintf(msg, n, "%s: not usable for TLS (extended key usage)", subj);
        return 0;
    default:
        snprintf(msg, n, "%s: verification failed: %s", subj, X509_verify_cert_error_string(verr));
        return 0;
    }
}

/* Describe an OpenSSL library error (alerts from the peer, protocol). */
static void describe_ssl_error(qs_tls *t, unsigned long ec, char *msg, size_t n)
{
    int reason = ERR_GET_REASON(ec);
    if (ERR_GET_LIB(ec) == ERR_LIB_SSL) {
        switch (reason) {
        case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
            snprintf(msg, n, "no client certificate");
            return;
        case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
            snprintf(msg, n, "no client certificate: the peer requires one");
            return;
        case SSL_R_UNSUPPORTED_PROTOCOL:
        case SSL_R_WRONG_VERSION_NUMBER:
        case SSL_R_NO_PROTOCOLS_AVAILABLE:
        case SSL_R_VERSION_TOO_LOW:
        case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
            snprintf(msg, n, "protocol version: both sides must speak TLS 1.3");
            return;
        case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
            snprintf(msg, n, "the peer refused our certificate: certificate has expired");
            return;
        case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
            snprintf(msg, n, "the peer refused our certificate: certificate revoked");
            return;
        case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
            snprintf(msg, n, "the peer refused our certificate: unknown CA");
            return;
        case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
            snprintf(msg, n,
                     "the peer refused our certificate: not usable for this side "
                     "(extended key usage: a county certificate is for clients only, "
                     "the aggregator's for servers only)");
            return;
        case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
        case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
            snprintf(msg, n, "the peer refused our certificate (%s)", ERR_reason_error_string(ec));
            return;
        default:
            break;
        }
    }
    (void)t;
    char buf[256];
    ERR_error_string_n(ec, buf, sizeof buf);
    snprintf(msg, n, "TLS error: %s", buf);
}

/* Enter FAILED with a reason for the failed SSL call's return value r. */
static int tls_fail(qs_tls *t, int r, qs_err *e)
{
    char msg[QS_ERR_MSG - 96];
    int serr = SSL_get_error(t->ssl, r);
    unsigned long ec = ERR_peek_error();
    long vr = SSL_get_verify_result(t->ssl);
    int code = QS_ETLS;

    if (t->verr)
        describe_verify(t, t->verr, msg, sizeof msg);
    else if (vr != X509_V_OK && t->state == QS_TLS_HANDSHAKE)
        describe_verify(t, (int)vr, msg, sizeof msg);
    else if (ec)
        describe_ssl_error(t, ec, msg, sizeof msg);
    else if (serr == SSL_ERROR_SYSCALL)
        snprintf(msg, sizeof msg, "TLS transport error");
    else
        snprintf(msg, sizeof msg, "TLS failure (SSL error %d)", serr);
    ERR_clear_error();

    qs_err clock;
    if (t->state == QS_TLS_HANDSHAKE || t->verr) {
        /* The clock rule: our own certificate outside its window is a clock problem. */
        if (qs_tls_ctx_check_clock(t->ctx, &clock) < 0) {
            code = QS_ECLOCK;
            qs_err_set(&t->err, code, "%.*s (TLS said: %s)", 300, clock.msg, msg);
            goto out;
        }
    }
    qs_err_set(&t->err, code, "%s", msg);
out:
    t->state = QS_TLS_FAILED;
    drain_wbio(t); /* the alert, if OpenSSL produced one */
    if (e)
        *e = t->err;
    return code;
}

static int failed(qs_tls *t, qs_err *e)
{
    if (e)
        *e = t->err;
    return t->err.code ? t->err.code : QS_ETLS;
}

int qs_tls_feed(qs_tls *t, const void *p, size_t n, qs_err *e)
{
    if (t->state == QS_TLS_FAILED)
        return failed(t, e);
    const uint8_t *b = p;
    while (n > 0) {
        int chunk = n > INT_MAX ? INT_MAX : (int)n;
        ERR_clear_error();
        int w = BIO_write(t->rbio, b, chunk);
        if (w <= 0)
            return qs_err_set(e, QS_ETLS, "cannot buffer TLS input");
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int handshake_done(qs_tls *t, qs_err *e)
{
    X509 *peer = SSL_get0_peer_certificate(t->ssl);
    char cn[64];
    if (!peer) {
        qs_err_set(&t->err, QS_ETLS, "no peer certificate");
        goto fail;
    }
    if (SSL_get_verify_result(t->ssl) != X509_V_OK) {
        qs_err_set(&t->err, QS_ETLS, "peer certificate did not verify");
        goto fail;
    }
    if (SSL_version(t->ssl) != TLS1_3_VERSION) {
        qs_err_set(&t->err, QS_ETLS, "protocol version: both sides must speak TLS 1.3");
        goto fail;
    }
    if (cert_node_id(peer, t->peer_id, sizeof t->peer_id) < 0) {
        cert_cn_text(peer, cn, sizeof cn);
        qs_err_set(&t->err, QS_ETLS, "peer certificate CN \"%s\" is not a node id (6 or 9 digits)",
                   cn);
        goto fail;
    }
    t->peer_not_after = asn1_to_time(X509_get0_notAfter(peer));
    t->state = QS_TLS_OPEN;
    return 0;
fail:
    t->peer_id[0] = '\0';
    t->state = QS_TLS_FAILED;
    if (e)
        *e = t->err;
    return t->err.code;
}

int qs_tls_handshake(qs_tls *t, qs_err *e)
{
    if (t->state == QS_TLS_FAILED)
        return failed(t, e);
    if (t->state != QS_TLS_HANDSHAKE)
        return 0;
    ERR_clear_error();
    int r = SSL_do_handshake(t->ssl);
    if (r == 1) {
        drain_wbio(t);
        return handshake_done(t, e);
    }
    int serr = SSL_get_error(t->ssl, r);
    if (serr == SSL_ERROR_WANT_READ || serr == SSL_ERROR_WANT_WRITE) {
        drain_wbio(t);
        return QS_EAGAIN;
    }
    return tls_fail(t, r, e);
}

int qs_tls_read(qs_tls *t, void *p, size_t cap, size_t *got, qs_err *e)
{
    *got = 0;
    if (t->state == QS_TLS_FAILED)
        return failed(t, e);
    if (t->state == QS_TLS_PEER_CLOSED)
        return QS_EAGAIN;
    if (t->state != QS_TLS_OPEN)
        return qs_err_set(e, QS_EPROTO, "TLS read before the handshake is done");
    ERR_clear_error();
    int r = SSL_read_ex(t->ssl, p, cap, got);
    if (r == 1) {
        drain_wbio(t);
        return 0;
    }
    *got = 0;
    int serr = SSL_get_error(t->ssl, r);
    if (serr == SSL_ERROR_WANT_READ || serr == SSL_ERROR_WANT_WRITE) {
        drain_wbio(t);
        return QS_EAGAIN;
    }
    if (serr == SSL_ERROR_ZERO_RETURN) {
        drain_wbio(t);
        t->state = QS_TLS_PEER_CLOSED;
        return QS_EAGAIN;
    }
    return tls_fail(t, r, e);
}

int qs_tls_write(qs_tls *t, const void *p, size_t n, qs_err *e)
{
    if (t->state == QS_TLS_FAILED)
        return failed(t, e);
    if (t->state != QS_TLS_OPEN || t->shutdown_sent)
        return qs_err_set(e, QS_EPROTO, "TLS write while the connection is not open");
    const uint8_t *b = p;
    while (n > 0) {
        size_t w = 0;
        ERR_clear_error();
        int r = SSL_write_ex(t->ssl, b, n, &w);
        drain_wbio(t);
        if (r != 1)
            return tls_fail(t, r, e);
        b += w;
        n -= w;
    }
    return 0;
}

int qs_tls_shutdown(qs_tls *t, qs_err *e)
{
    if (t->state == QS_TLS_FAILED)
        return failed(t, e);
    if (t->shutdown_sent)
        return 0;
    t->shutdown_sent = 1;
    if (!SSL_is_init_finished(t->ssl))
        return 0; /* nothing to close politely mid-handshake */
    ERR_clear_error();
    (void)SSL_shutdown(t->ssl); /* 0: sent, waiting for the peer's; 1: done */
    ERR_clear_error();
    drain_wbio(t);
    return 0;
}

size_t qs_tls_pending_out(qs_tls *t, qs_buf *out)
{
    size_t n = t->out.len;
    qs_buf tmp = *out;
    *out = t->out;
    t->out = tmp;
    qs_buf_init(&t->out, 0);
    qs_buf_free(&tmp);
    return n;
}

size_t qs_tls_pending_out_len(const qs_tls *t)
{
    return t->out.len;
}

qs_tls_state qs_tls_get_state(const qs_tls *t)
{
    return t->state;
}

const char *qs_tls_peer_id(const qs_tls *t)
{
    return t->state == QS_TLS_OPEN || t->state == QS_TLS_PEER_CLOSED ? t->peer_id : NULL;
}

time_t qs_tls_peer_not_after(const qs_tls *t)
{
    return qs_tls_peer_id(t) ? t->peer_not_after : 0;
}

const qs_err *qs_tls_error(const qs_tls *t)
{
    return &t->err;
}
