/*
 * report_json.c — the annual report as JSON (jansson): the criteria table
 * (judge.h) as applied, every figure with its threshold, verdict and note;
 * money in fen (integers).
 */
#include <string.h>

#include "client/report_out.h"
#include "proto/date.h"
#include "proto/schema.h"
#include "proto/uuid.h"

#define JI(x) json_integer((json_int_t)(x))

static json_t *date_or_null(int32_t d)
{
    char buf[16];
    return d > 0 ? json_string(qs_date_format(d, buf)) : json_null();
}

static json_t *workers(const qs_report_worker *w, uint32_t n)
{
    json_t *a = json_array();
    for (uint32_t i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(w[i].name));
        json_object_set_new(o, "cert_level", json_integer(w[i].cert_level));
        json_object_set_new(o, "cert_date", date_or_null(w[i].cert_date));
        json_object_set_new(o, "service_since", date_or_null(w[i].service_since));
        json_object_set_new(o, "first_day", date_or_null(w[i].first_day));
        json_object_set_new(o, "service_years", json_integer(w[i].service_years));
        json_object_set_new(o, "days", JI(w[i].days));
        json_object_set_new(o, "exam_year",
                            w[i].exam_year ? json_integer(w[i].exam_year) : json_null());
        json_object_set_new(o, "cert_ok", json_boolean(w[i].cert_ok));
        json_object_set_new(o, "cert_in_time", json_boolean(w[i].cert_in_time));
        json_object_set_new(o, "years_ok", json_boolean(w[i].years_ok));
        json_object_set_new(o, "credentialed", json_boolean(w[i].credentialed));
        json_object_set_new(o, "days_ok", json_boolean(w[i].days_ok));
        json_object_set_new(o, "counted", json_boolean(w[i].counted));
        json_object_set_new(o, "exam_this_year", json_boolean(w[i].exam_this_year));
        json_object_set_new(o, "certified_this_year", json_boolean(w[i].certified_this_year));
        json_object_set_new(o, "why", json_string(w[i].why));
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *counts(const qs_report_count *arr, uint32_t kind, const char *field)
{
    const qs_field *f = qs_kind_field_by_name(qs_schema_kind(kind), field);
    json_t *o = json_object();
    for (uint32_t k = 0; k < QS_REPORT_ENUM_MAX; k++) {
        if (!arr[k].count)
            continue;
        const qs_enum_val *v = f ? qs_enum_by_code(f->en, k) : NULL;
        json_object_set_new(o, v ? v->name : "unknown",
                            json_pack("{s:I, s:I, s:s}", "count", (json_int_t)arr[k].count,
                                      "minutes", (json_int_t)arr[k].minutes, "label",
                                      v ? v->label : ""));
    }
    return o;
}

/* {name: amount} of an enum-indexed array of fen, every value of the enum. */
static json_t *by_enum(const int64_t *arr, uint32_t kind, const char *field)
{
    const qs_field *f = qs_kind_field_by_name(qs_schema_kind(kind), field);
    json_t *o = json_object();
    for (uint32_t k = 0; f && k < f->en->n; k++) {
        uint32_t code = f->en->vals[k].code;
        if (code < QS_REPORT_ENUM_MAX)
            json_object_set_new(o, f->en->vals[k].name, JI(arr[code]));
    }
    return o;
}

static const char *type_name(int type)
{
    const qs_field *f = qs_kind_field_by_name(qs_schema_kind(QS_K_PAIRING), "type");
    const qs_enum_val *v = f && type >= 0 ? qs_enum_by_code(f->en, (uint32_t)type) : NULL;
    return v ? v->name : "unknown";
}

/* The criteria table as this report applied it. */
static json_t *criteria_table(const qs_report *r)
{
    json_t *a = json_array();
    for (int k = 0; k < QS_C_COUNT; k++) {
        const qs_crit_def *d = qs_crit_def_of((qs_crit)k);
        bool total = r->worker_days_rule == QS_DAYS_TOTAL && d->counted_total;
        int sid = d->setting;
        if (total && k == QS_C_DISPATCHED_DAYS)
            sid = QS_S_DISPATCHED_MIN_DAYS;
        else if (total && k == QS_C_LOCAL_DAYS)
            sid = QS_S_LOCAL_MIN_DAYS;
        json_t *rules = json_object();
        for (int v = 0; v < QS_VERDICT_COUNT; v++)
            if (d->rule[v])
                json_object_set_new(rules, qs_verdict_name((qs_verdict)v), json_string(d->rule[v]));
        json_t *o = json_pack(
            "{s:s, s:s, s:s, s:s, s:o, s:o, s:b, s:o}", "key", d->key, "label", d->label, "plan",
            d->plan, "counted", total ? d->counted_total : d->counted, "setting",
            sid >= 0 ? json_string(qs_report_setting_def(sid)->key) : json_null(), "threshold",
            sid >= 0 ? JI(r->settings[sid]) : json_null(), "money", d->money, "rules", rules);
        json_array_append_new(a, o);
    }
    return a;
}

json_t *report_json(const qs_report *r)
{
    char buf[64];
    json_t *root = json_object(), *prs = json_array(), *set = json_object();
    json_object_set_new(root, "year", json_integer(r->year));
    json_object_set_new(root, "as_of", json_string(qs_date_format(r->as_of, buf)));
    json_object_set_new(root, "period",
                        json_pack("{s:o, s:o}", "from", date_or_null(r->period_from), "to",
                                  date_or_null(r->period_to)));
    json_object_set_new(root, "year_open", json_boolean(r->year_open));
    json_object_set_new(root, "recipients",
                        json_pack("[s, s]", qs_report_recipients[0], qs_report_recipients[1]));
    json_object_set_new(root, "reporting_unit", json_string(qs_report_unit(r, buf, sizeof buf)));
    json_object_set_new(root, "node", json_string(r->node));
    json_object_set_new(root, "county_filter", r->filter[0] ? json_string(r->filter) : json_null());
    json_object_set_new(root, "worker_days_rule",
                        json_string(r->worker_days_rule == QS_DAYS_TOTAL ? "total" : "per_person"));
    json_object_set_new(root, "generated_ms", JI(r->generated_ms));
    for (int k = 0; k < QS_S_COUNT; k++)
        json_object_set_new(set, qs_report_setting_def((qs_setting_id)k)->key, JI(r->settings[k]));
    json_object_set_new(root, "settings", set);
    json_object_set_new(root, "criteria", criteria_table(r));
    for (uint32_t i = 0; i < r->npairings; i++) {
        const qs_report_pairing *p = &r->pairings[i];
        json_t *o = json_object(), *cr = json_object();
        qs_uuid_format(p->id, buf);
        json_object_set_new(o, "id", json_string(buf));
        json_object_set_new(o, "county", json_string(p->county));
        json_object_set_new(o, "county_name", json_string(p->county_name));
        json_object_set_new(o, "county_known", json_boolean(p->county_known));
        json_object_set_new(o, "prefecture", json_string(p->prefecture));
        json_object_set_new(o, "aiding", json_string(p->aiding));
        json_object_set_new(o, "aiding_province", json_string(p->aiding_province));
        json_object_set_new(o, "receiving", json_string(p->receiving));
        json_object_set_new(o, "type", json_string(type_name(p->type_derived)));
        json_object_set_new(o, "type_recorded", json_string(type_name(p->type)));
        json_object_set_new(o, "years", json_pack("[i, i]", p->start_year, p->end_year));
        json_object_set_new(o, "active", json_boolean(p->active));
        json_object_set_new(o, "provisional", json_boolean(p->provisional));
        json_object_set_new(o, "last_ok_ms", JI(p->last_ok_ms));
        for (int k = 0; k < QS_C_COUNT; k++) {
            const qs_criterion *c = &p->crit[k];
            json_object_set_new(
                cr, qs_crit_key(k),
                json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:b}", "value", (json_int_t)c->value,
                          "threshold", (json_int_t)c->threshold, "unit", c->unit ? c->unit : "",
                          "verdict", qs_verdict_name(c->verdict), "label", qs_crit_label(k), "note",
                          c->note, "period_pending", c->period_pending));
        }
        json_object_set_new(o, "criteria", cr);
        json_object_set_new(o, "overall", json_string(qs_verdict_name(p->overall)));
        json_object_set_new(
            o, "structure",
            json_pack("{s:s, s:s, s:s, s:b, s:b, s:I, s:I, s:s, s:b, s:I}", "aiding_province",
                      p->aiding_province, "type_recorded", type_name(p->type), "type_derived",
                      type_name(p->type_derived), "type_from_province", p->type_from_province,
                      "type_mismatch", p->type_mismatch, "other_pairings_aiding",
                      (json_int_t)p->other_pairings_aiding, "other_pairings_county",
                      (json_int_t)p->other_pairings_county, "receiving_county", p->receiving_county,
                      "receiving_elsewhere", p->receiving_elsewhere, "shared_person_days",
                      (json_int_t)p->shared_person_days));
        json_object_set_new(o, "dispatched", workers(p->dispatched, p->ndispatched));
        json_object_set_new(o, "dispatched_credentialed", JI(p->dispatched_credentialed));
        json_object_set_new(o, "dispatched_counted", JI(p->dispatched_counted));
        json_object_set_new(o, "dispatched_days_total", JI(p->dispatched_days_total));
        json_object_set_new(o, "local", workers(p->local, p->nlocal));
        json_object_set_new(o, "local_counted", JI(p->local_counted));
        json_object_set_new(o, "local_days_total", JI(p->local_days_total));
        json_object_set_new(o, "local_exam_takers", JI(p->local_exam_takers));
        json_object_set_new(o, "local_certified", JI(p->local_certified));
        json_object_set_new(
            o, "funds",
            json_pack("{s:I, s:I, s:I, s:o, s:I, s:I, s:I, s:o}", "received_fen",
                      (json_int_t)p->funds_received, "counted_fen", (json_int_t)p->funds_counted,
                      "self_raised_fen", (json_int_t)p->funds_self, "received_by_source_fen",
                      by_enum(p->received_by_source, QS_K_EXPENSE, "source"), "spent_fen",
                      (json_int_t)p->funds_spent, "flagged_fen", (json_int_t)p->spent_flagged,
                      "flagged_count", (json_int_t)p->spent_flagged_count, "spent_by_category_fen",
                      by_enum(p->spent_by_category, QS_K_EXPENSE, "category")));
        json_object_set_new(
            o, "outputs",
            json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "cultivated", (json_int_t)p->cultivated,
                      "documents", (json_int_t)p->documents, "brands", (json_int_t)p->brands,
                      "stations", (json_int_t)p->stations, "townships_covered",
                      (json_int_t)p->townships_covered, "townships", (json_int_t)p->townships));
        json_t *sv = json_pack(
            "{s:I, s:I, s:I, s:s, s:I, s:I, s:I, s:I, s:I}", "count", (json_int_t)p->services,
            "minutes", (json_int_t)p->service_minutes, "people_served",
            (json_int_t)p->people_served, "people_basis", p->people_basis, "people_pseudonyms",
            (json_int_t)p->people_pseudonyms, "people_headcount", (json_int_t)p->people_headcount,
            "reach_assistance", (json_int_t)p->reach_assistance, "reach_elderly",
            (json_int_t)p->reach_elderly, "reach_minors", (json_int_t)p->reach_minors);
        json_object_set_new(sv, "by_type", counts(p->by_type, QS_K_SERVICE, "service_type"));
        json_object_set_new(sv, "by_domain", counts(p->by_domain, QS_K_SERVICE, "domain"));
        json_object_set_new(sv, "by_category", counts(p->by_category, QS_K_SERVICE, "categories"));
        json_object_set_new(o, "services", sv);
        json_object_set_new(
            o, "training",
            json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "trainings", (json_int_t)p->trainings,
                      "supervisions", (json_int_t)p->supervisions, "guidance",
                      (json_int_t)p->guidance, "minutes", (json_int_t)p->training_minutes,
                      "local_participants", (json_int_t)p->training_local_participants,
                      "local_exam_takers", (json_int_t)p->local_exam_takers));
        json_object_set_new(o, "data_quality",
                            json_pack("{s:I, s:I, s:I, s:I}", "services_without_workday",
                                      (json_int_t)p->services_without_workday,
                                      "duplicate_person_days", (json_int_t)p->duplicate_person_days,
                                      "workdays_outside_years",
                                      (json_int_t)p->workdays_outside_years, "shared_person_days",
                                      (json_int_t)p->shared_person_days));
        json_array_append_new(prs, o);
    }
    json_object_set_new(root, "pairings", prs);

    json_t *crits = json_object();
    for (int k = 0; k < QS_C_COUNT; k++) {
        json_t *v = json_object();
        for (int x = 0; x < QS_VERDICT_COUNT; x++)
            json_object_set_new(v, qs_verdict_name((qs_verdict)x), JI(r->verdicts[k][x]));
        json_object_set_new(crits, qs_crit_key(k), v);
    }
    json_t *overall = json_object();
    for (int x = 0; x < QS_VERDICT_COUNT; x++)
        json_object_set_new(overall, qs_verdict_name((qs_verdict)x), JI(r->overall[x]));
    json_t *unc = json_array();
    for (uint32_t c = 0; c < r->ncounties; c++)
        if (!r->counties[c].covered)
            json_array_append_new(unc, json_pack("{s:s, s:s}", "code", r->counties[c].code, "name",
                                                 r->counties[c].name));
    json_t *prov = json_object();
    json_object_set_new(prov, "coverage",
                        json_pack("{s:i, s:i, s:o}", "counties_configured", r->counties_configured,
                                  "counties_covered", r->counties_covered, "uncovered", unc));
    json_object_set_new(
        prov, "structure",
        json_pack("{s:i, s:i, s:i, s:I, s:I, s:s}", "cross_province", r->split_cross, "in_province",
                  r->split_in, "unknown", r->split_unknown, "plan_cross_province",
                  (json_int_t)r->settings[QS_S_PLAN_CROSS_PROVINCE], "plan_in_province",
                  (json_int_t)r->settings[QS_S_PLAN_IN_PROVINCE], "verdict",
                  qs_verdict_name(r->split_verdict)));
    json_object_set_new(prov, "active", JI(r->active));
    json_object_set_new(prov, "provisional", JI(r->provisional));
    json_object_set_new(prov, "criteria", crits);
    json_object_set_new(prov, "overall", overall);
    json_object_set_new(
        prov, "totals",
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
                  "s:I, s:I, s:I, s:I}",
                  "dispatched_credentialed", (json_int_t)r->dispatched_credentialed,
                  "dispatched_counted", (json_int_t)r->dispatched_counted, "dispatched_days",
                  (json_int_t)r->dispatched_days, "local_workers", (json_int_t)r->local_workers,
                  "local_counted", (json_int_t)r->local_counted, "local_days",
                  (json_int_t)r->local_days, "local_exam_takers", (json_int_t)r->local_exam_takers,
                  "funds_received_fen", (json_int_t)r->funds_received, "funds_counted_fen",
                  (json_int_t)r->funds_counted, "funds_self_raised_fen", (json_int_t)r->funds_self,
                  "funds_spent_fen", (json_int_t)r->funds_spent, "spent_flagged_fen",
                  (json_int_t)r->spent_flagged, "services", (json_int_t)r->services,
                  "service_minutes", (json_int_t)r->service_minutes, "people_served",
                  (json_int_t)r->people_served, "trainings", (json_int_t)r->trainings,
                  "supervisions", (json_int_t)r->supervisions, "guidance", (json_int_t)r->guidance,
                  "shared_person_days", (json_int_t)r->shared_person_days));
    json_object_set_new(root, "province", prov);

    static char lines[QS_ASSESS_MAX][QS_ASSESS_LINE];
    size_t nl = qs_report_assess(r, lines, QS_ASSESS_MAX);
    json_t *as = json_array();
    for (size_t i = 0; i < nl; i++)
        json_array_append_new(as, json_string(lines[i]));
    json_object_set_new(root, "assessment", as);
    json_object_set_new(root, "narrative", r->narrative ? json_string(r->narrative) : json_null());
    return root;
}
