/*
 * schema.c — the one schema table (kinds, fields, enumerations) and what it
 * drives here: validation of bodies and the text forms of values.
 *
 * Reading order: enumerations, then one field array per kind, then the kind
 * table, then the cross-field checks the kinds point at. Ids and codes are
 * stable forever (schema.h): append, never renumber or reuse.
 */
#include "proto/schema.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/date.h"
#include "proto/uuid.h"
#include "proto/xmalloc.h"

#define N(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))

/* ---------------------------------------------------------------------------
 * Enumerations
 */

/* The table is laid out by hand, one value per line. */
/* clang-format off */

static const qs_enum_val agency_role_v[] = {
    {1, "aiding", "援派机构"},
    {2, "receiving", "受援机构"},
};
static const qs_enum agency_role = {"agency_role", agency_role_v, N(agency_role_v)};

static const qs_enum_val pairing_type_v[] = {
    {1, "cross_province", "跨省"},
    {2, "in_province", "省内"},
};
static const qs_enum pairing_type = {"pairing_type", pairing_type_v, N(pairing_type_v)};

static const qs_enum_val person_role_v[] = {
    {1, "dispatched", "派驻社工"},
    {2, "local", "本地社工"},
    {3, "supervisor", "督导"},
};
static const qs_enum person_role = {"person_role", person_role_v, N(person_role_v)};

static const qs_enum_val cert_level_v[] = {
    {0, "none", "无证书"},
    {1, "assistant", "助理社会工作师"},
    {2, "social_worker", "社会工作师"},
    {3, "senior", "高级社会工作师"},
};
static const qs_enum cert_level = {"cert_level", cert_level_v, N(cert_level_v)};

static const qs_enum_val work_mode_v[] = {
    {1, "onsite", "驻点"},
    {2, "remote", "远程"},
};
static const qs_enum work_mode = {"work_mode", work_mode_v, N(work_mode_v)};

static const qs_enum_val service_type_v[] = {
    {1, "casework", "个案工作"},
    {2, "groupwork", "小组工作"},
    {3, "community", "社区活动"},
    {4, "visit", "走访探视"},
    {5, "policy", "政策宣传"},
    {6, "assessment", "需求评估"},
    {7, "referral", "资源链接转介"},
    {8, "counselling", "心理疏导"},
    {9, "crisis", "危机介入"},
    {10, "volunteers", "志愿者组织"},
};
static const qs_enum service_type = {"service_type", service_type_v, N(service_type_v)};

static const qs_enum_val service_domain_v[] = {
    {1, "assistance", "社会救助"},
    {2, "elderly", "养老服务"},
    {3, "children", "儿童关爱"},
    {4, "community_governance", "社区治理"},
    {5, "social_affairs", "社会事务"},
};
static const qs_enum service_domain = {"service_domain", service_domain_v,
                                       N(service_domain_v)};

static const qs_enum_val category_v[] = {
    {1, "dibao", "低保对象"},
    {2, "extreme_poverty", "特困人员"},
    {3, "dibao_marginal", "低保边缘家庭"},
    {4, "orphan", "孤儿"},
    {5, "de_facto_orphan", "事实无人抚养儿童"},
    {6, "child_in_difficulty", "困境儿童"},
    {7, "left_behind_child", "留守儿童"},
    {8, "left_behind_elderly", "留守老人"},
    {9, "left_behind_woman", "留守妇女"},
    {10, "elderly_alone", "孤寡老人"},
    {11, "severe_disability", "重度残疾人"},
    {12, "temporary_assistance", "临时救助对象"},
    {13, "poverty_monitoring", "防返贫监测对象"},
    {14, "other", "其他"},
};
static const qs_enum category = {"beneficiary_category", category_v, N(category_v)};

static const qs_enum_val training_type_v[] = {
    {1, "training", "培训"},
    {2, "supervision", "督导"},
    {3, "guidance", "项目指导"},   /* the plan's own word for on-site project guidance */
};
static const qs_enum training_type = {"training_type", training_type_v, N(training_type_v)};

/* A label "A/B" also matches "A" or "B" alone (qs_enum_lookup). */
static const qs_enum_val direction_v[] = {
    {1, "received", "收入/拨付到账"},
    {2, "spent", "支出"},
};
static const qs_enum direction = {"expense_direction", direction_v, N(direction_v)};

static const qs_enum_val expense_category_v[] = {
    {1, "activities", "活动经费"},
    {2, "transport", "交通补贴"},
    {3, "meals", "伙食补助"},
    {4, "allowance", "工资津贴"},
    {5, "insurance", "保险"},
    {6, "other", "其他"},
};
static const qs_enum expense_category = {"expense_category", expense_category_v,
                                         N(expense_category_v)};

static const qs_enum_val expense_source_v[] = {
    {1, "provincial", "省级财政"},
    {2, "lottery", "福彩公益金"},
    {3, "charity", "慈善组织"},
    {4, "self", "自筹"},
    {5, "other", "其他"},
};
static const qs_enum expense_source = {"expense_source", expense_source_v,
                                       N(expense_source_v)};

static const qs_enum_val output_type_v[] = {
    {1, "agency", "培育社会组织"},
    {2, "document", "制度文件"},
    {3, "brand", "服务品牌项目"},
};
static const qs_enum output_type = {"output_type", output_type_v, N(output_type_v)};

static const qs_enum_val gender_v[] = {
    {1, "male", "男"},
    {2, "female", "女"},
};
static const qs_enum gender = {"gender", gender_v, N(gender_v)};

/* Other words accepted on input for a value (the plan's and the stations'
 * own words), never shown: a value is shown with its label. */
static const struct {
    const qs_enum *en;
    uint32_t code;
    const char *word;
} aliases[] = {
    {&cert_level, 1, "助理社工师"},
    {&cert_level, 1, "初级社会工作师"},
    {&cert_level, 2, "中级社会工作师"},
    {&cert_level, 2, "社工师"},
    {&cert_level, 3, "高级社工师"},
    {&expense_category, 1, "活动费用"},
    {&expense_category, 3, "餐补"},
    {&expense_category, 3, "餐费补助"},
};

/* ---------------------------------------------------------------------------
 * Fields, one array per kind. Ids start at 1 and are never reused.
 * min/max: TEXT byte length, INT/MONEY/DATE value, lists element count.
 */

#define F(i, n, l, t, fl) .id = (i), .name = (n), .label = (l), .type = (t), .flags = (fl)
#define RANGE(a, b) .min = (a), .max = (b)

#define REQ QS_FF_REQUIRED
#define LOCAL QS_FF_LOCAL

/* Byte lengths of text (a Chinese character is 3 bytes). */
enum {
    T_NAME = 200,
    T_SHORT = 64, /* phone numbers, voucher and certificate numbers, provinces */
    T_NOTE = 1000,
    T_LONG = 2000,
    T_CONTENT = 4000,
    T_USCC = 18, /* 统一社会信用代码 and 身份证号: exactly 18 characters */
};
/* Dates: anything in date.h's range, or an activity date of this century. */
enum {
    DATE_MIN = 19000101, /* date.h's range */
    DATE_MAX = 21991231,
    ACT_MIN = 20000101, /* the date of an activity */
    ACT_MAX = 20991231,
    COUNT_MAX = 100000,
};
#define MONEY_MAX INT64_C(1000000000000) /* fen: ten billion yuan */

