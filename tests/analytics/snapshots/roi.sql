WITH acq AS 
(SELECT contacts.id AS contact_id, contacts.first_channel_id AS channel_id, contacts.first_entry_code_id AS entry_code_id, coalesce(first_touch.first_at, contacts.created_at) AS acquired_at 
FROM contacts LEFT OUTER JOIN (SELECT touches.contact_id AS contact_id, min(touches.occurred_at) AS first_at 
FROM touches GROUP BY touches.contact_id) AS first_touch ON first_touch.contact_id = contacts.id 
WHERE contacts.merged_into_id IS NULL AND coalesce(first_touch.first_at, contacts.created_at) >= ? AND coalesce(first_touch.first_at, contacts.created_at) < ?)
 SELECT acq.channel_id, acq.entry_code_id, count(*) AS acquired, count(*) FILTER (WHERE orders.n >= ?) AS customers, count(*) FILTER (WHERE orders.n >= ?) AS repurchasers, coalesce(sum(orders.n), ?) AS orders, coalesce(sum(orders.revenue), ?) AS revenue 
FROM acq LEFT OUTER JOIN (SELECT acq.contact_id AS contact_id, count(*) AS n, coalesce(sum((CASE WHEN regexp_full_match((events.properties ->> ?), '-?(0|[1-9][0-9]{0,254})(\.[0-9]{1,255})?([eE][-+]?0*[0-9]{1,4})?') THEN (CASE WHEN abs(TRY_CAST((events.properties ->> ?) AS DOUBLE)) >= 1e308 THEN NULL WHEN abs(TRY_CAST((events.properties ->> ?) AS DOUBLE)) < 1e-300 THEN 0.0 ELSE TRY_CAST((events.properties ->> ?) AS DOUBLE) END) END)), ?) AS revenue 
FROM acq JOIN events ON events.contact_id = acq.contact_id 
WHERE events.type = ? AND events.event = ? AND events.timestamp >= acq.acquired_at AND events.timestamp < ? GROUP BY acq.contact_id) AS orders ON orders.contact_id = acq.contact_id GROUP BY acq.channel_id, acq.entry_code_id ORDER BY acq.channel_id, acq.entry_code_id
