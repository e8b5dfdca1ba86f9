-- c1_staging.groups: one C1 `group` per xMatters group. Mirrored by the test oracle tests/c1z/mapping/group.py.
-- Blank text counts as missing (`c1_text`) in the fields; the profile keeps the API's values as sent
-- (docs/c1-mapping.md, Profiles), as the users' does. Full text here, shortened in the .c1z.
-- Built by orchestration/staged_ranges.py in ranges of xmatters_raw.groups row ids ($low/$high;
-- NULL: unbounded), each range sorted alone: the profile's json_object takes ~8 bytes per name byte
-- of the rows it is given at once, and DuckDB cannot spill a sort of rows of long names (5,000
-- groups of 20 KB names failed here in one statement). The first raw row of an id is picked by a
-- narrow aggregate of row ids, not a window over whole rows. Ordinary tenants are one statement
-- with both bounds NULL: one sort of the whole table, as it always was.
CREATE OR REPLACE TABLE c1_staging.groups AS
SELECT
    id AS group_id,
    coalesce(c1_text(target_name), id) AS display_name,
    c1_text(description) AS description,
    group_type,
    status,
    json_object(
        'targetName', target_name,
        'groupType', group_type,
        'status', status,
        'description', description,
        'site', coalesce(c1_text(site__name), c1_text(site__id)),
        'externallyOwned', externally_owned,
        'allowDuplicates', allow_duplicates,
        'useDefaultDevices', use_default_devices,
        'observedByAll', observed_by_all,
        'created', created
    ) AS profile
FROM xmatters_raw.groups
WHERE rowid IN (SELECT min(rowid) FROM xmatters_raw.groups GROUP BY id)
  AND ($low IS NULL OR rowid > $low) AND ($high IS NULL OR rowid <= $high)
ORDER BY group_id;
