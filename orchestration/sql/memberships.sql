-- c1_staging.memberships: every member row of every group, all four member types, for ad hoc SQL.
-- `is_grant` says whether the C1 sync turns the row into a grant (PERSON members always; nested
-- groups only with --expand-nested-groups, as expandable grants, and only those `/groups` listed:
-- a nested group outside the account's scope has no resource to grant to).
-- `member_name` follows users.display_name's rule: blank (whitespace-only) text counts as missing
-- (`c1_text`, orchestration/c1_limits_sql.py), down to the member's id.
-- One row per (group, member): the listing already drops repeated members, so duplicates are rare.
-- Only keys found twice are resolved, to the first raw row of each (min(rowid)); the others pass by
-- an anti join. A window over every row cost 0.25 s of 0.33 s at M and 2.5 s at 1M memberships,
-- resolving only the repeated keys 0.27 s and 1.6 s (docs/benchmarks.md, twelfth round).
-- No sort and no window ever carries the names: DuckDB 2.0 cannot spill a sort (ORDER BY or a
-- window) whose rows hold long strings, and a tenant with 30 KB member names failed this step with
-- "Out of Memory Error: failed to pin block" at 9,000 memberships (270 MB of names in 256 MB). The
-- dedupe aggregates narrow keys and row ids, and the table is not sorted: its rows come in the raw
-- layer's order (by group as listed); query it with ORDER BY (grants.sql sorts its own narrow rows).
CREATE OR REPLACE TABLE c1_staging.memberships AS
WITH
duplicated AS (
    SELECT group_id, member__id, min(rowid) AS first_row
    FROM xmatters_raw.group_members GROUP BY group_id, member__id HAVING count(*) > 1
),
members AS (
    SELECT * FROM xmatters_raw.group_members ANTI JOIN duplicated USING (group_id, member__id)
    UNION ALL
    SELECT * FROM xmatters_raw.group_members WHERE rowid IN (SELECT first_row FROM duplicated)
)
SELECT
    m.group_id,
    g.display_name AS group_name,
    m.member__id AS member_id,
    m.member__recipient_type AS member_type,
    coalesce(
        nullif(concat_ws(' ', c1_text(m.member__first_name), c1_text(m.member__last_name)), ''),
        c1_text(m.member__target_name),
        c1_text(m.member__name),
        m.member__id
    ) AS member_name,
    m.member__target_name AS member_target_name,
    m.member__device_type AS device_type,
    m.member__owner__id AS device_owner_id,
    m.member__recipient_type = 'PERSON'
        OR ($expand_nested_groups AND m.member__recipient_type = 'GROUP'
            AND m.member__id IN (SELECT group_id FROM c1_staging.groups)) AS is_grant
FROM members AS m
JOIN c1_staging.groups AS g USING (group_id);
