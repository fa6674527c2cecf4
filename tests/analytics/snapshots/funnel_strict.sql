WITH ev AS (
SELECT contact_id AS cid, timestamp AS ts, id, events.event = ? AS m1, events.event = ? AS m2, events.event = ? AS m3, (events.type NOT IN (?, ?, ?)) AND (events.event IS NULL OR (events.event NOT IN (?, ?, ?, ?, ?))) AS act
FROM events
WHERE timestamp >= ?
  AND timestamp < ? + INTERVAL '1209600 seconds'
  AND (events.event = ? OR events.event = ? OR events.event = ? OR (events.type NOT IN (?, ?, ?)) AND (events.event IS NULL OR (events.event NOT IN (?, ?, ?, ?, ?))))
),
sg0 AS (
SELECT cid, ts, count(*) AS n, count(*) FILTER (WHERE m1) AS q1_0, count(*) FILTER (WHERE m2) AS q2_0, count(*) FILTER (WHERE m3) AS q3_0
FROM ev WHERE (m1 OR m2 OR m3) AND cid IN (SELECT cid FROM ev WHERE m1 AND ts < ?)
GROUP BY cid, ts
),
so AS (
SELECT e.cid, e.ts, count(*) AS o FROM ev e JOIN sg0 g ON g.cid = e.cid AND g.ts = e.ts
WHERE e.act AND NOT COALESCE(e.m1 OR e.m2 OR e.m3, FALSE)
GROUP BY e.cid, e.ts
),
sg AS (
SELECT g.*, g.n + COALESCE(so.o, 0) AS z, g.ts AS c1, g.ts + INTERVAL '1 microsecond' AS b
FROM sg0 g LEFT JOIN so ON so.cid = g.cid AND so.ts = g.ts
),
sgn AS (
SELECT p.*, CASE WHEN s.t <= p.c1 + INTERVAL '1209600 seconds' THEN s.t END AS c0
FROM sg p ASOF LEFT JOIN (SELECT cid, ts AS t FROM ev WHERE (act OR m1 OR m2 OR m3) AND cid IN (SELECT cid FROM ev WHERE m1 AND ts < ?)) s
  ON p.cid = s.cid AND p.b <= s.t
),
sl AS (
SELECT cid, ts AS t0, n AS n0, c0 AS nt0, q1_0, q2_0, q3_0, lead(ts, 1) OVER w AS t1, lead(z, 1) OVER w AS z1, lead(n, 1) OVER w AS n1, lead(c0, 1) OVER w AS nt1, lead(q1_0, 1) OVER w AS q1_1, lead(q2_0, 1) OVER w AS q2_1, lead(q3_0, 1) OVER w AS q3_1, lead(ts, 2) OVER w AS t2, lead(z, 2) OVER w AS z2, lead(n, 2) OVER w AS n2, lead(c0, 2) OVER w AS nt2, lead(q1_0, 2) OVER w AS q1_2, lead(q2_0, 2) OVER w AS q2_2, lead(q3_0, 2) OVER w AS q3_2
FROM sgn WINDOW w AS (PARTITION BY cid ORDER BY ts)
),
st0 AS (
SELECT sl.*, p.p, p.p + 2 AS x0, p.p + 1 AS r0, TRUE AS a0
FROM sl, (VALUES (0), (1), (2)) AS p(p)
WHERE t0 < ? AND LEAST(n0, CASE q1_0 WHEN 0 THEN 0 ELSE 3 END, CASE q2_0 WHEN 0 THEN 1 ELSE 3 END, CASE q3_0 WHEN 0 THEN 2 ELSE 3 END) > p.p
),
st1 AS (
SELECT *, CASE WHEN g1 THEN x0 - 1 + u1 ELSE r0 END AS r1,
  COALESCE(g1 AND n1 = z1 AND u1 >= z1, FALSE) AS a1, x0 + z1 AS x1
FROM (SELECT *, COALESCE(a0 AND x0 <= 3 AND t1 = nt0 AND t1 <= t0 + INTERVAL '1209600 seconds', FALSE) AS g1, CASE x0 WHEN 2 THEN LEAST(n1, CASE q2_1 WHEN 0 THEN 0 ELSE 2 END, CASE q3_1 WHEN 0 THEN 1 ELSE 2 END) WHEN 3 THEN LEAST(n1, CASE q3_1 WHEN 0 THEN 0 ELSE 1 END) ELSE 0 END AS u1 FROM st0) q
),
st2 AS (
SELECT *, CASE WHEN g2 THEN x1 - 1 + u2 ELSE r1 END AS r2,
  COALESCE(g2 AND n2 = z2 AND u2 >= z2, FALSE) AS a2, x1 + z2 AS x2
FROM (SELECT *, COALESCE(a1 AND x1 <= 3 AND t2 = nt1 AND t2 <= t0 + INTERVAL '1209600 seconds', FALSE) AS g2, CASE x1 WHEN 2 THEN LEAST(n2, CASE q2_2 WHEN 0 THEN 0 ELSE 2 END, CASE q3_2 WHEN 0 THEN 1 ELSE 2 END) WHEN 3 THEN LEAST(n2, CASE q3_2 WHEN 0 THEN 0 ELSE 1 END) ELSE 0 END AS u2 FROM st1) q
),
cand AS (
SELECT cid, t0 AS c1, CASE WHEN r0 >= 2 THEN t0 WHEN r1 >= 2 THEN t1 WHEN r2 >= 2 THEN t2 END AS c2, CASE WHEN r0 >= 3 THEN t0 WHEN r1 >= 3 THEN t1 WHEN r2 >= 3 THEN t2 END AS c3, p AS tb FROM st2
),
sc AS (
SELECT cid, c1, c2, c3, k, CASE k WHEN 1 THEN c1 WHEN 2 THEN c2 WHEN 3 THEN c3 END AS ck, tb FROM (SELECT *, 1 + CASE WHEN c2 IS NULL THEN 0 ELSE 1 END + CASE WHEN c3 IS NULL THEN 0 ELSE 1 END AS k FROM cand) z
),
best AS (
SELECT cid, s.k AS k, s.c1 AS c1, s.c2 AS c2, s.c3 AS c3 FROM (SELECT cid, arg_max(struct_pack(k := k, c1 := c1, c2 := c2, c3 := c3), struct_pack(a := key, b := tb)) AS s FROM (SELECT *, (CAST(k AS HUGEINT) << 100) - (CAST(epoch_us(ck) - 1767571200000000 AS HUGEINT) << 50) + CAST(epoch_us(c1) - 1767571200000000 AS HUGEINT) AS key FROM sc) z GROUP BY cid) b
),
kept AS (
SELECT * FROM best b
)
SELECT count(*) AS n1, count(c2) AS n2, percentile_cont(0.5) WITHIN GROUP (ORDER BY d2) AS med2, avg(d2) AS avg2, count(c3) AS n3, percentile_cont(0.5) WITHIN GROUP (ORDER BY d3) AS med3, avg(d3) AS avg3
FROM (SELECT *, (epoch(c2) - epoch(c1)) AS d2, (epoch(c3) - epoch(c2)) AS d3 FROM kept) q
