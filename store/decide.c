/*
 * decide.c — what the store decides and builds without reading or writing
 * anything, the same for both backends (version.c on SQLite, pg_version.c on
 * PostgreSQL): the outcome of a received version and the words of its
 * reason, the checks of a local edit and of a resolution, the test hook's
 * count, a local version sealed, a conflict list and an ancestry assembled
 * from rows. Each backend reads what a decision needs and writes what it
 * decided.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "proto/msg.h"
#include "proto/schema.h"
#include "proto/scope.h"
#include "proto/uuid.h"
#include "proto/xmalloc.h"
#include "store/internal.h"

void qs__result(qs_apply_result *res, int outcome, const char *fmt, ...)
{
    res->outcome = (uint8_t)outcome;
    res->reason[0] = '\0';
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(res->reason, sizeof res->reason, fmt, ap);
        va_end(ap);
    }
}

int qs__received_verdict(const qs_store *st, const char *peer, qs_direction dir, const qs_record *r,
                         const qs_precheck *pre, qs_body *scratch, const qs_body **use,
                         qs_apply_result *res)
{
    *use = scratch;
    if (!pre || pre->verdict == QS_PRE_NONE) {
        int v = qs_precheck_check(st->node, &st->lim, peer, dir, r, scratch, res->reason);
        res->outcome = v == QS_PRE_OK       ? QS_OUT_APPLIED
                       : v == QS_PRE_PARKED ? QS_OUT_PARKED
                                            : QS_OUT_REJECTED;
        return v;
    }
    if (pre->verdict == QS_PRE_REJECTED || pre->verdict == QS_PRE_AUTHOR) {
        qs__result(res, QS_OUT_REJECTED, "%s", pre->reason ? pre->reason : "refused");
        return pre->verdict;
    }
    if (pre->verdict == QS_PRE_PARKED) {
        qs__result(res, QS_OUT_PARKED, "kind %u is unknown to this node: kept until it is upgraded",
                   r->kind);
        return QS_PRE_PARKED;
    }
    if (r->deleted)
        return QS_PRE_OK;
    if (pre->has_body) {
        *use = &pre->body;
        return QS_PRE_OK;
    }
    qs_err e = {0};
    if (qs_body_decode(r->body, r->body_len, &st->lim, scratch, &e)) {
        qs__result(res, QS_OUT_REJECTED, "body: %s", e.msg);
        return QS_PRE_REJECTED;
    }
    return QS_PRE_OK;
}

/* Whether peer may see a held record of kind in scope: what a reason sent to
 * it may say about that record. Never a local-only one. */
static bool peer_sees(const char *peer, uint32_t kind, const char *scope)
{
    const qs_kind *k = qs_schema_kind(kind);
    return k && !k->local_only && qs_scope_visible(peer, scope);
}

qs_apply_step qs__apply_decide(const char *peer, int verdict, const qs_record *r, bool exists,
                               bool dup, uint32_t kind, const char *scope, qs_apply_result *res,
                               char note[QS_REASON_MAX])
{
    if (verdict == QS_PRE_AUTHOR) {
        /* The hash verified and this revision is held already: a node relaying
         * what it got from us (after our restore, say) credits no one anew. */
        if (dup && kind == r->kind && strcmp(scope, r->scope) == 0) {
            qs__result(res, QS_OUT_DUPLICATE, NULL);
            return QS_STEP_DONE;
        }
        snprintf(note, QS_REASON_MAX, "%s", res->reason);
        return QS_STEP_REJECT;
    }
    if (exists && (kind != r->kind || strcmp(scope, r->scope) != 0)) {
        /* The full story stays here (rejections); the sender hears it only
         * if it may see the record that holds the id. */
        snprintf(note, QS_REASON_MAX, "record kind/scope changed from %u/%s to %u/%s", kind, scope,
                 r->kind, r->scope);
        if (peer_sees(peer, kind, scope))
            qs__result(res, QS_OUT_REJECTED, "%s", note);
        else
            qs__result(res, QS_OUT_REJECTED, "record id already in use by another record");
        return QS_STEP_REJECT;
    }
    if (dup) {
        qs__result(res, QS_OUT_DUPLICATE, NULL);
        return QS_STEP_DONE;
    }
    return QS_STEP_INSTALL;
}

int qs__hook_apply(qs_store *st, qs_err *err)
{
    if (st->fail_after == 0)
        return qs_err_set(err, QS_EIO, "injected failure (test hook)");
    if (st->fail_after > 0)
        st->fail_after--;
    return 0;
}

int qs__hook_local(qs_store *st, int rc, qs_err *err)
{
    if (!rc && st->fail_after == 0) {
        st->fail_after = -1;
        rc = qs_err_set(err, QS_EIO, "injected failure (test hook)");
    } else if (st->fail_after > 0) {
        st->fail_after--;
    }
    return rc;
}

