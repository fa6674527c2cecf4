SELECT CASE WHEN (loyalty_members.contact_id IS NULL) THEN ? ELSE ? END AS member, count(*) AS buyers, sum(CASE WHEN (buyers.orders >= ?) THEN ? ELSE ? END) AS repeat_buyers, sum(buyers.orders) AS orders, sum(buyers.net) AS net 
FROM (SELECT orders.contact_id AS contact_id, count(*) AS orders, sum(orders.total - orders.refunded) AS net 
FROM orders 
WHERE orders.ordered_at >= ? AND orders.ordered_at < ? AND orders.currency = ? AND NOT (orders.status = ? OR orders.total > ? AND orders.refunded >= orders.total) GROUP BY orders.contact_id) AS buyers LEFT OUTER JOIN loyalty_members ON loyalty_members.contact_id = buyers.contact_id AND loyalty_members.enrolled_at < ? GROUP BY CASE WHEN (loyalty_members.contact_id IS NULL) THEN ? ELSE ? END
