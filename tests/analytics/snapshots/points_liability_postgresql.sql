SELECT loyalty_programmes.point_value 
FROM loyalty_programmes ORDER BY loyalty_programmes.id 
 LIMIT %(param_1)s::INTEGER
;
SELECT min(points_entries.expires_at) AS min_1, max(points_entries.expires_at) AS max_1 
FROM points_entries 
WHERE points_entries.kind = %(kind_1)s::VARCHAR AND points_entries.status IN (__[POSTCOMPILE_status_1]) AND points_entries.remaining > %(remaining_1)s::INTEGER
;
SELECT to_char(points_entries.expires_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') AS month, points_entries.status, sum(points_entries.remaining) AS points 
FROM points_entries 
WHERE points_entries.kind = %(kind_1)s::VARCHAR AND points_entries.status IN (__[POSTCOMPILE_status_1]) AND points_entries.remaining > %(remaining_1)s::INTEGER GROUP BY to_char(points_entries.expires_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM'), points_entries.status
;
SELECT points_entries.kind, points_entries.status, sum(points_entries.points) AS points 
FROM points_entries 
WHERE points_entries.kind IN (__[POSTCOMPILE_kind_1]) AND points_entries.created_at >= %(created_at_1)s::TIMESTAMP WITH TIME ZONE AND points_entries.created_at < %(created_at_2)s::TIMESTAMP WITH TIME ZONE GROUP BY points_entries.kind, points_entries.status
