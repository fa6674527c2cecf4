SELECT coupon_templates.id, coupon_templates.key, coupon_templates.name 
FROM coupon_templates ORDER BY coupon_templates.id
;
SELECT coupons.template_id, count(*) AS issued, count(DISTINCT coupons.contact_id) AS contacts, sum(CASE WHEN (coupons.status = %(status_1)s::VARCHAR OR (EXISTS (SELECT * 
FROM coupon_redemptions 
WHERE coupon_redemptions.coupon_id = coupons.id))) THEN %(param_1)s::INTEGER ELSE %(param_2)s::INTEGER END) AS attempted, sum(CASE WHEN (coupons.status = %(status_1)s::VARCHAR) THEN %(param_3)s::INTEGER ELSE %(param_4)s::INTEGER END) AS redeemed, sum(CASE WHEN (coupons.status = %(status_1)s::VARCHAR) THEN coalesce(coupons.discount, %(coalesce_1)s::INTEGER) ELSE %(param_5)s::INTEGER END) AS discount 
FROM coupons 
WHERE coupons.issued_at IS NOT NULL AND coupons.status != %(status_2)s::VARCHAR AND coupons.contact_id IS NOT NULL AND coupons.issued_at >= %(issued_at_1)s::TIMESTAMP WITH TIME ZONE AND coupons.issued_at < %(issued_at_2)s::TIMESTAMP WITH TIME ZONE GROUP BY coupons.template_id
;
SELECT coupons.template_id, sum(orders.total - orders.refunded) AS gmv 
FROM coupons JOIN orders ON orders.source = coupons.order_source AND orders.order_no = coupons.order_no 
WHERE coupons.status = %(status_1)s::VARCHAR AND coupons.issued_at IS NOT NULL AND coupons.status != %(status_2)s::VARCHAR AND coupons.contact_id IS NOT NULL AND coupons.issued_at >= %(issued_at_1)s::TIMESTAMP WITH TIME ZONE AND coupons.issued_at < %(issued_at_2)s::TIMESTAMP WITH TIME ZONE GROUP BY coupons.template_id
;
WITH issued_contacts AS 
(SELECT DISTINCT coupons.template_id AS template_id, coupons.contact_id AS contact_id 
FROM coupons 
WHERE coupons.issued_at IS NOT NULL AND coupons.status != %(status_1)s::VARCHAR AND coupons.contact_id IS NOT NULL AND coupons.issued_at >= %(issued_at_1)s::TIMESTAMP WITH TIME ZONE AND coupons.issued_at < %(issued_at_2)s::TIMESTAMP WITH TIME ZONE)
 SELECT arms.template_id, arms.arm, count(*) AS contacts, sum(spend.gmv) AS gmv 
FROM (SELECT issued_contacts.template_id AS template_id, issued_contacts.contact_id AS contact_id, %(param_1)s::VARCHAR AS arm 
FROM issued_contacts UNION ALL SELECT coupon_holdouts.template_id AS template_id, coupon_holdouts.contact_id AS contact_id, %(param_2)s::VARCHAR AS arm 
FROM coupon_holdouts 
WHERE coupon_holdouts.at >= %(at_1)s::TIMESTAMP WITH TIME ZONE AND coupon_holdouts.at < %(at_2)s::TIMESTAMP WITH TIME ZONE AND NOT (EXISTS (SELECT * 
FROM issued_contacts 
WHERE issued_contacts.template_id = coupon_holdouts.template_id AND issued_contacts.contact_id = coupon_holdouts.contact_id))) AS arms LEFT OUTER JOIN (SELECT orders.contact_id AS contact_id, sum(orders.total - orders.refunded) AS gmv 
FROM orders 
WHERE orders.currency = %(currency_1)s::VARCHAR AND orders.ordered_at >= %(ordered_at_1)s::TIMESTAMP WITH TIME ZONE AND orders.ordered_at < %(ordered_at_2)s::TIMESTAMP WITH TIME ZONE GROUP BY orders.contact_id) AS spend ON spend.contact_id = arms.contact_id GROUP BY arms.template_id, arms.arm
