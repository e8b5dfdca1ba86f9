-- c1_staging.groups: one C1 `group` per xMatters group. Mirrors pipelines/c1z/mapping/group.py.
CREATE OR REPLACE TABLE c1_staging.groups AS
SELECT
    id AS group_id,
    coalesce(nullif(target_name, ''), id) AS display_name,
    nullif(description, '') AS description,
    group_type,
    status,
    json_object(
        'targetName', target_name,
        'groupType', group_type,
        'status', status,
        'description', nullif(description, ''),
        'site', coalesce(site__name, site__id),
        'externallyOwned', externally_owned,
        'allowDuplicates', allow_duplicates,
        'useDefaultDevices', use_default_devices,
        'observedByAll', observed_by_all,
        'created', created
    ) AS profile
FROM xmatters_raw.groups
QUALIFY row_number() OVER (PARTITION BY id ORDER BY id) = 1
ORDER BY group_id;
