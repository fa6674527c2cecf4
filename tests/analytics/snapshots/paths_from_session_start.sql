WITH ev AS (
SELECT contact_id AS cid, timestamp AS ts, id, event, COALESCE(FALSE, FALSE) AS anc
FROM events WHERE timestamp >= ?
  AND timestamp < ?
  AND ((events.type NOT IN (?, ?, ?)) AND (events.event IS NULL OR (events.event NOT IN (?, ?, ?, ?, ?))))
),
s1 AS (
SELECT *, CASE WHEN pts IS NULL OR ts > pts + INTERVAL '1800 seconds' THEN 1 ELSE 0 END AS brk FROM (SELECT *, lag(ts) OVER w AS pts, lag(event) OVER w AS pev FROM ev WINDOW w AS (PARTITION BY cid ORDER BY ts, id)) z
),
s2 AS (
SELECT * FROM (SELECT cid, ts, id, event, anc, brk, pev, sum(brk) OVER (PARTITION BY cid ORDER BY ts, id ROWS UNBOUNDED PRECEDING) AS sid FROM s1) z WHERE brk = 1 OR event <> pev
),
s3 AS (
SELECT cid, sid, event, anc, row_number() OVER w AS pos, lag(event) OVER w AS prv, lead(event) OVER w AS nxt, count(*) OVER (PARTITION BY cid, sid) AS len FROM s2 WINDOW w AS (PARTITION BY cid, sid ORDER BY ts, id)
),
tr AS (
SELECT pos AS level, event AS source, nxt AS target FROM s3 WHERE nxt IS NOT NULL AND pos <= 5
)
SELECT level, source, target, count(*) AS n FROM tr GROUP BY level, source, target
