-- c1_staging.entitlements: exactly one `member` entitlement per group, as the C1 connector does.
-- Ids and names from pipelines/c1z/ids.py (macros of orchestration/c1_limits_sql.py): display name
-- and description from the group's full name (the .c1z gets them shortened to C1's limits).
-- Built by orchestration/staged_ranges.py in ranges of c1_staging.groups row ids ($low/$high; NULL:
-- unbounded), each range sorted alone: DuckDB cannot spill a sort of rows of long names. Ordinary
-- tenants are one statement with both bounds NULL, as it always was.
CREATE OR REPLACE TABLE c1_staging.entitlements AS
SELECT
    c1_entitlement_id(group_id) AS entitlement_id,
    group_id,
    c1_member_slug() AS slug,
    c1_member_display_name(display_name) AS display_name,
    c1_member_description(display_name) AS description,
    'ASSIGNMENT' AS purpose
FROM c1_staging.groups
WHERE ($low IS NULL OR rowid > $low) AND ($high IS NULL OR rowid <= $high)
ORDER BY entitlement_id;
