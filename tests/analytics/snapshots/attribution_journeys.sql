SELECT framed.contact_id, framed.grp, framed.kind, framed.channel_id, (epoch(framed.conv_ts) - epoch(framed.ts)) / CAST(? AS DOUBLE PRECISION) AS age_days, framed.value 
FROM (SELECT grouped.contact_id AS contact_id, grouped.ts AS ts, grouped.kind AS kind, grouped.channel_id AS channel_id, grouped.seq AS seq, grouped.value AS value, grouped.grp AS grp, max(CASE WHEN (grouped.kind = ?) THEN grouped.ts END) OVER (PARTITION BY grouped.contact_id, grouped.grp) AS conv_ts 
FROM (SELECT stream.contact_id AS contact_id, stream.ts AS ts, stream.kind AS kind, stream.channel_id AS channel_id, stream.seq AS seq, stream.value AS value, coalesce(sum(stream.kind) OVER (PARTITION BY stream.contact_id ORDER BY stream.ts, stream.kind, stream.seq ROWS BETWEEN UNBOUNDED PRECEDING AND ? PRECEDING), ?) AS grp 
FROM (SELECT events.contact_id AS contact_id, events.timestamp AS ts, ? AS kind, CAST(NULL AS BIGINT) AS channel_id, events.id AS seq, (CASE WHEN regexp_full_match((events.properties ->> ?), '-?(0|[1-9][0-9]{0,254})(\.[0-9]{1,255})?([eE][-+]?0*[0-9]{1,4})?') THEN (CASE WHEN abs(TRY_CAST((events.properties ->> ?) AS DOUBLE)) >= 1e308 THEN NULL WHEN abs(TRY_CAST((events.properties ->> ?) AS DOUBLE)) < 1e-300 THEN 0.0 ELSE TRY_CAST((events.properties ->> ?) AS DOUBLE) END) END) AS value 
FROM events 
WHERE events.type = ? AND events.event = ? AND (events.contact_id NOT IN (SELECT contacts.id 
FROM contacts 
WHERE contacts.merged_into_id IS NOT NULL)) UNION ALL SELECT touches.contact_id AS contact_id, touches.occurred_at AS occurred_at, ? AS anon_1, touches.channel_id AS channel_id, CAST(NULL AS BIGINT) AS anon_2, CAST(NULL AS DOUBLE PRECISION) AS anon__1 
FROM touches 
WHERE touches.channel_id IS NOT NULL AND (touches.contact_id NOT IN (SELECT contacts.id 
FROM contacts 
WHERE contacts.merged_into_id IS NOT NULL))) AS stream) AS grouped) AS framed 
WHERE framed.conv_ts IS NOT NULL AND (framed.kind = ? OR (epoch(framed.conv_ts) - epoch(framed.ts)) <= ?) OR framed.conv_ts IS NULL ORDER BY framed.contact_id, framed.grp, framed.kind, framed.ts, framed.channel_id
