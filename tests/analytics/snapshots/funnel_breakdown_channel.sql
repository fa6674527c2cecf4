WITH ev AS NOT MATERIALIZED (
SELECT contact_id AS cid, timestamp AS ts, id, events.event = ? AS m1, events.event = ? AS m2, events.event = ? AS m3
FROM events
WHERE timestamp >= ?
  AND timestamp < ? + INTERVAL '1209600 seconds'
  AND events.event IN (?, ?, ?)
),
e1 AS (
SELECT cid, ts AS c1 FROM ev WHERE m1 AND ts < ?
),
e2 AS (
SELECT p.*, CASE WHEN s.t <= p.c1 + INTERVAL '1209600 seconds' THEN s.t END AS c2
FROM e1 p ASOF LEFT JOIN (SELECT cid, ts AS t FROM ev WHERE m2) s
  ON p.cid = s.cid AND p.c1 <= s.t
),
e3 AS (
SELECT p.*, CASE WHEN s.t <= p.c1 + INTERVAL '1209600 seconds' THEN s.t END AS c3
FROM e2 p ASOF LEFT JOIN (SELECT cid, ts AS t FROM ev WHERE m3) s
  ON p.cid = s.cid AND p.c2 <= s.t
),
cand AS (
SELECT cid, c1, c2, c3 FROM e3
),
sc AS (
SELECT cid, c1, c2, c3, k, CASE k WHEN 1 THEN c1 WHEN 2 THEN c2 WHEN 3 THEN c3 END AS ck FROM (SELECT *, 1 + CASE WHEN c2 IS NULL THEN 0 ELSE 1 END + CASE WHEN c3 IS NULL THEN 0 ELSE 1 END AS k FROM cand) z
),
best AS (
SELECT cid, max(k) AS k, arg_max(c1, key) AS c1, arg_max(c2, key) AS c2, arg_max(c3, key) AS c3 FROM (SELECT *, (CAST(k AS HUGEINT) << 100) - (CAST(epoch_us(ck) - 1767571200000000 AS HUGEINT) << 50) + CAST(epoch_us(c1) - 1767571200000000 AS HUGEINT) AS key FROM sc) z GROUP BY cid
),
kept AS (
SELECT * FROM best b
),
bk AS (
SELECT kept.*, CAST(c.first_channel_id AS VARCHAR) AS bv FROM kept LEFT JOIN contacts c ON c.id = kept.cid
),
vals AS (
SELECT bv, count(*) AS n FROM bk WHERE bv IS NOT NULL GROUP BY bv
),
rk AS (
SELECT bv, row_number() OVER (ORDER BY n DESC, bv) AS r FROM vals
),
bb AS (
SELECT bk.*, CASE WHEN bk.bv IS NULL THEN 0 WHEN rk.r <= ? THEN 1 ELSE 2 END AS kind,
  CASE WHEN rk.r <= ? THEN bk.bv END AS bkey
FROM bk LEFT JOIN rk ON rk.bv = bk.bv
)
SELECT GROUPING(kind) AS total, kind, bkey, count(*) AS n1, count(c2) AS n2, percentile_cont(0.5) WITHIN GROUP (ORDER BY d2) AS med2, avg(d2) AS avg2, count(c3) AS n3, percentile_cont(0.5) WITHIN GROUP (ORDER BY d3) AS med3, avg(d3) AS avg3
FROM (SELECT *, (epoch(c2) - epoch(c1)) AS d2, (epoch(c3) - epoch(c2)) AS d3 FROM bb) q
GROUP BY GROUPING SETS ((), (kind, bkey))
