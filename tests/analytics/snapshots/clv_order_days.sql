SELECT events.contact_id AS contact_id, CAST(events.timestamp AS DATE) AS day, count(*) AS orders, coalesce(sum((CASE WHEN regexp_full_match((events.properties ->> ?), '-?(0|[1-9][0-9]{0,254})(\.[0-9]{1,255})?([eE][-+]?0*[0-9]{1,4})?') THEN (CASE WHEN abs(TRY_CAST((events.properties ->> ?) AS DOUBLE)) >= 1e308 THEN NULL WHEN abs(TRY_CAST((events.properties ->> ?) AS DOUBLE)) < 1e-300 THEN 0.0 ELSE TRY_CAST((events.properties ->> ?) AS DOUBLE) END) END)), ?) AS amount 
FROM events JOIN contacts ON contacts.id = events.contact_id 
WHERE events.type = ? AND events.event = ? AND contacts.merged_into_id IS NULL AND events.timestamp >= ? AND events.timestamp < ? AND events.timestamp < ? GROUP BY events.contact_id, CAST(events.timestamp AS DATE)
;
SELECT contact_rfm.contact_id, contact_rfm.r, contact_rfm.f, contact_rfm.m, contact_rfm.segment 
FROM contact_rfm
