/* test_scope.c — division codes, prefixes, and the write/visibility rules as tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proto/scope.h"

/* Names for the codes in the tables. */
#define NATION "000000"
#define PROVINCE "630000"
#define PREFECTURE "632300"
#define COUNTY "632322"
#define SIB_COUNTY "632323"
#define TOWNSHIP "632322100"
#define SIB_TOWNSHIP "632322101"
#define OTHER_TOWNSHIP "632323100"
#define OTHER_PROVINCE "620000"

static const char *const invalid_codes[] = {
    "63232",  "6323220",  "63232a",     "600100",    "632322000", "",       "630022",
    "000001", "63232200", "6323221000", "632300100", "630000100", " 63232", "632322 ",
    "-63232", "990000",   "100000",     "002300",    "632322\n",
};

static void test_code_valid_and_level(void **state)
{
    (void)state;
    static const struct {
        const char *code;
        int level;
        const char *prefix;
    } t[] = {
        {NATION, QS_LEVEL_NATION, ""},
        {PROVINCE, QS_LEVEL_PROVINCE, "63"},
        {OTHER_PROVINCE, QS_LEVEL_PROVINCE, "62"},
        {PREFECTURE, QS_LEVEL_PREFECTURE, "6323"},
        {"630100", QS_LEVEL_PREFECTURE, "6301"},
        {COUNTY, QS_LEVEL_COUNTY, "632322"},
        {SIB_COUNTY, QS_LEVEL_COUNTY, "632323"},
        {TOWNSHIP, QS_LEVEL_TOWNSHIP, "632322100"},
        {"632322001", QS_LEVEL_TOWNSHIP, "632322001"},
        {OTHER_TOWNSHIP, QS_LEVEL_TOWNSHIP, "632323100"},
        {"500100", QS_LEVEL_PREFECTURE, "5001"}, /* same shape as 600100, but real */
        {"500101", QS_LEVEL_COUNTY, "500101"},
        {"820000", QS_LEVEL_PROVINCE, "82"},
        {"429004", QS_LEVEL_COUNTY, "429004"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char p[QS_CODE_MAX];
        assert_true(qs_code_valid(t[i].code));
        assert_int_equal(qs_code_level(t[i].code), t[i].level);
        int n = qs_code_prefix(t[i].code, p, sizeof p);
        assert_int_equal(n, (int)strlen(t[i].prefix));
        assert_string_equal(p, t[i].prefix);
    }
    for (size_t i = 0; i < sizeof invalid_codes / sizeof invalid_codes[0]; i++) {
        char p[QS_CODE_MAX];
        const char *c = invalid_codes[i];
        if (qs_code_valid(c))
            fail_msg("code \"%s\" accepted", c);
        assert_int_equal(qs_code_level(c), -1);
        assert_int_equal(qs_code_prefix(c, p, sizeof p), -1);
    }
    assert_false(qs_code_valid(NULL));
    char small[6];
    assert_int_equal(qs_code_prefix(COUNTY, small, sizeof small), -1); /* no room for NUL */
}

/* For each (node, scope): may node write it? does node receive it? */
static const struct rule {
    const char *node, *scope;
    bool write, visible;
} rules[] = {
    /* the county */
    {COUNTY, COUNTY, true, true},
    {COUNTY, TOWNSHIP, true, true},
    {COUNTY, SIB_TOWNSHIP, true, true},
    {COUNTY, PROVINCE, false, true},        /* province reference data flows down */
    {COUNTY, PREFECTURE, false, true},      /* its prefecture's data */
    {COUNTY, NATION, false, true},          /* national data */
    {COUNTY, SIB_COUNTY, false, false},     /* never a sibling's records */
    {COUNTY, OTHER_TOWNSHIP, false, false}, /* nor a sibling's townships */
    {COUNTY, OTHER_PROVINCE, false, false},
    {COUNTY, "620100", false, false},
    /* a sibling county, the other way round */
    {SIB_COUNTY, COUNTY, false, false},
    {SIB_COUNTY, TOWNSHIP, false, false},
    {SIB_COUNTY, OTHER_TOWNSHIP, true, true},
    /* the province */
    {PROVINCE, PROVINCE, true, true},
    {PROVINCE, PREFECTURE, true, true},
    {PROVINCE, COUNTY, true, true},
    {PROVINCE, SIB_COUNTY, true, true},
    {PROVINCE, TOWNSHIP, true, true},
    {PROVINCE, OTHER_TOWNSHIP, true, true},
    {PROVINCE, NATION, false, true},
    {PROVINCE, OTHER_PROVINCE, false, false},
    {PROVINCE, "620100", false, false},
    /* the prefecture */
    {PREFECTURE, COUNTY, true, true},
    {PREFECTURE, SIB_COUNTY, true, true},
    {PREFECTURE, TOWNSHIP, true, true},
    {PREFECTURE, PREFECTURE, true, true},
    {PREFECTURE, PROVINCE, false, true},
    {PREFECTURE, "632500", false, false}, /* sibling prefecture */
    {PREFECTURE, "632522", false, false}, /* a county of the sibling prefecture */
    /* a township station */
    {TOWNSHIP, TOWNSHIP, true, true},
    {TOWNSHIP, COUNTY, false, true},
    {TOWNSHIP, PREFECTURE, false, true},
    {TOWNSHIP, PROVINCE, false, true},
    {TOWNSHIP, NATION, false, true},
    {TOWNSHIP, SIB_TOWNSHIP, false, false},
    {TOWNSHIP, OTHER_TOWNSHIP, false, false},
    {TOWNSHIP, SIB_COUNTY, false, false},
    {SIB_TOWNSHIP, TOWNSHIP, false, false},
    {OTHER_TOWNSHIP, TOWNSHIP, false, false},
    {OTHER_TOWNSHIP, COUNTY, false, false},
    /* the nation */
    {NATION, NATION, true, true},
    {NATION, PROVINCE, true, true},
    {NATION, OTHER_PROVINCE, true, true},
    {NATION, COUNTY, true, true},
    {NATION, TOWNSHIP, true, true},
    /* another province */
    {OTHER_PROVINCE, COUNTY, false, false},
    {OTHER_PROVINCE, PROVINCE, false, false},
    {OTHER_PROVINCE, NATION, false, true},
    {OTHER_PROVINCE, OTHER_PROVINCE, true, true},
    /* shares five leading digits with the county but is a sibling */
    {"632320", COUNTY, false, false},
};

static void test_rules_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const struct rule *r = &rules[i];
        if (qs_scope_can_write(r->node, r->scope) != r->write)
            fail_msg("can_write(%s, %s) should be %d", r->node, r->scope, r->write);
        if (qs_scope_visible(r->node, r->scope) != r->visible)
            fail_msg("visible(%s, %s) should be %d", r->node, r->scope, r->visible);
        /* What a node may write, it also receives. */
        if (r->write)
            assert_true(qs_scope_visible(r->node, r->scope));
    }
}

