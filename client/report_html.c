/*
 * report_html.c — the annual report as one self-contained HTML file: inline
 * CSS (A4 landscape when printed), two inline SVG charts (working days
 * against the threshold per county; the counties × criteria matrix), then
 * every section as a table. No scripts, no external resources.
 */
#include <stdlib.h>
#include <string.h>

#include "client/report_out.h"

static void esc(FILE *fp, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", fp);
            break;
        case '>':
            fputs("&gt;", fp);
            break;
        case '&':
            fputs("&amp;", fp);
            break;
        case '"':
            fputs("&quot;", fp);
            break;
        default:
            fputc(*s, fp);
        }
    }
}

static const char *vclass(qs_verdict v)
{
    switch (v) {
    case QS_VERDICT_PASS:
        return "pass";
    case QS_VERDICT_FAIL:
        return "fail";
    case QS_VERDICT_NODATA:
        return "nodata";
    case QS_VERDICT_PENDING:
        return "pending";
    default:
        return "na";
    }
}

static const char *vfill(qs_verdict v)
{
    switch (v) {
    case QS_VERDICT_PASS:
        return "#2e7d32";
    case QS_VERDICT_FAIL:
        return "#c62828";
    case QS_VERDICT_NODATA:
        return "#f9a825";
    case QS_VERDICT_PENDING:
        return "#1565c0";
    default:
        return "#9e9e9e";
    }
}