static const qs_field county_fields[] = {
    {F(1, "code", "区划代码", QS_F_CODE, REQ), .min_level = QS_LEVEL_COUNTY,
     .max_level = QS_LEVEL_COUNTY},
    {F(2, "name", "县名", QS_F_TEXT, 0), RANGE(1, T_NAME)},
    {F(3, "prefecture", "所属州市", QS_F_TEXT, 0), RANGE(1, T_NAME)},
    {F(4, "prefecture_code", "州市代码", QS_F_CODE, 0), .min_level = QS_LEVEL_PREFECTURE,
     .max_level = QS_LEVEL_PREFECTURE},
    {F(5, "townships", "乡镇数", QS_F_INT, 0), RANGE(0, 200)},
};

static const qs_field agency_fields[] = {
    {F(1, "name", "机构名称", QS_F_TEXT, REQ), RANGE(1, T_NAME)},
    {F(2, "uscc", "统一社会信用代码", QS_F_TEXT, 0), RANGE(T_USCC, T_USCC)},
    {F(3, "role", "机构类型", QS_F_ENUM, REQ), .en = &agency_role},
    {F(4, "province", "所在省份", QS_F_TEXT, 0), RANGE(1, T_SHORT)},
    {F(5, "county", "服务县", QS_F_CODE, 0), .min_level = QS_LEVEL_COUNTY,
     .max_level = QS_LEVEL_COUNTY},
    {F(6, "contact", "联系人", QS_F_TEXT, 0), RANGE(1, T_NAME)},
    {F(7, "phone", "联系电话", QS_F_TEXT, 0), RANGE(1, T_SHORT)},
};

static const qs_field pairing_fields[] = {
    {F(1, "aiding", "援派机构", QS_F_REF, REQ), .ref_kind = QS_K_AGENCY},
    {F(2, "receiving", "受援机构", QS_F_REF, REQ), .ref_kind = QS_K_AGENCY},
    {F(3, "county", "受援县", QS_F_CODE, REQ), .min_level = QS_LEVEL_COUNTY,
     .max_level = QS_LEVEL_COUNTY},
    {F(4, "type", "结对类型", QS_F_ENUM, REQ), .en = &pairing_type},
    {F(5, "start_year", "起始年度", QS_F_INT, REQ), RANGE(2021, 2035)},
    {F(6, "end_year", "结束年度", QS_F_INT, REQ), RANGE(2021, 2035)},
};

static const qs_field station_fields[] = {
    {F(1, "township", "乡镇代码", QS_F_CODE, REQ), .min_level = QS_LEVEL_TOWNSHIP,
     .max_level = QS_LEVEL_TOWNSHIP},
    {F(2, "name", "站点名称", QS_F_TEXT, REQ), RANGE(1, T_NAME)},
    {F(3, "opened", "建站日期", QS_F_DATE, 0), RANGE(DATE_MIN, DATE_MAX)},
    {F(4, "resident_workers", "驻站社工数", QS_F_INT, 0), RANGE(0, 100)},
};

static const qs_field person_fields[] = {
    {F(1, "agency", "所属机构", QS_F_REF, REQ), .ref_kind = QS_K_AGENCY},
    {F(2, "name", "姓名", QS_F_TEXT, REQ), RANGE(1, T_NAME)},
    {F(3, "role", "人员类型", QS_F_ENUM, REQ), .en = &person_role},
    {F(4, "cert_level", "证书等级", QS_F_ENUM, 0), .en = &cert_level},
    {F(5, "cert_no", "证书编号", QS_F_TEXT, 0), RANGE(1, T_SHORT)},
    {F(6, "cert_date", "取证日期", QS_F_DATE, 0), RANGE(DATE_MIN, DATE_MAX)},
    /* "at least two years of direct service" is computed from this date */
    {F(7, "service_since", "直接服务起始日期", QS_F_DATE, 0), RANGE(DATE_MIN, DATE_MAX)},
    {F(8, "phone", "联系电话", QS_F_TEXT, 0), RANGE(1, T_SHORT)},
    /* the last year the person sat the national social-work exam (全国社会工作者
     *职业水平考试, held since 2008): the report counts local workers who sat it */
    {F(9, "exam_year", "参加职业水平考试年度", QS_F_INT, 0), RANGE(2008, 2099)},
};

static const qs_field workday_fields[] = {
    {F(1, "person", "社工", QS_F_REF, REQ), .ref_kind = QS_K_PERSON},
    {F(2, "pairing", "结对", QS_F_REF, REQ), .ref_kind = QS_K_PAIRING},
    {F(3, "date", "工作日期", QS_F_DATE, REQ), RANGE(ACT_MIN, ACT_MAX)},
    {F(4, "township", "乡镇代码", QS_F_CODE, 0), .min_level = QS_LEVEL_TOWNSHIP,
     .max_level = QS_LEVEL_TOWNSHIP},
    {F(5, "mode", "工作方式", QS_F_ENUM, 0), .en = &work_mode},
    {F(6, "summary", "工作摘要", QS_F_TEXT, 0), RANGE(1, T_LONG)},
};

static const qs_field service_fields[] = {
    {F(1, "date", "服务日期", QS_F_DATE, REQ), RANGE(ACT_MIN, ACT_MAX)},
    {F(2, "station", "社工站", QS_F_REF, 0), .ref_kind = QS_K_STATION},
    {F(3, "workers", "服务社工", QS_F_REFLIST, 0), RANGE(0, 20), .ref_kind = QS_K_PERSON},
    {F(4, "service_type", "服务类型", QS_F_ENUM, REQ), .en = &service_type},
    {F(5, "domain", "服务领域", QS_F_ENUM, REQ), .en = &service_domain},
    {F(6, "categories", "服务对象类别", QS_F_ENUMSET, 0), RANGE(0, N(category_v)),
     .en = &category},
    {F(7, "total", "服务人数", QS_F_INT, REQ), RANGE(0, COUNT_MAX)},
    {F(8, "minors", "其中未成年人", QS_F_INT, 0), RANGE(0, COUNT_MAX)},
    {F(9, "female", "其中女性", QS_F_INT, 0), RANGE(0, COUNT_MAX)},
    {F(10, "pseudonyms", "服务对象标识", QS_F_DIGESTS, 0), RANGE(0, 1000)},
    {F(11, "minutes", "服务时长（分钟）", QS_F_INT, 0), RANGE(0, 1440)},
    {F(12, "content", "服务内容", QS_F_TEXT, 0), RANGE(1, T_CONTENT)},
    {F(13, "outcome", "服务成效", QS_F_TEXT, 0), RANGE(1, T_LONG)},
    {F(14, "followup", "跟进日期", QS_F_DATE, 0), RANGE(ACT_MIN, ACT_MAX)},
};

static const qs_field training_fields[] = {
    {F(1, "date", "日期", QS_F_DATE, REQ), RANGE(ACT_MIN, ACT_MAX)},
    {F(2, "type", "类型", QS_F_ENUM, REQ), .en = &training_type},
    {F(3, "trainer", "主讲人", QS_F_TEXT, 0), RANGE(1, T_NAME)},
    {F(4, "topic", "主题", QS_F_TEXT, REQ), RANGE(1, T_NAME)},
    {F(5, "minutes", "时长（分钟）", QS_F_INT, 0), RANGE(1, 1440 * 5)},
    {F(6, "participants", "参加人数", QS_F_INT, 0), RANGE(0, COUNT_MAX)},
    {F(7, "local_participants", "其中本地社工", QS_F_INT, 0), RANGE(0, COUNT_MAX)},
    {F(8, "pairing", "结对", QS_F_REF, 0), .ref_kind = QS_K_PAIRING},
};

