/*
 * report_xlsx.c — the annual report as an .xlsx workbook (libxlsxwriter):
 * one worksheet per section, headers bold and frozen, numbers as numbers
 * (money in yuan with two decimals), verdict cells green or red.
 */
#include <string.h>

#include "client/report_out.h"

#ifndef QS_HAVE_XLSX
int report_write_xlsx(const rbook *b, const char *path, qs_err *err)
{
    return qs_err_set(err, QS_ESCHEMA, "this qianshou was built without libxlsxwriter: use --format csv");
}
#else
#include <xlsxwriter.h>

int report_write_xlsx(const rbook *b, const char *path, qs_err *err)
{
    lxw_workbook *wb = workbook_new(path);
    if (!wb)
        return qs_err_set(err, QS_EIO, "cannot create %s", path);
    lxw_format *head = workbook_add_format(wb);
    format_set_bold(head);
    format_set_bg_color(head, 0xDDE4EE);
    format_set_border(head, LXW_BORDER_THIN);
    format_set_text_wrap(head);
    lxw_format *money = workbook_add_format(wb);
    format_set_num_format(money, "#,##0.00");
    lxw_format *pct = workbook_add_format(wb);
    format_set_num_format(pct, "0.0%");
    lxw_format *pass = workbook_add_format(wb);
    format_set_bg_color(pass, 0xC6EFCE);
    format_set_font_color(pass, 0x006100);
    lxw_format *failf = workbook_add_format(wb);
    format_set_bg_color(failf, 0xFFC7CE);
    format_set_font_color(failf, 0x9C0006);
    format_set_bold(failf);
    lxw_format *nodata = workbook_add_format(wb);
    format_set_bg_color(nodata, 0xFFEB9C);
    lxw_format *title = workbook_add_format(wb);
    format_set_bold(title);
    format_set_font_size(title, 14);

    for (size_t i = 0; i < b->n; i++) {
        const rsheet *s = &b->sheets[i];
        lxw_worksheet *ws = workbook_add_worksheet(wb, s->name);
        worksheet_write_string(ws, 0, 0, b->title, title);
        worksheet_write_string(ws, 1, 0, b->subtitle, NULL);
        for (size_t k = 0; k < s->ncols; k++) {
            worksheet_write_string(ws, 3, (lxw_col_t)k, s->head[k], head);
            worksheet_set_column(ws, (lxw_col_t)k, (lxw_col_t)k, k < 2 ? 12 : 16, NULL);
        }
        worksheet_freeze_panes(ws, 4, 2);
        for (size_t r = 0; r < s->nrows; r++) {
            lxw_row_t row = (lxw_row_t)(r + 4);
            for (size_t k = 0; k < s->ncols; k++) {
                const rcell *c = &s->cells[r * s->ncols + k];
                lxw_col_t col = (lxw_col_t)k;
                switch (c->t) {
                case RC_TEXT:
                    worksheet_write_string(ws, row, col, c->s ? c->s : "", NULL);
                    break;
                case RC_INT:
                    worksheet_write_number(ws, row, col, (double)c->i, NULL);
                    break;
                case RC_MONEY:
                    worksheet_write_number(ws, row, col, (double)c->i / 100.0, money);
                    break;
                case RC_PCT:
                    worksheet_write_number(ws, row, col, c->d, pct);
                    break;
                case RC_VERDICT:
                    worksheet_write_string(ws, row, col, qs_verdict_label(c->v),
                                           c->v == QS_VERDICT_PASS   ? pass
                                           : c->v == QS_VERDICT_FAIL ? failf
                                           : c->v == QS_VERDICT_NODATA ? nodata
                                                                       : NULL);
                    break;
                }
            }
        }
        worksheet_set_landscape(ws);
        worksheet_set_paper(ws, 9); /* A4 */
        worksheet_fit_to_pages(ws, 1, 0);
    }
    lxw_error le = workbook_close(wb);
    if (le != LXW_NO_ERROR)
        return qs_err_set(err, QS_EIO, "writing %s: %s", path, lxw_strerror(le));
    return 0;
}
#endif