static void test_invalid_codes_refused(void **state)
{
    (void)state;
    const char *good[] = {NATION, PROVINCE, COUNTY, TOWNSHIP};
    for (size_t i = 0; i < sizeof invalid_codes / sizeof invalid_codes[0]; i++) {
        for (size_t j = 0; j < sizeof good / sizeof good[0]; j++) {
            const char *bad = invalid_codes[i];
            if (qs_scope_can_write(bad, good[j]) || qs_scope_can_write(good[j], bad))
                fail_msg("can_write accepted invalid code \"%s\"", bad);
            if (qs_scope_visible(bad, good[j]) || qs_scope_visible(good[j], bad))
                fail_msg("visible accepted invalid code \"%s\"", bad);
        }
        assert_false(qs_scope_level_ok(invalid_codes[i], QS_LEVEL_NATION, QS_LEVEL_TOWNSHIP));
    }
    assert_false(qs_scope_can_write(NULL, COUNTY));
    assert_false(qs_scope_visible(COUNTY, NULL));
}

/* Reference kinds (county, agency, pairing) live at province level only;
 * county kinds at county or township level. */
static bool may_create(const char *node, const char *scope, qs_level lo, qs_level hi)
{
    return qs_scope_can_write(node, scope) && qs_scope_level_ok(scope, lo, hi);
}

