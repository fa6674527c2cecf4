SELECT events.contact_id AS contact_id, CAST(events.timestamp AS DATE) AS day, count(*) AS orders, coalesce(sum((CASE WHEN regexp_full_match((events.properties ->> ?), '\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*') THEN TRY_CAST((events.properties ->> ?) AS DOUBLE) END)), ?) AS amount 
FROM events JOIN contacts ON contacts.id = events.contact_id 
WHERE events.type = ? AND events.event = ? AND contacts.merged_into_id IS NULL AND events.timestamp < ? GROUP BY events.contact_id, CAST(events.timestamp AS DATE)
;
SELECT contact_rfm.contact_id, contact_rfm.r, contact_rfm.f, contact_rfm.m, contact_rfm.segment 
FROM contact_rfm
