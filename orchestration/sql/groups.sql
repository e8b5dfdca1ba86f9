-- c1_staging.groups: one C1 `group` per xMatters group. Mirrored by the test oracle tests/c1z/mapping/group.py.
-- Blank text counts as missing (`c1_text`) in the fields; the profile keeps the API's values as sent
-- (docs/c1-mapping.md, Profiles), as the users' does. Full text here, shortened in the .c1z.
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
QUALIFY row_number() OVER (PARTITION BY id ORDER BY id) = 1
ORDER BY group_id;