static const qs_field expense_fields[] = {
    {F(1, "pairing", "结对", QS_F_REF, REQ), .ref_kind = QS_K_PAIRING},
    {F(2, "date", "日期", QS_F_DATE, REQ), RANGE(ACT_MIN, ACT_MAX)},
    {F(3, "direction", "收支方向", QS_F_ENUM, REQ), .en = &direction},
    {F(4, "amount", "金额", QS_F_MONEY, REQ), RANGE(1, MONEY_MAX)},
    {F(5, "voucher", "凭证号", QS_F_TEXT, 0), RANGE(1, T_SHORT)},
    /* category: required when spent, absent when received; source: the reverse */
    {F(6, "category", "支出类别", QS_F_ENUM, 0), .en = &expense_category},
    {F(7, "source", "资金来源", QS_F_ENUM, 0), .en = &expense_source},
    {F(8, "note", "备注", QS_F_TEXT, 0), RANGE(1, T_NOTE)},
};

static const qs_field output_fields[] = {
    {F(1, "type", "成果类型", QS_F_ENUM, REQ), .en = &output_type},
    {F(2, "name", "名称", QS_F_TEXT, REQ), RANGE(1, T_NAME)},
    {F(3, "date", "日期", QS_F_DATE, REQ), RANGE(ACT_MIN, ACT_MAX)},
    {F(4, "pairing", "结对", QS_F_REF, 0), .ref_kind = QS_K_PAIRING},
    {F(5, "uscc", "统一社会信用代码", QS_F_TEXT, 0), RANGE(T_USCC, T_USCC)},
    {F(6, "note", "备注", QS_F_TEXT, 0), RANGE(1, T_NOTE)},
};

static const qs_field beneficiary_fields[] = {
    {F(1, "name", "姓名", QS_F_TEXT, REQ | LOCAL), RANGE(1, T_NAME)},
    {F(2, "id_number", "身份证号", QS_F_TEXT, LOCAL), RANGE(T_USCC, T_USCC)},
    /* HMAC of the ID number under the county secret: one 16-byte digest, held
     * as a DIGESTS list of at most one so it shares service.pseudonyms' form;
     * the store sets it from id_number (pseudonym_of), no writer types it. */
    {F(3, "pseudonym", "服务对象标识", QS_F_DIGESTS, 0), RANGE(0, 1), .pseudonym_of = 2},
    {F(4, "gender", "性别", QS_F_ENUM, 0), .en = &gender},
    {F(5, "birth", "出生日期", QS_F_DATE, 0), RANGE(DATE_MIN, DATE_MAX)},
    {F(6, "categories", "类别", QS_F_ENUMSET, 0), RANGE(0, N(category_v)), .en = &category},
    {F(7, "township", "乡镇代码", QS_F_CODE, 0), .min_level = QS_LEVEL_TOWNSHIP,
     .max_level = QS_LEVEL_TOWNSHIP},
};

/* ---------------------------------------------------------------------------
 * Kinds
 */

static void county_check(const qs_kind *k, const qs_body *b, qs_verrs *e);
static void agency_check(const qs_kind *k, const qs_body *b, qs_verrs *e);
static void pairing_check(const qs_kind *k, const qs_body *b, qs_verrs *e);
static void service_check(const qs_kind *k, const qs_body *b, qs_verrs *e);
static void training_check(const qs_kind *k, const qs_body *b, qs_verrs *e);
static void expense_check(const qs_kind *k, const qs_body *b, qs_verrs *e);
static void output_check(const qs_kind *k, const qs_body *b, qs_verrs *e);
static void beneficiary_check(const qs_kind *k, const qs_body *b, qs_verrs *e);

#define PROV QS_LEVEL_PROVINCE, QS_LEVEL_PROVINCE
#define CNTY QS_LEVEL_COUNTY, QS_LEVEL_TOWNSHIP

/* .key: the field people name a record by (BY_ID: none); .key_from/.key_to:
 * the years that pick one of several; .dup: a duplicate key (schema.h,
 * qs_kind). */
#define BY_ID .key = 0
static const qs_kind kinds[] = {
    {QS_K_COUNTY, "county", "县", PROV, false, county_fields, N(county_fields), county_check,
     .key = 1 /* code */},
    {QS_K_AGENCY, "agency", "机构", PROV, false, agency_fields, N(agency_fields), agency_check,
     .key = 1 /* name */},
    {QS_K_PAIRING, "pairing", "结对", PROV, false, pairing_fields, N(pairing_fields),
     pairing_check, .key = 3 /* county */, .key_from = 5, .key_to = 6 /* start/end_year */},
    {QS_K_STATION, "station", "社工站", CNTY, false, station_fields, N(station_fields), NULL,
     .key = 1 /* township */},
    {QS_K_PERSON, "person", "社工", CNTY, false, person_fields, N(person_fields), NULL,
     .key = 2 /* name */},
    {QS_K_WORKDAY, "workday", "工作日", CNTY, false, workday_fields, N(workday_fields), NULL,
     .dup = {1, 3} /* person, date: reports count distinct days */},
    {QS_K_SERVICE, "service", "服务记录", CNTY, false, service_fields, N(service_fields),
     service_check, BY_ID},
    {QS_K_TRAINING, "training", "培训督导", CNTY, false, training_fields, N(training_fields),
     training_check, BY_ID},
    {QS_K_EXPENSE, "expense", "经费", CNTY, false, expense_fields, N(expense_fields),
     expense_check, BY_ID},
    {QS_K_OUTPUT, "output", "成果", CNTY, false, output_fields, N(output_fields), output_check, BY_ID},
    {QS_K_BENEFICIARY, "beneficiary", "服务对象", CNTY, true, beneficiary_fields,
     N(beneficiary_fields), beneficiary_check, BY_ID},
};
/* clang-format on */

/* ---------------------------------------------------------------------------
 * Lookup
 */

/* Tests only: a kind this build pretends not to know (0 = none). */
static uint32_t hidden_kind;

void qs_schema_test_hide_kind(uint32_t id)
{
    hidden_kind = id;
}

const qs_kind *qs_schema_kind(uint32_t id)
{
    for (uint32_t i = 0; i < N(kinds); i++)
        if (kinds[i].id == id && id != hidden_kind)
            return &kinds[i];
    return NULL;
}

const qs_kind *qs_schema_kind_by_name(const char *name_or_label)
{
    if (!name_or_label)
        return NULL;
    for (uint32_t i = 0; i < N(kinds); i++)
        if (strcmp(kinds[i].name, name_or_label) == 0 || strcmp(kinds[i].label, name_or_label) == 0)
            return &kinds[i];
    return NULL;
}

uint32_t qs_schema_nkinds(void)
{
    return N(kinds);
}

const qs_kind *qs_schema_kind_at(uint32_t i)
{
    return i < N(kinds) ? &kinds[i] : NULL;
}

const qs_field *qs_kind_field(const qs_kind *k, uint32_t id)
{
    for (uint32_t i = 0; k && i < k->nfields; i++)
        if (k->fields[i].id == id)
            return &k->fields[i];
    return NULL;
}

const qs_field *qs_kind_field_by_name(const qs_kind *k, const char *name_or_label)
{
    for (uint32_t i = 0; k && name_or_label && i < k->nfields; i++)
        if (strcmp(k->fields[i].name, name_or_label) == 0 ||
            strcmp(k->fields[i].label, name_or_label) == 0)
            return &k->fields[i];
    return NULL;
}

const qs_enum *qs_schema_enum(const char *name)
{
    for (uint32_t i = 0; name && i < N(kinds); i++)
        for (uint32_t j = 0; j < kinds[i].nfields; j++)
            if (kinds[i].fields[j].en && strcmp(kinds[i].fields[j].en->name, name) == 0)
                return kinds[i].fields[j].en;
    return NULL;
}

