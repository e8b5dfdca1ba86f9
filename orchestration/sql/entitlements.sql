-- c1_staging.entitlements: exactly one `member` entitlement per group, as the C1 connector does.
CREATE OR REPLACE TABLE c1_staging.entitlements AS
SELECT
    'group:' || group_id || ':member' AS entitlement_id,
    group_id,
    'member' AS slug,
    display_name || ' Group Member' AS display_name,
    'ASSIGNMENT' AS purpose
FROM c1_staging.groups
ORDER BY entitlement_id;