static const char CSS[] =
    "@page{size:A4 landscape;margin:12mm}"
    "body{font-family:'Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei',sans-serif;"
    "font-size:10pt;color:#222;margin:0 auto;max-width:270mm}"
    "h1{font-size:16pt;margin:0 0 2mm}h2{font-size:12pt;margin:6mm 0 2mm;"
    "border-bottom:1px solid #999}p.sub{color:#555;margin:0 0 4mm}"
    "table{border-collapse:collapse;width:100%;font-size:8.5pt;margin-bottom:3mm}"
    "th,td{border:1px solid #bbb;padding:1mm 1.5mm;text-align:left;vertical-align:top}"
    "th{background:#e8edf3}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "td.pass{background:#e6f4ea;color:#1b5e20}td.fail{background:#fde7e9;color:#b71c1c;"
    "font-weight:bold}td.nodata{background:#fff4d6}td.pending{background:#e3f2fd;color:#0d47a1}"
    "td.na{color:#888}p.open{border:2px solid #1565c0;padding:2mm 3mm;font-weight:bold}"
    "td.text{white-space:pre-wrap}"
    "section{page-break-inside:auto}tr{page-break-inside:avoid}"
    "svg{display:block;margin:2mm 0 4mm;max-width:100%;height:auto}"
    ".kpi{display:flex;gap:4mm;margin:2mm 0 4mm}.kpi div{border:1px solid #bbb;"
    "padding:2mm 4mm}.kpi b{font-size:14pt;display:block}"
    "@media print{h2{page-break-after:avoid}.chart{page-break-inside:avoid}}";

/* The days that decide criterion k of p: per person, those of the
 * min_workers-th best counted worker; total, the sum. */
static int64_t decisive(const qs_report_pairing *p, qs_crit k)
{
    return k == QS_C_DISPATCHED_DAYS ? p->dispatched_decisive_days : p->local_decisive_days;
}

/* Horizontal bars: per county the days that decide criterion k against the
 * days threshold thr (a dashed line), coloured by k's verdict. */
static void days_chart(FILE *fp, const qs_report *r, qs_crit k, int64_t thr, const char *title)
{
    const int row = 18, left = 120, width = 560, top = 24;
    int64_t max = thr > 1 ? thr : 1;
    for (uint32_t i = 0; i < r->npairings; i++)
        if (decisive(&r->pairings[i], k) > max)
            max = decisive(&r->pairings[i], k);
    max += max / 10;
    int h = top + row * (int)r->npairings + 24;
    fprintf(fp,
            "<div class=\"chart\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"760\" "
            "height=\"%d\" viewBox=\"0 0 760 %d\" role=\"img\" aria-label=\"",
            h, h);
    esc(fp, title);
    fputs("\"><text x=\"0\" y=\"14\" font-size=\"12\" font-weight=\"bold\">", fp);
    esc(fp, title);
    fputs("</text>", fp);
    for (uint32_t i = 0; i < r->npairings; i++) {
        const qs_report_pairing *p = &r->pairings[i];
        const qs_criterion *c = &p->crit[k];
        int64_t value = decisive(p, k);
        int y = top + row * (int)i;
        int w = (int)((double)value / (double)max * width);
        fprintf(fp, "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"end\">", left - 6,
                y + 12);
        esc(fp, p->county_name[0] ? p->county_name : p->county);
        fprintf(fp,
                "</text><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>"
                "<text x=\"%d\" y=\"%d\" font-size=\"9\">%lld</text>",
                left, y + 2, w, row - 5, vfill(c->verdict), left + w + 4, y + 12, (long long)value);
    }
    int tx = left + (int)((double)thr / (double)max * width);
    fprintf(fp,
            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\" "
            "stroke-dasharray=\"4 3\"/><text x=\"%d\" y=\"%d\" font-size=\"9\">标准 %lld</text>"
            "</svg></div>\n",
            tx, top - 4, tx, top + row * (int)r->npairings, tx + 3, h - 6, (long long)thr);
}

static void matrix_chart(FILE *fp, const qs_report *r)
{
    const int cw = 66, rh = 18, left = 120, top = 40;
    int cols = QS_C_COUNT + 1;
    int w = left + cw * cols + 10, h = top + rh * (int)r->npairings + 10;
    fprintf(fp,
            "<div class=\"chart\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
            "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"各县达标矩阵\">"
            "<text x=\"0\" y=\"14\" font-size=\"12\" font-weight=\"bold\">各县 × 指标达标矩阵"
            "</text>",
            w, h, w, h);
    for (int k = 0; k < cols; k++)
        fprintf(fp, "<text x=\"%d\" y=\"%d\" font-size=\"9\" text-anchor=\"middle\">%s</text>",
                left + cw * k + cw / 2, top - 6, k < QS_C_COUNT ? qs_crit_label(k) : "综合");
    for (uint32_t i = 0; i < r->npairings; i++) {
        const qs_report_pairing *p = &r->pairings[i];
        int y = top + rh * (int)i;
        fprintf(fp, "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"end\">", left - 6,
                y + 13);
        esc(fp, p->county_name[0] ? p->county_name : p->county);
        if (p->provisional)
            fputs("*", fp);
        fputs("</text>", fp);
        for (int k = 0; k < cols; k++) {
            qs_verdict v = k < QS_C_COUNT ? p->crit[k].verdict : p->overall;
            fprintf(fp,
                    "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>"
                    "<text x=\"%d\" y=\"%d\" font-size=\"9\" fill=\"#fff\" "
                    "text-anchor=\"middle\">%s</text>",
                    left + cw * k + 1, y + 1, cw - 2, rh - 2, vfill(v), left + cw * k + cw / 2,
                    y + 13, qs_verdict_label(v));
        }
    }
    fputs("</svg></div>\n", fp);
}

int report_write_html(const qs_report *r, const rbook *b, FILE *fp)
{
    fputs("<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>", fp);
    esc(fp, b->title);
    fprintf(fp, "</title><style>%s</style></head><body>\n<h1>", CSS);
    esc(fp, b->title);
    fputs("</h1>\n", fp);
    for (size_t i = 0; i < b->nlines; i++) {
        fputs(i == 0 && r->year_open ? "<p class=\"open\">" : "<p class=\"sub\">", fp);
        esc(fp, b->lines[i]);
        fputs("</p>\n", fp);
    }
    fprintf(fp,
            "<div class=\"kpi\"><div>结对覆盖<b>%u/%u</b></div><div>综合达标<b>%u/%u</b>"
            "</div><div>未达标<b>%u</b></div><div>进行中<b>%u</b></div>"
            "<div>服务次数<b>%lld</b></div><div>服务人数<b>%lld</b></div>"
            "<div>数据为临时<b>%u</b></div></div>\n",
            r->counties_covered, r->counties_configured, r->overall[QS_VERDICT_PASS], r->active,
            r->overall[QS_VERDICT_FAIL], r->overall[QS_VERDICT_PENDING], (long long)r->services,
            (long long)r->people_served, r->provisional);
    matrix_chart(fp, r);
    bool total = r->worker_days_rule == QS_DAYS_TOTAL;
    char title[256];
    if (total)
        snprintf(title, sizeof title, "援派持证社工工作日（合计）与标准 %lld 天",
                 (long long)r->settings[QS_S_DISPATCHED_MIN_DAYS]);
    else
        snprintf(title, sizeof title, "援派持证社工工作日（每县第 %lld 多者）与每人 %lld 天",
                 (long long)r->settings[QS_S_DISPATCHED_MIN_WORKERS],
                 (long long)r->settings[QS_S_DISPATCHED_MIN_DAYS]);
    days_chart(fp, r, QS_C_DISPATCHED_DAYS, r->settings[QS_S_DISPATCHED_MIN_DAYS], title);
    if (total)
        snprintf(title, sizeof title, "本地社工工作日（合计）与标准 %lld 天",
                 (long long)r->settings[QS_S_LOCAL_MIN_DAYS]);
    else
        snprintf(title, sizeof title, "本地社工工作日（每县第 %lld 多者）与每人 %lld 天",
                 (long long)r->settings[QS_S_LOCAL_MIN_WORKERS],
                 (long long)r->settings[QS_S_LOCAL_MIN_DAYS]);
    days_chart(fp, r, QS_C_LOCAL_DAYS, r->settings[QS_S_LOCAL_MIN_DAYS], title);
    if (r->provisional)
        fputs("<p>* 该县最近一次成功同步早于时限，数据为临时。</p>\n", fp);
    for (size_t i = 0; i < b->n; i++) {
        const rsheet *s = &b->sheets[i];
        fprintf(fp, "<section id=\"%s\"><h2>", s->key);
        esc(fp, s->name);
        fputs("</h2><table><thead><tr>", fp);
        for (size_t k = 0; k < s->ncols; k++) {
            fputs("<th>", fp);
            esc(fp, s->head[k]);
            fputs("</th>", fp);
        }
        fputs("</tr></thead><tbody>\n", fp);
        for (size_t rr = 0; rr < s->nrows; rr++) {
            fputs("<tr>", fp);
            for (size_t k = 0; k < s->ncols; k++) {
                const rcell *c = &s->cells[rr * s->ncols + k];
                char *t = rcell_text(c);
                const char *cls = c->t == RC_VERDICT ? vclass(c->v)
                                  : c->t == RC_TEXT
                                      ? (strcmp(s->key, "assessment") == 0 ? "text" : "")
                                      : "n";
                fprintf(fp, "<td%s%s%s>", *cls ? " class=\"" : "", cls, *cls ? "\"" : "");
                esc(fp, t);
                fputs("</td>", fp);
                free(t);
            }
            fputs("</tr>\n", fp);
        }
        fputs("</tbody></table></section>\n", fp);
    }
    fputs("</body></html>\n", fp);
    return ferror(fp) ? QS_EIO : 0;
}
