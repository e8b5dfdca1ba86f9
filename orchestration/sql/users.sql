-- c1_staging.users: one C1 `user` per xMatters person, plus one per PERSON member that /people did
-- not return (outside the API account's permission scope), so that member's grants are not lost.
-- Mirrored column for column by the test oracle tests/c1z/mapping/user.py (tests compare the two); `emails` comes
-- from c1_staging.user_emails (empty unless --sync-emails). Blank (whitespace-only) text counts as
-- missing (`c1_text`, orchestration/c1_limits_sql.py); the full text is kept here, the .c1z gets it
-- shortened to C1's limits.
-- No sort and no window carries whole rows: DuckDB 2.0 cannot spill one whose rows hold long
-- strings (a tenant of 30 KB names, 10,000 people, failed here in 256 MB). Each person's latest
-- raw row and each hidden member's first is picked by a narrow aggregate of row ids, and the table
-- is not sorted (the .c1z writer sorts it, or reads it in row ranges of bounded bytes: sync_file.py).
-- Built by orchestration/staged_users.py in ranges of raw row ids ($people_low/$people_high of
-- xmatters_raw.people, $members_low/$members_high of xmatters_raw.group_members; NULL: unbounded):
-- the profiles' json_object takes ~8 bytes per name byte of the rows it is given at once, and 10 KB
-- person names (or 30 KB hidden member names) failed here in one statement. Ordinary tenants are
-- one statement with every bound NULL (the conditions fold to TRUE): this query as it always was.
CREATE OR REPLACE TABLE c1_staging.users AS
WITH latest AS (
    -- the latest row of each id by when_updated, NULLs last (arg_max skips no row: the key is a struct)
    SELECT arg_max(rowid, {'dated': when_updated IS NOT NULL, 'updated': when_updated}) AS raw_row
    FROM xmatters_raw.people
    GROUP BY id
),
people AS (
    SELECT * FROM xmatters_raw.people
    WHERE rowid IN (SELECT raw_row FROM latest)
      AND ($people_low IS NULL OR rowid > $people_low) AND ($people_high IS NULL OR rowid <= $people_high)
),
first_hidden AS (
    SELECT arg_min(rowid, group_id) AS raw_row
    FROM xmatters_raw.group_members
    WHERE member__recipient_type = 'PERSON'
      AND member__id NOT IN (SELECT id FROM xmatters_raw.people)
    GROUP BY member__id
),
visible AS (
    SELECT
        id AS user_id,
        coalesce(
            nullif(concat_ws(' ', c1_text(first_name), c1_text(last_name)), ''),
            c1_text(target_name),
            id
        ) AS display_name,
        CASE status WHEN 'ACTIVE' THEN 'ENABLED' WHEN 'INACTIVE' THEN 'DISABLED' ELSE 'UNSPECIFIED' END
            AS status,
        CAST(NULL AS VARCHAR) AS status_details,
        coalesce(c1_text(web_login), c1_text(target_name)) AS login,
        CASE WHEN c1_text(web_login) IS NOT NULL AND c1_text(target_name) IS NOT NULL
                  AND c1_text(web_login) <> c1_text(target_name) THEN [c1_text(target_name)] ELSE [] END::VARCHAR[]
            AS login_aliases,
        CASE WHEN c1_text(external_key) IS NULL THEN [] ELSE [c1_text(external_key)] END::VARCHAR[] AS employee_ids,
        c1_text(first_name) AS given_name,
        c1_text(last_name) AS family_name,
        TRUE AS visible,
        json_object(
            'targetName', target_name,
            'firstName', first_name,
            'lastName', last_name,
            'licenseType', license_type,
            'language', language,
            'timezone', timezone,
            'site', coalesce(c1_text(site__name), c1_text(site__id)),
            'externalKey', external_key,
            'externallyOwned', externally_owned,
            'lastLogin', last_login,
            'whenCreated', when_created,
            'properties', CASE WHEN properties IS NULL OR properties = '{}' THEN NULL ELSE CAST(properties AS JSON) END,
            'visibleToConnector', TRUE
        ) AS profile,
        CAST(try_cast(when_created AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS TIMESTAMP) AS created_at,
        CAST(try_cast(last_login AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS TIMESTAMP) AS last_login
    FROM people
),
hidden AS (
    SELECT
        member__id AS user_id,
        coalesce(
            nullif(concat_ws(' ', c1_text(member__first_name), c1_text(member__last_name)), ''),
            c1_text(member__target_name),
            member__id
        ) AS display_name,
        'UNSPECIFIED' AS status,
        'not visible to the connector account' AS status_details,
        c1_text(member__target_name) AS login,
        []::VARCHAR[] AS login_aliases,
        []::VARCHAR[] AS employee_ids,
        c1_text(member__first_name) AS given_name,
        c1_text(member__last_name) AS family_name,
        FALSE AS visible,
        json_object(
            'targetName', member__target_name,
            'firstName', member__first_name,
            'lastName', member__last_name,
            'licenseType', member__license_type,
            'visibleToConnector', FALSE
        ) AS profile,
        CAST(NULL AS TIMESTAMP) AS created_at,
        CAST(NULL AS TIMESTAMP) AS last_login
    FROM xmatters_raw.group_members
    WHERE rowid IN (SELECT raw_row FROM first_hidden)
      AND ($members_low IS NULL OR rowid > $members_low) AND ($members_high IS NULL OR rowid <= $members_high)
),
emails AS (
    SELECT
        user_id,
        list({'address': address, 'is_primary': is_primary} ORDER BY NOT is_primary, address) AS emails
    FROM c1_staging.user_emails
    GROUP BY user_id
),
all_users AS (
    SELECT * FROM visible
    UNION ALL
    SELECT * FROM hidden
)
SELECT all_users.*, coalesce(emails.emails, []) AS emails
FROM all_users
LEFT JOIN emails USING (user_id);
