-- c1_staging.entitlements: exactly one `member` entitlement per group, as the C1 connector does.
-- Mirrors pipelines/c1z/mapping/grant.py: display name and description from the group's full name
-- (the .c1z gets them shortened to C1's limits).
CREATE OR REPLACE TABLE c1_staging.entitlements AS
SELECT
    'group:' || group_id || ':member' AS entitlement_id,
    group_id,
    'member' AS slug,
    display_name || ' Group Member' AS display_name,
    'Member of the ' || display_name || ' group in xMatters' AS description,
    'ASSIGNMENT' AS purpose
FROM c1_staging.groups
ORDER BY entitlement_id;
