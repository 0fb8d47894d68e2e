/*
 * judge.h — the annual report's verdicts: one table of criteria and the pure
 * code that applies it. No store, no SQL, no I/O: it reads the measured
 * fields of a qs_report (report.h) and the settings in force, and writes the
 * judged fields. Every output format (table, CSV, XLSX, HTML, JSON) reads the
 * verdicts, labels, the plan's words and the rules from here, so they cannot
 * disagree; a second store backend measures its own way and calls
 * qs_report_judge unchanged.
 *
 * The rules, in short (client/REPORTS.md has them beside the plan's words):
 * - a person counts when they meet ALL their conditions; the others are
 *   listed with the reasons and never fail a pairing by themselves;
 * - qualifications are measured at the person's first working day on the
 *   pairing in the year (the year's dispatch): the certificate dated on or
 *   before it, the years of direct service counted to it;
 * - the year is the year; before it ends, a figure below its threshold is
 *   in progress (进行中), not fail;
 * - the cultivated agency is due over the pairing's period: in progress
 *   before its final year;
 * - funds: the money provided from the counted sources (a setting; public
 *   funds by default, 自筹 shown apart), in-province pairings only, the type
 *   derived from the aiding agency's province;
 * - structure: one aiding agency and one county per pairing per year, the
 *   receiving agency in the pairing's county.
 */
#ifndef QS_JUDGE_H
#define QS_JUDGE_H

#include <stddef.h>

#include "store/report.h"

typedef struct qs_crit_def {
    qs_crit id;
    const char *key;           /* "dispatched_days" */
    const char *label;         /* "援派工作日" */
    const char *plan;          /* the plan's requirement, in its words (方案要求) */
    const char *counted;       /* what the value counts (计数口径) */
    const char *counted_total; /* the same under the total days rule, or NULL */
    int setting;               /* the setting holding the threshold (qs_setting_id), -1 none */
    bool money;                /* value and threshold in fen */
    const char *rule[QS_VERDICT_COUNT]; /* when each verdict is given; NULL: never */
} qs_crit_def;

/* The table, indexed by qs_crit. */
const qs_crit_def *qs_crit_def_of(qs_crit c);

/* Fill every judged field of r from its measured fields and r->settings
 * (year, as_of, period_to, generated_ms, node and filter must be set).
 * Idempotent: judging again gives the same. */
void qs_report_judge(qs_report *r);

/* The short name of the province holding a division code ("青海" for 63…),
 * or NULL for an unknown pair. */
const char *qs_province_name(const char *code);

/* The automatic part of 总结与评估: sentences about r (Chinese), one per
 * line, each NUL-terminated in lines[i]. Returns the number written (at most
 * max). */
#define QS_ASSESS_LINE 2048
#define QS_ASSESS_MAX 96 /* enough for a line per pairing of 64 counties and the rest */
size_t qs_report_assess(const qs_report *r, char (*lines)[QS_ASSESS_LINE], size_t max);

/* The two recipients, and the reporting unit for r's node ("青海省民政厅"
 * for a province, else "数据节点 <code>"), into buf. */
extern const char *const qs_report_recipients[2];
const char *qs_report_unit(const qs_report *r, char *buf, size_t n);

#endif
