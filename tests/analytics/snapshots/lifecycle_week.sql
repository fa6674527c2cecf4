SELECT bitmaps.m0, CAST((CAST(date_trunc('week', contacts.created_at) AS DATE) - DATE '1969-12-29') / 7 AS BIGINT) - 2923 AS created, earlier.contact_id IS NOT NULL AS earlier 
FROM (SELECT events.contact_id AS contact_id, bit_or(CAST(1 AS BIGINT) << CAST(CAST((CAST(date_trunc('week', events.timestamp) AS DATE) - DATE '1969-12-29') / 7 AS BIGINT) - 2923 AS INTEGER)) AS m0 
FROM events 
WHERE (events.type NOT IN (?, ?, ?)) AND (events.event IS NULL OR (events.event NOT IN (?, ?, ?, ?, ?))) AND events.timestamp >= ? AND events.timestamp < ? GROUP BY events.contact_id) AS bitmaps LEFT OUTER JOIN contacts ON contacts.id = bitmaps.contact_id LEFT OUTER JOIN (SELECT DISTINCT events.contact_id AS contact_id 
FROM events 
WHERE (events.type NOT IN (?, ?, ?)) AND (events.event IS NULL OR (events.event NOT IN (?, ?, ?, ?, ?))) AND events.timestamp < ? AND events.contact_id IN (SELECT contacts.id 
FROM contacts 
WHERE contacts.created_at >= ?)) AS earlier ON earlier.contact_id = bitmaps.contact_id
