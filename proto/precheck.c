/* precheck.c — see precheck.h. */
#include "proto/precheck.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "proto/schema.h"
#include "proto/scope.h"
#include "proto/xmalloc.h"

static int say(char reason[QS_REASON_MAX], int verdict, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int say(char reason[QS_REASON_MAX], int verdict, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, QS_REASON_MAX, fmt, ap);
    va_end(ap);
    return verdict;
}

int qs_precheck_check(const char *node, const qs_limits *lim, const char *peer, qs_direction dir,
                      const qs_record *r, qs_body *body, char reason[QS_REASON_MAX])
{
    qs_err e = {0};
    reason[0] = '\0';
    if (qs_record_verify(r, lim, &e))
        return say(reason, QS_PRE_REJECTED, "%s", e.msg);
    const qs_kind *k = qs_schema_kind(r->kind);
    if (!k)
        return say(reason, QS_PRE_PARKED,
                   "kind %u is unknown to this node: kept until it is upgraded", r->kind);
    if (k->local_only)
        return say(reason, QS_PRE_REJECTED, "%s records are local-only and never sync", k->name);
    if (dir == QS_FROM_CHILD && !qs_scope_can_write(peer, r->scope))
        return say(reason, QS_PRE_REJECTED, "node %s may not write records of scope %s", peer,
                   r->scope);
    if (dir == QS_FROM_PARENT && !qs_scope_visible(node, r->scope))
        return say(reason, QS_PRE_REJECTED, "scope %s is not visible to node %s", r->scope, node);
    /* The author (not hashed) is checked like the scope: it names a node that
     * could have written the record, and from a child, the child or a node
     * below it. */
    char anode[QS_CODE_MAX];
    if (qs_author_node(r->author, anode))
        return say(reason, QS_PRE_AUTHOR, "author is not NODE/USER with a division code as NODE");
    if (dir == QS_FROM_CHILD && !qs_scope_can_write(peer, anode))
        return say(reason, QS_PRE_AUTHOR, "author names node %s, which is neither %s nor below it",
                   anode, peer);
    if (!qs_scope_can_write(anode, r->scope))
        return say(reason, QS_PRE_AUTHOR,
                   "author names node %s, which may not write records of scope %s", anode,
                   r->scope);
    if (!qs_scope_level_ok(r->scope, k->min_level, k->max_level))
        return say(reason, QS_PRE_REJECTED, "a %s cannot have scope %s (wrong level)", k->name,
                   r->scope);
    if (!r->deleted) {
        if (qs_body_decode(r->body, r->body_len, lim, body, &e))
            return say(reason, QS_PRE_REJECTED, "body: %s", e.msg);
        qs_verrs ve;
        if (qs_schema_validate(k, body, false, &ve, &e))
            return say(reason, QS_PRE_REJECTED, "invalid %s: %s", k->name, e.msg);
    }
    return QS_PRE_OK;
}

void qs_precheck_run(const char *node, const qs_limits *lim, const char *peer, qs_direction dir,
                     const qs_record *r, bool keep_body, qs_precheck *out)
{
    char reason[QS_REASON_MAX];
    qs_body_init(&out->body);
    out->reason = NULL;
    out->has_body = false;
    out->verdict = (uint8_t)qs_precheck_check(node, lim, peer, dir, r, &out->body, reason);
    if (out->verdict == QS_PRE_REJECTED || out->verdict == QS_PRE_AUTHOR)
        out->reason = qs_xstrdup(reason);
    if (out->verdict == QS_PRE_OK && keep_body && !r->deleted) {
        out->has_body = true;
    } else {
        qs_body_free(&out->body);
        qs_body_init(&out->body);
    }
}

void qs_precheck_free(qs_precheck *p)
{
    if (!p)
        return;
    qs_body_free(&p->body);
    free(p->reason);
    p->reason = NULL;
    p->has_body = false;
    p->verdict = QS_PRE_NONE;
}
