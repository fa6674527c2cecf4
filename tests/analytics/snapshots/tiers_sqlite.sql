SELECT loyalty_tiers.id, loyalty_tiers."key", loyalty_tiers.name, loyalty_tiers.name_en, loyalty_tiers.rank 
FROM loyalty_tiers ORDER BY loyalty_tiers.rank
;
SELECT loyalty_members.tier_id, count(*) AS n 
FROM loyalty_members GROUP BY loyalty_members.tier_id
;
SELECT latest.contact_id, latest.to_tier_id 
FROM (SELECT tier_changes.contact_id AS contact_id, tier_changes.to_tier_id AS to_tier_id, row_number() OVER (PARTITION BY tier_changes.contact_id ORDER BY tier_changes.at DESC, tier_changes.id DESC) AS n 
FROM tier_changes 
WHERE tier_changes.at < ?) AS latest 
WHERE latest.n = ?
;
SELECT latest.contact_id, latest.to_tier_id 
FROM (SELECT tier_changes.contact_id AS contact_id, tier_changes.to_tier_id AS to_tier_id, row_number() OVER (PARTITION BY tier_changes.contact_id ORDER BY tier_changes.at DESC, tier_changes.id DESC) AS n 
FROM tier_changes 
WHERE tier_changes.at < ?) AS latest 
WHERE latest.n = ?
