WITH cohort AS 
(SELECT DISTINCT events.contact_id AS contact_id, CAST((CAST(date_trunc('week', events.timestamp) AS DATE) - DATE '1969-12-29') / 7 AS BIGINT) AS c 
FROM events 
WHERE events.event = ? AND events.timestamp >= ? AND events.timestamp < ?), 
back AS 
(SELECT DISTINCT events.contact_id AS contact_id, CAST((CAST(date_trunc('week', events.timestamp) AS DATE) - DATE '1969-12-29') / 7 AS BIGINT) AS p 
FROM events 
WHERE events.event = ? AND events.timestamp >= ? AND events.timestamp < ?)
 SELECT cohort.c, CAST(NULL AS BIGINT) AS p, count(*) AS n 
FROM cohort GROUP BY cohort.c UNION ALL SELECT cohort.c, back.p, count(*) AS n 
FROM cohort JOIN back ON back.contact_id = cohort.contact_id AND back.p >= cohort.c AND back.p < cohort.c + 3 GROUP BY cohort.c, back.p
