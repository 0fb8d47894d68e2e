/* Unit tests for proto/schema.c: the table's self-consistency, lookups,
 * validation of every kind (valid and invalid examples, every error at once),
 * and the text forms (parse / format). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto/schema.h"
#include "proto/date.h"
#include "proto/uuid.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Record ids and digests used in the examples. */
#define AG1 "0190f3a0-1111-7000-8000-000000000001"
#define AG2 "0190f3a0-1111-7000-8000-000000000002"
#define PAIR "0190f3a0-2222-7000-8000-000000000001"
#define PERS1 "0190f3a0-3333-7000-8000-000000000001"
#define PERS2 "0190f3a0-3333-7000-8000-000000000002"
#define STAT "0190f3a0-4444-7000-8000-000000000001"
#define DG1 "00112233445566778899aabbccddeeff"
#define DG2 "ffeeddccbbaa99887766554433221100"

/* ---------------------------------------------------------------------------
 * Building bodies from "field=value" text. A value "#123" is stored as the
 * integer 123 without going through qs_schema_parse (to reach values parse
 * would refuse); a field given by number ("99=x") is unknown to the schema
 * and stored as a string.
 */
static void build(const qs_kind *k, const char *const *kv, qs_body *b)
{
    qs_body_init(b);
    for (; *kv; kv++) {
        const char *eq = strchr(*kv, '=');
        assert_non_null(eq);
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(eq - *kv), *kv);
        const char *val = eq + 1;
        const qs_field *f = qs_kind_field_by_name(k, name);
        if (!f) {
            uint32_t id = (uint32_t)strtoul(name, NULL, 10);
            if (id == 0)
                fail_msg("kind %s has no field %s", k->name, name);
            qs_body_set(b, id, qs_v_str(val));
            continue;
        }
        if (val[0] == '#') {
            qs_body_set(b, f->id, qs_v_int(strtoll(val + 1, NULL, 10)));
            continue;
        }
        qs_value v;
        qs_err err = {0};
        if (qs_schema_parse(f, val, &v, &err) != 0)
            fail_msg("%s.%s = \"%s\": %s", k->name, name, val, err.msg);
        qs_body_set(b, f->id, v);
    }
}

static const qs_kind *kind(const char *name)
{
    const qs_kind *k = qs_schema_kind_by_name(name);
    if (!k)
        fail_msg("no kind %s", name);
    return k;
}

static bool has_err(const qs_verrs *e, const char *name)
{
    for (uint32_t i = 0; i < e->n; i++)
        if (strcmp(e->e[i].name, name) == 0)
            return true;
    return false;
}

/* ---------------------------------------------------------------------------
 * Self-consistency of the table.
 */

