# report.sh — benchmark #8: `qianshou report annual` at the province over the
# service logs of 15 counties and 5 years made by qs-gen (--scale S, synced to
# the province by the real session), against `SELECT count(*)` over the same
# table by the sqlite3 shell, both timed as whole processes, cold start each
# (the report's indexes are part of the projection, built as the records
# arrive, so the first report builds nothing).
# Sourced by run.sh (uses W, QS, GEN, N8SCALE, result, log, now_ms).

bench_report() {
    local t0 t1 rep base n gen prov=$W/gen/630000
    log "#8: qs-gen --scale $N8SCALE --sync (15 counties, 2021-2025)"
    rm -rf "$W/gen"
    t0=$(now_ms)
    "$GEN" --seed 8 --out "$W/gen" --scale "$N8SCALE" --sync >"$W/gen.log" 2>&1 ||
        { tail -n 20 "$W/gen.log" >&2; exit 1; }
    t1=$(now_ms)
    gen=$(((t1 - t0) / 1000))
    n=$(sqlite3 "$prov/qianshou.db" 'SELECT count(*) FROM k_service')
    log "#8: qs-gen made $n service logs at the province in $gen s"
    t0=$(now_ms)
    "$QS" -d "$prov" report annual --year 2025 --format json -o "$W/report.json" >/dev/null
    t1=$(now_ms)
    rep=$((t1 - t0))
    t0=$(now_ms)
    sqlite3 "$prov/qianshou.db" 'SELECT count(*) FROM k_service' >/dev/null
    t1=$(now_ms)
    base=$((t1 - t0))
    log "#8: report over $n service logs in $rep ms; count(*) in $base ms"
    result 8 "annual report 2025, province, $n service logs (qs-gen --scale $N8SCALE)" ms "$rep" \
        "sqlite3: SELECT count(*) FROM k_service" ms "$base" f/b 'ratio<=' 10 \
        "both whole processes, the report first; 1 run; data: qs-gen --seed 8 in $gen s"
    rm -rf "$W/gen"
}
