#include "proto/scope.h"

#include <string.h>

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static bool pair_zero(const char *s, size_t i)
{
    return s[2 * i] == '0' && s[2 * i + 1] == '0';
}

/* The province-level pairs of GB/T 2260 (unchanged since Chongqing, 1997);
 * 00 is the nation. "600100" is malformed because there is no province 60,
 * while "500100" (Chongqing) has the same shape and is real. */
static bool province_pair_valid(const char *s)
{
    static const char *const provinces[] = {
        "00", "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33",
        "34", "35", "36", "37", "41", "42", "43", "44", "45", "46", "50", "51",
        "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82",
    };
    for (size_t i = 0; i < sizeof provinces / sizeof provinces[0]; i++)
        if (s[0] == provinces[i][0] && s[1] == provinces[i][1])
            return true;
    return false;
}

/* A 6-digit code: a known province pair, 00 pairs only at the end (000000 is
 * the nation). */
static bool six_valid(const char *s)
{
    if (!province_pair_valid(s))
        return false;
    bool seen_zero = false;
    for (size_t i = 0; i < 3; i++) {
        if (pair_zero(s, i))
            seen_zero = true;
        else if (seen_zero)
            return false;
    }
    return true;
}

bool qs_code_valid(const char *s)
{
    if (!s)
        return false;
    size_t n = strnlen(s, 10);
    if ((n != 6 && n != 9) || !all_digits(s, n) || !six_valid(s))
        return false;
    if (n == 9)
        return !pair_zero(s, 2) && memcmp(s + 6, "000", 3) != 0;
    return true;
}

int qs_code_level(const char *s)
{
    if (!qs_code_valid(s))
        return -1;
    if (strlen(s) == 9)
        return QS_LEVEL_TOWNSHIP;
    if (pair_zero(s, 0))
        return QS_LEVEL_NATION;
    if (pair_zero(s, 1))
        return QS_LEVEL_PROVINCE;
    if (pair_zero(s, 2))
        return QS_LEVEL_PREFECTURE;
    return QS_LEVEL_COUNTY;
}

int qs_code_prefix(const char *code, char *out, size_t n)
{
    int level = qs_code_level(code);
    size_t len;
    switch (level) {
    case QS_LEVEL_NATION:
        len = 0;
        break;
    case QS_LEVEL_PROVINCE:
        len = 2;
        break;
    case QS_LEVEL_PREFECTURE:
        len = 4;
        break;
    case QS_LEVEL_COUNTY:
        len = 6;
        break;
    case QS_LEVEL_TOWNSHIP:
        len = 9;
        break;
    default:
        return -1;
    }
    if (n <= len)
        return -1;
    memcpy(out, code, len);
    out[len] = '\0';
    return (int)len;
}

int qs_scope_range(const char *code, char lo[QS_CODE_MAX], char hi[QS_CODE_MAX])
{
    lo[0] = hi[0] = '\0';
    int n = qs_code_prefix(code, lo, QS_CODE_MAX);
    if (n < 0) {
        lo[0] = '\0';
        return -1;
    }
    memcpy(hi, lo, (size_t)n + 1);
    if (n > 0)
        hi[n - 1]++;
    return n;
}

static bool starts_with(const char *s, const char *pre, size_t pre_len)
{
    return strncmp(s, pre, pre_len) == 0;
}

bool qs_scope_can_write(const char *node, const char *scope)
{
    char np[QS_CODE_MAX];
    int nl = qs_code_prefix(node, np, sizeof np);
    if (nl < 0 || !qs_code_valid(scope))
        return false;
    return starts_with(scope, np, (size_t)nl);
}

bool qs_scope_visible(const char *node, const char *scope)
{
    char np[QS_CODE_MAX], sp[QS_CODE_MAX];
    int nl = qs_code_prefix(node, np, sizeof np);
    int sl = qs_code_prefix(scope, sp, sizeof sp);
    if (nl < 0 || sl < 0)
        return false;
    /* An ancestor's data (the scope's prefix leads the node id), or the
     * node's own subtree (the node's prefix leads the scope). */
    return starts_with(node, sp, (size_t)sl) || starts_with(scope, np, (size_t)nl);
}

bool qs_node_is_below(const char *parent, const char *child)
{
    char pp[QS_CODE_MAX], cp[QS_CODE_MAX];
    int pl = qs_code_prefix(parent, pp, sizeof pp);
    int cl = qs_code_prefix(child, cp, sizeof cp);
    if (pl < 0 || cl < 0 || cl <= pl)
        return false;
    return starts_with(child, pp, (size_t)pl);
}

bool qs_scope_level_ok(const char *scope, qs_level min_level, qs_level max_level)
{
    int level = qs_code_level(scope);
    return level >= 0 && level >= (int)min_level && level <= (int)max_level;
}
