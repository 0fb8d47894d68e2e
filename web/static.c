/* static.c — the one style sheet, served as /static/app.css (no inline
 * styles anywhere: the CSP has no 'unsafe-inline'). */
#include "web/app.h"

const char WEB_CSS[] =
    "body{font-family:\"Noto Sans CJK SC\",\"Noto Sans SC\",\"Microsoft YaHei\",\"PingFang SC\","
    "sans-serif;margin:0;color:#1d2327;background:#f6f7f7}\n"
    "header{background:#1e4f7a;color:#fff;padding:.5em 1em;display:flex;flex-wrap:wrap;"
    "align-items:center;gap:1em}\n"
    "header a{color:#fff;margin-right:.8em;text-decoration:none}header a:hover{"
    "text-decoration:underline}\n"
    ".brand{font-weight:bold;font-size:1.2em}.node{opacity:.8}.logout{margin-left:auto}\n"
    "main{padding:1em 1.5em;max-width:1200px}\n"
    "table{border-collapse:collapse;background:#fff;margin:.5em 0}\n"
    "th,td{border:1px solid #c3c4c7;padding:.3em .6em;text-align:left;vertical-align:top}\n"
    "th{background:#f0f0f1}\n"
    ".error{color:#b32d2e;font-weight:bold}.ok{color:#007017;font-weight:bold}\n"
    ".field-error{color:#b32d2e;margin-left:.5em}\n"
    "form.record label,form.login label{display:block;margin:.4em 0}\n"
    "form.record .lab{display:inline-block;min-width:11em}\n"
    "tr.stale td{background:#fcf0f1}.num{text-align:right}\n"
    ".cards{display:flex;gap:1em;flex-wrap:wrap}.card{background:#fff;border:1px solid #c3c4c7;"
    "padding:.8em 1.2em;min-width:10em}.card .big{font-size:1.8em;font-weight:bold}\n"
    ".diff td.changed{background:#fff4d6}\n"
    "button{padding:.3em 1em}\n"
    "pre{background:#fff;border:1px solid #c3c4c7;padding:.5em;white-space:pre-wrap}\n";