const qs_field *qs_kind_key(const qs_kind *k)
{
    return k && k->key ? qs_kind_field(k, k->key) : NULL;
}

const qs_enum_val *qs_enum_by_code(const qs_enum *e, uint32_t code)
{
    for (uint32_t i = 0; e && i < e->n; i++)
        if (e->vals[i].code == code)
            return &e->vals[i];
    return NULL;
}

/* True iff text equals the label or one of its '/'-separated parts. */
static bool label_matches(const char *label, const char *text)
{
    if (strcmp(label, text) == 0)
        return true;
    size_t n = strlen(text);
    for (const char *p = label;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == n && memcmp(p, text, n) == 0)
            return true;
        if (!slash)
            return false;
        p = slash + 1;
    }
}

const qs_enum_val *qs_enum_lookup(const qs_enum *e, const char *text)
{
    if (!e || !text || !*text)
        return NULL;
    size_t nd = strspn(text, "0123456789");
    if (text[nd] == '\0') {
        if (nd > 10)
            return NULL;
        uint64_t code = strtoull(text, NULL, 10);
        return code <= UINT32_MAX ? qs_enum_by_code(e, (uint32_t)code) : NULL;
    }
    for (uint32_t i = 0; i < e->n; i++)
        if (strcasecmp(e->vals[i].name, text) == 0)
            return &e->vals[i];
    for (uint32_t i = 0; i < e->n; i++)
        if (label_matches(e->vals[i].label, text))
            return &e->vals[i];
    for (uint32_t i = 0; i < N(aliases); i++)
        if (aliases[i].en == e && strcmp(aliases[i].word, text) == 0)
            return qs_enum_by_code(e, aliases[i].code);
    return NULL;
}

size_t qs_enum_aliases(const qs_enum *e, uint32_t code, const char **out, size_t max)
{
    size_t n = 0;
    for (uint32_t i = 0; i < N(aliases); i++)
        if (aliases[i].en == e && aliases[i].code == code) {
            if (n < max)
                out[n] = aliases[i].word;
            n++;
        }
    return n;
}

const char *qs_ftype_name(qs_ftype t)
{
    switch (t) {
    case QS_F_TEXT:
        return "text";
    case QS_F_INT:
        return "int";
    case QS_F_MONEY:
        return "money";
    case QS_F_DATE:
        return "date";
    case QS_F_BOOL:
        return "bool";
    case QS_F_ENUM:
        return "enum";
    case QS_F_ENUMSET:
        return "enumset";
    case QS_F_CODE:
        return "code";
    case QS_F_REF:
        return "ref";
    case QS_F_REFLIST:
        return "reflist";
    case QS_F_DIGESTS:
        return "digests";
    }
    return "unknown";
}

/* ---------------------------------------------------------------------------
 * Validation
 */

/* Cut s (NUL-terminated, in a buffer) back to a whole UTF-8 character. */
static void utf8_trim_tail(char *s)
{
    size_t n = strlen(s), i = n;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
        i--;
    if (i == 0)
        return;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t want = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    if (n - (i - 1) < want)
        s[i - 1] = '\0';
}

void qs_verrs_add(qs_verrs *e, const qs_field *f, const char *fmt, ...)
{
    if (e->n >= QS_VERR_MAX) {
        e->dropped++;
        return;
    }
    qs_verr *v = &e->e[e->n++];
    v->field = f ? f->id : 0;
    snprintf(v->name, sizeof v->name, "%s", f ? f->name : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->reason, sizeof v->reason, fmt, ap);
    va_end(ap);
    utf8_trim_tail(v->reason);
}

static bool has_error(const qs_verrs *e, uint32_t field)
{
    for (uint32_t i = 0; i < e->n; i++)
        if (e->e[i].field == field)
            return true;
    return false;
}

/* Absent for the required rule: missing, nil, "" or []. */
static bool is_empty(const qs_value *v)
{
    return !v || v->t == QS_V_NIL || (v->t == QS_V_STR && v->u.s.n == 0) ||
           (v->t == QS_V_ARRAY && v->u.a.n == 0);
}

/* NULL if p[0..n) is UTF-8 text without control characters other than \t and
 * \n; otherwise what is wrong with it. */
static const char *text_problem(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        if (c < 0x80) {
            if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7F)
                return "must not contain control characters (only line breaks and tabs)";
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, lo;
        if (c >= 0xC2 && c <= 0xDF)
            len = 2, cp = c & 0x1F, lo = 0x80;
        else if (c >= 0xE0 && c <= 0xEF)
            len = 3, cp = c & 0x0F, lo = 0x800;
        else if (c >= 0xF0 && c <= 0xF4)
            len = 4, cp = c & 0x07, lo = 0x10000;
        else
            return "is not valid UTF-8 text";
        if (n - i < len)
            return "is not valid UTF-8 text";
        for (size_t j = 1; j < len; j++) {
            if ((p[i + j] & 0xC0) != 0x80)
                return "is not valid UTF-8 text";
            cp = cp << 6 | (p[i + j] & 0x3F);
        }
        if (cp < lo || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return "is not valid UTF-8 text";
        if (cp >= 0x80 && cp <= 0x9F)
            return "must not contain control characters (only line breaks and tabs)";
        i += len;
    }
    return NULL;
}

static const char *level_words(qs_level lo, qs_level hi)
{
    if (lo != hi)
        return "a division code (6 or 9 digits)";
    switch (lo) {
    case QS_LEVEL_NATION:
        return "the national code 000000";
    case QS_LEVEL_PROVINCE:
        return "a province code (6 digits, e.g. 630000)";
    case QS_LEVEL_PREFECTURE:
        return "a prefecture code (6 digits, e.g. 632300)";
    case QS_LEVEL_COUNTY:
        return "a county code (6 digits, e.g. 632322)";
    case QS_LEVEL_TOWNSHIP:
        return "a township code (9 digits, e.g. 632322100)";
    }
    return "a division code";
}

static void fmt_money(int64_t fen, char *buf, size_t n)
{
    uint64_t a = fen < 0 ? (uint64_t)0 - (uint64_t)fen : (uint64_t)fen;
    snprintf(buf, n, "%s%" PRIu64 ".%02u", fen < 0 ? "-" : "", a / 100, (unsigned)(a % 100));
}

static bool is_id(const qs_value *v)
{
    return v->t == QS_V_BIN && v->u.s.n == QS_ID_LEN;
}

/* Elements of an array of 16-byte bins: all of that form and distinct? */
static void check_id_list(const qs_field *f, const qs_value *v, const char *what, qs_verrs *e)
{
    for (uint32_t i = 0; i < v->u.a.n; i++) {
        if (!is_id(&v->u.a.v[i])) {
            qs_verrs_add(e, f, "must be a list of %s (16 bytes each)", what);
            return;
        }
        for (uint32_t j = 0; j < i; j++)
            if (memcmp(v->u.a.v[i].u.s.p, v->u.a.v[j].u.s.p, QS_ID_LEN) == 0) {
                qs_verrs_add(e, f, "lists the same %s twice", what);
                return;
            }
    }
}

