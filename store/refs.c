/*
 * refs.c — what a record given at this node must agree with in the store's
 * reference data, beyond its own schema: checked when it is written here
 * (qs_store_create, qs_store_update, an import's writer), never when a peer's
 * version is applied (the writer checked it; refusing it there would only
 * jam sync).
 *
 * A pairing (结对) names the county it serves: that county must lie in the
 * pairing's own area (the province that writes it: 63… for 630000) and be a
 * county of the plan, i.e. a live county record (k_county). The annual
 * report counts coverage against those records (client/REPORTS.md).
 */
#include <stdio.h>
#include <string.h>

#include "store/internal.h"
#include "store/pg.h"

static const char *body_str(const qs_body *b, uint32_t kind, const char *field)
{
    const qs_field *f = qs_kind_field_by_name(qs_schema_kind(kind), field);
    const qs_value *v = f ? qs_body_get(b, f->id) : NULL;
    return v && v->t == QS_V_STR && v->u.s.n ? v->u.s.p : NULL;
}

/* Whether code is a live county record's (k_county). */
static int county_known(qs_store *st, const char *code, bool *known, qs_err *err)
{
    if (st->pg)
        return qs__pg_county_known(st, code, known, err);
    sqlite3_stmt *s = NULL;
    int rc =
        sqlite3_prepare_v2(st->db, "SELECT 1 FROM k_county WHERE code = ?1 LIMIT 1", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return qs__sqlerr(st, rc, "checking the pairing's county", err);
    sqlite3_bind_text(s, 1, code, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return qs__sqlerr(st, rc, "checking the pairing's county", err);
    *known = rc == SQLITE_ROW;
    return 0;
}

static int pairing_refs(qs_store *st, const char *scope, const qs_body *body, qs_err *err)
{
    const char *county = body_str(body, QS_K_PAIRING, "county");
    if (!county) /* required: the schema has said so already */
        return 0;
    char prefix[QS_CODE_MAX];
    if (qs_code_prefix(scope, prefix, sizeof prefix) < 0 ||
        strncmp(county, prefix, strlen(prefix)) != 0)
        return qs_err_set(err, QS_EINVAL,
                          "pairing: county (受援县) %s is outside this pairing's area %s: the "
                          "plan pairs agencies with counties of this province",
                          county, scope);
    bool known = false;
    int rc = county_known(st, county, &known, err);
    if (rc || known)
        return rc;
    return qs_err_set(err, QS_EINVAL,
                      "pairing: county (受援县) %s is not a county of the plan: add its county "
                      "record first (qianshou add county code=%s name=…)",
                      county, county);
}

int qs__refs_check(qs_store *st, uint32_t kind, const char *scope, const qs_body *body, qs_err *err)
{
    if (!body)
        return 0;
    if (kind == QS_K_PAIRING)
        return pairing_refs(st, scope, body, err);
    return 0;
}
