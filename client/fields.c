/*
 * fields.c — command-line and CSV values into body values (see fields.h).
 */
#include "client/fields.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/cli.h"
#include "client/out.h"
#include "proto/date.h"
#include "proto/uuid.h"
#include "proto/xmalloc.h"

const char *fields_title(const qs_field *f, char *buf, size_t n)
{
    snprintf(buf, n, "%s (%s)", f->name, f->label);
    return buf;
}

static int field_err(qs_err *err, const qs_field *f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int field_err(qs_err *err, const qs_field *f, const char *fmt, ...)
{
    char msg[QS_ERR_MSG - 80];
    char title[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return qs_err_set(err, QS_EINVAL, "%s: %s", fields_title(f, title, sizeof title), msg);
}

/* ---- looking records up by what a clerk knows ---------------------------- */

/* Whether this store is the province's (reference data is entered here, not
 * pulled from above). */
static bool at_province(qs_store *st)
{
    qs_store_info info;
    return qs_store_ident(st, &info, NULL) == 0 && info.role == QS_ROLE_AGGREGATOR;
}

/* "a 9-digit township code": what a code of this level looks like. */
static const char *code_words(qs_level level)
{
    return level == QS_LEVEL_TOWNSHIP ? "9-digit township code"
           : level == QS_LEVEL_COUNTY ? "6-digit county code"
                                      : "division code";
}

/* The sentence for a key (text) that names no record of rk (n == 0), or
 * several (n > 1): what to do, in the words of the kind. */
static int key_error(qs_store *st, const qs_field *f, const qs_kind *rk, const char *text,
                     uint64_t n, qs_err *err)
{
    switch (rk->id) {
    case QS_K_STATION:
        if (n == 0)
            return field_err(err, f,
                             "station %s does not exist — add it with `qianshou add station "
                             "township=%s name=…`",
                             text, text);
        return field_err(err, f,
                         "several stations have township code %s — give the station's id "
                         "(see `qianshou list station township=%s`)",
                         text, text);
    case QS_K_PERSON:
        if (n == 0)
            return field_err(err, f,
                             "there is no person named %s — add them with `qianshou add person "
                             "name=%s agency=… role=…`, or check the spelling with `qianshou "
                             "list person`",
                             text, text);
        return field_err(err, f,
                         "%ld people are named %s — give the person's id (see "
                         "`qianshou list person name=%s`)",
                         (long)n, text, text);
    case QS_K_AGENCY:
        if (n == 0 && at_province(st))
            return field_err(err, f,
                             "there is no agency named %s — add it with `qianshou add agency "
                             "name=%s role=…`, or import the agency sheet first (`qianshou "
                             "import agency agency.csv`); see `qianshou list agency`",
                             text, text);
        if (n == 0)
            return field_err(err, f,
                             "there is no agency named %s in this store — agencies come from "
                             "the province with a sync; see `qianshou list agency`",
                             text);
        return field_err(err, f,
                         "several agencies are named %s — give the agency's id (see "
                         "`qianshou list agency name=%s`)",
                         text, text);
    case QS_K_PAIRING:
        if (n == 0)
            return field_err(err, f,
                             "county %s has no active pairing in this store — %s; see `qianshou "
                             "list pairing county=%s`",
                             text,
                             at_province(st) ? "add it with `qianshou add pairing …` or import "
                                               "the pairing sheet"
                                             : "pairings come from the province with a sync",
                             text);
        return field_err(err, f,
                         "county %s has several active pairings — give the pairing's id "
                         "(see `qianshou list pairing county=%s`)",
                         text, text);
    default: {
        const qs_field *kf = qs_kind_key(rk);
        if (n == 0)
            return field_err(err, f, "there is no %s with %s %s", rk->name, kf->name, text);
        return field_err(err, f, "several %s records have %s %s — give the record's id", rk->name,
                         kf->name, text);
    }
    }
}

/* *held: the record is in this store (false for an id kept without one). */
static int lookup_ref(qs_store *st, const qs_field *f, const char *text, uint8_t id[QS_ID_LEN],
                      bool *held, qs_err *err)
{
    *held = false;
    const qs_kind *rk = qs_schema_kind(f->ref_kind);
    int rc;
    if (!rk)
        return field_err(err, f, "refers to a kind this program does not know");
    if (qs_uuid_parse(text, id) == 0) {
        qs_record r;
        qs_err e2 = {0};
        rc = qs_store_get(st, id, &r, &e2);
        if (rc == QS_ENOTFOUND) {
            cli_warn("there is no %s with id %s in this store yet; keeping the id (the record "
                     "may arrive with the next sync)",
                     rk->name, text);
            return 0;
        }
        if (rc) {
            if (err)
                *err = e2;
            return rc;
        }
        const qs_kind *actual = qs_schema_kind(r.kind);
        bool deleted = r.deleted;
        uint32_t kind = r.kind;
        qs_record_free(&r);
        if (kind != rk->id)
            return field_err(err, f, "%s is a %s record, not a %s", text,
                             actual ? actual->name : "unknown", rk->name);
        if (deleted)
            return field_err(err, f, "the %s with id %s was deleted", rk->name, text);
        *held = true;
        return 0;
    }
    /* else by the field people name a record of that kind by (the schema's
     * key): the store finds it */
    const qs_field *kf = qs_kind_key(rk);
    if (!kf)
        return field_err(err, f,
                         "\"%s\" is not a record id (a UUID such as "
                         "01890a5d-ac96-774b-bcce-b302099a8057)",
                         text);
    if (kf->type == QS_F_CODE &&
        (!qs_code_valid(text) || qs_code_level(text) < (int)kf->min_level ||
         qs_code_level(text) > (int)kf->max_level))
        return field_err(err, f, "\"%s\" is neither a %s id nor a %s", text, rk->name,
                         code_words(kf->min_level));
    uint64_t n = 0;
    if ((rc = qs_store_find_key(st, rk->id, text, 0, id, &n, err)))
        return rc;
    if (n != 1)
        return key_error(st, f, rk, text, n, err);
    *held = true;
    return 0;
}

/* ---- references as text ------------------------------------------------------ */

#define KEY_CACHE 1024
#define KEY_TEXT 96

static struct key_entry {
    const qs_store *st;
    uint8_t id[QS_ID_LEN];
    bool set;
    char text[KEY_TEXT]; /* "" = shown as the id */
} key_cache[KEY_CACHE];

/* The key text of record id (of the kind f refers to) into out, or "" when
 * the record is not here, or its key does not name it alone. */
static void key_of(qs_store *st, const qs_field *f, const uint8_t id[QS_ID_LEN], char *out)
{
    out[0] = '\0';
    const qs_kind *rk = qs_schema_kind(f->ref_kind);
    const qs_field *kfield = qs_kind_key(rk);
    if (!kfield)
        return;
    qs_record r;
    if (qs_store_get(st, id, &r, NULL) != 0)
        return;
    qs_limits lim = qs_limits_default();
    qs_body b;
    if (r.kind == rk->id && !r.deleted && qs_body_decode(r.body, r.body_len, &lim, &b, NULL) == 0) {
        const qs_value *v = qs_body_get(&b, kfield->id);
        if (v && v->t == QS_V_STR && v->u.s.n > 0 && v->u.s.n < KEY_TEXT &&
            !memchr(v->u.s.p, ',', v->u.s.n)) {
            memcpy(out, v->u.s.p, v->u.s.n);
            out[v->u.s.n] = '\0';
        }
        qs_body_free(&b);
    }
    qs_record_free(&r);
    if (!out[0])
        return;
    /* the text must lead back to this record alone */
    uint8_t back[QS_ID_LEN];
    bool held;
    if (lookup_ref(st, f, out, back, &held, NULL) != 0 || !held || memcmp(back, id, QS_ID_LEN) != 0)
        out[0] = '\0';
}

static void ref_text(qs_store *st, const qs_field *f, const uint8_t *id, qs_buf *out)
{
    char uuid[QS_UUID_STR];
    if (st) {
        uint32_t h = 2166136261u;
        for (int i = 0; i < QS_ID_LEN; i++)
            h = (h ^ id[i]) * 16777619u;
        struct key_entry *e = &key_cache[h % KEY_CACHE];
        if (!(e->set && e->st == st && memcmp(e->id, id, QS_ID_LEN) == 0)) {
            e->st = st;
            memcpy(e->id, id, QS_ID_LEN);
            e->set = true;
            key_of(st, f, id, e->text);
        }
        if (e->text[0]) {
            qs_buf_append(out, e->text, strlen(e->text));
            return;
        }
    }
    qs_uuid_format(id, uuid);
    qs_buf_append(out, uuid, strlen(uuid));
}

char *fields_display(qs_store *st, const qs_field *f, const qs_value *v, bool labels)
{
    if (!v || v->t == QS_V_NIL || (f->type != QS_F_REF && f->type != QS_F_REFLIST))
        return out_value_text(f, v, labels);
    qs_buf b;
    qs_buf_init(&b, 0);
    if (f->type == QS_F_REF && v->t == QS_V_BIN && v->u.s.n == QS_ID_LEN) {
        ref_text(st, f, (const uint8_t *)v->u.s.p, &b);
    } else if (f->type == QS_F_REFLIST && v->t == QS_V_ARRAY) {
        for (uint32_t i = 0; i < v->u.a.n; i++) {
            const qs_value *x = &v->u.a.v[i];
            if (i)
                qs_buf_append(&b, ",", 1);
            if (x->t == QS_V_BIN && x->u.s.n == QS_ID_LEN)
                ref_text(st, f, (const uint8_t *)x->u.s.p, &b);
        }
    } else {
        qs_buf_free(&b);
        return out_value_text(f, v, labels);
    }
    char *s = qs_xstrndup(b.data ? (const char *)b.data : "", b.len);
    qs_buf_free(&b);
    return s;
}

/* ---- lists ------------------------------------------------------------------ */

/* Length of a list separator at p (, ， 、 ; ；), or 0. */
static size_t sep_len(const char *p)
{
    static const char *const seps[] = {",", ";", "\xef\xbc\x8c", "\xe3\x80\x81", "\xef\xbc\x9b"};
    for (size_t i = 0; i < sizeof seps / sizeof seps[0]; i++) {
        size_t n = strlen(seps[i]);
        if (strncmp(p, seps[i], n) == 0)
            return n;
    }
    return 0;
}

/* References resolved in this process: an import names the same station on
 * every row, and a lookup by township code scans every stored station. Only
 * successes are kept, and a process never deletes what it resolved, so an
 * entry stays true for the process's life. Direct-mapped, keyed by store,
 * kind and text. */
#define REF_CACHE 256
#define REF_TEXT 48

static struct ref_entry {
    const qs_store *st;
    uint32_t kind;
    char text[REF_TEXT];
    uint8_t id[QS_ID_LEN];
} ref_cache[REF_CACHE];

static struct ref_entry *ref_slot(const qs_store *st, uint32_t kind, const char *text)
{
    uint32_t h = 2166136261u ^ kind;
    for (const char *c = text; *c; c++)
        h = (h ^ (unsigned char)*c) * 16777619u;
    return &ref_cache[h % REF_CACHE];
}

static int resolve_ref(qs_store *st, const qs_field *f, const char *text, uint8_t id[QS_ID_LEN],
                       qs_err *err)
{
    bool held;
    if (strlen(text) >= REF_TEXT)
        return lookup_ref(st, f, text, id, &held, err);
    struct ref_entry *e = ref_slot(st, f->ref_kind, text);
    if (e->st == st && e->kind == f->ref_kind && strcmp(e->text, text) == 0) {
        memcpy(id, e->id, QS_ID_LEN);
        return 0;
    }
    int rc = lookup_ref(st, f, text, id, &held, err);
    /* an id kept without its record is not cached: its warning is due on
     * every row that names it */
    if (rc == 0 && held) {
        e->st = st;
        e->kind = f->ref_kind;
        snprintf(e->text, sizeof e->text, "%s", text);
        memcpy(e->id, id, QS_ID_LEN);
    }
    return rc;
}

static bool is_hex32(const char *s)
{
    size_t n = strspn(s, "0123456789abcdefABCDEF");
    return n == 32 && s[n] == '\0';
}

/* An ID number as people write it: 18 characters (17 digits and a digit or X)
 * or the old 15 digits, spaces and hyphens allowed. */
static bool looks_like_id_number(const char *s)
{
    char d[32];
    size_t n = 0;
    for (; *s; s++) {
        if (*s == ' ' || *s == '-')
            continue;
        if (n + 1 >= sizeof d)
            return false;
        d[n++] = *s;
    }
    d[n] = '\0';
    if (n == 15)
        return strspn(d, "0123456789") == 15;
    return n == 18 && strspn(d, "0123456789") >= 17 &&
           (d[17] == 'X' || d[17] == 'x' || (d[17] >= '0' && d[17] <= '9'));
}

static int parse_elem(qs_store *st, const qs_field *f, const char *text, qs_value *out, qs_err *err)
{
    uint8_t id[QS_ID_LEN];
    int rc;
    if (f->type == QS_F_REFLIST) {
        if ((rc = resolve_ref(st, f, text, id, err)))
            return rc;
    } else if (is_hex32(text)) {
        qs_unhex(text, id, sizeof id);
    } else if (looks_like_id_number(text)) {
        qs_err e2 = {0};
        if ((rc = qs_store_pseudonym(st, text, id, &e2)))
            return field_err(err, f, "%s", e2.msg);
    } else {
        return field_err(
            err, f, "\"%s\" is neither a pseudonym (32 hex characters) nor an ID number", text);
    }
    *out = qs_v_bin(id, sizeof id);
    return 0;
}

static int parse_list(qs_store *st, const qs_field *f, const char *text, qs_value *out, qs_err *err)
{
    qs_value *items = NULL;
    size_t n = 0;
    int rc = 0;
    const char *p = text;
    while (*p) {
        size_t len = 0;
        while (p[len] && !sep_len(p + len))
            len++;
        char *one = qs_xstrndup(p, len);
        char *a = one, *e = one + len;
        while (*a == ' ' || *a == '\t')
            a++;
        while (e > a && (e[-1] == ' ' || e[-1] == '\t'))
            *--e = '\0';
        if (*a) {
            if (n >= 10000) {
                free(one);
                rc = field_err(err, f, "lists too many entries");
                goto done;
            }
            items = qs_xreallocarray(items, n + 1, sizeof *items);
            rc = parse_elem(st, f, a, &items[n], err);
            if (rc) {
                free(one);
                goto done;
            }
            n++;
        }
        free(one);
        p += len;
        if (*p)
            p += sep_len(p);
    }
    if (n == 0) {
        *out = (qs_value){.t = QS_V_NIL};
        goto done;
    }
    *out = qs_v_array(n);
    for (size_t i = 0; i < n; i++)
        out->u.a.v[i] = items[i];
    n = 0;
done:
    for (size_t i = 0; i < n; i++)
        qs_value_free(&items[i]);
    free(items);
    return rc;
}

/* ---- the public functions --------------------------------------------------- */

static bool blank(const char *s)
{
    return s[strspn(s, " \t\r\n")] == '\0';
}

int fields_parse(qs_store *st, const qs_field *f, const char *text, qs_value *out, qs_err *err)
{
    *out = (qs_value){.t = QS_V_NIL};
    if (blank(text))
        return 0;
    if (f->type == QS_F_REF) {
        const char *a = text + strspn(text, " \t");
        size_t len = strlen(a);
        while (len && (a[len - 1] == ' ' || a[len - 1] == '\t'))
            len--;
        char *t = qs_xstrndup(a, len);
        uint8_t id[QS_ID_LEN];
        int rc = resolve_ref(st, f, t, id, err);
        free(t);
        if (rc == 0)
            *out = qs_v_bin(id, sizeof id);
        return rc;
    }
    if (f->type == QS_F_REFLIST || f->type == QS_F_DIGESTS)
        return parse_list(st, f, text, out, err);
    return qs_schema_parse(f, text, out, err);
}

int fields_set(qs_store *st, const qs_field *f, const char *text, qs_body *b, qs_err *err)
{
    qs_value v;
    int rc = fields_parse(st, f, text, &v, err);
    if (rc)
        return rc;
    if (v.t == QS_V_NIL)
        qs_body_unset(b, f->id);
    else
        qs_body_set(b, f->id, v);
    return 0;
}

int fields_assignment(const qs_kind *k, const char *arg, const qs_field **f, const char **value,
                      qs_err *err)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return qs_err_set(err, QS_EINVAL, "\"%s\" is not FIELD=VALUE (e.g. name=同仁社工站)", arg);
    char *name = qs_xstrndup(arg, (size_t)(eq - arg));
    *f = qs_kind_field_by_name(k, name);
    int rc = 0;
    if (!*f) {
        char list[400];
        size_t len = 0;
        list[0] = '\0';
        for (uint32_t i = 0; i < k->nfields && len < sizeof list; i++) {
            int w =
                snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", k->fields[i].name);
            len += w > 0 ? (size_t)w : 0;
        }
        rc = qs_err_set(err, QS_EINVAL, "a %s has no field \"%s\" — its fields are: %s", k->name,
                        name, list);
    }
    free(name);
    *value = eq + 1;
    return rc;
}

int fields_finish(qs_store *st, const qs_kind *k, qs_body *b, qs_err *err)
{
    return qs_store_derive(st, k->id, b, err);
}

int fields_warn_duplicate(qs_store *st, const qs_kind *k, const qs_body *b, const char *prefix,
                          qs_err *err)
{
    uint64_t n = 0;
    int rc = qs_store_count_duplicates(st, k->id, b, &n, err);
    if (rc || n == 0)
        return rc;
    if (k->id == QS_K_WORKDAY) { /* the key: person and date */
        const qs_value *pv = qs_body_get(b, k->dup[0]), *dv = qs_body_get(b, k->dup[1]);
        char date[16], who[QS_UUID_STR] = "?";
        if (pv->t == QS_V_BIN && pv->u.s.n == QS_ID_LEN)
            qs_uuid_format((const uint8_t *)pv->u.s.p, who);
        cli_warn("%sperson %s already has %llu work day%s on %s; this one is kept too (reports "
                 "count distinct days)",
                 prefix, who, (unsigned long long)n, n == 1 ? "" : "s",
                 dv->t == QS_V_INT ? qs_date_format((int32_t)dv->u.i, date) : "?");
        return 0;
    }
    cli_warn("%s%llu %s record%s already stored with the same key values; this one is kept too",
             prefix, (unsigned long long)n, k->name, n == 1 ? " is" : "s are");
    return 0;
}

void fields_forget(void)
{
    memset(key_cache, 0, sizeof key_cache);
    memset(ref_cache, 0, sizeof ref_cache);
}