static void check_value(const qs_field *f, const qs_value *v, qs_verrs *e)
{
    char lo[32], hi[32];
    switch (f->type) {
    case QS_F_TEXT: {
        if (v->t != QS_V_STR) {
            qs_verrs_add(e, f, "must be text");
            return;
        }
        const char *why = text_problem((const unsigned char *)v->u.s.p, v->u.s.n);
        if (why)
            qs_verrs_add(e, f, "%s", why);
        else if (f->min == f->max && v->u.s.n != f->max)
            qs_verrs_add(e, f, "must be exactly %" PRId64 " characters (has %" PRIu32 ")", f->max,
                         v->u.s.n);
        else if (v->u.s.n > f->max)
            qs_verrs_add(e, f,
                         "is too long: %" PRIu32 " bytes, at most %" PRId64
                         " (a Chinese character takes 3)",
                         v->u.s.n, f->max);
        else if (v->u.s.n < f->min)
            qs_verrs_add(e, f, "is too short: at least %" PRId64 " bytes", f->min);
        return;
    }
    case QS_F_INT:
        if (v->t != QS_V_INT)
            qs_verrs_add(e, f, "must be a whole number");
        else if (v->u.i < f->min || v->u.i > f->max)
            qs_verrs_add(e, f, "must be between %" PRId64 " and %" PRId64 " (is %" PRId64 ")",
                         f->min, f->max, v->u.i);
        return;
    case QS_F_MONEY:
        if (v->t != QS_V_INT) {
            qs_verrs_add(e, f, "must be an amount in fen (a whole number)");
        } else if (v->u.i < f->min) {
            fmt_money(f->min, lo, sizeof lo);
            if (f->min == 1)
                qs_verrs_add(e, f, "must be greater than 0");
            else
                qs_verrs_add(e, f, "must be at least %s yuan", lo);
        } else if (v->u.i > f->max) {
            fmt_money(f->max, hi, sizeof hi);
            qs_verrs_add(e, f, "must be at most %s yuan", hi);
        }
        return;
    case QS_F_DATE:
        if (v->t != QS_V_INT || v->u.i < INT32_MIN || v->u.i > INT32_MAX ||
            !qs_date_valid((int32_t)v->u.i)) {
            qs_verrs_add(e, f, "must be a real calendar date");
        } else if (v->u.i < f->min || v->u.i > f->max) {
            qs_date_format((int32_t)f->min, lo);
            qs_date_format((int32_t)f->max, hi);
            qs_verrs_add(e, f, "must be between %s and %s", lo, hi);
        }
        return;
    case QS_F_BOOL:
        if (v->t != QS_V_BOOL)
            qs_verrs_add(e, f, "must be yes or no");
        return;
    case QS_F_ENUM:
        if (v->t != QS_V_INT || v->u.i < 0 || v->u.i > UINT32_MAX ||
            !qs_enum_by_code(f->en, (uint32_t)v->u.i))
            qs_verrs_add(e, f, "is not one of the allowed values");
        return;
    case QS_F_ENUMSET:
        if (v->t != QS_V_ARRAY) {
            qs_verrs_add(e, f, "must be a list of values");
            return;
        }
        for (uint32_t i = 0; i < v->u.a.n; i++) {
            const qs_value *x = &v->u.a.v[i];
            if (x->t != QS_V_INT || x->u.i < 0 || x->u.i > UINT32_MAX ||
                !qs_enum_by_code(f->en, (uint32_t)x->u.i)) {
                qs_verrs_add(e, f, "contains a value that is not allowed");
                return;
            }
            if (i > 0 && x->u.i <= v->u.a.v[i - 1].u.i) {
                qs_verrs_add(e, f, "must list each value once, in ascending code order");
                return;
            }
        }
        if (v->u.a.n > f->max)
            qs_verrs_add(e, f, "has %" PRIu32 " values, at most %" PRId64, v->u.a.n, f->max);
        return;
    case QS_F_CODE:
        if (v->t != QS_V_STR || qs_code_level(v->u.s.p) < (int)f->min_level ||
            qs_code_level(v->u.s.p) > (int)f->max_level || strlen(v->u.s.p) != v->u.s.n)
            qs_verrs_add(e, f, "must be %s", level_words(f->min_level, f->max_level));
        return;
    case QS_F_REF:
        if (!is_id(v))
            qs_verrs_add(e, f, "must be a record id (16 bytes)");
        return;
    case QS_F_REFLIST:
    case QS_F_DIGESTS: {
        const char *what = f->type == QS_F_REFLIST ? "record ids" : "pseudonyms";
        if (v->t != QS_V_ARRAY) {
            qs_verrs_add(e, f, "must be a list of %s", what);
            return;
        }
        if (v->u.a.n > f->max) {
            qs_verrs_add(e, f, "has %" PRIu32 " entries, at most %" PRId64, v->u.a.n, f->max);
            return;
        }
        check_id_list(f, v, f->type == QS_F_REFLIST ? "record" : "pseudonym", e);
        return;
    }
    }
    qs_verrs_add(e, f, "has a type this program does not know");
}

int qs_schema_validate(const qs_kind *k, const qs_body *b, bool deleted, qs_verrs *errs,
                       qs_err *err)
{
    qs_verrs local;
    if (!errs)
        errs = &local;
    memset(errs, 0, sizeof *errs);
    if (!k)
        return qs_err_set(err, QS_ESCHEMA, "unknown kind");
    if (deleted)
        return 0;
    for (uint32_t i = 0; i < k->nfields; i++) {
        const qs_field *f = &k->fields[i];
        const qs_value *v = b ? qs_body_get(b, f->id) : NULL;
        if (is_empty(v)) {
            if (f->flags & QS_FF_REQUIRED)
                qs_verrs_add(errs, f, "is required");
            continue;
        }
        check_value(f, v, errs);
    }
    if (k->check && b)
        k->check(k, b, errs);
    if (errs->n == 0)
        return 0;
    if (err) {
        char line[QS_ERR_MSG];
        size_t len = 0;
        line[0] = '\0';
        for (uint32_t i = 0; i < errs->n && len < sizeof line; i++) {
            const qs_verr *v = &errs->e[i];
            const qs_field *f = qs_kind_field(k, v->field);
            int w = f ? snprintf(line + len, sizeof line - len, "%s%s (%s): %s", i ? "; " : "",
                                 f->name, f->label, v->reason)
                      : snprintf(line + len, sizeof line - len, "%s%s", i ? "; " : "", v->reason);
            len += w > 0 ? (size_t)w : 0;
        }
        if (errs->dropped && len < sizeof line)
            snprintf(line + len, sizeof line - len, "; and %" PRIu32 " more", errs->dropped);
        utf8_trim_tail(line);
        qs_err_set(err, QS_EINVAL, "%s %s: %s", k->name, k->label, line);
    }
    return QS_EINVAL;
}

/* --- cross-field checks ---------------------------------------------------- */

/* The value of field id if it is present and an integer. */
static bool get_int(const qs_body *b, uint32_t id, int64_t *out)
{
    const qs_value *v = qs_body_get(b, id);
    if (!v || v->t != QS_V_INT)
        return false;
    *out = v->u.i;
    return true;
}

static const char *get_str(const qs_body *b, uint32_t id)
{
    const qs_value *v = qs_body_get(b, id);
    return v && v->t == QS_V_STR && v->u.s.n ? v->u.s.p : NULL;
}

/* Field f must be <= field `of` when both hold valid integers. */
static void not_more_than(const qs_kind *k, const qs_body *b, uint32_t id, uint32_t of_id,
                          qs_verrs *e)
{
    const qs_field *f = qs_kind_field(k, id), *of = qs_kind_field(k, of_id);
    int64_t x, limit;
    if (get_int(b, id, &x) && get_int(b, of_id, &limit) && !has_error(e, id) &&
        !has_error(e, of_id) && x > limit)
        qs_verrs_add(e, f, "must not be more than %s (%s), which is %" PRId64, of->name, of->label,
                     limit);
}

