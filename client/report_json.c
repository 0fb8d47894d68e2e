/*
 * report_json.c — the annual report as JSON (jansson): every figure with
 * its threshold and verdict; money in fen (integers) and yuan (strings).
 */
#include <string.h>

#include "client/report_out.h"
#include "proto/date.h"
#include "proto/schema.h"
#include "proto/uuid.h"

static json_t *workers(const qs_report_worker *w, uint32_t n)
{
    json_t *a = json_array();
    char buf[16];
    for (uint32_t i = 0; i < n; i++)
        json_array_append_new(
            a, json_pack("{s:s, s:i, s:s?, s:i, s:b, s:I}", "name", w[i].name, "cert_level",
                         w[i].cert_level, "service_since",
                         w[i].service_since ? qs_date_format(w[i].service_since, buf) : NULL,
                         "service_years", w[i].service_years, "qualified", w[i].qualified,
                         "days", (json_int_t)w[i].days));
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

#define JI(x) json_integer((json_int_t)(x))

json_t *report_json(const qs_report *r)
{
    char buf[40];
    json_t *root = json_object(), *prs = json_array(), *set = json_object();
    json_object_set_new(root, "year", json_integer(r->year));
    json_object_set_new(root, "as_of", json_string(qs_date_format(r->as_of, buf)));
    json_object_set_new(root, "node", json_string(r->node));
    json_object_set_new(root, "worker_days_rule",
                        json_string(r->worker_days_rule == QS_DAYS_TOTAL ? "total" : "per_person"));
    json_object_set_new(root, "generated_ms", JI(r->generated_ms));
    for (int k = 0; k < QS_S_COUNT; k++)
        json_object_set_new(set, qs_report_setting_def((qs_setting_id)k)->key, JI(r->settings[k]));
    json_object_set_new(root, "settings", set);
    for (uint32_t i = 0; i < r->npairings; i++) {
        const qs_report_pairing *p = &r->pairings[i];
        json_t *o = json_object(), *cr = json_object();
        qs_uuid_format(p->id, buf);
        json_object_set_new(o, "id", json_string(buf));
        json_object_set_new(o, "county", json_string(p->county));
        json_object_set_new(o, "county_name", json_string(p->county_name));
        json_object_set_new(o, "prefecture", json_string(p->prefecture));
        json_object_set_new(o, "aiding", json_string(p->aiding));
        json_object_set_new(o, "aiding_province", json_string(p->aiding_province));
        json_object_set_new(o, "receiving", json_string(p->receiving));
        json_object_set_new(o, "type", json_string(p->type == 1 ? "cross_province"
                                                   : p->type == 2 ? "in_province"
                                                                  : "unknown"));
        json_object_set_new(o, "years", json_pack("[i, i]", p->start_year, p->end_year));
        json_object_set_new(o, "active", json_boolean(p->active));
        json_object_set_new(o, "provisional", json_boolean(p->provisional));
        json_object_set_new(o, "last_ok_ms", JI(p->last_ok_ms));
        for (int k = 0; k < QS_C_COUNT; k++)
            json_object_set_new(cr, qs_crit_key(k),
                                json_pack("{s:I, s:I, s:s, s:s}", "value",
                                          (json_int_t)p->crit[k].value, "threshold",
                                          (json_int_t)p->crit[k].threshold, "verdict",
                                          qs_verdict_name(p->crit[k].verdict), "label",
                                          qs_crit_label(k)));
        json_object_set_new(o, "criteria", cr);
        json_object_set_new(o, "overall", json_string(qs_verdict_name(p->overall)));
        json_object_set_new(o, "dispatched", workers(p->dispatched, p->ndispatched));
        json_object_set_new(o, "dispatched_qualified", JI(p->dispatched_qualified));
        json_object_set_new(o, "dispatched_days_total", JI(p->dispatched_days_total));
        json_object_set_new(o, "local", workers(p->local, p->nlocal));
        json_object_set_new(o, "local_days_total", JI(p->local_days_total));
        json_t *cats = json_object();
        const qs_field *cf = qs_kind_field_by_name(qs_schema_kind(QS_K_EXPENSE), "category");
        for (uint32_t k = 0; k < QS_REPORT_ENUM_MAX; k++) {
            const qs_enum_val *v = cf ? qs_enum_by_code(cf->en, k) : NULL;
            if (v)
                json_object_set_new(cats, v->name, JI(p->spent_by_category[k]));
        }
        json_object_set_new(
            o, "funds",
            json_pack("{s:I, s:I, s:I, s:I, s:o}", "received_fen", (json_int_t)p->funds_received,
                      "spent_fen", (json_int_t)p->funds_spent, "flagged_fen",
                      (json_int_t)p->spent_flagged, "flagged_count",
                      (json_int_t)p->spent_flagged_count, "spent_by_category_fen", cats));
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
        json_object_set_new(sv, "by_category",
                            counts(p->by_category, QS_K_SERVICE, "categories"));
        json_object_set_new(o, "services", sv);
        json_object_set_new(o, "training",
                            json_pack("{s:I, s:I, s:I, s:I}", "trainings",
                                      (json_int_t)p->trainings, "supervisions",
                                      (json_int_t)p->supervisions, "minutes",
                                      (json_int_t)p->training_minutes, "local_participants",
                                      (json_int_t)p->training_local_participants));
        json_object_set_new(o, "data_quality",
                            json_pack("{s:I, s:I, s:I}", "services_without_workday",
                                      (json_int_t)p->services_without_workday,
                                      "duplicate_person_days",
                                      (json_int_t)p->duplicate_person_days,
                                      "workdays_outside_years",
                                      (json_int_t)p->workdays_outside_years));
        json_array_append_new(prs, o);
    }
    json_object_set_new(root, "pairings", prs);
    json_t *pass = json_object();
    for (int k = 0; k < QS_C_COUNT; k++)
        json_object_set_new(pass, qs_crit_key(k),
                            json_pack("{s:i, s:i, s:i}", "pass", r->pass[k], "fail", r->fail[k],
                                      "no_data", r->nodata[k]));
    json_t *prov = json_pack(
        "{s:i, s:i, s:i, s:i, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
        "counties_configured", r->counties_configured, "counties_covered", r->counties_covered,
        "overall_pass", r->overall_pass, "provisional", r->provisional, "criteria", pass,
        "dispatched_qualified", (json_int_t)r->dispatched_qualified, "dispatched_days",
        (json_int_t)r->dispatched_days, "local_workers", (json_int_t)r->local_workers,
        "local_days", (json_int_t)r->local_days, "funds_received_fen",
        (json_int_t)r->funds_received, "funds_spent_fen", (json_int_t)r->funds_spent,
        "services", (json_int_t)r->services, "service_minutes", (json_int_t)r->service_minutes,
        "people_served", (json_int_t)r->people_served);
    json_object_set_new(root, "province", prov);
    return root;
}
