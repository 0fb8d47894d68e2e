/*
 * report_xlsx.c — the annual report as an .xlsx workbook (libxlsxwriter):
 * one worksheet per section, headers bold and frozen, numbers as numbers
 * (money in yuan with two decimals), verdict cells green or red.
 *
 * The library is loaded here, when a workbook is asked for (QS_XLSX_SONAME,
 * the file the build found): linked, it and what it brings (libcrypto,
 * minizip, zlib) would be loaded by every `qianshou` run.
 */
#include <string.h>

#include "client/report_out.h"

#ifndef QS_HAVE_XLSX
int report_write_xlsx(const rbook *b, const char *path, qs_err *err)
{
    return qs_err_set(err, QS_ESCHEMA,
                      "this qianshou was built without libxlsxwriter: use --format csv");
}
#else
#include <dlfcn.h>
#include <xlsxwriter.h>

/* Every function used below, called through lx (lx.workbook_new, …). */
/* clang-format off */
#define XLSX_FUNCS(X) \
    X(workbook_new) \
    X(workbook_add_format) \
    X(workbook_add_worksheet) \
    X(workbook_close) \
    X(format_set_bold) \
    X(format_set_bg_color) \
    X(format_set_border) \
    X(format_set_text_wrap) \
    X(format_set_num_format) \
    X(format_set_font_color) \
    X(format_set_font_size) \
    X(worksheet_write_string) \
    X(worksheet_write_number) \
    X(worksheet_set_column) \
    X(worksheet_freeze_panes) \
    X(worksheet_set_landscape) \
    X(worksheet_set_paper) \
    X(worksheet_fit_to_pages) \
    X(lxw_strerror)
/* clang-format on */

static struct {
#define X(f) __typeof__(f) *f;
    XLSX_FUNCS(X)
#undef X
} lx;

/* Loads the library once per process; the handle is never closed. */
static int load_xlsx(qs_err *err)
{
    static void *lib;
    if (lib)
        return 0;
    void *h = dlopen(QS_XLSX_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return qs_err_set(err, QS_ESCHEMA,
                          "--format xlsx needs %s (Debian package %s): %s; "
                          "--format csv needs nothing",
                          QS_XLSX_SONAME, QS_XLSX_PACKAGE, dlerror());
#define X(f)                                                                                       \
    {                                                                                              \
        void *sym = dlsym(h, #f);                                                                  \
        if (!sym) {                                                                                \
            dlclose(h);                                                                            \
            return qs_err_set(err, QS_ESCHEMA, "%s has no %s: --format csv instead",               \
                              QS_XLSX_SONAME, #f);                                                 \
        }                                                                                          \
        memcpy(&lx.f, &sym, sizeof lx.f);                                                          \
    }
    XLSX_FUNCS(X)
#undef X
    lib = h;
    return 0;
}

int report_write_xlsx(const rbook *b, const char *path, qs_err *err)
{
    int rc = load_xlsx(err);
    if (rc)
        return rc;
    lxw_workbook *wb = lx.workbook_new(path);
    if (!wb)
        return qs_err_set(err, QS_EIO, "cannot create %s", path);
    lxw_format *head = lx.workbook_add_format(wb);
    lx.format_set_bold(head);
    lx.format_set_bg_color(head, 0xDDE4EE);
    lx.format_set_border(head, LXW_BORDER_THIN);
    lx.format_set_text_wrap(head);
    lxw_format *money = lx.workbook_add_format(wb);
    lx.format_set_num_format(money, "#,##0.00");
    lxw_format *pct = lx.workbook_add_format(wb);
    lx.format_set_num_format(pct, "0.0%");
    lxw_format *pass = lx.workbook_add_format(wb);
    lx.format_set_bg_color(pass, 0xC6EFCE);
    lx.format_set_font_color(pass, 0x006100);
    lxw_format *failf = lx.workbook_add_format(wb);
    lx.format_set_bg_color(failf, 0xFFC7CE);
    lx.format_set_font_color(failf, 0x9C0006);
    lx.format_set_bold(failf);
    lxw_format *nodata = lx.workbook_add_format(wb);
    lx.format_set_bg_color(nodata, 0xFFEB9C);
    lxw_format *pending = lx.workbook_add_format(wb);
    lx.format_set_bg_color(pending, 0xDDEBF7);
    lx.format_set_font_color(pending, 0x1F4E79);
    lxw_format *wrap = lx.workbook_add_format(wb);
    lx.format_set_text_wrap(wrap);
    lxw_format *title = lx.workbook_add_format(wb);
    lx.format_set_bold(title);
    lx.format_set_font_size(title, 14);

    for (size_t i = 0; i < b->n; i++) {
        const rsheet *s = &b->sheets[i];
        lxw_worksheet *ws = lx.workbook_add_worksheet(wb, s->name);
        lx.worksheet_write_string(ws, 0, 0, b->title, title);
        lx.worksheet_write_string(ws, 1, 0, b->subtitle, NULL);
        for (size_t k = 0; k < s->ncols; k++) {
            lx.worksheet_write_string(ws, 3, (lxw_col_t)k, s->head[k], head);
            lx.worksheet_set_column(ws, (lxw_col_t)k, (lxw_col_t)k, k < 2 ? 12 : 16, NULL);
        }
        /* the assessment and the criteria table are sentences: wide, wrapped */
        bool long_text = strcmp(s->key, "assessment") == 0 || strcmp(s->key, "rules") == 0;
        if (long_text)
            lx.worksheet_set_column(ws, 1, (lxw_col_t)(s->ncols - 1), 48, NULL);
        lx.worksheet_freeze_panes(ws, 4, long_text ? 1 : 2);
        for (size_t r = 0; r < s->nrows; r++) {
            lxw_row_t row = (lxw_row_t)(r + 4);
            for (size_t k = 0; k < s->ncols; k++) {
                const rcell *c = &s->cells[r * s->ncols + k];
                lxw_col_t col = (lxw_col_t)k;
                switch (c->t) {
                case RC_TEXT:
                    lx.worksheet_write_string(ws, row, col, c->s ? c->s : "",
                                              long_text ? wrap : NULL);
                    break;
                case RC_INT:
                    lx.worksheet_write_number(ws, row, col, (double)c->i, NULL);
                    break;
                case RC_MONEY:
                    lx.worksheet_write_number(ws, row, col, (double)c->i / 100.0, money);
                    break;
                case RC_PCT:
                    lx.worksheet_write_number(ws, row, col, c->d, pct);
                    break;
                case RC_VERDICT:
                    lx.worksheet_write_string(ws, row, col, qs_verdict_label(c->v),
                                              c->v == QS_VERDICT_PASS      ? pass
                                              : c->v == QS_VERDICT_FAIL    ? failf
                                              : c->v == QS_VERDICT_NODATA  ? nodata
                                              : c->v == QS_VERDICT_PENDING ? pending
                                                                           : NULL);
                    break;
                }
            }
        }
        lx.worksheet_set_landscape(ws);
        lx.worksheet_set_paper(ws, 9); /* A4 */
        lx.worksheet_fit_to_pages(ws, 1, 0);
    }
    lxw_error le = lx.workbook_close(wb);
    if (le != LXW_NO_ERROR)
        return qs_err_set(err, QS_EIO, "writing %s: %s", path, lx.lxw_strerror(le));
    return 0;
}
#endif
