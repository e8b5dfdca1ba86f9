-- c1_staging.memberships: every member row of every group, all four member types, for ad hoc SQL.
-- `is_grant` says whether the C1 sync turns the row into a grant (PERSON members always; nested
-- groups only with --expand-nested-groups, as expandable grants).
CREATE OR REPLACE TABLE c1_staging.memberships AS
SELECT
    m.group_id,
    g.display_name AS group_name,
    m.member__id AS member_id,
    m.member__recipient_type AS member_type,
    coalesce(
        nullif(concat_ws(' ', nullif(m.member__first_name, ''), nullif(m.member__last_name, '')), ''),
        m.member__target_name,
        m.member__name
    ) AS member_name,
    m.member__target_name AS member_target_name,
    m.member__device_type AS device_type,
    m.member__owner__id AS device_owner_id,
    m.member__recipient_type = 'PERSON'
        OR (m.member__recipient_type = 'GROUP' AND $expand_nested_groups) AS is_grant
FROM xmatters_raw.group_members AS m
JOIN c1_staging.groups AS g USING (group_id)
-- no ORDER BY in the window: a partition holds one (group, member) key, so any row is as good;
-- ordering it made DuckDB sort a second time (about 1.5 s of 4.5 s at 1M memberships)
QUALIFY row_number() OVER (PARTITION BY m.group_id, m.member__id) = 1
ORDER BY m.group_id, m.member__id;
