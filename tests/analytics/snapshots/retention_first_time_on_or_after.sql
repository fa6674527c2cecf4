WITH cohort AS 
(SELECT events.contact_id AS contact_id, CAST((CAST(date_trunc('week', min(events.timestamp)) AS DATE) - DATE '1969-12-29') / 7 AS BIGINT) AS c 
FROM events 
WHERE events.event = ? AND events.timestamp < ? GROUP BY events.contact_id 
HAVING min(events.timestamp) >= ?), 
back AS 
(SELECT DISTINCT events.contact_id AS contact_id, CAST((CAST(date_trunc('week', events.timestamp) AS DATE) - DATE '1969-12-29') / 7 AS BIGINT) AS p 
FROM events 
WHERE events.event = ? AND events.timestamp >= ? AND events.timestamp < ?)
 SELECT cohort.c, CAST(NULL AS BIGINT) AS p, count(*) AS n 
FROM cohort GROUP BY cohort.c UNION ALL SELECT latest.c, latest.p, count(*) AS n 
FROM (SELECT cohort.contact_id AS contact_id, cohort.c AS c, max(back.p) AS p 
FROM cohort JOIN back ON back.contact_id = cohort.contact_id AND back.p >= cohort.c GROUP BY cohort.contact_id, cohort.c) AS latest GROUP BY latest.c, latest.p