/* Date field id must not be before date field from_id. */
static void not_before(const qs_kind *k, const qs_body *b, uint32_t id, uint32_t from_id,
                       qs_verrs *e)
{
    const qs_field *f = qs_kind_field(k, id), *from = qs_kind_field(k, from_id);
    int64_t d, d0;
    char buf[16];
    if (get_int(b, id, &d) && get_int(b, from_id, &d0) && !has_error(e, id) &&
        !has_error(e, from_id) && d < d0)
        qs_verrs_add(e, f, "must not be before %s (%s), %s", from->name, from->label,
                     qs_date_format((int32_t)d0, buf));
}

/* 统一社会信用代码 (GB 32100): 18 characters of 0-9 and the capital letters
 * without I, O, S, V, Z. The check character is not verified. */
static void check_uscc(const qs_kind *k, const qs_body *b, uint32_t id, qs_verrs *e)
{
    const char *s = get_str(b, id);
    if (!s || has_error(e, id))
        return;
    if (s[strspn(s, "0123456789ABCDEFGHJKLMNPQRTUWXY")] != '\0')
        qs_verrs_add(e, qs_kind_field(k, id),
                     "may contain only digits and the capital letters A-H J-N P-R T U W-Y");
}

static void county_check(const qs_kind *k, const qs_body *b, qs_verrs *e)
{
    /* The prefecture holds the county: 632322 is in 632300. */
    const char *code = get_str(b, 1), *pref = get_str(b, 4);
    if (code && pref && !has_error(e, 1) && !has_error(e, 4) && strncmp(code, pref, 4) != 0)
        qs_verrs_add(e, qs_kind_field(k, 4), "must be the prefecture that contains code %s", code);
}

static void agency_check(const qs_kind *k, const qs_body *b, qs_verrs *e)
{
    check_uscc(k, b, 2, e);
}

static void output_check(const qs_kind *k, const qs_body *b, qs_verrs *e)
{
    check_uscc(k, b, 5, e);
}

static void pairing_check(const qs_kind *k, const qs_body *b, qs_verrs *e)
{
    const qs_value *a = qs_body_get(b, 1), *r = qs_body_get(b, 2);
    if (a && r && is_id(a) && is_id(r) && memcmp(a->u.s.p, r->u.s.p, QS_ID_LEN) == 0)
        qs_verrs_add(e, qs_kind_field(k, 2), "must be a different agency from aiding (援派机构)");
    int64_t y0, y1;
    if (get_int(b, 5, &y0) && get_int(b, 6, &y1) && !has_error(e, 5) && !has_error(e, 6) && y1 < y0)
        qs_verrs_add(e, qs_kind_field(k, 6), "must not be before start_year (起始年度), %" PRId64,
                     y0);
}

static void service_check(const qs_kind *k, const qs_body *b, qs_verrs *e)
{
    not_more_than(k, b, 8, 7, e); /* minors <= total */
    not_more_than(k, b, 9, 7, e); /* female <= total */
    const qs_value *ps = qs_body_get(b, 10);
    int64_t total;
    if (ps && ps->t == QS_V_ARRAY && get_int(b, 7, &total) && !has_error(e, 10) &&
        !has_error(e, 7) && ps->u.a.n > total)
        qs_verrs_add(e, qs_kind_field(k, 10),
                     "lists %" PRIu32 " people, more than total (服务人数), %" PRId64, ps->u.a.n,
                     total);
    not_before(k, b, 14, 1, e); /* followup >= date */
}

static void training_check(const qs_kind *k, const qs_body *b, qs_verrs *e)
{
    not_more_than(k, b, 7, 6, e); /* local_participants <= participants */
}

static void expense_check(const qs_kind *k, const qs_body *b, qs_verrs *e)
{
    int64_t dir;
    if (!get_int(b, 3, &dir) || has_error(e, 3))
        return;
    const qs_field *cat = qs_kind_field(k, 6), *src = qs_kind_field(k, 7);
    bool has_cat = !is_empty(qs_body_get(b, 6)), has_src = !is_empty(qs_body_get(b, 7));
    if (dir == QS_DIRECTION_SPENT) {
        if (!has_cat)
            qs_verrs_add(e, cat, "is required when direction is spent (支出)");
        if (has_src)
            qs_verrs_add(e, src, "must be left empty when direction is spent (支出)");
    } else if (dir == QS_DIRECTION_RECEIVED) {
        if (!has_src)
            qs_verrs_add(e, src, "is required when direction is received (收入)");
        if (has_cat)
            qs_verrs_add(e, cat, "must be left empty when direction is received (收入)");
    }
}

/* 公民身份号码 (GB 11643): 6-digit region, 8-digit birth date, 3-digit sequence
 * (odd for men), and a check character over the first 17 digits. */
