SELECT loyalty_programmes.point_value 
FROM loyalty_programmes ORDER BY loyalty_programmes.id
 LIMIT ? OFFSET ?
;
SELECT min(points_entries.expires_at) AS min_1, max(points_entries.expires_at) AS max_1 
FROM points_entries 
WHERE points_entries.kind = ? AND points_entries.status IN (__[POSTCOMPILE_status_1]) AND points_entries.remaining > ?
;
SELECT strftime('%Y-%m', points_entries.expires_at, '+28800 seconds') AS month, points_entries.status, sum(points_entries.remaining) AS points 
FROM points_entries 
WHERE points_entries.kind = ? AND points_entries.status IN (__[POSTCOMPILE_status_1]) AND points_entries.remaining > ? GROUP BY strftime('%Y-%m', points_entries.expires_at, '+28800 seconds'), points_entries.status
;
SELECT points_entries.kind, points_entries.status, sum(points_entries.points) AS points 
FROM points_entries 
WHERE points_entries.kind IN (__[POSTCOMPILE_kind_1]) AND points_entries.created_at >= ? AND points_entries.created_at < ? GROUP BY points_entries.kind, points_entries.status
