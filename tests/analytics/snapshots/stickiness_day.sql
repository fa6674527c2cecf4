SELECT bit_or(CAST(1 AS BIGINT) << CAST((CAST(events.timestamp AS DATE) - DATE '1970-01-01') - 20458 AS INTEGER)) AS m0 
FROM events 
WHERE (events.type NOT IN (?, ?, ?)) AND (events.event IS NULL OR (events.event NOT IN (?, ?, ?, ?, ?))) AND events.timestamp >= ? AND events.timestamp < ? GROUP BY events.contact_id
