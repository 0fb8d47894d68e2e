#include "proto/date.h"

#include <stdio.h>

#include "proto/err.h"

#define YEAR_MIN 1900
#define YEAR_MAX 2199

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : dim[m - 1];
}

bool qs_date_valid(int32_t ymd)
{
    int y = ymd / 10000, m = ymd / 100 % 100, d = ymd % 100;
    if (ymd < 0 || y < YEAR_MIN || y > YEAR_MAX || m < 1 || m > 12)
        return false;
    return d >= 1 && d <= days_in_month(y, m);
}

/* Reads 1..maxd ASCII digits at *s; advances *s. -1 if there are none. */
static int digits(const char **s, int mind, int maxd)
{
    int v = 0, n = 0;
    while (n < maxd && **s >= '0' && **s <= '9') {
        v = v * 10 + (**s - '0');
        (*s)++;
        n++;
    }
    return n >= mind ? v : -1;
}

int qs_date_parse(const char *s, int32_t *ymd)
{
    if (!s)
        return QS_EINVAL;
    int y = digits(&s, 4, 4);
    char sep = *s;
    if (y < 0 || (sep != '-' && sep != '/' && sep != '.'))
        return QS_EINVAL;
    s++;
    int m = digits(&s, 1, 2);
    if (m < 0 || *s != sep)
        return QS_EINVAL;
    s++;
    int d = digits(&s, 1, 2);
    if (d < 0 || *s != '\0')
        return QS_EINVAL;
    int32_t v = y * 10000 + m * 100 + d;
    if (!qs_date_valid(v))
        return QS_EINVAL;
    *ymd = v;
    return 0;
}

char *qs_date_format(int32_t ymd, char *buf)
{
    /* Out-of-range input still yields 10 characters' worth of digits at most. */
    unsigned v = ymd < 0 ? 0u : (unsigned)ymd % 100000000u;
    snprintf(buf, 11, "%04u-%02u-%02u", v / 10000, v / 100 % 100, v % 100);
    return buf;
}

/* Leap days in years 1..y-1 (proleptic Gregorian; y >= 1). */
static int64_t leaps_before(int64_t y)
{
    y--;
    return y / 4 - y / 100 + y / 400;
}

/* Day of the year (0-based) of month m day d. */
static int day_of_year(int y, int m, int d)
{
    static const int before[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    return before[m - 1] + (m > 2 && leap(y)) + d - 1;
}

static int64_t jan1(int64_t y)
{
    return (y - 1970) * 365 + leaps_before(y) - leaps_before(1970);
}

/* Dates outside 0001..9999 are not meaningful; callers pass valid dates. */
int32_t qs_date_to_days(int32_t ymd)
{
    int y = ymd / 10000, m = ymd / 100 % 100, d = ymd % 100;
    if (y < 1 || m < 1 || m > 12)
        return 0;
    return (int32_t)(jan1(y) + day_of_year(y, m, d));
}

int32_t qs_date_from_days(int32_t days)
{
    /* Estimate the year, then correct by whole years: at most one step off. */
    int64_t y = 1970 + (int64_t)days * 400 / 146097;
    while (y > 1 && jan1(y) > days)
        y--;
    while (jan1(y + 1) <= days)
        y++;
    int rest = (int)(days - jan1(y));
    int m = 1;
    while (m < 12 && rest >= days_in_month((int)y, m)) {
        rest -= days_in_month((int)y, m);
        m++;
    }
    return (int32_t)(y * 10000 + m * 100 + rest + 1);
}

int32_t qs_date_from_time(time_t t)
{
    int64_t s = (int64_t)t;
    int64_t days = s / 86400 - (s % 86400 < 0);
    return qs_date_from_days((int32_t)days);
}

int qs_date_years_between(int32_t from, int32_t to)
{
    /* The anniversary of from in year Y is month-day (from % 10000) of Y; a
     * 02-29 anniversary in a common year falls on 03-01. Comparing month-day
     * numbers does exactly that, and goes negative for to < from. */
    int years = to / 10000 - from / 10000;
    if (to % 10000 < from % 10000)
        years--;
    return years;
}