static bool ascii_ident(const char *s)
{
    if (!s || !((*s >= 'a' && *s <= 'z') || *s == '_'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

/* Labels and names must survive list splitting and CSV headers. */
static bool has_separator(const char *s)
{
    return strpbrk(s, ",;\"\n") || strstr(s, "，") || strstr(s, "、") || strstr(s, "；");
}

static void check_enum(const qs_enum *e, const char *where)
{
    if (!e || e->n == 0 || !ascii_ident(e->name))
        fail_msg("%s: enum missing, empty or badly named", where);
    for (uint32_t i = 0; i < e->n; i++) {
        const qs_enum_val *v = &e->vals[i];
        if (!ascii_ident(v->name) || !v->label || !*v->label || has_separator(v->label))
            fail_msg("%s: enum %s value %u has a bad name or label", where, e->name, v->code);
        for (uint32_t j = 0; j < i; j++)
            if (e->vals[j].code == v->code || strcmp(e->vals[j].name, v->name) == 0 ||
                strcmp(e->vals[j].label, v->label) == 0)
                fail_msg("%s: enum %s repeats code, name or label at %u", where, e->name, v->code);
        if (qs_enum_by_code(e, v->code) != v || qs_enum_lookup(e, v->name) != v ||
            qs_enum_lookup(e, v->label) != v)
            fail_msg("%s: enum %s value %s does not look itself up", where, e->name, v->name);
    }
}

static void test_self_consistency(void **state)
{
    uint32_t nk = qs_schema_nkinds();
    assert_int_equal(nk, 11);
    assert_null(qs_schema_kind_at(nk));
    for (uint32_t i = 0; i < nk; i++) {
        const qs_kind *k = qs_schema_kind_at(i);
        assert_non_null(k);
        if (!ascii_ident(k->name) || !k->label || !*k->label || k->id == 0)
            fail_msg("kind %u: bad id, name or label", k->id);
        if (qs_schema_kind(k->id) != k || qs_schema_kind_by_name(k->name) != k ||
            qs_schema_kind_by_name(k->label) != k)
            fail_msg("kind %s does not look itself up (repeated id, name or label?)", k->name);
        if (k->min_level > k->max_level || k->nfields == 0)
            fail_msg("kind %s: bad levels or no fields", k->name);
        for (uint32_t j = 0; j < k->nfields; j++) {
            const qs_field *f = &k->fields[j];
            char where[80];
            snprintf(where, sizeof where, "%s.%s", k->name, f->name ? f->name : "?");
            if (f->id < 1 || !ascii_ident(f->name) || strlen(f->name) >= 32 || !f->label ||
                !*f->label || has_separator(f->label))
                fail_msg("%s: bad id, name or label", where);
            if (qs_kind_field(k, f->id) != f || qs_kind_field_by_name(k, f->name) != f ||
                qs_kind_field_by_name(k, f->label) != f)
                fail_msg("%s: id, name or label is not unique in its kind", where);
            if (f->flags & ~(QS_FF_REQUIRED | QS_FF_LOCAL))
                fail_msg("%s: unknown flags", where);
            switch (f->type) {
            case QS_F_ENUM:
            case QS_F_ENUMSET:
                check_enum(f->en, where);
                if (f->type == QS_F_ENUMSET && f->max != (int64_t)f->en->n)
                    fail_msg("%s: an enumset's max is its enum's size", where);
                break;
            case QS_F_REF:
            case QS_F_REFLIST:
                if (!qs_schema_kind(f->ref_kind))
                    fail_msg("%s: refers to unknown kind %u", where, f->ref_kind);
                if (f->type == QS_F_REFLIST && f->max < 1)
                    fail_msg("%s: list without a maximum", where);
                break;
            case QS_F_DIGESTS:
                if (f->max < 1)
                    fail_msg("%s: list without a maximum", where);
                break;
            case QS_F_TEXT:
                if (f->min < 1 || f->max < f->min)
                    fail_msg("%s: bad text length bounds", where);
                break;
            case QS_F_INT:
            case QS_F_MONEY:
                if (f->max < f->min || f->max == 0)
                    fail_msg("%s: bad bounds", where);
                break;
            case QS_F_DATE:
                if (!qs_date_valid((int32_t)f->min) || !qs_date_valid((int32_t)f->max) ||
                    f->max < f->min)
                    fail_msg("%s: bad date bounds", where);
                break;
            case QS_F_CODE:
                if (f->min_level > f->max_level || f->min_level < QS_LEVEL_PROVINCE)
                    fail_msg("%s: bad code levels", where);
                break;
            case QS_F_BOOL:
                break;
            default:
                fail_msg("%s: unknown type %d", where, (int)f->type);
            }
            if (f->type != QS_F_ENUM && f->type != QS_F_ENUMSET && f->en)
                fail_msg("%s: enum on a non-enum field", where);
            if ((f->flags & QS_FF_LOCAL) && !k->local_only)
                fail_msg("%s: local field in a kind that syncs", where);
            if (f->pseudonym_of) {
                const qs_field *src = qs_kind_field(k, f->pseudonym_of);
                if (f->type != QS_F_DIGESTS || f->max != 1 || !src || src->type != QS_F_TEXT ||
                    !(src->flags & QS_FF_LOCAL))
                    fail_msg("%s: a pseudonym is one digest of a local text field", where);
            }
        }
        /* the natural key, its years and the duplicate key name fields of the
         * kind, of the types the store's lookups bind */
        const qs_field *key = qs_kind_key(k);
        if (k->key && (!key || (key->type != QS_F_TEXT && key->type != QS_F_CODE)))
            fail_msg("kind %s: its key is not a text or code field", k->name);
        if ((k->key_from || k->key_to) &&
            (!key || !qs_kind_field(k, k->key_from) || !qs_kind_field(k, k->key_to) ||
             qs_kind_field(k, k->key_from)->type != QS_F_INT ||
             qs_kind_field(k, k->key_to)->type != QS_F_INT))
            fail_msg("kind %s: key years are not two INT fields", k->name);
        uint32_t nd = 0;
        while (nd <= QS_DUP_MAX && k->dup[nd])
            if (!qs_kind_field(k, k->dup[nd++]))
                fail_msg("kind %s: its duplicate key names an unknown field", k->name);
        if (nd > QS_DUP_MAX)
            fail_msg("kind %s: duplicate key not 0-terminated", k->name);
    }
    /* The ids schema.h promises, and the levels DESIGN.md fixes. */
    assert_int_equal(qs_schema_kind(QS_K_SERVICE)->min_level, QS_LEVEL_COUNTY);
    assert_int_equal(qs_schema_kind(QS_K_PAIRING)->max_level, QS_LEVEL_PROVINCE);
    assert_true(qs_schema_kind(QS_K_BENEFICIARY)->local_only);
    assert_false(qs_schema_kind(QS_K_SERVICE)->local_only);
}

/* Every named enumeration code (schema.h, QS_ENUM_CODES) is the code of the
 * value of that name in that enumeration of the schema, and the natural and
 * duplicate keys are the ones the CLI and the report were written for. */
static void test_named_codes_and_keys(void **state)
{
    (void)state;
    static const struct {
        int constant;
        const char *en, *name;
        uint32_t code;
    } named[] = {
#define ROW(c, en, name, code) {c, en, name, code},
        QS_ENUM_CODES(ROW)
#undef ROW
    };
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        const qs_enum *e = qs_schema_enum(named[i].en);
        if (!e)
            fail_msg("%s: no field uses enumeration %s", named[i].name, named[i].en);
        const qs_enum_val *v = qs_enum_lookup(e, named[i].name);
        if (!v || strcmp(v->name, named[i].name) != 0)
            fail_msg("%s has no value named %s", named[i].en, named[i].name);
        if (v->code != named[i].code || (uint32_t)named[i].constant != v->code)
            fail_msg("%s.%s: the constant says %d, the schema %u", named[i].en, named[i].name,
                     named[i].constant, v->code);
    }
    assert_null(qs_schema_enum("no_such_enum"));
    assert_int_equal(QS_DIRECTION_SPENT, 2);
    assert_int_equal(QS_PERSON_ROLE_LOCAL, 2);

    static const struct {
        uint32_t kind;
        const char *key, *from, *to, *dup[3];
    } keys[] = {
        {QS_K_COUNTY, "code", NULL, NULL, {NULL}},
        {QS_K_AGENCY, "name", NULL, NULL, {NULL}},
        {QS_K_PAIRING, "county", "start_year", "end_year", {NULL}},
        {QS_K_STATION, "township", NULL, NULL, {NULL}},
        {QS_K_PERSON, "name", NULL, NULL, {NULL}},
        {QS_K_WORKDAY, NULL, NULL, NULL, {"person", "date", NULL}},
        {QS_K_SERVICE, NULL, NULL, NULL, {NULL}},
        {QS_K_TRAINING, NULL, NULL, NULL, {NULL}},
        {QS_K_EXPENSE, NULL, NULL, NULL, {NULL}},
        {QS_K_OUTPUT, NULL, NULL, NULL, {NULL}},
        {QS_K_BENEFICIARY, NULL, NULL, NULL, {NULL}},
    };
    assert_int_equal(sizeof keys / sizeof keys[0], qs_schema_nkinds());
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const qs_kind *k = qs_schema_kind(keys[i].kind);
        const qs_field *key = qs_kind_key(k);
        if (keys[i].key ? !key || strcmp(key->name, keys[i].key) != 0 : key != NULL)
            fail_msg("%s: key %s, expected %s", k->name, key ? key->name : "none",
                     keys[i].key ? keys[i].key : "none");
        const qs_field *from = qs_kind_field(k, k->key_from), *to = qs_kind_field(k, k->key_to);
        assert_true(keys[i].from ? from && strcmp(from->name, keys[i].from) == 0 : !from);
        assert_true(keys[i].to ? to && strcmp(to->name, keys[i].to) == 0 : !to);
        size_t j = 0;
        for (; keys[i].dup[j]; j++) {
            const qs_field *f = qs_kind_field(k, k->dup[j]);
            if (!f || strcmp(f->name, keys[i].dup[j]) != 0)
                fail_msg("%s: duplicate key field %zu is not %s", k->name, j, keys[i].dup[j]);
        }
        assert_int_equal(k->dup[j], 0);
    }
    /* the beneficiary's pseudonym is its ID number's */
    const qs_kind *b = qs_schema_kind(QS_K_BENEFICIARY);
    assert_int_equal(qs_kind_field_by_name(b, "pseudonym")->pseudonym_of,
                     qs_kind_field_by_name(b, "id_number")->id);
}

static void test_lookups(void **state)
{
    assert_null(qs_schema_kind(0));
    assert_null(qs_schema_kind(4));
    assert_null(qs_schema_kind_by_name("nosuch"));
    assert_null(qs_schema_kind_by_name(NULL));
    assert_string_equal(qs_schema_kind_by_name("服务记录")->name, "service");
    const qs_kind *k = qs_schema_kind(QS_K_EXPENSE);
    assert_string_equal(k->name, "expense");
    assert_int_equal(qs_kind_field_by_name(k, "金额")->id, 4);
    assert_int_equal(qs_kind_field_by_name(k, "amount")->type, QS_F_MONEY);
    assert_null(qs_kind_field_by_name(k, "Amount"));
    assert_null(qs_kind_field(k, 99));
    assert_string_equal(qs_ftype_name(QS_F_DIGESTS), "digests");
    assert_string_equal(qs_ftype_name(QS_F_TEXT), "text");

    /* Field ids are stable: spot-check the ones other modules will rely on. */
    static const struct {
        uint32_t kind, id;
        const char *name;
    } ids[] = {
        {QS_K_COUNTY, 1, "code"},           {QS_K_AGENCY, 3, "role"},
        {QS_K_PAIRING, 6, "end_year"},      {QS_K_STATION, 1, "township"},
        {QS_K_PERSON, 7, "service_since"},  {QS_K_WORKDAY, 3, "date"},
        {QS_K_SERVICE, 7, "total"},         {QS_K_SERVICE, 10, "pseudonyms"},
        {QS_K_SERVICE, 14, "followup"},     {QS_K_TRAINING, 7, "local_participants"},
        {QS_K_EXPENSE, 7, "source"},        {QS_K_OUTPUT, 5, "uscc"},
        {QS_K_BENEFICIARY, 3, "pseudonym"},
    };
    for (size_t i = 0; i < N(ids); i++) {
        const qs_field *f = qs_kind_field(qs_schema_kind(ids[i].kind), ids[i].id);
        if (!f || strcmp(f->name, ids[i].name) != 0)
            fail_msg("kind %u field %u should be %s", ids[i].kind, ids[i].id, ids[i].name);
    }
}

static void test_enum_lookup(void **state)
{
    const qs_enum *st = qs_kind_field_by_name(kind("service"), "service_type")->en;
    const qs_enum *dir = qs_kind_field_by_name(kind("expense"), "direction")->en;
    const qs_enum *cert = qs_kind_field_by_name(kind("person"), "cert_level")->en;
    const qs_enum *cat = qs_kind_field_by_name(kind("expense"), "category")->en;
    const qs_enum *tr = qs_kind_field_by_name(kind("training"), "type")->en;
    static const struct {
        int which; /* 0 service_type, 1 direction, 2 cert_level, 3 expense category,
                      4 training type */
        const char *text;
        int code; /* -1: not found */
    } t[] = {
        {0, "1", 1},
        {0, "10", 10},
        {0, "casework", 1},
        {0, "CaseWork", 1},
        {0, "个案工作", 1},
        {0, "资源链接转介", 7},
        {0, "referral", 7},
        {0, "志愿者组织", 10},
        {0, "11", -1},
        {0, "0", -1},
        {0, "", -1},
        {0, "个案", -1},
        {0, "99999999999", -1},
        {0, " 1", -1},
        {1, "收入/拨付到账", 1},
        {1, "收入", 1},
        {1, "拨付到账", 1},
        {1, "支出", 2},
        {1, "spent", 2},
        {1, "收", -1},
        {1, "/", -1},
        {2, "0", 0},
        {2, "none", 0},
        {2, "无证书", 0},
        {2, "社会工作师", 2},
        {2, "高级社会工作师", 3},
        {2, "助理社会工作师", 1},
        /* the plan's and the stations' own words (aliases) */
        {2, "中级社会工作师", 2},
        {2, "社工师", 2},
        {2, "助理社工师", 1},
        {2, "高级社工师", 3},
        {2, "社工", -1},
        {3, "活动经费", 1},
        {3, "活动费用", 1},
        {3, "餐补", 3},
        {3, "伙食补助", 3},
        {3, "活动", -1},
        {4, "项目指导", 3},
        {4, "guidance", 3},
        {4, "督导", 2},
        {4, "3", 3},
    };
    for (size_t i = 0; i < N(t); i++) {
        const qs_enum *e = t[i].which == 0   ? st
                           : t[i].which == 1 ? dir
                           : t[i].which == 2 ? cert
                           : t[i].which == 3 ? cat
                                             : tr;
        const qs_enum_val *v = qs_enum_lookup(e, t[i].text);
        int got = v ? (int)v->code : -1;
        if (got != t[i].code)
            fail_msg("lookup \"%s\" in %s: %d, want %d", t[i].text, e->name, got, t[i].code);
    }
    assert_null(qs_enum_lookup(st, NULL));
    assert_null(qs_enum_by_code(st, 0));
    assert_string_equal(qs_enum_by_code(st, 8)->label, "心理疏导");
    /* an alias is accepted, never shown: the label stays */
    const char *al[4];
    assert_int_equal(qs_enum_aliases(cert, 2, al, 4), 2);
    assert_string_equal(al[0], "中级社会工作师");
    assert_string_equal(qs_enum_lookup(cert, "社工师")->label, "社会工作师");
    assert_int_equal(qs_enum_aliases(st, 1, al, 4), 0);
}

/* ---------------------------------------------------------------------------
 * Validation: one table of examples, every kind valid and invalid.
 */

typedef struct example {
    const char *kind;
    const char *kv[20];
    const char *errs[8]; /* exactly these fields have errors (empty: valid) */
} example;

/* clang-format off */
static const example examples[] = {
    /* county */
    {"county",
     {"code=632322", "name=尖扎县", "prefecture=黄南藏族自治州", "prefecture_code=632300",
      "townships=9", NULL},
     {NULL}},
    {"county", {"code=632322", NULL}, {NULL}},
    {"county", {"name=尖扎县", "townships=201", NULL}, {"code", "townships", NULL}},
    {"county", {"code=632300", "prefecture_code=632322", NULL}, {"code", "prefecture_code", NULL}},
    {"county", {"code=632322", "prefecture_code=632200", NULL}, {"prefecture_code", NULL}},
    {"county", {"code=63232", "townships=-1", NULL}, {"code", "townships", NULL}},
    /* agency */
    {"agency",
     {"name=杭州市某社会工作服务中心", "uscc=52330100MJ9876543Y", "role=援派机构",
      "province=浙江省", "contact=李四", "phone=0571-88888888", NULL},
     {NULL}},
    {"agency", {"name=尖扎县社会工作服务中心", "role=receiving", "county=632322", NULL}, {NULL}},
    {"agency", {"uscc=52330100MJ987654", NULL}, {"name", "uscc", "role", NULL}},
    {"agency", {"name=x", "role=#3", "uscc=52330100MJ98765IY", NULL}, {"role", "uscc", NULL}},
    {"agency", {"name=x", "role=1", "uscc=52330100mj9876543y", NULL}, {"uscc", NULL}},
    {"agency", {"name=x", "role=2", "county=632300", NULL}, {"county", NULL}},
    /* pairing */
    {"pairing",
     {"aiding=" AG1, "receiving=" AG2, "county=632322", "type=跨省", "start_year=2021",
      "end_year=2025", NULL},
     {NULL}},
    {"pairing",
     {"aiding=" AG1, "receiving=" AG2, "county=632322", "type=in_province", "start_year=2023",
      "end_year=2023", NULL},
     {NULL}},
    {"pairing",
     {"aiding=" AG1, "receiving=" AG1, "county=632322", "type=1", "start_year=2025",
      "end_year=2021", NULL},
     {"receiving", "end_year", NULL}},
    {"pairing", {"county=632322100", "type=#3", "start_year=2020", "end_year=2036", NULL},
     {"aiding", "receiving", "county", "type", "start_year", "end_year", NULL}},
    /* station */
    {"station",
     {"township=632322100", "name=马克唐镇社工站", "opened=2022-05-01", "resident_workers=2",
      NULL},
     {NULL}},
    {"station", {"township=632322", "resident_workers=101", "opened=#20230229", NULL},
     {"township", "name", "resident_workers", "opened", NULL}},
    /* person */
    {"person",
     {"agency=" AG1, "name=张三", "role=派驻社工", "cert_level=社会工作师",
      "cert_no=2020330100001", "cert_date=2020-06-01", "service_since=2019-03-01",
      "phone=13800000000", NULL},
     {NULL}},
    {"person", {"agency=" AG2, "name=卓玛", "role=local", "cert_level=none", NULL}, {NULL}},
    {"person", {"name=", "role=#0", "cert_level=#4", "service_since=#18991231", NULL},
     {"agency", "name", "role", "cert_level", "service_since", NULL}},
    /* workday */
    {"workday",
     {"person=" PERS1, "pairing=" PAIR, "date=2024-03-01", "township=632322100", "mode=驻点",
      "summary=入户走访三户", NULL},
     {NULL}},
    {"workday", {"person=" PERS1, "pairing=" PAIR, "date=2024/3/1", NULL}, {NULL}},
    {"workday", {"date=#19991231", "mode=#9", "township=632322", NULL},
     {"person", "pairing", "date", "mode", "township", NULL}},
    /* service */
    {"service",
     {"date=2024-03-01", "station=" STAT, "workers=" PERS1 "," PERS2, "service_type=个案工作",
      "domain=儿童关爱", "categories=留守儿童、困境儿童", "total=3", "minors=2", "female=1",
      "pseudonyms=" DG1 "," DG2, "minutes=90", "content=入户探访，了解学习情况",
      "outcome=已链接助学资源", "followup=2024-03-15", NULL},
     {NULL}},
    {"service", {"date=2024-03-01", "service_type=visit", "domain=1", "total=0", NULL}, {NULL}},
    {"service",
     {"date=2024-03-01", "service_type=1", "domain=1", "total=10", "minors=10", "female=10",
      "followup=2024-03-01", "minutes=1440", NULL},
     {NULL}},
    /* three bad fields, three errors */
    {"service",
     {"date=2024-03-10", "service_type=1", "domain=1", "total=5", "minors=6", "minutes=1441",
      "followup=2024-03-09", NULL},
     {"minors", "minutes", "followup", NULL}},
    {"service",
     {"date=2024-03-01", "service_type=1", "domain=1", "total=1", "female=2",
      "pseudonyms=" DG1 "," DG2, NULL},
     {"female", "pseudonyms", NULL}},
    {"service", {"service_type=#11", "domain=#6", "total=100001", NULL},
     {"date", "service_type", "domain", "total", NULL}},
    {"service", {"date=2024-03-01", "service_type=1", "domain=1", "minors=5", NULL},
     {"total", NULL}}, /* no total: nothing to compare minors with */
    /* training */
    {"training",
     {"date=2024-04-02", "type=督导", "trainer=王老师", "topic=个案督导",
      "minutes=120", "participants=12", "local_participants=8", "pairing=" PAIR, NULL},
     {NULL}},
    {"training", {"date=2024-04-02", "type=training", "topic=x", "minutes=7200", NULL}, {NULL}},
    {"training",
     {"date=2024-04-02", "type=1", "minutes=0", "participants=3", "local_participants=4", NULL},
     {"topic", "minutes", "local_participants", NULL}},
    {"training", {"type=#0", "topic=x", "minutes=7201", NULL}, {"date", "type", "minutes", NULL}},
    /* expense: direction decides category / source */
    {"expense",
     {"pairing=" PAIR, "date=2024-01-15", "direction=收入", "amount=50,000.00",
      "voucher=记-2024-001", "source=省级财政", "note=第一批资金", NULL},
     {NULL}},
    {"expense",
     {"pairing=" PAIR, "date=2024-01-20", "direction=支出", "amount=¥320.5",
      "category=交通补贴", NULL},
     {NULL}},
    {"expense",
     {"pairing=" PAIR, "date=2024-01-20", "direction=spent", "amount=1", "source=lottery",
      NULL},
     {"category", "source", NULL}},
    {"expense",
     {"pairing=" PAIR, "date=2024-01-20", "direction=received", "amount=1",
      "category=meals", NULL},
     {"source", "category", NULL}},
    {"expense",
     {"pairing=" PAIR, "date=2024-01-20", "direction=received", "amount=1", "source=self",
      "category=other", NULL},
     {"category", NULL}},
    {"expense", {"pairing=" PAIR, "date=2024-01-20", "direction=spent", "amount=#0",
                 "category=1", NULL},
     {"amount", NULL}},
    {"expense", {"pairing=" PAIR, "date=2024-01-20", "direction=spent",
                 "amount=#1000000000001", "category=1", NULL},
     {"amount", NULL}},
    {"expense", {"pairing=" PAIR, "date=2024-01-20", "direction=spent", "amount=#-5",
                 "category=1", NULL},
     {"amount", NULL}},
    {"expense", {"pairing=" PAIR, "date=2024-01-20", "category=1", "source=1", NULL},
     {"direction", "amount", NULL}}, /* no direction: category/source not judged */
    /* output */
    {"output",
     {"type=培育社会组织", "name=尖扎县阳光社会工作服务中心", "date=2023-09-01",
      "pairing=" PAIR, "uscc=52632322MJ1234567Q", NULL},
     {NULL}},
    {"output", {"type=document", "name=社工站管理制度", "date=2024-01-01", NULL}, {NULL}},
    {"output", {"type=#4", "uscc=52632322MJ1234567O", "note=", NULL},
     {"type", "name", "date", "uscc", NULL}},
    /* beneficiary (local only) */
    {"beneficiary",
     {"name=才让", "id_number=63232219900315123X", "pseudonym=" DG1, "gender=男",
      "birth=1990-03-15", "categories=留守老人,低保对象", "township=632322100", NULL},
     {NULL}},
    {"beneficiary", {"name=x", "id_number=11010519491231002X", "gender=2", NULL}, {NULL}},
    {"beneficiary", {"name=x", "id_number=632322201506010041", "gender=female", "birth=2015-06-01", NULL}, {NULL}},
    {"beneficiary", {"id_number=632322199003151231", NULL}, {"name", "id_number", NULL}},
    {"beneficiary", {"name=x", "id_number=63232219900315123x", NULL}, {"id_number", NULL}},
    {"beneficiary", {"name=x", "id_number=6323221990031512", NULL}, {"id_number", NULL}},
    {"beneficiary", {"name=x", "id_number=11010519490230002 ", NULL}, {"id_number", NULL}},
    {"beneficiary", {"name=x", "id_number=110105194902300020", NULL}, {"id_number", NULL}},
    {"beneficiary",
     {"name=x", "id_number=63232219900315123X", "gender=女", "birth=1990-03-16", NULL},
     {"gender", "birth", NULL}},
    {"beneficiary", {"name=x", "pseudonym=" DG1, "township=632322", NULL}, {"township", NULL}},
};
/* clang-format on */

static void test_examples(void **state)
{
    bool valid_seen[32] = {false}, invalid_seen[32] = {false};
    for (size_t i = 0; i < N(examples); i++) {
        const example *x = &examples[i];
        const qs_kind *k = kind(x->kind);
        qs_body b;
        build(k, x->kv, &b);
        qs_verrs errs;
        qs_err err = {0};
        int rc = qs_schema_validate(k, &b, false, &errs, &err);
        size_t want = 0;
        while (x->errs[want])
            want++;
        bool ok = (want == 0) == (rc == 0) && errs.n == want && errs.dropped == 0;
        for (size_t j = 0; ok && j < want; j++)
            ok = has_err(&errs, x->errs[j]);
        if (!ok) {
            fail_msg("example %zu (%s): rc %d, %u errors, want %zu: %s", i, x->kind, rc, errs.n,
                     want, rc ? err.msg : "(valid)");
        }
        /* Every error names its field and says something. */
        for (uint32_t j = 0; j < errs.n; j++) {
            assert_non_null(qs_kind_field(k, errs.e[j].field));
            assert_string_equal(qs_kind_field(k, errs.e[j].field)->name, errs.e[j].name);
            assert_true(strlen(errs.e[j].reason) > 5);
        }
        for (uint32_t j = 0; j < qs_schema_nkinds(); j++)
            if (qs_schema_kind_at(j) == k)
                (want ? invalid_seen : valid_seen)[j] = true;
        qs_body_free(&b);
    }
    for (uint32_t j = 0; j < qs_schema_nkinds(); j++)
        if (!valid_seen[j] || !invalid_seen[j])
            fail_msg("kind %s needs valid and invalid examples", qs_schema_kind_at(j)->name);
}

static void test_summary_names_every_error(void **state)
{
    const qs_kind *k = kind("expense");
    qs_body b;
    const char *kv[] = {"pairing=" PAIR, "direction=#7", "amount=#0", NULL};
    build(k, kv, &b);
    qs_verrs errs;
    qs_err err = {0};
    assert_int_equal(qs_schema_validate(k, &b, false, &errs, &err), QS_EINVAL);
    assert_int_equal(err.code, QS_EINVAL);
    assert_int_equal(errs.n, 3);
    assert_string_equal(errs.e[0].name, "date");
    assert_string_equal(errs.e[0].reason, "is required");
    assert_string_equal(errs.e[1].name, "direction");
    assert_string_equal(errs.e[2].name, "amount");
    assert_string_equal(errs.e[2].reason, "must be greater than 0");
    assert_non_null(strstr(err.msg, "date (日期): is required"));
    assert_non_null(strstr(err.msg, "direction (收支方向): "));
    assert_non_null(strstr(err.msg, "amount (金额): must be greater than 0"));

    /* errs and err are optional; a valid body clears a used errs. */
    assert_int_equal(qs_schema_validate(k, &b, false, NULL, NULL), QS_EINVAL);
    qs_body_set(&b, 2, qs_v_int(20240101));
    qs_body_set(&b, 3, qs_v_int(2));
    qs_body_set(&b, 4, qs_v_int(100));
    qs_body_set(&b, 6, qs_v_int(1));
    assert_int_equal(qs_schema_validate(k, &b, false, &errs, &err), 0);
    assert_int_equal(errs.n, 0);
    assert_int_equal(qs_schema_validate(NULL, &b, false, &errs, &err), QS_ESCHEMA);
    qs_body_free(&b);
}

static void test_tombstone_and_unknown_fields(void **state)
{
    const qs_kind *k = kind("service");
    qs_body b;
    const char *bad[] = {"total=#-1", "domain=#77", NULL};
    build(k, bad, &b);
    assert_int_equal(qs_schema_validate(k, &b, true, NULL, NULL), 0);
    assert_int_equal(qs_schema_validate(k, &b, false, NULL, NULL), QS_EINVAL);
    qs_body_free(&b);

    /* Fields this node does not know are accepted and left in place. */
    const char *kv[] = {"date=2024-03-01", "service_type=1",   "domain=1",
                        "total=1",         "99=a later field", NULL};
    build(k, kv, &b);
    qs_body_set(&b, 1000, qs_v_array(2));
    assert_int_equal(qs_schema_validate(k, &b, false, NULL, NULL), 0);
    assert_non_null(qs_body_get(&b, 99));
    assert_string_equal(qs_body_get(&b, 99)->u.s.p, "a later field");
    assert_non_null(qs_body_get(&b, 1000));
    qs_body_free(&b);
}

/* Values of the wrong msgpack type, as a peer might send them. */
static void test_wrong_forms(void **state)
{
    static const uint8_t id1[16] = {1}, id2[16] = {2};
    static const struct {
        uint32_t kind, field;
        int form; /* what to put */
    } t[] = {
        {QS_K_SERVICE, 7, 0},      /* total: str */
        {QS_K_SERVICE, 1, 0},      /* date: str */
        {QS_K_SERVICE, 1, 1},      /* date: 2024-02-30 */
        {QS_K_SERVICE, 4, 0},      /* enum: str */
        {QS_K_SERVICE, 4, 8},      /* enum: negative */
        {QS_K_SERVICE, 6, 2},      /* enumset: [3, 1] */
        {QS_K_SERVICE, 6, 3},      /* enumset: [1, 1] */
        {QS_K_SERVICE, 6, 0},      /* enumset: str */
        {QS_K_SERVICE, 3, 4},      /* reflist: duplicate */
        {QS_K_SERVICE, 3, 5},      /* reflist: 15-byte id */
        {QS_K_SERVICE, 10, 4},     /* digests: duplicate */
        {QS_K_SERVICE, 2, 5},      /* ref: 15 bytes */
        {QS_K_SERVICE, 2, 0},      /* ref: str */
        {QS_K_SERVICE, 12, 6},     /* text: int */
        {QS_K_STATION, 1, 6},      /* code: int */
        {QS_K_STATION, 1, 7},      /* code: "632322100\0x" */
        {QS_K_EXPENSE, 4, 0},      /* money: str */
        {QS_K_SERVICE, 3, 9},      /* reflist: 21 entries */
        {QS_K_BENEFICIARY, 3, 10}, /* pseudonym: two digests */
        {QS_K_BENEFICIARY, 3, 5},  /* pseudonym: 15 bytes */
    };
    for (size_t i = 0; i < N(t); i++) {
        const qs_kind *k = qs_schema_kind(t[i].kind);
        qs_body b;
        qs_body_init(&b);
        qs_value v = {0};
        switch (t[i].form) {
        case 0:
            v = qs_v_str("12");
            break;
        case 1:
            v = qs_v_int(20240230);
            break;
        case 2:
        case 3:
            v = qs_v_array(2);
            v.u.a.v[0] = qs_v_int(t[i].form == 2 ? 3 : 1);
            v.u.a.v[1] = qs_v_int(1);
            break;
        case 4:
            v = qs_v_array(2);
            v.u.a.v[0] = qs_v_bin(id1, 16);
            v.u.a.v[1] = qs_v_bin(id1, 16);
            break;
        case 5:
            if (qs_kind_field(k, t[i].field)->type == QS_F_REF) {
                v = qs_v_bin(id2, 15);
            } else {
                v = qs_v_array(1);
                v.u.a.v[0] = qs_v_bin(id2, 15);
            }
            break;
        case 6:
            v = qs_v_int(632322100);
            break;
        case 7:
            v = qs_v_strn("632322100\0x", 11);
            break;
        case 8:
            v = qs_v_int(-1);
            break;
        case 10:
            v = qs_v_array(2);
            v.u.a.v[0] = qs_v_bin(id1, 16);
            v.u.a.v[1] = qs_v_bin(id2, 16);
            break;
        case 9:
            v = qs_v_array(21);
            for (uint8_t j = 0; j < 21; j++) {
                uint8_t id[16] = {j};
                v.u.a.v[j] = qs_v_bin(id, 16);
            }
            break;
        }
        qs_body_set(&b, t[i].field, v);
        qs_verrs errs;
        qs_schema_validate(k, &b, false, &errs, NULL);
        const qs_field *f = qs_kind_field(k, t[i].field);
        if (!has_err(&errs, f->name))
            fail_msg("case %zu: %s.%s should be rejected", i, k->name, f->name);
        qs_body_free(&b);
    }
}

static void test_text_rules(void **state)
{
    static const struct {
        const char *s;
        size_t n; /* 0: strlen */
        bool ok;
    } t[] = {
        {"马克唐镇社工站", 0, true},
        {"line one\nline two\tend", 0, true},
        {"emoji \xF0\x9F\x98\x80 ok", 0, true},
        {"\xEF\xBB\xBF"
         "bom is text",
         0, true},
        {"bad \xFF byte", 0, false},
        {"overlong \xC0\xAF", 0, false},
        {"overlong \xE0\x80\xAF", 0, false},
        {"surrogate \xED\xA0\x80", 0, false},
        {"too big \xF4\x90\x80\x80", 0, false},
        {"cut \xE4\xB8", 0, false},
        {"lone \x80 continuation", 0, false},
        {"bell \x07", 0, false},
        {"carriage\r\nreturn", 0, false},
        {"escape \x1B[0m", 0, false},
        {"delete \x7F", 0, false},
        {"c1 \xC2\x85 next line", 0, false},
        {"nul\0inside", 10, false},
        {"", 0, false}, /* empty = not given, and name is required */
    };
    const qs_kind *k = kind("station");
    for (size_t i = 0; i < N(t); i++) {
        qs_body b;
        qs_body_init(&b);
        qs_body_set(&b, 1, qs_v_str("632322100"));
        qs_body_set(&b, 2, qs_v_strn(t[i].s, t[i].n ? t[i].n : strlen(t[i].s)));
        qs_verrs errs;
        int rc = qs_schema_validate(k, &b, false, &errs, NULL);
        if ((rc == 0) != t[i].ok || (!t[i].ok && !has_err(&errs, "name")))
            fail_msg("text case %zu: rc %d, want %s", i, rc, t[i].ok ? "valid" : "name error");
        qs_body_free(&b);
    }

    /* Byte lengths: a name is at most 200 bytes (66 Chinese characters fit). */
    static const struct {
        const char *unit;
        int count;
        bool ok;
    } len[] = {{"站", 66, true}, {"站", 67, false}, {"a", 200, true}, {"a", 201, false}};
    for (size_t i = 0; i < N(len); i++) {
        char s[256] = "";
        for (int c = 0; c < len[i].count; c++)
            strcat(s, len[i].unit);
        qs_body b;
        qs_body_init(&b);
        qs_body_set(&b, 1, qs_v_str("632322100"));
        qs_body_set(&b, 2, qs_v_str(s));
        int rc = qs_schema_validate(k, &b, false, NULL, NULL);
        if ((rc == 0) != len[i].ok)
            fail_msg("a name of %zu bytes: rc %d", strlen(s), rc);
        qs_body_free(&b);
    }
}

/* ---------------------------------------------------------------------------
 * Text forms
 */

static const qs_field *field(const char *k, const char *f)
{
    const qs_field *x = qs_kind_field_by_name(kind(k), f);
    if (!x)
        fail_msg("no field %s.%s", k, f);
    return x;
}

static void test_parse_money(void **state)
{
    static const struct {
        const char *s;
        int64_t fen; /* -1: error */
    } t[] = {
        {"0.1", 10},
        {"0.01", 1},
        {"12", 1200},
        {"12.3", 1230},
        {"12.34", 1234},
        {"1234.5", 123450},
        {"1,234.50", 123450},
        {"1,234,567", 123456700},
        {"¥12", 1200},
        {"￥12.5", 1250},
        {"12元", 1200},
        {"¥ 1,000.00 元", 100000},
        {"  7.00  ", 700},
        {"0", 0},
        {"92233720368547757", 9223372036854775700},
        {"12.345", -1},
        {"0.001", -1},
        {"-1", -1},
        {"-0.5", -1},
        {"+5", -1},
        {"92233720368547758", -1},
        {"99999999999999999999999", -1},
        {"1,23", -1},
        {"12,3456", -1},
        {"1234,567", -1},
        {"1,23,456", -1},
        {",123", -1},
        {"1,234,", -1},
        {"12.", -1},
        {".5", -1},
        {"1.2.3", -1},
        {"12 34", -1},
        {"12yuan", -1},
        {"¥", -1},
        {"1e3", -1},
    };
    const qs_field *f = field("expense", "amount");
    for (size_t i = 0; i < N(t); i++) {
        qs_value v;
        qs_err err = {0};
        int rc = qs_schema_parse(f, t[i].s, &v, &err);
        if (t[i].fen >= 0) {
            if (rc != 0 || v.t != QS_V_INT || v.u.i != t[i].fen)
                fail_msg("money \"%s\": rc %d (%s), want %lld", t[i].s, rc, err.msg,
                         (long long)t[i].fen);
        } else {
            if (rc != QS_EINVAL || v.t != QS_V_NIL)
                fail_msg("money \"%s\" should be refused", t[i].s);
            if (!strstr(err.msg, "amount (金额)"))
                fail_msg("money \"%s\": message \"%s\" does not name the field", t[i].s, err.msg);
        }
        qs_value_free(&v);
    }
    qs_value v;
    qs_err err = {0};
    assert_int_equal(qs_schema_parse(f, "12.345", &v, &err), QS_EINVAL);
    assert_non_null(strstr(err.msg, "two decimals"));
    assert_int_equal(qs_schema_parse(f, "-1", &v, &err), QS_EINVAL);
    assert_non_null(strstr(err.msg, "negative"));
    assert_int_equal(qs_schema_parse(f, "99999999999999999999999", &v, &err), QS_EINVAL);
    assert_non_null(strstr(err.msg, "too large"));
}

static void test_parse_scalars(void **state)
{
    static const struct {
        const char *kind, *field, *s;
        int rc;
        int64_t i; /* INT/DATE/ENUM result, or bool */
    } t[] = {
        {"service", "total", "12", 0, 12},
        {"service", "total", "1,200", 0, 1200},
        {"service", "total", "-3", 0, -3}, /* parse takes it; validate refuses */
        {"service", "total", "+3", 0, 3},
        {"service", "total", "3.0", QS_EINVAL, 0},
        {"service", "total", "3人", QS_EINVAL, 0},
        {"service", "total", "9223372036854775807", 0, INT64_MAX},
        {"service", "total", "9223372036854775808", QS_EINVAL, 0},
        {"service", "date", "2024-03-01", 0, 20240301},
        {"service", "date",
         "\xE3\x80\x80"
         "2024/3/1 ",
         0, 20240301},
        {"service", "date", "2023-02-29", QS_EINVAL, 0},
        {"service", "date", "2024-03-01T00:00", QS_EINVAL, 0},
        {"service", "service_type", "个案工作", 0, 1},
        {"service", "service_type", " referral ", 0, 7},
        {"service", "service_type", "10", 0, 10},
        {"service", "service_type", "小组", QS_EINVAL, 0},
        {"service", "service_type", "11", QS_EINVAL, 0},
        {"expense", "direction", "拨付到账", 0, 1},
        {"expense", "source", "福彩公益金", 0, 2},
        {"person", "cert_level", "无证书", 0, 0},
    };
    for (size_t i = 0; i < N(t); i++) {
        qs_value v;
        qs_err err = {0};
        int rc = qs_schema_parse(field(t[i].kind, t[i].field), t[i].s, &v, &err);
        if (rc != t[i].rc || (rc == 0 && (v.t != QS_V_INT || v.u.i != t[i].i)))
            fail_msg("%s.%s \"%s\": rc %d %s", t[i].kind, t[i].field, t[i].s, rc, err.msg);
        if (rc && !strstr(err.msg, t[i].field))
            fail_msg("%s: message \"%s\" does not name the field", t[i].s, err.msg);
        qs_value_free(&v);
    }

    /* The enum error lists the choices. */
    qs_value v;
    qs_err err = {0};
    assert_int_equal(qs_schema_parse(field("expense", "category"), "饭钱", &v, &err), QS_EINVAL);
    assert_non_null(strstr(err.msg, "3 伙食补助"));

    /* Empty and blank text are "not given". */
    static const char *const blanks[] = {"", "   ", "\xE3\x80\x80", "\t\r\n"};
    for (size_t i = 0; i < N(blanks); i++) {
        assert_int_equal(qs_schema_parse(field("service", "date"), blanks[i], &v, NULL), 0);
        assert_int_equal(v.t, QS_V_NIL);
        assert_int_equal(qs_schema_parse(field("service", "content"), blanks[i], &v, NULL), 0);
        assert_int_equal(v.t, QS_V_NIL);
    }
    /* Text is trimmed, not otherwise touched. */
    assert_int_equal(qs_schema_parse(field("service", "content"), "  a，b\nc ", &v, NULL), 0);
    assert_int_equal(v.t, QS_V_STR);
    assert_string_equal(v.u.s.p, "a，b\nc");
    qs_value_free(&v);
}

static void test_parse_bool(void **state)
{
    /* No kind has a BOOL field yet: exercise the type through a local field. */
    static const qs_field f = {.id = 1, .name = "flag", .label = "标志", .type = QS_F_BOOL};
    static const struct {
        const char *s;
        int want; /* 1 true, 0 false, -1 error */
    } t[] = {
        {"1", 1},     {"true", 1}, {"TRUE", 1}, {"yes", 1}, {"是", 1}, {"0", 0},
        {"false", 0}, {"No", 0},   {"否", 0},   {"2", -1},  {"y", -1}, {"对", -1},
    };
    for (size_t i = 0; i < N(t); i++) {
        qs_value v;
        int rc = qs_schema_parse(&f, t[i].s, &v, NULL);
        int got = rc ? -1 : v.u.b;
        if (got != t[i].want || (rc == 0 && v.t != QS_V_BOOL))
            fail_msg("bool \"%s\": %d, want %d", t[i].s, got, t[i].want);
    }
    qs_value v = qs_v_bool(true);
    qs_buf out;
    qs_buf_init(&out, 0);
    assert_int_equal(qs_schema_format(&f, &v, true, &out), 0);
    assert_string_equal((char *)out.data, "是");
    qs_buf_reset(&out);
    v = qs_v_bool(false);
    assert_int_equal(qs_schema_format(&f, &v, false, &out), 0);
    assert_string_equal((char *)out.data, "false");
    qs_buf_free(&out);
}

static void test_parse_lists(void **state)
{
    const qs_field *cats = field("service", "categories");
    static const struct {
        const char *s;
        int64_t codes[6]; /* 0-terminated; {-1}: error */
    } t[] = {
        {"留守儿童、低保对象,孤儿；1", {1, 4, 7, 0}},
        {"孤儿, 孤儿 ,4", {4, 0}},
        {"other;dibao", {1, 14, 0}},
        {"临时救助对象，防返贫监测对象", {12, 13, 0}},
        {",,", {0}},
        {"留守儿童,外地人", {-1}},
        {"15", {-1}},
    };
    for (size_t i = 0; i < N(t); i++) {
        qs_value v;
        qs_err err = {0};
        int rc = qs_schema_parse(cats, t[i].s, &v, &err);
        if (t[i].codes[0] == -1) {
            if (rc != QS_EINVAL || v.t != QS_V_NIL)
                fail_msg("enumset \"%s\" should fail", t[i].s);
            continue;
        }
        size_t n = 0;
        while (t[i].codes[n])
            n++;
        if (rc != 0 || (n == 0 ? v.t != QS_V_NIL : v.t != QS_V_ARRAY || v.u.a.n != n))
            fail_msg("enumset \"%s\": rc %d %s", t[i].s, rc, err.msg);
        for (size_t j = 0; j < n; j++)
            if (v.u.a.v[j].t != QS_V_INT || v.u.a.v[j].u.i != t[i].codes[j])
                fail_msg("enumset \"%s\": element %zu", t[i].s, j);
        qs_value_free(&v);
    }

    /* REF / REFLIST: UUID text, any case; repeats collapse; at most max. */
    qs_value v;
    qs_err err = {0};
    assert_int_equal(qs_schema_parse(field("service", "station"),
                                     "0190F3A0-4444-7000-8000-000000000001", &v, &err),
                     0);
    assert_int_equal(v.t, QS_V_BIN);
    assert_int_equal(v.u.s.n, 16);
    assert_int_equal((uint8_t)v.u.s.p[0], 0x01);
    assert_int_equal((uint8_t)v.u.s.p[15], 0x01);
    qs_value_free(&v);
    assert_int_equal(qs_schema_parse(field("service", "station"), "0190f3a0", &v, &err), QS_EINVAL);
    assert_non_null(strstr(err.msg, "station (社工站)"));

    assert_int_equal(
        qs_schema_parse(field("service", "workers"), PERS1 "、" PERS2 "," PERS1, &v, &err), 0);
    assert_int_equal(v.u.a.n, 2);
    qs_value_free(&v);
    char many[21 * 40] = "";
    for (int i = 0; i < 21; i++) {
        char one[40];
        snprintf(one, sizeof one, "%s0190f3a0-3333-7000-8000-0000000000%02d", i ? "," : "", i);
        strcat(many, one);
    }
    assert_int_equal(qs_schema_parse(field("service", "workers"), many, &v, &err), QS_EINVAL);
    assert_int_equal(v.t, QS_V_NIL);

    /* DIGESTS: 32 hex characters each. */
    assert_int_equal(qs_schema_parse(field("service", "pseudonyms"), DG1 ";" DG2, &v, &err), 0);
    assert_int_equal(v.u.a.n, 2);
    assert_int_equal((uint8_t)v.u.a.v[1].u.s.p[0], 0xff);
    qs_value_free(&v);
    assert_int_equal(qs_schema_parse(field("service", "pseudonyms"), DG1 ",00112233", &v, &err),
                     QS_EINVAL);
    assert_int_equal(qs_schema_parse(field("service", "pseudonyms"),
                                     "g0112233445566778899aabbccddeeff", &v, &err),
                     QS_EINVAL);
    assert_int_equal(qs_schema_parse(field("beneficiary", "pseudonym"), DG1 "," DG2, &v, &err),
                     QS_EINVAL);
}

static void test_format(void **state)
{
    static const struct {
        const char *kind, *field, *in;
        const char *names, *labels; /* format with labels false / true */
    } t[] = {
        {"expense", "amount", "1234.5", "1234.50", "1234.50"},
        {"expense", "amount", "0.1", "0.10", "0.10"},
        {"expense", "amount", "¥1,000,000", "1000000.00", "1000000.00"},
        {"expense", "direction", "1", "received", "收入/拨付到账"},
        {"service", "date", "2024/3/1", "2024-03-01", "2024-03-01"},
        {"service", "total", "1,500", "1500", "1500"},
        {"service", "service_type", "casework", "casework", "个案工作"},
        {"service", "categories", "孤儿、低保对象", "dibao,orphan", "低保对象,孤儿"},
        {"service", "content", "你好", "你好", "你好"},
        {"service", "station", STAT, STAT, STAT},
        {"service", "workers", PERS2 "," PERS1, PERS2 "," PERS1, PERS2 "," PERS1},
        {"service", "pseudonyms", DG2 "," DG1, DG2 "," DG1, DG2 "," DG1},
        {"station", "township", "632322100", "632322100", "632322100"},
        {"person", "cert_level", "0", "none", "无证书"},
        {"service", "content", "", "", ""},
    };
    qs_buf out;
    qs_buf_init(&out, 0);
    for (size_t i = 0; i < N(t); i++) {
        const qs_field *f = field(t[i].kind, t[i].field);
        qs_value v, back;
        assert_int_equal(qs_schema_parse(f, t[i].in, &v, NULL), 0);
        for (int labels = 0; labels <= 1; labels++) {
            qs_buf_reset(&out);
            assert_int_equal(qs_buf_append(&out, "x", 1), 0); /* format appends */
            assert_int_equal(qs_schema_format(f, &v, labels, &out), 0);
            const char *want = labels ? t[i].labels : t[i].names;
            if (out.len != 1 + strlen(want) || memcmp(out.data + 1, want, strlen(want)) != 0 ||
                out.data[out.len] != '\0')
                fail_msg("format %s.%s \"%s\": \"%.*s\", want \"%s\"", t[i].kind, t[i].field,
                         t[i].in, (int)out.len - 1, (char *)out.data + 1, want);
            /* and the text reads back to the same value */
            assert_int_equal(qs_schema_parse(f, (char *)out.data + 1, &back, NULL), 0);
            if (!qs_value_eq(&v, &back))
                fail_msg("%s.%s: \"%s\" does not read back", t[i].kind, t[i].field, want);
            qs_value_free(&back);
        }
        qs_value_free(&v);
    }

    /* A code this node does not know prints as its number; wrong forms fail
     * and leave out as it was. */
    qs_value v = qs_v_int(99);
    qs_buf_reset(&out);
    assert_int_equal(qs_schema_format(field("service", "domain"), &v, true, &out), 0);
    assert_string_equal((char *)out.data, "99");
    v = qs_v_str("x");
    assert_int_equal(qs_schema_format(field("service", "total"), &v, false, &out), QS_EINVAL);
    assert_int_equal(qs_schema_format(field("service", "station"), &v, false, &out), QS_EINVAL);
    assert_int_equal(qs_schema_format(field("service", "date"), &v, false, &out), QS_EINVAL);
    qs_value_free(&v);
    qs_value arr = qs_v_array(2);
    arr.u.a.v[0] = qs_v_int(1);
    arr.u.a.v[1] = qs_v_str("x");
    assert_int_equal(qs_schema_format(field("service", "categories"), &arr, false, &out),
                     QS_EINVAL);
    assert_int_equal(out.len, 2);
    assert_string_equal((char *)out.data, "99");
    qs_value_free(&arr);
    v = qs_v_int(-150);
    qs_buf_reset(&out);
    assert_int_equal(qs_schema_format(field("expense", "amount"), &v, false, &out), 0);
    assert_string_equal((char *)out.data, "-1.50");
    qs_buf_free(&out);

    /* A full buffer is a limit, not a realloc. */
    qs_buf small;
    qs_buf_init(&small, 4);
    v = qs_v_int(123456);
    assert_int_equal(qs_schema_format(field("expense", "amount"), &v, false, &small), QS_ELIMIT);
    assert_int_equal(small.len, 0);
    qs_buf_free(&small);
}

static void test_verrs_overflow(void **state)
{
    qs_verrs e;
    memset(&e, 0, sizeof e);
    const qs_field *f = field("service", "content");
    for (int i = 0; i < QS_VERR_MAX + 8; i++)
        qs_verrs_add(&e, i % 2 ? f : NULL, "problem %d", i);
    assert_int_equal(e.n, QS_VERR_MAX);
    assert_int_equal(e.dropped, 8);
    assert_int_equal(e.e[0].field, 0);
    assert_string_equal(e.e[0].name, "");
    assert_int_equal(e.e[1].field, 12);
    assert_string_equal(e.e[1].name, "content");
    assert_string_equal(e.e[31].reason, "problem 31");

    /* A long reason is cut on a character boundary. */
    memset(&e, 0, sizeof e);
    char longr[400] = "";
    for (int i = 0; i < 100; i++)
        strcat(longr, "错");
    qs_verrs_add(&e, f, "%s", longr);
    size_t n = strlen(e.e[0].reason);
    assert_true(n > 0 && n < sizeof e.e[0].reason && n % 3 == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_self_consistency),
        cmocka_unit_test(test_named_codes_and_keys),
        cmocka_unit_test(test_lookups),
        cmocka_unit_test(test_enum_lookup),
        cmocka_unit_test(test_examples),
        cmocka_unit_test(test_summary_names_every_error),
        cmocka_unit_test(test_tombstone_and_unknown_fields),
        cmocka_unit_test(test_wrong_forms),
        cmocka_unit_test(test_text_rules),
        cmocka_unit_test(test_parse_money),
        cmocka_unit_test(test_parse_scalars),
        cmocka_unit_test(test_parse_bool),
        cmocka_unit_test(test_parse_lists),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_verrs_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
