/*
 * date.h — calendar dates as integers YYYYMMDD (20240301), the form dates take
 * in bodies, in typed columns and in reports. Proleptic Gregorian, years
 * 1900..2199.
 */
#ifndef QS_DATE_H
#define QS_DATE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

bool qs_date_valid(int32_t ymd);
/* "YYYY-MM-DD" (also "YYYY/MM/DD" and "YYYY.MM.DD", and "YYYY-M-D"), nothing else.
 * 0 or QS_EINVAL. */
int qs_date_parse(const char *s, int32_t *ymd);
/* "YYYY-MM-DD" into buf (>= 11 bytes). Returns buf. */
char *qs_date_format(int32_t ymd, char *buf);
/* Days since 1970-01-01 and back. */
int32_t qs_date_to_days(int32_t ymd);
int32_t qs_date_from_days(int32_t days);
/* The UTC date of a unix time. */
int32_t qs_date_from_time(time_t t);
/* Whole years from `from` to `to` (the anniversary rule: 2022-03-01 ->
 * 2024-02-29 is 1 year, -> 2024-03-01 is 2). Negative if to < from. */
int qs_date_years_between(int32_t from, int32_t to);

#endif
