WITH ev AS NOT MATERIALIZED (
SELECT contact_id AS cid, timestamp AS ts, id, events.event = ? AS m1, events.event = ? AS m2, events.event = ? AS m3
FROM events
WHERE timestamp >= ?
  AND timestamp < ? + INTERVAL '1209600 seconds'
  AND events.event IN (?, ?, ?)
),
a0 AS (
SELECT cid, ts AS c1 FROM ev WHERE (m1 OR m2 OR m3) AND ts < ?
),
a1 AS (
SELECT p.*, CASE WHEN s.t <= p.c1 + INTERVAL '1209600 seconds' THEN s.t END AS c101
FROM a0 p ASOF LEFT JOIN (SELECT cid, ts AS t FROM ev WHERE m1) s
  ON p.cid = s.cid AND p.c1 <= s.t
),
a2 AS (
SELECT p.*, CASE WHEN s.t <= p.c1 + INTERVAL '1209600 seconds' THEN s.t END AS c102
FROM a1 p ASOF LEFT JOIN (SELECT cid, ts AS t FROM ev WHERE m2) s
  ON p.cid = s.cid AND p.c1 <= s.t
),
a3 AS (
SELECT p.*, CASE WHEN s.t <= p.c1 + INTERVAL '1209600 seconds' THEN s.t END AS c103
FROM a2 p ASOF LEFT JOIN (SELECT cid, ts AS t FROM ev WHERE m3) s
  ON p.cid = s.cid AND p.c1 <= s.t
),
cand AS (
SELECT cid, LEAST(CASE WHEN r1 >= 1 THEN c101 END, CASE WHEN r2 >= 1 THEN c102 END, CASE WHEN r3 >= 1 THEN c103 END) AS c1, LEAST(CASE WHEN r1 >= 2 THEN c101 END, CASE WHEN r2 >= 2 THEN c102 END, CASE WHEN r3 >= 2 THEN c103 END) AS c2, LEAST(CASE WHEN r1 >= 3 THEN c101 END, CASE WHEN r2 >= 3 THEN c102 END, CASE WHEN r3 >= 3 THEN c103 END) AS c3 FROM (SELECT *, CASE WHEN c101 <= c101 THEN 1 ELSE 0 END + CASE WHEN c102 <= c101 THEN 1 ELSE 0 END + CASE WHEN c103 <= c101 THEN 1 ELSE 0 END AS r1, CASE WHEN c101 <= c102 THEN 1 ELSE 0 END + CASE WHEN c102 <= c102 THEN 1 ELSE 0 END + CASE WHEN c103 <= c102 THEN 1 ELSE 0 END AS r2, CASE WHEN c101 <= c103 THEN 1 ELSE 0 END + CASE WHEN c102 <= c103 THEN 1 ELSE 0 END + CASE WHEN c103 <= c103 THEN 1 ELSE 0 END AS r3 FROM a3) z
),
sc AS (
SELECT cid, c1, c2, c3, k, CASE k WHEN 1 THEN c1 WHEN 2 THEN c2 WHEN 3 THEN c3 END AS ck FROM (SELECT *, 1 + CASE WHEN c2 IS NULL THEN 0 ELSE 1 END + CASE WHEN c3 IS NULL THEN 0 ELSE 1 END AS k FROM cand) z
),
best AS (
SELECT cid, max(k) AS k, arg_max(c1, key) AS c1, arg_max(c2, key) AS c2, arg_max(c3, key) AS c3 FROM (SELECT *, (CAST(k AS HUGEINT) << 100) - (CAST(epoch_us(ck) - 1767571200000000 AS HUGEINT) << 50) + CAST(epoch_us(c1) - 1767571200000000 AS HUGEINT) AS key FROM sc) z GROUP BY cid
),
kept AS (
SELECT * FROM best b
)
SELECT count(*) AS n1, count(c2) AS n2, percentile_cont(0.5) WITHIN GROUP (ORDER BY d2) AS med2, avg(d2) AS avg2, count(c3) AS n3, percentile_cont(0.5) WITHIN GROUP (ORDER BY d3) AS med3, avg(d3) AS avg3
FROM (SELECT *, (epoch(c2) - epoch(c1)) AS d2, (epoch(c3) - epoch(c2)) AS d3 FROM kept) q