static void beneficiary_check(const qs_kind *k, const qs_body *b, qs_verrs *e)
{
    static const int weight[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    const qs_field *f = qs_kind_field(k, 2);
    const char *s = get_str(b, 2);
    if (!s || has_error(e, 2))
        return;
    if (strspn(s, "0123456789") < 17 || (s[17] != 'X' && (s[17] < '0' || s[17] > '9'))) {
        qs_verrs_add(e, f, "must be 17 digits followed by a digit or a capital X");
        return;
    }
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (s[i] - '0') * weight[i];
    int check = (12 - sum % 11) % 11;
    if (s[17] != (check == 10 ? 'X' : '0' + check)) {
        qs_verrs_add(e, f, "has a wrong check character (last digit): please re-check the number");
        return;
    }
    int32_t born = 0;
    for (int i = 6; i < 14; i++)
        born = born * 10 + (s[i] - '0');
    if (!qs_date_valid(born)) {
        qs_verrs_add(e, f, "contains no valid birth date (digits 7 to 14)");
        return;
    }
    int64_t birth, sex;
    char buf[16];
    if (get_int(b, 5, &birth) && !has_error(e, 5) && birth != born)
        qs_verrs_add(e, qs_kind_field(k, 5), "does not match the ID number, which says %s",
                     qs_date_format(born, buf));
    if (get_int(b, 4, &sex) && !has_error(e, 4) &&
        sex != ((s[16] - '0') % 2 ? QS_GENDER_MALE : QS_GENDER_FEMALE))
        qs_verrs_add(e, qs_kind_field(k, 4), "does not match the ID number");
}

/* ---------------------------------------------------------------------------
 * Text forms
 */

static bool is_space_at(const char *p, const char *end, size_t *len)
{
    if (p < end && strchr(" \t\r\n\v\f", *p) && *p) {
        *len = 1;
        return true;
    }
    if (end - p >= 3 && memcmp(p, "\xE3\x80\x80", 3) == 0) { /* U+3000 ideographic space */
        *len = 3;
        return true;
    }
    if (end - p >= 2 && memcmp(p, "\xC2\xA0", 2) == 0) { /* U+00A0 no-break space */
        *len = 2;
        return true;
    }
    return false;
}

/* Trim ASCII, ideographic and no-break spaces from both ends of [*p, *end). */
static void trim(const char **p, const char **end)
{
    size_t n;
    while (is_space_at(*p, *end, &n))
        *p += n;
    for (;;) {
        const char *q = *end;
        if (q > *p && strchr(" \t\r\n\v\f", q[-1]) && q[-1])
            q -= 1;
        else if (q - *p >= 3 && memcmp(q - 3, "\xE3\x80\x80", 3) == 0)
            q -= 3;
        else if (q - *p >= 2 && memcmp(q - 2, "\xC2\xA0", 2) == 0)
            q -= 2;
        else
            break;
        *end = q;
    }
}

static bool strip_prefix(const char **p, const char *end, const char *pre)
{
    size_t n = strlen(pre);
    if ((size_t)(end - *p) >= n && memcmp(*p, pre, n) == 0) {
        *p += n;
        return true;
    }
    return false;
}

static bool strip_suffix(const char *p, const char **end, const char *suf)
{
    size_t n = strlen(suf);
    if ((size_t)(*end - p) >= n && memcmp(*end - n, suf, n) == 0) {
        *end -= n;
        return true;
    }
    return false;
}

/* A list separator at p: its length, or 0. */
static size_t sep_at(const char *p, const char *end)
{
    if (p < end && (*p == ',' || *p == ';'))
        return 1;
    static const char *const wide[] = {"，", "、", "；"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(wide[i]);
        if ((size_t)(end - p) >= n && memcmp(p, wide[i], n) == 0)
            return n;
    }
    return 0;
}

/* Next non-empty trimmed list item starting at *p; false at the end. */
static bool next_item(const char **p, const char *end, const char **ip, const char **iend)
{
    while (*p < end) {
        const char *s = *p, *q = s;
        size_t n = 0;
        while (q < end && (n = sep_at(q, end)) == 0)
            q++;
        *p = q < end ? q + n : end;
        const char *e = q;
        trim(&s, &e);
        if (s < e) {
            *ip = s;
            *iend = e;
            return true;
        }
    }
    return false;
}

/* Digits with optional thousands separators ("1,234,567"): value into *out.
 * 0, or QS_EINVAL (not that form) or QS_ELIMIT (above max). */
static int grouped_digits(const char *p, const char *end, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    size_t group = 0;
    bool commas = false;
    if (p == end)
        return QS_EINVAL;
    for (const char *q = p; q < end; q++) {
        if (*q == ',') {
            if (group == 0 || (commas && group != 3) || (!commas && group > 3))
                return QS_EINVAL;
            commas = true;
            group = 0;
            continue;
        }
        if (*q < '0' || *q > '9')
            return QS_EINVAL;
        if (v > (max - (uint64_t)(*q - '0')) / 10)
            return QS_ELIMIT;
        v = v * 10 + (uint64_t)(*q - '0');
        group++;
    }
    if (group == 0 || (commas && group != 3))
        return QS_EINVAL;
    *out = v;
    return 0;
}

static int bad(const qs_field *f, qs_err *err, const char *p, const char *end, const char *why)
{
    int n = (int)(end - p);
    if (n > 60) /* keep the message short; cut on a character boundary */
        for (n = 60; n > 0 && ((unsigned char)p[n] & 0xC0) == 0x80; n--)
            ;
    return qs_err_set(err, QS_EINVAL, "%s (%s): \"%.*s\" %s", f->name, f->label, n, p, why);
}

static int parse_money(const qs_field *f, const char *p, const char *end, qs_value *out,
                       qs_err *err)
{
    const char *s = p, *e = end;
    if (strip_prefix(&s, e, "¥") || strip_prefix(&s, e, "￥"))
        trim(&s, &e);
    if (strip_suffix(s, &e, "元"))
        trim(&s, &e);
    if (s < e && *s == '-')
        return bad(f, err, p, end, "is negative: enter money paid out as direction spent (支出)");
    const char *dot = memchr(s, '.', e > s ? (size_t)(e - s) : 0);
    const char *ie = dot ? dot : e;
    uint64_t yuan, frac = 0;
    int rc = grouped_digits(s, ie, (uint64_t)INT64_MAX / 100 - 1, &yuan);
    if (rc == QS_ELIMIT)
        return bad(f, err, p, end, "is too large");
    if (rc)
        return bad(f, err, p, end, "is not an amount in yuan, e.g. 1234.50");
    if (dot) {
        size_t nd = (size_t)(e - dot - 1);
        if (nd == 0 || strspn(dot + 1, "0123456789") < nd)
            return bad(f, err, p, end, "is not an amount in yuan, e.g. 1234.50");
        if (nd > 2)
            return bad(f, err, p, end, "has more than two decimals (the smallest unit is 1 fen)");
        frac = (uint64_t)(dot[1] - '0') * 10 + (nd == 2 ? (uint64_t)(dot[2] - '0') : 0);
    }
    *out = qs_v_int((int64_t)(yuan * 100 + frac));
    return 0;
}

static int parse_int(const qs_field *f, const char *p, const char *end, qs_value *out, qs_err *err)
{
    const char *s = p;
    bool neg = false;
    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    uint64_t v;
    int rc = grouped_digits(s, end, (uint64_t)INT64_MAX, &v);
    if (rc == QS_ELIMIT)
        return bad(f, err, p, end, "is too large");
    if (rc)
        return bad(f, err, p, end, "is not a whole number");
    *out = qs_v_int(neg ? -(int64_t)v : (int64_t)v);
    return 0;
}

static int parse_bool(const qs_field *f, const char *p, const char *end, qs_value *out, qs_err *err)
{
    static const char *const yes[] = {"1", "true", "yes", "是"};
    static const char *const no[] = {"0", "false", "no", "否"};
    size_t n = (size_t)(end - p);
    for (size_t i = 0; i < 4; i++) {
        if (strlen(yes[i]) == n && strncasecmp(p, yes[i], n) == 0) {
            *out = qs_v_bool(true);
            return 0;
        }
        if (strlen(no[i]) == n && strncasecmp(p, no[i], n) == 0) {
            *out = qs_v_bool(false);
            return 0;
        }
    }
    return bad(f, err, p, end, "is not yes/no (是/否)");
}

/* The enum value named by [p, end), or an error listing the choices. */
static int parse_enum_one(const qs_field *f, const char *p, const char *end, uint32_t *code,
                          qs_err *err)
{
    char *t = qs_xstrndup(p, (size_t)(end - p));
    const qs_enum_val *v = qs_enum_lookup(f->en, t);
    free(t);
    if (v) {
        *code = v->code;
        return 0;
    }
    char choices[300];
    size_t len = 0;
    choices[0] = '\0';
    for (uint32_t i = 0; i < f->en->n && len < sizeof choices; i++) {
        int w = snprintf(choices + len, sizeof choices - len, "%s%" PRIu32 " %s", i ? ", " : "",
                         f->en->vals[i].code, f->en->vals[i].label);
        len += w > 0 ? (size_t)w : 0;
    }
    utf8_trim_tail(choices);
    char why[360];
    snprintf(why, sizeof why, "is not one of: %s", choices);
    utf8_trim_tail(why);
    return bad(f, err, p, end, why);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int parse_enumset(const qs_field *f, const char *p, const char *end, qs_value *out,
                         qs_err *err)
{
    uint32_t *codes = qs_xcalloc(f->en->n ? f->en->n : 1, sizeof *codes);
    uint32_t n = 0;
    const char *ip, *ie;
    int rc = 0;
    while (next_item(&p, end, &ip, &ie)) {
        uint32_t c = 0;
        if ((rc = parse_enum_one(f, ip, ie, &c, err)) != 0)
            goto done;
        bool seen = false;
        for (uint32_t i = 0; i < n; i++)
            seen |= codes[i] == c;
        if (!seen) /* n < f->en->n: codes are distinct members of the enum */
            codes[n++] = c;
    }
    qsort(codes, n, sizeof *codes, cmp_u32);
    if (n == 0) {
        *out = (qs_value){.t = QS_V_NIL};
        goto done;
    }
    *out = qs_v_array(n);
    for (uint32_t i = 0; i < n; i++)
        out->u.a.v[i] = qs_v_int(codes[i]);
done:
    free(codes);
    return rc;
}

/* One REF (uuid text) or digest (32 hex chars) into a 16-byte bin. */
static int parse_id(const qs_field *f, bool digest, const char *p, const char *end,
                    uint8_t id[QS_ID_LEN], qs_err *err)
{
    char *t = qs_xstrndup(p, (size_t)(end - p));
    int rc = digest ? qs_unhex(t, id, QS_ID_LEN) : qs_uuid_parse(t, id);
    free(t);
    if (rc)
        return bad(f, err, p, end,
                   digest ? "is not a pseudonym (32 hexadecimal characters)"
                          : "is not a record id (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
    return 0;
}

static int parse_idlist(const qs_field *f, const char *p, const char *end, qs_value *out,
                        qs_err *err)
{
    bool digest = f->type == QS_F_DIGESTS;
    const char *ip, *ie, *q = p;
    size_t count = 0;
    while (next_item(&q, end, &ip, &ie))
        count++;
    if (count == 0) {
        *out = (qs_value){.t = QS_V_NIL};
        return 0;
    }
    if (count > (uint64_t)f->max)
        return qs_err_set(err, QS_EINVAL, "%s (%s): %zu entries, at most %" PRId64, f->name,
                          f->label, count, f->max);
    qs_value v = qs_v_array(count);
    uint32_t n = 0;
    while (next_item(&p, end, &ip, &ie)) {
        uint8_t id[QS_ID_LEN];
        int rc = parse_id(f, digest, ip, ie, id, err);
        if (rc) {
            qs_value_free(&v);
            return rc;
        }
        bool seen = false; /* a repeated entry is the same one: keep the first */
        for (uint32_t i = 0; i < n && !seen; i++)
            seen = memcmp(v.u.a.v[i].u.s.p, id, QS_ID_LEN) == 0;
        if (!seen)
            v.u.a.v[n++] = qs_v_bin(id, QS_ID_LEN);
    }
    v.u.a.n = n; /* the NIL tail past n owns nothing */
    *out = v;
    return 0;
}

int qs_schema_parse(const qs_field *f, const char *text, qs_value *out, qs_err *err)
{
    const char *p = text ? text : "", *end = p + strlen(p);
    trim(&p, &end);
    *out = (qs_value){.t = QS_V_NIL};
    if (p == end)
        return 0;
    switch (f->type) {
    case QS_F_TEXT:
    case QS_F_CODE:
        *out = qs_v_strn(p, (size_t)(end - p));
        return 0;
    case QS_F_INT:
        return parse_int(f, p, end, out, err);
    case QS_F_MONEY:
        return parse_money(f, p, end, out, err);
    case QS_F_DATE: {
        char *t = qs_xstrndup(p, (size_t)(end - p));
        int32_t ymd;
        int rc = qs_date_parse(t, &ymd);
        free(t);
        if (rc)
            return bad(f, err, p, end, "is not a date YYYY-MM-DD");
        *out = qs_v_int(ymd);
        return 0;
    }
    case QS_F_BOOL:
        return parse_bool(f, p, end, out, err);
    case QS_F_ENUM: {
        uint32_t code = 0;
        int rc = parse_enum_one(f, p, end, &code, err);
        if (rc == 0)
            *out = qs_v_int(code);
        return rc;
    }
    case QS_F_ENUMSET:
        return parse_enumset(f, p, end, out, err);
    case QS_F_REF: {
        uint8_t id[QS_ID_LEN];
        int rc = parse_id(f, false, p, end, id, err);
        if (rc == 0)
            *out = qs_v_bin(id, QS_ID_LEN);
        return rc;
    }
    case QS_F_REFLIST:
    case QS_F_DIGESTS:
        return parse_idlist(f, p, end, out, err);
    }
    return qs_err_set(err, QS_EINVAL, "%s (%s): unknown field type", f->name, f->label);
}

static int put(qs_buf *out, const char *s)
{
    return qs_buf_append(out, s, strlen(s));
}

static int format_enum(const qs_field *f, int64_t code, bool labels, qs_buf *out)
{
    const qs_enum_val *v =
        code >= 0 && code <= UINT32_MAX ? qs_enum_by_code(f->en, (uint32_t)code) : NULL;
    if (v)
        return put(out, labels ? v->label : v->name);
    char buf[24]; /* a code this node does not know: the number round-trips */
    snprintf(buf, sizeof buf, "%" PRId64, code);
    return put(out, buf);
}

static int format_value(const qs_field *f, const qs_value *v, bool labels, qs_buf *out)
{
    char buf[48];
    if (v->t == QS_V_NIL)
        return 0;
    switch (f->type) {
    case QS_F_TEXT:
    case QS_F_CODE:
        return v->t == QS_V_STR ? qs_buf_append(out, v->u.s.p, v->u.s.n) : QS_EINVAL;
    case QS_F_INT:
        if (v->t != QS_V_INT)
            return QS_EINVAL;
        snprintf(buf, sizeof buf, "%" PRId64, v->u.i);
        return put(out, buf);
    case QS_F_MONEY:
        if (v->t != QS_V_INT)
            return QS_EINVAL;
        fmt_money(v->u.i, buf, sizeof buf);
        return put(out, buf);
    case QS_F_DATE:
        if (v->t != QS_V_INT || v->u.i < INT32_MIN || v->u.i > INT32_MAX ||
            !qs_date_valid((int32_t)v->u.i))
            return QS_EINVAL;
        return put(out, qs_date_format((int32_t)v->u.i, buf));
    case QS_F_BOOL:
        if (v->t != QS_V_BOOL)
            return QS_EINVAL;
        return put(out, labels ? (v->u.b ? "是" : "否") : (v->u.b ? "true" : "false"));
    case QS_F_ENUM:
        return v->t == QS_V_INT ? format_enum(f, v->u.i, labels, out) : QS_EINVAL;
    case QS_F_REF:
        if (!is_id(v))
            return QS_EINVAL;
        return put(out, qs_uuid_format((const uint8_t *)v->u.s.p, buf));
    case QS_F_ENUMSET:
    case QS_F_REFLIST:
    case QS_F_DIGESTS:
        if (v->t != QS_V_ARRAY)
            return QS_EINVAL;
        for (uint32_t i = 0; i < v->u.a.n; i++) {
            const qs_value *x = &v->u.a.v[i];
            int rc = i ? put(out, ",") : 0;
            if (rc)
                return rc;
            if (f->type == QS_F_ENUMSET)
                rc = x->t == QS_V_INT ? format_enum(f, x->u.i, labels, out) : QS_EINVAL;
            else if (!is_id(x))
                rc = QS_EINVAL;
            else if (f->type == QS_F_REFLIST)
                rc = put(out, qs_uuid_format((const uint8_t *)x->u.s.p, buf));
            else
                rc = put(out, qs_hex((const uint8_t *)x->u.s.p, QS_ID_LEN, buf));
            if (rc)
                return rc;
        }
        return 0;
    }
    return QS_EINVAL;
}

int qs_schema_format(const qs_field *f, const qs_value *v, bool labels, qs_buf *out)
{
    size_t start = out->len;
    int rc = format_value(f, v, labels, out);
    if (rc == 0)
        rc = qs_buf_reserve(out, 1);
    if (rc) {
        out->len = start;
        if (out->cap > start)
            out->data[start] = '\0';
        return rc < 0 ? rc : QS_EINVAL;
    }
    out->data[out->len] = '\0'; /* a C string at data + start; the NUL is not counted */
    return 0;
}
