#!/usr/bin/env bash
# Set test: three counties each write a few thousand distinct service records
# (half before, half during the faults) while qs-proxy injects random faults
# (cuts at random offsets, bit flips, stalls) and the aggregator is SIGKILLed
# and restarted a few times. Then the faults stop and everything converges:
# per county, the aggregator holds exactly the county's ids (none lost, none
# unexpected, none duplicated), the digests per scope agree, and both stores
# pass the integrity check. Seeded; the seed is printed.
. "$(dirname "$0")/fault_lib.sh"
PER=${QS_SET_RECORDS:-2000}; ROUNDS=${QS_SET_ROUNDS:-12}; KILLS_WANT=3
make_pki
agg_conf "$T/agg.ini" "max_batch = 50"
declare -A ID=([c1]=632322 [c2]=632323 [c3]=632324)
CS=(c1 c2 c3)
q agg init --node 630000 --role aggregator >/dev/null
for c in "${CS[@]}"; do
    county_conf "$T/$c.ini" $c "${ID[$c]}" "retry_base = 1
retry_cap = 2
[limits]
max_batch = 50"
    via_proxy "$T/$c.ini"
    q $c init --node "${ID[$c]}" --role county >/dev/null
    services_csv "$T/$c-a.csv" $((PER / 2)) "$c-a"
    services_csv "$T/$c-b.csv" $((PER - PER / 2)) "$c-b"
    q $c import service "$T/$c-a.csv" >/dev/null
done
proxy_start --verbose --cut-random 200-8000 # faults from the first connection on
start agg "$T/agg.ini"
for c in "${CS[@]}"; do start $c "$T/$c.ini"; done
# kill rounds: KILLS_WANT distinct rounds in 2..ROUNDS-1
mapfile -t KR < <(python3 -c "import random,sys; r=random.Random($SEED); print('\n'.join(map(str, sorted(r.sample(range(2, $ROUNDS), $KILLS_WANT)))))")
AGG_KILLS=0
t0=$(date +%s)
for round in $(seq "$ROUNDS"); do
    pctl clear >/dev/null
    case $((RANDOM % 4)) in
    0) pctl set cut-random "200-$((4000 + RANDOM % 12000))" >/dev/null; what="random cuts" ;;
    1) pctl set flip-after $((100 + RANDOM % 8000)) >/dev/null; what="bit flips" ;;
    2) pctl set stall-after $((RANDOM % 8000)) >/dev/null; pctl set stall-ms $((300 + RANDOM % 1500)) >/dev/null
       pctl set cut-random "3000-30000" >/dev/null; what="stalls and cuts" ;;
    3) pctl set flip-after $((3000 + RANDOM % 10000)) >/dev/null; pctl set cut-random "1000-20000" >/dev/null; what="flips and cuts" ;;
    esac
    pctl kill-all >/dev/null
    if [ "$round" = 3 ]; then # the second half is written while the faults go on
        for c in "${CS[@]}"; do q $c import service "$T/$c-b.csv" >/dev/null; done
    fi
    for k in "${KR[@]}"; do
        if [ "$k" = "$round" ]; then
            kill9 agg; AGG_KILLS=$((AGG_KILLS + 1))
            sleep 0.$((RANDOM % 10)); start agg "$T/agg.ini"; what="$what, aggregator SIGKILLed"
        fi
    done
    for c in "${CS[@]}"; do ctl $c '{"cmd":"sync"}' >/dev/null || true; done
    echo "round $round: $what"
    sleep 1
    for c in "${CS[@]}"; do ctl $c '{"cmd":"sync"}' >/dev/null || true; done
    sleep 1
done
pctl clear >/dev/null
st=$(pctl stats)
cuts=$(pstat cuts); flips=$(pstat flips); stalls=$(pstat stalls); conns=$(pstat conns)
echo "faults stop after $(( $(date +%s) - t0 )) s: $st"
for c in "${CS[@]}"; do sync_until $c 10; done
for c in "${CS[@]}"; do sync_until $c 3; done # the pull of what the others pushed last
lost=0; dup=0; unexpected=0; total=0
for c in "${CS[@]}"; do
    ids $c service "${ID[$c]}" > "$T/$c.ids"
    ids agg service "${ID[$c]}" > "$T/agg-$c.ids"
    n=$(wc -l < "$T/$c.ids"); total=$((total + n))
    [ "$n" = "$PER" ] || fail "$c holds $n of its own records, want $PER"
    l=$(comm -23 "$T/$c.ids" <(sort -u "$T/agg-$c.ids") | wc -l)
    u=$(comm -13 "$T/$c.ids" <(sort -u "$T/agg-$c.ids") | wc -l)
    d=$(( $(wc -l < "$T/agg-$c.ids") - $(sort -u "$T/agg-$c.ids" | wc -l) ))
    lost=$((lost + l)); unexpected=$((unexpected + u)); dup=$((dup + d))
    [ "$(digest $c "${ID[$c]}")" = "$(digest agg "${ID[$c]}")" ] || fail "$c: digest differs from the aggregator's for its scope"
    ok "$c: $n records, aggregator holds $(wc -l < "$T/agg-$c.ids") for ${ID[$c]}: lost $l, unexpected $u, duplicated $d"
done
integrity agg "${CS[@]}"
echo "set test (seed $SEED): faults injected: $cuts cuts, $flips bit flips, $stalls stalls over $conns connections, $AGG_KILLS aggregator SIGKILLs; records $total; lost = $lost, unexpected = $unexpected, duplicated = $dup"
[ "$lost" = 0 ] && [ "$unexpected" = 0 ] && [ "$dup" = 0 ] || fail "lost $lost, unexpected $unexpected, duplicated $dup"
[ $((cuts + flips + stalls)) -ge 5 ] || fail "only $((cuts + flips + stalls)) faults were injected"
for c in "${CS[@]}"; do stop $c; done
stop agg
