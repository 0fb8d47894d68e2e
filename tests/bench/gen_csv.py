#!/usr/bin/env python3
"""gen_csv.py N SEED [TOWNSHIP_PREFIX]: N service-log rows as a UTF-8 CSV on
stdout, the columns `qianshou import service` takes. Same N and seed, same
bytes. Rows spread over 5 years and 10 stations (townships PREFIX100..PREFIX109,
which the caller creates first)."""
import random
import sys

TYPES = ["casework", "groupwork", "community", "visit", "policy", "assessment",
         "referral", "counselling", "crisis", "volunteers"]
DOMAINS = ["assistance", "elderly", "children", "community_governance", "social_affairs"]
CONTENT = ["入户走访，了解家庭困难情况", "老年人小组活动", "低保政策宣讲", "留守儿童课业辅导",
           "心理疏导与情绪支持", "链接医疗救助资源", "社区议事会", "志愿者培训"]
OUTCOME = ["已解决", "持续跟进", "转介至民政所", ""]


def main():
    n = int(sys.argv[1])
    rnd = random.Random(int(sys.argv[2]))
    prefix = sys.argv[3] if len(sys.argv) > 3 else "632322"
    out = sys.stdout
    out.write("date,station,service_type,domain,total,minors,female,minutes,content,outcome\n")
    lines = []
    for _ in range(n):
        y = 2021 + rnd.randrange(5)
        m = 1 + rnd.randrange(12)
        d = 1 + rnd.randrange(28)
        total = 1 + rnd.randrange(30)
        lines.append("%04d-%02d-%02d,%s1%02d,%s,%s,%d,%d,%d,%d,%s,%s\n" % (
            y, m, d, prefix, rnd.randrange(10), rnd.choice(TYPES), rnd.choice(DOMAINS),
            total, rnd.randrange(total + 1), rnd.randrange(total + 1),
            15 * (1 + rnd.randrange(12)), rnd.choice(CONTENT), rnd.choice(OUTCOME)))
        if len(lines) == 10000:
            out.write("".join(lines))
            lines = []
    out.write("".join(lines))


main()