int qs__check_body(const qs_kind *k, const qs_body *body, qs_err *err)
{
    qs_verrs ve;
    if (qs_schema_validate(k, body, false, &ve, err))
        return qs_err_prefix(err, "%s", k->name);
    return 0;
}

int qs__edit_check(const qs_store *st, const uint8_t id[QS_ID_LEN], const qs_record *cur,
                   const qs_kind **k, qs_err *err)
{
    char idtxt[QS_UUID_STR];
    *k = qs_schema_kind(cur->kind);
    if (!*k)
        return qs_err_set(err, QS_ESCHEMA, "record %s is of a kind this version does not know",
                          qs_uuid_format(id, idtxt));
    if (cur->deleted)
        return qs_err_set(err, QS_ENOTFOUND, "record %s was deleted", qs_uuid_format(id, idtxt));
    if (!qs_scope_can_write(st->node, cur->scope))
        return qs_err_set(err, QS_ESCOPE,
                          "record %s belongs to %s: this node (%s) may not change it",
                          qs_uuid_format(id, idtxt), cur->scope, st->node);
    return 0;
}

int qs__resolve_check(const qs_store *st, const uint8_t id[QS_ID_LEN], size_t nheads, uint32_t kind,
                      const char *scope, const qs_rev *take, const qs_body *body, const qs_kind **k,
                      qs_err *err)
{
    char t[QS_UUID_STR];
    *k = NULL;
    if (nheads < 2)
        return qs_err_set(err, QS_ENOTFOUND, "record %s has no open conflict",
                          qs_uuid_format(id, t));
    if (!(*k = qs_schema_kind(kind)))
        return qs_err_set(err, QS_ESCHEMA, "unknown kind %u", kind);
    if (!qs_scope_can_write(st->node, scope))
        return qs_err_set(err, QS_ESCOPE, "record %s belongs to %s: this node may not resolve it",
                          qs_uuid_format(id, t), scope);
    if (!take && !body)
        return qs_err_set(err, QS_EINVAL, "resolve needs a revision to take or a body");
    return 0;
}

int qs__resolve_pick(const qs_rev *heads, size_t n, const qs_rev *take, size_t *at, qs_err *err)
{
    for (size_t i = 0; i < n; i++) {
        if (qs_rev_eq(&heads[i], take)) {
            *at = i;
            return 0;
        }
    }
    char rt[QS_REV_STR];
    return qs_err_set(err, QS_ENOTFOUND, "revision %s is not one of the conflicting versions",
                      qs_rev_format(take, rt));
}

void qs__local_version(const qs_store *st, qs_record *r, const uint8_t id[QS_ID_LEN], uint32_t kind,
                       const char *scope, const qs_rev *parents, uint32_t np, bool deleted,
                       const qs_buf *body, qs_hlc hlc)
{
    memcpy(r->id, id, QS_ID_LEN);
    r->kind = kind;
    snprintf(r->scope, sizeof r->scope, "%s", scope);
    qs_record_set_parents(r, parents, np);
    r->hlc = hlc;
    memcpy(r->author, st->author, sizeof r->author);
    r->deleted = deleted;
    r->schema = QS_SCHEMA_VERSION;
    qs_record_set_body(r, body->data, (uint32_t)body->len);
    qs_record_seal(r);
}

qs_conflict *qs__conflict_row(qs_conflict **out, size_t *n, size_t *cap, qs_conflict *c,
                              const uint8_t *id, uint32_t kind, const char *scope, const qs_rev *rv,
                              bool winner)
{
    if (!c || memcmp(c->id, id, QS_ID_LEN) != 0) {
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 4;
            *out = qs_xreallocarray(*out, *cap, sizeof **out);
        }
        c = &(*out)[(*n)++];
        memset(c, 0, sizeof *c);
        memcpy(c->id, id, QS_ID_LEN);
        c->kind = kind;
        snprintf(c->scope, sizeof c->scope, "%s", scope);
    }
    if (winner) {
        c->winner = *rv;
    } else {
        c->losers = qs_xreallocarray(c->losers, c->nlosers + 1, sizeof *c->losers);
        c->losers[c->nlosers++] = *rv;
    }
    return c;
}

void qs__ancestry_add(uint8_t (*a)[QS_HASH_LEN], uint32_t *n, uint32_t max, const uint8_t *col,
                      int len, bool parents)
{
    int stride = parents ? QS_PARENT_BYTES : QS_HASH_LEN;
    int off = parents ? 8 : 0;
    int cnt = len / stride;
    for (int j = 0; col && j < cnt && *n < max; j++) {
        const uint8_t *hsh = col + j * stride + off;
        bool seen = false;
        for (uint32_t k = 0; k < *n && !seen; k++)
            seen = memcmp(a[k], hsh, QS_HASH_LEN) == 0;
        if (!seen)
            memcpy(a[(*n)++], hsh, QS_HASH_LEN);
    }
}