static void test_levels(void **state)
{
    (void)state;
    static const struct {
        const char *node, *scope;
        bool reference_ok, county_kind_ok;
    } t[] = {
        {PROVINCE, PROVINCE, true, false}, /* province writes a pairing */
        {PROVINCE, COUNTY, false, true},   /* province corrects a county record */
        {PROVINCE, TOWNSHIP, false, true},
        {PROVINCE, PREFECTURE, false, false}, /* no kind lives at prefecture level */
        {COUNTY, COUNTY, false, true},        /* a county may not make a pairing... */
        {COUNTY, PROVINCE, false, false},     /* ...at any scope */
        {COUNTY, TOWNSHIP, false, true},
        {COUNTY, SIB_COUNTY, false, false},
        {TOWNSHIP, TOWNSHIP, false, true},
        {TOWNSHIP, COUNTY, false, false},
        {NATION, PROVINCE, true, false},
        {NATION, NATION, false, false},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (may_create(t[i].node, t[i].scope, QS_LEVEL_PROVINCE, QS_LEVEL_PROVINCE) !=
            t[i].reference_ok)
            fail_msg("reference kind: node %s scope %s should be %d", t[i].node, t[i].scope,
                     t[i].reference_ok);
        if (may_create(t[i].node, t[i].scope, QS_LEVEL_COUNTY, QS_LEVEL_TOWNSHIP) !=
            t[i].county_kind_ok)
            fail_msg("county kind: node %s scope %s should be %d", t[i].node, t[i].scope,
                     t[i].county_kind_ok);
    }
    assert_true(qs_scope_level_ok(COUNTY, QS_LEVEL_COUNTY, QS_LEVEL_COUNTY));
    assert_false(qs_scope_level_ok(TOWNSHIP, QS_LEVEL_COUNTY, QS_LEVEL_COUNTY));
    assert_true(qs_scope_level_ok(NATION, QS_LEVEL_NATION, QS_LEVEL_NATION));
}

/* Which certificates a parent takes as children (and a child as its parent). */
static void test_node_is_below(void **state)
{
    (void)state;
    static const struct {
        const char *parent, *child;
        bool below;
    } t[] = {
        {"630000", "632322", true},     /* a county below the province */
        {"630000", "632322100", true},  /* a township, two levels down */
        {"630000", "632300", true},     /* a prefecture */
        {"632322", "632322100", true},  /* a station below its county */
        {"630000", "630000", false},    /* the parent itself */
        {"630000", "000000", false},    /* the nation, above */
        {"630000", "620000", false},    /* another province */
        {"630000", "622322", false},    /* a county of another province */
        {"632322", "632323", false},    /* a sibling county */
        {"632322", "632323100", false}, /* a sibling's township */
        {"632322", "630000", false},    /* a county's parent is not its child */
        {"000000", "630000", true},     /* the national tier */
        {"630000", "6323", false},      /* not a code */
        {"630000", "", false},          {"63000x", "632322", false},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (qs_node_is_below(t[i].parent, t[i].child) != t[i].below)
            fail_msg("is_below(%s, %s) should be %d", t[i].parent, t[i].child, t[i].below);
}

/* The subtree as a text range: every code below is inside, a sibling is not. */
static void test_scope_range(void **state)
{
    (void)state;
    static const struct {
        const char *code, *lo, *hi;
        int n;
    } t[] = {
        {"630000", "63", "64", 2},
        {"632300", "6323", "6324", 4},
        {"632322", "632322", "632323", 6},
        {"632329", "632329", "63232:", 6}, /* ':' sorts after every digit */
        {"632322100", "632322100", "632322101", 9},
        {"000000", "", "", 0}, /* the nation: no bound */
        {"6323", "", "", -1},
        {"abc", "", "", -1},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char lo[QS_CODE_MAX], hi[QS_CODE_MAX];
        int n = qs_scope_range(t[i].code, lo, hi);
        if (n != t[i].n || strcmp(lo, t[i].lo) != 0 || strcmp(hi, t[i].hi) != 0)
            fail_msg("range(%s) = %d [%s, %s)", t[i].code, n, lo, hi);
    }
    char lo[QS_CODE_MAX], hi[QS_CODE_MAX];
    qs_scope_range("632322", lo, hi);
    static const char *const inside[] = {"632322", "632322100", "632322999"};
    static const char *const outside[] = {"632321", "632323", "632323100", "630000"};
    for (size_t i = 0; i < 3; i++)
        assert_true(strcmp(inside[i], lo) >= 0 && strcmp(inside[i], hi) < 0);
    for (size_t i = 0; i < 4; i++)
        assert_false(strcmp(outside[i], lo) >= 0 && strcmp(outside[i], hi) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_code_valid_and_level),  cmocka_unit_test(test_rules_table),
        cmocka_unit_test(test_invalid_codes_refused), cmocka_unit_test(test_levels),
        cmocka_unit_test(test_node_is_below),         cmocka_unit_test(test_scope_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
