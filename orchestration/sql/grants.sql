-- c1_staging.grants: one grant of a group's `member` entitlement per PERSON member; nested groups
-- become expandable grants to the child group only when asked (C1 then expands them). Devices and
-- dynamic teams never become grants: the C1 connector's behaviour.
CREATE OR REPLACE TABLE c1_staging.grants AS
SELECT
    c1_grant_id(group_id, principal_type, member_id) AS grant_id,
    c1_entitlement_id(group_id) AS entitlement_id,
    group_id,
    principal_type,
    member_id AS principal_id,
    principal_type = 'group' AS expandable
FROM (
    SELECT
        group_id,
        member_id,
        CASE member_type WHEN 'PERSON' THEN 'user' ELSE 'group' END AS principal_type
    FROM c1_staging.memberships
    WHERE is_grant  -- false for a nested group outside the account's scope (no resource to grant to)
)
ORDER BY group_id, principal_type DESC, principal_id;
